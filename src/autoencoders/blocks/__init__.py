"""Registered building blocks: encoders, bottlenecks and decoders.

Every architecture is ``Encoder -> Bottleneck -> Decoder``. Subclass :class:`Encoder`,
:class:`Bottleneck` or :class:`Decoder` and register the class to add your own; its
constructor keywords are recorded so models using it save and load by name.
"""

from autoencoders.blocks.base import (
    Block,
    BlockSpec,
    Bottleneck,
    BottleneckOutput,
    Decoder,
    Encoder,
    spec_of,
)
from autoencoders.blocks.bottlenecks import DeterministicBottleneck, GaussianBottleneck, gaussian_kl
from autoencoders.blocks.decoders import ConvDecoder, MLPDecoder
from autoencoders.blocks.encoders import ConvEncoder, MLPEncoder
from autoencoders.blocks.layers import apply_output_activation, make_activation

__all__ = [
    "Block",
    "BlockSpec",
    "Bottleneck",
    "BottleneckOutput",
    "ConvDecoder",
    "ConvEncoder",
    "Decoder",
    "DeterministicBottleneck",
    "Encoder",
    "GaussianBottleneck",
    "MLPDecoder",
    "MLPEncoder",
    "apply_output_activation",
    "gaussian_kl",
    "make_activation",
    "spec_of",
]
