"""Adam's fused step without ``torch.optim``'s per-step Python: the same kernel, called directly.

``torch.optim.Adam(fused=True).step()`` runs one kernel for all parameters, but first spends
about 0.3 ms of Python on every call (hooks, the profiler's record, ``_init_group``'s walk
over the parameters and their state, grouping the tensors by device and dtype). For the
784-400-20 VAE on a 2-core CPU that is 3-4 % of a training step. :class:`FusedAdamStep` keeps
those lists from one step to the next and calls the same kernel (``torch._fused_adam_``, or
``torch._fused_adamw_`` for decoupled weight decay) with the same arguments, so the update is
bitwise the one ``optimizer.step()`` makes, and the optimizer's state (``exp_avg``,
``exp_avg_sq``, ``step``) is the same tensors, saved and resumed as before.

It steps only when it can reproduce ``optimizer.step()`` exactly, and otherwise says so, having
changed nothing, and the caller calls ``optimizer.step()`` instead. It declines:

* a torch version other than those it was tested against (``TESTED_TORCH``);
* an optimizer that is not exactly ``torch.optim.Adam`` or ``AdamW`` (a subclass may change
  ``step``), a class whose ``step`` was patched, or an instance whose ``step`` was replaced
  (other than by an LR scheduler's counting wrapper of the class's own ``step``, whose
  bookkeeping it does itself);
* a group that is not ``fused=True``, or is ``capturable``/``differentiable`` (checked at
  every step), or a tensor ``lr`` with ``foreach=True`` or on another device;
* optimizer step hooks, the optimizer's own or global ones; a ``grad_scale`` or
  ``found_inf`` set on the optimizer (a GradScaler's); a running profiler, so that traces
  show ``Optimizer.step`` as usual;
* a parameter without its state yet (the first step, or one that got its first gradient):
  ``optimizer.step()`` creates the state, and the next step is direct again;
* a state torch's step would refuse (moments of another dtype or device than the
  parameter, a ``step`` that is not a float32 scalar on its device), and sparse gradients or
  gradients of another dtype: ``optimizer.step()`` raises its own error.

The lists are rebuilt when the parameters with a gradient (or their dtype or device), the
groups or the state tensors change; ``load_state_dict`` drops them at once, so the old state
is freed. Learning rate, betas, eps and weight decay are read from the groups at every
step, so schedules apply as usual.

Example:
    >>> import torch
    >>> w = torch.nn.Parameter(torch.ones(3))
    >>> opt = torch.optim.Adam([w], lr=0.1, fused=True)
    >>> step = FusedAdamStep(opt)
    >>> for _ in range(3):
    ...     w.grad = torch.full((3,), 2.0)
    ...     if not step():                   # the first step makes the state: not direct
    ...         opt.step()
    >>> step.direct_steps, [round(v, 4) for v in w.tolist()]
    (2, [0.7, 0.7, 0.7])
"""

from __future__ import annotations

from typing import Any

import torch
from torch.optim import optimizer as optimizer_module

__all__ = ["FusedAdamStep", "clear_grads"]

_CLASSES = (torch.optim.Adam, torch.optim.AdamW)


def _unhooked(step: Any) -> Any:
    """``step`` without the profiler-and-hooks wrapper torch puts on a class's ``step``
    when its first instance is made (marked ``hooked``)."""
    return step.__wrapped__ if getattr(step, "hooked", False) else step


#: Each class's own ``step`` and torch's ``zero_grad``, as imported: a patched one is declined.
_STEPS = {cls: _unhooked(cls.step) for cls in _CLASSES}
_ZERO_GRAD = torch.optim.Optimizer.zero_grad
#: The kernels, looked up once; None where this torch has no fused Adam.
_KERNELS = (getattr(torch, "_fused_adam_", None), getattr(torch, "_fused_adamw_", None))
#: The torch versions whose ``Adam.step`` this reproduces (tested bitwise); others decline.
TESTED_TORCH = ((2, 14),)
_TORCH_OK = tuple(int(v) for v in torch.__version__.split(".")[:2]) in TESTED_TORCH


def _profiling() -> bool:
    """Whether the autograd profiler records (then torch's step runs, with its record)."""
    enabled = getattr(torch.autograd, "_profiler_enabled", None)
    return bool(enabled()) if callable(enabled) else True


