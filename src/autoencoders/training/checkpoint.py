"""Checkpoint folders: layout, atomic writes, the ``latest`` pointer, rotation, best and final.

Layout of a ``checkpoint_dir``::

    checkpoint_dir/
      ckpt-epoch0002-step000000150/    one checkpoint (the newest ``keep_last`` are kept)
        model.safetensors              model weights
        optimizer.safetensors          optimizer state tensors
        state.safetensors              RNG states, callback tensors (e.g. early-stopping weights)
        trainer_state.json             epoch, step, history, hyperparameters, scheduler, ...
      latest                           name of the newest complete checkpoint (text)
      best/                            best model so far by validation loss (autoencoders.save)
      final/                           the model at the end of fit (autoencoders.save)

A checkpoint is first written to a hidden temporary folder, every file flushed and fsynced,
then renamed into place, and only then is ``latest`` replaced (atomically). A process killed at
any moment leaves ``latest`` naming a complete checkpoint. ``trainer_state.json`` records the
SHA-256 of the other three files and of itself: a checkpoint is used whole or not at all
(:func:`autoencoders.training.restore.load_checkpoint` raises
:class:`~autoencoders.errors.CheckpointError`, and a resume
from a ``checkpoint_dir`` passes over a damaged checkpoint to the one before it, with an
:class:`~autoencoders.errors.IgnoredCheckpointWarning` naming it). Old checkpoints are
deleted by renaming them to a hidden temporary name first, so one half-deleted by a crash
is never taken for a checkpoint; a later run removes the leftovers. Nothing is pickled: tensors are
safetensors, everything else JSON (see :mod:`autoencoders.training.state`).

:func:`save_checkpoint` and :func:`load_checkpoint` write and read a
:class:`~autoencoders.training.state.TrainingState` by themselves: this module is the only one
that knows the files.

Example:
    >>> import tempfile, torch, autoencoders
    >>> from autoencoders.training.state import TrainingState
    >>> model = autoencoders.build("ae", h=8, z=2)
    >>> state = TrainingState(model, torch.optim.Adam(model.parameters()), epochs=1,
    ...                       batch_size=8, seed=0)
    >>> folder = save_checkpoint(Path(tempfile.mkdtemp()) / checkpoint_name(1, 0), state)
    >>> sorted(p.name for p in folder.iterdir())
    ['model.safetensors', 'optimizer.safetensors', 'state.safetensors', 'trainer_state.json']
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autoencoders._utils import unwrap_model
from autoencoders.errors import InvalidTypeError, InvalidValueError, ResumeError
from autoencoders.io import (
    atomic_write_bytes,
    canonical_json,
    fsync_dir,
    safetensors_bytes,
    sha256_hex,
)
from autoencoders.io import save as save_autoencoder
from autoencoders.model import Autoencoder
from autoencoders.training import distributed as dist_utils
from autoencoders.training.callbacks import Callback, TrainerView
from autoencoders.training.history import History
from autoencoders.training.state import TrainingState, dumps, split_state

__all__ = [
    "CHECKPOINT_FORMAT",
    "LATEST",
    "MODEL_FILE",
    "OPTIMIZER_FILE",
    "STATE_FILE",
    "TENSORS_FILE",
    "ModelCheckpoint",
    "checkpoint_name",
    "delete_checkpoint",
    "find_latest",
    "list_checkpoints",
    "resolve_resume",
    "save_checkpoint",
    "save_model",
    "write_folder",
]

logger = logging.getLogger(__name__)

MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
TENSORS_FILE = "state.safetensors"
STATE_FILE = "trainer_state.json"
LATEST = "latest"
#: Version of the ``trainer_state.json`` layout (2: with the SHA-256 of every file; 1 still
#: loads, unchecked).
CHECKPOINT_FORMAT = 2
#: Every file of a complete checkpoint.
FILES = (MODEL_FILE, OPTIMIZER_FILE, TENSORS_FILE, STATE_FILE)
#: Fields of ``trainer_state.json`` that a checkpoint cannot do without.
REQUIRED = {"epoch": int, "batch_in_epoch": int, "global_step": int, "rng": dict, "optimizer": dict}
_NAME = re.compile(r"^ckpt-epoch(\d+)-step(\d+)$")


def checkpoint_name(epoch: int, step: int) -> str:
    """Folder name of a checkpoint taken in epoch ``epoch`` (1-based) after ``step`` steps.

    Example:
        >>> checkpoint_name(2, 150)
        'ckpt-epoch0002-step000000150'
    """
    return f"ckpt-epoch{epoch:04d}-step{step:09d}"


def write_folder(folder: str | os.PathLike[str], files: Mapping[str, bytes]) -> Path:
    """Write ``files`` (name -> bytes) as the folder ``folder``, atomically.

    The files go to a temporary sibling folder, are fsynced, and the folder is renamed into
    place (replacing an older one of the same name).
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    old: Path | None = None
    try:
        for name, data in files.items():
            with open(tmp / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        fsync_dir(tmp)
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}.tmp")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
        os.replace(tmp, folder)
        fsync_dir(folder.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return folder


def list_checkpoints(directory: str | os.PathLike[str]) -> list[Path]:
    """Complete checkpoints in ``directory`` (folders holding all four files), oldest first."""
    d = Path(directory)
    if not d.is_dir():
        return []
    found = []
    for p in d.iterdir():
        m = _NAME.match(p.name)
        if m and p.is_dir() and all((p / f).is_file() for f in FILES):
            found.append(((int(m.group(2)), int(m.group(1))), p))
    return [p for _, p in sorted(found)]


def find_latest(directory: str | os.PathLike[str]) -> Path | None:
    """The checkpoint ``latest`` points to or, if that is missing, the newest complete one."""
    d = Path(directory)
    pointer = d / LATEST
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8").strip()
        cand = d / name
        if name and _NAME.match(name) and all((cand / f).is_file() for f in FILES):
            return cand
        logger.warning("%s names %r, which is not a complete checkpoint; scanning", pointer, name)
    found = list_checkpoints(d)
    return found[-1] if found else None


def save_model(model: nn.Module, folder: str | os.PathLike[str]) -> Path:
    """Save ``model`` in the :func:`autoencoders.save` format; weights only for other modules.

    An :class:`~autoencoders.Autoencoder` gets ``config.json`` + ``model.safetensors`` (loadable
    with :func:`autoencoders.load`); a module that cannot be described by a config gets
    ``model.safetensors`` alone.
    """
    model = unwrap_model(model)
    folder = Path(folder)
    if isinstance(model, Autoencoder):
        try:
            return save_autoencoder(model, folder)
        except TypeError as exc:
            logger.warning("cannot write a config for this model (%s); saving weights only", exc)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(folder / MODEL_FILE, safetensors_bytes(state, {"format": "pt"}))
    return folder


def save_checkpoint(folder: str | os.PathLike[str], state: TrainingState) -> Path | None:
    """Write ``state`` (a :class:`~autoencoders.training.state.TrainingState`) to ``folder``,
    atomically, in the layout above.

    Collective under torch.distributed: every process calls it, rank 0 writes. A non-finite
    loss since the last check raises
    :class:`~autoencoders.errors.NonFiniteLossError` before anything is written.

    Returns:
        The folder on rank 0, None on other ranks.
    """
    sd = state.state_dict()
    if sd is None:
        return None
    weights = sd.pop("model")
    opt_doc, opt_tensors = split_state(sd.pop("optimizer"), "optimizer")
    doc: dict[str, Any] = {"format_version": CHECKPOINT_FORMAT}
    tensors: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        doc[key], more = split_state(value, key)
        tensors.update(more)
        if key == "history":
            doc["optimizer"] = opt_doc  # the JSON keeps the order of format 1
    meta = {"format": "pt"}
    files = {
        MODEL_FILE: safetensors_bytes(weights, meta),
        OPTIMIZER_FILE: safetensors_bytes(opt_tensors, meta),
        TENSORS_FILE: safetensors_bytes(tensors, meta),
    }
    doc["files"] = {name: sha256_hex(data) for name, data in files.items()}
    doc["sha256"] = sha256_hex(canonical_json(doc))  # of everything above it
    files[STATE_FILE] = dumps(doc)
    return write_folder(folder, files)


def resolve_resume(
    resume: bool | str | os.PathLike[str], checkpoint_dir: Path | None, *, is_main: bool
) -> Path | None:
    """The checkpoint ``fit(resume=...)`` continues from, or None to start afresh.

    ``False``: start afresh (``checkpoint_dir`` must hold no checkpoint yet; checked on rank 0
    for every process). ``True``: the latest in ``checkpoint_dir``, or None when there is none.
    A path: that checkpoint folder, or the latest in that folder.

    Raises:
        ResumeError: a used ``checkpoint_dir`` without resume, ``resume=True`` without a
            ``checkpoint_dir``, or a path holding no checkpoint.
    """
    if resume is False or resume is None:
        if checkpoint_dir is not None:
            mine = 1.0 if (is_main and list_checkpoints(checkpoint_dir)) else 0.0
            if float(dist_utils.all_reduce_sum(torch.tensor([mine]))[0]) > 0:
                raise ResumeError(
                    f"checkpoint_dir {str(checkpoint_dir)!r} already holds checkpoints; "
                    "pass resume=True to continue that run, or choose an empty folder"
                )
        return None
    if resume is True:
        if checkpoint_dir is None:
            raise ResumeError("resume=True needs checkpoint_dir (where to find checkpoints)")
        found = find_latest(checkpoint_dir)
        if found is None and is_main:
            logger.info("no checkpoint in %s: starting afresh", checkpoint_dir)
        return found
    if not isinstance(resume, (str, os.PathLike)):
        raise InvalidTypeError(
            f"resume must be a bool or a checkpoint path, got {type(resume).__name__}"
        )
    path = Path(resume)
    if not (path / STATE_FILE).is_file():
        found = find_latest(path) if path.is_dir() else None
        if found is None:
            raise ResumeError(
                f"resume={str(path)!r} is neither a checkpoint folder (with {STATE_FILE}) "
                "nor a checkpoint_dir holding one"
            )
        path = found
    return path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def delete_checkpoint(folder: str | os.PathLike[str]) -> None:
    """Delete a checkpoint folder so that no crash can leave half of it looking like a
    checkpoint: it is renamed to a hidden temporary name (atomic), then removed.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); (d / checkpoint_name(1, 5)).mkdir()
        >>> delete_checkpoint(d / checkpoint_name(1, 5)); list(d.iterdir())
        []
    """
    folder = Path(folder)
    doomed = folder.with_name(f".{folder.name}.deleting-{os.getpid()}.tmp")
    try:
        os.replace(folder, doomed)
    except FileNotFoundError:
        return
    fsync_dir(folder.parent)
    _remove(doomed)


class ModelCheckpoint(Callback):
    """Write resumable checkpoints, the best model and the final model into ``directory``.

    The Trainer adds one when given ``checkpoint_dir`` (``checkpoint_every`` becomes
    ``every_n_steps``). Only rank 0 writes; every rank takes part in gathering the state.

    Args:
        directory: the checkpoint folder (layout in :mod:`autoencoders.training.checkpoint`).
        every_n_steps: also checkpoint every this many steps within epochs (None: epoch ends
            only).
        keep_last: how many checkpoints to keep (older ones are deleted).
        save_best: keep the model with the best ``monitor`` value in ``directory/best``.
        monitor: record key that defines "best" (``val_loss``, else ``train_loss`` when the
            records have no validation loss).
        save_final: save the model at the end of fit in ``directory/final``.

    Example:
        >>> ModelCheckpoint("runs/ckpt", every_n_steps=100).keep_last
        2
    """

    changes_model = False

    def __init__(
        self,
        directory: str | os.PathLike[str],
        every_n_steps: int | None = None,
        keep_last: int = 2,
        save_best: bool = True,
        monitor: str = "val_loss",
        save_final: bool = True,
    ) -> None:
        if every_n_steps is not None and (
            isinstance(every_n_steps, bool)
            or not isinstance(every_n_steps, int)
            or every_n_steps < 1
        ):
            raise InvalidValueError(
                f"every_n_steps must be None or an integer >= 1, got {every_n_steps!r}"
            )
        if isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 1:
            raise InvalidValueError(f"keep_last must be an integer >= 1, got {keep_last!r}")
        self.directory = Path(directory)
        self.every_n_steps, self.keep_last = every_n_steps, keep_last
        self.save_best, self.monitor, self.save_final = bool(save_best), monitor, bool(save_final)
        self.best: float | None = None
        self.last_saved: Path | None = None

    def on_fit_start(self, trainer: TrainerView) -> None:
        self.best = None
        if trainer.is_main:
            self.directory.mkdir(parents=True, exist_ok=True)
            for stale in self.directory.glob(".*.tmp"):  # left by a killed run
                _remove(stale)

    def on_step_end(self, trainer: TrainerView, step: int, loss: Any) -> None:
        n = self.every_n_steps
        if n is None or step % n:
            return
        total = trainer.batches_in_epoch
        if total is not None and trainer.batch_in_epoch >= total:
            return  # the end-of-epoch checkpoint follows at once
        self.save(trainer)

    def on_epoch_end(self, trainer: TrainerView, record: dict[str, Any]) -> None:
        key = self.monitor if self.monitor in record else "train_loss"
        value = record.get(key)
        improved = (
            isinstance(value, (int, float))
            and value == value
            and (self.best is None or value < self.best)
        )
        if improved:
            self.best = float(value)  # type: ignore[arg-type]
            if self.save_best and trainer.is_main:
                save_model(trainer.model, self.directory / "best")
        self.save(trainer)

    def on_fit_end(self, trainer: TrainerView, history: History) -> None:
        if self.save_final and trainer.is_main:
            save_model(trainer.model, self.directory / "final")

    def save(self, trainer: TrainerView) -> Path | None:
        """Checkpoint now (collective under torch.distributed); returns the folder on rank 0."""
        epoch = trainer.epoch + (1 if trainer.batch_in_epoch else 0)
        folder = self.directory / checkpoint_name(epoch, trainer.global_step)
        written = save_checkpoint(folder, trainer.state)
        if written is None:
            return None
        atomic_write_bytes(self.directory / LATEST, (folder.name + "\n").encode("utf-8"))
        self.last_saved = folder
        for old in list_checkpoints(self.directory)[: -self.keep_last]:
            if old != folder:
                delete_checkpoint(old)
        return folder

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state.get("best")

    def __repr__(self) -> str:
        return (
            f"ModelCheckpoint({str(self.directory)!r}, every_n_steps={self.every_n_steps}, "
            f"keep_last={self.keep_last})"
        )
