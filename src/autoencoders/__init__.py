"""autoencoders: composable, registry-driven autoencoders for PyTorch.

Every model is ``Encoder -> Bottleneck -> Decoder`` built from registered blocks::

    >>> import autoencoders
    >>> model = autoencoders.build("vae", h=400, z=20)
    >>> model.num_parameters()
    652824
    >>> "conv_vae" in autoencoders.list_models()
    True

Register your own blocks with :func:`register_encoder`, :func:`register_bottleneck`,
:func:`register_decoder`, :func:`register_noise`, :func:`register_loss`,
:func:`register_regularizer`, :func:`register_prior`, :func:`register_condition` and
architectures with
:func:`register_model`; they build, train, save and load like the built-in ones. The model
families beyond the classics (``beta_vae``, ``iwae``, ``wae_mmd``, ``vq_vae``, ``cvae``,
``sparse_ae``, ``contractive_ae``) are such compositions: :mod:`autoencoders.zoo.families`.
"""

from autoencoders import data as data
from autoencoders import losses as losses
from autoencoders import noise as noise
from autoencoders import runs as runs
from autoencoders._version import __version__
from autoencoders.blocks import (
    Bottleneck,
    BottleneckOutput,
    Condition,
    Decoder,
    Encoder,
    Prior,
    Regularizer,
    RegularizerOutput,
)
from autoencoders.io import load, save
from autoencoders.losses import ELBOLoss, KLLoss, LossOutput, ReconstructionLoss
from autoencoders.model import Autoencoder, AutoencoderOutput
from autoencoders.noise import NoiseTransform
from autoencoders.registry import (
    DuplicateNameError,
    Registry,
    UnknownArgumentError,
    UnknownNameError,
    bottlenecks,
    conditions,
    decoders,
    encoders,
    models,
    priors,
    regularizers,
)
from autoencoders.registry import losses as loss_registry
from autoencoders.registry import noise as noise_registry
from autoencoders.training import History, Trainer
from autoencoders.zoo import build, compose, list_models

#: Decorator registering an encoder class: ``@register_encoder("name")``.
register_encoder = encoders.register
#: Decorator registering a bottleneck class.
register_bottleneck = bottlenecks.register
#: Decorator registering a decoder class.
register_decoder = decoders.register
#: Decorator registering an architecture (a function returning an :class:`Autoencoder`).
register_model = models.register
#: Decorator registering a loss.
register_loss = loss_registry.register
#: Decorator registering a noise transform.
register_noise = noise_registry.register
#: Decorator registering a regularizer class (a penalty on the code or the encoder).
register_regularizer = regularizers.register
#: Decorator registering a prior class.
register_prior = priors.register
#: Decorator registering a condition class (what a conditional model sees beside ``x``).
register_condition = conditions.register

__all__ = [
    "Autoencoder",
    "AutoencoderOutput",
    "Bottleneck",
    "BottleneckOutput",
    "Condition",
    "Decoder",
    "DuplicateNameError",
    "ELBOLoss",
    "Encoder",
    "History",
    "KLLoss",
    "LossOutput",
    "NoiseTransform",
    "Prior",
    "ReconstructionLoss",
    "Registry",
    "Regularizer",
    "RegularizerOutput",
    "Trainer",
    "UnknownArgumentError",
    "UnknownNameError",
    "__version__",
    "bottlenecks",
    "build",
    "compose",
    "conditions",
    "data",
    "decoders",
    "encoders",
    "list_models",
    "load",
    "loss_registry",
    "losses",
    "models",
    "noise",
    "noise_registry",
    "priors",
    "register_bottleneck",
    "register_condition",
    "register_decoder",
    "register_encoder",
    "register_loss",
    "register_model",
    "register_noise",
    "register_prior",
    "register_regularizer",
    "regularizers",
    "runs",
    "save",
]
