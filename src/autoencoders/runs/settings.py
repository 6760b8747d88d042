"""What a run is told and what it gives back: :class:`RunSettings`, :class:`RunResult`,
:class:`SweepResult`, and :class:`RunError` for a run that cannot start as asked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autoencoders import registry
from autoencoders.training import History

__all__ = ["RunError", "RunResult", "RunSettings", "SweepResult"]

#: Settings that say where the data comes from or how the run looks, not how it trains.
_NOT_TRAINING = ("data", "data_root", "download", "limit", "progress", "plots", "extra")


class RunError(ValueError):
    """A run that cannot start as asked: a taken output folder, data that does not fit the model.

    ``str(exc)`` words the fix for Python callers (``overwrite=True``); :attr:`cli_message`
    words it in the options of the ``autoencoders`` program (``--overwrite``), which the
    command line prints instead.

    Example:
        >>> exc = RunError("pass overwrite=True", cli="pass --overwrite")
        >>> str(exc), exc.cli_message, isinstance(exc, ValueError)
        ('pass overwrite=True', 'pass --overwrite', True)
    """

    def __init__(self, message: str, *, cli: str | None = None) -> None:
        super().__init__(message)
        self.cli_message = message if cli is None else cli


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
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        seed: seed of the initialisation, shuffling, noise and figures.
        progress: show progress bars.
        plots: draw the figures.
        extra: further keyword arguments of the :class:`~autoencoders.training.Trainer`
            (``grad_clip``, ``weight_decay``, ``early_stopping``, ...), recorded with the rest.
        optimizer: a name of :data:`autoencoders.registry.optimizers`.
        optimizer_kwargs: its keyword arguments (e.g. ``{"momentum": 0.9}`` for ``sgd``).
        scheduler: a name of :data:`autoencoders.registry.schedulers`, or None.
        scheduler_kwargs: its keyword arguments.

    Example:
        >>> s = RunSettings(epochs=1, limit=500, optimizer="sgd", optimizer_kwargs={"momentum": 0.9})
        >>> s.check().record()["optimizer_kwargs"]
        {'momentum': 0.9}
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
    device: str = "auto"
    seed: int = 0
    progress: bool = True
    plots: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    optimizer: str = "adam"
    optimizer_kwargs: dict[str, Any] = field(default_factory=dict)
    scheduler: str | None = None
    scheduler_kwargs: dict[str, Any] = field(default_factory=dict)

    def check(self) -> RunSettings:
        """Check the optimizer and scheduler names against their registries; returns ``self``.

        Raises:
            autoencoders.UnknownNameError: a name no registry entry (nor plugin) provides;
                the message suggests a close match ("did you mean 'adam'?").
            TypeError: keyword arguments that are not a mapping.
            RunError: scheduler keyword arguments without a scheduler.
        """
        registry.optimizers.get(self.optimizer)
        if self.scheduler is not None:
            registry.schedulers.get(self.scheduler)
        for name in ("optimizer_kwargs", "scheduler_kwargs", "extra"):
            if not isinstance(getattr(self, name), Mapping):
                raise TypeError(
                    f"{name} must be a dict of keyword arguments, got {getattr(self, name)!r}"
                )
        if self.scheduler is None and self.scheduler_kwargs:
            names = ", ".join(registry.schedulers.names())
            raise RunError(
                f"scheduler_kwargs {dict(self.scheduler_kwargs)!r} given without a scheduler; "
                f"name one of: {names}",
                cli=f"--scheduler-arg given without a scheduler; pass --scheduler NAME ({names})",
            )
        return self

    def trainer_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :class:`~autoencoders.training.Trainer` for these settings.

        Example:
            >>> kw = RunSettings(epochs=2, scheduler="cosine").trainer_kwargs()
            >>> kw["epochs"], kw["optimizer"], kw["scheduler"]
            (2, 'adam', 'cosine')
        """
        return {
            "lr": self.lr,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "device": self.device,
            "amp": self.amp,
            "compile": self.compile,
            "seed": self.seed,
            "progress": self.progress,
            "optimizer": self.optimizer,
            "optimizer_kwargs": dict(self.optimizer_kwargs),
            "scheduler": self.scheduler,
            "scheduler_kwargs": dict(self.scheduler_kwargs),
            **self.extra,
        }

    def record(self) -> dict[str, Any]:
        """How the run trains, as written to ``run.json`` under ``"training"``.

        Example:
            >>> sorted(RunSettings().record())  # doctest: +NORMALIZE_WHITESPACE
            ['amp', 'batch_size', 'compile', 'device', 'epochs', 'lr', 'optimizer',
             'optimizer_kwargs', 'scheduler', 'scheduler_kwargs', 'seed']
        """
        out = {k: v for k, v in asdict(self).items() if k not in _NOT_TRAINING}
        out.update(self.extra)
        return out


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
