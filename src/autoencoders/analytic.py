"""The analytic training step: an autoencoder's forward pass, loss and gradients without autograd.

For a dense autoencoder on a CPU, a fifth of a training step is autograd's bookkeeping, not
arithmetic: a graph node, saved tensors and a dispatch for each of the step's forty-odd small
operations. The gradients of the layers such models are made of are short formulas, so the
blocks and losses that support it compute them directly (:mod:`autoencoders.blocks.analytic`
describes the protocol): no graph is recorded, the forward pass keeps exactly the tensors the
gradients need, and the backward pass adds each parameter's gradient to its ``.grad`` as
``loss.backward()`` would. The values are autograd's to float rounding
(``tests/test_analytic.py`` compares losses, gradients and whole fits), the random draws
(noise, ``eps``) are the same calls in the same order, and the optimizer, gradient clipping,
schedules and checkpoints see ``.grad`` as usual.

:class:`~autoencoders.training.Trainer` uses it by itself (``analytic=True``, the default)
whenever :func:`step_unsupported` finds nothing against it and the run uses neither amp,
``compile`` nor several processes; :attr:`~autoencoders.training.Trainer.step_kind` says which
step trains and, for autograd, why. It supports an
:class:`~autoencoders.Autoencoder` without regularizers whose encoder, bottleneck and
decoder offer ``analytic_forward`` (the MLP encoder and decoder, the deterministic and
Gaussian bottlenecks, or blocks of your own), float32 parameters without hooks, and a loss
with ``analytic`` (:class:`~autoencoders.losses.ELBOLoss`,
:class:`~autoencoders.losses.ReconstructionLoss`). A conditional model (``build("cvae")``)
joins when its condition has no trainable parameters (the one-hot label, not a learned
embedding): the step takes the labels as ``model(x, labels=y)`` does.

Example:
    >>> import torch, autoencoders
    >>> from autoencoders.losses import ELBOLoss
    >>> model, loss = autoencoders.build("vae", h=32, z=4).train(), ELBOLoss()
    >>> step_unsupported(model, loss) is None
    True
    >>> x = torch.rand(8, 1, 28, 28)
    >>> _ = torch.manual_seed(0); out, backward = AnalyticStep(model, loss)(x)
    >>> backward()                                    # fills every parameter's .grad
    >>> analytic = [p.grad.clone() for p in model.parameters()]
    >>> model.zero_grad(set_to_none=True)
    >>> _ = torch.manual_seed(0); reference = loss(model(x), x)
    >>> reference.total.backward()
    >>> bool(torch.isclose(out.total, reference.total))
    True
    >>> all(torch.allclose(a, p.grad, rtol=1e-4, atol=1e-6)
    ...     for a, p in zip(analytic, model.parameters()))
    True
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.modules import module as module_globals

from autoencoders._inputs import model_input
from autoencoders.blocks.analytic import has_hooks
from autoencoders.errors import InvalidValueError
from autoencoders.losses import LossOutput
from autoencoders.model import Autoencoder, AutoencoderOutput

__all__ = ["AnalyticStep", "step_unsupported"]

#: ``backward(scale=1.0)``: adds ``scale`` times the loss's gradients to the parameters' ``.grad``.
StepBackward = Callable[..., None]


def _declines(obj: Any, method: str, computes: tuple[str, ...]) -> str | None:
    """Why ``obj.<method>`` may not stand in for what ``obj`` computes through the methods
    ``computes``: it has none, or one of those comes from a class that is not the one that
    wrote ``method`` nor above it in the hierarchy (a subclass or mixin whose forward
    computes something else); else the object's own ``analytic_unsupported()``."""
    name = type(obj).__name__
    mro = type(obj).__mro__
    writer = next((c for c in mro if method in vars(c)), None)
    if writer is None or not callable(getattr(obj, method, None)):
        return f"{name} has no {method}"
    for computed in computes:
        owner = next((c for c in mro if computed in vars(c)), None)
        if owner is not None and owner is not writer and not issubclass(writer, owner):
            return f"{name} overrides {computed} but not {method}"
    unsupported = getattr(obj, "analytic_unsupported", None)
    return unsupported() if callable(unsupported) else None


#: What :meth:`Autoencoder.forward` calls: a subclass that changes one of them is declined.
_MODEL_METHODS = (
    "__call__", "forward", "_check_input", "condition_vectors", "_encoder_features", "_decode_logits",
)  # fmt: skip


def _global_hooks() -> bool:
    names = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks")
    return any(getattr(module_globals, n, None) for n in (*names, "_global_backward_pre_hooks"))


