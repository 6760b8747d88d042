"""The training order shared by every batch source: per-epoch permutations, batch bounds,
labels (private to :mod:`autoencoders.training`)."""

from __future__ import annotations

import torch

from autoencoders.errors import InvalidTypeError, InvalidValueError
from autoencoders.training.distributed import shard

__all__ = ["batch_bounds", "check_label_tensor", "epoch_permutation", "no_labels", "steady_batch"]


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The training order of epoch ``epoch``: a permutation of ``range(n)`` fixed by the seed.

    Example:
        >>> torch.equal(epoch_permutation(5, 0, 1), epoch_permutation(5, 0, 1))
        True
        >>> sorted(epoch_permutation(5, 0, 1).tolist())
        [0, 1, 2, 3, 4]
    """
    g = torch.Generator().manual_seed((int(seed) * 1_000_003 + int(epoch)) % (2**63))
    return torch.randperm(n, generator=g)


def steady_batch(bounds: list[tuple[int, int]], rank: int, world_size: int) -> int | None:
    """This rank's share of the first (full-size) global batch; ``None`` for no batches."""
    if not bounds:
        return None
    lo, hi, _ = shard(*bounds[0], rank, world_size)
    return hi - lo


def batch_bounds(n: int, batch_size: int, world_size: int) -> list[tuple[int, int]]:
    bounds = [(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
    if world_size > 1 and bounds and bounds[-1][1] - bounds[-1][0] < world_size:
        bounds.pop()  # a last global batch smaller than the number of processes
    return bounds


def no_labels(what: str) -> InvalidValueError:
    return InvalidValueError(
        f"{what} has no labels, but the model is conditional (it takes labels=); give (x, y) "
        "items, a TensorDataset(x, y) or a DataLoader of (x, y) batches"
    )


def check_label_tensor(y: torch.Tensor | None, n: int, what: str) -> torch.Tensor:
    """``y`` as integer labels ``(n,)``, or a clear error naming ``what``."""
    if y is None:
        raise no_labels(what)
    y = torch.as_tensor(y)
    if y.is_floating_point() or y.dtype == torch.bool or y.is_complex():
        raise InvalidTypeError(
            f"{what} labels have dtype {y.dtype}; a conditional model takes integer class "
            "indices (one-hot rows? use y.argmax(1))"
        )
    if y.dim() != 1 or len(y) != n:
        raise InvalidValueError(
            f"{what} labels have shape {tuple(y.shape)}; expected one per sample, ({n},)"
        )
    return y.long()
