"""Plumbing shared by the metric modules (private to :mod:`autoencoders.metrics`)."""

from __future__ import annotations

import math
from typing import Any

import torch

from autoencoders._utils import unwrap_model
from autoencoders.errors import InvalidTypeError, InvalidValueError

__all__ = ["LOG_2PI", "as_model_input", "check_positive", "data_range_of", "require_variational"]

#: ``log(2 pi)``, the normalising constant of a standard normal density.
LOG_2PI = math.log(2.0 * math.pi)


def check_positive(value: Any, what: str) -> int:
    """``value`` if it is a positive int; else a ValueError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(f"{what} must be a positive integer, got {value!r}")
    return value


def as_model_input(x: torch.Tensor, model: Any, device: torch.device) -> torch.Tensor:
    """``x`` in the model's input shape (reshaped from flat pixels), float32 on ``device``."""
    shape = tuple(getattr(model, "input_shape", ()) or ())
    if shape and tuple(x.shape[1:]) != shape:
        if x[0].numel() != math.prod(shape):
            raise InvalidValueError(
                f"data items have shape {tuple(x.shape[1:])} but the model expects {shape}"
            )
        x = x.reshape(len(x), *shape)
    return x.to(device=device, dtype=torch.float32, non_blocking=True)


def data_range_of(model: Any) -> float:
    """``high - low`` of the model's pixel range (2 for a tanh output, else 1)."""
    low, high = unwrap_model(model).pixel_range
    return float(high - low)


def require_variational(model: Any, what: str) -> None:
    """A TypeError unless ``model`` has a Gaussian bottleneck."""
    if not getattr(model, "is_variational", False):
        raise InvalidTypeError(
            f"{what} needs a model with a Gaussian bottleneck (a VAE); "
            f"{getattr(model, 'name', None) or type(model).__name__!r} is deterministic. "
            "Use mse_per_pixel / psnr for autoencoders."
        )
