"""Train / validation / test splits: :class:`DataSplits` and how in-memory data is cut."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch.utils.data import Dataset, TensorDataset

from autoencoders.errors import InvalidValueError

__all__ = ["DataSplits", "seeded_permutation", "tensor_splits"]


@dataclass
class DataSplits:
    """Train, validation and test datasets plus what a model needs to know about them.

    Each split yields ``(x, y)``: ``x`` a float32 tensor of shape ``input_shape`` in
    ``pixel_range``, ``y`` an int64 label (``-1`` for unlabelled data). In-memory splits are
    :class:`~torch.utils.data.TensorDataset`\\ s; large image collections are
    :class:`~autoencoders.data.ImageFilesDataset`\\ s read from disk item by item.

    Attributes:
        train: training split.
        val: validation split (carved from the training data unless the dataset has one).
        test: test split.
        name: dataset name (``"fashion-mnist"``, ``"folder:/path"``, ...).
        input_shape: shape of one ``x``, e.g. ``(1, 28, 28)``.
        num_classes: number of classes, or ``None`` for unlabelled data.
        pixel_range: ``(low, high)`` of the pixel values.
        class_names: names of the labels ``0, 1, ...`` when known.
        source: the folder the files were read from, when they were.

    Example:
        >>> ds = TensorDataset(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long))
        >>> s = DataSplits(ds, ds, ds, name="zeros", input_shape=(2,), num_classes=1)
        >>> s.sizes(), s.tensors("val")[0].shape
        ({'train': 4, 'val': 4, 'test': 4}, torch.Size([4, 2]))
    """

    train: Dataset
    val: Dataset
    test: Dataset
    name: str
    input_shape: tuple[int, ...]
    num_classes: int | None
    pixel_range: tuple[float, float] = (0.0, 1.0)
    class_names: tuple[str, ...] | None = None
    source: str | None = None

    #: The split names, in order.
    SPLITS: ClassVar[tuple[str, ...]] = ("train", "val", "test")

    def split(self, split: str) -> Dataset:
        """The dataset of ``split`` (``"train"``, ``"val"`` or ``"test"``)."""
        if split not in self.SPLITS:
            raise InvalidValueError(f"unknown split {split!r}; accepted: {', '.join(self.SPLITS)}")
        return getattr(self, split)

    def tensors(self, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)`` of a whole split as two tensors (read from disk for lazy splits)."""
        ds = self.split(split)
        if isinstance(ds, TensorDataset):
            return ds.tensors[0], ds.tensors[1]
        load_all = getattr(ds, "load_all", None)  # ImageFilesDataset reads files in one go
        if callable(load_all):
            return load_all()
        items = [ds[i] for i in range(len(ds))]  # type: ignore[arg-type]
        if not items:
            return torch.empty(0, *self.input_shape), torch.empty(0, dtype=torch.long)
        return torch.stack([it[0] for it in items]), torch.as_tensor([int(it[1]) for it in items])

    def sizes(self) -> dict[str, int]:
        """Number of items per split."""
        return {s: len(getattr(self, s)) for s in self.SPLITS}  # type: ignore[arg-type]

    def summary(self) -> dict[str, Any]:
        """A JSON-serialisable description (name, shape, range, classes, sizes, source)."""
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "pixel_range": list(self.pixel_range),
            "num_classes": self.num_classes,
            "class_names": list(self.class_names) if self.class_names else None,
            "sizes": self.sizes(),
            "source": self.source,
        }


def seeded_permutation(n: int, seed: int) -> torch.Tensor:
    """A permutation of ``0 .. n-1`` that depends only on ``seed`` (the same on every machine).

    Example:
        >>> torch.equal(seeded_permutation(10, 3), seeded_permutation(10, 3))
        True
        >>> sorted(seeded_permutation(5, 0).tolist())
        [0, 1, 2, 3, 4]
    """
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def tensor_splits(
    x: torch.Tensor,
    y: torch.Tensor,
    idx: dict[str, torch.Tensor],
    *,
    name: str,
    num_classes: int | None,
    pixel_range: tuple[float, float],
    class_names: tuple[str, ...] | None = None,
    source: str | None = None,
    flatten: bool = False,
) -> DataSplits:
    """:class:`DataSplits` of in-memory float tensors (already scaled and resized).

    Args:
        x: every item, ``(N, ...)``.
        y: their labels, ``(N,)``.
        idx: the indices of each split, keys ``"train"``, ``"val"`` and ``"test"``.
        name: recorded in :attr:`DataSplits.name`.
        num_classes: number of classes, or ``None`` for unlabelled data.
        pixel_range: the range ``x`` is in.
        class_names: names of the labels.
        source: the folder the data was read from.
        flatten: flatten each item to one dimension.

    Example:
        >>> x, y = torch.rand(10, 1, 2, 2), torch.arange(10) % 2
        >>> idx = {"train": torch.arange(6), "val": torch.arange(6, 8), "test": torch.arange(8, 10)}
        >>> s = tensor_splits(x, y, idx, name="toy", num_classes=2, pixel_range=(0.0, 1.0),
        ...                   flatten=True)
        >>> s.sizes(), s.input_shape
        ({'train': 6, 'val': 2, 'test': 2}, (4,))
    """
    if flatten:
        x = x.reshape(len(x), -1)
    sets = {k: TensorDataset(x[v], y[v]) for k, v in idx.items()}
    return DataSplits(
        train=sets["train"],
        val=sets["val"],
        test=sets["test"],
        name=name,
        input_shape=tuple(x.shape[1:]),
        num_classes=num_classes,
        pixel_range=pixel_range,
        class_names=class_names,
        source=source,
    )
