"""One run folder: :func:`train_run` writes it, :func:`evaluate_run` recomputes its metrics."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from autoencoders import report
from autoencoders._version import __version__
from autoencoders.io import load, save
from autoencoders.metrics import evaluate_model
from autoencoders.model import Autoencoder
from autoencoders.runs._files import (
    METRICS_FILE,
    PREVIOUS_RUN,
    RUN_FILE,
    check_out,
    discard_previous,
    has_previous,
    previous_note,
    put_back,
    read_run,
    set_aside,
    write_json,
)
from autoencoders.runs.inputs import check_data, data_summary, load_data
from autoencoders.runs.models import build_model, model_arguments
from autoencoders.runs.settings import (
    CHECKPOINT_DIR,
    RunError,
    RunResult,
    RunSettings,
)
from autoencoders.training import History, Trainer, find_latest
from autoencoders.training.runtime import resolve_device

__all__ = [
    "best_validation",
    "evaluate_run",
    "finished_run",
    "restore_previous_run",
    "run_spec",
    "same_run",
    "train_run",
]

logger = logging.getLogger("autoencoders.runs")


def best_validation(history: Any) -> tuple[float | None, int | None]:
    """``(val_loss, epoch)`` of :meth:`History.best <autoencoders.training.History.best>`,
    or ``(None, None)`` when no epoch has a finite validation loss.

    Example:
        >>> best_validation([{"epoch": 1, "val_loss": 2.0}, {"epoch": 2, "val_loss": 1.5}])
        (1.5, 2)
        >>> best_validation([{"epoch": 1, "train_loss": 2.0}])
        (None, None)
    """
    h = History.coerce(history)
    if h.monitor_key() != "val_loss":
        return None, None
    try:
        i = h.best_index()
    except ValueError:  # no finite validation loss
        return None, None
    return float(h.records[i]["val_loss"]), int(h.epochs()[i])


def _metrics(model: Any, splits: Any, seed: int) -> dict[str, Any]:
    logger.info("computing test metrics")
    return json.loads(json.dumps(evaluate_model(model, splits, seed=seed), default=float))


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _check_resume(
    out: str | os.PathLike[str] | None, folder: Path, settings: RunSettings, overwrite: bool
) -> None:
    """``resume`` continues the run in ``out``: it needs one, and a checkpoint there when the
    folder already holds a run (or it would train that run afresh, silently)."""
    if not settings.resume:
        return
    if out is None:
        raise RunError(
            "resume=True needs out=: the folder of the run to continue",
            cli="--resume needs --out RUN_DIR: the folder of the run to continue",
        )
    taken = any((folder / f).exists() for f in (RUN_FILE, "model.safetensors"))
    if taken and not overwrite and find_latest(folder / CHECKPOINT_DIR) is None:
        shown = repr(str(folder))
        why = f"holds a run but no checkpoint to resume from (none in {CHECKPOINT_DIR}/; runs write"
        raise RunError(
            f"out={shown} {why} them with checkpoint_every or resume); pass overwrite=True to "
            "train it afresh",
            cli=f"--out {shown} {why} them with --checkpoint-every or --resume); pass "
            "--overwrite to train it afresh",
        )


def train_run(
    model: str,
    model_kwargs: Mapping[str, Any] | None = None,
    settings: RunSettings | None = None,
    *,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    splits: Any = None,
    command: str | None = None,
    fresh: bool = False,
) -> RunResult:
    """Train a registered model and write a complete run folder.

    The folder gets ``run.json`` (what was run, and its ``status``: ``training``, then
    ``done``, or ``failed`` / ``interrupted`` with the ``error``, whatever step raised:
    training, metrics, figures or report), ``config.json`` + ``model.safetensors``,
    ``history.json``/``history.csv``, ``metrics.json``, the figures and ``report.md`` (see
    :mod:`autoencoders.report`), each written atomically; ``checkpoints/`` with
    ``settings.checkpoint_every`` or ``settings.resume``, ``tensorboard/`` with
    ``settings.tensorboard``. ``autoencoders train`` writes the very same folder.

    The model name and keywords, the settings (optimizer, scheduler, loss, device, ...), the
    packages the run needs (matplotlib for the figures, tensorboard) and the output folder
    are all checked before any data is loaded or anything written.

    With ``settings.resume`` the run continues from the latest checkpoint in
    ``out/checkpoints`` (``out`` may then hold a run without ``overwrite``; without a
    checkpoint there, a folder that holds a run is an error, an empty one starts afresh).
    ``overwrite`` (without a checkpoint to resume from) replaces the run ``out`` holds: its
    files (weights, records, figures, ``checkpoints/``, ``tensorboard/``; a file of your own
    stays) are moved into the hidden ``out/.previous-run/`` and deleted once the new run is
    done. If the new run fails or is interrupted before its first checkpoint, its files are
    deleted and the old run is put back whole; after one, it stays resumable and the old run
    stays aside (:func:`restore_previous_run` puts it back); the error's note says which.
    After a kill, the next ``overwrite`` of ``out`` finishes the clean-up.

    Args:
        model: registered model name.
        model_kwargs: its keyword arguments (``noise`` and noise parameters included).
        settings: data and training options (default :class:`RunSettings()`).
        out: the run folder (default ``runs/<model>-<timestamp>``).
        overwrite: allow writing into a folder that already holds a run.
        splits: data already loaded (a :class:`~autoencoders.data.DataSplits`, e.g. from
            :func:`~autoencoders.data.from_tensors`); default: load ``settings.data``.
        command: the command line, recorded in ``run.json`` and the report.
        fresh: with ``settings.resume``, start afresh all the same: the folder's old
            checkpoints (of another run) are deleted first. A resumed experiment uses it for
            a configuration whose folder holds a different run.

    Returns:
        A :class:`RunResult` (folder, parameters, best validation loss, metrics, history).

    Raises:
        RunError: ``out`` already holds a run, the data does not fit the model, a package the
            run needs is missing, or ``resume`` has nothing to continue.
        autoencoders.UnknownNameError: an unknown model, optimizer, scheduler or loss name.

    Example:
        >>> import tempfile, torch
        >>> from autoencoders.data import from_tensors
        >>> data = from_tensors(torch.rand(60, 1, 28, 28))
        >>> settings = RunSettings(epochs=1, batch_size=16, progress=False, plots=False)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     result = train_run("ae", {"h": 8, "z": 2}, settings, out=d, splits=data)
        ...     files = sorted(p.name for p in result.dir.iterdir())
        >>> files  # doctest: +NORMALIZE_WHITESPACE
        ['config.json', 'history.csv', 'history.json', 'metrics.json', 'model.safetensors',
         'report.md', 'run.json']
        >>> result.best_epoch, result.num_parameters
        (1, 13378)
    """
    settings = (settings or RunSettings()).check()
    kwargs = dict(model_kwargs or {})
    net = build_model(model, kwargs)  # the name and keywords, before anything else
    folder = check_out(out, model, overwrite or settings.resume)
    _check_resume(out, folder, settings, overwrite)
    trainer = Trainer(net, **settings.trainer_kwargs(folder))  # the training options, likewise
    if splits is None:
        splits = load_data(settings, net)
    else:
        check_data(splits, net)
    folder.mkdir(parents=True, exist_ok=True)
    continuing = settings.resume and not fresh and find_latest(folder / CHECKPOINT_DIR)
    name = net.name or model
    run: dict[str, Any] = {
        "model": name,
        "model_kwargs": kwargs,
        "model_arguments": model_arguments(name, kwargs),
        "num_parameters": net.num_parameters(),
        "variational": net.is_variational,
        "output_activation": net.output_activation,
        "noise": repr(net.noise) if net.noise is not None else None,
        "data": data_summary(splits, settings),
        "training": settings.record(),
        "command": command,
        "autoencoders_version": __version__,
        "torch_version": torch.__version__,
        "status": "training",
    }
    # a run replaced is set aside whole (checkpoints and logs included), not overwritten
    # file by file: a replacement that fails before a checkpoint puts it back, one that can
    # be resumed keeps it aside until it is finished, a finished one deletes it
    replacing = False
    try:
        replacing = (overwrite or fresh) and not continuing and set_aside(folder)
        write_json(folder / RUN_FILE, run)
        shown = f"{run['num_parameters']:,}"
        logger.info("training %s (%s parameters) -> %s", name, shown, folder)
        start = time.perf_counter()
        history = trainer.fit(splits.train, splits.val, resume=settings.resume)
        run["seconds"] = round(time.perf_counter() - start, 2)
        run["training"]["device"] = str(trainer.device)
        save(net, folder)
        history.to_json(folder / "history.json")
        history.to_csv(folder / "history.csv")
        net.eval()
        metrics = _metrics(net, splits, settings.seed)
        write_json(folder / METRICS_FILE, metrics)
        if settings.plots:
            logger.info("drawing figures")
            names = getattr(splits, "class_names", None)
            with _seeded(settings.seed):
                report.write_figures(
                    net,
                    splits.test,
                    folder,
                    history=history,
                    class_names=list(names) if names else None,
                    seed=settings.seed,
                )
        run["best_val_loss"], run["best_epoch"] = best_validation(history)
        run["status"] = "done"
        write_json(folder / RUN_FILE, run)
        report.write_report(folder, title=f"Run report: {name}")
    except BaseException as exc:
        run["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        run["error"] = f"{type(exc).__name__}: {exc}"
        if replacing and find_latest(folder / CHECKPOINT_DIR) is None:
            put_back(folder)  # nothing of this run to resume: the old one comes back
            exc.add_note(f"{str(folder)!r} holds the run it held before, untouched")
        else:
            write_json(folder / RUN_FILE, run)
            if has_previous(folder):
                exc.add_note(
                    f"this run can be resumed from its checkpoints in {str(folder)!r} "
                    f"(resume=True, --resume); {previous_note(folder)}"
                )
        raise
    discard_previous(folder)
    return RunResult(
        dir=folder,
        model=name,
        num_parameters=run["num_parameters"],
        variational=net.is_variational,
        best_val_loss=run["best_val_loss"],
        best_epoch=run["best_epoch"],
        metrics=metrics,
        history=history,
        seconds=run["seconds"],
    )


#: What may differ between a finished run's record and a rerun that reuses it: where it
#: trained and how checkpoints were kept say nothing about the model it produced.
_VOLATILE = ("device", "resume", "checkpoint_every")


def same_run(
    folder: str | os.PathLike[str], model: str, model_kwargs: Mapping[str, Any],
    settings: RunSettings,
) -> bool:  # fmt: skip
    """Whether ``folder``'s ``run.json`` records this very run: the same model and keywords
    building the same blocks (its ``config.json``, when there is one), the same training
    settings (the device and checkpointing aside), the same data and limit.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     same_run(d, "ae", {"z": 2}, RunSettings())
        False
    """
    try:
        run = read_run(Path(folder))
    except RunError as exc:  # a damaged record is no record of this run
        logger.warning("not reusing the run in %s: %s", folder, exc)
        return False
    if not run:
        return False
    net = build_model(model, dict(model_kwargs))
    trained = {k: v for k, v in (run.get("training") or {}).items() if k not in _VOLATILE}
    wanted = {k: v for k, v in settings.record().items() if k not in _VOLATILE}
    data = run.get("data") or {}
    saved = Path(folder) / "config.json"  # the blocks it built (a library change shows here)
    if saved.is_file():
        try:  # rebuilt, so that arguments added since with their defaults compare equal
            before = Autoencoder.from_config(json.loads(saved.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, LookupError):
            return False
        if before.config != net.config:
            return False
    return (
        run.get("model") == (net.name or model)
        and run.get("model_kwargs") == json.loads(json.dumps(dict(model_kwargs), default=str))
        and trained == json.loads(json.dumps(wanted, default=str))
        and data.get("limit") == settings.limit
        and data.get("root") == settings.data_root
    )


def restore_previous_run(folder: str | os.PathLike[str]) -> Path:
    """Put back the run that an unfinished replacement (``overwrite``, ``--overwrite``) set
    aside in ``folder/.previous-run/``, deleting the replacement's files; returns ``folder``.

    A replacement that fails before its first checkpoint puts the old run back by itself;
    one that fails or is stopped later keeps its checkpoints (so it can be resumed) and the
    old run aside. This chooses the old run instead.

    Raises:
        RunError: ``folder`` keeps no run set aside.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     restore_previous_run(d)
        Traceback (most recent call last):
          ...
        autoencoders.errors.RunError: '...' keeps no run set aside (no .previous-run/ in it)
    """
    folder = Path(folder)
    if not has_previous(folder):
        raise RunError(f"{str(folder)!r} keeps no run set aside (no {PREVIOUS_RUN}/ in it)")
    put_back(folder)
    return folder


def finished_run(
    folder: str | os.PathLike[str], model: str, model_kwargs: Mapping[str, Any],
    settings: RunSettings,
) -> RunResult | None:  # fmt: skip
    """The :class:`RunResult` of the finished run in ``folder`` if it is this run (see
    :func:`same_run`) and complete (``status`` done, weights, metrics and history present);
    else None. What an experiment resumed with ``resume=True`` reuses instead of training."""
    folder = Path(folder)
    files = ("model.safetensors", METRICS_FILE, "history.json")
    if not same_run(folder, model, model_kwargs, settings):
        return None
    run = read_run(folder)
    if run.get("status") != "done" or not all((folder / f).is_file() for f in files):
        return None
    if not all(k in run for k in ("model", "num_parameters", "variational")):
        logger.warning("not reusing the run in %s: its %s lacks fields a run writes", folder,
                       RUN_FILE)  # fmt: skip
        return None
    try:
        metrics = json.loads((folder / METRICS_FILE).read_text(encoding="utf-8"))
        history = History.coerce(folder / "history.json")
    except (OSError, ValueError, TypeError) as exc:
        logger.warning("not reusing the run in %s: %s", folder, exc)
        return None
    return RunResult(
        dir=folder,
        model=run["model"],
        num_parameters=int(run["num_parameters"]),
        variational=bool(run["variational"]),
        best_val_loss=run.get("best_val_loss"),
        best_epoch=run.get("best_epoch"),
        metrics=metrics,
        history=history,
        seconds=float(run.get("seconds", 0.0)),
    )


def evaluate_run(
    run_dir: str | os.PathLike[str],
    *,
    data: str | None = None,
    data_root: str | None = None,
    limit: int | None = None,
    device: str = "cpu",
    download: bool = False,
) -> dict[str, Any]:
    """Reload a run folder's model, recompute ``metrics.json`` (and ``report.md``) and return it.

    The data options default to those recorded in the run's ``run.json``, so the metrics
    are those of the data the run was trained on.

    Raises:
        RunError: ``run_dir`` is not a run folder (it has no ``config.json``).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     evaluate_run(d)
        Traceback (most recent call last):
          ...
        autoencoders.errors.RunError: '...' is not a run folder (it has no config.json)
    """
    folder = Path(run_dir)
    if not (folder / "config.json").is_file():
        aside = f" ({previous_note(folder)})" if has_previous(folder) else ""
        raise RunError(f"{str(folder)!r} is not a run folder (it has no config.json){aside}")
    model = load(folder, device=resolve_device(device))
    run = read_run(folder)
    recorded = run.get("data") or {}
    settings = RunSettings(
        data=data or recorded.get("name") or "fashion-mnist",
        seed=(run.get("training") or {}).get("seed", 0),
        data_root=data_root if data_root is not None else recorded.get("root"),
        limit=limit if limit is not None else recorded.get("limit"),
        download=download,
    )
    splits = load_data(settings, model)
    metrics = _metrics(model, splits, settings.seed)
    write_json(folder / METRICS_FILE, metrics)
    report.write_report(folder, title=f"Run report: {model.name or 'model'}")
    return metrics


def run_spec(run_dir: str | os.PathLike[str]) -> tuple[str, dict[str, Any], RunSettings]:
    """What a run folder's ``run.json`` says was run: ``(model, model_kwargs, settings)``,
    ready for :func:`train_run` to run it again (``autoencoders train --from RUN_DIR``).

    The settings are every training setting recorded (optimizer, loss, betas, seed, ...,
    through :meth:`RunSettings.from_record`) and the data's name, root and limit; the device
    is the one the run trained on. Data given in memory is recorded by its name only
    (``tensors``): pass it again as ``splits``.

    Raises:
        RunError: ``run_dir`` holds no ``run.json`` naming a model.

    Example:
        >>> import tempfile, torch
        >>> from autoencoders.data import from_tensors
        >>> data = from_tensors(torch.rand(40, 1, 28, 28))
        >>> settings = RunSettings(epochs=1, batch_size=16, lr=0.01, progress=False, plots=False)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = train_run("ae", {"h": 8, "z": 2}, settings, out=d, splits=data)
        ...     model, kwargs, again = run_spec(d)
        >>> model, kwargs, again.lr, again.epochs
        ('ae', {'h': 8, 'z': 2}, 0.01, 1)
    """
    folder = Path(run_dir)
    run = read_run(folder)
    if not isinstance(run.get("model"), str):
        raise RunError(f"{str(folder)!r} is not a run folder (it has no {RUN_FILE} naming a model)")
    settings = RunSettings.from_record(run.get("training") or {}, run.get("data") or {})
    return run["model"], dict(run.get("model_kwargs") or {}), settings
