"""The variational objectives: the KL alone, the (beta-)ELBO, the capacity-controlled ELBO
and the IWAE's importance-weighted bound. Each needs a Gaussian bottleneck's ``output.kl``.

Reduction: the reconstruction summed over pixels and the KL over latent dimensions, per
sample, then the mean over the batch (see :mod:`autoencoders.losses`).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from autoencoders.blocks.layers import nonnegative_number
from autoencoders.errors import InvalidValueError
from autoencoders.losses.output import AnalyticGrads, LossOutput, add_block_terms
from autoencoders.losses.reconstruction import (
    recon_kind,
    reconstruction_analytic,
    reconstruction_mean,
    reconstruction_per_sample,
)
from autoencoders.registry import losses

__all__ = ["CapacityELBOLoss", "ELBOLoss", "IWAELoss", "KLLoss"]


def _require_kl(output: Any) -> torch.Tensor:
    kl = getattr(output, "kl", None)
    if kl is None:
        raise InvalidValueError(
            "this loss needs a Gaussian bottleneck (output.kl is None); use the "
            "'reconstruction' loss for a deterministic autoencoder"
        )
    return kl.float()


@losses.register("kl", aliases=("kld",))
class KLLoss:
    """``KL(q(z|x) || N(0, I))``: summed over latent dims per sample, mean over the batch.

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("vae", h=16, z=3)
        >>> bool(KLLoss()(model(torch.rand(2, 1, 28, 28)), None).total >= 0)
        True
    """

    def __call__(self, output: Any, target: torch.Tensor | None) -> LossOutput:
        kl = _require_kl(output).mean()
        return add_block_terms(kl, {"kl": kl}, output)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@losses.register("elbo", aliases=("vae", "beta_vae"))
class ELBOLoss:
    """Negative ELBO with a KL weight: ``recon + beta * kl``.

    Reduction: reconstruction summed over pixels and KL summed over latent dims, per sample;
    both averaged over the batch. With BCE and ``beta=1`` the total is the negative ELBO in nats
    per sample. Parts: ``recon`` and ``kl`` (unweighted).

    Args:
        recon: ``"auto"``, ``"bce"`` or ``"mse"`` (see :func:`reconstruction_per_sample`).
        beta: weight of the KL term (1 for the VAE, > 1 for a beta-VAE).

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("vae", h=16, z=3)
        >>> x = torch.rand(4, 1, 28, 28)
        >>> out = ELBOLoss(beta=2.0)(model(x), x)
        >>> bool(torch.isclose(out.total, out.parts["recon"] + 2.0 * out.parts["kl"]))
        True
    """

    def __init__(self, recon: str = "auto", beta: float = 1.0) -> None:
        self.recon = recon_kind(recon)
        self.beta = nonnegative_number(beta, "beta")

    def __call__(self, output: Any, target: torch.Tensor) -> LossOutput:
        r = reconstruction_mean(output, target, self.recon)
        kl = _require_kl(output).mean()
        # beta = 1 (the VAE) adds the KL as it is: the same number, one kernel less
        total = r + kl if self.beta == 1.0 else r + self.beta * kl
        return add_block_terms(total, {"recon": r, "kl": kl}, output)

    def analytic(self, output: Any, target: torch.Tensor) -> tuple[LossOutput, AnalyticGrads]:
        """As :meth:`ReconstructionLoss.analytic`; ``kl_weight`` is ``beta / B``."""
        r, grad = reconstruction_analytic(output, target, self.recon)
        kl = _require_kl(output).mean()
        total = r + kl if self.beta == 1.0 else r + self.beta * kl
        n = max(1, len(output.kl))
        return LossOutput(total, {"recon": r, "kl": kl}), lambda w: (grad(w), self.beta * w / n)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(recon={self.recon!r}, beta={self.beta})"


@losses.register("capacity_elbo", aliases=("capacity_vae",))
class CapacityELBOLoss:
    """The capacity-controlled beta-VAE objective (Burgess et al. 2018): ``recon + gamma * |kl - C|``.

    The KL (summed over latent dims, per sample, then the batch mean) is pushed towards a
    target capacity ``C`` that grows linearly from 0 to ``capacity`` nats over
    ``capacity_steps`` optimizer steps and then stays there, so the code gains information
    gradually. The :class:`~autoencoders.Trainer` tells the loss the step (``set_step``)
    before every batch and before validation; outside a Trainer call :meth:`set_step`
    yourself (the capacity starts at 0). Parts: ``recon``, ``kl`` and ``capacity`` (the
    current ``C``).

    Args:
        recon: ``"auto"``, ``"bce"`` or ``"mse"`` (see :func:`reconstruction_per_sample`).
        gamma: weight of ``|kl - C|`` (1000 in the paper).
        capacity: the final capacity ``C_max`` in nats (25 in the paper's dSprites runs).
        capacity_steps: optimizer steps over which ``C`` grows from 0 to ``capacity``.

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("vae", h=16, z=3)
        >>> loss = CapacityELBOLoss(gamma=10.0, capacity=5.0, capacity_steps=100)
        >>> loss.set_step(50)
        >>> x = torch.rand(4, 1, 28, 28)
        >>> out = loss(model(x), x)
        >>> float(out.parts["capacity"])
        2.5
        >>> bool(torch.isclose(out.total,
        ...      out.parts["recon"] + 10.0 * (out.parts["kl"] - 2.5).abs()))
        True
    """

    def __init__(
        self,
        recon: str = "auto",
        gamma: float = 1000.0,
        capacity: float = 25.0,
        capacity_steps: int = 100_000,
    ) -> None:
        recon = recon_kind(recon)
        if (
            isinstance(capacity_steps, bool)
            or not isinstance(capacity_steps, int)
            or capacity_steps < 1
        ):
            raise InvalidValueError(
                f"capacity_steps must be a positive int, got {capacity_steps!r}"
            )
        self.recon = recon
        self.gamma = nonnegative_number(gamma, "gamma")
        self.capacity = nonnegative_number(capacity, "capacity")
        self.capacity_steps = capacity_steps
        self.step = 0

    def set_step(self, step: int) -> None:
        """The number of optimizer steps taken so far (the Trainer calls this)."""
        self.step = int(step)

    @property
    def current_capacity(self) -> float:
        """``C`` at the current step: ``capacity * min(1, step / capacity_steps)``."""
        return self.capacity * min(1.0, self.step / self.capacity_steps)

    def __call__(self, output: Any, target: torch.Tensor) -> LossOutput:
        r = reconstruction_mean(output, target, self.recon)
        kl = _require_kl(output).mean()
        c = self.current_capacity
        parts = {"recon": r, "kl": kl, "capacity": torch.full_like(kl, c)}
        return add_block_terms(r + self.gamma * (kl - c).abs(), parts, output)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(recon={self.recon!r}, gamma={self.gamma}, "
            f"capacity={self.capacity}, capacity_steps={self.capacity_steps})"
        )


_LOG_2PI = math.log(2 * math.pi)


@losses.register("iwae", aliases=("importance_weighted",))
class IWAELoss:
    """Negative importance-weighted bound of the IWAE (Burda et al. 2016), over the model's
    ``k`` codes per input.

    With ``z_1..z_k ~ q(z|x)`` drawn by the bottleneck (``GaussianBottleneck(samples=k)``, one
    encoder pass), per sample::

        log w_i = log p(x|z_i) + log N(z_i; 0, I) - log q(z_i|x)
        loss    = -(logsumexp_i log w_i - log k)

    then the mean over the batch. ``log p(x|z) = -recon``: exact for BCE (Bernoulli); for
    ``"mse"`` it is the Gaussian with variance 1/2 without its constant ``D/2 log(pi)``
    (no effect on the gradients). With one code (``k = 1``) the loss is the negative ELBO with
    a sampled KL, equal to :class:`ELBOLoss` in expectation; a larger ``k`` gives a tighter
    bound. Parts: ``recon`` (mean over codes) and ``kl`` (closed form), for reference.

    Args:
        recon: ``"auto"``, ``"bce"`` or ``"mse"`` (see :func:`reconstruction_per_sample`).

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("iwae", h=16, z=2, k=5)
        >>> x = torch.rand(3, 1, 28, 28)
        >>> out = model(x)
        >>> out.z.shape, sorted(IWAELoss()(out, x).parts)
        (torch.Size([5, 3, 2]), ['kl', 'recon'])
    """

    def __init__(self, recon: str = "auto") -> None:
        self.recon = recon_kind(recon)

    def __call__(self, output: Any, target: torch.Tensor) -> LossOutput:
        kl = _require_kl(output)
        mean, logvar = output.mean.float(), output.logvar.float()
        z = output.z.float()
        z = z if z.dim() == 3 else z.unsqueeze(0)  # (k, B, Z)
        recon = reconstruction_per_sample(output, target, self.recon)
        recon = recon if recon.dim() == 2 else recon.unsqueeze(0)  # (k, B)
        log_q = -0.5 * ((z - mean).pow(2) / logvar.exp() + logvar + _LOG_2PI).sum(-1)
        log_p = -0.5 * (z.pow(2) + _LOG_2PI).sum(-1)
        log_w = -recon + log_p - log_q
        bound = torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])
        parts = {"recon": recon.mean(), "kl": kl.mean()}
        return add_block_terms(-bound.mean(), parts, output)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(recon={self.recon!r})"
