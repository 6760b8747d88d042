"""What a run is told and what it gives back: :class:`RunSettings`, :class:`RunResult`,
:class:`SweepResult`, and :class:`RunError` for a run that cannot start as asked."""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autoencoders import registry
from autoencoders.errors import InvalidTypeError, RunError
from autoencoders.training import History, TensorBoardLogger
from autoencoders.training.tensorboard import summary_writer_class

__all__ = [
    "CHECKPOINT_DIR",
    "TENSORBOARD_DIR",
    "RunError",
    "RunResult",
    "RunSettings",
    "SweepResult",
]

#: Settings that say where the data comes from or how the run looks, not how it trains.
_NOT_TRAINING = ("data", "data_root", "download", "limit", "progress", "plots", "extra")
#: The sub-folder of a run folder holding its resumable checkpoints (``checkpoint_every``,
#: ``resume``).
CHECKPOINT_DIR = "checkpoints"
#: The sub-folder of a run folder holding its TensorBoard event files (``tensorboard``).
TENSORBOARD_DIR = "tensorboard"


@dataclass
class RunSettings:
    """Data and training options of a run (``autoencoders train`` / ``sweep`` options).

    Attributes:
        data: any registered dataset that a name alone loads (see
            :func:`autoencoders.data.dataset_names`, e.g. ``fashion-mnist`` or
            ``folder:<path>``), or a folder of images.
        data_root: where to look for the data first.
        download: let torchvision download a missing dataset.
        limit: use at most this many examples per split (quick runs).
        epochs: training epochs.
        batch_size: batch size.
        lr: learning rate.
        amp: mixed precision, ``"bf16"`` or ``"fp16"`` (None: full precision).
        compile: ``torch.compile`` the model.
        channels_last: train in the ``channels_last`` memory format (convolutional models;
            see the Trainer's ``channels_last``).
        analytic: the Trainer's analytic step where the model supports it (dense models:
            gradients written out, no autograd graph; see the Trainer's ``analytic``).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        seed: seed of the initialisation, shuffling, noise and figures.
        progress: show progress bars.
        plots: draw the figures (needs matplotlib, checked before anything is trained).
        extra: further keyword arguments of the :class:`~autoencoders.training.Trainer`
            (``grad_clip``, ``early_stopping``, ``nonfinite``, ...), recorded with the rest.
        optimizer: a name of :data:`autoencoders.registry.optimizers`.
        optimizer_kwargs: its keyword arguments (e.g. ``{"momentum": 0.9}`` for ``sgd``).
        scheduler: a name of :data:`autoencoders.registry.schedulers`, or None.
        scheduler_kwargs: its keyword arguments.
        loss: a name of :data:`autoencoders.registry.losses` (``"mse"``, ``"bce"``,
            ``"elbo"``, ...), or None for the model's default loss
            (:func:`autoencoders.losses.default_loss`).
        loss_kwargs: its keyword arguments (e.g. ``{"recon": "mse", "beta": 4.0}`` for
            ``elbo``).
        weight_decay: the optimizer's weight decay (for the optimizers that take it).
        betas: Adam-family ``(beta1, beta2)``, each in [0, 1); None: the optimizer's default.
        checkpoint_every: also write a resumable checkpoint every this many optimizer steps
            (besides one per epoch) into the run folder's ``checkpoints/``.
        resume: continue from the latest checkpoint in the run folder's ``checkpoints/``
            (a run folder that holds a run may then be written into without ``overwrite``).
            Checkpoints are written when ``checkpoint_every`` or ``resume`` is set.
        tensorboard: log to TensorBoard in the run folder's ``tensorboard/``
            (:class:`~autoencoders.training.TensorBoardLogger`; needs the ``tensorboard``
            extra, checked before anything is trained).

    Example:
        >>> s = RunSettings(epochs=1, limit=500, optimizer="sgd", optimizer_kwargs={"momentum": 0.9})
        >>> s.check().record()["optimizer_kwargs"]
        {'momentum': 0.9}
        >>> s = RunSettings(loss="elbo", loss_kwargs={"recon": "mse"}, betas=(0.5, 0.999),
        ...                 weight_decay=1e-5, plots=False).check()
        >>> {k: s.record()[k] for k in ("loss", "loss_kwargs", "betas", "weight_decay")}
        {'loss': 'elbo', 'loss_kwargs': {'recon': 'mse'}, 'betas': (0.5, 0.999), 'weight_decay': 1e-05}
    """

    data: str = "fashion-mnist"
    data_root: str | None = None
    download: bool = False
    limit: int | None = None
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    amp: str | None = None
    compile: bool = False
    channels_last: bool = False
    analytic: bool = True
    device: str = "auto"
    seed: int = 0
    progress: bool = True
    plots: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    optimizer: str = "adam"
    optimizer_kwargs: dict[str, Any] = field(default_factory=dict)
    scheduler: str | None = None
    scheduler_kwargs: dict[str, Any] = field(default_factory=dict)
    loss: str | None = None
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    weight_decay: float = 0.0
    betas: tuple[float, float] | None = None
    checkpoint_every: int | None = None
    resume: bool = False
    tensorboard: bool = False

    def check(self) -> RunSettings:
        """Check the settings before anything is loaded or trained; returns ``self``.

        The optimizer, scheduler and loss names are checked against their registries (the
        loss is built with ``loss_kwargs``, so a misspelt keyword is caught too), the numbers
        against their ranges, and the optional packages the run needs are imported:
        matplotlib for ``plots``, tensorboard for ``tensorboard``. ``betas`` becomes a tuple.

        Raises:
            autoencoders.UnknownNameError: a name no registry entry (nor plugin) provides;
                the message suggests a close match ("did you mean 'adam'?").
            autoencoders.errors.UnknownArgumentError: a keyword the loss does not take.
            TypeError: keyword arguments that are not a mapping.
            RunError: scheduler or loss keyword arguments without a scheduler or loss; a
                weight decay, betas or checkpoint interval out of range; matplotlib or
                tensorboard missing (the message says how to install it or what to drop).

        Example:
            >>> RunSettings(betas=(0.5, 1.0)).check()
            Traceback (most recent call last):
              ...
            autoencoders.errors.RunError: betas must be two numbers in [0, 1), got (0.5, 1.0)
        """
        registry.optimizers.get(self.optimizer)
        if self.scheduler is not None:
            registry.schedulers.get(self.scheduler)
        for name in ("optimizer_kwargs", "scheduler_kwargs", "loss_kwargs", "extra"):
            if not isinstance(getattr(self, name), Mapping):
                raise InvalidTypeError(
                    f"{name} must be a dict of keyword arguments, got {getattr(self, name)!r}"
                )
        for what, reg in (("scheduler", registry.schedulers), ("loss", registry.losses)):
            if getattr(self, what) is None and getattr(self, f"{what}_kwargs"):
                names, option = ", ".join(reg.names()), f"--{what}"
                raise RunError(
                    f"{what}_kwargs {dict(getattr(self, f'{what}_kwargs'))!r} given without a "
                    f"{what}; name one of: {names}",
                    cli=f"{option}-arg given without a {what}; pass {option} NAME ({names})",
                )
        if self.loss is not None:
            if not isinstance(self.loss, str):
                raise InvalidTypeError(
                    f"loss must be a registered loss name or None, got {self.loss!r}"
                )
            registry.losses.build(self.loss, **self.loss_kwargs)  # the name and its keywords
        self._check_numbers()
        self._check_packages()
        return self

    def _check_numbers(self) -> None:
        wd = self.weight_decay
        if isinstance(wd, bool) or not isinstance(wd, (int, float)) or not 0 <= wd < math.inf:
            raise RunError(
                f"weight_decay must be a number >= 0, got {wd!r}",
                cli=f"--weight-decay must be a number >= 0, got {wd!r}",
            )
        if self.betas is not None:
            betas = self.betas
            ok = (
                isinstance(betas, Sequence)
                and not isinstance(betas, str)
                and len(betas) == 2
                and all(
                    isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1
                    for b in betas
                )
            )
            if not ok:
                shown = tuple(betas) if isinstance(betas, list) else betas
                raise RunError(
                    f"betas must be two numbers in [0, 1), got {shown!r}",
                    cli=f"--betas must be two numbers in [0, 1) as B1,B2 (e.g. 0.5,0.999), "
                    f"got {shown!r}",
                )
            self.betas = (float(betas[0]), float(betas[1]))
        every = self.checkpoint_every
        if every is not None and (
            isinstance(every, bool) or not isinstance(every, int) or every < 1
        ):
            raise RunError(
                f"checkpoint_every must be None or an integer >= 1, got {every!r}",
                cli=f"--checkpoint-every must be an integer >= 1, got {every!r}",
            )
        for name in ("resume", "tensorboard", "plots"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidTypeError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def _check_packages(self) -> None:
        """Import what the run will need, so that a missing package is said before training."""
        if self.plots:
            try:
                importlib.import_module("matplotlib")
            except ImportError as exc:
                raise RunError(
                    f"the figures need matplotlib, which cannot be imported ({exc}); install it "
                    "(pip install matplotlib) or pass plots=False",
                    cli=f"the figures need matplotlib, which cannot be imported ({exc}); install "
                    "it (pip install matplotlib) or pass --no-plots",
                ) from exc
        if self.tensorboard:
            try:
                summary_writer_class()
            except ImportError as exc:
                raise RunError(
                    f"tensorboard=True: {exc}; or pass tensorboard=False",
                    cli=f"--tensorboard: {exc}; or drop --tensorboard",
                ) from exc

    def trainer_kwargs(self, run_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """The keyword arguments of :class:`~autoencoders.training.Trainer` for these settings.

        Args:
            run_dir: the run folder: its ``checkpoints/`` is the Trainer's ``checkpoint_dir``
                (with ``checkpoint_every`` or ``resume``) and its ``tensorboard/`` the log
                folder of a :class:`~autoencoders.training.TensorBoardLogger` (with
                ``tensorboard``); these settings need it.

        Raises:
            RunError: ``checkpoint_every``, ``resume`` or ``tensorboard`` without ``run_dir``.

        Example:
            >>> kw = RunSettings(epochs=2, scheduler="cosine").trainer_kwargs()
            >>> kw["epochs"], kw["optimizer"], kw["scheduler"]
            (2, 'adam', 'cosine')
            >>> kw = RunSettings(checkpoint_every=100).trainer_kwargs("runs/r")
            >>> kw["checkpoint_dir"].as_posix(), kw["checkpoint_every"]
            ('runs/r/checkpoints', 100)
        """
        kw: dict[str, Any] = {
            "lr": self.lr,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "device": self.device,
            "amp": self.amp,
            "compile": self.compile,
            "channels_last": self.channels_last,
            "analytic": self.analytic,
            "seed": self.seed,
            "progress": self.progress,
            "optimizer": self.optimizer,
            "optimizer_kwargs": dict(self.optimizer_kwargs),
            "scheduler": self.scheduler,
            "scheduler_kwargs": dict(self.scheduler_kwargs),
            "weight_decay": self.weight_decay,
        }
        if self.betas is not None:
            kw["betas"] = (float(self.betas[0]), float(self.betas[1]))
        if self.loss is not None:
            kw["loss"] = registry.losses.build(self.loss, **self.loss_kwargs)
        extra = dict(self.extra)
        callbacks = list(extra.pop("callbacks", ()))
        if (self.checkpoint_every is not None or self.resume or self.tensorboard) and (
            run_dir is None
        ):
            raise RunError(
                "checkpoint_every, resume and tensorboard write into the run folder: "
                "call trainer_kwargs(run_dir)"
            )
        if self.checkpoint_every is not None or self.resume:
            kw["checkpoint_dir"] = Path(run_dir) / CHECKPOINT_DIR  # type: ignore[arg-type]
            kw["checkpoint_every"] = self.checkpoint_every
        if self.tensorboard:
            callbacks.append(TensorBoardLogger(Path(run_dir) / TENSORBOARD_DIR))  # type: ignore[arg-type]
        if callbacks:
            kw["callbacks"] = callbacks
        kw.update(extra)
        return kw

    def record(self) -> dict[str, Any]:
        """How the run trains, as written to ``run.json`` under ``"training"``.

        Example:
            >>> sorted(RunSettings().record())  # doctest: +NORMALIZE_WHITESPACE
            ['amp', 'analytic', 'batch_size', 'betas', 'channels_last', 'checkpoint_every',
             'compile', 'device', 'epochs', 'loss', 'loss_kwargs', 'lr', 'optimizer',
             'optimizer_kwargs', 'resume', 'scheduler', 'scheduler_kwargs', 'seed',
             'tensorboard', 'weight_decay']
        """
        out = {k: v for k, v in asdict(self).items() if k not in _NOT_TRAINING}
        out.update(self.extra)
        return out

    @classmethod
    def from_record(
        cls, training: Mapping[str, Any], data: Mapping[str, Any] | None = None
    ) -> RunSettings:
        """The settings that a ``run.json`` records: its ``"training"`` (what :meth:`record`
        wrote; keys that are no setting go to ``extra``) and ``"data"`` (name, root, limit).

        ``resume`` is left False: a run is re-run from its record, not continued.

        Example:
            >>> s = RunSettings(epochs=3, betas=(0.5, 0.999), extra={"grad_clip": 1.0})
            >>> again = RunSettings.from_record(s.record(), {"name": "mnist", "limit": 100})
            >>> again.epochs, again.betas, again.extra, again.data, again.limit
            (3, (0.5, 0.999), {'grad_clip': 1.0}, 'mnist', 100)
        """
        names = {f for f in cls.__dataclass_fields__ if f not in _NOT_TRAINING}
        values: dict[str, Any] = {k: v for k, v in training.items() if k in names}
        values["extra"] = {k: v for k, v in training.items() if k not in names}
        if values.get("betas") is not None:
            values["betas"] = tuple(values["betas"])
        values["resume"] = False
        data = data or {}
        for key, name in (("name", "data"), ("root", "data_root"), ("limit", "limit")):
            if data.get(key) is not None:
                values[name] = data[key]
        return cls(**values)


@dataclass
class RunResult:
    """What :func:`~autoencoders.runs.train_run` returns about the run folder it wrote.

    ``result["dir"]`` works like ``result.dir`` (the summary used to be a dict).

    Attributes:
        dir: the run folder.
        model: the model's registered name.
        num_parameters: its parameter count.
        variational: whether it has a Gaussian bottleneck.
        best_val_loss: the validation loss of :meth:`History.best`, or None without one.
        best_epoch: the epoch of that record, or None.
        metrics: the test metrics (``metrics.json``).
        history: the training history.
        seconds: wall time of the training.
    """

    dir: Path
    model: str
    num_parameters: int
    variational: bool
    best_val_loss: float | None
    best_epoch: int | None
    metrics: dict[str, Any]
    history: History
    seconds: float

    def __getitem__(self, key: str) -> Any:
        """``result["metrics"]``: the attribute of that name."""
        return _item(self, key)


@dataclass
class SweepResult:
    """What :func:`~autoencoders.runs.sweep` returns: its folder, the table rows and the runs.

    Attributes:
        dir: the sweep folder (``comparison.md``, ``comparison.csv``, one subfolder per run).
        rows: the comparison table, one mapping per run.
        runs: the result of each run, in grid order.
    """

    dir: Path
    rows: list[dict[str, Any]]
    runs: list[RunResult]

    def __getitem__(self, key: str) -> Any:
        """``result["rows"]``: the attribute of that name."""
        return _item(self, key)


def _item(obj: Any, key: str) -> Any:
    if not isinstance(key, str) or key.startswith("_") or not hasattr(obj, key):
        names = ", ".join(obj.__dataclass_fields__)
        raise KeyError(f"{type(obj).__name__} has no {key!r}; keys: {names}")
    return getattr(obj, key)
