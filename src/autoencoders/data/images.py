"""Image files: decoding, resizing, channels, and splits of them in memory or read lazily.

Images are read with Pillow, converted to greyscale (``"L"``) or RGB, and resized like
torchvision's ``Resize(size)`` + ``CenterCrop(size)`` for an int ``size`` or
``Resize((h, w))`` for a pair. Collections are decoded once into the image cache
(:mod:`autoencoders.data.cache`) and held as uint8 (:class:`UInt8ImageDataset`); without the
cache, those small enough (:data:`IN_MEMORY_LIMIT_BYTES` as uint8) are decoded into memory and
larger ones are :class:`ImageFilesDataset`\\ s read item by item.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from autoencoders.data._checks import ImageSize, check_image_size
from autoencoders.data.cache import FileSnapshot, cached_images
from autoencoders.data.decode import decode_pixels
from autoencoders.data.pixels import parse_pixel_range, scale_uint8
from autoencoders.data.splits import DataSplits
from autoencoders.data.uint8 import UInt8ImageDataset
from autoencoders.errors import ImageCacheUnavailableError, InvalidTypeError, InvalidValueError

__all__ = [
    "GRAY_MODES",
    "IMAGE_EXTENSIONS",
    "IN_MEMORY_LIMIT_BYTES",
    "ImageFilesDataset",
    "image_header",
    "image_splits",
    "open_image",
    "path_order",
    "resize_batch",
    "stack_images",
]

logger = logging.getLogger(__name__)

#: Without the image cache, image datasets larger than this (as uint8) are read from disk
#: item by item.
IN_MEMORY_LIMIT_BYTES = 1 << 30
#: File extensions read as images (lower case).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")
#: Pillow modes that are greyscale.
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def path_order(path: Path | str) -> Any:
    """A sort key giving pathlib's own order of paths (``sorted(paths)``), several times faster.

    It takes ``Path`` objects or normalised path strings (no ``//``, ``.`` or trailing
    separator, as ``os.path.join`` and ``os.scandir`` make them), one kind per sort. A
    string's separators become ``"\\0"``, which no name holds and which sorts before every
    other character, so the strings compare as the paths' parts do; plain string order does
    not (``"x-y/1"`` sorts before ``"x/2"``, its path after).

    Example:
        >>> paths = [Path("b/a.png"), Path("a-b.png"), Path("a/b.png")]
        >>> sorted(paths, key=path_order) == sorted(paths)
        True
        >>> sorted(map(str, paths), key=path_order) == list(map(str, sorted(paths)))
        True
        >>> sorted(["x/2", "x-y/1"]), sorted(["x/2", "x-y/1"], key=path_order)
        (['x-y/1', 'x/2'], ['x/2', 'x-y/1'])
    """
    if os.name != "posix":
        return Path(path)
    return path.replace("/", "\0") if isinstance(path, str) else path.parts


def resize_batch(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize a float batch ``(N, C, H, W)`` like ``Resize(size)`` (+ ``CenterCrop`` for an int).

    Example:
        >>> resize_batch(torch.rand(2, 1, 28, 20), 14).shape
        torch.Size([2, 1, 14, 14])
        >>> resize_batch(torch.rand(2, 1, 28, 20), (7, 9)).shape
        torch.Size([2, 1, 7, 9])
        >>> x = torch.rand(2, 1, 28, 28)
        >>> resize_batch(x, 28) is x  # already that size
        True
    """
    if tuple(x.shape[-2:]) == ((size, size) if isinstance(size, int) else tuple(size)):
        return x
    import torchvision.transforms.functional as TF

    if isinstance(size, int):
        x = TF.resize(x, size, antialias=True)
        return TF.center_crop(x, [size, size])
    return TF.resize(x, list(size), antialias=True)


