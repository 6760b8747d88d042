"""Evaluation metrics: reconstruction error, PSNR, ELBO, importance-weighted NLL, PCA and probes.

Every function that takes a ``model`` runs it in eval mode (restoring its previous mode),
without gradients, in batches, on the device its parameters are on. ``data`` may be:

* a tensor ``(N, *input_shape)`` (or ``(N, D)`` with ``D`` pixels, reshaped to the model's
  input shape), in the model's pixel range (see :func:`autoencoders.data.pixel_range_for`);
* a pair ``(x, y)`` of tensors;
* a :class:`~torch.utils.data.TensorDataset`, or any dataset whose items are ``x`` or
  ``(x, y)`` -- such as a split of :class:`~autoencoders.data.DataSplits` (``splits.test``);
* a :class:`~torch.utils.data.DataLoader` yielding such items.

Numbers are per sample or per pixel, averaged over the whole data, in float64:

>>> import torch, autoencoders
>>> model = autoencoders.build("vae", h=16, z=2)
>>> x = torch.rand(32, 1, 28, 28)
>>> m = evaluate_model(model, {"train": x, "test": x}, k=5)
>>> sorted(m)  # doctest: +NORMALIZE_WHITESPACE
['iwae_k', 'pca_k', 'pca_mse', 'test_elbo', 'test_kl', 'test_mse', 'test_nll', 'test_nll_samples',
 'test_psnr', 'test_recon', 'test_samples']
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

from autoencoders.blocks.bottlenecks import gaussian_kl
from autoencoders.blocks.layers import apply_output_activation

__all__ = [
    "DEFAULT_SIGMA",
    "LIKELIHOODS",
    "ProbeResult",
    "elbo",
    "evaluate_model",
    "fit_linear_probe",
    "iwae_nll",
    "linear_probe_accuracy",
    "log_likelihood",
    "mse_per_pixel",
    "pca_baseline_mse",
    "psnr",
    "psnr_from_mse",
]

logger = logging.getLogger(__name__)

#: Likelihoods ``p(x|z)`` of :func:`elbo` and :func:`iwae_nll`.
LIKELIHOODS = ("auto", "bernoulli", "gaussian")
#: Default standard deviation of the Gaussian likelihood. With ``sigma**2 = 1/2`` the negative
#: log-likelihood is the summed squared error (the library's MSE training loss) plus
#: ``D/2 * log(pi)``.
DEFAULT_SIGMA = 1.0 / math.sqrt(2.0)
_LOG_2PI = math.log(2.0 * math.pi)


# -- plumbing -------------------------------------------------------------------------------------
def _unwrap(model: Any) -> Any:
    model = getattr(model, "module", model)  # DistributedDataParallel
    return getattr(model, "_orig_mod", model)  # torch.compile


def _device(model: Any) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


@contextlib.contextmanager
def _evaluating(model: torch.nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _check_positive(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return value


def _check_x(x: Any, what: str = "data") -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} items must be tensors, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{what} has dtype {x.dtype}; metrics need floating-point data in the model's pixel "
            "range (autoencoders.data.from_tensors scales uint8 images)"
        )
    return x


def _batches(data: Any, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Yield ``(x, y)`` batches (``y`` None when the data has no labels)."""
    if hasattr(data, "train") and hasattr(data, "test") and not isinstance(data, Dataset):
        raise TypeError(
            "got train/validation/test splits; pass one split, e.g. splits.test "
            "(evaluate_model takes the splits)"
        )
    if (
        isinstance(data, (tuple, list))
        and 1 <= len(data) <= 2
        and all(isinstance(t, (torch.Tensor, np.ndarray)) for t in data)
    ):
        data = TensorDataset(*(torch.as_tensor(t) for t in data))
    if isinstance(data, (torch.Tensor, np.ndarray)):
        x = _check_x(data)
        for i in range(0, len(x), batch_size):
            yield x[i : i + batch_size], None
        return
    if isinstance(data, TensorDataset):
        tensors = data.tensors
        x, y = _check_x(tensors[0]), (tensors[1] if len(tensors) > 1 else None)
        for i in range(0, len(x), batch_size):
            yield x[i : i + batch_size], (y[i : i + batch_size] if y is not None else None)
        return
    if isinstance(data, Dataset):
        data = DataLoader(data, batch_size=batch_size, shuffle=False)
    if not isinstance(data, DataLoader):
        raise TypeError(
            f"data must be a tensor, an (x, y) pair of tensors, a Dataset or a DataLoader, got "
            f"{type(data).__name__}"
        )
    for item in data:
        if isinstance(item, (tuple, list)):
            x, y = item[0], (item[1] if len(item) > 1 else None)
        else:
            x, y = item, None
        yield _check_x(x), (torch.as_tensor(y) if y is not None else None)


