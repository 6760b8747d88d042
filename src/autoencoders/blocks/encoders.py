"""Built-in encoders: a multilayer perceptron and a convolutional stack."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from einops import rearrange
from torch import nn

from autoencoders.blocks.analytic import (
    Backward,
    sequential_forward,
    sequential_unsupported,
)
from autoencoders.blocks.base import Encoder
from autoencoders.blocks.layers import (
    conv_out,
    flag,
    make_activation,
    nonnegative_int,
    per_layer,
    positive_int,
    positive_ints,
    shape_tuple,
)
from autoencoders.errors import InvalidValueError
from autoencoders.registry import encoders

__all__ = ["ConvEncoder", "MLPEncoder"]


def _check_input(x: torch.Tensor, shape: tuple[int, ...], who: str) -> None:
    if tuple(x.shape[1:]) != shape:
        raise InvalidValueError(
            f"{who} expects inputs of shape (N, {', '.join(map(str, shape))}), "
            f"got shape {tuple(x.shape)}"
        )


@encoders.register("mlp", aliases=("dense",))
class MLPEncoder(Encoder):
    """Flatten, then ``Linear -> activation`` for each hidden size.

    With ``hidden=()`` the encoder is just the flatten and ``out_features`` is the input size
    (the linear autoencoder's encoder is then only its bottleneck).

    Args:
        input_shape: shape of one input, e.g. ``(1, 28, 28)`` or ``(784,)``.
        hidden: hidden layer sizes, e.g. ``(400,)`` or ``(400, 100)``.
        activation: name of the hidden activation (``relu``, ``sigmoid``, ``tanh``,
            ``leaky_relu``, ``none`` for linear, ...).
        dropout: dropout probability after each hidden activation.
        batch_norm: put ``BatchNorm1d`` before each activation.
        condition_features: the size of a condition vector (a conditional model's one-hot
            label) appended to the flattened input, so the first layer sees it: ``forward(x,
            condition=c)`` with ``c`` of shape ``(N, condition_features)``; 0 for none.

    Example:
        >>> enc = MLPEncoder(input_shape=(1, 28, 28), hidden=(400, 100))
        >>> enc(torch.zeros(5, 1, 28, 28)).shape
        torch.Size([5, 100])
        >>> enc.out_features
        100
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 28, 28),
        hidden: Sequence[int] = (400,),
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        condition_features: int = 0,
    ) -> None:
        super().__init__()
        batch_norm = flag(batch_norm, "batch_norm")
        self.input_shape = shape_tuple(input_shape, "input_shape")
        self.condition_features = nonnegative_int(condition_features, "condition_features")
        sizes = positive_ints(hidden, "hidden")
        if not 0.0 <= dropout < 1.0:
            raise InvalidValueError(f"dropout must be in [0, 1), got {dropout!r}")
        make_activation(activation)  # validate even when there are no hidden layers
        layers: list[nn.Module] = []
        width = math.prod(self.input_shape) + self.condition_features
        for h in sizes:
            layers.append(nn.Linear(width, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(make_activation(activation))
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        self.net = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self._flat_input(x, condition))

    def _flat_input(self, x: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        """``x`` flattened to ``(N, D)``, with the condition ``(N, E)`` appended if built so."""
        _check_input(x, self.input_shape, "MLPEncoder")
        flat = x.flatten(1)
        e = self.condition_features
        if e or condition is not None:
            if not e or condition is None or tuple(condition.shape) != (len(x), e):
                got = None if condition is None else tuple(condition.shape)
                raise InvalidValueError(
                    f"MLPEncoder was built with condition_features={e}: it takes a condition "
                    f"of shape (N, {e}) with its input, got {got}"
                )
            flat = torch.cat([flat, condition.to(flat.dtype)], dim=1)
        return flat

    def analytic_unsupported(self) -> str | None:
        """``None`` when :meth:`analytic_forward` computes what ``forward`` does (a stack of
        :func:`~autoencoders.blocks.analytic.sequential_forward`'s layers), else why not."""
        return sequential_unsupported(self.net)

    def analytic_forward(
        self, x: torch.Tensor, condition: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, Backward]:
        """``forward(x, condition)`` without a graph, and its backward, which fills the
        parameters' gradients (the input and the condition, being data, get none). See
        :mod:`autoencoders.blocks.analytic`.

        Example:
            >>> enc = MLPEncoder(input_shape=(4,), hidden=(3,))
            >>> h, backward = enc.analytic_forward(torch.ones(2, 4))
            >>> torch.equal(h, enc(torch.ones(2, 4))), backward(torch.ones(2, 3))
            (True, None)
            >>> enc.net[0].weight.grad.shape
            torch.Size([3, 4])
        """
        return sequential_forward(self.net, self._flat_input(x, condition), input_grad=False)


@encoders.register("conv", aliases=("cnn",))
class ConvEncoder(Encoder):
    """Convolution stages (conv -> [batch-norm] -> activation -> [pool]), then flatten.

    Every per-layer argument (``kernel_size``, ``stride``, ``padding``, ``pool``) is either one
    value for all layers or a list with one value per layer. ``pool`` is the max- (or average-)
    pooling window after a stage; 0 or ``None`` means no pooling there.

    Args:
        input_shape: ``(channels, height, width)`` of one image.
        channels: output channels of each convolution, e.g. ``(16, 32)``.
        kernel_size: convolution kernel size(s).
        stride: convolution stride(s).
        padding: convolution padding(s).
        pool: pooling window(s); 0/None for none.
        pool_type: ``"max"`` or ``"avg"``.
        batch_norm: ``BatchNorm2d`` after each convolution.
        activation: name of the activation after each convolution.

    Example:
        >>> enc = ConvEncoder(input_shape=(1, 28, 28), channels=(16, 32), pool=2)
        >>> enc.feature_shape, enc.out_features
        ((32, 7, 7), 1568)
        >>> enc(torch.zeros(3, 1, 28, 28)).shape
        torch.Size([3, 1568])
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 28, 28),
        channels: Sequence[int] = (16, 32),
        kernel_size: int | Sequence[int] = 3,
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 1,
        pool: int | Sequence[int | None] | None = 2,
        pool_type: str = "max",
        batch_norm: bool = False,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        batch_norm = flag(batch_norm, "batch_norm")
        self.input_shape = shape_tuple(input_shape, "input_shape")
        if len(self.input_shape) != 3:
            raise InvalidValueError(
                f"ConvEncoder needs input_shape (channels, height, width), got {self.input_shape}"
            )
        chans = positive_ints(channels, "channels")
        if not chans:
            raise InvalidValueError("ConvEncoder needs at least one entry in channels")
        n = len(chans)
        ks = [positive_int(k, "kernel_size") for k in per_layer(kernel_size, n, "kernel_size")]
        ss = [positive_int(s, "stride") for s in per_layer(stride, n, "stride")]
        ps = [nonnegative_int(p, "padding") for p in per_layer(padding, n, "padding")]
        pools = per_layer(pool, n, "pool")
        for pl in pools:
            if pl not in (None, 0) and (isinstance(pl, bool) or not isinstance(pl, int) or pl < 1):
                raise InvalidValueError(
                    f"pool must be a positive integer (0 or None for no pooling), got {pl!r}"
                )
        if pool_type not in ("max", "avg"):
            raise InvalidValueError(f"pool_type must be 'max' or 'avg', got {pool_type!r}")
        c, h, w = self.input_shape
        layers: list[nn.Module] = []
        for i, (out_c, k, s, p, pl) in enumerate(zip(chans, ks, ss, ps, pools)):
            layers.append(nn.Conv2d(c, out_c, k, stride=s, padding=p))
            h, w = conv_out(h, k, s, p), conv_out(w, k, s, p)
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_c))
            layers.append(make_activation(activation))
            if pl:
                layers.append(nn.MaxPool2d(pl) if pool_type == "max" else nn.AvgPool2d(pl))
                h, w = conv_out(h, pl, pl), conv_out(w, pl, pl)
            if h < 1 or w < 1:
                raise InvalidValueError(
                    f"ConvEncoder: input {self.input_shape} shrinks to nothing at layer {i} "
                    f"(kernel {k}, stride {s}, padding {p}, pool {pl}); use fewer or gentler layers"
                )
            c = out_c
        self.net = nn.Sequential(*layers)
        self.feature_shape = (c, h, w)
        self.out_features = c * h * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.input_shape, "ConvEncoder")
        return rearrange(self.net(x), "b c h w -> b (c h w)")
