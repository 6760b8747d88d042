"""Images kept as uint8 and scaled to floats only when used: :class:`UInt8ImageDataset`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Dataset

from autoencoders.data.pixels import parse_pixel_range, scale_uint8
from autoencoders.errors import InvalidTypeError, InvalidValueError

__all__ = ["UInt8ImageDataset"]


class UInt8ImageDataset(Dataset):
    """Images held as uint8 ``(N, C, H, W)``, scaled to float32 in ``pixel_range`` per item.

    A quarter of the memory of float32 images (202,599 CelebA faces at 64x64: 2.5 GB instead
    of 10 GB), and the rows may be a memory-mapped image cache
    (:func:`~autoencoders.data.cache.cached_images`) shared by every split: ``rows`` picks
    this split's images without copying them. Items are ``(x, y)`` like every split's, ``x``
    float32 exactly as :func:`~autoencoders.data.pixels.scale_uint8` makes it.

    The :class:`~autoencoders.training.Trainer` takes the uint8 rows directly: they are
    sliced by each batch's indices and only the batch is scaled (on the training device), so
    no float copy of the set is ever made. Other consumers (a DataLoader, the metrics) read
    items or :meth:`load_all`.

    Args:
        images: uint8 ``(M, C, H, W)``.
        labels: one integer label per item of this dataset (``len(rows)`` of them when
            ``rows`` is given, else ``M``), or None (``-1`` for every item).
        pixel_range: the range that 0..255 is mapped to.
        rows: the rows of ``images`` in this dataset, in order (None: all of them).
        flatten: items flattened to one dimension.

    Example:
        >>> images = torch.tensor([0, 51, 255], dtype=torch.uint8).reshape(3, 1, 1, 1)
        >>> ds = UInt8ImageDataset(images, pixel_range=(-1, 1), rows=[2, 0])
        >>> len(ds), ds[0][0].tolist(), int(ds[1][1]), ds.input_shape
        (2, [[[1.0]]], -1, (1, 1, 1))
        >>> ds.scale(ds.uint8()).flatten().tolist()
        [1.0, -1.0]
        >>> [(x.flatten().tolist(), y.tolist()) for x, y in ds.scaled_batches(1)]
        [([1.0], [-1]), ([-1.0], [-1])]
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: Sequence[int] | torch.Tensor | None = None,
        *,
        pixel_range: Sequence[float] = (0.0, 1.0),
        rows: Sequence[int] | torch.Tensor | None = None,
        flatten: bool = False,
    ) -> None:
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
            got = (
                f"{images.dtype} of shape {tuple(images.shape)}"
                if isinstance(images, torch.Tensor)
                else type(images).__name__
            )
            raise InvalidTypeError(f"images must be a uint8 tensor (N, C, H, W), got {got}")
        self.images = images
        self.rows = None if rows is None else torch.as_tensor(rows, dtype=torch.long)
        n = len(images) if self.rows is None else len(self.rows)
        if self.rows is not None and n and (self.rows.min() < 0 or self.rows.max() >= len(images)):
            raise InvalidValueError(
                f"rows must be in [0, {len(images)}), got {self.rows.tolist()[:8]}"
            )
        if labels is None:
            self.labels = torch.full((n,), -1, dtype=torch.long)
        else:
            self.labels = torch.as_tensor(labels, dtype=torch.long)
        if self.labels.shape != (n,):
            raise InvalidValueError(f"{n} images but labels of shape {tuple(self.labels.shape)}")
        self.pixel_range = parse_pixel_range(pixel_range)
        if not isinstance(flatten, bool):
            raise InvalidTypeError(f"flatten must be True or False, got {flatten!r}")
        self.flatten = flatten

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one ``x``: ``(C, H, W)``, or ``(C*H*W,)`` when flattened."""
        c, h, w = self.images.shape[1:]
        return (c * h * w,) if self.flatten else (c, h, w)

    def __len__(self) -> int:
        return len(self.labels)

    def _row(self, index: int) -> int:
        return int(self.rows[index]) if self.rows is not None else index

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} images")
        index %= len(self)
        x = self.scale(self.images[self._row(index)].unsqueeze(0))[0]
        return x, self.labels[index]

    def scale(self, batch: torch.Tensor) -> torch.Tensor:
        """A uint8 batch ``(B, C, H, W)`` as float32 in ``pixel_range`` (flattened if set)."""
        x = scale_uint8(batch, self.pixel_range)
        return x.reshape(len(x), -1) if self.flatten else x

    def uint8(self) -> torch.Tensor:
        """This dataset's images as uint8 ``(N, C, H, W)`` (a view when ``rows`` is None)."""
        return self.images if self.rows is None else self.images.index_select(0, self.rows)

    def load_all(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every item as float32 ``(N, *input_shape)`` and the labels ``(N,)``."""
        return self.scale(self.uint8()), self.labels.clone()

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)`` as a ``TensorDataset``'s ``tensors``: float32 images and the labels.

        Made on each access (:meth:`load_all`): a float32 copy of the whole dataset, four
        times its uint8 size. For large sets prefer :meth:`uint8` or :meth:`scaled_batches`.
        """
        return self.load_all()

    def scaled_batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``(x, y)`` batches in order, each scaled from uint8 only when it is yielded.

        What the metrics and plots iterate (no DataLoader, no per-item calls): only one float
        batch exists at a time.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        for lo in range(0, len(self), batch_size):
            hi = min(lo + batch_size, len(self))
            if self.rows is None:
                batch = self.images[lo:hi]
            else:
                batch = self.images.index_select(0, self.rows[lo:hi])
            yield self.scale(batch), self.labels[lo:hi]
