"""The runtime: device, mixed precision, gradient scaling, DDP and ``torch.compile``.

A :class:`Runtime` owns everything about *where and how* a step runs, so that the training loop
is the same few calls whatever the hardware (the idea of Lightning Fabric and Hugging Face
accelerate)::

    >>> import torch, autoencoders
    >>> rt = Runtime(device="cpu", amp="bf16")
    >>> model = autoencoders.build("ae", h=8, z=2).to(rt.device)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> rt.setup(model)                           # process group, DDP, compile: once
    >>> x = torch.rand(4, 1, 28, 28)
    >>> with rt.autocast():
    ...     out = rt.module_for(len(x))(x)
    >>> loss = torch.nn.functional.mse_loss(out.logits.float().sigmoid(), x)
    >>> rt.backward(loss)                         # scaled under fp16
    >>> rt.step(opt)                              # unscale, clip, step, update the scaler
    >>> rt.device, rt.world_size
    (device(type='cpu'), 1)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from autoencoders._utils import resolve_device
from autoencoders.errors import InvalidTypeError, InvalidValueError
from autoencoders.training import distributed as dist_utils
from autoencoders.training._checks import number
from autoencoders.training.fusedstep import FusedAdamStep

__all__ = ["AMP_MODES", "COMPILE_MODES", "Runtime", "resolve_device", "to_channels_last"]

AMP_MODES = {
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
}
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def to_channels_last(model: nn.Module) -> None:
    """Put the model's 4-d parameters, buffers and left-over gradients in the channels_last
    memory format, in place (``Module.to(memory_format=)`` would refuse a 5-d Conv3d weight;
    the fused step needs a gradient in its parameter's layout).

    Example:
        >>> conv = nn.Conv2d(3, 8, 3)
        >>> to_channels_last(conv)
        >>> conv.weight.is_contiguous(memory_format=torch.channels_last)
        True
    """
    for t in (*model.parameters(), *model.buffers()):
        if t.dim() == 4:
            t.data = t.data.contiguous(memory_format=torch.channels_last)
            if t.grad is not None:
                t.grad = t.grad.contiguous(memory_format=torch.channels_last)


def _amp_dtype(amp: str | None, device: torch.device) -> torch.dtype | None:
    if amp is None:
        return None
    if amp not in AMP_MODES:
        raise InvalidValueError(f"amp must be None, 'bf16' or 'fp16', got {amp!r}")
    dtype = AMP_MODES[amp]
    if dtype == torch.float16 and device.type != "cuda":
        raise InvalidValueError(
            f"amp={amp!r} needs a CUDA device (it uses a gradient scaler), but the device is "
            f"{device.type!r}; accepted here: None or 'bf16'"
        )
    return dtype


def _compile_mode(compile: bool | str, backend: str | Callable[..., Any]) -> str | bool | None:
    """False (no compile), None (compile, default mode) or a mode name."""
    if not (isinstance(backend, str) or callable(backend)):
        raise InvalidTypeError(
            f"compile_backend must be a backend name or callable, got {backend!r}"
        )
    if compile is False or compile is None:
        return False
    if compile is True:
        return None
    if not isinstance(compile, str):
        raise InvalidTypeError(f"compile must be a bool or a mode string, got {compile!r}")
    if compile not in COMPILE_MODES:
        raise InvalidValueError(
            f"compile must be False, True or a mode ({', '.join(COMPILE_MODES)}), got {compile!r}"
        )
    if backend != "inductor":
        raise InvalidValueError(
            f"compile mode {compile!r} applies to the inductor backend, but compile_backend is "
            f"{backend!r}; pass compile=True with that backend"
        )
    return compile


class Runtime:
    """Where and how steps run: device, autocast, GradScaler, DDP wrapping and compilation.

    Args:
        device: ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
            Under ``torchrun`` a bare ``"cuda"`` means ``cuda:<LOCAL_RANK>``.
        amp: None, ``"bf16"`` (autocast to bfloat16, CPU or CUDA) or ``"fp16"`` (CUDA only,
            with a gradient scaler).
        compile: False, True, or a ``torch.compile`` mode (inductor only).
        compile_backend: the ``torch.compile`` backend, a name or a callable.
        grad_clip: clip the gradient norm to this value in :meth:`step` (None: no clipping).

    Raises:
        ValueError: an unknown device, amp or compile mode, or fp16 without CUDA.
    """

    def __init__(
        self,
        device: str | torch.device = "auto",
        amp: str | None = None,
        compile: bool | str = False,
        compile_backend: str | Callable[..., Any] = "inductor",
        grad_clip: float | None = None,
    ) -> None:
        self.env_rank, self.env_world_size, local_rank = dist_utils.env_world()
        self.device = resolve_device(device, local_rank)
        self.amp_dtype = _amp_dtype(amp, self.device)
        self.compile_mode = _compile_mode(compile, compile_backend)
        self.compile_backend = compile_backend
        self.grad_clip = (
            None if grad_clip is None else number(grad_clip, "grad_clip", positive=True)
        )
        self.scaler: torch.amp.GradScaler | None = (
            torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        )
        self.rank, self.world_size = 0, 1
        self.ready = False
        self.module: nn.Module | None = None  # the training forward: the model or its DDP wrapper
        self.compiled: nn.Module | None = None
        self._params: list[torch.Tensor] | None = None  # what grad_clip clips, per optimizer
        self._params_of: torch.optim.Optimizer | None = None
        self._direct: FusedAdamStep | None = None  # a fused Adam's step without its Python

    @property
    def is_main(self) -> bool:
        """Whether this process is rank 0 (known from the environment before :meth:`setup`)."""
        return (self.rank if self.ready else self.env_rank) == 0

    def setup(self, model: nn.Module) -> None:
        """Process group (under torchrun), DDP wrapper and compilation, once per runtime."""
        if self.ready:
            return
        dist_utils.init_from_env(self.device)
        self.rank, self.world_size = dist_utils.world_info()
        module = model
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            module = DistributedDataParallel(model, device_ids=ids)
        self.module = module
        if self.compile_mode is not False:
            kwargs: dict[str, Any] = {"backend": self.compile_backend, "dynamic": False}
            if self.compile_mode is not None:
                kwargs["mode"] = self.compile_mode
            self.compiled = torch.compile(module, **kwargs)
        self.ready = True

    def needs_autograd(self) -> str | None:
        """Why this run's steps must go through autograd, whatever the model (amp,
        ``compile``, several processes, anomaly detection, grad mode off), or ``None``."""
        if self.amp_dtype is not None:
            return "amp"
        if self.compile_mode is not False:
            return "compile"
        if self.world_size > 1 or self.env_world_size > 1:
            return "several processes"
        if torch.is_anomaly_enabled() or not torch.is_grad_enabled():
            return "anomaly detection on or grad mode off"
        return None

    def module_for(self, batch: int, steady: int | None = None) -> nn.Module:
        """The forward to train a batch of ``batch`` samples with: the compiled one for the
        steady batch size ``steady``, the eager one otherwise, so a fit compiles once
        (``dynamic=False``) and a smaller last batch runs eagerly."""
        if self.module is None:
            raise RuntimeError("call Runtime.setup(model) first")
        if self.compiled is not None and batch == steady:
            return self.compiled
        return self.module

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """``torch.autocast`` to the amp dtype, or a no-op context without amp."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, through the gradient scaler under fp16."""
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """Clip the gradients (``grad_clip``; unscaled first under fp16) and step the
        optimizer (through the scaler under fp16, which is then updated). A fused
        ``torch.optim.Adam``/``AdamW`` is stepped by
        :class:`~autoencoders.training.fusedstep.FusedAdamStep`: the same kernel and update,
        without ``optimizer.step()``'s per-call Python."""
        clip, scaler = self.grad_clip, self.scaler
        if clip is not None:
            if scaler is not None:
                scaler.unscale_(optimizer)
            if self._params is None or self._params_of is not optimizer:
                self._params = [p for g in optimizer.param_groups for p in g["params"]]
                self._params_of = optimizer
            torch.nn.utils.clip_grad_norm_(self._params, clip)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
            return
        if self._direct is None or self._direct.optimizer is not optimizer:
            self._direct = FusedAdamStep(optimizer)
        if not self._direct():
            optimizer.step()

    def __repr__(self) -> str:
        amp = None if self.amp_dtype is None else str(self.amp_dtype).replace("torch.", "")
        return f"Runtime(device={str(self.device)!r}, amp={amp!r}, world_size={self.world_size})"