def open_image(
    path: str | os.PathLike[str], mode: str, size: int | tuple[int, int] | None
) -> torch.Tensor:
    """An image file as a uint8 tensor ``(C, H, W)``, converted to ``mode`` and resized.

    Args:
        path: the file.
        mode: Pillow's ``"L"`` (greyscale) or ``"RGB"``.
        size: ``None`` (keep), an int (shorter side, then a centre square) or ``(h, w)``.

    Raises:
        ValueError: naming the file when it cannot be read.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as d:
        ...     Image.new("RGB", (12, 10), color=(255, 0, 0)).save(f"{d}/a.png")
        ...     x = open_image(f"{d}/a.png", "RGB", 8)
        >>> x.shape, x.dtype, x[:, 0, 0].tolist()
        (torch.Size([3, 8, 8]), torch.uint8, [255, 0, 0])
    """
    pixels = decode_pixels(path, mode, size)
    return torch.from_numpy(pixels.transpose(2, 0, 1).copy())


def image_header(path: str | os.PathLike[str]) -> tuple[tuple[int, int], str]:
    """``((width, height), mode)`` of an image file, without decoding its pixels.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as d:
        ...     Image.new("L", (12, 10)).save(f"{d}/a.png")
        ...     image_header(f"{d}/a.png")
        ((12, 10), 'L')
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size, im.mode
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidValueError(f"{str(path)!r} could not be read as an image: {exc}") from None


def stack_images(
    files: Sequence[str | os.PathLike[str]], mode: str, size: int | tuple[int, int] | None
) -> torch.Tensor:
    """uint8 ``(N, C, H, W)`` of ``files`` (see :func:`open_image`).

    Raises:
        ValueError: naming the first image whose size differs from the first one's.

    Example:
        >>> stack_images([], "L", 8).shape
        torch.Size([0, 1, 8, 8])
    """
    if not files:
        c = 1 if mode == "L" else 3
        hw = (size, size) if isinstance(size, int) else tuple(size or (0, 0))
        return torch.empty(0, c, *hw, dtype=torch.uint8)
    first = open_image(files[0], mode, size)
    out = torch.empty(len(files), *first.shape, dtype=torch.uint8)
    out[0] = first
    for i, f in enumerate(files[1:], start=1):
        img = open_image(f, mode, size)
        if img.shape != first.shape:
            raise InvalidValueError(
                f"images differ in size: {str(f)!r} is {img.shape[2]}x{img.shape[1]} but "
                f"{str(files[0])!r} is {first.shape[2]}x{first.shape[1]}; pass image_size=... "
                "to resize them all"
            )
        out[i] = img
    return out


class ImageFilesDataset(Dataset):
    """Images read from disk item by item: ``(x, y)`` with ``x`` float32 in ``pixel_range``.

    Used for image collections too large to hold in memory (see
    :data:`IN_MEMORY_LIMIT_BYTES`); :meth:`load_all` reads everything into tensors.

    Args:
        files: image paths.
        labels: one int per file (``-1`` for unlabelled).
        channels: 1 (greyscale) or 3 (RGB).
        image_size: ``None`` (keep the size; all images must then share it), an int (resize the
            shorter side, then centre-crop a square) or ``(height, width)``.
        pixel_range: ``(low, high)`` that pixel values 0..255 are mapped to.
        flatten: return ``x`` flattened to one dimension.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as d:
        ...     Image.new("L", (6, 4), color=255).save(f"{d}/a.png")
        ...     ds = ImageFilesDataset([f"{d}/a.png"], [-1], channels=1, pixel_range=(-1, 1))
        ...     x, y = ds[0]
        >>> len(ds), x.shape, float(x.max()), int(y)
        (1, torch.Size([1, 4, 6]), 1.0, -1)
    """

    def __init__(
        self,
        files: Sequence[str | os.PathLike[str]],
        labels: Sequence[int] | torch.Tensor,
        *,
        channels: int = 3,
        image_size: ImageSize = None,
        pixel_range: tuple[float, float] = (0.0, 1.0),
        flatten: bool = False,
    ) -> None:
        if channels not in (1, 3):
            raise InvalidValueError(f"channels must be 1 (greyscale) or 3 (RGB), got {channels!r}")
        self.files = [Path(f) for f in files]
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        if len(self.labels) != len(self.files):
            raise InvalidValueError(f"{len(self.files)} files but {len(self.labels)} labels")
        self.channels = channels
        self.image_size = check_image_size(image_size)
        self.pixel_range = parse_pixel_range(pixel_range)
        if not isinstance(flatten, bool):
            raise InvalidTypeError(f"flatten must be True or False, got {flatten!r}")
        self.flatten = flatten

    @property
    def mode(self) -> str:
        """Pillow's mode the images are converted to: ``"L"`` or ``"RGB"``."""
        return "L" if self.channels == 1 else "RGB"

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = scale_uint8(open_image(self.files[index], self.mode, self.image_size), self.pixel_range)
        return (x.reshape(-1) if self.flatten else x), self.labels[index]

    def load_all(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every image and label as two tensors ``(N, *shape)`` and ``(N,)``."""
        x = scale_uint8(stack_images(self.files, self.mode, self.image_size), self.pixel_range)
        return (x.reshape(len(x), -1) if self.flatten else x), self.labels.clone()


def _output_hw(size: int | tuple[int, int] | None, native: tuple[int, int]) -> tuple[int, int]:
    if size is None:
        return native[1], native[0]  # PIL gives (width, height)
    if isinstance(size, int):
        return size, size
    return size[0], size[1]


def _uint8_images(
    everything: list[Path],
    *,
    mode: str,
    image_size: int | tuple[int, int] | None,
    cache: bool,
    cache_scope: str | None,
    per_item_if_no_room: bool,
    empty_chw: tuple[int, int, int],
    snapshot: FileSnapshot | None = None,
) -> tuple[torch.Tensor | None, str]:
    """uint8 ``(N, C, H, W)`` of ``everything`` (cached, or decoded into memory) and how they
    are held; None when ``per_item_if_no_room`` and the cache cannot hold them (a new cache
    only: an existing one is mapped whatever the room)."""
    if not everything:
        return torch.empty(0, *empty_chw, dtype=torch.uint8), "no images"
    if not cache:
        return stack_images(everything, mode, image_size), "uint8 in memory"
    fallback = "raise" if per_item_if_no_room else "memory"
    try:
        found = cached_images(
            snapshot or everything, mode=mode, size=image_size, scope=cache_scope,
            fallback=fallback,
        )  # fmt: skip
    except ImageCacheUnavailableError as exc:
        logger.warning("%s; too large for memory too, so they are read from disk per item", exc)
        return None, "read from disk per item"
    if found.path is None:
        return found.images, "uint8 in memory (the image cache could not hold them)"
    return found.images, "cached, memory-mapped uint8"


def _uint8_sets(
    images: torch.Tensor,
    everything: list[Path],
    files: dict[str, list[Path]],
    labels: dict[str, list[int]],
    *,
    pixel_range: tuple[float, float],
    flatten: bool,
) -> dict[str, Dataset]:
    """Every split as a :class:`UInt8ImageDataset` over one uint8 tensor of all the files."""
    row = {f: i for i, f in enumerate(everything)}
    rows: dict[str, list[int]] = {}
    for key in DataSplits.SPLITS:
        try:
            rows[key] = [row[f] for f in files[key]]
        except KeyError as missing:
            raise InvalidValueError(
                f"the {key!r} split's file {missing.args[0]!r} is not in the listing the "
                "images were read from; give image_splits a listing of every file of the "
                "splits (paths of the same type and spelling)"
            ) from None
    return {
        key: UInt8ImageDataset(
            images, labels[key], pixel_range=pixel_range, rows=rows[key], flatten=flatten
        )
        for key in DataSplits.SPLITS
    }


def image_splits(
    files: dict[str, list[Path]],
    labels: dict[str, list[int]],
    *,
    name: str,
    channels: int,
    image_size: int | tuple[int, int] | None,
    native_size: tuple[int, int],
    pixel_range: tuple[float, float],
    num_classes: int | None,
    class_names: tuple[str, ...] | None,
    source: str,
    flatten: bool = False,
    in_memory: bool | None = None,
    cache: bool = True,
    cache_scope: str | None = None,
    listing: FileSnapshot | None = None,
) -> DataSplits:
    """:class:`DataSplits` of image files, held as uint8 or read lazily.

    Args:
        files: the files of each split (keys ``"train"``, ``"val"``, ``"test"``).
        labels: one label per file (``-1`` for unlabelled).
        name: recorded in :attr:`DataSplits.name`.
        channels: 1 (greyscale) or 3 (RGB).
        image_size: see :func:`open_image`.
        native_size: ``(width, height)`` of the images when ``image_size`` is ``None``.
        pixel_range: the range 0..255 is mapped to.
        num_classes: number of classes, or ``None`` for unlabelled data.
        class_names: names of the labels.
        source: the folder the files are in.
        flatten: flatten each image.
        in_memory: uint8 images (``True``, a :class:`UInt8ImageDataset` per split), files
            read per item (``False``, :class:`ImageFilesDataset`), or ``None``: uint8 images
            when they are in the image cache or fit it (its size budget and free disk,
            :func:`~autoencoders.data.cache.cache_fits`) or fit memory
            (:data:`IN_MEMORY_LIMIT_BYTES`), else files read per item.
        cache: keep the decoded images in the image cache
            (:func:`~autoencoders.data.cache.cached_images`): decoded once, in parallel, and
            memory-mapped on later runs.
        cache_scope: what the files are (the folder and the listing options): a rebuild
            replaces the older cache of the same scope (see ``scope`` of
            :func:`~autoencoders.data.cache.cached_images`).
        listing: every file of the splits once, in path order (:func:`path_order`), as a
            :class:`~autoencoders.data.cache.FileSnapshot` the caller took (the image cache
            is then keyed by it, not by another look at the files); None: found here.

    Example:
        >>> none: dict = {"train": [], "val": [], "test": []}
        >>> s = image_splits(none, none, name="empty", channels=1, image_size=8,
        ...                  native_size=(0, 0), pixel_range=(0.0, 1.0), num_classes=None,
        ...                  class_names=None, source="/nowhere")
        >>> s.sizes(), s.input_shape
        ({'train': 0, 'val': 0, 'test': 0}, (1, 8, 8))
    """
    h, w = _output_hw(image_size, native_size)
    total = sum(len(v) for v in files.values())
    fits_memory = total * channels * h * w <= IN_MEMORY_LIMIT_BYTES
    mode = "L" if channels == 1 else "RGB"
    images, how = None, "read from disk per item"
    if listing is None:
        everything = sorted({f for v in files.values() for f in v}, key=path_order)
    else:
        everything = list(listing.files)
    if in_memory or (in_memory is None and (cache or fits_memory)):
        images, how = _uint8_images(
            everything, mode=mode, image_size=image_size, cache=cache, cache_scope=cache_scope,
            per_item_if_no_room=in_memory is None and not fits_memory, empty_chw=(channels, h, w),
            snapshot=listing,
        )  # fmt: skip
    sets: dict[str, Dataset]
    if images is not None:
        sets = _uint8_sets(
            images, everything, files, labels, pixel_range=pixel_range, flatten=flatten
        )
    else:
        sets = {
            key: ImageFilesDataset(
                files[key],
                labels[key],
                channels=channels,
                image_size=image_size,
                pixel_range=pixel_range,
                flatten=flatten,
            )
            for key in DataSplits.SPLITS
        }
    shape: tuple[int, ...] = (channels * h * w,) if flatten else (channels, h, w)
    logger.info("%s: %s images of shape %s (%s)", name, total, shape, how)
    return DataSplits(
        train=sets["train"],
        val=sets["val"],
        test=sets["test"],
        name=name,
        input_shape=shape,
        num_classes=num_classes,
        pixel_range=pixel_range,
        class_names=class_names,
        source=source,
    )
