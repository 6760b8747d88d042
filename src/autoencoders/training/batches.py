"""Where the Trainer's batches come from: an in-memory fast path, or a DataLoader.

:func:`make_source` turns what :meth:`Trainer.fit <autoencoders.training.Trainer.fit>` receives
into a batch source:

* a tensor, a ``TensorDataset`` (its first tensor), or a map-style dataset whose estimated size
  (``len * bytes of the first item``) is at most ``in_memory_limit`` — stacked once — becomes an
  :class:`InMemorySource`: the whole set lives on the training device as one tensor, and each
  epoch slices a seeded random permutation (``index_select`` of contiguous permutation chunks),
  with no DataLoader, collation or host-to-device copy per step;
* a larger map-style dataset becomes a :class:`DatasetSource`: a DataLoader over the same seeded
  per-epoch permutation (worker processes, pinned memory on CUDA);
* a ``DataLoader`` (or an iterable dataset) is used as given: a :class:`LoaderSource`.

Items may be ``x`` or ``(x, label, ...)``. Labels are kept only when the source is asked for
them (``labels=True``: the Trainer asks for a conditional model, one that ``takes_labels``);
then every batch is ``(x, y)`` with ``y`` the integer labels on the device, and data without
labels is refused with a clear error. Otherwise ``y`` is None. Training order depends only on
``(seed, epoch)``, so a run resumed mid-epoch replays the same permutation and skips the
batches already done. Under ``torch.distributed`` every process draws the same permutation and
takes its own contiguous part of each global batch (see
:func:`autoencoders.training.distributed.shard`).

Example:
    >>> import torch
    >>> src = make_source(torch.rand(10, 3), what="train", device=torch.device("cpu"),
    ...                   batch_size=4, seed=0)
    >>> batches, n = src.train_batches(epoch=0, start=0)
    >>> n, [(tuple(x.shape), y) for x, y, _ in batches]
    (3, [((4, 3), None), ((4, 3), None), ((2, 3), None)])
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator, Mapping, Sized
from typing import Any, Protocol

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler, TensorDataset
from torch.utils.data.distributed import DistributedSampler

from autoencoders._inputs import check_finite
from autoencoders._utils import iter_batches
from autoencoders.errors import InputTypeError, InvalidInputError
from autoencoders.training.distributed import shard

__all__ = [
    "DEFAULT_IN_MEMORY_LIMIT",
    "BatchSource",
    "DatasetSource",
    "InMemorySource",
    "LoaderSource",
    "epoch_permutation",
    "make_source",
]

logger = logging.getLogger(__name__)

#: Datasets up to this many bytes (estimated) are stacked into one tensor on the device.
DEFAULT_IN_MEMORY_LIMIT = 2 * 1024**3

_ACCEPTED = "a tensor, a numpy array, a torch Dataset (items x or (x, label)), or a DataLoader"

#: A training batch: inputs, labels (None unless asked for) and the loss scale of this process.
Batch = tuple[torch.Tensor, "torch.Tensor | None", float]
EvalBatch = tuple[torch.Tensor, "torch.Tensor | None"]


class BatchSource(Protocol):
    """What the Trainer iterates: training batches of one epoch, and evaluation batches."""

    #: number of samples in the whole set (all processes), None when unknown
    num_samples: int | None
    #: this process's size of a full training batch (what ``torch.compile`` specialises on)
    steady_batch: int | None
    #: batches in a training epoch, None when unknown (a loader without ``len``)
    batches_per_epoch: int | None

    def train_batches(self, epoch: int, start: int) -> tuple[Iterator[Batch], int | None]:
        """``(iterator of (x, y, loss_scale), number of batches in the epoch)`` from batch
        ``start``; ``y`` is None unless the source was asked for labels."""
        ...

    def eval_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """This process's share of the set, in order, as ``(x, y)`` evaluation batches."""
        ...


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


def _steady_batch(bounds: list[tuple[int, int]], rank: int, world_size: int) -> int | None:
    """This rank's share of the first (full-size) global batch; ``None`` for no batches."""
    if not bounds:
        return None
    lo, hi, _ = shard(*bounds[0], rank, world_size)
    return hi - lo


