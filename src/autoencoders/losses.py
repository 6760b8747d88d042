"""Loss objects: reconstruction (BCE-with-logits, MSE), KL, ELBO (with beta).

**Reduction, everywhere in this module:** sum over pixels (and over latent dimensions for
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

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
import torch.nn.functional as F

from autoencoders._utils import unwrap_model
from autoencoders.blocks.analytic import graph_free
from autoencoders.blocks.layers import (
    apply_output_activation,
    nonnegative_number,
    output_activation_grad,
)
from autoencoders.registry import losses

__all__ = [
    "AnalyticGrads",
    "CapacityELBOLoss",
    "ELBOLoss",
    "IWAELoss",
    "KLLoss",
    "Loss",
    "LossOutput",
    "ReconstructionLoss",
    "add_block_terms",
    "default_loss",
    "reconstruction_mean",
    "summed_bce_with_logits",
    "reconstruction_analytic",
    "reconstruction_per_sample",
]

RECON_KINDS = ("auto", "bce", "mse")

#: A loss's analytic gradients: ``grads(weight) -> (grad_logits, kl_weight)``, ``kl_weight``
#: being ``None`` for a loss without the KL.
AnalyticGrads = Callable[[float], tuple[torch.Tensor, "float | None"]]


@dataclass
class LossOutput:
    """A loss value and its named parts (all scalars, means over the batch).

    Attributes:
        total: the value to minimise.
        parts: named components, e.g. ``{"recon": ..., "kl": ...}``, and the blocks' terms
            and statistics (:func:`add_block_terms`); the Trainer logs each of them.

    Example:
        >>> parts = {"recon": torch.tensor(3.0), "kl": torch.tensor(0.5)}
        >>> LossOutput(total=parts["recon"] + parts["kl"], parts=parts).detached()
        {'loss': 3.5, 'recon': 3.0, 'kl': 0.5}
    """

    total: torch.Tensor
    parts: dict[str, torch.Tensor] = field(default_factory=dict)

    def detached(self) -> dict[str, float]:
        """``{"loss": total, **parts}`` as Python floats (synchronises with the device)."""
        out = {"loss": float(self.total.detach())}
        out.update({k: float(v.detach()) for k, v in self.parts.items()})
        return out


class Loss(Protocol):
    """What the Trainer calls: ``loss(output, target) -> LossOutput``."""

    def __call__(self, output: Any, target: torch.Tensor) -> LossOutput: ...


def add_block_terms(total: torch.Tensor, parts: dict[str, torch.Tensor], output: Any) -> LossOutput:
    """``total`` plus the batch mean of every term in ``output.terms``, as a :class:`LossOutput`.

    Each term (per sample ``(B,)`` or a batch-level scalar, already weighted by its block) is
    added to ``total`` and becomes a part under its name; each of ``output.stats`` becomes a
    part too (not added). A loss of your own calls this last to honour the blocks' penalties.

    Raises:
        ValueError: a term or statistic has the name of one of the loss's own parts.

    Example:
        >>> import torch
        >>> from types import SimpleNamespace
        >>> out = SimpleNamespace(terms={"penalty": torch.tensor([1.0, 3.0])},
        ...                       stats={"usage": torch.tensor(0.5)})
        >>> add_block_terms(torch.tensor(10.0), {"recon": torch.tensor(10.0)}, out).detached()
        {'loss': 12.0, 'recon': 10.0, 'penalty': 2.0, 'usage': 0.5}
    """
    parts = dict(parts)
    for source in ("terms", "stats"):
        for name, value in (getattr(output, source, None) or {}).items():
            if name in parts or name == "loss":
                raise ValueError(
                    f"a block reports a {source[:-1]} named {name!r}, which is already a part of "
                    f"the loss ({', '.join(['loss', *parts])}); rename the block's {source[:-1]}"
                )
            value = value.float().mean()
            if source == "terms":
                total = total + value
            else:
                value = value.detach()
            parts[name] = value
    return LossOutput(total=total, parts=parts)


def _sum_pixels(t: torch.Tensor, pixels: int) -> torch.Tensor:
    """Sum over the last ``pixels`` dimensions: ``(B, ...) -> (B,)``, ``(k, B, ...) -> (k, B)``."""
    return t.flatten(t.dim() - pixels).sum(dim=-1)


def _checked(
    output: Any, target: torch.Tensor, kind: str
) -> tuple[torch.Tensor, torch.Tensor, str, int]:
    """Float32 logits and target of one shape, the resolved kind and the pixel dimensions."""
    if kind not in RECON_KINDS:
        raise ValueError(
            f"unknown reconstruction loss {kind!r}; accepted: {', '.join(RECON_KINDS)}"
        )
    logits = output.logits.float()
    target = target.float()
    pixels = target.dim() - 1
    if logits.dim() == target.dim() + 1 and logits.shape[1:] == target.shape:
        target = target.expand_as(logits)  # k decoded codes per input: (k, B, ...) -> (k, B)
    if logits.shape != target.shape:
        raise ValueError(
            f"reconstruction loss: logits {tuple(logits.shape)} and target "
            f"{tuple(target.shape)} differ in shape"
        )
    act = output.output_activation
    if kind == "auto":
        kind = "bce" if act == "sigmoid" else "mse"
    if kind == "bce" and act != "sigmoid":
        raise ValueError(
            f"BCE needs a sigmoid output, but the decoder's output activation is {act!r}; "
            "use recon='mse'"
        )
    return logits, target, kind, pixels


class _SummedBCEWithLogits(torch.autograd.Function):
    """``binary_cross_entropy_with_logits(z, t, reduction="sum")``, 2.3x faster on the CPU.

    ``softplus(z) - z t`` with ``softplus(z) = relu(z) - log(sigmoid(|z|))`` (``sigmoid(|z|)``
    lies in [0.5, 1], so nothing under- or overflows), and the derivatives written out:
    ``sigmoid(z) - t`` for the logits, ``-z`` for the target. The same value and gradient to
    float32 rounding (``tests/test_fused_losses.py``); torch's own kernel goes through
    ``log_sigmoid``, whose CPU code is not vectorised (the 784-400-20 VAE spent about 8 % of a
    step in it). The backward is itself differentiable, and ``torch.func`` transforms (grad,
    vmap, jvp) work through it.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        dot = torch.dot(z.reshape(-1), t.reshape(-1))  # sum(z t) in one BLAS pass
        return torch.relu(z).sum() - dot - torch.log(torch.sigmoid(z.abs())).sum()

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[torch.Tensor, torch.Tensor], output: Any) -> None:
        z, t = inputs
        ctx.save_for_backward(z, t)
        ctx.save_for_forward(z, t)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        z, t = ctx.saved_tensors
        dz = (torch.sigmoid(z) - t) * grad if ctx.needs_input_grad[0] else None
        dt = -z * grad if ctx.needs_input_grad[1] else None
        return dz, dt

    @staticmethod
    def jvp(ctx: Any, dz: torch.Tensor | None, dt: torch.Tensor | None) -> torch.Tensor:
        z, t = ctx.saved_tensors
        out = torch.zeros((), dtype=z.dtype, device=z.device)
        if dz is not None:
            out = out + ((torch.sigmoid(z) - t) * dz).sum()
        if dt is not None:
            out = out - (z * dt).sum()
        return out


