"""Callbacks: hooks the Trainer calls during :meth:`~autoencoders.training.Trainer.fit`.

A callback subclasses :class:`Callback` and overrides the hooks it needs. The Trainer calls
them in list order: first its own :class:`EarlyStopping` (``early_stopping=``), then the user's
``callbacks``, then its own :class:`~autoencoders.training.ModelCheckpoint`
(``checkpoint_dir=``), and last its :class:`ProgressBar` (``progress=True``), so a checkpoint
written at the end of an epoch holds every callback's updated state. Progress, early stopping,
checkpointing and metrics logging (:class:`MetricsLogger`, and
:class:`~autoencoders.training.TensorBoardLogger` in :mod:`autoencoders.training.tensorboard`)
are all callbacks on this one protocol. ``on_step_end`` is
called only for callbacks that override it, so the others cost nothing per step. A callback
that keeps state across a resume implements :meth:`state_dict` (JSON values and tensors) and
:meth:`load_state_dict`.

Example:
    >>> import torch, autoencoders
    >>> class CountSteps(Callback):
    ...     def __init__(self):
    ...         self.steps = 0
    ...     def on_step_end(self, trainer, step, loss):
    ...         self.steps += 1
    >>> counter = CountSteps()
    >>> trainer = autoencoders.Trainer(autoencoders.build("ae", h=8, z=2), epochs=2,
    ...                                batch_size=4, progress=False, callbacks=[counter])
    >>> _ = trainer.fit(torch.rand(10, 1, 28, 28))
    >>> counter.steps
    6
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn
from tqdm.auto import tqdm

from autoencoders._utils import unwrap_model
from autoencoders.errors import InvalidTypeError, InvalidValueError
from autoencoders.training.history import History
from autoencoders.training.state import TrainingState

__all__ = ["Callback", "EarlyStopping", "MetricsLogger", "ProgressBar", "TrainerView"]

logger = logging.getLogger(__name__)


class TrainerView(Protocol):
    """What a callback sees of the Trainer (a :class:`~autoencoders.training.Trainer` is one).

    Callbacks read these; setting ``should_stop = True`` ends training after the epoch.
    ``state`` is the :class:`~autoencoders.training.state.TrainingState` that checkpoints save.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    state: TrainingState
    history: History
    epochs: int
    epoch: int
    batch_in_epoch: int
    batches_in_epoch: int | None
    global_step: int
    should_stop: bool
    rank: int
    world_size: int
    is_main: bool


