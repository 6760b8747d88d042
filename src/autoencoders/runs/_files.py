"""The files of a run folder and the checks on an output folder (private to ``runs``)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from autoencoders.io import atomic_write_bytes, remove_stale_temporaries
from autoencoders.report import FIGURES
from autoencoders.runs.settings import CHECKPOINT_DIR, TENSORBOARD_DIR, RunError

__all__ = [
    "METRICS_FILE",
    "PREVIOUS_RUN",
    "RUN_FILE",
    "check_out",
    "discard_previous",
    "has_previous",
    "previous_note",
    "put_back",
    "read_run",
    "set_aside",
    "write_json",
]

logger = logging.getLogger("autoencoders.runs")

RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
#: Files whose presence means a folder already holds a run (or a sweep).
_TAKEN = ("model.safetensors", RUN_FILE, "comparison.csv", ".previous-run")
#: Everything a run writes into its folder: what a replacing run sets aside (a user's own
#: files in the folder stay where they are).
_RUN_ENTRIES = (
    RUN_FILE,
    "config.json",
    "model.safetensors",
    "history.json",
    "history.csv",
    METRICS_FILE,
    "report.md",
    *FIGURES,
    CHECKPOINT_DIR,
    TENSORBOARD_DIR,
)
#: The hidden sub-folder that keeps the run a new one replaces until the new one is done.
PREVIOUS_RUN = ".previous-run"
_FILLING = PREVIOUS_RUN + ".partial"


def write_json(path: Path, obj: Any) -> None:
    """``obj`` as indented JSON (anything else as its ``str``), written atomically: a reader
    (or a crash) sees the old file or the new one, never half of one."""
    text = json.dumps(obj, indent=2, default=str) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


#: The fields of ``run.json`` a reader relies on, and the JSON types each may have (None:
#: null). A field that is absent is fine (older runs, a run that stopped early).
_FIELDS: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "status": (str,),
    "model_kwargs": (dict,),
    "model_arguments": (dict, type(None)),
    "training": (dict,),
    "data": (dict, type(None)),
    "num_parameters": (int,),
    "variational": (bool,),
    "seconds": (int, float),
    "best_val_loss": (int, float, type(None)),
    "best_epoch": (int, type(None)),
}
#: Fields inside ``training`` and ``data`` that a reader uses before any check of its own.
_NESTED: dict[str, dict[str, tuple[type, ...]]] = {
    "training": {
        "seed": (int,),
        "optimizer_kwargs": (dict,),
        "scheduler_kwargs": (dict,),
        "loss_kwargs": (dict,),
    },
    "data": {"name": (str,), "root": (str, type(None)), "limit": (int, type(None))},
}
_JSON_NAMES = {dict: "an object", str: "a string", int: "an integer", float: "a number",
               bool: "true or false", list: "a list", type(None): "null"}  # fmt: skip


def _json_kind(value: Any) -> str:
    return _JSON_NAMES.get(type(value), type(value).__name__)


def read_run(folder: Path) -> dict[str, Any]:
    """The folder's ``run.json``, or ``{}`` when it has none.

    Raises:
        RunError: ``run.json`` is not JSON, not an object, or a field a reader relies on has
            the wrong type (named, with what it holds and what a run writes).
    """
    path = folder / RUN_FILE
    if not path.is_file():
        return {}
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(f"{str(path)!r} is not valid JSON ({exc})") from exc
    if not isinstance(run, dict):
        raise RunError(f"{str(path)!r} holds {_json_kind(run)}; a run writes an object there")
    _check_fields(run, _FIELDS, path, "")
    for key, fields in _NESTED.items():
        if isinstance(run.get(key), dict):
            _check_fields(run[key], fields, path, f"{key}.")
    return run


def _check_fields(record: dict, fields: dict[str, tuple[type, ...]], path: Path, prefix: str):
    for key, kinds in fields.items():
        value = record.get(key)
        wrong_bool = isinstance(value, bool) and bool not in kinds  # true is no integer here
        if key in record and (wrong_bool or not isinstance(value, kinds)):
            names = [_JSON_NAMES[k] for k in kinds if not (k is int and float in kinds)]
            wanted = " or ".join(names)
            raise RunError(
                f"{str(path)!r}: '{prefix}{key}' is {_json_kind(value)} ({value!r:.60}); a "
                f"run records {wanted} there"
            )


def _default_out(name: str, suffix: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path("runs") / f"{name}{suffix}-{stamp}"
    out, i = base, 1
    while out.exists():
        i += 1
        out = base.with_name(f"{base.name}-{i}")
    return out


def check_out(
    out: str | os.PathLike[str] | None, name: str, overwrite: bool, suffix: str = ""
) -> Path:
    """The output folder (not created yet): ``out``, or ``runs/<name><suffix>-<timestamp>``.

    Raises:
        RunError: ``out`` is a file, or already holds a run and ``overwrite`` is false.
    """
    folder = Path(out) if out is not None else _default_out(name, suffix)
    shown = repr(str(folder))
    if folder.exists() and not folder.is_dir():
        raise RunError(
            f"out={shown} exists and is not a folder",
            cli=f"--out {shown} exists and is not a folder",
        )
    taken = folder.is_dir() and any((folder / f).exists() for f in _TAKEN)
    if taken and not overwrite:
        aside = f" ({previous_note(folder)})" if previous_note(folder) else ""
        raise RunError(
            f"out={shown} already holds a run; choose another folder or pass overwrite=True"
            + aside,
            cli=f"--out {shown} already holds a run; choose another folder or pass --overwrite"
            + aside,
        )
    return folder


def previous_note(folder: Path) -> str:
    """A sentence on the run set aside in ``folder`` (after an unfinished replacement), or ''."""
    if not (folder / PREVIOUS_RUN).is_dir() and not (folder / _FILLING).is_dir():
        return ""
    return (
        f"the run {str(folder)!r} held before an unfinished replacement is kept in "
        f"{PREVIOUS_RUN}/: autoencoders.runs.restore_previous_run({str(folder)!r}) puts it "
        "back; finishing the replacement (resume) or another overwrite deletes it"
    )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _move_entries(src: Path, dst: Path) -> None:
    # run.json last: a record that says "done" is never beside half of its run
    for name in (*_RUN_ENTRIES[1:], _RUN_ENTRIES[0]):
        if (src / name).exists() or (src / name).is_symlink():
            os.replace(src / name, dst / name)


def _status(folder: Path) -> Any:
    try:
        return read_run(folder).get("status")
    except (OSError, ValueError):  # a damaged run.json is no finished run
        return None


def set_aside(folder: Path) -> bool:
    """Move the run ``folder`` holds into ``folder/.previous-run`` before a new run replaces
    it, so that :func:`put_back` can restore it whole if the new one fails; True when a run
    is set aside.

    A replacement killed on an earlier try is finished here: files half moved aside go back
    first; a set-aside run beside a finished replacement is deleted (only its clean-up was
    lost); beside an unfinished one, that attempt's files (and the temporaries a killed
    write left) are deleted and the run set aside stays the one to restore.
    """
    filling, previous = folder / _FILLING, folder / PREVIOUS_RUN
    remove_stale_temporaries(folder)  # half-written files of a killed writer
    if filling.is_dir():  # killed while setting aside: nothing new was written yet
        _move_entries(filling, folder)
        shutil.rmtree(filling)
    if previous.is_dir():
        if _status(folder) == "done":
            shutil.rmtree(previous)
        else:
            for name in _RUN_ENTRIES:
                _remove(folder / name)
            return True
    if not any((folder / n).exists() for n in _RUN_ENTRIES):
        return False
    filling.mkdir()
    _move_entries(folder, filling)
    os.replace(filling, previous)
    return True


def put_back(folder: Path) -> None:
    """Delete a failed run's files and restore the run :func:`set_aside` kept.

    The set-aside folder is first renamed to the name :func:`set_aside` fills, so a kill
    while the files move back leaves what a kill while they moved aside leaves: the next
    :func:`set_aside` (or :func:`put_back`) completes the old run from both places.
    """
    previous, filling = folder / PREVIOUS_RUN, folder / _FILLING
    if previous.is_dir():
        for name in _RUN_ENTRIES:  # run.json first: no "done" record outlives its files
            _remove(folder / name)
        os.replace(previous, filling)
    _move_entries(filling, folder)
    shutil.rmtree(filling)
    remove_stale_temporaries(folder)
    logger.warning("the run %s held before is restored", folder)


def has_previous(folder: Path) -> bool:
    """Whether ``folder`` keeps a run set aside by a replacement (whole or half moved)."""
    return (folder / PREVIOUS_RUN).is_dir() or (folder / _FILLING).is_dir()


def discard_previous(folder: Path) -> None:
    """Delete the run :func:`set_aside` kept, once its replacement is done."""
    if (folder / PREVIOUS_RUN).is_dir():
        shutil.rmtree(folder / PREVIOUS_RUN)
