"""A run that replaces another (``overwrite``) loses nothing until it is done.

The old run's files are set aside in ``.previous-run/`` and put back, byte for byte, when the
new run fails, is interrupted or is killed (the next overwrite finishes the clean-up); a
finished replacement leaves none of the old run's files behind (a stale figure included),
and a file of the user's own in the folder is never touched.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import autoencoders
from autoencoders import runs
from autoencoders.data import from_tensors
from autoencoders.runs import _files
from autoencoders.runs._files import PREVIOUS_RUN, put_back, set_aside

pytest.importorskip("matplotlib")

WORKER = Path(__file__).with_name("fault_worker.py")
SRC = str(Path(__file__).resolve().parents[2] / "src")
QUICK = {"epochs": 1, "batch_size": 16, "progress": False, "plots": False}


def _splits():
    return from_tensors(torch.rand(48, 1, 28, 28, generator=torch.Generator().manual_seed(5)))


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included) and its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _old_run(folder: Path) -> dict[str, bytes]:
    settings = runs.RunSettings(**QUICK, seed=0, checkpoint_every=2)
    runs.train_run("ae", {"h": 8, "z": 2}, settings, out=folder, splits=_splits())
    (folder / "samples.png").write_bytes(b"a figure of the old run")  # one the new run lacks
    (folder / "notes.txt").write_text("mine")
    assert (folder / "checkpoints").is_dir()
    return _tree(folder)


def _fit_then_raise(monkeypatch: pytest.MonkeyPatch, error: BaseException):
    """Make ``Trainer.fit`` train as usual and then raise ``error``; returns the real fit."""
    fit = autoencoders.Trainer.fit

    def fit_then_raise(self, *args, **kwargs):
        fit(self, *args, **kwargs)
        raise error

    monkeypatch.setattr(autoencoders.Trainer, "fit", fit_then_raise)
    return fit


@pytest.mark.parametrize("error", [RuntimeError("out of memory"), KeyboardInterrupt()])
def test_a_failed_replacement_puts_the_old_run_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    folder = tmp_path / "run"
    before = _old_run(folder)
    _fit_then_raise(monkeypatch, error)  # the new run trains, then it fails
    settings = runs.RunSettings(**QUICK, seed=1)  # no checkpoint: nothing of it to resume
    with pytest.raises(type(error)) as info:
        runs.train_run("ae", {"h": 8, "z": 2}, settings, out=folder, overwrite=True,
                       splits=_splits())  # fmt: skip
    assert any("holds the run it held before" in n for n in getattr(info.value, "__notes__", []))
    assert _tree(folder) == before  # every byte, checkpoints and the user's file included


def test_a_finished_replacement_leaves_nothing_of_the_old_run(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    before = _old_run(folder)
    settings = runs.RunSettings(**QUICK, seed=1)
    runs.train_run("ae", {"h": 8, "z": 2}, settings, out=folder, overwrite=True,
                   splits=_splits())  # fmt: skip
    after = _tree(folder)
    assert after["notes.txt"] == b"mine"
    assert "samples.png" not in after  # the old run's figure went with it
    assert not any(name.startswith(("checkpoints", PREVIOUS_RUN)) for name in after)
    assert after["model.safetensors"] != before["model.safetensors"]
    assert json.loads(after["run.json"])["status"] == "done"


def test_a_folder_holding_only_a_set_aside_run_is_taken(tmp_path: Path) -> None:
    (tmp_path / PREVIOUS_RUN).mkdir()
    (tmp_path / PREVIOUS_RUN / "run.json").write_text('{"status": "done"}')
    with pytest.raises(runs.RunError, match="already holds a run"):
        runs.train_run("ae", {"h": 8, "z": 2}, runs.RunSettings(**QUICK), out=tmp_path,
                       splits=_splits())  # fmt: skip


def test_set_aside_finishes_a_replacement_killed_at_any_stage(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    before = _old_run(folder)
    # killed while moving the old run aside: two entries moved, the rest still in place
    (folder / ".previous-run.partial").mkdir()
    for name in ("run.json", "checkpoints"):
        os.replace(folder / name, folder / ".previous-run.partial" / name)
    assert set_aside(folder) and not (folder / ".previous-run.partial").exists()
    assert set(_tree(folder)) == {"notes.txt"} | {f"{PREVIOUS_RUN}/{n}" for n in before
                                                   if n != "notes.txt"}  # fmt: skip
    # killed while training the new run: its files are dropped, the old run stays aside
    (folder / "run.json").write_text('{"status": "training"}')
    (folder / "checkpoints").mkdir()
    assert set_aside(folder)
    put_back(folder)
    assert _tree(folder) == before
    # killed after the new run was done, before the old one was deleted: the old one goes
    set_aside(folder)
    (folder / "run.json").write_text('{"status": "done"}')
    assert set_aside(folder)  # now the finished run is the one set aside
    assert _tree(folder / PREVIOUS_RUN) == {"run.json": b'{"status": "done"}'}


def _run_worker(folder: Path, seed: int, kill: str | None) -> int:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env["OMP_NUM_THREADS"] = "1"
    args = [sys.executable, str(WORKER), "run", str(folder), str(seed), *([kill] if kill else [])]
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120).returncode


def test_a_killed_replacement_never_loses_the_old_run(tmp_path: Path) -> None:
    """SIGKILL at seeded renames of a replacing run (the moves aside, every atomic write):
    after each kill, the clean-up the next overwrite does leaves either the old run, byte for
    byte, or the new run finished."""
    sys.path.insert(0, str(WORKER.parent))
    try:
        from fault_worker import run_folder
    finally:
        sys.path.pop(0)
    rng = random.Random(11)
    kills = restored = finished = 0
    for n in sorted(rng.sample(range(1, 40), 8)):
        folder = tmp_path / f"kill-{n}"
        run_folder(str(folder), seed=0)
        (folder / "notes.txt").write_text("mine")
        before = _tree(folder)
        code = _run_worker(folder, 1, f"replace:{n}")
        if code == 0:
            continue  # the run made fewer renames than n
        assert code == -signal.SIGKILL
        kills += 1
        if set_aside(folder):  # what the next overwrite does first
            put_back(folder)
        after = _tree(folder)
        if after == before:
            restored += 1
        else:  # then it must be the new run, whole and done
            finished += 1
            run = json.loads(after["run.json"])
            assert run["status"] == "done" and run["training"]["seed"] == 1
            assert after["model.safetensors"] != before["model.safetensors"]
            assert after["notes.txt"] == b"mine"
            autoencoders.load(folder)
    print(f"replacing run: {kills} kills, {restored} restored, {finished} finished")
    assert kills >= 4 and restored >= 1


@pytest.mark.parametrize("then", ["resume", "restore"])
def test_a_stopped_replacement_with_checkpoints_can_be_resumed_or_undone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, then: str
) -> None:
    folder = tmp_path / "run"
    before = _old_run(folder)
    fit = _fit_then_raise(monkeypatch, KeyboardInterrupt())  # after its checkpoints: Ctrl-C
    settings = runs.RunSettings(**{**QUICK, "epochs": 2}, seed=1, checkpoint_every=2)
    with pytest.raises(KeyboardInterrupt) as info:
        runs.train_run("ae", {"h": 8, "z": 2}, settings, out=folder, overwrite=True,
                       splits=_splits())  # fmt: skip
    note = " ".join(info.value.__notes__)
    assert "can be resumed" in note and "restore_previous_run" in note
    assert json.loads((folder / "run.json").read_text())["status"] == "interrupted"
    assert _tree(folder / PREVIOUS_RUN) == {
        k.removeprefix(PREVIOUS_RUN + "/"): v for k, v in before.items() if k != "notes.txt"
    }
    with pytest.raises(runs.RunError, match="kept in .previous-run/"):  # named where it is
        runs.train_run("ae", {"h": 8, "z": 2}, settings, out=folder, splits=_splits())
    monkeypatch.setattr(autoencoders.Trainer, "fit", fit)
    if then == "resume":
        again = dataclasses.replace(settings, resume=True)
        runs.train_run("ae", {"h": 8, "z": 2}, again, out=folder, splits=_splits())
        after = _tree(folder)
        assert json.loads(after["run.json"])["status"] == "done"
        assert not any(name.startswith(PREVIOUS_RUN) for name in after)  # finished: deleted
    else:
        runs.restore_previous_run(folder)
        assert _tree(folder) == before
        with pytest.raises(runs.RunError, match="keeps no run set aside"):
            runs.restore_previous_run(folder)


@pytest.mark.parametrize("moves", range(1, 8))
def test_a_put_back_cut_short_is_completed_by_the_next_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moves: int
) -> None:
    """A put-back stopped after some of its renames (a kill) loses nothing: the next
    set_aside completes the old run from both places."""
    folder = tmp_path / "run"
    before = _old_run(folder)
    assert set_aside(folder)
    (folder / "run.json").write_text('{"status": "failed"}')  # the failed replacement's
    real, left = os.replace, [moves]

    def cut(src, dst):
        left[0] -= 1
        if left[0] < 0:
            raise SystemExit("killed")
        return real(src, dst)

    monkeypatch.setattr(_files.os, "replace", cut)
    with pytest.raises(SystemExit):
        put_back(folder)
    monkeypatch.setattr(_files.os, "replace", real)
    assert set_aside(folder)
    put_back(folder)
    assert _tree(folder) == before