class Callback:
    """Base class of Trainer callbacks; every hook does nothing by default.

    Hooks receive the Trainer (see :class:`TrainerView` for what they may read); setting
    ``trainer.should_stop = True`` ends training after the current epoch.

    Attributes:
        changes_model: whether ``on_step_end`` may change the model (register hooks, swap or
            reconfigure modules). The Trainer then checks after it whether its analytic step
            (:mod:`autoencoders.analytic`) still applies, and otherwise goes on with autograd.
            True unless a callback says otherwise; the library's own say False.
    """

    changes_model: bool = True

    def on_fit_start(self, trainer: TrainerView) -> None:
        """Before the first epoch (and before a checkpoint is restored on resume)."""

    def on_epoch_start(self, trainer: TrainerView, epoch: int) -> None:
        """Before epoch ``epoch`` (0-based) starts or, on resume, continues."""

    def on_step_end(self, trainer: TrainerView, step: int, loss: torch.Tensor) -> None:
        """After optimizer step ``step`` (1-based, counted over the whole run).

        ``loss`` is the step's loss tensor, still on the device: calling ``.item()`` on it
        synchronises with the device, which the Trainer otherwise avoids.
        """

    def on_train_batches_end(self, trainer: TrainerView, record: dict[str, Any]) -> None:
        """After the epoch's last training batch, before validation and the epoch's log line.

        ``record`` is the epoch so far: ``epoch``, ``step``, the ``train_*`` means, ``lr``,
        ``seconds`` (training only), ``samples_per_s`` and ``skipped_steps``. The
        :class:`ProgressBar` closes its bar here.
        """

    def on_epoch_end(self, trainer: TrainerView, record: dict[str, Any]) -> None:
        """After an epoch, with its :class:`~autoencoders.training.History` record."""

    def on_fit_end(self, trainer: TrainerView, history: History) -> None:
        """After the last epoch (not called when training stops with an error)."""

    def on_exception(self, trainer: TrainerView, error: BaseException) -> None:
        """When ``fit`` is left by an exception (which is then re-raised)."""

    def state_dict(self) -> dict[str, Any]:
        """What to save in checkpoints: JSON values and tensors (default: nothing)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


def overrides(callback: Callback, hook: str) -> bool:
    """Whether ``callback``'s class overrides ``hook`` of :class:`Callback`.

    Example:
        >>> overrides(EarlyStopping(), "on_epoch_end"), overrides(EarlyStopping(), "on_step_end")
        (True, False)
    """
    return getattr(type(callback), hook, None) is not getattr(Callback, hook)


class ProgressBar(Callback):
    """A tqdm bar per epoch with the running loss and samples per second (rank 0 only).

    The Trainer adds one with ``progress=True``. Each refresh (at most every ``refresh_s``
    seconds) reads the running loss from the device: one synchronisation, which is also when
    a non-finite loss is noticed. The bar is closed when the epoch's training batches are done
    (:meth:`~Callback.on_train_batches_end`), before validation, so the epoch's log line and
    anything logged at the epoch's end start on a line of their own.

    Args:
        refresh_s: seconds between refreshes.

    Example:
        >>> ProgressBar().refresh_s
        0.5
    """

    changes_model = False

    def __init__(self, refresh_s: float = 0.5) -> None:
        self.refresh_s = float(refresh_s)
        self.bar: Any = None
        self._done = self._shown = 0
        self._t0 = self._last = 0.0

    def on_epoch_start(self, trainer: TrainerView, epoch: int) -> None:
        if not trainer.is_main:
            return
        self._done = self._shown = trainer.batch_in_epoch
        self._t0 = self._last = time.perf_counter()
        self.bar = tqdm(
            total=trainer.batches_in_epoch,
            initial=trainer.batch_in_epoch,
            desc=f"epoch {epoch + 1}/{trainer.epochs}",
            unit="batch",
            dynamic_ncols=True,
            leave=True,
        )

    def on_step_end(self, trainer: TrainerView, step: int, loss: torch.Tensor) -> None:
        if self.bar is None:
            return
        self._done += 1
        now = time.perf_counter()
        if now - self._last < self.refresh_s:
            return
        self._last = now
        self._advance()
        meter = trainer.state.meter
        running = None if meter is None else meter.running()
        if running is not None:
            mean, samples = running
            rate = samples * trainer.world_size / max(now - self._t0, 1e-9)
            self.bar.set_postfix(loss=f"{mean:.4g}", samples_s=f"{rate:.0f}")

    def _advance(self) -> None:
        self.bar.update(self._done - self._shown)
        self._shown = self._done

    def on_train_batches_end(self, trainer: TrainerView, record: dict[str, Any]) -> None:
        self._finish(record)

    def on_epoch_end(self, trainer: TrainerView, record: dict[str, Any]) -> None:
        self._finish(record)  # closed already, unless a caller skipped on_train_batches_end

    def _finish(self, record: dict[str, Any]) -> None:
        if self.bar is None:
            return
        self._advance()
        rate = record.get("samples_per_s", math.nan)
        self.bar.set_postfix(
            loss=f"{record.get('train_loss', math.nan):.4g}", samples_s=f"{rate:.0f}"
        )
        self._close()

    def on_exception(self, trainer: TrainerView, error: BaseException) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __repr__(self) -> str:
        return f"ProgressBar(refresh_s={self.refresh_s})"


class EarlyStopping(Callback):
    """Stop when a monitored value has not improved for ``patience`` epochs.

    Args:
        monitor: record key to watch (``val_loss`` by default; ``train_loss`` without
            validation data).
        patience: epochs without improvement before stopping.
        min_delta: an improvement must beat the best value by more than this.
        mode: ``"min"`` (losses) or ``"max"``.
        restore_best: at the end of training, load the weights of the best epoch (kept as a
            CPU copy, and in checkpoints).

    Example:
        >>> stop = EarlyStopping(patience=2)
        >>> stop.patience, stop.monitor
        (2, 'val_loss')
    """

    changes_model = False

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "min",
        restore_best: bool = True,
    ) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise InvalidValueError(f"patience must be an integer >= 1, got {patience!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or min_delta < 0:
            raise InvalidValueError(f"min_delta must be a number >= 0, got {min_delta!r}")
        if mode not in ("min", "max"):
            raise InvalidValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if not isinstance(monitor, str):
            raise InvalidTypeError(f"monitor must be a record key (str), got {monitor!r}")
        self.monitor, self.patience, self.min_delta = monitor, patience, float(min_delta)
        self.mode, self.restore_best = mode, bool(restore_best)
        self._reset()

    @classmethod
    def from_spec(cls, spec: int | dict[str, Any] | EarlyStopping | None) -> EarlyStopping | None:
        """The Trainer's ``early_stopping=``: None, a patience, keyword arguments, or one.

        Example:
            >>> EarlyStopping.from_spec(3).patience, EarlyStopping.from_spec(None)
            (3, None)
        """
        if spec is None or isinstance(spec, EarlyStopping):
            return spec
        if isinstance(spec, dict):
            return cls(**spec)
        if isinstance(spec, int) and not isinstance(spec, bool):
            return cls(patience=spec)
        raise InvalidTypeError(
            "early_stopping must be None, a patience (int), EarlyStopping keyword arguments "
            f"(dict) or an EarlyStopping, got {type(spec).__name__}"
        )

    def _reset(self) -> None:
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None

    def on_fit_start(self, trainer: TrainerView) -> None:
        self._reset()

    def _improved(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, trainer: TrainerView, record: dict[str, Any]) -> None:
        if self.monitor not in record:
            raise InvalidValueError(
                f"EarlyStopping monitors {self.monitor!r}, which the epoch record lacks (it has "
                f"{', '.join(record)}); pass validation data to fit() or monitor='train_loss'"
            )
        value = float(record[self.monitor])
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, int(record["epoch"]), 0
            if self.restore_best:
                self.best_state = {
                    k: v.detach().to("cpu", copy=True)
                    for k, v in unwrap_model(trainer.model).state_dict().items()
                }
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.should_stop = True
            self.stopped_epoch = int(record["epoch"])
            if trainer.is_main:
                logger.info(
                    "early stopping after epoch %d: %s has not improved on %.6g (epoch %s) "
                    "for %d epochs",
                    self.stopped_epoch,
                    self.monitor,
                    self.best if self.best is not None else math.nan,
                    self.best_epoch,
                    self.wait,
                )

    def on_fit_end(self, trainer: TrainerView, history: History) -> None:
        if not self.restore_best or self.best_state is None:
            return
        last = history.records[-1]["epoch"] if history.records else None
        if last != self.best_epoch:
            unwrap_model(trainer.model).load_state_dict(self.best_state)
            if trainer.is_main:
                logger.info(
                    "restored the weights of epoch %s (best %s)", self.best_epoch, self.monitor
                )

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_state": self.best_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state.get("best")
        self.best_epoch = state.get("best_epoch")
        self.wait = int(state.get("wait", 0))
        self.stopped_epoch = state.get("stopped_epoch")
        best_state = state.get("best_state")
        self.best_state = dict(best_state) if best_state else None

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
            f"min_delta={self.min_delta}, mode={self.mode!r}, restore_best={self.restore_best})"
        )


class MetricsLogger(Callback):
    """Write the history to a CSV or JSON file after every epoch (atomically; rank 0 only).

    Args:
        path: the file; its suffix (``.csv`` or ``.json``) picks the format.

    Example:
        >>> MetricsLogger("runs/metrics.csv").format
        'csv'
    """

    changes_model = False

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        fmt = self.path.suffix.lower().lstrip(".")
        if fmt not in ("csv", "json"):
            raise InvalidValueError(
                f"MetricsLogger writes .csv or .json files; got {str(self.path)!r} "
                f"(suffix {self.path.suffix!r})"
            )
        self.format = fmt

    def on_epoch_end(self, trainer: TrainerView, record: dict[str, Any]) -> None:
        if not trainer.is_main:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.format == "csv":
            trainer.history.to_csv(self.path)
        else:
            trainer.history.to_json(self.path)

    def __repr__(self) -> str:
        return f"MetricsLogger({str(self.path)!r})"
