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

Items may be ``x`` or ``(x, label, ...)``; labels are ignored. Training order depends only on
``(seed, epoch)``, so a run resumed mid-epoch replays the same permutation and skips the
batches already done. Under ``torch.distributed`` every process draws the same permutation and
takes its own contiguous part of each global batch (see
:func:`autoencoders.training.distributed.shard`).

Example:
    >>> import torch
    >>> src = make_source(torch.rand(10, 3), what="train", device=torch.device("cpu"),
    ...                   batch_size=4, seed=0)
    >>> batches, n = src.train_batches(epoch=0, start=0)
    >>> n, [tuple(x.shape) for x, _ in batches]
    (3, [(4, 3), (4, 3), (2, 3)])
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

from autoencoders._utils import iter_batches
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


class BatchSource(Protocol):
    """What the Trainer iterates: training batches of one epoch, and evaluation batches."""

    #: number of samples in the whole set (all processes), None when unknown
    num_samples: int | None
    #: this process's size of a full training batch (what ``torch.compile`` specialises on)
    steady_batch: int | None
    #: batches in a training epoch, None when unknown (a loader without ``len``)
    batches_per_epoch: int | None

    def train_batches(
        self, epoch: int, start: int
    ) -> tuple[Iterator[tuple[torch.Tensor, float]], int | None]:
        """``(iterator of (x, loss_scale), number of batches in the epoch)`` from batch ``start``."""
        ...

    def eval_batches(self) -> Iterator[torch.Tensor]:
        """This process's share of the set, in order, in evaluation-sized batches."""
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


def _check_float(x: torch.Tensor, what: str) -> torch.Tensor:
    if not torch.is_floating_point(x):
        raise TypeError(
            f"{what} has dtype {x.dtype}; the models take floating-point inputs (scale integer "
            "images to floats first, e.g. x.float() / 255)"
        )
    if x.ndim < 1 or len(x) == 0:
        raise ValueError(f"{what} is empty (shape {tuple(x.shape)}); it needs at least one sample")
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
    ) -> None:
        self.x = x.to(device)
        self.device = device
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self.rank, self.world_size = rank, world_size
        self.num_samples: int | None = len(self.x)
        bounds = _batch_bounds(len(self.x), batch_size, world_size)
        self.steady_batch = _steady_batch(bounds, rank, world_size)
        self.batches_per_epoch: int | None = len(bounds)

    def train_batches(
        self, epoch: int, start: int
    ) -> tuple[Iterator[tuple[torch.Tensor, float]], int | None]:
        n = len(self.x)
        bounds = _batch_bounds(n, self.batch_size, self.world_size)
        return self._iter(epoch, bounds, start), len(bounds)

    def _iter(
        self, epoch: int, bounds: list[tuple[int, int]], start: int
    ) -> Iterator[tuple[torch.Tensor, float]]:
        perm = epoch_permutation(len(self.x), self.seed, epoch).to(self.device)
        x, rank, world = self.x, self.rank, self.world_size
        for s, e in bounds[start:]:
            lo, hi, scale = shard(s, e, rank, world)
            yield x.index_select(0, perm[lo:hi]), scale

    def eval_batches(self) -> Iterator[torch.Tensor]:
        lo, hi, _ = shard(0, len(self.x), self.rank, self.world_size)
        for s in range(lo, hi, self.eval_batch_size):
            yield self.x[s : min(s + self.eval_batch_size, hi)]


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


