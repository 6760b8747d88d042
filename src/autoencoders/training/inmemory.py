"""The Trainer's fast path: a whole set as one tensor, sliced by a seeded permutation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from autoencoders.data.pixels import scale_uint8
from autoencoders.training._plan import (
    batch_bounds,
    check_label_tensor,
    epoch_permutation,
    steady_batch,
)
from autoencoders.training.distributed import shard

__all__ = ["InMemorySource", "UInt8Scale", "gather_rows"]

#: A training batch: inputs, labels (None unless asked for) and the loss scale of this process.
Batch = tuple[torch.Tensor, "torch.Tensor | None", float]
EvalBatch = tuple[torch.Tensor, "torch.Tensor | None"]


class UInt8Scale:
    """uint8 batches to float32 in a pixel range."""

    def __init__(self, pixel_range: tuple[float, float]) -> None:
        self.pixel_range = pixel_range

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        return scale_uint8(batch, self.pixel_range)


def gather_rows(x: torch.Tensor, rows: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``x[rows]`` on ``device``, copied in chunks (no host copy of the whole selection)."""
    out = torch.empty((len(rows), *x.shape[1:]), dtype=x.dtype, device=device)
    for s in range(0, len(rows), 8192):
        out[s : s + 8192] = x.index_select(0, rows[s : s + 8192]).to(device)
    return out


class InMemorySource:
    """The fast path: the whole set as one tensor on the device, sliced by a permutation.

    Args:
        x: the inputs ``(M, ...)``; moved to ``device`` once (with ``resident``).
        device: the training device.
        batch_size: global batch size (all processes together).
        eval_batch_size: batch size for evaluation (per process).
        seed: seed of the per-epoch permutations.
        rank: this process's rank.
        world_size: number of processes.
        y: the labels ``(N,)`` to hand out with the inputs, or None.
        rows: the rows of ``x`` that are the set, in order (None: all ``M``); sample ``i``
            is ``x[rows[i]]``, so a memory-mapped image cache is never copied on the CPU.
        scale: applied to every batch on ``device`` (uint8 images to floats), or None.
        resident: keep the set on ``device``; False keeps it where it is and copies each
            batch to ``device`` (a set larger than the accelerator's share).
    """

    def __init__(
        self,
        x: torch.Tensor,
        device: torch.device,
        batch_size: int,
        eval_batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        y: torch.Tensor | None = None,
        *,
        rows: torch.Tensor | None = None,
        scale: Any = None,
        resident: bool = True,
    ) -> None:
        n = len(x) if rows is None else len(rows)
        if rows is not None and resident and x.device != device:
            x, rows = gather_rows(x, rows, device), None  # only this set's rows go to the device
        self.x = x.to(device) if resident else x
        self.rows = None if rows is None else rows.to(self.x.device)
        self.scale, self.n = scale, n
        self.y = None if y is None else check_label_tensor(y, n, "data").to(device)
        self.device = device
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self.rank, self.world_size = rank, world_size
        self.num_samples: int | None = n
        bounds = batch_bounds(n, batch_size, world_size)
        self.steady_batch = steady_batch(bounds, rank, world_size)
        self.batches_per_epoch: int | None = len(bounds)

    def train_batches(self, epoch: int, start: int) -> tuple[Iterator[Batch], int | None]:
        bounds = batch_bounds(self.n, self.batch_size, self.world_size)
        return self._iter(epoch, bounds, start), len(bounds)

    def _take(self, idx: torch.Tensor) -> torch.Tensor:
        """The inputs of samples ``idx`` (on the set's device), on the training device."""
        rows = idx if self.rows is None else self.rows.index_select(0, idx)
        xb = self.x.index_select(0, rows).to(self.device, non_blocking=True)
        return xb if self.scale is None else self.scale(xb)

    def _iter(self, epoch: int, bounds: list[tuple[int, int]], start: int) -> Iterator[Batch]:
        perm = epoch_permutation(self.n, self.seed, epoch).to(self.x.device)
        y, rank, world = self.y, self.rank, self.world_size
        for s, e in bounds[start:]:
            lo, hi, scale = shard(s, e, rank, world)
            idx = perm[lo:hi]
            yb = None if y is None else y.index_select(0, idx.to(self.device))
            yield self._take(idx), yb, scale

    def eval_batches(self) -> Iterator[EvalBatch]:
        lo, hi, _ = shard(0, self.n, self.rank, self.world_size)
        y, plain = self.y, self.rows is None and self.scale is None and self.x.device == self.device
        for s in range(lo, hi, self.eval_batch_size):
            e = min(s + self.eval_batch_size, hi)
            yb = None if y is None else y[s:e]
            if plain:
                yield self.x[s:e], yb
            else:
                yield self._take(torch.arange(s, e, device=self.x.device)), yb
