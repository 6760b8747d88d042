"""Tests for :mod:`autoencoders.runs`, the run-folder API behind the command line.

Runs use in-memory data (``from_tensors``), tiny models and one epoch, without figures unless a
test is about them. That ``autoencoders train`` writes the same folder is in test_cli.py.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

import autoencoders
from autoencoders import cli, runs
from autoencoders.data import from_tensors

pytest.importorskip("matplotlib")

QUICK = {"epochs": 1, "batch_size": 16, "progress": False, "plots": False}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test in a scratch folder, so a default ``runs/`` never lands in the repo."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def splits() -> autoencoders.data.DataSplits:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(60, 1, 28, 28, generator=gen)
    return from_tensors(x, torch.arange(60) % 3, class_names=["a", "b", "c"])


# -- settings and small pieces -------------------------------------------------------------------
def test_cli_names_are_the_runs_api() -> None:
    assert cli.TrainSettings is runs.RunSettings
    assert cli.train_run is runs.train_run and cli.evaluate_run is runs.evaluate_run
    assert cli.run_sweep is runs.sweep and cli.model_table is runs.model_table


def test_settings_record_and_trainer_kwargs() -> None:
    s = runs.RunSettings(
        epochs=2,
        optimizer="sgd",
        optimizer_kwargs={"momentum": 0.5},
        scheduler="step",
        scheduler_kwargs={"gamma": 0.5},
        extra={"grad_clip": 1.0},
    )
    assert s.check() is s
    record = s.record()
    assert record["optimizer"] == "sgd" and record["optimizer_kwargs"] == {"momentum": 0.5}
    assert record["scheduler"] == "step" and record["grad_clip"] == 1.0
    assert not {"data", "limit", "progress", "plots", "extra"} & set(record)
    kw = s.trainer_kwargs()
    assert kw["scheduler_kwargs"] == {"gamma": 0.5} and kw["grad_clip"] == 1.0


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"optimizer": "adma"}, "did you mean 'adam'"),
        ({"scheduler": "cosin"}, "did you mean 'cosine'"),
        ({"scheduler_kwargs": {"gamma": 0.5}}, "without a scheduler"),
        ({"optimizer_kwargs": [("momentum", 0.9)]}, "optimizer_kwargs must be a dict"),
    ],
)
def test_settings_check(settings: dict, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        runs.RunSettings(**settings).check()


def test_slug() -> None:
    assert runs.slug({"h": 400, "z": 5}) == "h=400_z=5"
    assert runs.slug({"hidden": [400, 100], "act": "leaky relu"}) == "hidden=400-100_act=leaky-relu"
    assert runs.slug({}) == "default"


def test_grid_points() -> None:
    points = runs.grid_points({"h": [8, 16], "z": [2, 3, 4]})
    assert len(points) == 6 and points[0] == {"h": 8, "z": 2} and points[-1] == {"h": 16, "z": 4}
    assert runs.grid_points({"hidden": [[400], [400, 100]]}) == [
        {"hidden": [400]},
        {"hidden": [400, 100]},
    ]
    for bad in ({"z": []}, {"z": "2,3"}, {"z": 2}):
        with pytest.raises(ValueError, match="non-empty list"):
            runs.grid_points(bad)


def test_best_validation_is_the_historys() -> None:
    records = [{"epoch": 1, "val_loss": 2.0}, {"epoch": 2, "val_loss": 1.0}, {"val_loss": 1.0}]
    assert runs.best_validation(records) == (1.0, 2)
    assert runs.best_validation([{"epoch": 1, "val_loss": float("nan")}]) == (None, None)


def test_load_data_reads_rgb_as_greyscale(tmp_path: Path) -> None:
    """A folder of RGB images, read as greyscale for a 1-channel model."""
    from PIL import Image

    rgb = tmp_path / "rgb"
    rgb.mkdir()
    for i in range(6):
        Image.new("RGB", (40, 30), color=(40 * i, 255 - 40 * i, 90)).save(rgb / f"{i}.png")
    model = autoencoders.build("vae", h=16, z=2)
    loaded = runs.load_data(runs.RunSettings(data=str(rgb)), model)
    assert loaded.input_shape == (1, 28, 28)


@pytest.mark.parametrize("prefix", ["image-folder:", "image_folder:", "Folder:"])
def test_load_data_reads_any_spelling_of_a_folder_at_the_models_shape(
    tmp_path: Path, prefix: str
) -> None:
    """Not only ``folder:`` and a bare path: every alias is read at the model's shape."""
    from PIL import Image

    rgb = tmp_path / "rgb"
    rgb.mkdir()
    for i in range(6):
        Image.new("RGB", (40, 30), color=(40 * i, 255 - 40 * i, 90)).save(rgb / f"{i}.png")
    model = autoencoders.build("vae", h=16, z=2)
    loaded = runs.load_data(runs.RunSettings(data=f"{prefix}{rgb}"), model)
    assert loaded.input_shape == (1, 28, 28)
    faces = autoencoders.build("conv_vae", filters=[4, 8, 8], z=2)
    loaded = runs.load_data(runs.RunSettings(data=f"{prefix}{rgb}", limit=2), faces)
    assert loaded.input_shape == (3, 64, 64) and loaded.pixel_range == (-1.0, 1.0)


