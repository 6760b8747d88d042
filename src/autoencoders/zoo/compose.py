"""How the named architectures are wired: :func:`compose` and the mirrored backbones.

:func:`compose` wires registered blocks by name; :func:`mirrored_mlp` and
:func:`mirrored_conv` are the two backbones of the classic models and of the families (a dense
``784-h-z-h-784`` network and a two-stage convolutional one), around any registered
bottleneck.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from torch import nn

from autoencoders.blocks.layers import positive_ints, shape_tuple
from autoencoders.errors import InvalidTypeError, InvalidValueError
from autoencoders.model import Autoencoder
from autoencoders.registry import bottlenecks, conditions, decoders, encoders
from autoencoders.registry import noise as noise_registry
from autoencoders.registry import regularizers as regularizer_registry

__all__ = ["MNIST_SHAPE", "build_noise", "compose", "hidden_sizes", "mirrored_conv", "mirrored_mlp"]

#: Shape of one MNIST / Fashion-MNIST image, the default input of every architecture.
MNIST_SHAPE = (1, 28, 28)


def compose(
    input_shape: Sequence[int] = MNIST_SHAPE,
    *,
    encoder: str = "mlp",
    bottleneck: str = "gaussian",
    decoder: str = "mlp",
    z: int = 20,
    encoder_kwargs: dict[str, Any] | None = None,
    bottleneck_kwargs: dict[str, Any] | None = None,
    decoder_kwargs: dict[str, Any] | None = None,
    noise: str | None = None,
    noise_kwargs: dict[str, Any] | None = None,
    regularizers: Sequence[str | dict[str, Any]] = (),
    loss: str | dict[str, Any] | None = None,
    condition: str | dict[str, Any] | None = None,
) -> Autoencoder:
    """Wire registered blocks, by name, into an :class:`Autoencoder`.

    The plumbing arguments are filled in for you: the encoder gets ``input_shape``, the
    bottleneck ``in_features`` (the encoder's ``out_features``) and ``z``, the decoder ``z``
    and ``output_shape``. Everything else goes in the ``*_kwargs`` dicts. ``regularizers`` are
    registered regularizer names or ``{"name": ..., **kwargs}`` dicts (e.g.
    ``[{"name": "sparsity", "rho": 0.05}]``); ``loss`` is the registered loss the model is
    meant to be trained with (a name or ``{"name": ..., "kwargs": {...}}``), None for the
    bottleneck's default. ``condition`` makes the model conditional: a registered condition
    name or ``{"name": ..., **kwargs}`` (e.g. ``{"name": "label", "num_classes": 10}``); the
    bottleneck then gets ``in_features + E`` and the decoder ``z + E`` (``E`` the condition's
    size), and an encoder that can take the condition at its input (one with a
    ``condition_features`` argument, as the MLP encoder has) gets it there too.

    Example:
        >>> m = compose((1, 28, 28), encoder="mlp", encoder_kwargs={"hidden": [128]},
        ...             bottleneck="deterministic", z=8, decoder_kwargs={"hidden": [128]})
        >>> m.z_dim, m.is_variational
        (8, False)
    """
    shape = list(shape_tuple(input_shape, "input_shape"))  # 784 reads as (784,)
    cond = None if condition is None else _by_name(conditions, condition, "condition")
    e = cond.out_features if cond is not None else 0
    enc_kwargs = dict(encoder_kwargs or {})
    if e and _takes(encoders.get(encoder), "condition_features"):
        enc_kwargs.setdefault("condition_features", e)  # q(z|x,y) sees y from its input
    enc = encoders.build(encoder, input_shape=shape, **enc_kwargs)
    bn = bottlenecks.build(
        bottleneck, in_features=enc.out_features + e, z=z, **(bottleneck_kwargs or {})
    )
    dec = decoders.build(decoder, z=z + e, output_shape=shape, **(decoder_kwargs or {}))
    corruption = build_noise(noise, noise_kwargs or {}) if noise is not None else None
    regs = [_by_name(regularizer_registry, spec, "regularizer") for spec in regularizers]
    return Autoencoder(enc, bn, dec, corruption, regs, condition=cond, loss=loss)


def _takes(builder: Any, keyword: str) -> bool:
    """Whether ``builder`` (a block class or factory) takes the keyword ``keyword``."""
    try:
        return keyword in inspect.signature(builder).parameters
    except (TypeError, ValueError):
        return False


def _by_name(registry: Any, spec: str | dict[str, Any], what: str) -> Any:
    """Build from a registered name or a ``{"name": ..., **kwargs}`` dict."""
    if isinstance(spec, dict):
        spec = dict(spec)
        name = spec.pop("name", None)
        if name is None:
            raise InvalidValueError(f"a {what} dict needs a 'name' entry, got {spec!r}")
        return registry.build(name, **spec)
    return registry.build(spec)


def build_noise(spec: Any, kwargs: dict[str, Any]) -> nn.Module:
    """A noise transform from a name, a ``{"name": ..., **kwargs}`` dict or a module."""
    if isinstance(spec, nn.Module):
        if kwargs:
            raise InvalidTypeError("noise keyword arguments given together with a noise module")
        return spec
    if isinstance(spec, dict):
        spec = dict(spec)
        name = spec.pop("name", None)
        if name is None:
            raise InvalidValueError(f"a noise dict needs a 'name' entry, got {spec!r}")
        return noise_registry.build(name, **{**spec, **kwargs})
    return noise_registry.build(spec, **kwargs)


def hidden_sizes(h: int, hidden: Sequence[int] | None) -> list[int]:
    """``hidden`` as a list of ints, or ``[h]`` without it (one hidden layer of ``h``)."""
    return positive_ints(hidden, "hidden") if hidden is not None else [h]


def mirrored_mlp(
    input_shape: Sequence[int],
    hidden: list[int],
    z: int,
    bottleneck: str,
    activation: str,
    output_activation: str,
    bottleneck_kwargs: dict[str, Any] | None = None,
    condition: str | dict[str, Any] | None = None,
) -> Autoencoder:
    """MLP encoder with ``hidden`` sizes, a bottleneck, and the mirrored MLP decoder."""
    return compose(
        input_shape,
        encoder="mlp",
        encoder_kwargs={"hidden": hidden, "activation": activation},
        bottleneck=bottleneck,
        bottleneck_kwargs=bottleneck_kwargs,
        z=z,
        decoder="mlp",
        decoder_kwargs={
            "hidden": hidden[::-1],
            "activation": activation,
            "output_activation": output_activation,
        },
        condition=condition,
    )


def mirrored_conv(
    input_shape: Sequence[int],
    channels: Sequence[int],
    z: int,
    bottleneck: str,
    activation: str,
    batch_norm: bool,
    bottleneck_kwargs: dict[str, Any] | None = None,
    condition: str | dict[str, Any] | None = None,
) -> Autoencoder:
    """Conv(k3, pad 1) + max-pool 2 stages; the decoder mirrors them with stride-2 ConvT."""
    chans = positive_ints(channels, "channels")
    enc = encoders.build(
        "conv",
        input_shape=list(input_shape),
        channels=chans,
        kernel_size=3,
        stride=1,
        padding=1,
        pool=2,
        batch_norm=batch_norm,
        activation=activation,
    )
    cond = None if condition is None else _by_name(conditions, condition, "condition")
    e = cond.out_features if cond is not None else 0
    bn = bottlenecks.build(
        bottleneck, in_features=enc.out_features + e, z=z, **(bottleneck_kwargs or {})
    )
    dec = decoders.build(
        "conv",
        z=z + e,
        output_shape=list(input_shape),
        start_shape=list(enc.feature_shape),
        channels=[*chans[-2::-1], int(input_shape[0])],
        kernel_size=3,
        stride=2,
        padding=1,
        output_padding=1,
        batch_norm=batch_norm,
        activation=activation,
        dense_activation=activation,
        output_activation="sigmoid",
    )
    return Autoencoder(enc, bn, dec, condition=cond)