def _batch_bounds(n: int, batch_size: int, world_size: int) -> list[tuple[int, int]]:
    bounds = [(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
    if world_size > 1 and bounds and bounds[-1][1] - bounds[-1][0] < world_size:
        bounds.pop()  # a last global batch smaller than the number of processes
    return bounds


def _first(item: Any, what: str) -> torch.Tensor:
    """The input of a dataset item: ``x`` or the first element of ``(x, label, ...)``."""
    if isinstance(item, (tuple, list)):
        if not item:
            raise ValueError(f"{what} yields empty items; expected x or (x, label)")
        item = item[0]
    if isinstance(item, torch.Tensor):
        return item
    if type(item).__module__.startswith("numpy"):
        return torch.as_tensor(item)
    raise TypeError(
        f"{what} yields items of type {type(item).__name__}; expected tensors x or (x, label) "
        "(convert images with torchvision.transforms.ToTensor())"
    )


def _no_labels(what: str) -> ValueError:
    return ValueError(
        f"{what} has no labels, but the model is conditional (it takes labels=); give (x, y) "
        "items, a TensorDataset(x, y) or a DataLoader of (x, y) batches"
    )


def _label(item: Any, what: str) -> torch.Tensor:
    """The label of a dataset item ``(x, label, ...)``."""
    if not isinstance(item, (tuple, list)) or len(item) < 2:
        raise _no_labels(what)
    return torch.as_tensor(item[1])


def check_label_tensor(y: torch.Tensor | None, n: int, what: str) -> torch.Tensor:
    """``y`` as integer labels ``(n,)``, or a clear error naming ``what``."""
    if y is None:
        raise _no_labels(what)
    y = torch.as_tensor(y)
    if y.is_floating_point() or y.dtype == torch.bool or y.is_complex():
        raise TypeError(
            f"{what} labels have dtype {y.dtype}; a conditional model takes integer class "
            "indices (one-hot rows? use y.argmax(1))"
        )
    if y.dim() != 1 or len(y) != n:
        raise ValueError(
            f"{what} labels have shape {tuple(y.shape)}; expected one per sample, ({n},)"
        )
    return y.long()


def _check_float(x: torch.Tensor, what: str) -> torch.Tensor:
    if not torch.is_floating_point(x):
        raise InputTypeError(
            f"{what} has dtype {x.dtype}; the models take floating-point inputs (scale integer "
            "images to floats first, e.g. x.float() / 255)"
        )
    if x.ndim < 1 or len(x) == 0:
        raise InvalidInputError(
            f"{what} is empty (shape {tuple(x.shape)}); it needs at least one sample"
        )
    check_finite(x, f"{what} data")  # one pass when the set is loaded, not one per step
    return x


class InMemorySource:
    """The fast path: the whole set as one tensor on the device, sliced by a permutation.

    Args:
        x: the inputs ``(N, ...)``; moved to ``device`` once.
        device: the training device.
        batch_size: global batch size (all processes together).
        eval_batch_size: batch size for evaluation (per process).
        seed: seed of the per-epoch permutations.
        rank: this process's rank.
        world_size: number of processes.
        y: the labels ``(N,)`` to hand out with the inputs, or None.
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
    ) -> None:
        self.x = x.to(device)
        self.y = None if y is None else check_label_tensor(y, len(x), "data").to(device)
        self.device = device
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self.rank, self.world_size = rank, world_size
        self.num_samples: int | None = len(self.x)
        bounds = _batch_bounds(len(self.x), batch_size, world_size)
        self.steady_batch = _steady_batch(bounds, rank, world_size)
        self.batches_per_epoch: int | None = len(bounds)

    def train_batches(self, epoch: int, start: int) -> tuple[Iterator[Batch], int | None]:
        n = len(self.x)
        bounds = _batch_bounds(n, self.batch_size, self.world_size)
        return self._iter(epoch, bounds, start), len(bounds)

    def _iter(self, epoch: int, bounds: list[tuple[int, int]], start: int) -> Iterator[Batch]:
        perm = epoch_permutation(len(self.x), self.seed, epoch).to(self.device)
        x, y, rank, world = self.x, self.y, self.rank, self.world_size
        for s, e in bounds[start:]:
            lo, hi, scale = shard(s, e, rank, world)
            idx = perm[lo:hi]
            yield x.index_select(0, idx), (None if y is None else y.index_select(0, idx)), scale

    def eval_batches(self) -> Iterator[EvalBatch]:
        lo, hi, _ = shard(0, len(self.x), self.rank, self.world_size)
        y = self.y
        for s in range(lo, hi, self.eval_batch_size):
            e = min(s + self.eval_batch_size, hi)
            yield self.x[s:e], (None if y is None else y[s:e])


class _PlanSampler(Sampler[list[int]]):
    """A batch sampler replaying ``epoch_permutation`` from a given batch, for one rank."""

    def __init__(self, n: int, batch_size: int, seed: int, rank: int, world_size: int) -> None:
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.bounds = _batch_bounds(n, batch_size, world_size)
        self.epoch, self.start = 0, 0
        self.scales: list[float] = []

    def set_epoch(self, epoch: int, start: int) -> None:
        self.epoch, self.start = epoch, start
        self.scales = [shard(s, e, self.rank, self.world_size)[2] for s, e in self.bounds]

    def __iter__(self) -> Iterator[list[int]]:
        perm = epoch_permutation(self.n, self.seed, self.epoch)
        for s, e in self.bounds[self.start :]:
            lo, hi, _ = shard(s, e, self.rank, self.world_size)
            yield perm[lo:hi].tolist()

    def __len__(self) -> int:
        return len(self.bounds) - self.start


class _Collate:
    """Collate ``x`` or ``(x, label)`` items to ``(x, y)``: ``y`` only when labels are kept."""

    def __init__(self, what: str, labels: bool) -> None:
        self.what, self.labels = what, labels

    def __call__(self, items: list[Any]) -> EvalBatch:
        x = torch.stack([_first(it, self.what) for it in items])
        if not self.labels:
            return x, None
        y = torch.stack([_label(it, self.what) for it in items])
        return x, check_label_tensor(y, len(x), self.what)


def default_num_workers(world_size: int = 1) -> int:
    """DataLoader workers for datasets read from disk: up to 4, leaving a core free."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(0, min(4, (cores or 1) // max(1, world_size) - 1))


class DatasetSource:
    """A map-style dataset too large to stack: a DataLoader over the seeded permutation."""

    def __init__(
        self,
        dataset: Dataset[Any],
        device: torch.device,
        batch_size: int,
        eval_batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        num_workers: int | None = None,
        what: str = "data",
        labels: bool = False,
    ) -> None:
        n = len(dataset)  # type: ignore[arg-type]
        self.dataset, self.device = dataset, device
        self.num_samples: int | None = n
        self.rank, self.world_size = rank, world_size
        self.eval_batch_size = eval_batch_size
        workers = default_num_workers(world_size) if num_workers is None else num_workers
        self._loader_kwargs: dict[str, Any] = {
            "num_workers": workers,
            "pin_memory": device.type == "cuda",
            "persistent_workers": workers > 0,
            "collate_fn": _Collate(what, labels),
        }
        self.sampler = _PlanSampler(n, batch_size, seed, rank, world_size)
        self.loader = DataLoader(dataset, batch_sampler=self.sampler, **self._loader_kwargs)
        self.steady_batch = _steady_batch(self.sampler.bounds, rank, world_size)
        self.batches_per_epoch: int | None = len(self.sampler.bounds)

    def train_batches(self, epoch: int, start: int) -> tuple[Iterator[Batch], int | None]:
        self.sampler.set_epoch(epoch, start)
        return self._iter(start), len(self.sampler.bounds)

    def _iter(self, start: int) -> Iterator[Batch]:
        scales, device = self.sampler.scales, self.device
        for i, (x, y) in enumerate(self.loader, start):
            y = None if y is None else y.to(device, non_blocking=True)
            yield x.to(device, non_blocking=True), y, scales[i]

    def eval_batches(self) -> Iterator[EvalBatch]:
        lo, hi, _ = shard(0, self.num_samples or 0, self.rank, self.world_size)
        chunks = [
            list(range(s, min(s + self.eval_batch_size, hi)))
            for s in range(lo, hi, self.eval_batch_size)
        ]
        kwargs = dict(self._loader_kwargs, persistent_workers=False)
        for x, y in DataLoader(self.dataset, batch_sampler=chunks, **kwargs):
            y = None if y is None else y.to(self.device, non_blocking=True)
            yield x.to(self.device, non_blocking=True), y


class LoaderSource:
    """A user's DataLoader (or iterable dataset), used as given.

    Order and sharding are the loader's: use a ``DistributedSampler`` under torchrun (its
    ``set_epoch`` is called every epoch). Resuming mid-epoch skips the batches already done by
    drawing and discarding them, which replays the same batches only if the loader's order is
    reproducible (e.g. a seeded ``generator``).
    """

    def __init__(
        self, loader: Any, device: torch.device, what: str = "data", labels: bool = False
    ) -> None:
        self.loader, self.device, self.what, self.labels = loader, device, what, labels
        self.num_samples: int | None = None
        dataset = getattr(loader, "dataset", None)
        if isinstance(dataset, Sized) and not isinstance(dataset, IterableDataset):
            self.num_samples = len(dataset)
        self.steady_batch: int | None = getattr(loader, "batch_size", None)
        try:
            self.batches_per_epoch: int | None = len(loader)
        except TypeError:
            self.batches_per_epoch = None
        self._warned = False

    def train_batches(self, epoch: int, start: int) -> tuple[Iterator[Batch], int | None]:
        sampler = getattr(self.loader, "sampler", None)
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)
        elif not self._warned and torch.distributed.is_initialized():
            self._warned = True
            logger.warning(
                "the %s DataLoader has no DistributedSampler: every process sees every batch",
                self.what,
            )
        if start:
            logger.warning(
                "resuming mid-epoch with a user DataLoader: drawing and discarding %d batches "
                "(exact only if the loader's order is reproducible)",
                start,
            )
        return self._iter(start), self.batches_per_epoch

    def _inputs(self) -> Iterator[EvalBatch]:
        device = self.device
        for x, y in iter_batches(self.loader, 1, what=self.what):  # a loader: taken as it is
            if not self.labels:
                y = None
            else:
                y = check_label_tensor(y, len(x), self.what).to(device, non_blocking=True)
            yield x.to(device, non_blocking=True), y

    def _iter(self, start: int) -> Iterator[Batch]:
        for x, y in itertools.islice(self._inputs(), start, None):
            yield x, y, 1.0

    def eval_batches(self) -> Iterator[EvalBatch]:
        return self._inputs()


def _nbytes(x: torch.Tensor) -> int:
    return x.numel() * x.element_size()


def make_source(
    data: Any,
    *,
    what: str,
    device: torch.device,
    batch_size: int,
    eval_batch_size: int | None = None,
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
    num_workers: int | None = None,
    in_memory_limit: int = DEFAULT_IN_MEMORY_LIMIT,
    labels: bool = False,
) -> BatchSource:
    """Pick the batch source for ``data`` (see the module docstring); with ``labels``, every
    batch carries the data's integer labels.

    Raises:
        TypeError: an unsupported kind of data, non-tensor items, integer inputs, or
            non-integer labels.
        ValueError: an empty set; no labels while ``labels`` is set.
    """
    eval_bs = eval_batch_size or batch_size
    common = {
        "device": device,
        "batch_size": batch_size,
        "eval_batch_size": eval_bs,
        "seed": seed,
        "rank": rank,
        "world_size": world_size,
    }
    if isinstance(data, DataLoader):
        return LoaderSource(data, device, what, labels)
    if type(data).__module__.startswith("numpy"):
        data = torch.as_tensor(data)
    if isinstance(data, torch.Tensor):
        if labels:
            raise _no_labels(f"{what} data (a tensor of inputs)")
        return InMemorySource(_check_float(data, what), **common)
    if isinstance(data, IterableDataset):
        return LoaderSource(DataLoader(data, batch_size=batch_size), device, what, labels)
    sequence = hasattr(data, "__getitem__") and hasattr(data, "__len__")
    if isinstance(data, Dataset) or (sequence and not isinstance(data, (str, bytes, Mapping))):
        n = len(data)
        if n == 0:
            raise ValueError(f"{what} dataset is empty; it needs at least one sample")
        if isinstance(data, TensorDataset):
            x = _check_float(data.tensors[0], what)
            if labels and len(data.tensors) < 2:
                raise _no_labels(f"{what} data (a TensorDataset of inputs only)")
            y = data.tensors[1] if labels else None
            if _nbytes(x) <= in_memory_limit:
                return InMemorySource(x, y=y, **common)
        else:
            x0 = _check_float(_first(data[0], f"{what} dataset").unsqueeze(0), what)
            if labels:
                _label(data[0], f"{what} dataset")
            if n * _nbytes(x0) <= in_memory_limit:
                logger.debug("stacking the %s dataset (%d items) in memory", what, n)
                items = [data[i] for i in range(n)]
                x = torch.stack([_first(it, f"{what} dataset") for it in items])
                y = torch.stack([_label(it, what) for it in items]) if labels else None
                return InMemorySource(_check_float(x, what), y=y, **common)
        return DatasetSource(
            data, num_workers=num_workers, what=f"{what} dataset", labels=labels, **common
        )
    raise TypeError(f"{what} must be {_ACCEPTED}; got {type(data).__name__}")
