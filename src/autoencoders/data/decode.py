"""Decoding one image file to uint8 pixels: the decoder every image dataset shares."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["decode_pixels"]

#: The Pillow format tried first for a suffix (a file that is not what its suffix says is
#: then probed like any other).
_SUFFIX_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG"}


def _pil_resize(img, size: int | tuple[int, int] | None):
    if size is None or img.size == ((size, size) if isinstance(size, int) else size[::-1]):
        return img  # what Resize + CenterCrop give at that size, without their copies
    import torchvision.transforms.functional as TF

    if isinstance(size, int):
        return TF.center_crop(TF.resize(img, size), [size, size])
    return TF.resize(img, list(size))


def _formats(path: str | os.PathLike[str]) -> list[str] | None:
    """The Pillow format to try first for a file's suffix (JPEG, PNG), or None: probe all."""
    fmt = _SUFFIX_FORMATS.get(os.path.splitext(path)[1].lower())
    return None if fmt is None else [fmt]


def decode_pixels(
    path: str | os.PathLike[str], mode: str, size: int | tuple[int, int] | None
) -> np.ndarray:
    """An image file as uint8 ``(H, W, C)`` pixels, converted to ``mode`` and resized.

    The decoder behind :func:`~autoencoders.data.images.open_image`,
    :class:`~autoencoders.data.ImageFilesDataset` and the image cache
    (:mod:`autoencoders.data.cache`), so all three give the same pixels: Pillow decodes and
    converts (an image already in ``mode`` is not copied), and resizes as torchvision's
    ``Resize`` + ``CenterCrop`` do on PIL images.

    Args:
        path: the file.
        mode: Pillow's ``"L"`` (greyscale) or ``"RGB"``.
        size: ``None`` (keep), an int (shorter side, then a centre square) or ``(h, w)``.

    Raises:
        ValueError: naming the file when it cannot be read as an image.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as d:
        ...     Image.new("RGB", (12, 10), color=(0, 128, 255)).save(f"{d}/a.png")
        ...     a = decode_pixels(f"{d}/a.png", "RGB", None)
        ...     b = decode_pixels(f"{d}/a.png", "L", 4)
        >>> a.shape, a[0, 0].tolist(), b.shape
        ((10, 12, 3), [0, 128, 255], (4, 4, 1))
    """
    from PIL import UnidentifiedImageError

    try:
        try:
            out = _decode(path, mode, size, _formats(path))
        except UnidentifiedImageError:
            out = _decode(path, mode, size, None)  # not what its suffix says: probe every format
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{str(path)!r} could not be read as an image: {exc}") from None
    return out[..., None] if out.ndim == 2 else out


def _decode(path: str | os.PathLike[str], mode: str, size: Any, formats: Any) -> np.ndarray:
    from PIL import Image

    with Image.open(path, formats=formats) as im:
        img = im if im.mode == mode else im.convert(mode)
        return np.asarray(_pil_resize(img, size))