def _as_model_input(x: torch.Tensor, model: Any, device: torch.device) -> torch.Tensor:
    shape = tuple(getattr(model, "input_shape", ()) or ())
    if shape and tuple(x.shape[1:]) != shape:
        if x[0].numel() != math.prod(shape):
            raise ValueError(
                f"data items have shape {tuple(x.shape[1:])} but the model expects {shape}"
            )
        x = x.reshape(len(x), *shape)
    return x.to(device=device, dtype=torch.float32, non_blocking=True)


def _gather(
    data: Any, batch_size: int = 4096, *, need_labels: bool = False, what: str = "data"
) -> tuple[torch.Tensor, torch.Tensor | None]:
    xs, ys = [], []
    for x, y in _batches(data, batch_size):
        xs.append(x)
        ys.append(y)
    if not xs:
        raise ValueError(f"{what} is empty")
    labels = None if any(y is None for y in ys) else torch.cat([y.reshape(-1) for y in ys])
    if need_labels and labels is None:
        raise ValueError(f"{what} has no labels; give (x, y) items or an (x, y) pair")
    return torch.cat(xs), labels


def _require_variational(model: Any, what: str) -> None:
    if not getattr(model, "is_variational", False):
        raise TypeError(
            f"{what} needs a model with a Gaussian bottleneck (a VAE); "
            f"{getattr(model, 'name', None) or type(model).__name__!r} is deterministic. "
            "Use mse_per_pixel / psnr for autoencoders."
        )


def _variational_setup(
    model: Any, what: str, batch_size: int, reduction: str, seed: int | None
) -> tuple[Any, torch.device, torch.Generator | None]:
    """Check the arguments of a VAE metric; return the bare model, its device and a generator."""
    net = _unwrap(model)
    _require_variational(net, what)
    _check_positive(batch_size, "batch_size")
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    device = _device(net)
    return net, device, _generator(seed, device)


def _posteriors(
    net: Any, data: Any, batch_size: int, device: torch.device
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Batches of ``(x, mean, logvar, std)`` of ``q(z|x)``, in float32, on ``device``."""
    for x, _ in _batches(data, batch_size):
        x = _as_model_input(x, net, device)
        b = net.encode_output(x)
        mean, logvar = b.mean.float(), b.logvar.float()
        yield x, mean, logvar, torch.exp(0.5 * logvar)


def _generator(seed: int | None, device: torch.device) -> torch.Generator | None:
    if seed is None:
        return None
    return torch.Generator(device=device).manual_seed(seed)


# -- reconstruction -------------------------------------------------------------------------------
def mse_per_pixel(model: Any, data: Any, *, batch_size: int = 256) -> float:
    """Mean squared reconstruction error per pixel: ``mean((reconstruct(x) - x)**2)``.

    The Keras-style "test MSE" of the tutorials, averaged over every pixel of every sample
    (the training loss instead sums over pixels; see :mod:`autoencoders.losses`). Uses the
    deterministic reconstruction (posterior mean for VAEs, no corruption).

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("linear_ae", z=2)
        >>> with torch.no_grad():
        ...     for p in model.decoder.parameters():
        ...         _ = p.zero_()
        >>> mse_per_pixel(model, torch.ones(3, 1, 28, 28))  # sigmoid(0) = 0.5 everywhere
        0.25
    """
    batch_size = _check_positive(batch_size, "batch_size")
    net = _unwrap(model)
    device = _device(net)
    total = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    with _evaluating(net):
        for x, _ in _batches(data, batch_size):
            x = _as_model_input(x, net, device)
            r = net.reconstruct(x).float()
            total += (r - x).pow(2).sum(dtype=torch.float64)
            count += x.numel()
    if count == 0:
        raise ValueError("data is empty")
    return float(total) / count


def psnr_from_mse(mse: float, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB: ``10 * log10(data_range**2 / mse)``.

    Example:
        >>> psnr_from_mse(0.01), psnr_from_mse(0.04, data_range=2.0)
        (20.0, 20.0)
        >>> psnr_from_mse(0.0)
        inf
    """
    if mse < 0 or math.isnan(mse):
        raise ValueError(f"mse must be >= 0, got {mse!r}")
    if data_range <= 0:
        raise ValueError(f"data_range must be > 0, got {data_range!r}")
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / mse)


