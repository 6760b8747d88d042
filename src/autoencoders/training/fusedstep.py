"""Adam's fused step without ``torch.optim``'s per-step Python: the same kernel, called directly.

``torch.optim.Adam(fused=True).step()`` runs one kernel for all parameters, but first spends
about 0.3 ms of Python on every call (hooks, the profiler's record, ``_init_group``'s walk
over the parameters and their state, grouping the tensors by device and dtype). For the
784-400-20 VAE on a 2-core CPU that is 4-5 % of a training step. :class:`FusedAdamStep` keeps
those lists from one step to the next and calls the same kernel (``torch._fused_adam_``, or
``torch._fused_adamw_`` for decoupled weight decay) with the same arguments, so the update is
bitwise the one ``optimizer.step()`` makes, and the optimizer's state (``exp_avg``,
``exp_avg_sq``, ``step``) is the same tensors, saved and resumed as before.

It steps only when it can reproduce ``optimizer.step()`` exactly, and otherwise says so, and
the caller calls ``optimizer.step()`` instead. It declines:

* an optimizer that is not exactly ``torch.optim.Adam`` or ``AdamW`` (a subclass may change
  ``step``), or whose ``step`` was replaced on the instance (other than by an LR scheduler's
  counting wrapper, whose bookkeeping it does itself);
* a group that is not ``fused=True``, or is ``capturable``/``differentiable``;
* optimizer step hooks, the optimizer's own or global ones;
* a parameter without its state yet (the first step, or one that got its first gradient):
  ``optimizer.step()`` creates the state, and the next step is direct again;
* sparse gradients (``optimizer.step()`` raises its own error).

The lists are rebuilt when the parameters with a gradient, the groups or the state tensors
change (``load_state_dict`` replaces them); learning rate, betas, eps and weight decay are
read from the groups at every step, so schedules apply as usual.

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
#: The kernels, looked up once; None where this torch has no fused Adam.
_KERNELS = (getattr(torch, "_fused_adam_", None), getattr(torch, "_fused_adamw_", None))


class _Bucket:
    """One group's tensors of one device and dtype, in the order ``optimizer.step()`` uses."""

    __slots__ = ("exp_avg_sqs", "exp_avgs", "max_exp_avg_sqs", "params", "steps")

    def __init__(self) -> None:
        self.params: list[torch.Tensor] = []
        self.exp_avgs: list[torch.Tensor] = []
        self.exp_avg_sqs: list[torch.Tensor] = []
        self.max_exp_avg_sqs: list[torch.Tensor] = []
        self.steps: list[torch.Tensor] = []


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
        self._cuda = False
        self._supported = self._check_type()

    def _check_type(self) -> bool:
        opt = self.optimizer
        if type(opt) not in _CLASSES or None in _KERNELS:
            return False
        return all(
            g.get("fused") and not g.get("capturable") and not g.get("differentiable")
            for g in opt.param_groups
        )

    def _step_is_torchs(self) -> bool:
        """Whether ``optimizer.step`` is the class's, maybe under an LR scheduler's wrapper."""
        opt = self.optimizer
        step = opt.__dict__.get("step")
        if step is None:
            return True
        return bool(getattr(step, "_wrapped_by_lr_sched", False))

    def _state_key(self) -> tuple[Any, ...] | None:
        """Identity of what the lists hold: params with a gradient and their state tensors;
        None when a parameter with a gradient has no state yet."""
        opt, key = self.optimizer, []
        for group in opt.param_groups:
            amsgrad = bool(group["amsgrad"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = opt.state.get(p)
                if not st or "exp_avg" not in st:
                    return None
                key.append(id(p))
                key.append(id(st["exp_avg"]))
                key.append(id(st["exp_avg_sq"]))
                key.append(id(st["step"]))
                if amsgrad:
                    key.append(id(st["max_exp_avg_sq"]))
            key.append(-1)  # group boundary
        return tuple(key)

    def _rebuild(self) -> None:
        opt = self.optimizer
        self._supported = self._check_type()  # a group may have been added
        self._buckets = []
        for group in opt.param_groups:
            by_kind: dict[tuple[torch.device, torch.dtype], _Bucket] = {}
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = opt.state[p]
                b = by_kind.setdefault((p.device, p.dtype), _Bucket())
                b.params.append(p)
                b.exp_avgs.append(st["exp_avg"])
                b.exp_avg_sqs.append(st["exp_avg_sq"])
                b.steps.append(st["step"])
                if group["amsgrad"]:
                    b.max_exp_avg_sqs.append(st["max_exp_avg_sq"])
            self._buckets.append(list(by_kind.values()))
        self._cuda = any(p.is_cuda for b in self._buckets for k in b for p in k.params)

    def __call__(self) -> bool:
        """Make the step directly (True), or leave it to ``optimizer.step()`` (False)."""
        opt = self.optimizer
        if not self._supported or not self._step_is_torchs():
            return False
        if optimizer_module._global_optimizer_pre_hooks or opt._optimizer_step_pre_hooks:
            return False
        if optimizer_module._global_optimizer_post_hooks or opt._optimizer_step_post_hooks:
            return False
        key = self._state_key()
        if key is None:
            return False
        if key != self._key or len(self._buckets) != len(opt.param_groups):
            self._rebuild()
            self._key = key
            if not self._supported:
                return False
        grads_of: list[list[list[torch.Tensor]]] = []
        for buckets in self._buckets:
            per_group = []
            for b in buckets:
                grads = [p.grad for p in b.params]
                if any(g.is_sparse for g in grads):  # type: ignore[union-attr]
                    return False
                per_group.append(grads)
            grads_of.append(per_group)
        if self._cuda and torch.cuda.is_current_stream_capturing():
            return False  # optimizer.step() refuses a non-capturable step in a CUDA graph
        with torch.no_grad():
            self._kernels(grads_of)
        opt._opt_called = True  # type: ignore[attr-defined]  # what the scheduler's wrapper records
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
    if type(optimizer).zero_grad is not torch.optim.Optimizer.zero_grad or (
        "zero_grad" in optimizer.__dict__
    ):
        optimizer.zero_grad(set_to_none=True)
        return
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.grad = None