def test_load_data_gives_any_image_dataset_the_models_shape() -> None:
    """A plugin dataset that takes ``image_size`` / ``channels`` gets the model's; one that
    takes neither gets neither."""
    seen: dict[str, object] = {}

    @autoencoders.registry.datasets.register("test_squares")
    def load_squares(*, image_size=8, channels=1, limit=None) -> autoencoders.data.DataSplits:
        seen.update(image_size=image_size, channels=channels)
        return from_tensors(torch.rand(12, channels, image_size, image_size), limit=limit)

    @autoencoders.registry.datasets.register("test_fixed")
    def load_fixed(*, limit=None) -> autoencoders.data.DataSplits:
        return from_tensors(torch.rand(12, 2, 5, 5), limit=limit)

    try:
        model = autoencoders.build("vae", h=8, z=2, input_shape=(3, 12, 12))
        assert runs.load_data(runs.RunSettings(data="test-squares"), model).input_shape == (
            3,
            12,
            12,
        )
        assert seen == {"image_size": 12, "channels": 3}
        # a dataset that cannot change its channels is not told the model's: the shapes differ
        model = autoencoders.build("vae", h=8, z=2, input_shape=(2, 5, 5))
        assert runs.load_data(runs.RunSettings(data="test-fixed"), model).input_shape == (2, 5, 5)
        with pytest.raises(runs.RunError, match="2-channel images"):
            runs.load_data(runs.RunSettings(data="test-squares"), model)
    finally:
        autoencoders.registry.datasets.unregister("test_squares")
        autoencoders.registry.datasets.unregister("test_fixed")


def test_load_data_reads_mnist_style_data_at_its_native_shape(tmp_path: Path) -> None:
    """MNIST-style data declares its native 1x28x28: a face model is refused, not fed
    upsampled digits; a model of that shape gets the data as it is."""
    import struct

    import numpy as np

    root = tmp_path / "root"  # (not the working folder: "mnist" there is a folder of images)
    mnist = root / "mnist"
    mnist.mkdir(parents=True)
    for part in ("train", "t10k"):
        images = np.random.default_rng(0).integers(0, 256, (20, 28, 28), dtype=np.uint8)
        for kind, arr in (("images-idx3", images), ("labels-idx1", np.arange(20) % 10)):
            arr = arr.astype(np.uint8)
            header = bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
            (mnist / f"{part}-{kind}-ubyte").write_bytes(header + arr.tobytes())
    faces = autoencoders.build("conv_vae", filters=[4, 8, 8], z=2)
    settings = runs.RunSettings(data="mnist", data_root=str(root), limit=4)
    with pytest.raises(runs.RunError, match=r"3, 64, 64"):
        runs.load_data(settings, faces)
    # at the data's own shape nothing is resized
    same = runs.load_data(settings, autoencoders.build("vae", h=8, z=2))
    plain = autoencoders.data.load_dataset("mnist", root=str(root), limit=4)
    assert torch.equal(same.tensors("train")[0], plain.tensors("train")[0])


def test_check_data_words_the_fix_for_python_and_the_cli(splits) -> None:
    model = autoencoders.build("vae", h=8, z=2, input_shape=(1, 14, 14))
    with pytest.raises(runs.RunError) as info:
        runs.check_data(splits, model)
    assert "build it with input_shape=[1,28,28]" in str(info.value)
    assert "pass --set input_shape=[1,28,28] if the model takes it" in info.value.cli_message


# -- train_run -----------------------------------------------------------------------------------
def test_train_run_writes_a_run_folder(splits, tmp_path: Path) -> None:
    settings = runs.RunSettings(**{**QUICK, "plots": True})
    result = runs.train_run("vae", {"h": 8, "z": 2}, settings, out=tmp_path / "r", splits=splits)
    files = {p.name for p in result.dir.iterdir()}
    assert {"run.json", "config.json", "model.safetensors", "history.json", "history.csv"} <= files
    assert {"metrics.json", "report.md", "loss_curves.png", "samples.png"} <= files
    run = json.loads((result.dir / "run.json").read_text())
    assert run["status"] == "done" and "error" not in run
    assert run["data"]["name"] == "tensors" and run["data"]["class_names"] == ["a", "b", "c"]
    assert run["training"]["optimizer"] == "adam" and run["training"]["device"] == "cpu"
    best = result.history.best()
    assert (run["best_val_loss"], run["best_epoch"]) == (best["val_loss"], best["epoch"])
    assert result["dir"] == result.dir and result.variational
    assert result.metrics == json.loads((result.dir / "metrics.json").read_text())
    assert autoencoders.load(result.dir).num_parameters() == result.num_parameters
    with pytest.raises(KeyError, match="no 'nope'"):
        result["nope"]


def test_train_run_default_out(splits) -> None:
    result = runs.train_run("ae", {"h": 8, "z": 2}, runs.RunSettings(**QUICK), splits=splits)
    assert result.dir.parent == Path("runs") and result.dir.name.startswith("ae-")


