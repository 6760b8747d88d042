"""Likelihood-based metrics of VAEs: ``log p(x|z)``, the ELBO and the importance-weighted NLL."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F

from autoencoders._utils import device_of, evaluating, iter_batches, label_kwargs, unwrap_model
from autoencoders.blocks.bottlenecks import gaussian_kl
from autoencoders.blocks.layers import apply_output_activation
from autoencoders.errors import InvalidValueError
from autoencoders.metrics._common import (
    LOG_2PI,
    as_model_input,
    check_positive,
    require_variational,
)

__all__ = ["DEFAULT_SIGMA", "LIKELIHOODS", "elbo", "iwae_nll", "log_likelihood"]

#: Likelihoods ``p(x|z)`` of :func:`elbo` and :func:`iwae_nll`.
LIKELIHOODS = ("auto", "bernoulli", "gaussian")
#: Default standard deviation of the Gaussian likelihood. With ``sigma**2 = 1/2`` the negative
#: log-likelihood is the summed squared error (the library's MSE training loss) plus
#: ``D/2 * log(pi)``.
DEFAULT_SIGMA = 1.0 / math.sqrt(2.0)


def _variational_setup(
    model: Any, what: str, batch_size: int, reduction: str, seed: int | None
) -> tuple[Any, torch.device, torch.Generator | None]:
    """Check the arguments of a VAE metric; return the bare model, its device and a generator."""
    net = unwrap_model(model)
    require_variational(net, what)
    check_positive(batch_size, "batch_size")
    if reduction not in ("mean", "none"):
        raise InvalidValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    device = device_of(net)
    return net, device, _generator(seed, device)


def _posteriors(
    net: Any, data: Any, batch_size: int, device: torch.device
) -> Iterator[tuple[torch.Tensor, dict[str, Any], torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Batches of ``(x, labels, mean, logvar, std)`` of ``q(z|x)`` (``q(z|x,y)`` for a
    conditional model, ``labels`` its keyword arguments), in float32, on ``device``."""
    for x, y in iter_batches(data, batch_size):
        x = as_model_input(x, net, device)
        labels = label_kwargs(net, y)
        b = net.encode_output(x, **labels)
        mean, logvar = b.mean.float(), b.logvar.float()
        yield x, labels, mean, logvar, torch.exp(0.5 * logvar)


def _generator(seed: int | None, device: torch.device) -> torch.Generator | None:
    if seed is None:
        return None
    return torch.Generator(device=device).manual_seed(seed)


def log_likelihood(
    logits: torch.Tensor,
    x: torch.Tensor,
    output_activation: str,
    likelihood: str = "auto",
    sigma: float = DEFAULT_SIGMA,
) -> torch.Tensor:
    """``log p(x|z)`` per sample, ``(B,)`` in float32, summed over pixels.

    Args:
        logits: decoder output ``(B, ...)``.
        x: data, same shape.
        output_activation: the decoder's output activation.
        likelihood: ``"bernoulli"`` (``-BCE`` with logits; needs a sigmoid output),
            ``"gaussian"`` (``N(x; activation(logits), sigma**2)`` per pixel, normalising
            constant included), or ``"auto"``: Bernoulli for a sigmoid output, else Gaussian.
        sigma: standard deviation of the Gaussian likelihood (default ``1/sqrt(2)``, for which
            ``-log p`` is the summed squared error plus ``D/2 * log(pi)``).

    Example:
        >>> log_likelihood(torch.zeros(1, 3), torch.ones(1, 3), "sigmoid")  # 3 * log(1/2)
        tensor([-2.0794])
    """
    if likelihood not in LIKELIHOODS:
        raise InvalidValueError(
            f"unknown likelihood {likelihood!r}; accepted: {', '.join(LIKELIHOODS)}"
        )
    if likelihood == "auto":
        likelihood = "bernoulli" if output_activation == "sigmoid" else "gaussian"
    logits, x = logits.float(), x.float()
    if likelihood == "bernoulli":
        if output_activation != "sigmoid":
            raise InvalidValueError(
                f"the Bernoulli likelihood needs a sigmoid output, got {output_activation!r}; "
                "use likelihood='gaussian'"
            )
        nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        return -nll.flatten(1).sum(1)
    if not sigma > 0:
        raise InvalidValueError(f"sigma must be > 0, got {sigma!r}")
    mean = apply_output_activation(logits, output_activation)
    d = mean[0].numel()
    sq = (x - mean).pow(2).flatten(1).sum(1)
    return -0.5 * sq / sigma**2 - 0.5 * d * (LOG_2PI + 2.0 * math.log(sigma))


