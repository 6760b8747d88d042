"""Small shared pieces: activations by name, per-layer arguments, convolution arithmetic."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from autoencoders.errors import InvalidTypeError, InvalidValueError

__all__ = [
    "ACTIVATIONS",
    "OUTPUT_ACTIVATIONS",
    "apply_output_activation",
    "conv_out",
    "conv_transpose_out",
    "make_activation",
    "output_activation_grad",
    "per_layer",
]

#: Hidden-layer activations accepted by name ("none" / "linear" / "identity" mean no activation).
ACTIVATIONS: dict[str, type[nn.Module] | Any] = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
    "none": nn.Identity,
    "linear": nn.Identity,
    "identity": nn.Identity,
}

#: Output activations a decoder can declare; the decoder itself emits logits.
OUTPUT_ACTIVATIONS = ("sigmoid", "tanh", "identity", "relu")


def _check_name(name: str, options: Sequence[str], what: str) -> str:
    if not isinstance(name, str) or name.lower() not in options:
        raise InvalidValueError(f"unknown {what} {name!r}; accepted: {', '.join(options)}")
    return name.lower()


def make_activation(name: str | None) -> nn.Module:
    """An activation module from its name (``None`` means identity).

    Example:
        >>> make_activation("leaky_relu")
        LeakyReLU(negative_slope=0.2)
        >>> make_activation("relu6")
        Traceback (most recent call last):
          ...
        autoencoders.errors.InvalidValueError: unknown activation 'relu6'; accepted: relu, sigmoid, tanh, leaky_relu, elu, gelu, silu, softplus, none, linear, identity
    """
    if name is None:
        return nn.Identity()
    key = _check_name(name, list(ACTIVATIONS), "activation")
    return ACTIVATIONS[key]()


def check_output_activation(name: str) -> str:
    """Validate an output activation name."""
    return _check_name(name, OUTPUT_ACTIVATIONS, "output activation")


def apply_output_activation(logits: torch.Tensor, name: str) -> torch.Tensor:
    """Turn decoder logits into outputs in data space.

    Example:
        >>> apply_output_activation(torch.zeros(2), "sigmoid")
        tensor([0.5000, 0.5000])
    """
    key = check_output_activation(name)
    if key == "sigmoid":
        return torch.sigmoid(logits)
    if key == "tanh":
        return torch.tanh(logits)
    if key == "relu":
        return torch.relu(logits)
    return logits


def output_activation_grad(grad: torch.Tensor, y: torch.Tensor, name: str) -> torch.Tensor:
    """The gradient with respect to the logits of ``y = apply_output_activation(logits, name)``,
    given ``grad`` with respect to ``y`` (autograd's own backward kernels).

    Example:
        >>> output_activation_grad(torch.ones(2), torch.full((2,), 0.5), "sigmoid")
        tensor([0.2500, 0.2500])
    """
    key = check_output_activation(name)
    if key == "sigmoid":
        return torch.ops.aten.sigmoid_backward(grad, y)
    if key == "tanh":
        return torch.ops.aten.tanh_backward(grad, y)
    if key == "relu":
        return torch.ops.aten.threshold_backward(grad, y, 0)
    return grad


def per_layer(value: Any, n: int, what: str) -> list[Any]:
    """Broadcast a scalar to ``n`` layers, or check a sequence has ``n`` entries.

    Example:
        >>> per_layer(3, 2, "kernel_size")
        [3, 3]
        >>> per_layer([3, 5], 2, "kernel_size")
        [3, 5]
    """
    if isinstance(value, Sequence) and not isinstance(value, str):
        values = list(value)
        if len(values) != n:
            raise InvalidValueError(
                f"{what} has {len(values)} entries {values!r} but there are {n} layers"
            )
        return values
    return [value] * n


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Spatial size after a convolution or pooling (PyTorch's floor formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_out(
    size: int, kernel: int, stride: int = 1, padding: int = 0, output_padding: int = 0
) -> int:
    """Spatial size after a transposed convolution."""
    return (size - 1) * stride - 2 * padding + kernel + output_padding


def positive_int(value: Any, what: str) -> int:
    """Check a positive integer (bools refused) and return it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(f"{what} must be a positive integer, got {value!r}")
    return value


def nonnegative_number(value: Any, what: str) -> float:
    """Check a finite real number >= 0 (bools, NaN and infinity refused) and return it as a
    float.

    Example:
        >>> nonnegative_number(2, "weight")
        2.0
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 <= value < float("inf")
    ):
        odd = isinstance(value, float) and not math.isfinite(value)
        raise InvalidValueError(
            f"{what} must be a number >= 0, got {value!r}" + (" (finite only)" if odd else "")
        )
    return float(value)


def flag(value: Any, what: str) -> bool:
    """Check ``True`` or ``False`` (a string such as ``"no"`` would read as True) and return it.

    Example:
        >>> flag(False, "batch_norm")
        False
        >>> flag("no", "batch_norm")
        Traceback (most recent call last):
        ...
        autoencoders.errors.InvalidTypeError: batch_norm must be True or False, got 'no'
    """
    if not isinstance(value, bool):
        raise InvalidTypeError(f"{what} must be True or False, got {value!r}")
    return value


def positive_ints(value: Any, what: str) -> list[int]:
    """Check a list (or tuple) of positive ints, such as hidden sizes, and return it as a list.

    Example:
        >>> positive_ints((400, 100), "hidden")
        [400, 100]
        >>> positive_ints("64", "hidden")
        Traceback (most recent call last):
        ...
        autoencoders.errors.InvalidTypeError: hidden must be a list of positive ints, got '64'
    """
    if not isinstance(value, (list, tuple)):
        raise InvalidTypeError(f"{what} must be a list of positive ints, got {value!r}")
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InvalidValueError(
                f"{what} must be a list of positive ints, got {value!r} (entry {i} is {v!r})"
            )
    return list(value)


def nonnegative_int(value: Any, what: str) -> int:
    """Check an integer >= 0 (bools refused) and return it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidValueError(f"{what} must be an integer >= 0, got {value!r}")
    return value


def shape_tuple(value: Any, what: str) -> tuple[int, ...]:
    """Check a shape given as a sequence of positive ints (a JSON list is fine)."""
    if isinstance(value, int):
        value = (value,)
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        raise InvalidValueError(
            f"{what} must be a non-empty sequence of positive ints, got {value!r}"
        )
    return tuple(positive_int(v, what) for v in value)
