"""Argument checks shared by the dataset loaders (private to :mod:`autoencoders.data`).

Each check returns the value in its canonical form or raises a :class:`ValueError` (or a
:class:`TypeError`) naming the argument, the bad value and what is accepted.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from autoencoders.errors import InvalidTypeError, InvalidValueError

__all__ = [
    "ImageSize",
    "PixelRangeLike",
    "check_channels",
    "check_fraction",
    "check_image_size",
    "check_limit",
    "check_root",
    "check_seed",
    "split_count",
]

#: A pixel range: ``"auto"``, ``"[0,1]"``, ``"[-1,1]"`` or a pair ``(low, high)``.
PixelRangeLike = str | Sequence[float]
#: An image size: ``None`` (keep), an int (shorter side, then a centre square) or ``(h, w)``.
ImageSize = int | Sequence[int] | None


def check_fraction(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise InvalidValueError(f"{what} must be a number in [0, 1), got {value!r}")
    return float(value)


def check_limit(limit: Any) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidValueError(f"limit must be a positive integer or None, got {limit!r}")
    return limit


def check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidValueError(f"split_seed must be an integer, got {seed!r}")
    return seed


def check_root(root: Any) -> str | os.PathLike[str] | None:
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise InvalidTypeError(f"root must be a folder (str or os.PathLike) or None, got {root!r}")
    return root


def check_image_size(size: Any) -> int | tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        return size
    if (
        isinstance(size, Sequence)
        and not isinstance(size, str)
        and len(size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
    ):
        return (int(size[0]), int(size[1]))
    raise InvalidValueError(
        f"image_size must be None, a positive int (resize the shorter side, then centre-crop a "
        f"square) or a pair (height, width), got {size!r}"
    )


def check_channels(channels: Any, allow_none: bool = True) -> int | None:
    if channels is None and allow_none:
        return None
    if isinstance(channels, bool) or channels not in (1, 3):
        accepted = "None (the images' own), 1 or 3" if allow_none else "1 or 3"
        raise InvalidValueError(
            f"channels must be {accepted} (1: greyscale, 3: RGB), got {channels!r}"
        )
    return int(channels)


def split_count(n: int, fraction: float, size: int | None, what: str) -> int:
    """Number of items of a carved split: ``size`` if given, else ``round(n * fraction)``."""
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < n:
            raise InvalidValueError(f"{what} must be an integer in [0, {n}), got {size!r}")
        return size
    return round(n * fraction)
