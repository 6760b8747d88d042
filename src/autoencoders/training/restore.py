"""Reading a checkpoint back: every file checked before anything is restored.

:func:`load_checkpoint` reads the four files of a checkpoint folder (layout in
:mod:`autoencoders.training.checkpoint`, which writes them), checks the SHA-256 records of
``trainer_state.json``, its fields and the model's tensor names and shapes, and only then
restores a :class:`~autoencoders.training.state.TrainingState`: a checkpoint is used whole or
not at all. :func:`restore` is what ``Trainer.fit(resume=True)`` calls: a damaged checkpoint
is passed over, with an :class:`~autoencoders.errors.IgnoredCheckpointWarning` naming it, for
the next older complete one.

Example:
    >>> import tempfile, torch, autoencoders
    >>> from autoencoders.training.checkpoint import checkpoint_name, save_checkpoint
    >>> from autoencoders.training.state import TrainingState
    >>> model = autoencoders.build("ae", h=8, z=2)
    >>> state = TrainingState(model, torch.optim.Adam(model.parameters()), epochs=1,
    ...                       batch_size=8, seed=0)
    >>> folder = save_checkpoint(Path(tempfile.mkdtemp()) / checkpoint_name(1, 0), state)
    >>> load_checkpoint(folder, state)
    >>> (folder / "trainer_state.json").write_text("{}")
    2
    >>> load_checkpoint(folder, state)
    Traceback (most recent call last):
      ...
    autoencoders.errors.CheckpointError: checkpoint '...': trainer_state.json has format_version None; this version reads 1 and 2
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from torch import nn

from autoencoders._utils import unwrap_model
from autoencoders.errors import CheckpointError, IgnoredCheckpointWarning, ResumeError
from autoencoders.io import canonical_json, sha256_hex
from autoencoders.training.checkpoint import (
    CHECKPOINT_FORMAT,
    FILES,
    MODEL_FILE,
    OPTIMIZER_FILE,
    REQUIRED,
    STATE_FILE,
    TENSORS_FILE,
    list_checkpoints,
)
from autoencoders.training.state import TrainingState, join_state

__all__ = ["load_checkpoint", "restore"]


def _read(folder: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor], bool]:
    """``(document, tensors, verified)`` of a checkpoint folder; any damage is a
    :class:`CheckpointError` naming the file and what is wrong with it."""

    def bad(message: str) -> CheckpointError:
        return CheckpointError(f"checkpoint {str(folder)!r}: {message}", folder)

    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise bad(f"missing {', '.join(missing)} (a complete checkpoint has {', '.join(FILES)})")
    try:
        raw = {name: (folder / name).read_bytes() for name in FILES}
    except OSError as exc:
        raise bad(f"cannot be read: {exc}") from None
    try:
        doc = json.loads(raw[STATE_FILE])
    except (ValueError, RecursionError) as exc:
        raise bad(f"{STATE_FILE} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise bad(f"{STATE_FILE} must hold a JSON object, got {type(doc).__name__}")
    version = doc.get("format_version")
    if version not in (1, CHECKPOINT_FORMAT) or isinstance(version, bool):
        raise bad(
            f"{STATE_FILE} has format_version {version!r}; this version reads 1 and "
            f"{CHECKPOINT_FORMAT}"
        )
    verified = version == CHECKPOINT_FORMAT
    if not verified and ("sha256" in doc or "files" in doc):
        raise bad(
            f"{STATE_FILE} says format_version 1 but holds the SHA-256 records of format "
            f"{CHECKPOINT_FORMAT}: it was edited"
        )
    if verified:
        recorded = doc.pop("sha256", None)
        if recorded != sha256_hex(canonical_json(doc)):
            raise bad(
                f"{STATE_FILE} is not as it was written (its SHA-256 differs from the one it "
                "records): it was damaged or edited"
            )
        hashes = doc.pop("files", None)
        if not isinstance(hashes, dict):
            raise bad(f"{STATE_FILE} has no 'files' record of the SHA-256 of its files")
        for name in FILES[:3]:
            if hashes.get(name) != sha256_hex(raw[name]):
                raise bad(f"{name} is not the file {STATE_FILE} was written with (damaged?)")
    for key, kind in REQUIRED.items():
        value = doc.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 0):
            what = "a non-negative integer" if kind is int else "an object"
            raise bad(f"{STATE_FILE} field {key!r} must be {what}, got {value!r}")
    tensors: dict[str, torch.Tensor] = {}
    try:
        weights = st_load(raw[MODEL_FILE])
        for name in (OPTIMIZER_FILE, TENSORS_FILE):
            tensors.update(st_load(raw[name]))
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise bad(f"a tensor file cannot be read: {exc}") from None
    try:
        doc = join_state(doc, tensors)
    except (ValueError, KeyError, TypeError) as exc:
        raise bad(f"{STATE_FILE} does not fit its tensor files: {exc}") from None
    doc["model"] = weights
    return doc, tensors, verified


def _check_model(weights: dict[str, torch.Tensor], model: nn.Module, folder: Path) -> None:
    expected = unwrap_model(model).state_dict()
    diff = sorted(set(expected) ^ set(weights))
    diff += [
        f"{k}: checkpoint {tuple(weights[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in weights and weights[k].shape != v.shape
    ]
    if diff:
        raise ResumeError(
            f"checkpoint {str(folder)!r} was taken from another model than the one being "
            f"trained ({'; '.join(diff[:6])}{' ...' if len(diff) > 6 else ''}); resume with "
            "the model it was trained with, or start afresh in another checkpoint_dir"
        )


def load_checkpoint(folder: str | os.PathLike[str], state: TrainingState) -> None:
    """Restore ``state`` from the checkpoint ``folder`` (every process reads it).

    Everything is read and checked before anything is restored: the four files, the SHA-256
    records, the fields of ``trainer_state.json`` and the model's tensor names and shapes.

    Raises:
        CheckpointError: missing, unreadable, damaged or edited files, or an unsupported
            format version.
        ResumeError: a checkpoint of another model, or one whose optimizer or state does not
            fit this run.
    """
    folder = Path(folder)
    sd, _, verified = _read(folder)
    _check_model(sd["model"], state.model, folder)
    try:
        state.load_state_dict(sd)
    except ResumeError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
        kind = ResumeError if verified else CheckpointError
        raise kind(
            f"checkpoint {str(folder)!r} cannot be restored into this run: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def restore(folder: Path, state: TrainingState, directory: Path | None, *, fall_back: bool) -> Path:
    """Load ``folder`` into ``state``; with ``fall_back``, a damaged checkpoint is passed over
    (with an :class:`~autoencoders.errors.IgnoredCheckpointWarning`) for the next older
    complete one in ``directory``. Returns the checkpoint used.

    Raises:
        CheckpointError: no checkpoint could be used (the message lists why, for each).
    """
    candidates = [folder]
    if fall_back and directory is not None:
        candidates += [p for p in reversed(list_checkpoints(directory)) if p != folder]
    reasons = []
    for cand in candidates:
        try:
            load_checkpoint(cand, state)
            return cand
        except ResumeError:
            raise
        except CheckpointError as exc:
            if not fall_back:
                raise
            reasons.append(str(exc))
            warnings.warn(f"{exc}; it is ignored", IgnoredCheckpointWarning, stacklevel=3)
    raise CheckpointError("no checkpoint could be used: " + " | ".join(reasons), folder)
