"""The generic :class:`Trainer`: one training loop for every architecture."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from safetensors.torch import save as st_save
from torch import nn

from autoencoders.losses import default_loss
from autoencoders.registry import losses as loss_registry
from autoencoders.training import distributed as dist_utils
from autoencoders.training.batches import DEFAULT_IN_MEMORY_LIMIT, BatchSource, make_source
from autoencoders.training.callbacks import Callback, EarlyStopping, overrides
from autoencoders.training.checkpoint import (
    MODEL_FILE,
    OPTIMIZER_FILE,
    STATE_FILE,
    TENSORS_FILE,
    ModelCheckpoint,
    find_latest,
    list_checkpoints,
    write_folder,
)
from autoencoders.training.history import History
from autoencoders.training.state import dumps, join_state, split_state

__all__ = ["CHECKPOINT_FORMAT", "NonFiniteLossError", "Trainer"]

logger = logging.getLogger(__name__)

#: Version of the ``trainer_state.json`` layout.
CHECKPOINT_FORMAT = 1

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULERS = ("cosine", "step", "exponential", "plateau")
AMP_MODES = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16}
AMP_MODES["float16"] = torch.float16
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
NONFINITE = ("raise", "skip")

#: Rows of per-step losses kept as separate tensors before they are stacked into one.
_COMPACT_EVERY = 256
#: Seconds between progress-bar refreshes (each refresh reads the running loss: one sync).
_REFRESH_S = 0.5


class NonFiniteLossError(ValueError):
    """Training produced a NaN or infinite loss (with ``nonfinite="raise"``).

    Attributes:
        epoch: the epoch (1-based).
        step: the step (1-based, counted over the whole run).
        batch: the batch within the epoch (1-based).
        parts: ``{"loss": ..., <part>: ...}`` of that step.
    """

    def __init__(self, epoch: int, step: int, batch: int, parts: dict[str, float]) -> None:
        self.epoch, self.step, self.batch, self.parts = epoch, step, batch, dict(parts)
        shown = ", ".join(f"{k}={v:.6g}" for k, v in self.parts.items())
        super().__init__(
            f"non-finite loss at epoch {epoch}, step {step} (batch {batch} of the epoch): "
            f"{shown}. Checkpoints written before it are untouched; lower the learning rate, "
            "set grad_clip, use amp=None, or pass nonfinite='skip' to skip such steps"
        )


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def _number(value: Any, name: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


def resolve_device(device: str | torch.device, local_rank: int = 0) -> torch.device:
    """``"auto"`` -> ``cuda:<local_rank>`` when CUDA is available, else ``mps``, else ``cpu``.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:<i>', 'mps' or a torch.device, "
            f"got {device!r}"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for CUDA, which is not available here")
        if dev.index is None:
            dev = torch.device("cuda", local_rank % torch.cuda.device_count())
    return dev


def _unwrap(model: nn.Module) -> nn.Module:
    model = getattr(model, "_orig_mod", model)
    return getattr(model, "module", model) if hasattr(model, "module") else model


