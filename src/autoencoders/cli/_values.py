"""The values of the command line's options: ``--set`` / ``--grid`` / ``--zip`` items, numbers
and pairs (argparse types), and :class:`CLIError` for a bad one."""

from __future__ import annotations

import argparse
import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from autoencoders.errors import CLIError, InvalidValueError

__all__ = [
    "CLIError",
    "nonnegative_number",
    "number_pair",
    "parse_grid",
    "parse_set",
    "parse_value",
    "positive",
    "positive_int",
    "positive_number",
    "split_top_level",
]


def parse_value(text: str) -> Any:
    """A ``--set``/``--grid`` value: JSON when it parses (numbers, lists, true/null), else the text.

    Example:
        >>> [parse_value(v) for v in ("20", "[400,100]", "gaussian", "null")]
        [20, [400, 100], 'gaussian', None]
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split at ``sep`` outside brackets/braces/quotes.

    Example:
        >>> split_top_level('[1,2],[3],{"a":1,"b":2}')
        ['[1,2]', '[3]', '{"a":1,"b":2}']
    """
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def _key_value(item: str, option: str) -> tuple[str, str]:
    key, eq, value = item.partition("=")
    key = key.strip()
    if not eq or not key or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise CLIError(
            f"{option} expects key=value with a parameter name as key, got {item!r} "
            f"(e.g. {option} z=20)"
        )
    return key, value.strip()


def parse_set(items: Sequence[str] | None, option: str = "--set") -> dict[str, Any]:
    """``["key=value", ...]`` to a dict; values through :func:`parse_value`.

    Args:
        items: the ``key=value`` strings.
        option: the option they came from, for the error messages (``--optimizer-arg``, ...).

    Raises:
        CLIError: an item without ``=``, an empty or invalid key, or a key given twice.

    Example:
        >>> parse_set(["recon=mse", "beta=4"], "--loss-arg")
        {'recon': 'mse', 'beta': 4}
    """
    out: dict[str, Any] = {}
    for item in items or ():
        key, value = _key_value(item, option)
        if key in out:
            raise CLIError(f"{option} {key} given twice ({out[key]!r} and {value!r})")
        out[key] = parse_value(value)
    return out


def parse_grid(items: Sequence[str] | None, option: str = "--grid") -> dict[str, list[Any]]:
    """``["h=400,300", "z=5,10"]`` to ``{"h": [400, 300], "z": [5, 10]}``.

    Commas inside brackets, braces or quotes do not split, so lists and dicts work:
    ``hidden=[400],[400,100]``, ``noise={"name":"masking","p":0.3},{"name":"gaussian"}``.

    Args:
        items: the ``key=v1,v2,...`` strings.
        option: the option they came from (``--grid`` or ``--zip``), for the error messages.

    Example:
        >>> parse_grid(["h=400,300", "hidden=[400],[400,100]"])
        {'h': [400, 300], 'hidden': [[400], [400, 100]]}

    Raises:
        CLIError: a missing ``=``, an empty value, unbalanced brackets, a key given twice.
    """
    grid: dict[str, list[Any]] = {}
    for item in items or ():
        key, text = _key_value(item, option)
        if key in grid:
            raise CLIError(f"{option} {key} given twice; list all its values in one {option}")
        if text.count("[") != text.count("]") or text.count("{") != text.count("}"):
            raise CLIError(f"{option} {item!r} has unbalanced brackets")
        values = split_top_level(text)
        if not text or any(not v.strip() for v in values):
            raise CLIError(
                f"{option} {item!r} has an empty value; expected key=v1,v2,... "
                f"(e.g. {option} z=5,10)"
            )
        grid[key] = [parse_value(v.strip()) for v in values]
    return grid


def positive(
    cast: Callable[[str], float], what: str, *, zero: bool = False
) -> Callable[[str], Any]:
    """An argparse type: ``cast(text)``, which must be finite and > 0 (>= 0 with ``zero``).

    Example:
        >>> positive(float, "number", zero=True)("0")
        0.0
    """

    def check(text: str) -> Any:
        try:
            value = cast(text)
        except ValueError:
            value = math.nan
        if not ((value >= 0 if zero else value > 0) and math.isfinite(value)):
            kind = "non-negative" if zero else "positive"
            raise argparse.ArgumentTypeError(f"expected a {kind} {what}, got {text!r}")
        return value

    return check


positive_int = positive(int, "integer")
positive_number = positive(float, "number")
nonnegative_number = positive(float, "number", zero=True)


def number_pair(text: str) -> tuple[float, float]:
    """An argparse type: ``B1,B2`` as two numbers (``--betas 0.5,0.999``).

    Example:
        >>> number_pair("0.5,0.999")
        (0.5, 0.999)
    """
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise InvalidValueError
        a, b = (float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected two numbers B1,B2 (e.g. 0.5,0.999), got {text!r}"
        ) from None
    return a, b