class _InputsOnly:
    """Collate wrapper keeping only the inputs of ``(x, label)`` items."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __call__(self, items: list[Any]) -> torch.Tensor:
        return torch.stack([_first(it, self.what) for it in items])


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
            "collate_fn": _InputsOnly(what),
        }
        self.sampler = _PlanSampler(n, batch_size, seed, rank, world_size)
        self.loader = DataLoader(dataset, batch_sampler=self.sampler, **self._loader_kwargs)
        self.steady_batch = _steady_batch(self.sampler.bounds, rank, world_size)
        self.batches_per_epoch: int | None = len(self.sampler.bounds)

    def train_batches(
        self, epoch: int, start: int
    ) -> tuple[Iterator[tuple[torch.Tensor, float]], int | None]:
        self.sampler.set_epoch(epoch, start)
        return self._iter(start), len(self.sampler.bounds)

    def _iter(self, start: int) -> Iterator[tuple[torch.Tensor, float]]:
        scales, device = self.sampler.scales, self.device
        for i, x in enumerate(self.loader, start):
            yield x.to(device, non_blocking=True), scales[i]

    def eval_batches(self) -> Iterator[torch.Tensor]:
        lo, hi, _ = shard(0, self.num_samples or 0, self.rank, self.world_size)
        chunks = [
            list(range(s, min(s + self.eval_batch_size, hi)))
            for s in range(lo, hi, self.eval_batch_size)
        ]
        kwargs = dict(self._loader_kwargs, persistent_workers=False)
        for x in DataLoader(self.dataset, batch_sampler=chunks, **kwargs):
            yield x.to(self.device, non_blocking=True)


class LoaderSource:
    """A user's DataLoader (or iterable dataset), used as given.

    Order and sharding are the loader's: use a ``DistributedSampler`` under torchrun (its
    ``set_epoch`` is called every epoch). Resuming mid-epoch skips the batches already done by
    drawing and discarding them, which replays the same batches only if the loader's order is
    reproducible (e.g. a seeded ``generator``).
    """

    def __init__(self, loader: Any, device: torch.device, what: str = "data") -> None:
        self.loader, self.device, self.what = loader, device, what
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

    def train_batches(
        self, epoch: int, start: int
    ) -> tuple[Iterator[tuple[torch.Tensor, float]], int | None]:
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

    def _inputs(self) -> Iterator[torch.Tensor]:
        for x, _ in iter_batches(self.loader, 1, what=self.what):  # a loader: taken as it is
            yield x.to(self.device, non_blocking=True)

    def _iter(self, start: int) -> Iterator[tuple[torch.Tensor, float]]:
        for x in itertools.islice(self._inputs(), start, None):
            yield x, 1.0

    def eval_batches(self) -> Iterator[torch.Tensor]:
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
) -> BatchSource:
    """Pick the batch source for ``data`` (see the module docstring).

    Raises:
        TypeError: an unsupported kind of data, non-tensor items, or integer inputs.
        ValueError: an empty set.
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
        return LoaderSource(data, device, what)
    if type(data).__module__.startswith("numpy"):
        data = torch.as_tensor(data)
    if isinstance(data, torch.Tensor):
        return InMemorySource(_check_float(data, what), **common)
    if isinstance(data, IterableDataset):
        return LoaderSource(DataLoader(data, batch_size=batch_size), device, what)
    sequence = hasattr(data, "__getitem__") and hasattr(data, "__len__")
    if isinstance(data, Dataset) or (sequence and not isinstance(data, (str, bytes, Mapping))):
        n = len(data)
        if n == 0:
            raise ValueError(f"{what} dataset is empty; it needs at least one sample")
        if isinstance(data, TensorDataset):
            x = _check_float(data.tensors[0], what)
            if _nbytes(x) <= in_memory_limit:
                return InMemorySource(x, **common)
        else:
            x0 = _check_float(_first(data[0], f"{what} dataset").unsqueeze(0), what)
            if n * _nbytes(x0) <= in_memory_limit:
                logger.debug("stacking the %s dataset (%d items) in memory", what, n)
                x = torch.stack([_first(data[i], f"{what} dataset") for i in range(n)])
                return InMemorySource(_check_float(x, what), **common)
        return DatasetSource(data, num_workers=num_workers, what=f"{what} dataset", **common)
    raise TypeError(f"{what} must be {_ACCEPTED}; got {type(data).__name__}")
