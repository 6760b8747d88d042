"""Forward passes with their gradients written out by hand: the analytic training step's parts.

Autograd records every operation of a forward pass and replays it backwards; on a small model
on a CPU that bookkeeping (a graph node, saved tensors and a dispatch per operation) costs as
much as a fifth of a training step. For the layers that dense autoencoders are made of the
gradients are short formulas, so a block can instead offer ``analytic_forward``: it runs its
forward pass without a graph and returns, with its output, a function that takes the gradient
of the loss with respect to that output, adds the gradients of its parameters to their
``.grad`` (as ``backward()`` does) and returns the gradient with respect to its input.

The protocol, implemented by the built-in dense blocks
(:class:`~autoencoders.blocks.MLPEncoder`, :class:`~autoencoders.blocks.MLPDecoder`, the
deterministic and Gaussian bottlenecks) and open to a block of your own:

* ``block.analytic_unsupported() -> str | None``: ``None`` when ``analytic_forward`` computes
  exactly what ``forward`` does in the block's present configuration, otherwise the reason
  (shown by :attr:`autoencoders.training.Trainer.step_kind`);
* ``block.analytic_forward(x)``: the output and its backward function. A bottleneck's returns
  its :class:`~autoencoders.blocks.BottleneckOutput` and ``backward(grad_z, kl_weight)``, where
  ``kl_weight`` is the loss's derivative with respect to each sample's ``kl`` (a number).

The pieces here do the layers: :func:`sequential_forward` runs an ``nn.Sequential`` of
``nn.Linear`` layers and elementwise activations (:data:`ACTIVATION_GRADIENTS`), and
:func:`sequential_unsupported` says whether it can. The gradients are those of autograd to
float rounding (``tests/test_analytic_blocks.py`` compares every activation and block).

Example:
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    >>> x = torch.randn(5, 3)
    >>> y, backward = sequential_forward(net, x, input_grad=True)
    >>> gx = backward(torch.ones(5, 2))                    # fills every parameter's .grad
    >>> xr = x.clone().requires_grad_()
    >>> grads = torch.autograd.grad(net(xr).sum(), [xr, *net.parameters()])
    >>> bool(torch.allclose(gx, grads[0], atol=1e-6))
    True
    >>> all(torch.allclose(p.grad, g, atol=1e-6) for p, g in zip(net.parameters(), grads[1:]))
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ACTIVATION_GRADIENTS",
    "Backward",
    "accumulate_grad",
    "graph_free",
    "has_hooks",
    "linear_forward",
    "module_unsupported",
    "sequential_forward",
    "sequential_unsupported",
]

#: ``backward(grad_output) -> grad_input`` (``None`` where the input needs no gradient).
Backward = Callable[[torch.Tensor], "torch.Tensor | None"]

_aten = torch.ops.aten

# Each activation type: (forward(module, x), gradient(module, grad, x, y)), from aten's own
# backward kernels, the ones autograd runs for these modules.
ACTIVATION_GRADIENTS: dict[type[nn.Module], tuple[Callable[..., Any], Callable[..., Any]]] = {
    nn.ReLU: (lambda m, x: torch.relu(x), lambda m, g, x, y: _aten.threshold_backward(g, y, 0)),
    nn.Sigmoid: (lambda m, x: torch.sigmoid(x), lambda m, g, x, y: _aten.sigmoid_backward(g, y)),
    nn.Tanh: (lambda m, x: torch.tanh(x), lambda m, g, x, y: _aten.tanh_backward(g, y)),
    nn.LeakyReLU: (
        lambda m, x: F.leaky_relu(x, m.negative_slope),
        lambda m, g, x, y: _aten.leaky_relu_backward(g, x, m.negative_slope, False),
    ),
    nn.ELU: (
        lambda m, x: F.elu(x, m.alpha),
        lambda m, g, x, y: _aten.elu_backward(g, m.alpha, 1, 1, False, x),
    ),
    nn.GELU: (
        lambda m, x: F.gelu(x, approximate=m.approximate),
        lambda m, g, x, y: _aten.gelu_backward(g, x, approximate=m.approximate),
    ),
    nn.SiLU: (lambda m, x: F.silu(x), lambda m, g, x, y: _aten.silu_backward(g, x)),
    nn.Softplus: (
        lambda m, x: F.softplus(x, m.beta, m.threshold),
        lambda m, g, x, y: _aten.softplus_backward(g, x, m.beta, m.threshold),
    ),
}


def accumulate_grad(p: nn.Parameter, grad: torch.Tensor) -> None:
    """Add ``grad`` to ``p.grad`` as ``backward()`` does (``p.grad`` becomes ``grad``, in the
    parameter's memory layout, when it is ``None``); nothing for a parameter that does not
    require a gradient.

    Example:
        >>> p = torch.nn.Parameter(torch.zeros(2))
        >>> accumulate_grad(p, torch.ones(2)); accumulate_grad(p, torch.ones(2))
        >>> p.grad
        tensor([2., 2.])
    """
    if not p.requires_grad:
        return
    if p.grad is not None:
        p.grad.add_(grad)
    elif grad.stride() == p.stride():
        p.grad = grad
    else:  # in the parameter's memory layout, as autograd's (a fused optimizer relies on it)
        p.grad = torch.empty_like(p).copy_(grad)


def module_unsupported(module: nn.Module) -> str | None:
    """Why ``module`` (one layer of a stack) has no analytic gradient, or ``None`` if it has.

    Exactly ``nn.Linear``, ``nn.Identity`` or an activation of
    :data:`ACTIVATION_GRADIENTS` (a subclass may compute something else), an inactive
    ``nn.Dropout`` (probability 0, or eval mode), and no hooks.

    Example:
        >>> module_unsupported(torch.nn.ReLU()) is None
        True
        >>> module_unsupported(torch.nn.BatchNorm1d(4))
        'BatchNorm1d (no analytic gradient)'
    """
    kind = type(module)
    name = kind.__name__
    if has_hooks(module):
        return f"{name} has hooks"
    if kind is nn.Dropout:
        return None if module.p == 0 or not module.training else f"{name} in training mode"
    if kind in (nn.Linear, nn.Identity) or kind in ACTIVATION_GRADIENTS:
        return None
    return f"{name} (no analytic gradient)"


def has_hooks(module: nn.Module) -> bool:
    """Whether ``module`` itself has forward or backward hooks (not its children's)."""
    return bool(
        module._forward_hooks
        or module._forward_pre_hooks
        or module._backward_hooks
        or module._backward_pre_hooks
    )


def sequential_unsupported(seq: nn.Sequential | Sequence[nn.Module]) -> str | None:
    """Why :func:`sequential_forward` cannot run ``seq``, or ``None`` when it can.

    Example:
        >>> from torch import nn
        >>> sequential_unsupported(nn.Sequential(nn.Linear(2, 3), nn.ReLU())) is None
        True
        >>> sequential_unsupported(nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5)))
        'Dropout in training mode'
    """
    if isinstance(seq, nn.Module):
        if type(seq) is not nn.Sequential:
            return f"{type(seq).__name__} is not an nn.Sequential"
        if has_hooks(seq):
            return "the nn.Sequential has hooks"
    for m in seq:
        reason = module_unsupported(m)
        if reason is not None:
            return reason
    return None


def graph_free(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` without recording a graph: called at once when gradients are off already
    (the analytic step turns them off once for each pass, so its blocks need no context of
    their own), else inside ``torch.no_grad()``.

    Example:
        >>> w = torch.ones(2, requires_grad=True)
        >>> graph_free(torch.mul, w, 3.0).requires_grad
        False
    """
    if not torch.is_grad_enabled():
        return fn(*args)
    with torch.no_grad():
        return fn(*args)


def linear_forward(
    layer: nn.Linear, x: torch.Tensor, input_grad: bool = True
) -> tuple[torch.Tensor, Backward]:
    """``layer(x)`` for a 2-d ``x`` and its backward: ``W.grad += g^T x``, ``b.grad += sum(g)``
    and, when ``input_grad``, the input's gradient ``g W``. Neither records a graph.

    Example:
        >>> lin = torch.nn.Linear(3, 2)
        >>> y, backward = linear_forward(lin, torch.ones(4, 3), input_grad=False)
        >>> backward(torch.ones(4, 2)) is None, lin.weight.grad.tolist()[0]
        (True, [4.0, 4.0, 4.0])
    """
    y, back = graph_free(_linear, layer, x, input_grad)
    return y, lambda g: graph_free(back, g)


def _linear(layer: nn.Linear, x: torch.Tensor, input_grad: bool) -> tuple[torch.Tensor, Backward]:
    weight, bias = layer.weight, layer.bias
    y = F.linear(x, weight, bias)

    def backward(g: torch.Tensor) -> torch.Tensor | None:
        if weight.requires_grad:
            accumulate_grad(weight, g.t().mm(x))
        if bias is not None and bias.requires_grad:
            accumulate_grad(bias, g.sum(0))
        return g.mm(weight) if input_grad else None

    return y, backward


# Activations whose gradient needs only their output: on a Linear's fresh output (which no
# backward keeps) they run in place, one buffer fewer per layer.
_IN_PLACE: dict[type[nn.Module], Callable[[torch.Tensor], torch.Tensor]] = {
    nn.ReLU: torch.relu_,
    nn.Sigmoid: torch.sigmoid_,
    nn.Tanh: torch.tanh_,
}


def _activation_forward(
    module: nn.Module, x: torch.Tensor, fresh: bool
) -> tuple[torch.Tensor, Backward]:
    forward, gradient = ACTIVATION_GRADIENTS[type(module)]
    in_place = _IN_PLACE.get(type(module)) if fresh else None
    y = forward(module, x) if in_place is None else in_place(x)
    return y, lambda g: gradient(module, g, x, y)


def sequential_forward(
    seq: nn.Sequential | Sequence[nn.Module], x: torch.Tensor, input_grad: bool = True
) -> tuple[torch.Tensor, Backward]:
    """``seq(x)`` and its backward, neither recording a graph (see :func:`sequential_unsupported` for the
    layers it takes). With ``input_grad=False`` the backward skips the input's gradient and
    returns ``None``: what an encoder's first layer needs, its input being data. ``seq`` may
    also be a list of layers.

    Example:
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
        >>> y, backward = sequential_forward(net, torch.ones(1, 2))
        >>> torch.equal(y, net(torch.ones(1, 2)))
        True
    """
    y, backwards = graph_free(_sequential, seq, x, input_grad)

    def backward(g: torch.Tensor) -> torch.Tensor | None:
        gx = graph_free(_run_backwards, backwards, g)
        return gx if input_grad else None

    return y, backward


def _sequential(
    seq: Iterable[nn.Module], x: torch.Tensor, input_grad: bool
) -> tuple[torch.Tensor, list[Backward]]:
    backwards: list[Backward] = []
    needs = input_grad
    fresh = False  # x is a Linear's output that only this pass holds
    for m in seq:
        kind = type(m)
        if kind is nn.Linear:
            x, back = _linear(m, x, needs)
            needs = fresh = True
        elif kind is nn.Identity or kind is nn.Dropout:
            continue
        else:
            x, back = _activation_forward(m, x, fresh)
            fresh = False
        backwards.append(back)
    backwards.reverse()
    return x, backwards


def _run_backwards(backwards: list[Backward], g: torch.Tensor) -> torch.Tensor | None:
    gx: torch.Tensor | None = g
    for back in backwards:
        gx = back(gx)  # type: ignore[arg-type]
        if gx is None:
            return None
    return gx
