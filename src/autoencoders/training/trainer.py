"""The generic :class:`Trainer`: one training loop for every architecture, a handful of calls
on small parts (runtime, training state, optimizer and schedule registries, batch sources,
callbacks; see :mod:`autoencoders.training`)."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autoencoders._utils import unwrap_model
from autoencoders.analytic import AnalyticStep, step_unsupported
from autoencoders.blocks.layers import flag, nonnegative_int
from autoencoders.errors import InvalidTypeError, InvalidValueError
from autoencoders.losses import default_loss
from autoencoders.registry import losses as loss_registry
from autoencoders.training import checkpoint, restore
from autoencoders.training._checks import (
    betas_pair,
    choice,
    number,
    optional_int,
    positive_int,
    suggest_keywords,
)
from autoencoders.training.batches import (
    DEFAULT_IN_MEMORY_LIMIT,
    Batch,
    BatchSource,
    make_source,
)
from autoencoders.training.callbacks import Callback, EarlyStopping, ProgressBar, overrides
from autoencoders.training.evaluation import evaluate_objective
from autoencoders.training.fusedstep import clear_grads
from autoencoders.training.history import History
from autoencoders.training.meter import EpochMeter, NonFiniteLossError
from autoencoders.training.optim import build_optimizer
from autoencoders.training.runtime import Runtime, resolve_device, to_channels_last
from autoencoders.training.schedules import Schedule, step_scheduler
from autoencoders.training.state import TrainingState, seed_everything

__all__ = ["CHECKPOINT_FORMAT", "NonFiniteLossError", "Trainer", "resolve_device"]

logger = logging.getLogger(__name__)

#: Version of the ``trainer_state.json`` layout (see :mod:`autoencoders.training.checkpoint`).
CHECKPOINT_FORMAT = checkpoint.CHECKPOINT_FORMAT
NONFINITE = ("raise", "skip")
LOSSES = ("train_loss", "val_loss")
_EPOCH_LOG = "epoch %d/%d: %s (%.1f s, %.0f samples/s)"


def _delegate(owner: str, name: str) -> property:
    """A read/write property forwarding ``trainer.<name>`` to ``trainer.<owner>.<name>``."""

    def get(self: Any) -> Any:
        return getattr(getattr(self, owner), name)

    def set_(self: Any, value: Any) -> None:
        setattr(getattr(self, owner), name, value)

    return property(get, set_, doc=f"``{owner}.{name}``")


class Trainer:
    """Train any autoencoder (any ``nn.Module`` with a loss) with one fast, resumable loop.

    The step is what a hand-written loop does — forward, loss, backward, optimizer step,
    ``zero_grad(set_to_none=True)`` — with nothing per step that waits for the device. Data
    that fits in memory lives on the device as one tensor sliced by a seeded permutation.

    Args:
        model: the model; ``model(x)`` is passed to the loss with the clean ``x`` as target.
            A conditional model (``model.takes_labels``, e.g. ``build("cvae")``) is called as
            ``model(x, labels=y)`` with the labels of ``(x, y)`` data, which it then needs.
        loss: None (:func:`autoencoders.losses.default_loss`), a registered loss name, or a
            callable ``loss(output, x) -> LossOutput`` whose total is a batch mean. A loss with
            a ``set_step(step)`` method is told the number of optimizer steps taken before
            every training batch and before validation (a schedule inside the loss, such as
            the growing capacity of :class:`~autoencoders.losses.CapacityELBOLoss`); the step
            is checkpointed, so a resumed run continues the schedule exactly.
        optimizer: a name in :data:`autoencoders.registry.optimizers` (``"adam"``, fused where
            possible, ``"adamw"``, ``"sgd"``, ...) or a callable ``params -> Optimizer``.
        lr: learning rate, passed to a named optimizer (always: it replaces the factory's
            own default, so ``"rmsprop"`` and ``"nadam"`` also train at 1e-3 by default).
        weight_decay: weight decay, passed to a named optimizer that takes it (so
            ``"adamw"`` gets 0.0 by default, not its factory's 1e-2).
        betas: Adam-family betas, passed to the named optimizers that take them.
        epochs: number of epochs.
        batch_size: global batch size (all processes together under torch.distributed).
        device: ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        amp: None, ``"bf16"`` (CPU or CUDA) or ``"fp16"`` (CUDA, with a gradient scaler).
        compile: False, True or a ``torch.compile`` mode: the training forward is compiled
            once, for the steady batch size; a smaller last batch and evaluation run eagerly.
        grad_clip: clip the gradient norm to this value (None: no clipping).
        scheduler: None, a name in :data:`autoencoders.registry.schedulers` (``"cosine"``,
            ``"onecycle"``, ...; see the guide) or a callable ``optimizer -> scheduler``.
        callbacks: :class:`~autoencoders.training.Callback` objects.
        early_stopping: None, a patience, EarlyStopping keyword arguments, or an EarlyStopping.
        checkpoint_dir: folder for resumable checkpoints, the best and the final model.
        checkpoint_every: also checkpoint every this many steps (needs ``checkpoint_dir``).
        seed: seeds the training order and, on a fresh fit, ``torch`` and ``random`` (plus
            the rank); None leaves the global RNGs alone.
        progress: show a tqdm bar per epoch (rank 0 only).
        nonfinite: ``"raise"`` (a NaN/Inf loss raises :class:`NonFiniteLossError`) or
            ``"skip"`` (skip the step of such batches: one synchronisation per step).
        keep_checkpoints: how many resumable checkpoints to keep.
        compile_backend: ``torch.compile`` backend (``"inductor"``; ``"eager"`` for tests).
        num_workers: DataLoader workers for datasets too large for memory (None: up to 4).
        in_memory_limit: datasets up to this many bytes are stacked on the device.
        eval_batch_size: batch size of :meth:`evaluate` (default ``batch_size``).
        optimizer_kwargs: more keyword arguments of the named optimizer (they win over
            ``lr``, ``weight_decay`` and ``betas``).
        scheduler_kwargs: keyword arguments of the named scheduler (they win over the run's
            ``epochs`` and ``steps_per_epoch``).
        eval_seed: seed of :meth:`evaluate`'s draws (default: ``seed``, or 0 without one).
        channels_last: put the model's 4-d weights in ``torch.channels_last`` memory format
            (in place, before the optimizer is built), so that its convolutions run in that
            layout: faster for convolutional models on most CPUs and on GPUs (the face VAE
            trains 1.2-1.5x faster on a 2-core AVX2 CPU, see the Performance page). The
            results differ from the default layout only by floating-point rounding; other
            tensors (dense layers, 3-d convolutions) are left as they are. Saving and loading
            are unchanged.
        analytic: train with :class:`~autoencoders.analytic.AnalyticStep` (the gradients
            written out, no autograd graph) where the model and loss support it and the run
            uses no amp, ``compile`` or several processes: the same gradients to float
            rounding, and the dense VAE trains 1.1x faster on a 2-core CPU.
            :attr:`step_kind` says which step trains. False: always autograd.

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

    epoch = _delegate("state", "epoch")
    batch_in_epoch = _delegate("state", "batch_in_epoch")
    batches_in_epoch = _delegate("state", "batches_in_epoch")
    global_step = _delegate("state", "global_step")
    should_stop = _delegate("state", "should_stop")
    history = _delegate("state", "history")
    epochs = _delegate("state", "epochs")
    scheduler = _delegate("state", "scheduler")
    device = _delegate("runtime", "device")
    scaler = _delegate("runtime", "scaler")
    rank = _delegate("runtime", "rank")
    world_size = _delegate("runtime", "world_size")

    @suggest_keywords
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
        optimizer_kwargs: dict[str, Any] | None = None,
        scheduler_kwargs: dict[str, Any] | None = None,
        eval_seed: int | None = None,
        channels_last: bool = False,
        analytic: bool = True,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise InvalidTypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.batch_size = positive_int(batch_size, "batch_size")
        eval_bs = self.batch_size if eval_batch_size is None else eval_batch_size
        self.eval_batch_size = positive_int(eval_bs, "eval_batch_size")
        self.lr = number(lr, "lr", positive=True)
        self.weight_decay = number(weight_decay, "weight_decay")
        self.betas = betas_pair(betas)
        self.seed, self.eval_seed = optional_int(seed, "seed"), optional_int(eval_seed, "eval_seed")
        self.nonfinite = choice(nonfinite, "nonfinite", NONFINITE)
        self.progress, self.analytic = flag(progress, "progress"), flag(analytic, "analytic")
        self.channels_last = flag(channels_last, "channels_last")
        self.num_workers = optional_int(num_workers, "num_workers")
        self.in_memory_limit = nonnegative_int(in_memory_limit, "in_memory_limit")
        self.amp, self.compile = amp, compile
        self.runtime = Runtime(device, amp, compile, compile_backend, grad_clip)
        self.grad_clip = self.runtime.grad_clip
        self.model = model.to(self.device)
        if channels_last:
            to_channels_last(self.model)
        self.loss_fn = self._build_loss(loss)
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise InvalidValueError("the model has no trainable parameter (requires_grad=True)")
        wd, betas = self.weight_decay, self.betas
        self.optimizer = build_optimizer(
            optimizer, params, lr=self.lr, weight_decay=wd, betas=betas, kwargs=optimizer_kwargs
        )
        self.schedule = Schedule(scheduler, scheduler_kwargs)
        if optional_int(checkpoint_every, "checkpoint_every", 1) and checkpoint_dir is None:
            raise InvalidValueError("checkpoint_every needs checkpoint_dir (where to write them)")
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.checkpoint_every = checkpoint_every
        self.callbacks = self._build_callbacks(callbacks, early_stopping, keep_checkpoints)
        self.state = TrainingState(
            self.model, self.optimizer, None, self.scaler, self.callbacks, batch_size=self.batch_size,
            epochs=positive_int(epochs, "epochs"), seed=self.seed, device=self.device,
        )  # fmt: skip
        if not self.schedule.per_step:
            self.scheduler = self.schedule.build(self.optimizer, self.epochs)

    @property
    def step_kind(self) -> str:
        """Which step :meth:`fit` trains with (the model in training mode): ``"analytic"``
        (:mod:`autoencoders.analytic`) or ``"autograd (<why not analytic>)"``. A callback
        whose ``on_step_end`` changes the model (:attr:`Callback.changes_model`) can make a
        fit go on with autograd from that step.

        Example:
            >>> import autoencoders
            >>> Trainer(autoencoders.build("vae", h=16, z=2), progress=False).step_kind
            'analytic'
            >>> Trainer(autoencoders.build("vae", h=16, z=2), analytic=False).step_kind
            'autograd (analytic=False)'
        """
        modules = list(self.model.modules())
        modes = [m.training for m in modules]
        self.model.train()  # as fit trains it (a dropout may be off in eval mode only)
        try:
            reason = self._autograd_reason()
        finally:
            for m, mode in zip(modules, modes, strict=True):
                m.training = mode
        return "analytic" if reason is None else f"autograd ({reason})"

    def _autograd_reason(self) -> str | None:
        if not self.analytic:
            return "analytic=False"
        return self.runtime.needs_autograd() or step_unsupported(self.model, self.loss_fn)

    def _build_loss(self, loss: Any) -> Callable[..., Any]:
        if loss is None:
            return default_loss(self.model)
        if isinstance(loss, str):
            return loss_registry.build(loss)
        if callable(loss):
            return loss
        raise InvalidTypeError(
            f"loss must be None, a registered loss name ({', '.join(loss_registry.names())}) "
            f"or a callable loss(output, x), got {type(loss).__name__}"
        )

    def _build_callbacks(self, callbacks: Any, early_stopping: Any, keep: int) -> list[Callback]:
        """Early stopping, the user's callbacks, checkpointing, the progress bar: in that order."""
        stop, keep = EarlyStopping.from_spec(early_stopping), positive_int(keep, "keep_checkpoints")
        user = [callbacks] if isinstance(callbacks, Callback) else list(callbacks)
        bad = [type(cb).__name__ for cb in user if not isinstance(cb, Callback)]
        if bad:
            raise InvalidTypeError(f"callbacks must be training.Callback instances, got {bad}")
        out = ([stop] if stop is not None else []) + user
        if self.checkpoint_dir is not None:
            every = self.checkpoint_every
            out.append(
                checkpoint.ModelCheckpoint(self.checkpoint_dir, every_n_steps=every, keep_last=keep)
            )
        return out + ([ProgressBar()] if self.progress else [])

    @property
    def is_main(self) -> bool:
        """Whether this process is rank 0 (the one that logs, shows progress and writes)."""
        return self.runtime.is_main

    @property
    def lr_now(self) -> float:
        """Learning rate of the first parameter group."""
        return float(self.optimizer.param_groups[0]["lr"])

    def _setup(self) -> None:
        self.runtime.setup(self.model)
        self.state.rank, self.state.world_size = self.rank, self.world_size

    def _source(self, data: Any, what: str) -> BatchSource:
        return make_source(
            data, what=what, device=self.device, batch_size=self.batch_size,
            eval_batch_size=self.eval_batch_size, seed=self.seed or 0, rank=self.rank,
            world_size=self.world_size, num_workers=self.num_workers,
            in_memory_limit=self.in_memory_limit,
            labels=bool(getattr(unwrap_model(self.model), "takes_labels", False)),
            pixel_range=tuple(getattr(unwrap_model(self.model), "pixel_range", (0.0, 1.0))),
            output_activation=getattr(unwrap_model(self.model), "output_activation", None),
        )  # fmt: skip

    # -- fit ----------------------------------------------------------------------------------
    def fit(
        self, train: Any, val: Any = None, resume: bool | str | os.PathLike[str] = False
    ) -> History:
        """Train for ``epochs`` epochs (or until early stopping) and return the :class:`History`.

        Args:
            train: a tensor ``(N, ...)``, an ``(x, y)`` pair, a Dataset or a DataLoader.
            val: validation data of the same kinds, evaluated after every epoch.
            resume: False starts afresh (``checkpoint_dir`` must hold no checkpoint). True
                continues from the latest checkpoint in ``checkpoint_dir`` (afresh if there is
                none); a path continues from that checkpoint. A mid-epoch resume replays the
                same data order and skips the batches already done.

        Raises:
            NonFiniteLossError: a NaN or infinite training loss (``nonfinite="raise"``).
            ValueError: bad data, or a checkpoint that does not match this run (a mid-epoch
                one with another batch size, seed, number of processes or data size; one
                whose per-step schedule would have to run longer than it was built for).
        """
        self._setup()
        train_src = self._source(train, "train")
        val_src = None if val is None else self._source(val, "val")
        self.state.num_train_samples = train_src.num_samples
        if self.schedule.per_step and self.scheduler is None:
            steps = train_src.batches_per_epoch
            self.scheduler = self.schedule.build(self.optimizer, self.epochs, steps)
        ckpt = checkpoint.resolve_resume(resume, self.checkpoint_dir, is_main=self.is_main)
        for cb in self.callbacks:
            cb.on_fit_start(self)
        if ckpt is not None:  # resume=True passes over a damaged checkpoint to an older one
            ckpt = restore.restore(ckpt, self.state, self.checkpoint_dir, fall_back=resume is True)
            self.state.check_resumable(str(ckpt))
            saved_epochs = self.state.loaded_info.get("epochs")
            self.schedule.check_resume(saved_epochs, self.epochs, str(ckpt))
            if self.is_main:
                logger.info("resuming from %s at step %d", ckpt, self.global_step)
        else:
            self.state.reset()
            if self.seed is not None:
                seed_everything(self.seed + self.rank)
        try:
            while self.epoch < self.epochs and not self.should_stop:
                self._run_epoch(train_src, val_src)
        except BaseException as exc:
            for cb in self.callbacks:
                cb.on_exception(self, exc)
            raise
        for cb in self.callbacks:
            cb.on_fit_end(self, self.history)
        return self.history

    def _run_epoch(self, src: BatchSource, val_src: BatchSource | None) -> None:
        """One epoch: train, then validate, step the schedule, record, call back."""
        state, epoch = self.state, self.epoch
        batches, state.batches_in_epoch = src.train_batches(epoch, self.batch_in_epoch)
        for cb in self.callbacks:
            cb.on_epoch_start(self, epoch)
        meter = state.start_epoch(check=self.nonfinite == "raise")
        self._train_batches(batches, meter, src.steady_batch)
        totals = meter.totals(self.lr_now)  # one synchronisation; raises on a NaN loss
        record: dict[str, Any] = {"epoch": epoch + 1, "step": self.global_step}
        record.update(meter.train_means(totals))
        so_far = {**record, **meter.summary(totals)}
        for cb in self.callbacks:  # the progress bar closes here, before validation and logs
            cb.on_train_batches_end(self, so_far)
        if val_src is not None:
            val = self._evaluate_source(val_src)
            if not math.isfinite(val["loss"]):  # best/ and early stopping would go wrong quietly
                raise NonFiniteLossError(epoch + 1, self.global_step, 0, val, where="validation")
            record.update({f"val_{k}": v for k, v in val.items()})
        record.update(meter.summary(totals))
        if self.scheduler is not None and not self.schedule.per_step:
            step_scheduler(self.scheduler, record.get("val_loss", record["train_loss"]))
        state.end_epoch(record)
        if self.is_main:
            shown = ", ".join(f"{k}={record[k]:.5g}" for k in LOSSES if k in record)
            speed = record["seconds"], record["samples_per_s"]
            logger.info(_EPOCH_LOG, epoch + 1, self.epochs, shown, *speed)
        for cb in self.callbacks:
            cb.on_epoch_end(self, record)

    def _train_batches(
        self, batches: Iterator[Batch], meter: EpochMeter, steady: int | None
    ) -> None:
        """The hot loop: forward, loss, backward, step; losses stay on the device."""
        state, rt, opt, loss_fn = self.state, self.runtime, self.optimizer, self.loss_fn
        per_step = self.scheduler if self.schedule.per_step else None
        skip = self.nonfinite == "skip"
        step_cbs = [cb for cb in self.callbacks if overrides(cb, "on_step_end")]
        set_step = getattr(loss_fn, "set_step", None)
        self.model.train()
        reason = self._autograd_reason()
        analytic = AnalyticStep(self.model, loss_fn) if reason is None else None
        logger.debug("training step: %s", "analytic" if analytic else f"autograd ({reason})")
        # a callback of the user's may register hooks or swap modules between two steps
        recheck = any(getattr(cb, "changes_model", True) for cb in step_cbs)
        backward = None
        for x, y, scale in batches:
            if set_step is not None:
                set_step(state.global_step)
            if analytic is not None:
                out, backward = analytic(x, y)
            else:
                net = rt.module_for(x.shape[0], steady)
                with rt.autocast():  # labels go to a conditional model (the source gives them)
                    out = loss_fn(net(x) if y is None else net(x, labels=y), x)
            total = out.total
            if state.part_names is None:
                state.part_names = meter.names = ["loss", *out.parts]
            if skip and not meter.is_finite(total):
                meter.skipped += 1
            else:
                if analytic is not None:
                    backward(scale)
                else:
                    rt.backward(total * scale if scale != 1.0 else total)
                rt.step(opt)
                meter.add(total, out.parts, x.shape[0])
            backward = None  # frees this step's activations before the next forward pass
            clear_grads(opt)
            if per_step is not None:
                per_step.step()
            state.global_step += 1
            state.batch_in_epoch += 1
            for cb in step_cbs:
                cb.on_step_end(self, state.global_step, total)
            if analytic is not None and recheck and self._autograd_reason() is not None:
                analytic = None  # the rest of the epoch trains through autograd

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(self, data: Any) -> dict[str, float]:
        """The training objective over ``data`` as trained: mean loss and parts, reproducibly.

        Eval mode without gradients, drawing what training draws (``sample=True,
        corrupt=True``) from a generator seeded with ``eval_seed`` (plus the rank) at each
        call: a VAE scores its sampled ELBO (:func:`autoencoders.metrics.elbo` with that seed
        and batch size), a denoising model its denoising loss; the global RNGs are untouched.
        See :mod:`autoencoders.training.evaluation`. This is what ``val_loss`` records.

        Args:
            data: a tensor, a Dataset or a DataLoader (as for :meth:`fit`).

        Returns:
            ``{"loss": ..., <part>: ...}``, each a sample-weighted mean over the whole set (all
            processes together under torch.distributed).
        """
        self._setup()
        return self._evaluate_source(self._source(data, "data"))

    def _evaluate_source(self, src: BatchSource) -> dict[str, float]:
        seed = (self.eval_seed if self.eval_seed is not None else self.seed or 0) + self.rank
        set_step = getattr(self.loss_fn, "set_step", None)
        if set_step is not None:
            set_step(self.global_step)
        return evaluate_objective(
            unwrap_model(self.model), self.loss_fn, src.eval_batches(), seed=seed,
            autocast=self.runtime.autocast, names=self.state.part_names,
        )  # fmt: skip

    # -- checkpoints --------------------------------------------------------------------------
    def save_checkpoint(self, folder: str | os.PathLike[str]) -> Path | None:
        """Write a resumable checkpoint to ``folder``, atomically; the folder on rank 0, else
        None. Collective under torch.distributed; a non-finite loss since the last check raises
        :class:`NonFiniteLossError` first (see :func:`~.checkpoint.save_checkpoint`)."""
        return checkpoint.save_checkpoint(folder, self.state)

    def load_checkpoint(self, folder: str | os.PathLike[str]) -> None:
        """Restore the model, optimizer, scheduler, scaler, callbacks, counters and RNGs.

        Raises:
            CheckpointError: missing, unreadable, damaged or edited files.
            ResumeError: a checkpoint of another model or optimizer.
        """
        restore.load_checkpoint(folder, self.state)

    def __repr__(self) -> str:
        return (
            f"Trainer(model={type(unwrap_model(self.model)).__name__}, loss={self.loss_fn!r}, "
            f"optimizer={type(self.optimizer).__name__}, lr={self.lr}, epochs={self.epochs}, "
            f"batch_size={self.batch_size}, device={str(self.device)!r}, amp={self.amp!r})"
        )
