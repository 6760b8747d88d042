"""The named architectures, and :func:`build` / :func:`list_models` / :func:`compose`.

Each architecture is a thin function registered in :data:`autoencoders.models` that wires
registered blocks together; its defaults are the reference hyperparameters of the classic
experiment it reproduces. Any of them becomes a denoising model by naming a noise transform::

    >>> import autoencoders
    >>> model = autoencoders.build("ae", h=256, z=32, noise="gaussian", noise_factor=0.3)
    >>> model.noise
    GaussianNoise(noise_factor=0.3, clip=(0.0, 1.0))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from autoencoders.model import Autoencoder, to_jsonable
from autoencoders.registry import (
    UnknownArgumentError,
    accepted_parameters,
    bottlenecks,
    check_kwargs,
    decoders,
    did_you_mean,
    encoders,
    models,
)
from autoencoders.registry import noise as noise_registry

__all__ = [
    "ae",
    "build",
    "compose",
    "conv_ae",
    "conv_dae",
    "conv_vae",
    "dae",
    "linear_ae",
    "list_models",
    "small_conv_ae",
    "vae",
]

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
) -> Autoencoder:
    """Wire registered blocks, by name, into an :class:`Autoencoder`.

    The plumbing arguments are filled in for you: the encoder gets ``input_shape``, the
    bottleneck ``in_features`` (the encoder's ``out_features``) and ``z``, the decoder ``z``
    and ``output_shape``. Everything else goes in the ``*_kwargs`` dicts.

    Example:
        >>> m = compose((1, 28, 28), encoder="mlp", encoder_kwargs={"hidden": [128]},
        ...             bottleneck="deterministic", z=8, decoder_kwargs={"hidden": [128]})
        >>> m.z_dim, m.is_variational
        (8, False)
    """
    shape = list(input_shape)
    enc = encoders.build(encoder, input_shape=shape, **(encoder_kwargs or {}))
    bn = bottlenecks.build(
        bottleneck, in_features=enc.out_features, z=z, **(bottleneck_kwargs or {})
    )
    dec = decoders.build(decoder, z=z, output_shape=shape, **(decoder_kwargs or {}))
    corruption = _build_noise(noise, noise_kwargs or {}) if noise is not None else None
    return Autoencoder(enc, bn, dec, corruption)


def _build_noise(spec: Any, kwargs: dict[str, Any]) -> nn.Module:
    if isinstance(spec, nn.Module):
        if kwargs:
            raise TypeError("noise keyword arguments given together with a noise module")
        return spec
    if isinstance(spec, dict):
        spec = dict(spec)
        name = spec.pop("name", None)
        if name is None:
            raise ValueError(f"a noise dict needs a 'name' entry, got {spec!r}")
        return noise_registry.build(name, **{**spec, **kwargs})
    return noise_registry.build(spec, **kwargs)


def _hidden(h: int, hidden: Sequence[int] | None) -> list[int]:
    return [int(v) for v in hidden] if hidden is not None else [h]


# -- the classic architectures ---------------------------------------------------------------
@models.register("ae", aliases=("dense_ae", "mlp_ae"))
def ae(
    h: int = 400,
    z: int = 20,
    hidden: Sequence[int] | None = None,
    activation: str = "relu",
    z_activation: str = "none",
    output_activation: str = "sigmoid",
    input_shape: Sequence[int] = MNIST_SHAPE,
) -> Autoencoder:
    """Dense autoencoder ``784-h-z-h-784``: ReLU hidden layers, linear code, sigmoid output.

    Args:
        h: the hidden size (one hidden layer each side).
        z: the code size.
        hidden: several hidden sizes instead of ``h``, encoder order (the decoder mirrors it).
        activation: hidden activation (``relu``, ``sigmoid``, ``tanh``, ...) for the
            ReLU-versus-sigmoid comparison.
        z_activation: activation on the code (``none``, ``tanh``, ``relu``, ...).
        output_activation: ``sigmoid`` for data in [0, 1].
        input_shape: shape of one input.

    Example:
        >>> import autoencoders
        >>> autoencoders.build("ae").num_parameters()
        644804
    """
    return _mirrored_mlp(
        input_shape,
        _hidden(h, hidden),
        z,
        "deterministic",
        activation,
        output_activation,
        bottleneck_kwargs={"activation": z_activation},
    )


@models.register("dae", aliases=("denoising_ae",))
def dae(
    h: int = 400,
    z: int = 20,
    hidden: Sequence[int] | None = None,
    activation: str = "relu",
    noise_factor: float = 0.5,
    input_shape: Sequence[int] = MNIST_SHAPE,
) -> Autoencoder:
    """The dense :func:`ae` with Gaussian-noise corruption (``noise_factor``, clipped to [0, 1]).

    Example:
        >>> import autoencoders
        >>> autoencoders.build("dae", noise_factor=0.3).noise.noise_factor
        0.3
    """
    model = ae(h=h, z=z, hidden=hidden, activation=activation, input_shape=input_shape)
    model.noise = noise_registry.build("gaussian", noise_factor=noise_factor, clip=[0.0, 1.0])
    return model


@models.register("linear_ae", aliases=("linear",))
def linear_ae(
    z: int = 2,
    hidden: Sequence[int] = (),
    output_activation: str = "sigmoid",
    input_shape: Sequence[int] = MNIST_SHAPE,
) -> Autoencoder:
    """Linear autoencoder: no hidden activation. With ``z=2`` it is exactly
    ``Linear(784, 2) -> Linear(2, 784) -> sigmoid``.

    Example:
        >>> import autoencoders
        >>> m = autoencoders.build("linear_ae", z=2)
        >>> [tuple(p.shape) for p in m.parameters()]
        [(2, 784), (2,), (784, 2), (784,)]
    """
    hs = [int(v) for v in hidden]
    return _mirrored_mlp(input_shape, hs, z, "deterministic", "none", output_activation)


@models.register("vae", aliases=("mlp_vae", "dense_vae"))
def vae(
    h: int = 400,
    z: int = 20,
    hidden: Sequence[int] | None = None,
    activation: str = "relu",
    output_activation: str = "sigmoid",
    input_shape: Sequence[int] = MNIST_SHAPE,
) -> Autoencoder:
    """Variational autoencoder ``784-h-(mean, logvar: z)-h-784`` with ReLU and Bernoulli output.

    ``build("vae", h=400, z=20)`` is the classic PyTorch-examples VAE;
    ``build("vae", hidden=(400, 100), z=20)`` is the four-layer variant, encoder
    784-400-100-20 and decoder 20-100-400-784.

    Example:
        >>> import autoencoders
        >>> autoencoders.build("vae", h=400, z=20).num_parameters()
        652824
        >>> autoencoders.build("vae", hidden=(400, 100), z=20).num_parameters()
        715024
    """
    return _mirrored_mlp(
        input_shape, _hidden(h, hidden), z, "gaussian", activation, output_activation
    )


def _mirrored_mlp(
    input_shape: Sequence[int],
    hidden: list[int],
    z: int,
    bottleneck: str,
    activation: str,
    output_activation: str,
    bottleneck_kwargs: dict[str, Any] | None = None,
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
    )


def _mirrored_conv(
    input_shape: Sequence[int],
    channels: Sequence[int],
    z: int,
    bottleneck: str,
    activation: str,
    batch_norm: bool,
) -> Autoencoder:
    """Conv(k3, pad 1) + max-pool 2 stages; the decoder mirrors them with stride-2 ConvT."""
    chans = [int(c) for c in channels]
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
    bn = bottlenecks.build(bottleneck, in_features=enc.out_features, z=z)
    dec = decoders.build(
        "conv",
        z=z,
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
    return Autoencoder(enc, bn, dec)


@models.register("conv_ae", aliases=("cnn_ae",))
def conv_ae(
    z: int = 32,
    channels: Sequence[int] = (16, 32),
    activation: str = "relu",
    batch_norm: bool = False,
    input_shape: Sequence[int] = MNIST_SHAPE,
) -> Autoencoder:
    """Convolutional AE for 28x28x1 images: two ``Conv3x3 -> ReLU -> MaxPool2`` stages
    (28 -> 14 -> 7), a dense code of size ``z``, and a mirrored decoder of stride-2
    transposed convolutions (7 -> 14 -> 28) with a sigmoid output.

    Example:
        >>> import autoencoders
        >>> autoencoders.build("conv_ae").num_parameters()
        111521
    """
    return _mirrored_conv(input_shape, channels, z, "deterministic", activation, batch_norm)


@models.register("conv_dae", aliases=("cnn_dae", "denoising_conv_ae"))
def conv_dae(
    z: int = 32,
    channels: Sequence[int] = (16, 32),
    activation: str = "relu",
    batch_norm: bool = False,
    noise_factor: float = 0.5,
    input_shape: Sequence[int] = MNIST_SHAPE,
) -> Autoencoder:
    """:func:`conv_ae` trained to denoise: Gaussian noise (``noise_factor``, default 0.5)
    added to its input in training, clipped to [0, 1]; the target stays clean.

    Example:
        >>> import autoencoders
        >>> autoencoders.build("conv_dae").noise
        GaussianNoise(noise_factor=0.5, clip=(0.0, 1.0))
    """
    model = _mirrored_conv(input_shape, channels, z, "deterministic", activation, batch_norm)
    model.noise = noise_registry.build("gaussian", noise_factor=noise_factor, clip=[0.0, 1.0])
    return model


@models.register("small_conv_ae", aliases=("keras_conv_ae", "mnist_conv_ae"))
def small_conv_ae(z: int = 2, input_shape: Sequence[int] = MNIST_SHAPE) -> Autoencoder:
    """The small Keras-style convolutional AE of the MNIST exercise, layer for layer.

    Encoder: ``Conv2d(1->8, 2x2) ReLU -> MaxPool 2 -> Conv2d(8->16, 2x2) ReLU -> MaxPool 2 ->
    Conv2d(16->32, 2x2) ReLU -> flatten -> Dense(z, tanh)`` (convolutions unpadded:
    28 -> 27 -> 13 -> 12 -> 6 -> 5, so 32*5*5 = 800 features). Decoder: ``Dense(7*7*8, tanh) ->
    reshape (8, 7, 7) -> ConvTranspose(8->8, 2x2, stride 2) ReLU -> ConvTranspose(8->1, 2x2,
    stride 2) ReLU`` (its output activation is the final ReLU; train it with MSE).

    Weights are initialised as Keras does (Glorot-uniform kernels, zero biases): with
    PyTorch's default initialisation the final ReLU starts dead (all outputs <= 0, no
    gradient) for some seeds, which the exercise never sees.

    Example:
        >>> import autoencoders
        >>> autoencoders.build("small_conv_ae").num_parameters()
        5723
    """
    shape = list(input_shape)
    enc = encoders.build(
        "conv",
        input_shape=shape,
        channels=[8, 16, 32],
        kernel_size=2,
        stride=1,
        padding=0,
        pool=[2, 2, 0],
        activation="relu",
    )
    bn = bottlenecks.build("deterministic", in_features=enc.out_features, z=z, activation="tanh")
    dec = decoders.build(
        "conv",
        z=z,
        output_shape=shape,
        start_shape=[8, shape[1] // 4, shape[2] // 4],
        channels=[8, shape[0]],
        kernel_size=2,
        stride=2,
        padding=0,
        output_padding=0,
        activation="relu",
        dense_activation="tanh",
        output_activation="relu",
    )
    model = Autoencoder(enc, bn, dec)
    _keras_init_(model)
    return model


def _keras_init_(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for every dense and (transposed) conv layer."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


@models.register("conv_vae", aliases=("face_vae", "celeba_vae", "dcgan_vae"))
def conv_vae(
    z: int = 512,
    filters: Sequence[int] = (64, 128, 256),
    input_shape: Sequence[int] = (3, 64, 64),
) -> Autoencoder:
    """The 64x64 RGB face VAE.

    Encoder: ``Conv(3->64->128->256, kernel 4, stride 2, padding 1)``, each followed by
    BatchNorm and ReLU (64 -> 32 -> 16 -> 8); Gaussian bottleneck from 256*8*8 features to
    ``z`` (512). Decoder: ``Linear(z -> 256*8*8)``, reshape, ``ConvTranspose(256->128->64->3,
    kernel 4, stride 2, padding 1)`` with BatchNorm and LeakyReLU(0.2) between, tanh output
    (data in [-1, 1]).

    Example:
        >>> import autoencoders
        >>> autoencoders.build("conv_vae").num_parameters()
        26502019
    """
    shape = list(input_shape)
    fs = [int(f) for f in filters]
    enc = encoders.build(
        "conv",
        input_shape=shape,
        channels=fs,
        kernel_size=4,
        stride=2,
        padding=1,
        pool=0,
        batch_norm=True,
        activation="relu",
    )
    bn = bottlenecks.build("gaussian", in_features=enc.out_features, z=z)
    dec = decoders.build(
        "conv",
        z=z,
        output_shape=shape,
        start_shape=list(enc.feature_shape),
        channels=[*fs[-2::-1], shape[0]],
        kernel_size=4,
        stride=2,
        padding=1,
        output_padding=0,
        batch_norm=True,
        activation="leaky_relu",
        dense_activation="none",
        output_activation="tanh",
    )
    return Autoencoder(enc, bn, dec)


# -- the public factory -------------------------------------------------------------------------
def build(name: str, /, *, noise: Any = None, **kwargs: Any) -> Autoencoder:
    """Build the architecture registered as ``name`` with keyword arguments.

    ``noise`` (a registered noise-transform name, a ``{"name": ..., **kwargs}`` dict, or a
    module) turns any model into a denoising one; keywords that the architecture does not take
    but the noise transform does (``noise_factor``, ``p``, ``clip``, ...) go to the transform.

    Args:
        name: a registered architecture name or alias (see :func:`list_models`).
        noise: optional corruption applied in training mode.
        **kwargs: the architecture's keyword arguments.

    Raises:
        UnknownNameError: ``name`` is not registered (the message suggests a close match).
        UnknownArgumentError: a keyword neither the architecture nor the noise transform takes.

    Example:
        >>> import autoencoders
        >>> model = autoencoders.build("vae", h=400, z=20)
        >>> model.z_dim, model.is_variational
        (20, True)
        >>> autoencoders.build("vea")
        Traceback (most recent call last):
          ...
        autoencoders.registry.UnknownNameError: unknown model 'vea'; did you mean 'vae'? ...
    """
    key = models.canonical(name)
    builder = models.get(key)
    accepted, var_kw = accepted_parameters(builder)
    model_kwargs = {k: v for k, v in kwargs.items() if var_kw or k in accepted}
    extra = {k: v for k, v in kwargs.items() if k not in model_kwargs}
    if extra:
        if noise is None:
            check_kwargs(f"model {key!r}", builder, kwargs)  # raises, naming the bad keyword
        else:
            noise_accepted: list[str] = []
            if not isinstance(noise, nn.Module):
                noise_name = noise.get("name") if isinstance(noise, dict) else noise
                noise_accepted, _ = accepted_parameters(noise_registry.get(noise_name))
            unknown = [k for k in extra if k not in noise_accepted]
            if unknown:
                options = accepted + noise_accepted
                raise UnknownArgumentError(
                    f"model {key!r} with noise {noise!r} got unexpected keyword argument "
                    f"{unknown[0]!r}{did_you_mean(unknown[0], options)} Accepted: "
                    f"{', '.join(accepted)} (model); {', '.join(noise_accepted) or '(none)'} "
                    "(noise transform)."
                )
    model = models.build(key, **model_kwargs)
    if not isinstance(model, Autoencoder):
        raise TypeError(
            f"model builder {key!r} returned {type(model).__name__}, not an autoencoders.Autoencoder"
        )
    if noise is not None:
        model.noise = _build_noise(noise, extra)
    record = dict(kwargs)
    if noise is not None and not isinstance(noise, nn.Module):
        record["noise"] = noise
    try:
        arch_kwargs = to_jsonable(record, f"arguments of model {key!r}")
    except TypeError:
        arch_kwargs = None
    model.architecture = {"name": key, "kwargs": arch_kwargs}
    return model


def list_models(pattern: str | None = None) -> list[str]:
    """Names of the registered architectures (plugins included), sorted.

    Args:
        pattern: optional shell-style filter such as ``"*vae*"``; case does not matter and
            ``-`` matches ``_``.

    Raises:
        TypeError: ``pattern`` is neither a string nor None.

    Example:
        >>> import autoencoders
        >>> autoencoders.list_models("*vae")
        ['conv_vae', 'vae']
    """
    return models.names(pattern)
