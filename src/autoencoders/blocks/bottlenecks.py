"""Bottlenecks: deterministic (AE) and Gaussian (VAE), interchangeable behind one contract."""

from __future__ import annotations

import torch
from torch import nn

from autoencoders.blocks.base import Bottleneck, BottleneckOutput
from autoencoders.blocks.layers import make_activation, positive_int
from autoencoders.registry import bottlenecks

__all__ = ["DeterministicBottleneck", "GaussianBottleneck", "gaussian_kl"]


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Closed-form ``KL(N(mean, exp(logvar)) || N(0, I))`` summed over latent dims, per sample.

    ``KL = 1/2 * sum(mean^2 + exp(logvar) - 1 - logvar)``, computed in float32 (or float64 if
    given float64) whatever the autocast dtype, and returned with shape ``(B,)``.

    Example:
        >>> gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3))
        tensor([0., 0.])
        >>> gaussian_kl(torch.ones(1, 2), torch.zeros(1, 2))
        tensor([1.])
    """
    dtype = torch.float64 if mean.dtype == torch.float64 else torch.float32
    m, lv = mean.to(dtype), logvar.to(dtype)
    # written as 1/2 * sum(m^2 + exp(lv) - 1 - lv) so that m = lv = 0 gives exactly +0
    return 0.5 * torch.sum(m.pow(2) + lv.exp() - 1.0 - lv, dim=tuple(range(1, m.dim())))


@bottlenecks.register("deterministic", aliases=("linear", "ae"))
class DeterministicBottleneck(Bottleneck):
    """``z = activation(W h + b)``: the plain autoencoder's code layer.

    Args:
        in_features: encoder feature size ``F``.
        z: latent size.
        activation: optional activation on ``z`` (``"none"``, ``"tanh"``, ``"relu"``, ...).

    Example:
        >>> b = DeterministicBottleneck(in_features=400, z=2, activation="tanh")
        >>> out = b(torch.randn(4, 400))
        >>> out.z.shape, out.kl is None, bool(out.z.abs().max() <= 1)
        (torch.Size([4, 2]), True, True)
    """

    def __init__(self, in_features: int, z: int = 20, activation: str = "none") -> None:
        super().__init__()
        self.in_features = positive_int(in_features, "in_features")
        self.z_dim = positive_int(z, "z")
        self.fc = nn.Linear(self.in_features, self.z_dim)
        self.act = make_activation(activation)

    def forward(self, h: torch.Tensor) -> BottleneckOutput:
        return BottleneckOutput(z=self.act(self.fc(h)))


@bottlenecks.register("gaussian", aliases=("vae", "normal"))
class GaussianBottleneck(Bottleneck):
    """Mean and log-variance heads with the reparameterisation ``z = mean + exp(logvar/2) * eps``.

    In training mode ``z`` is a sample; in eval mode it is the mean (set
    ``sample_in_eval=True`` to sample there too). ``kl`` is the closed-form KL divergence to
    ``N(0, I)`` per sample (see :func:`gaussian_kl`). The prior can be sampled with
    :meth:`sample_prior`.

    Args:
        in_features: encoder feature size ``F``.
        z: latent size.
        sample_in_eval: draw ``z`` in eval mode too, instead of returning the mean.

    Example:
        >>> b = GaussianBottleneck(in_features=400, z=20)
        >>> out = b(torch.randn(8, 400))
        >>> out.z.shape, out.mean.shape, out.logvar.shape, out.kl.shape
        (torch.Size([8, 20]), torch.Size([8, 20]), torch.Size([8, 20]), torch.Size([8]))
        >>> b.sample_prior(3).shape
        torch.Size([3, 20])
    """

    is_gaussian = True

    def __init__(self, in_features: int, z: int = 20, sample_in_eval: bool = False) -> None:
        super().__init__()
        self.in_features = positive_int(in_features, "in_features")
        self.z_dim = positive_int(z, "z")
        self.sample_in_eval = bool(sample_in_eval)
        self.mean = nn.Linear(self.in_features, self.z_dim)
        self.logvar = nn.Linear(self.in_features, self.z_dim)

    def forward(
        self,
        h: torch.Tensor,
        *,
        sample: bool | None = None,
        generator: torch.Generator | None = None,
    ) -> BottleneckOutput:
        """Heads, then ``z``: a draw when ``sample`` (default: training or ``sample_in_eval``).

        Args:
            h: encoder features ``(B, in_features)``.
            sample: draw ``z`` (True) or return the mean (False) whatever the mode; None
                follows the mode.
            generator: the generator of ``eps``, drawn as
                ``torch.randn(mean.shape, generator=generator, device=..., dtype=...)``.
        """
        mean, logvar = self.mean(h), self.logvar(h)
        if sample is None:
            sample = self.training or self.sample_in_eval
        if sample:
            eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
            z = mean + torch.exp(0.5 * logvar) * eps
        else:
            z = mean
        return BottleneckOutput(z=z, mean=mean, logvar=logvar, kl=gaussian_kl(mean, logvar))

    def sample_prior(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """``n`` draws from ``N(0, I)`` of shape ``(n, z)`` on the module's device by default."""
        n = positive_int(n, "number of samples")
        if device is None:
            device = self.mean.weight.device
        return torch.randn(
            n, self.z_dim, generator=generator, device=device, dtype=self.mean.weight.dtype
        )
