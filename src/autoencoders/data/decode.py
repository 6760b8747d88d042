"""Decoding one image file to uint8 pixels: the decoder every image dataset shares."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

import numpy as np
import torch

from autoencoders.errors import InvalidValueError

__all__ = ["decode_many", "decode_pixels", "decoder_versions"]

#: The Pillow format tried first for a suffix (a file that is not what its suffix says is
#: then probed like any other).
_SUFFIX_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG"}
#: torchvision's file decoder once looked up (False: this torchvision has none).
_DECODER: Any = None


def _pil_resize(img, size: int | tuple[int, int] | None):
    if size is None or img.size == ((size, size) if isinstance(size, int) else size[::-1]):
        return img  # what Resize + CenterCrop give at that size, without their copies
    import torchvision.transforms.functional as TF

    if isinstance(size, int):
        return TF.center_crop(TF.resize(img, size), [size, size])
    return TF.resize(img, list(size))


def _torchvision_decoder() -> Callable[[list[torch.Tensor]], list[torch.Tensor]] | None:
    """torchvision's batched JPEG decoder (libjpeg-turbo), or None where it is gone."""
    global _DECODER
    if _DECODER is None:
        try:
            from torchvision.io import decode_jpeg
        except ImportError:  # removed from torchvision (see decode_pixels)
            _DECODER = False
        else:

            def _decoder(data: list[torch.Tensor]) -> list[torch.Tensor]:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    return decode_jpeg(data)

            _DECODER = _decoder
    return _DECODER or None


def decoder_versions() -> dict[str, str]:
    """The versions that decide the decoded pixels: Pillow's and torchvision's (the image
    cache's key includes both; whether torchvision has its JPEG decoder follows from its
    version). Read from the installed packages' metadata: torchvision is not imported.

    Example:
        >>> sorted(decoder_versions())
        ['pillow', 'torchvision']
    """
    import PIL

    try:
        torchvision = metadata.version("torchvision")
    except metadata.PackageNotFoundError:  # a build without package metadata
        torchvision = "unknown"
    return {"pillow": PIL.__version__, "torchvision": torchvision}


def _is_jpeg(path: str | os.PathLike[str]) -> bool:
    return _SUFFIX_FORMATS.get(os.path.splitext(path)[1].lower()) == "JPEG"


def _fast_many(paths: Sequence[Any], mode: str) -> list[np.ndarray | None]:
    """``(H, W, C)`` pixels of each JPEG already in ``mode`` (None where Pillow must decode)."""
    out: list[np.ndarray | None] = [None] * len(paths)
    decoder = _torchvision_decoder()
    jpegs = [i for i, f in enumerate(paths) if _is_jpeg(f)] if decoder is not None else []
    if not jpegs:
        return out
    data, readable = [], []
    for i in jpegs:
        try:
            with open(paths[i], "rb") as fh:
                raw = bytearray(fh.read())
        except OSError:
            continue  # Pillow tries it again and names the file in its error
        if raw:
            data.append(torch.frombuffer(raw, dtype=torch.uint8))
            readable.append(i)
    if not data:
        return out
    jpegs = readable
    try:
        images: list[torch.Tensor | None] = list(decoder(data))
    except RuntimeError:  # one unusual file (CMYK, not a JPEG, ...) fails the batch: one by one
        images = []
        for d in data:
            try:
                images.append(decoder([d])[0])
            except RuntimeError:
                images.append(None)
    channels = 1 if mode == "L" else 3
    for i, t in zip(jpegs, images, strict=True):
        if t is not None and t.dtype == torch.uint8 and t.ndim == 3 and t.shape[0] == channels:
            out[i] = t.permute(1, 2, 0).numpy()
    return out


def _formats(path: str | os.PathLike[str]) -> list[str] | None:
    """The Pillow format to try first for a file's suffix (JPEG, PNG), or None: probe all."""
    fmt = _SUFFIX_FORMATS.get(os.path.splitext(path)[1].lower())
    return None if fmt is None else [fmt]


def _hw(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (size[0], size[1])


def decode_pixels(
    path: str | os.PathLike[str],
    mode: str,
    size: int | tuple[int, int] | None,
    *,
    fast_path: bool = True,
) -> np.ndarray:
    """An image file as uint8 ``(H, W, C)`` pixels, converted to ``mode`` and resized.

    The decoder behind :func:`~autoencoders.data.images.open_image`,
    :class:`~autoencoders.data.ImageFilesDataset` and the image cache
    (:mod:`autoencoders.data.cache`), so all three give the same pixels: Pillow decodes and
    converts (an image already in ``mode`` is not copied), and resizes as torchvision's
    ``Resize`` + ``CenterCrop`` do on PIL images.

    JPEG files that already have the channels of ``mode`` (RGB, or greyscale for ``"L"``) are
    decoded by torchvision's libjpeg-turbo decoder instead when this torchvision still has one
    (0.29 deprecates it in favour of TorchCodec; without it Pillow decodes everything): the
    same pixels as Pillow's, which uses libjpeg-turbo too (the tests compare them), without
    Pillow's Python-level header parsing, which is most of the cost of a small image. (PNG
    stays with Pillow: palette images convert differently.) ``fast_path=False`` always uses
    Pillow.

    Args:
        path: the file.
        mode: Pillow's ``"L"`` (greyscale) or ``"RGB"``.
        size: ``None`` (keep), an int (shorter side, then a centre square) or ``(h, w)``.
        fast_path: allow torchvision's decoder for JPEG files.

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
    fast = _fast_many([path], mode)[0] if fast_path else None
    return _finish(path, mode, size, fast)


def decode_many(
    paths: Sequence[str | os.PathLike[str]],
    mode: str,
    size: int | tuple[int, int] | None,
    *,
    fast_path: bool = True,
) -> list[np.ndarray]:
    """:func:`decode_pixels` of every file, the JPEGs decoded as one batch (faster).

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as d:
        ...     for i in range(3):
        ...         Image.new("RGB", (6, 4), color=(60 * i, 0, 0)).save(f"{d}/{i}.png")
        ...     got = decode_many([f"{d}/{i}.png" for i in range(3)], "RGB", None)
        >>> [int(a[0, 0, 0]) for a in got]
        [0, 60, 120]
    """
    fast = _fast_many(paths, mode) if fast_path else [None] * len(paths)
    return [_finish(p, mode, size, f) for p, f in zip(paths, fast, strict=True)]


def _finish(path: Any, mode: str, size: Any, fast: np.ndarray | None) -> np.ndarray:
    """Resize the pixels torchvision decoded, or decode ``path`` with Pillow."""
    from PIL import Image, UnidentifiedImageError

    if fast is not None:
        if size is None or fast.shape[:2] == _hw(size):
            return fast
        img = Image.fromarray(fast[..., 0] if mode == "L" else fast, mode)
        out = np.asarray(_pil_resize(img, size))
        return out[..., None] if out.ndim == 2 else out
    try:
        try:
            out = _decode(path, mode, size, _formats(path))
        except UnidentifiedImageError:
            out = _decode(path, mode, size, None)  # not what its suffix says: probe every format
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidValueError(f"{str(path)!r} could not be read as an image: {exc}") from None
    return out[..., None] if out.ndim == 2 else out


def _decode(path: str | os.PathLike[str], mode: str, size: Any, formats: Any) -> np.ndarray:
    from PIL import Image

    with Image.open(path, formats=formats) as im:
        img = im if im.mode == mode else im.convert(mode)
        return np.asarray(_pil_resize(img, size))