class Trainer:
    """Train any autoencoder (any ``nn.Module`` with a loss) with one fast, resumable loop.

    The step is what a hand-written loop does — forward, loss, backward, optimizer step,
    ``zero_grad(set_to_none=True)`` — and nothing per step that needs the device to finish:
    losses are kept on the device and read once per epoch (and at each progress-bar refresh,
    at most twice a second). Data that fits in memory lives on the device as one tensor sliced
    by a seeded permutation (see :mod:`autoencoders.training.batches`).

    Args:
        model: the model; ``model(x)`` is passed to the loss with the clean ``x`` as target.
        loss: None (the model's default: :func:`autoencoders.losses.default_loss`, ELBO for a
            Gaussian bottleneck, reconstruction otherwise), a registered loss name (see
            :data:`autoencoders.loss_registry`), or a callable ``loss(output, x)`` returning a
            :class:`~autoencoders.LossOutput`. Losses must be means over the batch.
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"``, ``"rmsprop"`` or a callable
            ``params -> torch.optim.Optimizer``. Adam and AdamW use PyTorch's fused kernels
            where the device has them.
        lr: learning rate (named optimizers).
        weight_decay: weight decay (named optimizers).
        betas: Adam/AdamW betas.
        epochs: number of epochs.
        batch_size: global batch size (all processes together under torch.distributed).
        device: ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        amp: None, ``"bf16"`` (autocast to bfloat16 on CPU or CUDA) or ``"fp16"`` (CUDA only,
            with a gradient scaler). Losses are computed in float32.
        compile: False, True, or a ``torch.compile`` mode (``"default"``, ``"reduce-overhead"``,
            ``"max-autotune"``, ``"max-autotune-no-cudagraphs"``). The training forward is
            compiled once, for the steady batch size (``dynamic=False``); a smaller last
            batch runs eagerly, and evaluation is eager, so a fit compiles at most once.
        grad_clip: clip the gradient norm to this value (None: no clipping).
        scheduler: None, ``"cosine"`` (to 0 over ``epochs``), ``"step"`` (x0.1 every
            ``epochs // 3``), ``"exponential"`` (x0.95 per epoch), ``"plateau"`` (x0.5 after 2
            epochs without improvement of the validation, else training, loss), or a callable
            ``optimizer -> scheduler``. Stepped once per epoch. Its ``state_dict`` must be JSON
            values and tensors to be checkpointed.
        callbacks: :class:`~autoencoders.training.Callback` objects.
        early_stopping: None, a patience (int), EarlyStopping keyword arguments (dict), or an
            :class:`~autoencoders.training.EarlyStopping`.
        checkpoint_dir: folder for resumable checkpoints (end of every epoch), the best and
            the final model; see :mod:`autoencoders.training.checkpoint`.
        checkpoint_every: also checkpoint every this many steps (needs ``checkpoint_dir``).
        seed: seeds the training order, and (at the start of a fresh fit) ``torch`` and
            ``random`` (plus the rank under torch.distributed). None: leaves the global RNGs
            alone.
        progress: show a tqdm bar per epoch (rank 0 only).
        nonfinite: ``"raise"``: a NaN/Inf loss stops training with
            :class:`NonFiniteLossError` naming the step; checked without per-step
            synchronisation, at progress refreshes, checkpoints and epoch ends (always before a
            checkpoint is written). ``"skip"``: skip the optimizer step of such batches
            (counted in ``skipped_steps``); this reads the loss every step, one device
            synchronisation per step on GPUs.
        keep_checkpoints: how many resumable checkpoints to keep.
        compile_backend: ``torch.compile`` backend (a name or a callable), ``"inductor"`` by
            default; ``"eager"``/``"aot_eager"`` are quick for testing.
        num_workers: DataLoader workers for datasets too large for memory (None: up to 4).
        in_memory_limit: datasets up to this many bytes are stacked on the device.
        eval_batch_size: batch size of :meth:`evaluate` (default ``batch_size``).

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("vae", h=16, z=2)
        >>> trainer = autoencoders.Trainer(model, epochs=2, batch_size=32, progress=False)
        >>> history = trainer.fit(torch.rand(100, 1, 28, 28), val=torch.rand(20, 1, 28, 28))
        >>> len(history), sorted(k for k in history.keys if k.startswith("val_"))
        (2, ['val_kl', 'val_loss', 'val_recon'])
        >>> sorted(trainer.evaluate(torch.rand(10, 1, 28, 28)))
        ['kl', 'loss', 'recon']
    """

    def __init__(
        self,
        model: nn.Module,
        loss: Any = None,
        optimizer: str | Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer] = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        epochs: int = 10,
        batch_size: int = 128,
        device: str | torch.device = "auto",
        amp: str | None = None,
        compile: bool | str = False,
        grad_clip: float | None = None,
        scheduler: str | Callable[[torch.optim.Optimizer], Any] | None = None,
        callbacks: Sequence[Callback] = (),
        early_stopping: int | dict[str, Any] | EarlyStopping | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        checkpoint_every: int | None = None,
        seed: int | None = 0,
        progress: bool = True,
        nonfinite: str = "raise",
        *,
        keep_checkpoints: int = 2,
        compile_backend: str | Callable[..., Any] = "inductor",
        num_workers: int | None = None,
        in_memory_limit: int = DEFAULT_IN_MEMORY_LIMIT,
        eval_batch_size: int | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.epochs = _positive_int(epochs, "epochs")
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.eval_batch_size = (
            self.batch_size
            if eval_batch_size is None
            else _positive_int(eval_batch_size, "eval_batch_size")
        )
        self.lr = _number(lr, "lr", positive=True)
        self.weight_decay = _number(weight_decay, "weight_decay")
        self.grad_clip = (
            None if grad_clip is None else _number(grad_clip, "grad_clip", positive=True)
        )
        if (
            not isinstance(betas, (tuple, list))
            or len(betas) != 2
            or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)
        ):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        self.betas = (float(betas[0]), float(betas[1]))
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValueError(f"seed must be None or an integer >= 0, got {seed!r}")
        self.seed = seed
        if nonfinite not in NONFINITE:
            raise ValueError(
                f"nonfinite must be one of {', '.join(map(repr, NONFINITE))}, got {nonfinite!r}"
            )
        self.nonfinite = nonfinite
        self.progress = bool(progress)
        self.num_workers = num_workers
        if num_workers is not None and (
            isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0
        ):
            raise ValueError(f"num_workers must be None or an integer >= 0, got {num_workers!r}")
        self.in_memory_limit = int(in_memory_limit)

        self.env_rank, self.env_world_size, local_rank = dist_utils.env_world()
        self.device = resolve_device(device, local_rank)
        self.amp_dtype = self._check_amp(amp)
        self.amp = amp
        self.compile_mode, self.compile_backend = self._check_compile(compile, compile_backend)
        self.compile = compile

        self.model = model.to(self.device)
        self.loss_fn = self._build_loss(loss)
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("the model has no trainable parameters (none has requires_grad=True)")
        self.optimizer = self._build_optimizer(optimizer, params)
        self.scheduler = self._build_scheduler(scheduler)
        self.scaler: torch.amp.GradScaler | None = (
            torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        )

        if checkpoint_every is not None:
            _positive_int(checkpoint_every, "checkpoint_every")
            if checkpoint_dir is None:
                raise ValueError("checkpoint_every needs checkpoint_dir (where to write them)")
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.checkpoint_every = checkpoint_every
        self.callbacks = self._build_callbacks(callbacks, early_stopping, keep_checkpoints)

        # run state
        self.history = History()
        self.epoch = 0  # epochs completed (= index of the epoch in progress)
        self.batch_in_epoch = 0  # batches done in the epoch in progress
        self.batches_in_epoch: int | None = None
        self.global_step = 0  # batches processed over the whole run
        self.should_stop = False
        self.rank, self.world_size = 0, 1
        self._ready = False
        self._train_module: nn.Module = self.model
        self._compiled: nn.Module | None = None
        self._part_names: list[str] | None = None
        self._partial: dict[str, Any] | None = None  # restored from a mid-epoch checkpoint
        self._epoch_state: _EpochState | None = None
        self._num_train: int | None = None
        self._loaded_info: dict[str, Any] = {}

    # -- construction helpers -----------------------------------------------------------------
    def _check_amp(self, amp: str | None) -> torch.dtype | None:
        if amp is None:
            return None
        if amp not in AMP_MODES:
            raise ValueError(f"amp must be None, 'bf16' or 'fp16', got {amp!r}")
        dtype = AMP_MODES[amp]
        if dtype == torch.float16 and self.device.type != "cuda":
            raise ValueError(
                f"amp={amp!r} needs a CUDA device (it uses a gradient scaler), but the device is "
                f"{self.device.type!r}; accepted here: None or 'bf16'"
            )
        return dtype

    @staticmethod
    def _check_compile(
        compile: bool | str, backend: str | Callable[..., Any]
    ) -> tuple[str | bool | None, str | Callable[..., Any]]:
        if not (isinstance(backend, str) or callable(backend)):
            raise TypeError(f"compile_backend must be a backend name or callable, got {backend!r}")
        if compile is False or compile is None:
            return False, backend
        if compile is True:
            return None, backend
        if isinstance(compile, str):
            if compile not in COMPILE_MODES:
                raise ValueError(
                    f"compile must be False, True or a mode ({', '.join(COMPILE_MODES)}), "
                    f"got {compile!r}"
                )
            if backend != "inductor":
                raise ValueError(
                    f"compile mode {compile!r} applies to the inductor backend, but "
                    f"compile_backend is {backend!r}; pass compile=True with that backend"
                )
            return compile, backend
        raise TypeError(f"compile must be a bool or a mode string, got {compile!r}")

    def _build_loss(self, loss: Any) -> Callable[..., Any]:
        if loss is None:
            return default_loss(self.model)
        if isinstance(loss, str):
            return loss_registry.build(loss)
        if callable(loss):
            return loss
        raise TypeError(
            f"loss must be None, a registered loss name ({', '.join(loss_registry.names())}) "
            f"or a callable loss(output, x), got {type(loss).__name__}"
        )

    def _build_optimizer(self, spec: Any, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        if callable(spec) and not isinstance(spec, str):
            opt = spec(params)
            if not isinstance(opt, torch.optim.Optimizer):
                raise TypeError(
                    f"the optimizer callable must return a torch.optim.Optimizer, got "
                    f"{type(opt).__name__}"
                )
            return opt
        if not isinstance(spec, str) or spec.lower() not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {', '.join(OPTIMIZERS)} or a callable "
                f"params -> Optimizer, got {spec!r}"
            )
        name, lr, wd = spec.lower(), self.lr, self.weight_decay
        if name in ("adam", "adamw"):
            cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
            kwargs: dict[str, Any] = {"lr": lr, "betas": self.betas, "weight_decay": wd}
            try:
                return cls(params, fused=True, **kwargs)
            except (RuntimeError, ValueError, TypeError):
                return cls(params, **kwargs)
        if name == "sgd":
            return torch.optim.SGD(params, lr=lr, weight_decay=wd)
        return torch.optim.RMSprop(params, lr=lr, weight_decay=wd)

    def _build_scheduler(self, spec: Any) -> Any:
        if spec is None:
            return None
        opt, sched = self.optimizer, torch.optim.lr_scheduler
        if isinstance(spec, str):
            name = spec.lower()
            if name == "cosine":
                return sched.CosineAnnealingLR(opt, T_max=self.epochs)
            if name == "step":
                return sched.StepLR(opt, step_size=max(1, self.epochs // 3), gamma=0.1)
            if name == "exponential":
                return sched.ExponentialLR(opt, gamma=0.95)
            if name == "plateau":
                return sched.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2)
            raise ValueError(
                f"scheduler must be None, one of {', '.join(SCHEDULERS)} or a callable "
                f"optimizer -> scheduler, got {spec!r}"
            )
        if callable(spec):
            s = spec(opt)
            if not (hasattr(s, "step") and hasattr(s, "state_dict")):
                raise TypeError(
                    f"the scheduler callable must return an LR scheduler (with step and "
                    f"state_dict), got {type(s).__name__}"
                )
            return s
        raise TypeError(f"scheduler must be None, a name or a callable, got {type(spec).__name__}")

    def _build_callbacks(
        self, callbacks: Sequence[Callback], early_stopping: Any, keep: int
    ) -> list[Callback]:
        if isinstance(callbacks, Callback):
            callbacks = [callbacks]
        out: list[Callback] = []
        if early_stopping is not None:
            if isinstance(early_stopping, EarlyStopping):
                out.append(early_stopping)
            elif isinstance(early_stopping, bool):
                raise TypeError("early_stopping must be None, a patience, a dict or EarlyStopping")
            elif isinstance(early_stopping, int):
                out.append(EarlyStopping(patience=early_stopping))
            elif isinstance(early_stopping, dict):
                out.append(EarlyStopping(**early_stopping))
            else:
                raise TypeError(
                    "early_stopping must be None, a patience (int), EarlyStopping keyword "
                    f"arguments (dict) or an EarlyStopping, got {type(early_stopping).__name__}"
                )
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks must be autoencoders.training.Callback instances, got "
                    f"{type(cb).__name__}"
                )
            out.append(cb)
        if self.checkpoint_dir is not None:
            out.append(
                ModelCheckpoint(
                    self.checkpoint_dir, every_n_steps=self.checkpoint_every, keep_last=keep
                )
            )
        return out

    # -- properties ---------------------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        """Whether this process is rank 0 (the one that logs, shows progress and writes)."""
        return (self.rank if self._ready else self.env_rank) == 0

    @property
    def lr_now(self) -> float:
        """Learning rate of the first parameter group."""
        return float(self.optimizer.param_groups[0]["lr"])

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    # -- setup --------------------------------------------------------------------------------
    def _setup(self) -> None:
        """Process group, DDP wrapper and compilation: once per Trainer."""
        if self._ready:
            return
        dist_utils.init_from_env(self.device)
        self.rank, self.world_size = dist_utils.world_info()
        module: nn.Module = self.model
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            module = DistributedDataParallel(self.model, device_ids=ids)
        self._train_module = module
        if self.compile_mode is not False:
            kwargs: dict[str, Any] = {"backend": self.compile_backend, "dynamic": False}
            if self.compile_mode is not None:
                kwargs["mode"] = self.compile_mode
            self._compiled = torch.compile(module, **kwargs)
        self._ready = True

    def _source(self, data: Any, what: str) -> BatchSource:
        return make_source(
            data,
            what=what,
            device=self.device,
            batch_size=self.batch_size,
            eval_batch_size=self.eval_batch_size,
            seed=self.seed or 0,
            rank=self.rank,
            world_size=self.world_size,
            num_workers=self.num_workers,
            in_memory_limit=self.in_memory_limit,
        )

    # -- fit ----------------------------------------------------------------------------------
    def fit(
        self, train: Any, val: Any = None, resume: bool | str | os.PathLike[str] = False
    ) -> History:
        """Train for ``epochs`` epochs (or until early stopping) and return the :class:`History`.

        Args:
            train: a tensor ``(N, ...)``, a torch Dataset (items ``x`` or ``(x, label)``), or a
                DataLoader.
            val: validation data of the same kinds, evaluated after every epoch.
            resume: False starts afresh (``checkpoint_dir`` must hold no checkpoint). True
                continues from the latest checkpoint in ``checkpoint_dir`` (starting afresh if
                there is none); a path continues from that checkpoint folder. A run resumed
                mid-epoch replays the same data order and skips the batches already done.

        Returns:
            The history: one record per epoch (of the whole run, when resumed).

        Raises:
            NonFiniteLossError: a NaN or infinite training loss (``nonfinite="raise"``).
            ValueError: bad data, or a checkpoint that does not match this run.
        """
        self._setup()
        train_src = self._source(train, "train")
        val_src = None if val is None else self._source(val, "val")
        self._num_train = train_src.num_samples
        ckpt = self._find_resume(resume)
        for cb in self.callbacks:
            cb.on_fit_start(self)
        if ckpt is not None:
            self.load_checkpoint(ckpt)
            self._check_resumable(ckpt)
            if self.is_main:
                logger.info(
                    "resuming from %s (epoch %d, batch %d, step %d)",
                    ckpt,
                    self.epoch + 1,
                    self.batch_in_epoch,
                    self.global_step,
                )
        else:
            self.history = History()
            self.epoch = self.batch_in_epoch = self.global_step = 0
            self.should_stop = False
            self._partial = None
            if self.seed is not None:
                torch.manual_seed(self.seed + self.rank)
                random.seed(self.seed + self.rank)
        while self.epoch < self.epochs and not self.should_stop:
            self._run_epoch(train_src, val_src)
        for cb in self.callbacks:
            cb.on_fit_end(self, self.history)
        return self.history

    def _find_resume(self, resume: bool | str | os.PathLike[str]) -> Path | None:
        if resume is False or resume is None:
            if self.checkpoint_dir is not None:
                mine = 1.0 if (self.is_main and list_checkpoints(self.checkpoint_dir)) else 0.0
                if float(dist_utils.all_reduce_sum(torch.tensor([mine]))[0]) > 0:
                    raise ValueError(
                        f"checkpoint_dir {str(self.checkpoint_dir)!r} already holds checkpoints; "
                        "pass resume=True to continue that run, or choose an empty folder"
                    )
            return None
        if resume is True:
            if self.checkpoint_dir is None:
                raise ValueError("resume=True needs checkpoint_dir (where to find checkpoints)")
            found = find_latest(self.checkpoint_dir)
            if found is None and self.is_main:
                logger.info("no checkpoint in %s: starting afresh", self.checkpoint_dir)
            return found
        if isinstance(resume, (str, os.PathLike)):
            path = Path(resume)
            if not (path / STATE_FILE).is_file():
                found = find_latest(path) if path.is_dir() else None
                if found is None:
                    raise ValueError(
                        f"resume={str(path)!r} is neither a checkpoint folder (with {STATE_FILE}) "
                        "nor a checkpoint_dir holding one"
                    )
                path = found
            return path
        raise TypeError(f"resume must be a bool or a checkpoint path, got {type(resume).__name__}")

    def _check_resumable(self, ckpt: Path) -> None:
        info = self._loaded_info
        if not self.batch_in_epoch:
            return
        current = {
            "batch_size": self.batch_size,
            "seed": self.seed,
            "world_size": self.world_size,
            "num_train_samples": self._num_train,
        }
        for key, now in current.items():
            then = info.get(key)
            if then != now:
                raise ValueError(
                    f"checkpoint {str(ckpt)!r} was taken mid-epoch with {key}={then!r}, but this "
                    f"run has {key}={now!r}; a mid-epoch resume replays the same batches and "
                    "needs the same value"
                )

    # -- one epoch ----------------------------------------------------------------------------
    def _run_epoch(self, src: BatchSource, val_src: BatchSource | None) -> None:
        epoch = self.epoch
        for cb in self.callbacks:
            cb.on_epoch_start(self, epoch)
        batches, n_batches = src.train_batches(epoch, self.batch_in_epoch)
        self.batches_in_epoch = n_batches
        partial = self._partial or {}
        self._partial = None
        st = _EpochState(first_step=self.global_step + 1, first_batch=self.batch_in_epoch)
        st.restored = partial
        self._epoch_state = st
        bar = self._progress_bar(epoch, n_batches)
        t0 = st.t0
        try:
            self._train_batches(batches, st, bar, src.steady_batch, t0)
        finally:
            if bar is not None:
                bar.close()
        # -- end of epoch: one synchronisation
        rows, sizes = st.collect(self.device)
        self._check_finite(st, rows)
        totals = self._epoch_totals(st, rows, sizes)
        count, train_seconds = totals["count"], totals["seconds"]
        record: dict[str, Any] = {"epoch": epoch + 1, "step": self.global_step}
        for name, total in zip(self._part_names or ["loss"], totals["sums"]):
            record[f"train_{name}"] = total / count if count else math.nan
        if val_src is not None:
            for name, v in self._evaluate_source(val_src).items():
                record[f"val_{name}"] = v
        record["lr"] = totals["lr"]
        record["seconds"] = time.perf_counter() - t0 + partial.get("seconds", 0.0)
        record["samples_per_s"] = count / train_seconds if train_seconds > 0 else math.nan
        record["skipped_steps"] = totals["skipped"]
        self._epoch_state = None
        if self.scheduler is not None:
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(record.get("val_loss", record["train_loss"]))
            else:
                self.scheduler.step()
        self.history.append(record)
        self.epoch += 1
        self.batch_in_epoch = 0
        if self.is_main:
            shown = ", ".join(
                f"{k}={record[k]:.5g}" for k in ("train_loss", "val_loss") if k in record
            )
            logger.info(
                "epoch %d/%d: %s (%.1f s, %.0f samples/s)",
                epoch + 1,
                self.epochs,
                shown,
                record["seconds"],
                record["samples_per_s"],
            )
        for cb in self.callbacks:
            cb.on_epoch_end(self, record)

    def _train_batches(
        self,
        batches: Iterator[tuple[torch.Tensor, float]],
        st: _EpochState,
        bar: Any,
        steady: int | None,
        t0: float,
    ) -> None:
        """The hot loop."""
        self.model.train()
        module, compiled = self._train_module, self._compiled
        opt, scaler, loss_fn, clip = self.optimizer, self.scaler, self.loss_fn, self.grad_clip
        params = [p for g in opt.param_groups for p in g["params"]]
        skip = self.nonfinite == "skip"
        step_cbs = [cb for cb in self.callbacks if overrides(cb, "on_step_end")]
        rows, sizes = st.rows, st.sizes
        autocast = self._autocast
        last_refresh, shown = t0, self.batch_in_epoch
        for x, scale in batches:
            fwd = compiled if compiled is not None and x.shape[0] == steady else module
            with autocast():
                out = loss_fn(fwd(x), x)
            total = out.total
            if self._part_names is None:
                self._part_names = ["loss", *out.parts]
            if skip and not self._step_is_finite(total):
                st.skipped += 1
            else:
                objective = total * scale if scale != 1.0 else total
                if scaler is not None:
                    scaler.scale(objective).backward()
                    if clip is not None:
                        scaler.unscale_(opt)
                        torch.nn.utils.clip_grad_norm_(params, clip)
                    scaler.step(opt)
                    scaler.update()
                else:
                    objective.backward()
                    if clip is not None:
                        torch.nn.utils.clip_grad_norm_(params, clip)
                    opt.step()
                rows.append(
                    torch.stack([total.detach(), *[v.detach() for v in out.parts.values()]])
                )
                sizes.append(x.shape[0])
                if len(rows) >= _COMPACT_EVERY:
                    st.compact()
            opt.zero_grad(set_to_none=True)
            self.global_step += 1
            self.batch_in_epoch += 1
            for cb in step_cbs:
                cb.on_step_end(self, self.global_step, total)
            if bar is not None:
                now = time.perf_counter()
                if now - last_refresh >= _REFRESH_S:
                    self._refresh(bar, st, self.batch_in_epoch - shown, now - t0)
                    shown, last_refresh = self.batch_in_epoch, now
        if bar is not None:
            self._refresh(bar, st, self.batch_in_epoch - shown, time.perf_counter() - t0)

    def _step_is_finite(self, total: torch.Tensor) -> bool:
        ok = torch.isfinite(total.detach()).to(torch.float64).reshape(1)
        if self.world_size > 1:  # every process must skip the same steps
            return bool(dist_utils.all_reduce_sum(ok)[0] == self.world_size)
        return bool(ok[0])

    def _check_finite(self, st: _EpochState, rows: torch.Tensor | None) -> None:
        """Raise NonFiniteLossError for the first non-finite step recorded in ``st``."""
        if self.nonfinite != "raise":
            return
        big = float(2**53)
        first = big
        if rows is not None:
            bad = ~torch.isfinite(rows).all(dim=1)
            idx = torch.where(bad, torch.arange(len(rows), device=rows.device), len(rows))
            first = float(idx.min())
            first = big if first >= len(rows) else first
        if self.world_size > 1:
            # smallest bad row over processes: sum of one-hot flags is not a min, so gather
            firsts = dist_utils.all_gather_tensor(torch.tensor([first], dtype=torch.float64))
            first = min(float(f[0]) for f in firsts)
        if first >= big:
            return
        i = int(first)
        names = self._part_names or ["loss"]
        values = rows[i].tolist() if rows is not None and i < len(rows) else [math.nan] * len(names)
        raise NonFiniteLossError(
            epoch=self.epoch + 1,
            step=st.first_step + i,
            batch=st.first_batch + i + 1,
            parts=dict(zip(names, values)),
        )

    # -- progress -----------------------------------------------------------------------------
    def _progress_bar(self, epoch: int, n_batches: int | None) -> Any:
        if not self.progress or not self.is_main:
            return None
        from tqdm.auto import tqdm

        return tqdm(
            total=n_batches,
            initial=self.batch_in_epoch,
            desc=f"epoch {epoch + 1}/{self.epochs}",
            unit="batch",
            dynamic_ncols=True,
            leave=True,
        )

    def _refresh(self, bar: Any, st: _EpochState, new_batches: int, seconds: float) -> None:
        rows, sizes = st.collect(self.device)
        if self.world_size == 1:
            self._check_finite(st, rows)
        if new_batches:
            bar.update(new_batches)
        if rows is None:
            return
        mean = float((rows[:, 0].double() * sizes).sum() / sizes.sum())
        samples = float(sizes.sum()) * self.world_size
        bar.set_postfix(loss=f"{mean:.4g}", samples_s=f"{samples / max(seconds, 1e-9):.0f}")

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(self, data: Any) -> dict[str, float]:
        """Mean loss and loss parts over ``data``, in eval mode, without gradients.

        Args:
            data: a tensor, a Dataset or a DataLoader (as for :meth:`fit`).

        Returns:
            ``{"loss": ..., <part>: ...}``, each a sample-weighted mean over the whole set (all
            processes together under torch.distributed).
        """
        self._setup()
        return self._evaluate_source(self._source(data, "data"))

    def _evaluate_source(self, src: BatchSource) -> dict[str, float]:
        model = self.model
        was_training = model.training
        model.eval()
        sums: torch.Tensor | None = None
        count = 0
        names = self._part_names
        try:
            with torch.no_grad(), self._autocast():
                for x in src.eval_batches():
                    out = self.loss_fn(model(x), x)
                    if names is None:
                        names = ["loss", *out.parts]
                    row = torch.stack([out.total, *out.parts.values()]).double() * x.shape[0]
                    sums = row if sums is None else sums + row
                    count += x.shape[0]
        finally:
            model.train(was_training)
        if names is None:
            raise ValueError("cannot evaluate: the data is empty")
        local = torch.zeros(len(names) + 1, dtype=torch.float64, device=self.device)
        if sums is not None:
            local[:-1] = sums
        local[-1] = count
        totals = dist_utils.all_reduce_sum(local).tolist()
        n = totals[-1]
        return {k: (v / n if n else math.nan) for k, v in zip(names, totals[:-1])}

    # -- checkpoints --------------------------------------------------------------------------
    def save_checkpoint(self, folder: str | os.PathLike[str]) -> Path | None:
        """Write a resumable checkpoint to ``folder`` (atomically).

        Called by :class:`~autoencoders.training.ModelCheckpoint`; under torch.distributed
        every process must call it (the RNG states of all ranks are gathered), and rank 0
        writes. A non-finite loss since the last check raises :class:`NonFiniteLossError`
        *before* anything is written.

        Returns:
            The folder on rank 0, None on other ranks.
        """
        st = self._epoch_state
        partial: dict[str, Any] | None = None
        if st is not None:
            rows, sizes = st.collect(self.device)
            self._check_finite(st, rows)
            partial = self._epoch_totals(st, rows, sizes)
        rng = self._gather_rng()
        if not self.is_main:
            return None
        tensors: dict[str, torch.Tensor] = {}
        opt_doc, opt_tensors = split_state(self.optimizer.state_dict(), "optimizer")
        sched_doc = None
        if self.scheduler is not None:
            sched_doc, t = split_state(self.scheduler.state_dict(), "scheduler")
            tensors.update(t)
        cb_docs = []
        for i, cb in enumerate(self.callbacks):
            doc, t = split_state(cb.state_dict(), f"callbacks.{i}")
            tensors.update(t)
            cb_docs.append({"class": type(cb).__qualname__, "state": doc})
        rng_doc, t = split_state(rng, "rng")
        tensors.update(t)
        state = {
            "format_version": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "global_step": self.global_step,
            "epochs": self.epochs,
            "should_stop": self.should_stop,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "world_size": self.world_size,
            "num_train_samples": self._num_train,
            "part_names": self._part_names,
            "partial": partial,
            "history": self.history.records,
            "optimizer": opt_doc,
            "scheduler": sched_doc,
            "scaler": None if self.scaler is None else self.scaler.state_dict(),
            "callbacks": cb_docs,
            "rng": rng_doc,
            "model_config": _model_config(self.model),
        }
        weights = {
            k: v.detach().cpu().clone().contiguous() for k, v in self.model.state_dict().items()
        }
        files = {
            MODEL_FILE: st_save(weights, metadata={"format": "pt"}),
            OPTIMIZER_FILE: st_save(opt_tensors, metadata={"format": "pt"}),
            TENSORS_FILE: st_save(tensors, metadata={"format": "pt"}),
            STATE_FILE: dumps(state),
        }
        return write_folder(folder, files)

    def _epoch_totals(
        self, st: _EpochState, rows: torch.Tensor | None, sizes: torch.Tensor | None
    ) -> dict[str, Any]:
        """The epoch's sample-weighted loss sums, sample count, skipped steps, training seconds
        and learning rate so far, all processes together (including what a mid-epoch
        checkpoint restored). Saved in checkpoints, so a resumed epoch reports all of it."""
        n_cols = len(self._part_names or ["loss"])
        local = torch.zeros(n_cols + 2, dtype=torch.float64, device=self.device)
        if rows is not None and sizes is not None:
            local[:n_cols] = (rows.double() * sizes[:, None]).sum(0)
            local[n_cols] = sizes.sum()
        local[n_cols + 1] = st.skipped
        totals = dist_utils.all_reduce_sum(local).tolist()
        prev = st.restored or {}
        prev_sums = prev.get("sums") or [0.0] * n_cols
        return {
            "sums": [a + b for a, b in zip(totals[:n_cols], prev_sums)],
            "count": totals[n_cols] + prev.get("count", 0.0),
            "skipped": int(totals[n_cols + 1]) + int(prev.get("skipped", 0)),
            "seconds": time.perf_counter() - st.t0 + prev.get("seconds", 0.0),
            "lr": prev.get("lr", self.lr_now),
        }

    def _gather_rng(self) -> dict[str, Any]:
        """RNG states of every rank: torch CPU (and CUDA), python ``random``."""
        py = random.getstate()
        py_ints = torch.tensor(py[1], dtype=torch.int64)
        py_gauss = torch.tensor([math.nan if py[2] is None else py[2]], dtype=torch.float64)
        cpu = torch.get_rng_state()
        cuda = torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None
        ranks = {
            "torch": dist_utils.all_gather_tensor(cpu),
            "python": dist_utils.all_gather_tensor(py_ints),
            "python_gauss": dist_utils.all_gather_tensor(py_gauss),
            "python_version": py[0],
        }
        if cuda is not None:
            ranks["cuda"] = dist_utils.all_gather_tensor(cuda)
        return ranks

    def _restore_rng(self, rng: dict[str, Any]) -> None:
        n = len(rng.get("torch", []))
        if n != self.world_size:
            logger.warning(
                "checkpoint holds RNG states of %d processes, this run has %d: reseeding instead",
                n,
                self.world_size,
            )
            if self.seed is not None:
                torch.manual_seed(self.seed + self.rank + self.global_step)
            return
        r = self.rank
        torch.set_rng_state(rng["torch"][r].to(torch.uint8))
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"][r].to(torch.uint8), self.device)
        gauss = float(rng["python_gauss"][r][0])
        random.setstate(
            (
                int(rng["python_version"]),
                tuple(int(v) for v in rng["python"][r].tolist()),
                None if math.isnan(gauss) else gauss,
            )
        )

    def load_checkpoint(self, folder: str | os.PathLike[str]) -> None:
        """Restore the model, optimizer, scheduler, scaler, callbacks, counters and RNGs.

        Raises:
            ValueError: missing or unreadable files, or an unsupported format version.
        """
        folder = Path(folder)
        try:
            state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
            weights = load_file(str(folder / MODEL_FILE), device=str(self.device))
            opt_tensors = load_file(str(folder / OPTIMIZER_FILE))
            tensors = load_file(str(folder / TENSORS_FILE))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read checkpoint {str(folder)!r}: {exc}") from None
        if state.get("format_version") != CHECKPOINT_FORMAT:
            raise ValueError(
                f"checkpoint {str(folder)!r} has format_version {state.get('format_version')!r}; "
                f"this version reads {CHECKPOINT_FORMAT}"
            )
        self.model.load_state_dict(weights, strict=True)
        self.optimizer.load_state_dict(join_state(state["optimizer"], opt_tensors))
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(join_state(state["scheduler"], tensors))
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        saved = list(state.get("callbacks") or [])
        for cb in self.callbacks:
            name = type(cb).__qualname__
            for j, entry in enumerate(saved):
                if entry.get("class") == name:
                    cb.load_state_dict(join_state(entry["state"], tensors))
                    del saved[j]
                    break
        self.history = History(state.get("history") or [])
        self.epoch = int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.global_step = int(state["global_step"])
        self.should_stop = bool(state.get("should_stop", False))
        if state.get("part_names"):
            self._part_names = list(state["part_names"])
        self._partial = state.get("partial") if self.batch_in_epoch else None
        self._loaded_info = {
            k: state.get(k) for k in ("batch_size", "seed", "world_size", "num_train_samples")
        }
        self._restore_rng(join_state(state["rng"], tensors))

    def __repr__(self) -> str:
        return (
            f"Trainer(model={type(_unwrap(self.model)).__name__}, loss={self.loss_fn!r}, "
            f"optimizer={type(self.optimizer).__name__}, lr={self.lr}, epochs={self.epochs}, "
            f"batch_size={self.batch_size}, device={str(self.device)!r}, amp={self.amp!r})"
        )