def _cell(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


class _Bucket:
    """One group's tensors of one device and dtype, in the order ``optimizer.step()`` uses."""

    __slots__ = ("exp_avg_sqs", "exp_avgs", "max_exp_avg_sqs", "params", "steps")

    def __init__(self) -> None:
        self.params: list[torch.Tensor] = []
        self.exp_avgs: list[torch.Tensor] = []
        self.exp_avg_sqs: list[torch.Tensor] = []
        self.max_exp_avg_sqs: list[torch.Tensor] = []
        self.steps: list[torch.Tensor] = []


def _state_fits(p: torch.Tensor, st: dict[str, Any], amsgrad: bool) -> bool:
    """Whether ``st`` holds what the fused kernel takes for ``p`` without error: moments of
    its dtype and device and a float32 scalar ``step`` on its device (torch's own step
    refuses anything else, having changed nothing; so must this)."""
    names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if amsgrad else ("exp_avg", "exp_avg_sq")
    for name in names:
        t = st.get(name)
        if not isinstance(t, torch.Tensor) or t.dtype != p.dtype or t.device != p.device:
            return False
        if t.shape != p.shape:
            return False
    step = st.get("step")
    return (
        isinstance(step, torch.Tensor)
        and step.dtype == torch.float32
        and step.device == p.device
        and step.dim() == 0
    )


def _group_fits(group: dict[str, Any], devices: set[torch.device]) -> bool:
    """Whether a group's settings are those the direct call reproduces."""
    if not group.get("fused") or group.get("capturable") or group.get("differentiable"):
        return False
    lr = group["lr"]
    # a tensor lr: torch refuses it with foreach=True and copies it per device
    return not (isinstance(lr, torch.Tensor) and (group.get("foreach") or {lr.device} != devices))


class FusedAdamStep:
    """Steps a fused ``torch.optim.Adam``/``AdamW`` directly; see the module's notes.

    Args:
        optimizer: the optimizer to step. Nothing is checked or kept until the first call.

    Calling it returns True after making the step, or False (having changed nothing) when
    ``optimizer.step()`` must make it instead.
    """

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.direct_steps = 0
        self._key: tuple[Any, ...] | None = None
        self._buckets: list[list[_Bucket]] = []
        self._devices: list[set[torch.device]] = []
        self._cuda = False
        self._class_ok = (
            _TORCH_OK
            and None not in _KERNELS
            and type(optimizer) in _CLASSES
            and _unhooked(type(optimizer).step) is _STEPS[type(optimizer)]  # type: ignore[index]
        )
        if self._class_ok:
            # a loaded state replaces the tensors: let go of the old ones at once
            optimizer.register_load_state_dict_pre_hook(lambda *_: self._forget())

    def _forget(self) -> None:
        self._key, self._buckets, self._devices = None, [], []

    def _step_is_torchs(self) -> bool:
        """Whether ``optimizer.step`` is the class's own, maybe under an LR scheduler's
        counting wrapper of exactly that function (not of a user's replacement)."""
        opt = self.optimizer
        current = type(opt).step
        if _unhooked(current) is not _STEPS[type(opt)]:  # type: ignore[index]
            return False
        step = opt.__dict__.get("step")
        if step is None:
            return True
        if not getattr(step, "_wrapped_by_lr_sched", False):
            return False
        cells = getattr(step, "__closure__", None) or ()
        wrapped = getattr(step, "__wrapped__", None)
        return wrapped is current and any(_cell(c) is current for c in cells)

    def _state_key(self) -> tuple[Any, ...] | None:
        """What the lists hold: each param with a gradient (identity, dtype, device) and its
        state tensors; None when such a param has no state yet."""
        opt, key = self.optimizer, []
        for group in opt.param_groups:
            amsgrad = bool(group["amsgrad"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = opt.state.get(p)
                if not st or "exp_avg" not in st:
                    return None
                key.append((id(p), p.dtype, p.device))
                key.append(id(st["exp_avg"]))
                key.append(id(st["exp_avg_sq"]))
                key.append(id(st["step"]))
                if amsgrad:
                    key.append(id(st.get("max_exp_avg_sq")))
            key.append(-1)  # group boundary
        return tuple(key)

    def _rebuild(self) -> bool:
        """The lists, grouped by device and dtype; False when a state does not fit."""
        opt = self.optimizer
        self._forget()
        for group in opt.param_groups:
            by_kind: dict[tuple[torch.device, torch.dtype], _Bucket] = {}
            amsgrad = bool(group["amsgrad"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = opt.state[p]
                if not _state_fits(p, st, amsgrad):
                    self._forget()
                    return False
                b = by_kind.setdefault((p.device, p.dtype), _Bucket())
                b.params.append(p)
                b.exp_avgs.append(st["exp_avg"])
                b.exp_avg_sqs.append(st["exp_avg_sq"])
                b.steps.append(st["step"])
                if amsgrad:
                    b.max_exp_avg_sqs.append(st["max_exp_avg_sq"])
            self._buckets.append(list(by_kind.values()))
            self._devices.append({device for device, _ in by_kind})
        self._cuda = any(p.is_cuda for b in self._buckets for k in b for p in k.params)
        return True

    def __call__(self) -> bool:
        """Make the step directly (True), or leave it to ``optimizer.step()`` (False)."""
        opt = self.optimizer
        if not self._class_ok or not self._step_is_torchs() or _profiling():
            return False
        if optimizer_module._global_optimizer_pre_hooks or opt._optimizer_step_pre_hooks:
            return False
        if optimizer_module._global_optimizer_post_hooks or opt._optimizer_step_post_hooks:
            return False
        if (
            getattr(opt, "grad_scale", None) is not None
            or getattr(opt, "found_inf", None) is not None
        ):
            return False  # a GradScaler's unscale and skip go through optimizer.step()
        key = self._state_key()
        if key is None:
            return False
        if key != self._key:
            if not self._rebuild():
                return False
            self._key = key  # the key marks each group: one bucket list per group
        for group, devices in zip(opt.param_groups, self._devices):
            if not _group_fits(group, devices):
                return False
        grads_of: list[list[list[torch.Tensor]]] = []
        for buckets in self._buckets:
            per_group = []
            for b in buckets:
                grads = [p.grad for p in b.params]
                for g, p in zip(grads, b.params):
                    if g.is_sparse or g.dtype != p.dtype or g.device != p.device:  # type: ignore[union-attr]
                        return False
                per_group.append(grads)
            grads_of.append(per_group)
        if self._cuda and torch.cuda.is_current_stream_capturing():
            return False  # optimizer.step() refuses a non-capturable step in a CUDA graph
        with torch.no_grad():
            self._kernels(grads_of)
        if "step" in opt.__dict__:  # the LR scheduler's wrapper would have recorded the call
            opt._opt_called = True  # type: ignore[attr-defined]
        self.direct_steps += 1
        return True

    def _kernels(self, grads_of: list[list[list[torch.Tensor]]]) -> None:
        for group, buckets, per_group in zip(self.optimizer.param_groups, self._buckets, grads_of):
            beta1, beta2 = group["betas"]
            kernel = _KERNELS[1] if group["decoupled_weight_decay"] else _KERNELS[0]
            for b, grads in zip(buckets, per_group):
                torch._foreach_add_(b.steps, 1)
                kernel(  # type: ignore[misc]
                    b.params,
                    grads,
                    b.exp_avgs,
                    b.exp_avg_sqs,
                    b.max_exp_avg_sqs,
                    b.steps,
                    amsgrad=bool(group["amsgrad"]),
                    lr=group["lr"],
                    beta1=float(beta1),
                    beta2=float(beta2),
                    weight_decay=group["weight_decay"],
                    eps=group["eps"],
                    maximize=bool(group["maximize"]),
                    grad_scale=None,
                    found_inf=None,
                )


def clear_grads(optimizer: torch.optim.Optimizer) -> None:
    """``optimizer.zero_grad(set_to_none=True)``, without its profiler record when the
    optimizer's ``zero_grad`` is torch's own (about 40 us a step on a small model).

    Example:
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> w.grad = torch.ones(2)
        >>> clear_grads(torch.optim.SGD([w], lr=0.1))
        >>> w.grad is None
        True
    """
    if (
        type(optimizer).zero_grad is not _ZERO_GRAD
        or torch.optim.Optimizer.zero_grad is not _ZERO_GRAD
        or "zero_grad" in optimizer.__dict__
    ):
        optimizer.zero_grad(set_to_none=True)
        return
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.grad = None
