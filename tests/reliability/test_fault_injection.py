"""Fault injection: processes SIGKILLed at random points (seeded), then resumed.

A trainer that checkpoints at every step is killed at least 20 times — inside fsyncs and
renames of checkpoint writes, inside the cleanup of old checkpoints, after steps and at epoch
ends — each kill resumed by a fresh process, until one run finishes: its final weights must be
bitwise equal to those of an uninterrupted run, and no temporary file may be left anywhere.
The same for a loop of ``autoencoders.save`` into one folder: after every kill the folder loads
as exactly one of the saved models (after a kill between the two files, as the newer one, with
a warning), never as a wrong model and never refused.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import autoencoders

WORKER = Path(__file__).with_name("fault_worker.py")
KILLS = 20
BUDGET_S = 240  # a bound on the test, far above what it takes on a 2-core machine
SRC = str(Path(__file__).resolve().parents[2] / "src")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(
        [sys.executable, str(WORKER), *args], capture_output=True, text=True, env=env, timeout=120
    )


def _temporaries(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.endswith(".tmp"))


def _kill_points(rng: random.Random) -> str:
    kind = rng.choice(["fsync", "fsync", "replace", "replace", "rmtree", "unlink", "step", "epoch"])
    top = {"fsync": 60, "replace": 30, "rmtree": 10, "unlink": 10, "step": 12, "epoch": 3}[kind]
    return f"{kind}:{rng.randint(1, top)}"


def test_killed_trainer_resumes_bitwise_equal(tmp_path: Path) -> None:
    ref = _run("train", str(tmp_path / "ref_ckpt"), str(tmp_path / "ref.safetensors"))
    assert ref.returncode == 0, ref.stderr
    rng = random.Random(20261202)
    ckpt, out = tmp_path / "ckpt", tmp_path / "out.safetensors"
    kills, runs, where, start = 0, 0, [], time.monotonic()
    while kills < KILLS:
        assert time.monotonic() - start < BUDGET_S, f"only {kills} kills in {BUDGET_S} s"
        spec = _kill_points(rng)
        proc = _run("train", str(ckpt), str(out), spec)
        runs += 1
        if proc.returncode == -signal.SIGKILL:
            kills += 1
            where.append(spec)
            continue
        assert proc.returncode == 0, proc.stderr  # the kill point was never reached: finished
        out.unlink()
        # a finished run: start the next one afresh, so that more kills land mid-run
        for p in sorted(ckpt.glob("*")):
            subprocess.run(["rm", "-rf", str(p)], check=True)
    final = _run("train", str(ckpt), str(out))
    assert final.returncode == 0, final.stderr
    got, want = load_file(out), load_file(tmp_path / "ref.safetensors")
    assert got.keys() == want.keys()
    for k in want:
        assert torch.equal(got[k], want[k]), f"{k} differs after kills at {where}"
    assert _temporaries(ckpt) == []
    kinds = sorted({s.split(":")[0] for s in where})
    print(
        f"trainer: {kills} kills in {runs} runs ({', '.join(kinds)}), final weights bitwise equal"
    )
    assert kills >= KILLS and {s.split(":")[0] for s in where} >= {"fsync", "replace", "step"}


def test_killed_save_loop_never_loads_a_wrong_model(tmp_path: Path) -> None:
    sys.path.insert(0, str(WORKER.parent))
    try:
        from fault_worker import SAVES, model_of
    finally:
        sys.path.pop(0)
    saved = [model_of(i).state_dict() for i in range(SAVES)]
    folder = tmp_path / "model"
    rng = random.Random(7)
    kills, refused, loaded, start = 0, 0, 0, time.monotonic()  # refused: between the files
    while kills < KILLS:
        assert time.monotonic() - start < BUDGET_S, f"only {kills} kills in {BUDGET_S} s"
        kind = rng.choice(["fsync", "replace", "unlink"])
        n = rng.randint(1, 3 * SAVES if kind != "unlink" else 4)
        proc = _run("save", str(folder), f"{kind}:{n}")
        if proc.returncode != -signal.SIGKILL:
            assert proc.returncode == 0, proc.stderr
            continue
        kills += 1
        if not (folder / "config.json").exists():
            continue  # killed before the first save finished: nothing to load yet
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = autoencoders.load(folder)  # never refused, never a wrong model
        refused += any("earlier save" in str(w.message) for w in caught)
        state = model.state_dict()
        matches = [i for i, s in enumerate(saved) if all(torch.equal(state[k], s[k]) for k in s)]
        assert len(matches) == 1, "the folder loaded as none of the saved models"
        loaded += 1
    done = _run("save", str(folder))
    assert done.returncode == 0, done.stderr
    last = autoencoders.load(folder).state_dict()
    assert all(torch.equal(last[k], saved[-1][k]) for k in last)
    assert _temporaries(folder) == [], "temporaries left by killed saves were not removed"
    print(f"save loop: {kills} kills, {loaded} loaded exactly ({refused} of them between files)")
    assert loaded > 0


@pytest.mark.parametrize("what", ["replace", "fsync"])
def test_a_save_killed_mid_write_keeps_the_old_model(tmp_path: Path, what: str) -> None:
    folder = tmp_path / "model"
    assert _run("save", str(folder)).returncode == 0  # all SAVES saved: the last one is there
    before = autoencoders.load(folder).state_dict()
    # the first write of the next loop dies before its weights are renamed into place
    proc = _run("save", str(folder), f"{what}:1")
    assert proc.returncode == -signal.SIGKILL
    after = autoencoders.load(folder).state_dict()
    assert all(torch.equal(after[k], before[k]) for k in before)