def step_unsupported(model: nn.Module, loss: Any) -> str | None:
    """``None`` when :class:`AnalyticStep` trains ``model`` on ``loss`` exactly as autograd
    would, otherwise the reason it does not.

    Example:
        >>> import autoencoders
        >>> from autoencoders.losses import ELBOLoss
        >>> step_unsupported(autoencoders.build("vae", h=16, z=2), ELBOLoss()) is None
        True
        >>> step_unsupported(autoencoders.build("small_conv_ae"), ELBOLoss())
        'ConvEncoder has no analytic_forward'
    """
    if not isinstance(model, Autoencoder):
        return f"{type(model).__name__} is not an Autoencoder"
    for cls in type(model).__mro__[: type(model).__mro__.index(Autoencoder)]:
        for method in _MODEL_METHODS:
            if method in vars(cls):
                return f"{cls.__name__} overrides Autoencoder.{method}"
    condition = model.condition
    if condition is not None and any(p.requires_grad for p in condition.parameters()):
        return f"{type(condition).__name__} with trainable parameters (a learned embedding)"
    if len(model.regularizers):
        return "a model with regularizers"
    if _global_hooks():
        return "global module hooks are registered"
    for m in model.modules():
        if has_hooks(m):
            return f"{type(m).__name__} has hooks"
    for p in model.parameters():
        if p.dtype != torch.float32:
            return f"parameters of dtype {p.dtype} (float32 only)"
        if p._backward_hooks or getattr(p, "_post_accumulate_grad_hooks", None):
            return "a parameter has gradient hooks"
    noise = model.noise
    if isinstance(noise, nn.Module) and any(p.requires_grad for p in noise.parameters()):
        return "a noise transform with trainable parameters"
    for block in (model.encoder, model.bottleneck, model.decoder):
        reason = _declines(block, "analytic_forward", ("forward", "__call__"))
        if reason is not None:
            return reason
    if condition is not None and getattr(model.encoder, "condition_features", 0):
        forward = model.encoder.analytic_forward
        if "condition" not in inspect.signature(forward).parameters:
            return f"{type(model.encoder).__name__}.analytic_forward takes no condition"
    return _declines(loss, "analytic", ("__call__",))


class AnalyticStep:
    """``loss(model(x), x)`` and its gradients, computed without autograd.

    Calling it, ``step(x)`` or ``step(x, labels)`` for a conditional model, runs the forward
    pass (corrupting and drawing as ``model(x, labels=labels)`` does in its present mode) and
    the loss, and returns the :class:`~autoencoders.losses.LossOutput`
    (values without a graph) and ``backward(scale=1.0)``, which adds ``scale`` times the
    gradient of ``total`` to every trainable parameter's ``.grad``. Check
    :func:`step_unsupported` first: the step assumes what it checks.

    Args:
        model: an :class:`~autoencoders.Autoencoder` that :func:`step_unsupported` accepts.
        loss: the loss, with ``analytic(output, target)``.
    """

    def __init__(self, model: Autoencoder, loss: Any) -> None:
        self.model, self.loss = model, loss

    def __call__(self, x: torch.Tensor, labels: Any = None) -> tuple[LossOutput, StepBackward]:
        with torch.no_grad():  # once for the whole pass: the blocks then open no context
            values, grads, backs = self._forward(x, labels)

        def backward(scale: float = 1.0) -> None:
            back_encoder, back_bottleneck, back_decoder = backs
            with torch.no_grad():
                grad_logits, kl_weight = grads(scale)
                back_encoder(back_bottleneck(back_decoder(grad_logits), kl_weight))

        return values, backward

    def _forward(
        self, x: torch.Tensor, labels: Any
    ) -> tuple[LossOutput, Any, tuple[Any, Any, Any]]:
        model = self.model
        clean = x
        x = model_input(
            model, x, "Autoencoder.forward", getattr(model.encoder, "input_shape", None),
            model.pixel_range,
        )  # fmt: skip
        c = model.condition_vectors(labels, len(x), "Autoencoder.forward")
        corrupted = None
        if model.training and model.noise is not None:
            corrupted = x = model.noise(x)
        if c is None:
            h, back_encoder = model.encoder.analytic_forward(x)
        else:
            if getattr(model.encoder, "condition_features", 0):
                h, back_features = model.encoder.analytic_forward(x, condition=c)
            else:
                h, back_features = model.encoder.analytic_forward(x)
            back_encoder = _appended(back_features, h.shape[1])
            h = torch.cat([h, c.to(h.dtype)], dim=1)
        b, back_bottleneck = model.bottleneck.analytic_forward(h)
        if b.terms or b.stats:
            raise InvalidValueError(
                f"{type(model.bottleneck).__name__}.analytic_forward reports terms or "
                "statistics, which the analytic step does not differentiate; decline in its "
                "analytic_unsupported()"
            )
        if c is None:
            logits, back_decoder = model.decoder.analytic_forward(b.z)
        else:
            logits, back_code = model.decoder.analytic_forward(torch.cat([b.z, c.to(b.z.dtype)], 1))
            back_decoder = _sliced(back_code, b.z.shape[1])
        output = AutoencoderOutput(
            logits=logits, z=b.z, output_activation=model.output_activation, mean=b.mean,
            logvar=b.logvar, kl=b.kl, corrupted=corrupted,
        )  # fmt: skip
        values, grads = self.loss.analytic(output, clean)
        return values, grads, (back_encoder, back_bottleneck, back_decoder)

    def __repr__(self) -> str:
        return f"AnalyticStep({type(self.model).__name__}, {type(self.loss).__name__})"


def _appended(backward: Callable[[torch.Tensor], Any], width: int) -> Callable[..., Any]:
    """The encoder's backward behind the appended condition: the features' gradient is the
    first ``width`` columns of the bottleneck's input gradient (the condition is data)."""
    return lambda g: backward(g[:, :width])


def _sliced(backward: Callable[[torch.Tensor], Any], width: int) -> Callable[..., Any]:
    """The decoder's backward on ``[z, c]``, returning the gradient of ``z`` alone."""
    return lambda g: backward(g)[:, :width]
