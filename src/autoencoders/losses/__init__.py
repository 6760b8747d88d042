"""Loss objects: reconstruction (BCE-with-logits, MSE), KL, the (beta-)ELBO, the capacity ELBO and
the IWAE bound.

**Reduction, everywhere in this package:** sum over pixels (and over latent dimensions for
the KL) per sample, then mean over the batch. For BCE this is the negative log-likelihood in
nats per sample, the number the classic VAE papers and the PyTorch VAE example report (that
example sums over the batch too; divide its figure by the batch size to compare). The
Keras-style "MSE" that tutorials quote, a mean per pixel, is a metric reported beside the loss
(see :mod:`autoencoders.metrics`), not a different training loss.

Losses take the model's :class:`~autoencoders.AutoencoderOutput` (logits, and ``kl`` for
Gaussian models) and the *clean* target, and compute in float32 even under autocast. Every
loss here also adds the terms the model's blocks report on the output (a VQ codebook's
commitment, a sparsity or contractive penalty: ``output.terms``, see :func:`add_block_terms`)
and passes their statistics (``output.stats``) on as parts, so a new block's penalty needs no
new loss::

    >>> import torch, autoencoders
    >>> model = autoencoders.build("vae", h=32, z=4)
    >>> x = torch.rand(8, 1, 28, 28)
    >>> out = autoencoders.losses.ELBOLoss()(model(x), x)
    >>> sorted(out.parts), out.total.shape
    (['kl', 'recon'], torch.Size([]))
"""

from __future__ import annotations

from typing import Any

from autoencoders._utils import unwrap_model
from autoencoders.losses.output import AnalyticGrads, Loss, LossOutput, add_block_terms
from autoencoders.losses.reconstruction import (
    RECON_KINDS,
    ReconstructionLoss,
    bce,
    mse,
    recon_kind,
    reconstruction_analytic,
    reconstruction_mean,
    reconstruction_per_sample,
    summed_bce_with_logits,
)
from autoencoders.losses.variational import CapacityELBOLoss, ELBOLoss, IWAELoss, KLLoss
from autoencoders.registry import losses

__all__ = [
    "RECON_KINDS",
    "AnalyticGrads",
    "CapacityELBOLoss",
    "ELBOLoss",
    "IWAELoss",
    "KLLoss",
    "Loss",
    "LossOutput",
    "ReconstructionLoss",
    "add_block_terms",
    "bce",
    "default_loss",
    "mse",
    "recon_kind",
    "reconstruction_analytic",
    "reconstruction_mean",
    "reconstruction_per_sample",
    "summed_bce_with_logits",
]


def default_loss(model: Any) -> Any:
    """The loss the model names (``model.loss_spec``, e.g. a beta-VAE's weighted ELBO), else
    ELBO for a model with a Gaussian bottleneck and reconstruction otherwise.

    Example:
        >>> import autoencoders
        >>> default_loss(autoencoders.build("vae"))
        ELBOLoss(recon='auto', beta=1.0)
        >>> default_loss(autoencoders.build("conv_ae"))
        ReconstructionLoss(recon='auto')
    """
    model = unwrap_model(model)
    spec = getattr(model, "loss_spec", None)
    if spec is not None:
        return losses.build(spec["name"], **dict(spec.get("kwargs") or {}))
    return ELBOLoss() if getattr(model, "is_variational", False) else ReconstructionLoss()