def _default_data_range(model: Any) -> float:
    return 2.0 if _unwrap(model).output_activation == "tanh" else 1.0


def psnr(
    model: Any,
    data: Any,
    *,
    data_range: float | None = None,
    per_image: bool = False,
    batch_size: int = 256,
) -> float:
    """Peak signal-to-noise ratio of the reconstructions, in dB.

    Args:
        model: the autoencoder.
        data: see the module docstring.
        data_range: ``high - low`` of the pixel range; default 2 for a tanh output (data in
            [-1, 1]), else 1.
        per_image: average the PSNR of each image instead of taking the PSNR of the mean
            squared error over the data set (the default, ``psnr_from_mse(mse_per_pixel)``).
        batch_size: samples per forward pass.

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("ae", h=8, z=2)
        >>> x = torch.rand(4, 1, 28, 28)
        >>> psnr(model, x) == psnr_from_mse(mse_per_pixel(model, x))
        True
    """
    if data_range is None:
        data_range = _default_data_range(model)
    if not per_image:
        return psnr_from_mse(mse_per_pixel(model, data, batch_size=batch_size), data_range)
    batch_size = _check_positive(batch_size, "batch_size")
    net = _unwrap(model)
    device = _device(net)
    values: list[torch.Tensor] = []
    with _evaluating(net):
        for x, _ in _batches(data, batch_size):
            x = _as_model_input(x, net, device)
            err = (net.reconstruct(x).double() - x.double()).pow(2).flatten(1).mean(1)
            values.append(10.0 * torch.log10(data_range**2 / err))
    if not values:
        raise ValueError("data is empty")
    return float(torch.cat(values).mean())


