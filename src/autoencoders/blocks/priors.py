"""Priors over the code: what a generative model samples from and a penalty compares to.

A prior is a registered block with :meth:`Prior.sample` and :meth:`Prior.log_prob`. The
Gaussian bottleneck's KL is the closed form for the standard normal; the MMD bottleneck (the
Wasserstein autoencoder) draws from a prior of its choice, by name, to compare the batch's
codes with it and to :meth:`~autoencoders.Autoencoder.sample`.
"""

from __future__ import annotations

import math

import torch

from autoencoders.blocks.base import Block
from autoencoders.blocks.layers import positive_int
from autoencoders.registry import priors

__all__ = ["Prior", "StandardNormalPrior"]


class Prior(Block):
    """A distribution over codes of size ``z``: draw from it and score codes under it.

    Subclasses set ``self.z_dim`` and implement :meth:`sample` and :meth:`log_prob`.
    """

    registry_kind = "prior"
    z_dim: int

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """``n`` codes ``(n, z)`` drawn from the prior."""
        raise NotImplementedError

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """``log p(z)`` per code, ``(B,)``, summed over the latent dimensions."""
        raise NotImplementedError


@priors.register("standard_normal", aliases=("normal", "gaussian"))
class StandardNormalPrior(Prior):
    """``N(0, I)`` over ``z`` dimensions.

    Args:
        z: the code size.

    Example:
        >>> prior = StandardNormalPrior(z=3)
        >>> prior.sample(4, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 3])
        >>> round(float(prior.log_prob(torch.zeros(1, 3))), 4)  # -3/2 log(2 pi)
        -2.7568
    """

    def __init__(self, z: int = 20) -> None:
        super().__init__()
        self.z_dim = positive_int(z, "z")

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        n = positive_int(n, "number of samples")
        return torch.randn(n, self.z_dim, generator=generator, device=device, dtype=dtype)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        z = z.float()
        return -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(dim=-1)
