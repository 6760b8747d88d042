"""The epoch's running losses, kept on the device, and the NaN guard that reads them.

A training step appends its loss and loss parts (detached, still on the device) to an
:class:`EpochMeter`; nothing is read back per step. The meter is read where the Trainer
synchronises anyway — progress-bar refreshes, checkpoints, the end of the epoch — and each read
first checks that every step so far had a finite loss (:class:`NonFiniteLossError` otherwise).

Example:
    >>> import torch
    >>> meter = EpochMeter(["loss"], first_step=1, first_batch=0, device=torch.device("cpu"))
    >>> meter.add(torch.tensor(2.0), {}, 4); meter.add(torch.tensor(4.0), {}, 2)
    >>> meter.running()
    (2.6666666666666665, 6.0)
    >>> meter.add(torch.tensor(float("nan")), {}, 4)
    >>> meter.running()
    Traceback (most recent call last):
      ...
    autoencoders.errors.NonFiniteLossError: non-finite loss at epoch 1, step 3 ...
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from autoencoders.errors import NonFiniteLossError
from autoencoders.training import distributed as dist_utils

__all__ = ["NonFiniteLossError", "EpochMeter"]

#: Rows of per-step losses kept as separate tensors before they are stacked into one.
COMPACT_EVERY = 256


class EpochMeter:
    """Per-step losses of the epoch in progress, on the device until read.

    Args:
        names: ``["loss", <part>, ...]``, the columns of a row (None: learnt from the first
            :meth:`add`).
        first_step: the global step (1-based) of the first row.
        first_batch: batches of the epoch already done before this meter (a resumed epoch).
        device: where the rows live.
        restored: the totals a mid-epoch checkpoint saved for the batches before
            ``first_batch`` (see :meth:`totals`).
        check: whether reads raise :class:`NonFiniteLossError` (``nonfinite="raise"``).
        epoch: the epoch (0-based), for error messages.
    """

    def __init__(
        self,
        names: list[str] | None,
        first_step: int,
        first_batch: int,
        device: torch.device,
        restored: dict[str, Any] | None = None,
        *,
        check: bool = True,
        epoch: int = 0,
    ) -> None:
        self.names = names
        self.first_step, self.first_batch, self.epoch = first_step, first_batch, epoch
        self.device, self.check = device, check
        self.restored = dict(restored or {})
        self.rows: list[torch.Tensor] = []
        self.chunks: list[torch.Tensor] = []
        self.sizes: list[int] = []
        self.skipped = 0
        self.t0 = time.perf_counter()

    def add(self, total: torch.Tensor, parts: dict[str, torch.Tensor], size: int) -> None:
        """Record one step's loss and parts (no synchronisation)."""
        if self.names is None:
            self.names = ["loss", *parts]
        self.rows.append(torch.stack([total.detach(), *[v.detach() for v in parts.values()]]))
        self.sizes.append(size)
        if len(self.rows) >= COMPACT_EVERY:
            self.chunks.append(torch.stack(self.rows))
            self.rows.clear()

    def is_finite(self, total: torch.Tensor) -> bool:
        """Whether ``total`` is finite on every process (reads it: one synchronisation)."""
        ok = torch.isfinite(total.detach()).to(torch.float64).reshape(1)
        world = dist_utils.world_info()[1]
        if world > 1:  # every process must skip the same steps
            return bool(dist_utils.all_reduce_sum(ok)[0] == world)
        return bool(ok[0])

    def collect(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """All rows so far as one ``(steps, 1 + parts)`` tensor, and the batch sizes."""
        if self.rows:
            self.chunks.append(torch.stack(self.rows))
            self.rows.clear()
        if not self.chunks:
            return None, None
        if len(self.chunks) > 1:
            self.chunks = [torch.cat(self.chunks)]
        sizes = torch.tensor(self.sizes, dtype=torch.float64).to(self.device, non_blocking=True)
        return self.chunks[0], sizes

    def check_finite(self, rows: torch.Tensor | None) -> None:
        """Raise NonFiniteLossError for the first non-finite row (over all processes)."""
        if not self.check:
            return
        big = float(2**53)
        first = big
        if rows is not None:
            bad = ~torch.isfinite(rows).all(dim=1)
            idx = torch.where(bad, torch.arange(len(rows), device=rows.device), len(rows))
            first = float(idx.min())
            first = big if first >= len(rows) else first
        if dist_utils.world_info()[1] > 1:  # the smallest bad row over processes
            firsts = dist_utils.all_gather_tensor(torch.tensor([first], dtype=torch.float64))
            first = min(float(f[0]) for f in firsts)
        if first >= big:
            return
        i = int(first)
        names = self.names or ["loss"]
        values = rows[i].tolist() if rows is not None and i < len(rows) else [math.nan] * len(names)
        raise NonFiniteLossError(
            epoch=self.epoch + 1,
            step=self.first_step + i,
            batch=self.first_batch + i + 1,
            parts=dict(zip(names, values)),
        )

    def running(self) -> tuple[float, float] | None:
        """``(mean loss, samples)`` of this process so far, for a progress display; None
        before the first step. Checks for non-finite losses when there is one process."""
        rows, sizes = self.collect()
        if dist_utils.world_info()[1] == 1:
            self.check_finite(rows)
        if rows is None or sizes is None:
            return None
        total = float(sizes.sum())
        return float((rows[:, 0].double() * sizes).sum() / total), total

    def totals(self, lr: float) -> dict[str, Any]:
        """The epoch's totals so far, all processes together: ``{"sums": [...], "count",
        "skipped", "seconds", "lr"}`` (``lr`` as given: the learning rate now). Checks for
        non-finite losses first. Collective under torch.distributed."""
        rows, sizes = self.collect()
        self.check_finite(rows)
        n_cols = len(self.names or ["loss"])
        local = torch.zeros(n_cols + 2, dtype=torch.float64, device=self.device)
        if rows is not None and sizes is not None:
            local[:n_cols] = (rows.double() * sizes[:, None]).sum(0)
            local[n_cols] = sizes.sum()
        local[n_cols + 1] = self.skipped
        totals = dist_utils.all_reduce_sum(local).tolist()
        prev = self.restored
        prev_sums = prev.get("sums") or [0.0] * n_cols
        return {
            "sums": [a + b for a, b in zip(totals[:n_cols], prev_sums)],
            "count": totals[n_cols] + prev.get("count", 0.0),
            "skipped": int(totals[n_cols + 1]) + int(prev.get("skipped", 0)),
            "seconds": time.perf_counter() - self.t0 + prev.get("seconds", 0.0),
            "lr": lr,
        }

    def train_means(self, totals: dict[str, Any]) -> dict[str, float]:
        """``{"train_loss": ..., "train_<part>": ...}``: sample-weighted means of :meth:`totals`."""
        n = totals["count"]
        names = self.names or ["loss"]
        return {f"train_{k}": s / n if n else math.nan for k, s in zip(names, totals["sums"])}

    def summary(self, totals: dict[str, Any]) -> dict[str, Any]:
        """The record's ``lr``, ``seconds`` (the epoch so far, validation included when called
        after it), ``samples_per_s`` (training only) and ``skipped_steps``."""
        seconds = time.perf_counter() - self.t0 + self.restored.get("seconds", 0.0)
        train_s = totals["seconds"]
        return {
            "lr": totals["lr"],
            "seconds": seconds,
            "samples_per_s": totals["count"] / train_s if train_s > 0 else math.nan,
            "skipped_steps": totals["skipped"],
        }