# -- likelihood-based ------------------------------------------------------------------------------
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
        raise ValueError(f"unknown likelihood {likelihood!r}; accepted: {', '.join(LIKELIHOODS)}")
    if likelihood == "auto":
        likelihood = "bernoulli" if output_activation == "sigmoid" else "gaussian"
    logits, x = logits.float(), x.float()
    if likelihood == "bernoulli":
        if output_activation != "sigmoid":
            raise ValueError(
                f"the Bernoulli likelihood needs a sigmoid output, got {output_activation!r}; "
                "use likelihood='gaussian'"
            )
        nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        return -nll.flatten(1).sum(1)
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    mean = apply_output_activation(logits, output_activation)
    d = mean[0].numel()
    sq = (x - mean).pow(2).flatten(1).sum(1)
    return -0.5 * sq / sigma**2 - 0.5 * d * (_LOG_2PI + 2.0 * math.log(sigma))


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
        data: see the module docstring.
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
    n_samples = _check_positive(n_samples, "n_samples")
    net, device, gen = _variational_setup(model, "elbo", batch_size, reduction, seed)
    recons: list[torch.Tensor] = []
    kls: list[torch.Tensor] = []
    with _evaluating(net):
        for x, mean, logvar, std in _posteriors(net, data, batch_size, device):
            recon = torch.zeros(len(x), dtype=torch.float64, device=device)
            for _ in range(n_samples):
                eps = torch.randn(mean.shape, generator=gen, device=device, dtype=mean.dtype)
                logits = net.decode(mean + std * eps)
                ll = log_likelihood(logits, x, net.output_activation, likelihood, sigma)
                recon -= ll.double() / n_samples
            recons.append(recon)
            kls.append(gaussian_kl(mean, logvar).double())
    if not recons:
        raise ValueError("data is empty")
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
    with fixed ``sigma`` otherwise).

    Reproducibility: for each batch of data, in order, ``eps`` of shape ``(k, B, Z)`` is drawn
    in one call from a generator seeded with ``seed`` on the model's device, and
    ``z = mean + exp(logvar / 2) * eps``. Decoding is chunked so that about ``batch_size``
    samples go through the decoder at once.

    Args:
        model: a VAE.
        data: see the module docstring.
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
    k = _check_positive(k, "k")
    net, device, gen = _variational_setup(model, "iwae_nll", batch_size, reduction, seed)
    out: list[torch.Tensor] = []
    with _evaluating(net):
        for x, mean, logvar, std in _posteriors(net, data, batch_size, device):
            n = len(x)
            eps = torch.randn((k, *mean.shape), generator=gen, device=device, dtype=mean.dtype)
            z = mean + std * eps  # (k, B, Z)
            log_q = -0.5 * (eps.pow(2) + logvar + _LOG_2PI).sum(-1)
            log_pz = -0.5 * (z.pow(2) + _LOG_2PI).sum(-1)
            log_px = torch.empty(k, n, device=device)
            chunk = max(1, batch_size // n)
            for i in range(0, k, chunk):
                zc = z[i : i + chunk]
                kc = len(zc)
                logits = net.decode(zc.reshape(kc * n, -1))
                xr = x.unsqueeze(0).expand(kc, *x.shape).reshape(kc * n, *x.shape[1:])
                ll = log_likelihood(logits, xr, net.output_activation, likelihood, sigma)
                log_px[i : i + kc] = ll.reshape(kc, n)
            log_w = (log_px + log_pz - log_q).double()
            out.append(-(torch.logsumexp(log_w, dim=0) - math.log(k)))
    if not out:
        raise ValueError("data is empty")
    values = torch.cat(out)
    return values.cpu() if reduction == "none" else float(values.mean())


# -- baselines and probes --------------------------------------------------------------------------
def pca_baseline_mse(train_x: Any, test_x: Any, k: int) -> float:
    """Reconstruction MSE per pixel of the best rank-``k`` linear code: PCA fitted on ``train_x``.

    The principal directions are the top ``k`` right singular vectors of the centred training
    data (``torch.linalg.svd`` in float64); ``test_x`` is projected onto them around the
    training mean and reconstructed. ``k = 0`` reconstructs everything as the training mean.
    This is the floor a linear autoencoder with a ``k``-dimensional code can reach, to compare
    an autoencoder's :func:`mse_per_pixel` with at the same latent size.

    Args:
        train_x: training data ``(N, ...)`` (or a dataset / ``(x, y)`` pair; labels ignored).
        test_x: evaluation data with the same item shape.
        k: number of components, ``0 <= k <= min(N, D)``.

    Example:
        >>> import torch
        >>> x = torch.randn(100, 2) @ torch.randn(2, 5)  # rank-2 data
        >>> round(pca_baseline_mse(x, x, 2), 10), pca_baseline_mse(x, x, 1) > 0
        (0.0, True)
    """
    a, _ = _gather(train_x, what="train_x")
    b, _ = _gather(test_x, what="test_x")
    a = a.reshape(len(a), -1).to(torch.float64)
    b = b.reshape(len(b), -1).to(torch.float64)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"train_x items have {a.shape[1]} values but test_x items have {b.shape[1]}"
        )
    n, d = a.shape
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= min(n, d):
        raise ValueError(f"k must be an integer in [0, {min(n, d)}] (min of N and D), got {k!r}")
    mean = a.mean(0)
    b = b.to(a.device) - mean
    if k == 0:
        return float(b.pow(2).mean())
    _, _, vh = torch.linalg.svd(a - mean, full_matrices=False)
    v = vh[:k]  # (k, D)
    residual = b - (b @ v.T) @ v
    return float(residual.pow(2).mean())


@dataclass
class ProbeResult:
    """Outcome of a linear probe.

    Attributes:
        accuracy: accuracy on the test codes.
        train_accuracy: accuracy on the training codes.
        chance: frequency of the most common test label (accuracy of always guessing it).
        num_classes: classes seen in training.
    """

    accuracy: float
    train_accuracy: float
    chance: float
    num_classes: int

    def to_dict(self) -> dict[str, float | int]:
        """The fields as a dict."""
        return asdict(self)


