"""Where the Trainer's batches come from: an in-memory fast path, or a DataLoader.

:func:`make_source` turns what :meth:`Trainer.fit <autoencoders.training.Trainer.fit>` receives
into a batch source:

* a tensor, a ``TensorDataset`` (its first tensor), or a map-style dataset whose estimated size
  (``len * bytes of the first item``) is at most ``in_memory_limit`` — stacked once — becomes an
  :class:`InMemorySource`: the whole set lives on the training device as one tensor, and each
  epoch slices a seeded random permutation (``index_select`` of contiguous permutation chunks),
  with no DataLoader, collation or host-to-device copy per step;
* **uint8 images** — a :class:`~autoencoders.data.UInt8ImageDataset` (what image folders and
  CelebA load as, possibly a memory-mapped image cache), or a uint8 tensor or
  ``TensorDataset`` — are an :class:`InMemorySource` too, kept as uint8 (a quarter of the
  bytes of float32): each batch is sliced and then scaled to float32 on the training device
  (to the dataset's ``pixel_range``; to the model's for a bare uint8 tensor). On the CPU the
  rows are never copied; on an accelerator they are copied there once when they fit in
  ``in_memory_limit``, else they stay in host memory and each uint8 batch is copied over;
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
import warnings
from collections.abc import Iterator, Mapping, Sized
from typing import Any, Protocol

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler, TensorDataset
from torch.utils.data.distributed import DistributedSampler

from autoencoders._inputs import check_finite
from autoencoders._utils import iter_batches, tensor_pair
from autoencoders.data.uint8 import UInt8ImageDataset
from autoencoders.errors import (
    DataRangeWarning,
    InputTypeError,
    InvalidInputError,
    InvalidTypeError,
    InvalidValueError,
)
from autoencoders.training._plan import (
    batch_bounds,
    check_label_tensor,
    epoch_permutation,
    no_labels,
    steady_batch,
)
from autoencoders.training.distributed import shard
from autoencoders.training.inmemory import Batch, EvalBatch, InMemorySource, UInt8Scale

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

_ACCEPTED = (
    "a tensor, a numpy array, an (x, y) pair of them, a torch Dataset (items x or (x, label)), "
    "or a DataLoader"
)


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


def _first(item: Any, what: str) -> torch.Tensor:
    """The input of a dataset item: ``x`` or the first element of ``(x, label, ...)``."""
    if isinstance(item, (tuple, list)):
        if not item:
            raise InvalidValueError(f"{what} yields empty items; expected x or (x, label)")
        item = item[0]
    if isinstance(item, torch.Tensor):
        return item
    if type(item).__module__.startswith("numpy"):
        return torch.as_tensor(item)
    raise InvalidTypeError(
        f"{what} yields items of type {type(item).__name__}; expected tensors x or (x, label) "
        "(convert images with torchvision.transforms.ToTensor())"
    )


def _label(item: Any, what: str) -> torch.Tensor:
    """The label of a dataset item ``(x, label, ...)``."""
    if not isinstance(item, (tuple, list)) or len(item) < 2:
        raise no_labels(what)
    return torch.as_tensor(item[1])


def _check_inputs(x: torch.Tensor, what: str) -> torch.Tensor:
    """Float inputs (finite) or uint8 images; anything else is refused."""
    if not (torch.is_floating_point(x) or x.dtype == torch.uint8):
        raise InputTypeError(
            f"{what} has dtype {x.dtype}; the models take floating-point inputs or uint8 images "
            "(0..255, scaled per batch); scale other integers to floats first, e.g. "
            "x.float() / 255"
        )
    if x.ndim < 1 or len(x) == 0:
        raise InvalidInputError(
            f"{what} is empty (shape {tuple(x.shape)}); it needs at least one sample"
        )
    if x.dtype != torch.uint8:
        check_finite(x, f"{what} data")  # one pass when the set is loaded, not one per step
    return x


class _PlanSampler(Sampler[list[int]]):
    """A batch sampler replaying ``epoch_permutation`` from a given batch, for one rank."""

    def __init__(self, n: int, batch_size: int, seed: int, rank: int, world_size: int) -> None:
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.bounds = batch_bounds(n, batch_size, world_size)
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
        pixel_range: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        n = len(dataset)  # type: ignore[arg-type]
        self.dataset, self.device = dataset, device
        self.scale = UInt8Scale(pixel_range)  # for datasets of uint8 images
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
        self.steady_batch = steady_batch(self.sampler.bounds, rank, world_size)
        self.batches_per_epoch: int | None = len(self.sampler.bounds)

    def train_batches(self, epoch: int, start: int) -> tuple[Iterator[Batch], int | None]:
        self.sampler.set_epoch(epoch, start)
        return self._iter(start), len(self.sampler.bounds)

    def _iter(self, start: int) -> Iterator[Batch]:
        scales, device = self.sampler.scales, self.device
        for i, (x, y) in enumerate(self.loader, start):
            y = None if y is None else y.to(device, non_blocking=True)
            yield self._inputs(x), y, scales[i]

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        return self.scale(x) if x.dtype == torch.uint8 else x

    def eval_batches(self) -> Iterator[EvalBatch]:
        lo, hi, _ = shard(0, self.num_samples or 0, self.rank, self.world_size)
        chunks = [
            list(range(s, min(s + self.eval_batch_size, hi)))
            for s in range(lo, hi, self.eval_batch_size)
        ]
        kwargs = dict(self._loader_kwargs, persistent_workers=False)
        for x, y in DataLoader(self.dataset, batch_sampler=chunks, **kwargs):
            y = None if y is None else y.to(self.device, non_blocking=True)
            yield self._inputs(x), y


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
        if self.batches_per_epoch == 0:
            size = "" if self.num_samples is None else f" over {self.num_samples} samples"
            raise InvalidValueError(
                f"{what} DataLoader is empty (0 batches{size}); it needs at least one batch "
                "(drop_last=True with fewer samples than batch_size gives none)"
            )
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


#: The values each output activation can produce: the targets a model can reconstruct.
OUTPUT_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


def warn_out_of_range(x: torch.Tensor, activation: str | None, what: str) -> None:
    """Warn (:class:`~autoencoders.errors.DataRangeWarning`) when float data lies outside the
    range of the output ``activation`` (one min/max pass; other activations have none).

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_out_of_range(torch.full((2, 3), 255.0), "sigmoid", "train data")
        >>> str(caught[0].message)[:60]
        'train data holds values in [255, 255], outside [0, 1], the r'
    """
    bounds = OUTPUT_RANGES.get(activation or "")
    if bounds is None or not x.is_floating_point() or x.numel() == 0:
        return
    lo, hi = (float(v) for v in torch.aminmax(x))
    if lo < bounds[0] - 1e-6 or hi > bounds[1] + 1e-6:
        warnings.warn(
            f"{what} holds values in [{lo:g}, {hi:g}], outside [{bounds[0]:g}, {bounds[1]:g}], "
            f"the range of the model's {activation} output: it cannot reconstruct them, and a "
            "BCE of such targets can go negative. Scale the data (images in 0..255: x / 255, "
            "or pass them as uint8), or build the model for this range",
            DataRangeWarning,
            stacklevel=4,
        )


def _tensor_source(
    x: torch.Tensor,
    y: torch.Tensor | None,
    pixel_range: tuple[float, float],
    limit: int,
    common: dict[str, Any],
    output_activation: str | None = None,
    what: str = "data",
) -> InMemorySource:
    """An in-memory source of a tensor: uint8 ones are scaled per batch to ``pixel_range``."""
    if x.dtype != torch.uint8:
        warn_out_of_range(x, output_activation, f"{what} data")
        return InMemorySource(x, y=y, **common)
    resident = common["device"].type == "cpu" or _nbytes(x) <= limit
    return InMemorySource(x, y=y, scale=UInt8Scale(pixel_range), resident=resident, **common)


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
    pixel_range: tuple[float, float] = (0.0, 1.0),
    output_activation: str | None = None,
) -> BatchSource:
    """Pick the batch source for ``data`` (see the module docstring); with ``labels``, every
    batch carries the data's integer labels; bare uint8 inputs are scaled to ``pixel_range``
    (the model's). Float data held in memory outside the range of ``output_activation``
    (the model's) is warned about (:func:`warn_out_of_range`).

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
    data = tensor_pair(data, f"{what} data") or data  # (x, y) tensors, as the metrics take
    if isinstance(data, UInt8ImageDataset):
        if len(data) == 0:
            raise InvalidValueError(f"{what} dataset is empty; it needs at least one sample")
        nbytes = len(data) * _nbytes(data.images[:1])
        resident = device.type == "cpu" or nbytes <= in_memory_limit
        y = data.labels if labels else None
        return InMemorySource(
            data.images, y=y, rows=data.rows, scale=data.scale, resident=resident, **common
        )
    if isinstance(data, torch.Tensor):
        if labels:
            raise no_labels(f"{what} data (a tensor of inputs)")
        x = _check_inputs(data, what)
        return _tensor_source(
            x, None, pixel_range, in_memory_limit, common, output_activation, what
        )
    if isinstance(data, IterableDataset):
        return LoaderSource(DataLoader(data, batch_size=batch_size), device, what, labels)
    sequence = hasattr(data, "__getitem__") and hasattr(data, "__len__")
    if isinstance(data, Dataset) or (sequence and not isinstance(data, (str, bytes, Mapping))):
        n = len(data)
        if n == 0:
            raise InvalidValueError(f"{what} dataset is empty; it needs at least one sample")
        if isinstance(data, TensorDataset):
            x = _check_inputs(data.tensors[0], what)
            if labels and len(data.tensors) < 2:
                raise no_labels(f"{what} data (a TensorDataset of inputs only)")
            y = data.tensors[1] if labels else None
            if _nbytes(x) <= in_memory_limit or (x.dtype == torch.uint8 and device.type == "cpu"):
                return _tensor_source(
                    x, y, pixel_range, in_memory_limit, common, output_activation, what
                )
        else:
            x0 = _check_inputs(_first(data[0], f"{what} dataset").unsqueeze(0), what)
            if labels:
                _label(data[0], f"{what} dataset")
            if n * _nbytes(x0) <= in_memory_limit:
                logger.debug("stacking the %s dataset (%d items) in memory", what, n)
                items = [data[i] for i in range(n)]
                x = torch.stack([_first(it, f"{what} dataset") for it in items])
                y = torch.stack([_label(it, what) for it in items]) if labels else None
                x = _check_inputs(x, what)
                return _tensor_source(
                    x, y, pixel_range, in_memory_limit, common, output_activation, what
                )
        return DatasetSource(
            data, num_workers=num_workers, what=f"{what} dataset", labels=labels,
            pixel_range=pixel_range, **common,
        )  # fmt: skip
    raise InvalidTypeError(f"{what} must be {_ACCEPTED}; got {type(data).__name__}")
