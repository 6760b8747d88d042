"""Evaluation of the training objective as trained: what ``val_loss`` and ``evaluate()`` are.

A Gaussian bottleneck returns ``z = mean`` in eval mode, and a denoising model does not corrupt
its input there, so scoring a model in plain eval mode measures something other than what it
trains on (for a VAE, the reconstruction at the posterior mean instead of the sampled ELBO).
:func:`evaluate_objective` instead runs the model in eval mode, without gradients, but *draws
what training draws* — ``model(x, sample=True, corrupt=True, generator=g)`` — from its own
generator, seeded at each call: the same data gives the same number every time, and the global
RNGs (the training stream, which exact resume replays) are not touched.

For a VAE with the default loss this is the single-sample negative ELBO of
:func:`autoencoders.metrics.elbo` with the same seed and batch size; for a denoising
autoencoder it is the denoising loss (reconstruct the clean ``x`` from a corrupted copy).
Dropout and batch norm stay in eval mode. A model whose ``forward`` does not take those
keywords (any ``nn.Module``) is called as ``model(x)``.

Example:
    >>> import torch, autoencoders
    >>> from autoencoders.losses import default_loss
    >>> vae = autoencoders.build("vae", h=16, z=2)
    >>> batches = torch.rand(20, 1, 28, 28).split(8)
    >>> a = evaluate_objective(vae, default_loss(vae), batches, seed=0)
    >>> a == evaluate_objective(vae, default_loss(vae), batches, seed=0), sorted(a)
    (True, ['kl', 'loss', 'recon'])
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from autoencoders._utils import device_of, evaluating, unwrap_model
from autoencoders.errors import InvalidValueError
from autoencoders.training import distributed as dist_utils

__all__ = ["draws_like_training", "evaluate_objective"]


def draws_like_training(model: nn.Module) -> bool:
    """Whether ``model(x, sample=..., corrupt=..., generator=...)`` works (an Autoencoder's).

    Example:
        >>> import autoencoders
        >>> draws_like_training(autoencoders.build("ae", h=8, z=2))
        True
        >>> draws_like_training(torch.nn.Linear(2, 2))
        False
    """
    try:
        params = inspect.signature(unwrap_model(model).forward).parameters
    except (TypeError, ValueError):
        return False
    return {"sample", "corrupt", "generator"} <= set(params)


def evaluate_objective(
    model: nn.Module,
    loss_fn: Callable[..., Any],
    batches: Iterable[Any],
    *,
    seed: int = 0,
    autocast: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
    names: list[str] | None = None,
) -> dict[str, float]:
    """Sample-weighted mean loss and loss parts of ``model`` over ``batches``, as trained.

    Args:
        model: the model (eval mode and no gradients for the call; its mode is restored).
        loss_fn: ``loss(output, x) -> LossOutput``, a mean over the batch.
        batches: input batches ``x`` or ``(x, y)`` pairs, on the model's device; labels ``y``
            (not None) go to the model as ``labels=`` (a conditional model's).
        seed: seed of the draws (corruption, then ``z``) of this call.
        autocast: a context factory for mixed precision (the Runtime's ``autocast``).
        names: the columns (``["loss", <part>, ...]``); default: from the first output.

    Returns:
        ``{"loss": ..., <part>: ...}`` over all processes under torch.distributed.

    Raises:
        ValueError: no sample at all (on every process), whether or not ``names`` is given.
    """
    device = device_of(model)
    gen = torch.Generator(device=device).manual_seed(seed)
    kw = {"sample": True, "corrupt": True, "generator": gen} if draws_like_training(model) else {}
    sums: torch.Tensor | None = None
    count = 0
    with evaluating(model), autocast():
        for batch in batches:
            x, y = batch if isinstance(batch, (tuple, list)) else (batch, None)
            out = loss_fn(model(x, **kw) if y is None else model(x, labels=y, **kw), x)
            names = names or ["loss", *out.parts]
            row = torch.stack([out.total, *out.parts.values()]).double() * x.shape[0]
            sums = row if sums is None else sums + row
            count += x.shape[0]
    empty = "cannot evaluate: the data is empty (0 samples); it needs at least one sample"
    if names is None:
        raise InvalidValueError(empty)
    local = torch.zeros(len(names) + 1, dtype=torch.float64, device=device)
    if sums is not None:
        local[:-1] = sums
    local[-1] = count
    totals = dist_utils.all_reduce_sum(local).tolist()
    n = totals[-1]
    if not n:  # also when the columns were given (``names``): never a silent NaN
        raise InvalidValueError(empty)
    return {k: v / n for k, v in zip(names, totals[:-1])}