def elbo(
    model: Any,
    data: Any,
    *,
    n_samples: int = 1,
    likelihood: str = "auto",
    sigma: float = DEFAULT_SIGMA,
    seed: int | None = 0,
    batch_size: int = 256,
    reduction: str = "mean",
) -> dict[str, Any]:
    """The evidence lower bound of a VAE, in nats per sample, averaged over the data.

    ``ELBO(x) = E_q(z|x)[log p(x|z)] - KL(q(z|x) || N(0, I))``: the expectation is estimated
    with ``n_samples`` reparameterised draws ``z = mean + exp(logvar/2) * eps`` per sample,
    the KL is exact (:func:`~autoencoders.blocks.gaussian_kl`). With a sigmoid output and the
    Bernoulli likelihood ``neg_elbo`` is what :class:`~autoencoders.losses.ELBOLoss` reports;
    with the Gaussian likelihood it adds the constant ``D/2 * log(2 pi sigma**2)`` to make a
    proper density (``D/2 * log(pi)`` for the default ``sigma``).

    Args:
        model: a VAE.
        data: see :mod:`autoencoders.metrics`.
        n_samples: Monte-Carlo draws of ``z`` per sample for the reconstruction term.
        likelihood: see :func:`log_likelihood`.
        sigma: see :func:`log_likelihood`.
        seed: seed of the draws (``None``: the global generator). For each batch, in order,
            ``n_samples`` draws of ``eps`` with the shape of the posterior mean ``(B, Z)``.
        batch_size: samples per forward pass.
        reduction: ``"mean"`` (floats averaged over the data) or ``"none"`` (float64 tensors
            with one value per sample).

    Returns:
        ``{"elbo", "neg_elbo", "recon", "kl"}``: ``recon`` is ``-E[log p(x|z)]``, so
        ``neg_elbo = recon + kl = -elbo``.

    Raises:
        TypeError: for a deterministic autoencoder.

    Example:
        >>> import torch, autoencoders
        >>> out = elbo(autoencoders.build("vae", h=16, z=2), torch.rand(8, 1, 28, 28))
        >>> sorted(out), out["neg_elbo"] == out["recon"] + out["kl"]
        (['elbo', 'kl', 'neg_elbo', 'recon'], True)
    """
    n_samples = check_positive(n_samples, "n_samples")
    net, device, gen = _variational_setup(model, "elbo", batch_size, reduction, seed)
    recons: list[torch.Tensor] = []
    kls: list[torch.Tensor] = []
    with evaluating(net):
        for x, labels, mean, logvar, std in _posteriors(net, data, batch_size, device):
            recon = torch.zeros(len(x), dtype=torch.float64, device=device)
            for _ in range(n_samples):
                eps = torch.randn(mean.shape, generator=gen, device=device, dtype=mean.dtype)
                logits = net.decode(mean + std * eps, **labels)
                ll = log_likelihood(logits, x, net.output_activation, likelihood, sigma)
                recon -= ll.double() / n_samples
            recons.append(recon)
            kls.append(gaussian_kl(mean, logvar).double())
    if not recons:
        raise InvalidValueError("data is empty")
    r, k = torch.cat(recons), torch.cat(kls)
    if reduction == "none":
        r, k = r.cpu(), k.cpu()
        return {"elbo": -(r + k), "neg_elbo": r + k, "recon": r, "kl": k}
    rm, km = float(r.mean()), float(k.mean())
    return {"elbo": -(rm + km), "neg_elbo": rm + km, "recon": rm, "kl": km}