def fit_linear_probe(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    steps: int = 200,
    lr: float = 1.0,
    weight_decay: float = 1e-4,
) -> ProbeResult:
    """Multinomial logistic regression on fixed features, fitted with full-batch L-BFGS.

    Features are standardised with the training mean and standard deviation; the loss is the
    mean cross-entropy plus ``weight_decay / 2 * ||W||^2`` (bias not penalised), minimised in
    float64 from zero weights (so the fit is deterministic) with a strong-Wolfe line search.
    Labels may be any integers; test labels unseen in training count as errors.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> y = torch.arange(200) % 2
        >>> f = torch.randn(200, 3, generator=g) + 3 * y[:, None]
        >>> r = fit_linear_probe(f[:100], y[:100], f[100:], y[100:])
        >>> r.accuracy > 0.9, r.chance
        (True, 0.5)
    """
    steps = _check_positive(steps, "steps")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    xa = torch.as_tensor(train_features).reshape(len(train_features), -1).double()
    xb = torch.as_tensor(test_features).reshape(len(test_features), -1).double().to(xa.device)
    ya = torch.as_tensor(train_labels).reshape(-1).long().to(xa.device)
    yb = torch.as_tensor(test_labels).reshape(-1).long().to(xa.device)
    if len(xa) != len(ya) or len(xb) != len(yb):
        raise ValueError(
            f"features and labels differ in length: train {len(xa)} vs {len(ya)}, "
            f"test {len(xb)} vs {len(yb)}"
        )
    if len(xa) == 0 or len(xb) == 0:
        raise ValueError("the linear probe needs non-empty training and test sets")
    if (ya < 0).any() or (yb < 0).any():
        raise ValueError("the linear probe needs labels >= 0; this data is unlabelled (label -1)")
    classes, ya_idx = torch.unique(ya, return_inverse=True)
    c = len(classes)
    mu, sd = xa.mean(0), xa.std(0, unbiased=False).clamp_min(1e-8)
    xa, xb = (xa - mu) / sd, (xb - mu) / sd
    w = torch.zeros(xa.shape[1], c, dtype=torch.float64, device=xa.device, requires_grad=True)
    bias = torch.zeros(c, dtype=torch.float64, device=xa.device, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w, bias],
        lr=lr,
        max_iter=steps,
        history_size=20,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(xa @ w + bias, ya_idx) + 0.5 * weight_decay * w.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        if c > 1:
            opt.step(closure)
    with torch.no_grad():
        pred_a = classes[(xa @ w + bias).argmax(1)]
        pred_b = classes[(xb @ w + bias).argmax(1)]
    counts = torch.unique(yb, return_counts=True)[1]
    return ProbeResult(
        accuracy=float((pred_b == yb).double().mean()),
        train_accuracy=float((pred_a == ya).double().mean()),
        chance=float(counts.max()) / len(yb),
        num_classes=c,
    )


def _encode_all(net: Any, data: Any, batch_size: int, what: str) -> tuple[torch.Tensor, Any]:
    device = _device(net)
    codes, labels = [], []
    with _evaluating(net):
        for x, y in _batches(data, batch_size):
            if y is None:
                raise ValueError(f"{what} has no labels; give (x, y) items or an (x, y) pair")
            codes.append(net.encode(_as_model_input(x, net, device)).double().cpu())
            labels.append(y.reshape(-1).long().cpu())
    if not codes:
        raise ValueError(f"{what} is empty")
    return torch.cat(codes), torch.cat(labels)


def linear_probe_accuracy(
    model: Any,
    train: Any,
    test: Any,
    *,
    steps: int = 200,
    lr: float = 1.0,
    weight_decay: float = 1e-4,
    batch_size: int = 256,
    return_result: bool = False,
) -> float | ProbeResult:
    """Accuracy of a logistic regression on the model's latent codes (posterior means for VAEs).

    The codes of ``train`` fit the probe (see :func:`fit_linear_probe`), those of ``test``
    score it. Both must carry labels (``(x, y)`` items).

    Args:
        model: the autoencoder.
        train: labelled data to fit the probe on.
        test: labelled data to score it on.
        steps: L-BFGS iterations.
        lr: L-BFGS learning rate.
        weight_decay: L2 penalty on the weights.
        batch_size: samples per forward pass when encoding.
        return_result: return the :class:`ProbeResult` (with chance level and train accuracy)
            instead of the test accuracy.

    Example:
        >>> import torch, autoencoders
        >>> y = torch.arange(64) % 2
        >>> x = torch.rand(64, 1, 28, 28) * 0.5 + 0.5 * y[:, None, None, None]
        >>> acc = linear_probe_accuracy(autoencoders.build("ae", h=16, z=4), (x, y), (x, y))
        >>> acc > 0.9
        True
    """
    net = _unwrap(model)
    batch_size = _check_positive(batch_size, "batch_size")
    za, ya = _encode_all(net, train, batch_size, "train")
    zb, yb = _encode_all(net, test, batch_size, "test")
    result = fit_linear_probe(za, ya, zb, yb, steps=steps, lr=lr, weight_decay=weight_decay)
    return result if return_result else result.accuracy


# -- everything at once ----------------------------------------------------------------------------
def _split(splits: Any, name: str) -> Any:
    if isinstance(splits, Mapping):
        return splits.get(name)
    return getattr(splits, name, None)


