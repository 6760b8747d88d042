"""Pixel ranges: parsing them, scaling 0..255 images into one, and reading a model's."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from autoencoders._utils import unwrap_model
from autoencoders.data._checks import PixelRangeLike
from autoencoders.errors import InvalidTypeError, InvalidValueError

__all__ = ["parse_pixel_range", "pixel_range_for", "resolve_pixel_range", "scale_uint8"]


def parse_pixel_range(value: PixelRangeLike) -> tuple[float, float]:
    """A pixel range as ``(low, high)`` floats.

    Args:
        value: ``"[0,1]"``, ``"[-1,1]"`` (spaces and round brackets are fine) or a pair of
            numbers with ``low < high``.

    Example:
        >>> parse_pixel_range("[-1, 1]"), parse_pixel_range((0, 255))
        ((-1.0, 1.0), (0.0, 255.0))
        >>> parse_pixel_range("0..1")
        Traceback (most recent call last):
          ...
        autoencoders.errors.InvalidValueError: pixel_range must be 'auto', '[0,1]', '[-1,1]' or a pair (low, high) with low < high, got '0..1'
    """
    pair: Any = value
    if isinstance(value, str):
        text = value.strip().strip("[]()").replace(" ", "")
        try:
            pair = tuple(float(p) for p in text.split(","))
        except ValueError:
            pair = None
    ok = (
        isinstance(pair, Sequence)
        and len(pair) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair)
        and math.isfinite(float(pair[0]))
        and math.isfinite(float(pair[1]))
        and float(pair[0]) < float(pair[1])
    )
    if not ok:
        raise InvalidValueError(
            "pixel_range must be 'auto', '[0,1]', '[-1,1]' or a pair (low, high) with "
            f"low < high, got {value!r}"
        )
    return float(pair[0]), float(pair[1])


def resolve_pixel_range(value: PixelRangeLike, default: tuple[float, float]) -> tuple[float, float]:
    """``default`` for ``"auto"``, else :func:`parse_pixel_range` of ``value``.

    Example:
        >>> resolve_pixel_range("auto", (-1.0, 1.0)), resolve_pixel_range("[0,1]", (-1.0, 1.0))
        ((-1.0, 1.0), (0.0, 1.0))
    """
    if isinstance(value, str) and value.strip().lower() == "auto":
        return default
    return parse_pixel_range(value)


def scale_uint8(x: torch.Tensor, pixel_range: tuple[float, float]) -> torch.Tensor:
    """uint8 values 0..255 as float32 in ``pixel_range`` (0 to ``low``, 255 to ``high``).

    Example:
        >>> scale_uint8(torch.tensor([0, 255], dtype=torch.uint8), (-1.0, 1.0)).tolist()
        [-1.0, 1.0]
    """
    lo, hi = pixel_range
    out = x.to(torch.float32).div_(255.0)
    if (lo, hi) != (0.0, 1.0):
        out.mul_(hi - lo).add_(lo)
    return out


def pixel_range_for(model: Any) -> tuple[float, float]:
    """The pixel range a model takes and reconstructs: its ``pixel_range``.

    The model owns the rule (see :attr:`autoencoders.Autoencoder.pixel_range`: ``(-1, 1)``
    for a tanh output activation, else ``(0, 1)``); compiled, DDP- and DataParallel-wrapped
    models are unwrapped first. Kept for compatibility: ``model.pixel_range`` says the same.

    Raises:
        TypeError: the model has no ``pixel_range``.

    Example:
        >>> import autoencoders
        >>> pixel_range_for(autoencoders.build("vae", h=8, z=2))
        (0.0, 1.0)
        >>> pixel_range_for(autoencoders.build("vae", h=8, z=2, output_activation="tanh"))
        (-1.0, 1.0)
    """
    inner = unwrap_model(model)
    prange = getattr(inner, "pixel_range", None)
    if prange is None:
        raise InvalidTypeError(
            "pixel_range_for needs an autoencoder with a pixel_range (set by its "
            f"output_activation), got {type(inner).__name__}"
        )
    lo, hi = prange
    return float(lo), float(hi)