def iwae_nll(
    model: Any,
    data: Any,
    *,
    k: int = 50,
    likelihood: str = "auto",
    sigma: float = DEFAULT_SIGMA,
    seed: int | None = 0,
    batch_size: int = 256,
    reduction: str = "mean",
) -> float | torch.Tensor:
    """Importance-weighted estimate of the negative log-likelihood ``-log p(x)``, in nats.

    ``log p(x) >= log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x)`` with ``z_i ~ q(z|x)``
    (Burda et al., 2016), computed with log-sum-exp. The bound equals the ELBO estimate for
    ``k = 1`` (with a sampled KL) and tightens as ``k`` grows, so the returned NLL decreases
    with ``k`` on average. ``p(z) = N(0, I)``, ``q(z|x) = N(mean, exp(logvar))`` from the
    encoder, ``p(x|z)`` as in :func:`log_likelihood` (Bernoulli for a sigmoid output; Gaussian
    with fixed ``sigma`` otherwise). For a conditional model (a CVAE, given ``(x, y)`` data)
    it is ``-log p(x|y)``.

    Reproducibility: for each batch of data, in order, ``eps`` of shape ``(k, B, Z)`` is drawn
    in one call from a generator seeded with ``seed`` on the model's device, and
    ``z = mean + exp(logvar / 2) * eps``. Decoding is chunked so that about ``batch_size``
    samples go through the decoder at once.

    Args:
        model: a VAE.
        data: see :mod:`autoencoders.metrics`.
        k: importance samples per data point.
        likelihood: see :func:`log_likelihood`.
        sigma: see :func:`log_likelihood`.
        seed: seed of the draws (``None``: the global generator).
        batch_size: data points per batch (and decoder inputs per chunk).
        reduction: ``"mean"`` (a float) or ``"none"`` (a float64 tensor, one value per sample).

    Raises:
        TypeError: for a deterministic autoencoder.

    Example:
        >>> import torch, autoencoders
        >>> torch.manual_seed(0) and None
        >>> model, x = autoencoders.build("vae", h=16, z=2), torch.rand(16, 1, 28, 28)
        >>> iwae_nll(model, x, k=1) > iwae_nll(model, x, k=20)
        True
    """
    k = check_positive(k, "k")
    net, device, gen = _variational_setup(model, "iwae_nll", batch_size, reduction, seed)
    out: list[torch.Tensor] = []
    with evaluating(net):
        for x, labels, mean, logvar, std in _posteriors(net, data, batch_size, device):
            n = len(x)
            eps = torch.randn((k, *mean.shape), generator=gen, device=device, dtype=mean.dtype)
            z = mean + std * eps  # (k, B, Z)
            log_q = -0.5 * (eps.pow(2) + logvar + LOG_2PI).sum(-1)
            log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
            log_px = torch.empty(k, n, device=device)
            chunk = max(1, batch_size // n)
            for i in range(0, k, chunk):
                zc = z[i : i + chunk]
                kc = len(zc)
                lab = {"labels": labels["labels"].repeat(kc)} if labels else {}
                logits = net.decode(zc.reshape(kc * n, -1), **lab)
                xr = x.unsqueeze(0).expand(kc, *x.shape).reshape(kc * n, *x.shape[1:])
                ll = log_likelihood(logits, xr, net.output_activation, likelihood, sigma)
                log_px[i : i + kc] = ll.reshape(kc, n)
            log_w = (log_px + log_pz - log_q).double()
            out.append(-(torch.logsumexp(log_w, dim=0) - math.log(k)))
    if not out:
        raise InvalidValueError("data is empty")
    values = torch.cat(out)
    return values.cpu() if reduction == "none" else float(values.mean())
