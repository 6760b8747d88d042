"""Built-in decoders: a multilayer perceptron and a transposed-convolution stack.

Decoders emit *logits*; the data-space output is ``output_activation`` applied to them, which
:meth:`autoencoders.Autoencoder.reconstruct` does for you. Losses take the logits.
"""

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
from autoencoders.blocks.base import Decoder
from autoencoders.blocks.layers import (
    check_output_activation,
    conv_transpose_out,
    flag,
    make_activation,
    nonnegative_int,
    per_layer,
    positive_int,
    positive_ints,
    shape_tuple,
)
from autoencoders.errors import InvalidValueError
from autoencoders.registry import decoders

__all__ = ["ConvDecoder", "MLPDecoder"]


def _check_latent(z: torch.Tensor, z_dim: int, who: str) -> None:
    if z.dim() != 2 or z.shape[1] != z_dim:
        raise InvalidValueError(
            f"{who} expects latent codes of shape (N, {z_dim}), got shape {tuple(z.shape)}"
        )


@decoders.register("mlp", aliases=("dense",))
class MLPDecoder(Decoder):
    """``Linear -> activation`` for each hidden size, a final ``Linear`` to the output, reshape.

    Args:
        z: latent size.
        output_shape: shape of one output, e.g. ``(1, 28, 28)``.
        hidden: hidden sizes in decoding order, e.g. ``(100, 400)``.
        activation: hidden activation name.
        output_activation: ``sigmoid`` (data in [0, 1]), ``tanh`` ([-1, 1]), ``identity`` or
            ``relu``; declared, not applied: the decoder returns logits.
        dropout: dropout probability after each hidden activation.
        batch_norm: ``BatchNorm1d`` before each hidden activation.

    Example:
        >>> dec = MLPDecoder(z=20, output_shape=(1, 28, 28), hidden=(400,))
        >>> dec(torch.zeros(2, 20)).shape
        torch.Size([2, 1, 28, 28])
    """

    def __init__(
        self,
        z: int = 20,
        output_shape: Sequence[int] = (1, 28, 28),
        hidden: Sequence[int] = (400,),
        activation: str = "relu",
        output_activation: str = "sigmoid",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        batch_norm = flag(batch_norm, "batch_norm")
        self.z_dim = positive_int(z, "z")
        self.output_shape = shape_tuple(output_shape, "output_shape")
        self.output_activation = check_output_activation(output_activation)
        if not 0.0 <= dropout < 1.0:
            raise InvalidValueError(f"dropout must be in [0, 1), got {dropout!r}")
        make_activation(activation)
        layers: list[nn.Module] = []
        width = self.z_dim
        for h in positive_ints(hidden, "hidden"):
            layers.append(nn.Linear(width, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(make_activation(activation))
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, math.prod(self.output_shape)))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _check_latent(z, self.z_dim, "MLPDecoder")
        return self.net(z).reshape(z.shape[0], *self.output_shape)

    def analytic_unsupported(self) -> str | None:
        """``None`` when :meth:`analytic_forward` computes what ``forward`` does, else why not."""
        return sequential_unsupported(self.net)

    def analytic_forward(self, z: torch.Tensor) -> tuple[torch.Tensor, Backward]:
        """``forward(z)`` without a graph, and its backward: the logits' gradient in, the
        parameters' gradients filled, the code's gradient out. See
        :mod:`autoencoders.blocks.analytic`.

        Example:
            >>> dec = MLPDecoder(z=2, output_shape=(1, 2, 2), hidden=(3,))
            >>> logits, backward = dec.analytic_forward(torch.ones(5, 2))
            >>> logits.shape, backward(torch.ones(5, 1, 2, 2)).shape
            (torch.Size([5, 1, 2, 2]), torch.Size([5, 2]))
        """
        _check_latent(z, self.z_dim, "MLPDecoder")
        y, back = sequential_forward(self.net, z)
        return y.reshape(z.shape[0], *self.output_shape), lambda g: back(g.reshape(len(g), -1))


@decoders.register("conv", aliases=("deconv", "cnn"))
class ConvDecoder(Decoder):
    """``Linear(z -> C*H*W)``, reshape to ``start_shape``, then transposed convolutions.

    ``channels`` are the output channels of each transposed convolution; the last one must
    equal the output's channels. Between two transposed convolutions come an optional
    ``BatchNorm2d`` and ``activation``; after the last come none (it emits logits). The shape
    the stack produces is checked against ``output_shape`` when the decoder is built.

    Args:
        z: latent size.
        output_shape: ``(channels, height, width)`` of one output.
        start_shape: ``(C, H, W)`` the dense layer's output is reshaped to.
        channels: output channels of each transposed convolution.
        kernel_size, stride, padding, output_padding: per-layer values or one for all.
        batch_norm: ``BatchNorm2d`` between transposed convolutions.
        activation: activation between transposed convolutions.
        dense_activation: activation after the dense layer (``none`` for none).
        output_activation: ``sigmoid``, ``tanh``, ``identity`` or ``relu`` (declared only).

    Example:
        >>> dec = ConvDecoder(z=16, output_shape=(1, 28, 28), start_shape=(32, 7, 7),
        ...                   channels=(16, 1), kernel_size=3, stride=2, padding=1,
        ...                   output_padding=1)
        >>> dec(torch.zeros(2, 16)).shape
        torch.Size([2, 1, 28, 28])
    """

    def __init__(
        self,
        z: int = 20,
        output_shape: Sequence[int] = (1, 28, 28),
        start_shape: Sequence[int] = (32, 7, 7),
        channels: Sequence[int] = (16, 1),
        kernel_size: int | Sequence[int] = 3,
        stride: int | Sequence[int] = 2,
        padding: int | Sequence[int] = 1,
        output_padding: int | Sequence[int] = 1,
        batch_norm: bool = False,
        activation: str = "relu",
        dense_activation: str = "relu",
        output_activation: str = "sigmoid",
    ) -> None:
        super().__init__()
        batch_norm = flag(batch_norm, "batch_norm")
        self.z_dim = positive_int(z, "z")
        self.output_shape = shape_tuple(output_shape, "output_shape")
        self.start_shape = shape_tuple(start_shape, "start_shape")
        self.output_activation = check_output_activation(output_activation)
        if len(self.output_shape) != 3 or len(self.start_shape) != 3:
            raise InvalidValueError(
                "ConvDecoder needs output_shape and start_shape as (channels, height, width), "
                f"got {self.output_shape} and {self.start_shape}"
            )
        chans = positive_ints(channels, "channels")
        if not chans:
            raise InvalidValueError("ConvDecoder needs at least one entry in channels")
        n = len(chans)
        ks = [positive_int(k, "kernel_size") for k in per_layer(kernel_size, n, "kernel_size")]
        ss = [positive_int(s, "stride") for s in per_layer(stride, n, "stride")]
        ps = [nonnegative_int(p, "padding") for p in per_layer(padding, n, "padding")]
        ops = [
            nonnegative_int(op, "output_padding")
            for op in per_layer(output_padding, n, "output_padding")
        ]
        for i, (s, op) in enumerate(zip(ss, ops)):
            if op >= s:  # PyTorch's rule, otherwise only found at the first forward
                raise InvalidValueError(
                    f"output_padding must be smaller than the stride, got output_padding {op} "
                    f"with stride {s} at layer {i}"
                )
        self.fc = nn.Linear(self.z_dim, math.prod(self.start_shape))
        self.fc_act = make_activation(dense_activation)
        c, h, w = self.start_shape
        layers: list[nn.Module] = []
        for i, (out_c, k, s, p, op) in enumerate(zip(chans, ks, ss, ps, ops)):
            layers.append(nn.ConvTranspose2d(c, out_c, k, stride=s, padding=p, output_padding=op))
            h, w = conv_transpose_out(h, k, s, p, op), conv_transpose_out(w, k, s, p, op)
            if i < n - 1:
                if batch_norm:
                    layers.append(nn.BatchNorm2d(out_c))
                layers.append(make_activation(activation))
            c = out_c
        if (c, h, w) != self.output_shape:
            raise InvalidValueError(
                f"ConvDecoder produces {(c, h, w)} from start_shape {self.start_shape}, but "
                f"output_shape is {self.output_shape}; adjust channels, kernel_size, stride, "
                "padding or output_padding"
            )
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _check_latent(z, self.z_dim, "ConvDecoder")
        c, h, w = self.start_shape
        x = rearrange(self.fc_act(self.fc(z)), "b (c h w) -> b c h w", c=c, h=h, w=w)
        return self.net(x)
