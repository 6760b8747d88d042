"""The files of a run folder and the checks on an output folder (private to ``runs``)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from autoencoders.io import atomic_write_bytes
from autoencoders.runs.settings import RunError

__all__ = ["METRICS_FILE", "RUN_FILE", "check_out", "read_run", "write_json"]

RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
#: Files whose presence means a folder already holds a run (or a sweep).
_TAKEN = ("model.safetensors", RUN_FILE, "comparison.csv")


def write_json(path: Path, obj: Any) -> None:
    """``obj`` as indented JSON (anything else as its ``str``), written atomically: a reader
    (or a crash) sees the old file or the new one, never half of one."""
    text = json.dumps(obj, indent=2, default=str) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def read_run(folder: Path) -> dict[str, Any]:
    """The folder's ``run.json``, or ``{}`` when it has none."""
    path = folder / RUN_FILE
    if not path.is_file():
        return {}
    run = json.loads(path.read_text(encoding="utf-8"))
    return run if isinstance(run, dict) else {}


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
        raise RunError(
            f"out={shown} already holds a run; choose another folder or pass overwrite=True",
            cli=f"--out {shown} already holds a run; choose another folder or pass --overwrite",
        )
    return folder
