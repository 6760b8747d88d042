"""Reconstruction terms: the summed BCE-with-logits and the squared error, per sample, as a
batch mean, and written out for the analytic step; and :class:`ReconstructionLoss`.

Reduction: sum over pixels per sample, then mean over the batch (see :mod:`autoencoders.losses`).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from autoencoders.blocks.analytic import graph_free
from autoencoders.blocks.layers import apply_output_activation, output_activation_grad
from autoencoders.errors import InvalidTypeError, InvalidValueError
from autoencoders.losses.output import AnalyticGrads, LossOutput, add_block_terms
from autoencoders.registry import losses

__all__ = [
    "RECON_KINDS",
    "ReconstructionLoss",
    "bce",
    "mse",
    "recon_kind",
    "reconstruction_analytic",
    "reconstruction_mean",
    "reconstruction_per_sample",
    "summed_bce_with_logits",
]

#: The reconstruction terms a loss's ``recon`` names: ``"auto"`` (BCE for a sigmoid output,
#: MSE otherwise), ``"bce"`` and ``"mse"``.
RECON_KINDS = ("auto", "bce", "mse")


def recon_kind(recon: Any) -> str:
    """``recon`` itself if it is one of :data:`RECON_KINDS`, else a ValueError naming it.

    Example:
        >>> recon_kind("bce")
        'bce'
        >>> recon_kind("l1")
        Traceback (most recent call last):
        ...
        autoencoders.errors.InvalidValueError: unknown recon 'l1'; accepted: auto, bce, mse
    """
    if not isinstance(recon, str) or recon not in RECON_KINDS:
        raise InvalidValueError(f"unknown recon {recon!r}; accepted: {', '.join(RECON_KINDS)}")
    return recon


def _sum_pixels(t: torch.Tensor, pixels: int) -> torch.Tensor:
    """Sum over the last ``pixels`` dimensions: ``(B, ...) -> (B,)``, ``(k, B, ...) -> (k, B)``."""
    return t.flatten(t.dim() - pixels).sum(dim=-1)


def _checked(
    output: Any, target: torch.Tensor, kind: str
) -> tuple[torch.Tensor, torch.Tensor, str, int]:
    """Float32 logits and target of one shape, the resolved kind and the pixel dimensions."""
    if kind not in RECON_KINDS:
        raise InvalidValueError(
            f"unknown reconstruction loss {kind!r}; accepted: {', '.join(RECON_KINDS)}"
        )
    if not isinstance(getattr(output, "logits", None), torch.Tensor):
        raise InvalidTypeError(
            f"a loss takes the model's output (an AutoencoderOutput with logits), got "
            f"{type(output).__name__}"
        )
    if not isinstance(target, torch.Tensor) or not target.is_floating_point():
        got = (
            f"a {target.dtype} tensor"
            if isinstance(target, torch.Tensor)
            else type(target).__name__
        )
        raise InvalidTypeError(
            f"the loss's target must be the float batch the model reconstructs, got {got}; "
            "scale uint8 images as the model does (x.float() / 255 for [0, 1])"
        )
    logits = output.logits.float()
    target = target.float()
    pixels = target.dim() - 1
    if logits.dim() == target.dim() + 1 and logits.shape[1:] == target.shape:
        target = target.expand_as(logits)  # k decoded codes per input: (k, B, ...) -> (k, B)
    if logits.shape != target.shape:
        raise InvalidValueError(
            f"reconstruction loss: logits {tuple(logits.shape)} and target "
            f"{tuple(target.shape)} differ in shape"
        )
    act = output.output_activation
    if kind == "auto":
        kind = "bce" if act == "sigmoid" else "mse"
    if kind == "bce" and act != "sigmoid":
        raise InvalidValueError(
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
        raise InvalidValueError(
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
        self.recon = recon_kind(recon)

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