def test_taken_out_is_an_error_in_python_terms(splits, tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text("{}")
    with pytest.raises(runs.RunError, match="pass overwrite=True") as info:
        runs.train_run("ae", {"h": 8, "z": 2}, runs.RunSettings(**QUICK), out=tmp_path)
    assert info.value.cli_message.endswith("choose another folder or pass --overwrite")
    runs.train_run(
        "ae", {"h": 8, "z": 2}, runs.RunSettings(**QUICK), out=tmp_path, overwrite=True,
        splits=splits,
    )  # fmt: skip
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "done"


def test_bad_settings_write_nothing(splits, tmp_path: Path) -> None:
    """The optimizer's keywords are checked (by the Trainer) before the folder is made."""
    settings = runs.RunSettings(**QUICK, optimizer="sgd", optimizer_kwargs={"momentom": 0.9})
    with pytest.raises(TypeError, match="did you mean 'momentum'"):
        runs.train_run("ae", {"h": 8, "z": 2}, settings, out=tmp_path / "r", splits=splits)
    assert not (tmp_path / "r").exists()


def test_a_failed_run_says_so(splits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_fit(self, *args, **kwargs):
        raise RuntimeError("the GPU caught fire")

    monkeypatch.setattr(autoencoders.Trainer, "fit", broken_fit)
    with pytest.raises(RuntimeError, match="caught fire"):
        runs.train_run("ae", {"h": 8, "z": 2}, runs.RunSettings(**QUICK), out="r", splits=splits)
    run = json.loads(Path("r/run.json").read_text())
    assert run["status"] == "failed" and run["error"] == "RuntimeError: the GPU caught fire"


def test_extra_settings_reach_the_trainer(splits, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}
    fit = autoencoders.Trainer.fit

    def spy(self, *args, **kwargs):
        seen["grad_clip"], seen["weight_decay"] = self.grad_clip, self.weight_decay
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(autoencoders.Trainer, "fit", spy)
    settings = runs.RunSettings(**QUICK, extra={"grad_clip": 0.5, "weight_decay": 1e-4})
    result = runs.train_run("ae", {"h": 8, "z": 2}, settings, out="r", splits=splits)
    assert seen == {"grad_clip": 0.5, "weight_decay": 1e-4}
    assert json.loads((result.dir / "run.json").read_text())["training"]["grad_clip"] == 0.5


def test_evaluate_run(splits, tmp_path: Path) -> None:
    with pytest.raises(runs.RunError, match="not a run folder"):
        runs.evaluate_run(tmp_path)


def test_evaluate_run_resolves_the_device_like_the_trainer(
    splits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``device="auto"`` is the Trainer's choice (CUDA, else MPS, else the CPU)."""
    import importlib

    from autoencoders.training.runtime import resolve_device

    folder = importlib.import_module("autoencoders.runs.folder")
    assert folder.resolve_device is resolve_device
    settings = runs.RunSettings(**QUICK)
    result = runs.train_run("ae", {"h": 8, "z": 2}, settings, out=tmp_path / "r", splits=splits)
    asked: list[object] = []
    monkeypatch.setattr(folder, "resolve_device", lambda d: asked.append(d) or resolve_device(d))
    monkeypatch.setattr(folder, "load_data", lambda s, m: splits)
    metrics = runs.evaluate_run(result.dir, device="auto")
    assert asked == ["auto"] and metrics.keys() == result.metrics.keys()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="asked for CUDA, which is not available"):
            runs.evaluate_run(result.dir, device="cuda")


# -- sweep ---------------------------------------------------------------------------------------
def test_sweep(splits, tmp_path: Path) -> None:
    settings = runs.RunSettings(**QUICK)  # (the figures of a sweep: test_cli.py)
    result = runs.sweep("vae", {"z": [2, 3]}, {"h": 8}, settings, out="s", splits=splits)
    assert [row["run"] for row in result.rows] == ["z=2", "z=3"]
    assert [r.dir.name for r in result.runs] == ["z=2", "z=3"]
    assert result["rows"][1]["params"] == autoencoders.build("vae", h=8, z=3).num_parameters()
    table = list(csv.DictReader((result.dir / "comparison.csv").open()))
    assert [float(r["best_val_loss"]) for r in table] == [r.best_val_loss for r in result.runs]
    assert (result.dir / "comparison.md").read_text().startswith("# Sweep of vae: z in [2, 3]")


@pytest.mark.parametrize(
    ("grid", "base", "python", "shell"),
    [
        ({}, {}, "sweep needs a grid", "sweep needs at least one --grid"),
        ({"z": [2]}, {"z": 3}, "both in model_kwargs and grid", "both in --set and --grid"),
    ],
)
def test_sweep_errors(grid: dict, base: dict, python: str, shell: str) -> None:
    with pytest.raises(runs.RunError, match=python) as info:
        runs.sweep("vae", grid, base, runs.RunSettings(**QUICK))
    assert shell in info.value.cli_message
    assert not Path("runs").exists()
