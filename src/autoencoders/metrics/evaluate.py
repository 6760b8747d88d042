"""All the test-set metrics of a model at once: :func:`evaluate_model`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch

from autoencoders._utils import gather, unwrap_model
from autoencoders.errors import InvalidTypeError
from autoencoders.metrics._common import data_range_of
from autoencoders.metrics.codes import block_statistics, codebook_usage
from autoencoders.metrics.denoising import denoising_mse
from autoencoders.metrics.likelihood import elbo, iwae_nll
from autoencoders.metrics.probes import ProbeResult, linear_probe_accuracy, pca_baseline_mse
from autoencoders.metrics.reconstruction import mse_per_pixel, psnr_from_mse

__all__ = ["evaluate_model"]

logger = logging.getLogger(__name__)


def _split(splits: Any, name: str) -> Any:
    if isinstance(splits, Mapping):
        return splits.get(name)
    return getattr(splits, name, None)


def _subset(data: Any, n: int | None, seed: int) -> Any:
    """At most ``n`` items of ``data`` (a seeded random subset), as an (x, y) pair or tensor."""
    x, y = gather(data)
    if n is not None and len(x) > n:
        idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]
        x, y = x[idx], (y[idx] if y is not None else None)
    return (x, y) if y is not None else x


def _labelled(data: Any) -> bool:
    return isinstance(data, tuple) and bool((data[1] >= 0).all())


def _head(data: Any, n: int | None) -> Any:
    if n is None:
        return data
    x, y = gather(data)
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
    denoising_noise: Any = None,
) -> dict[str, float | int]:
    """The test-set metrics of a model, as a flat JSON-serialisable dict (the CLI's metrics.json).

    Keys (present when they apply):

    * ``test_mse``: :func:`mse_per_pixel`; ``test_psnr``: :func:`psnr` (dB);
      ``test_samples``: test-set size.
    * Models with a noise transform (``model.noise is not None``), or any model when
      ``denoising_noise`` is given: ``denoising_mse`` (:func:`denoising_mse`: the
      reconstruction of a fixed noisy copy of the test set, drawn with ``model.noise`` or
      ``denoising_noise`` from a generator seeded by ``seed``, against the clean test set) and
      ``denoising_psnr`` (its PSNR, dB). Models with the same noise settings see the same copy.
    * Models with regularizers or a quantising bottleneck: ``test_<name>`` for each statistic
      their blocks report (:func:`~autoencoders.metrics.block_statistics`, e.g.
      ``test_code_mean`` of a sparse code, ``test_jacobian_norm`` of a contractive one), and
      for a VQ code ``test_perplexity`` and ``test_usage`` over the whole test set
      (:func:`~autoencoders.metrics.codebook_usage`).
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
        seed: seed of the Monte-Carlo draws, of the noisy test copy and of the training
            subset.
        denoising_noise: the corruption of the denoising metric (a noise name, a
            ``{"name": ..., **kwargs}`` dict or a module) instead of each model's own, to
            score models trained with different noise on the same noisy inputs.
    """
    net = unwrap_model(model)
    test = _split(splits, "test")
    if test is None:
        raise InvalidTypeError(
            "splits must have 'train' and 'test' splits (a DataSplits), got "
            f"{type(splits).__name__}"
        )
    train = _split(splits, "train")
    out: dict[str, float | int] = {}
    mse = mse_per_pixel(net, test, batch_size=batch_size)
    out["test_mse"] = mse
    out["test_psnr"] = psnr_from_mse(mse, data_range_of(net))
    test_xy = gather(test)
    out["test_samples"] = len(test_xy[0])
    # the test set as the models take it: with its labels for a conditional model
    test_in = test_xy if getattr(net, "takes_labels", False) else test_xy[0]
    if denoising_noise is not None or getattr(net, "noise", None) is not None:
        dmse = denoising_mse(net, test_in, noise=denoising_noise, seed=seed, batch_size=batch_size)
        out["denoising_mse"] = dmse
        out["denoising_psnr"] = psnr_from_mse(dmse, data_range_of(net))
    if len(getattr(net, "regularizers", ())) or hasattr(net.bottleneck, "indices"):
        # what the blocks report, over the test set; a codebook's use over the whole set
        stats = block_statistics(net, test_in, batch_size=batch_size)
        if hasattr(net.bottleneck, "indices"):
            stats.update(codebook_usage(net, test_xy[0], batch_size=batch_size))
        out.update({f"test_{k}": v for k, v in stats.items() if k != "codebook_size"})
    if net.is_variational:
        e = elbo(net, test, seed=seed, batch_size=batch_size)
        out["test_elbo"], out["test_recon"], out["test_kl"] = e["elbo"], e["recon"], e["kl"]
        head = _head(test, nll_samples)
        out["test_nll"] = float(iwae_nll(net, head, k=k, seed=seed, batch_size=batch_size))
        out["iwae_k"] = k
        out["test_nll_samples"] = len(head[0] if isinstance(head, tuple) else gather(head)[0])
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