def _subset(data: Any, n: int | None, seed: int) -> Any:
    """At most ``n`` items of ``data`` (a seeded random subset), as an (x, y) pair or tensor."""
    x, y = _gather(data)
    if n is not None and len(x) > n:
        idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]
        x, y = x[idx], (y[idx] if y is not None else None)
    return (x, y) if y is not None else x


def _labelled(data: Any) -> bool:
    return isinstance(data, tuple) and bool((data[1] >= 0).all())


def _head(data: Any, n: int | None) -> Any:
    if n is None:
        return data
    x, y = _gather(data)
    return (x[:n], y[:n]) if y is not None else x[:n]


def evaluate_model(
    model: Any,
    splits: Any,
    *,
    k: int = 50,
    nll_samples: int | None = 1000,
    include_pca: bool = True,
    include_probe: bool = True,
    fit_samples: int | None = 10000,
    batch_size: int = 256,
    seed: int = 0,
) -> dict[str, float | int]:
    """The test-set metrics of a model, as a flat JSON-serialisable dict (the CLI's metrics.json).

    Keys (present when they apply):

    * ``test_mse``: :func:`mse_per_pixel`; ``test_psnr``: :func:`psnr` (dB);
      ``test_samples``: test-set size.
    * VAEs: ``test_elbo`` (the ELBO itself, a log-likelihood bound: negative, higher is
      better), ``test_recon`` and ``test_kl`` (its two terms, nats per sample, see
      :func:`elbo`); ``test_nll`` (:func:`iwae_nll` with ``iwae_k = k`` importance samples,
      on the first ``test_nll_samples`` test items).
    * ``pca_mse``: :func:`pca_baseline_mse` at ``pca_k`` = the model's latent size, fitted on
      at most ``fit_samples`` training items (a seeded random subset).
    * ``probe_accuracy`` and ``probe_chance``: :func:`linear_probe_accuracy` fitted on the same
      training subset, when the data has labels.

    Args:
        model: the autoencoder.
        splits: a :class:`~autoencoders.data.DataSplits` (or anything with ``train`` and
            ``test`` attributes or keys).
        k: importance samples for ``test_nll``.
        nll_samples: test items for ``test_nll`` (``None``: all).
        include_pca: compute ``pca_mse``.
        include_probe: compute the probe accuracy (labelled data only).
        fit_samples: cap on the training items used by PCA and the probe (``None``: all).
        batch_size: samples per forward pass.
        seed: seed of the Monte-Carlo draws and of the training subset.
    """
    net = _unwrap(model)
    test = _split(splits, "test")
    if test is None:
        raise TypeError(
            f"splits must have 'train' and 'test' splits (a DataSplits), got {type(splits).__name__}"
        )
    train = _split(splits, "train")
    out: dict[str, float | int] = {}
    mse = mse_per_pixel(net, test, batch_size=batch_size)
    out["test_mse"] = mse
    out["test_psnr"] = psnr_from_mse(mse, _default_data_range(net))
    test_xy = _gather(test)
    out["test_samples"] = len(test_xy[0])
    if net.is_variational:
        e = elbo(net, test, seed=seed, batch_size=batch_size)
        out["test_elbo"], out["test_recon"], out["test_kl"] = e["elbo"], e["recon"], e["kl"]
        head = _head(test, nll_samples)
        out["test_nll"] = float(iwae_nll(net, head, k=k, seed=seed, batch_size=batch_size))
        out["iwae_k"] = k
        out["test_nll_samples"] = len(head[0] if isinstance(head, tuple) else _gather(head)[0])
    if train is not None and (include_pca or include_probe):
        fit = _subset(train, fit_samples, seed)
        if include_pca:
            z = net.z_dim
            fx = fit[0] if isinstance(fit, tuple) else fit
            if z <= min(len(fx), fx[0].numel()):
                out["pca_mse"] = pca_baseline_mse(fx, test_xy[0], z)
                out["pca_k"] = z
        if include_probe:
            if _labelled(fit) and test_xy[1] is not None and bool((test_xy[1] >= 0).all()):
                r = linear_probe_accuracy(
                    net, fit, test_xy, batch_size=batch_size, return_result=True
                )
                if isinstance(r, ProbeResult):
                    out["probe_accuracy"] = r.accuracy
                    out["probe_chance"] = r.chance
            else:
                logger.info("no labels: skipping the linear probe")
    return out
