"""Metrics of the code: block statistics, codebook use, distance to the prior, Jacobian norm.

These measure what the model families change: how a VQ codebook is used
(:func:`codebook_usage`), how close the codes are to the prior (:func:`code_mmd`, the WAE's
penalty measured on test data), how much the code moves with the input
(:func:`mean_jacobian_norm`, the contractive AE's penalty) and the test-set means of whatever
statistics the model's blocks report (:func:`block_statistics`: a sparse code's mean
activation, ...).
"""

from __future__ import annotations

from typing import Any

import torch

from autoencoders._utils import (
    device_of,
    evaluating,
    gather,
    iter_batches,
    label_kwargs,
    unwrap_model,
)
from autoencoders.blocks.bottlenecks import imq_mmd
from autoencoders.blocks.quantize import codebook_perplexity
from autoencoders.blocks.regularizers import jacobian_frobenius
from autoencoders.errors import InvalidTypeError, InvalidValueError
from autoencoders.metrics._common import as_model_input, check_positive

__all__ = ["block_statistics", "code_mmd", "codebook_usage", "mean_jacobian_norm"]


def block_statistics(model: Any, data: Any, *, batch_size: int = 256) -> dict[str, float]:
    """The sample-weighted test-set mean of every statistic the model's blocks report.

    The model runs in eval mode without corruption or draws (``model(x, sample=False,
    corrupt=False)``); each entry of ``output.stats`` (a sparse code's ``code_mean``, a
    contractive encoder's ``jacobian_norm``, a codebook's per-batch ``perplexity``) is averaged
    over the batches, weighted by their sizes. Empty for a model whose blocks report none.

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("sparse_ae", h=16, z=4)
        >>> sorted(block_statistics(model, torch.rand(10, 1, 28, 28)))
        ['code_mean']
    """
    net = unwrap_model(model)
    check_positive(batch_size, "batch_size")
    device = device_of(net)
    sums: dict[str, float] = {}
    n = 0
    with evaluating(net):
        for x, y in iter_batches(data, batch_size):
            x = as_model_input(x, net, device)
            out = net(x, sample=False, corrupt=False, **label_kwargs(net, y))
            for key, value in out.stats.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach().double()) * len(x)
            n += len(x)
    return {k: v / n for k, v in sums.items()} if n else {}


def codebook_usage(model: Any, data: Any, *, batch_size: int = 256) -> dict[str, float]:
    """Perplexity and usage of a vector-quantised code over the whole of ``data``.

    ``perplexity`` is ``exp(H)`` of the frequencies of the codes chosen for all of ``data``
    (:func:`~autoencoders.blocks.codebook_perplexity`: from 1 to the codebook size) and
    ``usage`` the fraction of the codebook chosen at least once; ``codebook_size`` is given
    for reference. Needs a bottleneck with ``indices(h)`` and ``codebook_size`` (the VQ one).

    Raises:
        TypeError: the model's bottleneck does not quantise.

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("vq_vae", h=16, z=8, codebook_size=16, code_dim=4)
        >>> u = codebook_usage(model, torch.rand(20, 1, 28, 28))
        >>> 1.0 <= u["perplexity"] <= 16.0, u["codebook_size"]
        (True, 16)
    """
    net = unwrap_model(model)
    bottleneck = net.bottleneck
    if not hasattr(bottleneck, "indices") or not hasattr(bottleneck, "codebook_size"):
        raise InvalidTypeError(
            f"codebook_usage needs a quantising bottleneck (e.g. build('vq_vae')); "
            f"{type(bottleneck).__name__} has no codebook"
        )
    device = device_of(net)
    chosen = []
    with evaluating(net), torch.no_grad():
        for x, _ in iter_batches(data, batch_size):
            h = net.encoder(as_model_input(x, net, device))
            chosen.append(bottleneck.indices(h).flatten().cpu())
    if not chosen:
        raise InvalidValueError("data is empty")
    idx = torch.cat(chosen)
    k = int(bottleneck.codebook_size)
    used = torch.bincount(idx, minlength=k) > 0
    return {
        "perplexity": float(codebook_perplexity(idx, k)),
        "usage": float(used.float().mean()),
        "codebook_size": k,
    }


def code_mmd(model: Any, data: Any, *, limit: int = 2000, seed: int = 0) -> float:
    """``MMD^2`` between the codes of (at most ``limit`` items of) ``data`` and as many
    ``N(0, I)`` draws: how far ``q(z)`` is from the standard-normal prior.

    The codes are :meth:`~autoencoders.Autoencoder.encode` (the posterior mean of a VAE);
    the estimate is :func:`~autoencoders.blocks.imq_mmd` (unbiased, IMQ kernel), so it can be
    slightly negative when the two agree. The draws come from a generator seeded with
    ``seed``: every model of a comparison is scored against the same draws.

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("wae_mmd", h=16, z=2)
        >>> isinstance(code_mmd(model, torch.rand(30, 1, 28, 28)), float)
        True
    """
    net = unwrap_model(model)
    limit = check_positive(limit, "limit")
    x, y = gather(data, limit=limit, need_labels=bool(getattr(net, "takes_labels", False)))
    device = device_of(net)
    codes = []
    with evaluating(net), torch.no_grad():
        for i in range(0, len(x), 256):
            b = as_model_input(x[i : i + 256], net, device)
            lab = label_kwargs(net, None if y is None else y[i : i + 256])
            codes.append(net.encode(b, **lab).float().cpu())
    codes = torch.cat(codes)
    drawn = torch.randn(codes.shape, generator=torch.Generator().manual_seed(seed))
    return float(imq_mmd(codes.double(), drawn.double()))


def mean_jacobian_norm(model: Any, data: Any, *, limit: int = 500, batch_size: int = 100) -> float:
    """Mean of ``||d encode(x) / dx||_F`` over (at most ``limit`` items of) ``data``.

    Computed exactly per image (:func:`~autoencoders.blocks.jacobian_frobenius`, about ``z``
    backward passes of the encoder per batch), in eval mode: the quantity the contractive
    autoencoder penalises, for any model.

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("ae", h=16, z=3)
        >>> mean_jacobian_norm(model, torch.rand(8, 1, 28, 28)) > 0
        True
    """
    net = unwrap_model(model)
    limit = check_positive(limit, "limit")
    check_positive(batch_size, "batch_size")
    x, y = gather(data, limit=limit, need_labels=bool(getattr(net, "takes_labels", False)))
    device = device_of(net)
    norms = []
    with evaluating(net):
        for i in range(0, len(x), batch_size):
            b = as_model_input(x[i : i + batch_size], net, device)
            lab = label_kwargs(net, None if y is None else y[i : i + batch_size])
            norm2 = jacobian_frobenius(lambda v, lab=lab: net.encode(v, **lab), b)
            norms.append(norm2.detach().sqrt().double().cpu())
    if not norms:
        raise InvalidValueError("data is empty")
    return float(torch.cat(norms).mean())
