"""Continuing a stopped experiment: finished runs are reused, the others trained again."""

from __future__ import annotations

import json

import pytest
import torch

from autoencoders.data import from_tensors
from autoencoders.runs import Config, Experiment, RunError, run_experiment
from autoencoders.runs.folder import finished_run, same_run
from autoencoders.runs.settings import CHECKPOINT_DIR, RunSettings


def _tiny(epochs: int = 1) -> Experiment:
    return Experiment(
        name="tiny-resume",
        title="Tiny",
        summary="tiny",
        configs=lambda quick: [
            Config("z=2", "ae", {"h": 8, "z": 2}),
            Config("z=3", "ae", {"h": 8, "z": 3}),
        ],
        settings={"epochs": epochs, "batch_size": 16, "plots": False},
    )


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    return from_tensors(torch.rand(60, 1, 28, 28, generator=g), torch.arange(60) % 3)


def _stamp(folder):
    return (folder / "model.safetensors").stat().st_mtime_ns


def test_a_resumed_experiment_reuses_finished_runs_and_trains_the_rest(tmp_path, data):
    out = tmp_path / "e"
    first = run_experiment(_tiny(), out=out, splits=data, resume=True)
    stamps = {name: _stamp(out / name) for name in ("z=2", "z=3")}
    assert (out / "z=2" / CHECKPOINT_DIR).is_dir()  # resuming runs keep a checkpoint per epoch
    # the second run "was stopped": its record says training, its weights are gone
    run_json = out / "z=3" / "run.json"
    record = json.loads(run_json.read_text())
    record["status"] = "training"
    run_json.write_text(json.dumps(record))
    (out / "z=3" / "model.safetensors").unlink()
    again = run_experiment(_tiny(), out=out, splits=data, resume=True)
    assert _stamp(out / "z=2") == stamps["z=2"], "the finished run was reused, not retrained"
    assert (out / "z=3" / "model.safetensors").is_file()
    assert json.loads(run_json.read_text())["status"] == "done"
    assert [r["test_mse"] for r in again.rows] == [r["test_mse"] for r in first.rows]
    assert json.loads((out / "experiment.json").read_text())["status"] == "done"


def test_changed_settings_are_trained_afresh(tmp_path, data):
    out = tmp_path / "e"
    run_experiment(_tiny(), out=out, splits=data, resume=True)
    stamp = _stamp(out / "z=2")
    result = run_experiment(_tiny(epochs=2), out=out, splits=data, resume=True)
    assert _stamp(out / "z=2") != stamp
    assert all(len(run.history) == 2 for run in result.runs.values())


def test_same_run_compares_model_keywords_settings_and_data(tmp_path, data):
    out = tmp_path / "e"
    run_experiment(_tiny(), out=out, splits=data)
    settings = RunSettings(epochs=1, batch_size=16, plots=False, progress=False).check()
    folder = out / "z=2"
    assert same_run(folder, "ae", {"h": 8, "z": 2}, settings)
    assert finished_run(folder, "ae", {"h": 8, "z": 2}, settings).num_parameters > 0
    assert not same_run(folder, "ae", {"h": 8, "z": 3}, settings)
    assert not same_run(folder, "vae", {"h": 8, "z": 2}, settings)
    other = RunSettings(epochs=1, batch_size=16, lr=0.01, plots=False).check()
    assert not same_run(folder, "ae", {"h": 8, "z": 2}, other)
    limited = RunSettings(epochs=1, batch_size=16, limit=30, plots=False).check()
    assert not same_run(folder, "ae", {"h": 8, "z": 2}, limited)
    on_gpu = RunSettings(epochs=1, batch_size=16, device="cuda", plots=False)
    assert same_run(folder, "ae", {"h": 8, "z": 2}, on_gpu), "the device does not matter"
    # the same name and keywords building other blocks (the library changed): not the same
    config = json.loads((folder / "config.json").read_text())
    config["encoder"]["kwargs"]["activation"] = "tanh"
    (folder / "config.json").write_text(json.dumps(config))
    assert not same_run(folder, "ae", {"h": 8, "z": 2}, settings)


def test_resume_needs_the_folder(data):
    with pytest.raises(RunError, match="resume=True needs out="):
        run_experiment(_tiny(), splits=data, resume=True)


def test_the_cli_takes_resume():
    from autoencoders.cli import build_parser

    args = build_parser().parse_args(["experiment", "run", "dense-ae", "--out", "d", "--resume"])
    assert args.resume is True
    assert build_parser().parse_args(["experiment", "run", "dense-ae"]).resume is False
