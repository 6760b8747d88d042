"""Argument checks shared by the training modules (private: not part of the API)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, TypeVar

from autoencoders.errors import InvalidValueError
from autoencoders.registry import check_kwargs

__all__ = ["betas_pair", "choice", "number", "optional_int", "positive_int", "suggest_keywords"]

F = TypeVar("F", bound=Callable[..., Any])


def suggest_keywords(init: F) -> F:
    """Wrap a constructor so that a misspelt keyword is an
    :class:`~autoencoders.errors.UnknownArgumentError` naming it, the accepted ones and the
    closest (``epoch`` -> "did you mean 'epochs'?"), not Python's bare TypeError."""

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return init(self, *args, **kwargs)
        except TypeError as exc:
            if "unexpected keyword argument" in str(exc):
                check_kwargs(type(self).__name__, functools.partial(init, self), kwargs)
            raise

    return wrapper  # type: ignore[return-value]


def positive_int(value: Any, name: str) -> int:
    """``value`` if it is an integer >= 1 (not a bool), else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def optional_int(value: Any, name: str, minimum: int = 0) -> int | None:
    """None, or an integer >= ``minimum`` (not a bool)."""
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or value < minimum
    ):
        raise InvalidValueError(f"{name} must be None or an integer >= {minimum}, got {value!r}")
    return value


def number(value: Any, name: str, *, positive: bool = False) -> float:
    """``value`` as a float if it is a finite number >= 0 (> 0 with ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidValueError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise InvalidValueError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


def choice(value: Any, name: str, options: tuple[str, ...]) -> str:
    """``value`` if it is one of ``options``, else a ValueError listing them."""
    if value not in options:
        raise InvalidValueError(
            f"{name} must be one of {', '.join(map(repr, options))}, got {value!r}"
        )
    return value


def betas_pair(betas: Any) -> tuple[float, float]:
    """Two numbers in [0, 1) as a tuple of floats (Adam's betas)."""
    if not (
        isinstance(betas, (tuple, list))
        and len(betas) == 2
        and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)
    ):
        raise InvalidValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
    return float(betas[0]), float(betas[1])
