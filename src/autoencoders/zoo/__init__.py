"""The named architectures, and :func:`build` / :func:`list_models` / :func:`compose`.

``classic`` holds the classic architectures, ``families`` the model families beyond them
(beta-VAE, IWAE, WAE-MMD, VQ-VAE, sparse and contractive AEs), ``compose`` the wiring they share
and ``factory`` the public :func:`build`.

Each architecture is a thin function registered in :data:`autoencoders.models` that wires
registered blocks together; its defaults are the reference hyperparameters of the classic
experiment it reproduces. Any of them becomes a denoising model by naming a noise transform::

    >>> import autoencoders
    >>> model = autoencoders.build("ae", h=256, z=32, noise="gaussian", noise_factor=0.3)
    >>> model.noise
    GaussianNoise(noise_factor=0.3, clip=(0.0, 1.0))
"""

from autoencoders.zoo import classic, families
from autoencoders.zoo.classic import (
    ae,
    conv_ae,
    conv_dae,
    conv_vae,
    dae,
    linear_ae,
    small_conv_ae,
    vae,
)
from autoencoders.zoo.compose import MNIST_SHAPE, compose, mirrored_conv, mirrored_mlp
from autoencoders.zoo.factory import build, list_models
from autoencoders.zoo.families import (
    beta_vae,
    contractive_ae,
    cvae,
    iwae,
    sparse_ae,
    vq_vae,
    wae_mmd,
)

__all__ = [
    "MNIST_SHAPE",
    "ae",
    "beta_vae",
    "build",
    "classic",
    "compose",
    "contractive_ae",
    "conv_ae",
    "conv_dae",
    "conv_vae",
    "cvae",
    "dae",
    "families",
    "iwae",
    "linear_ae",
    "list_models",
    "mirrored_conv",
    "mirrored_mlp",
    "small_conv_ae",
    "sparse_ae",
    "vae",
    "vq_vae",
    "wae_mmd",
]
