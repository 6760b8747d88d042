"""Registered building blocks: encoders, bottlenecks, decoders, regularizers, priors and
conditions.

Every architecture is ``Encoder -> Bottleneck -> Decoder``, plus optional
:class:`Regularizer` s (penalties on the code or the encoder) and a :class:`Condition` (a
label a conditional model sees). Subclass :class:`Encoder`,
:class:`Bottleneck`, :class:`Decoder`, :class:`Regularizer` or :class:`Prior` and register the
class to add your own; its constructor keywords are recorded so models using it save and load
by name. A block's own loss terms (a VQ codebook's, an MMD or a sparsity penalty) go on its
output as named ``terms``, which every built-in loss adds.
"""

from autoencoders.blocks.base import (
    Block,
    BlockSpec,
    Bottleneck,
    BottleneckOutput,
    Decoder,
    Encoder,
    Regularizer,
    RegularizerOutput,
    spec_of,
)
from autoencoders.blocks.bottlenecks import (
    DeterministicBottleneck,
    GaussianBottleneck,
    MMDBottleneck,
    gaussian_kl,
    imq_mmd,
)
from autoencoders.blocks.conditions import Condition, LabelCondition
from autoencoders.blocks.decoders import ConvDecoder, MLPDecoder
from autoencoders.blocks.encoders import ConvEncoder, MLPEncoder
from autoencoders.blocks.layers import apply_output_activation, make_activation
from autoencoders.blocks.priors import Prior, StandardNormalPrior
from autoencoders.blocks.quantize import VQBottleneck, codebook_perplexity
from autoencoders.blocks.regularizers import (
    ContractiveRegularizer,
    SparsityRegularizer,
    jacobian_frobenius,
)

__all__ = [
    "Block",
    "BlockSpec",
    "Bottleneck",
    "BottleneckOutput",
    "Condition",
    "ContractiveRegularizer",
    "ConvDecoder",
    "ConvEncoder",
    "Decoder",
    "DeterministicBottleneck",
    "Encoder",
    "GaussianBottleneck",
    "LabelCondition",
    "MLPDecoder",
    "MLPEncoder",
    "MMDBottleneck",
    "Prior",
    "Regularizer",
    "RegularizerOutput",
    "SparsityRegularizer",
    "StandardNormalPrior",
    "VQBottleneck",
    "apply_output_activation",
    "codebook_perplexity",
    "gaussian_kl",
    "imq_mmd",
    "jacobian_frobenius",
    "make_activation",
    "spec_of",
]