# ``Function.apply`` binds the arguments to ``forward``'s signature on every call (for
# ``setup_context``); inspect finds a stored ``__signature__`` instead of rebuilding it.
_SummedBCEWithLogits.forward.__signature__ = inspect.signature(_SummedBCEWithLogits.forward)  # type: ignore[attr-defined]


def summed_bce_with_logits(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The summed BCE of ``logits`` against ``target``, as torch's, in fewer, faster kernels.

    float16 and bfloat16 inputs are computed in float32 (as torch's autocast does for its
    BCE); float32 and float64 stay as they are.

    Example:
        >>> z, t = torch.randn(4, 10), torch.rand(4, 10)
        >>> fast = summed_bce_with_logits(z, t)
        >>> ref = F.binary_cross_entropy_with_logits(z, t, reduction="sum")
        >>> bool(torch.isclose(fast, ref, rtol=1e-6))
        True
    """
    if logits.shape != target.shape:  # as torch's: no silent broadcasting
        raise ValueError(
            f"target size {tuple(target.shape)} must be the same as the logits' size "
            f"{tuple(logits.shape)}"
        )
    if logits.element_size() < 4:
        logits = logits.float()
    if target.element_size() < 4 or target.dtype != logits.dtype:
        target = target.to(logits.dtype)
    return _SummedBCEWithLogits.apply(logits, target)


def _elementwise(logits: torch.Tensor, target: torch.Tensor, kind: str, act: str, reduction: str):
    if kind == "bce" and reduction == "sum":
        return summed_bce_with_logits(logits, target)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, target, reduction=reduction)
    return F.mse_loss(apply_output_activation(logits, act), target, reduction=reduction)


def reconstruction_per_sample(
    output: Any, target: torch.Tensor, kind: str = "auto"
) -> torch.Tensor:
    """Per-sample reconstruction loss ``(B,)`` in float32, summed over pixels.

    For an output of ``k`` decoded codes per input (logits ``(k, B, ...)``) it is ``(k, B)``:
    each code's loss against the same target.

    Args:
        output: an :class:`~autoencoders.AutoencoderOutput` (needs ``logits`` and
            ``output_activation``).
        target: the clean batch, same shape as the logits.
        kind: ``"bce"`` (binary cross-entropy on logits; needs a sigmoid output and targets in
            [0, 1]), ``"mse"`` (squared error of the activated output), or ``"auto"`` (BCE for a
            sigmoid output, MSE otherwise).
    """
    logits, target, kind, pixels = _checked(output, target, kind)
    per_pixel = _elementwise(logits, target, kind, output.output_activation, "none")
    return _sum_pixels(per_pixel, pixels)


def reconstruction_mean(output: Any, target: torch.Tensor, kind: str = "auto") -> torch.Tensor:
    """The mean of :func:`reconstruction_per_sample` over the batch (and codes), in one pass.

    One fused reduction (``reduction="sum"`` divided by the number of samples) instead of a
    per-pixel tensor, a per-sample sum and a mean: the same value to float32 rounding (a
    relative difference of about 1e-7), fewer kernels and no ``(B, pixels)`` temporary in
    the forward pass. What :class:`ReconstructionLoss` and :class:`ELBOLoss` train on.

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("vae", h=16, z=3)
        >>> x = torch.rand(8, 1, 28, 28)
        >>> out = model(x)
        >>> a, b = reconstruction_mean(out, x), reconstruction_per_sample(out, x).mean()
        >>> bool(torch.isclose(a, b, rtol=1e-6))
        True
    """
    logits, target, kind, pixels = _checked(output, target, kind)
    samples = logits.numel() // max(1, math.prod(logits.shape[logits.dim() - pixels :]))
    total = _elementwise(logits, target, kind, output.output_activation, "sum")
    return total / max(1, samples)


def reconstruction_analytic(
    output: Any, target: torch.Tensor, kind: str = "auto"
) -> tuple[torch.Tensor, Callable[[float], torch.Tensor]]:
    """:func:`reconstruction_mean` without a graph (one code per input), and
    ``grad(weight)``: ``weight`` times its gradient with respect to the logits, written out.

    The reconstruction term of the analytic step (:mod:`autoencoders.analytic`). Example:

        >>> import autoencoders
        >>> out = autoencoders.build("vae", h=8, z=2)(x := torch.rand(4, 1, 28, 28))
        >>> value, grad = reconstruction_analytic(out, x)
        >>> bool(torch.isclose(value, reconstruction_mean(out, x))), grad(1.0).shape
        (True, torch.Size([4, 1, 28, 28]))
    """
    if torch.is_grad_enabled():  # the analytic step calls this with gradients off already
        with torch.no_grad():
            return reconstruction_analytic(output, target, kind)
    logits, target, kind, _ = _checked(output, target, kind)
    n, act = max(1, len(logits)), output.output_activation
    if kind == "bce":
        value = _SummedBCEWithLogits.forward(logits, target) / n
    else:
        y = apply_output_activation(logits, act)
        value = F.mse_loss(y, target, reduction="sum") / n

    def gradient(weight: float) -> torch.Tensor:
        if kind == "bce":  # d/dz of softplus(z) - z t
            return (torch.sigmoid(logits) - target).mul_(weight / n)
        return output_activation_grad((y - target).mul_(2.0 * weight / n), y, act)

    def grad(weight: float) -> torch.Tensor:
        return graph_free(gradient, weight)

    return value, grad


@losses.register("reconstruction", aliases=("recon", "ae"))
class ReconstructionLoss:
    """Reconstruction only (the plain / denoising autoencoder's loss); any KL is ignored.

    Reduction: sum over pixels per sample, mean over the batch.

    Args:
        recon: ``"auto"`` (BCE-with-logits for a sigmoid output, else MSE), ``"bce"`` or ``"mse"``.

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("ae", h=32, z=4)
        >>> x = torch.rand(4, 1, 28, 28)
        >>> out = ReconstructionLoss("mse")(model(x), x)
        >>> list(out.parts), bool(out.total > 0)
        (['recon'], True)
    """

    def __init__(self, recon: str = "auto") -> None:
        if recon not in RECON_KINDS:
            raise ValueError(f"unknown recon {recon!r}; accepted: {', '.join(RECON_KINDS)}")
        self.recon = recon

    def __call__(self, output: Any, target: torch.Tensor) -> LossOutput:
        r = reconstruction_mean(output, target, self.recon)
        return add_block_terms(r, {"recon": r}, output)

    def analytic(self, output: Any, target: torch.Tensor) -> tuple[LossOutput, AnalyticGrads]:
        """The loss without a graph, and ``grads(weight) -> (grad_logits, kl_weight)`` for
        :mod:`autoencoders.analytic` (an output without block terms)."""
        r, grad = reconstruction_analytic(output, target, self.recon)
        return LossOutput(total=r, parts={"recon": r}), lambda w: (grad(w), None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(recon={self.recon!r})"


@losses.register("bce", aliases=("binary_cross_entropy",))
def bce() -> ReconstructionLoss:
    """BCE-with-logits reconstruction loss, summed over pixels, mean over the batch."""
    return ReconstructionLoss("bce")


@losses.register("mse", aliases=("squared_error",))
def mse() -> ReconstructionLoss:
    """Squared error of the activated output, summed over pixels, mean over the batch."""
    return ReconstructionLoss("mse")


def _require_kl(output: Any) -> torch.Tensor:
    kl = getattr(output, "kl", None)
    if kl is None:
        raise ValueError(
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
        if recon not in RECON_KINDS:
            raise ValueError(f"unknown recon {recon!r}; accepted: {', '.join(RECON_KINDS)}")
        self.recon = recon
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
        if recon not in RECON_KINDS:
            raise ValueError(f"unknown recon {recon!r}; accepted: {', '.join(RECON_KINDS)}")
        if (
            isinstance(capacity_steps, bool)
            or not isinstance(capacity_steps, int)
            or capacity_steps < 1
        ):
            raise ValueError(f"capacity_steps must be a positive int, got {capacity_steps!r}")
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
        if recon not in RECON_KINDS:
            raise ValueError(f"unknown recon {recon!r}; accepted: {', '.join(RECON_KINDS)}")
        self.recon = recon

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