def _model_config(model: nn.Module) -> Any:
    config = getattr(_unwrap(model), "config", None)
    if not isinstance(config, dict):
        return None
    try:
        return json.loads(json.dumps(config))
    except (TypeError, ValueError):
        return None


class _EpochState:
    """Per-step losses of the epoch in progress, kept on the device until read."""

    def __init__(self, first_step: int, first_batch: int) -> None:
        self.first_step, self.first_batch = first_step, first_batch
        self.rows: list[torch.Tensor] = []
        self.chunks: list[torch.Tensor] = []
        self.sizes: list[int] = []
        self.skipped = 0
        self.t0 = time.perf_counter()
        self.restored: dict[str, Any] | None = None

    def compact(self) -> None:
        if self.rows:
            self.chunks.append(torch.stack(self.rows))
            self.rows.clear()  # the same list: the training loop holds a reference to it

    def collect(self, device: torch.device) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """All rows so far as one ``(steps, 1 + parts)`` tensor, and the batch sizes."""
        self.compact()
        if not self.chunks:
            return None, None
        if len(self.chunks) > 1:
            self.chunks = [torch.cat(self.chunks)]
        sizes = torch.tensor(self.sizes, dtype=torch.float64).to(device, non_blocking=True)
        return self.chunks[0], sizes
