"""The classic architectures: dense, linear, convolutional and denoising AEs, VAEs, the face VAE.

Each is a thin function registered in :data:`autoencoders.models`; its defaults are the
reference hyperparameters of the classic experiment it reproduces.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from autoencoders.blocks.layers import positive_ints
from autoencoders.model import Autoencoder
from autoencoders.registry import bottlenecks, decoders, encoders, models
from autoencoders.registry import noise as noise_registry
from autoencoders.zoo.compose import MNIST_SHAPE, hidden_sizes, mirrored_conv, mirrored_mlp

__all__ = [
    "ae",
    "conv_ae",
    "conv_dae",
    "conv_vae",
    "dae",
    "linear_ae",
    "small_conv_ae",
    "vae",
]


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
    return mirrored_mlp(
        input_shape,
        hidden_sizes(h, hidden),
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
    hs = positive_ints(hidden, "hidden")
    return mirrored_mlp(input_shape, hs, z, "deterministic", "none", output_activation)


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
    return mirrored_mlp(
        input_shape, hidden_sizes(h, hidden), z, "gaussian", activation, output_activation
    )


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
    return mirrored_conv(input_shape, channels, z, "deterministic", activation, batch_norm)


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
    model = mirrored_conv(input_shape, channels, z, "deterministic", activation, batch_norm)
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
    fs = positive_ints(filters, "filters")
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
