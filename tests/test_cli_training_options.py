"""The training options of ``train`` / ``sweep`` (``--loss``, ``--betas``, ``--weight-decay``,
``--checkpoint-every``, ``--resume``, ``--tensorboard``), ``train --from RUN_DIR``, the
``experiment`` commands, what a run says before training (missing packages) and after a
failure (``run.json`` status), and the atomic writes of a run folder.

Tiny models (``h=8, z=2``), one or two epochs, a folder of 40 small PNGs; no figures unless
a test is about them.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

import autoencoders
from autoencoders import cli, runs
from autoencoders.data import from_tensors
from autoencoders.losses import ELBOLoss, ReconstructionLoss
from autoencoders.training import ModelCheckpoint, TensorBoardLogger, Trainer

TINY = ["--set", "h=8", "--set", "z=2", "--epochs", "1", "--batch-size", "16", "--no-progress"]
QUICK = {"epochs": 1, "batch_size": 16, "progress": False, "plots": False}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two classes of 28x28 greyscale PNGs, 20 each."""
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    gen = torch.Generator().manual_seed(0)
    for label, name in enumerate(["top", "bottom"]):
        (root / name).mkdir()
        for i in range(20):
            img = torch.rand(28, 28, generator=gen) * 60
            img[slice(0, 14) if label == 0 else slice(14, 28)] += 150
            Image.fromarray(img.clamp(0, 255).to(torch.uint8).numpy(), mode="L").save(
                root / name / f"{i:02d}.png"
            )
    return root


@pytest.fixture
def trainers(monkeypatch: pytest.MonkeyPatch) -> list[Trainer]:
    """Every Trainer the runs build, recorded."""
    seen: list[Trainer] = []

    class Recording(Trainer):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            seen.append(self)

    monkeypatch.setattr(importlib.import_module("autoencoders.runs.folder"), "Trainer", Recording)
    return seen


def _train(folder: Path, out: str, *options: str, model: str = "vae") -> list[str]:
    return [
        "-q",
        "train",
        model,
        "--data",
        str(folder),
        *TINY,
        "--no-plots",
        "--out",
        out,
        *options,
    ]


def _error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = cli.main(["-q", *argv])
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autoencoders: error: "), captured.err
    return lines[0].removeprefix("autoencoders: error: ")


def _run_json(folder: str | Path) -> dict:
    return json.loads((Path(folder) / "run.json").read_text())


# -- optimizer, loss -------------------------------------------------------------------------------
def test_betas_and_weight_decay_reach_run_json_and_the_optimizer(
    image_folder: Path, trainers: list[Trainer]
) -> None:
    """The issue's check: ``--optimizer adam --betas 0.5,0.999 --weight-decay 1e-5``."""
    options = ["--optimizer", "adam", "--betas", "0.5,0.999", "--weight-decay", "1e-5"]
    assert cli.main(_train(image_folder, "r", *options)) == 0
    training = _run_json("r")["training"]
    assert training["optimizer"] == "adam"
    assert training["betas"] == [0.5, 0.999] and training["weight_decay"] == 1e-5
    (trainer,) = trainers
    assert isinstance(trainer.optimizer, torch.optim.Adam)
    for group in trainer.optimizer.param_groups:
        assert group["betas"] == (0.5, 0.999) and group["weight_decay"] == 1e-5
    assert "betas=[0.5, 0.999]" in (Path("r") / "report.md").read_text()


def test_trainer_kwargs_build_the_optimizer_asked_for() -> None:
    settings = runs.RunSettings(
        optimizer="adamw", betas=(0.8, 0.99), weight_decay=0.05, loss="mse", plots=False
    ).check()
    trainer = Trainer(autoencoders.build("ae", h=8, z=2), **settings.trainer_kwargs())
    group = trainer.optimizer.param_groups[0]
    assert isinstance(trainer.optimizer, torch.optim.AdamW)
    assert group["betas"] == (0.8, 0.99) and group["weight_decay"] == 0.05
    assert isinstance(trainer.loss_fn, ReconstructionLoss) and trainer.loss_fn.recon == "mse"
    default = Trainer(autoencoders.build("ae", h=8, z=2), **runs.RunSettings().trainer_kwargs())
    assert default.optimizer.param_groups[0]["betas"] == (0.9, 0.999)  # betas=None: Adam's
    assert default.optimizer.param_groups[0]["weight_decay"] == 0.0


def test_loss_options_reach_the_trainer(image_folder: Path, trainers: list[Trainer]) -> None:
    options = ["--loss", "elbo", "--loss-arg", "recon=mse", "--loss-arg", "beta=2"]
    assert cli.main(_train(image_folder, "r", *options)) == 0
    (trainer,) = trainers
    assert isinstance(trainer.loss_fn, ELBOLoss)
    assert trainer.loss_fn.beta == 2.0 and trainer.loss_fn.recon == "mse"
    training = _run_json("r")["training"]
    assert training["loss"] == "elbo" and training["loss_kwargs"] == {"recon": "mse", "beta": 2}
    assert cli.main(_train(image_folder, "ae", "--loss", "mse", model="ae")) == 0
    assert isinstance(trainers[-1].loss_fn, ReconstructionLoss)
    assert trainers[-1].loss_fn.recon == "mse"
    assert _run_json("ae")["training"]["loss"] == "mse"


def test_the_default_loss_is_the_models(image_folder: Path, trainers: list[Trainer]) -> None:
    assert cli.main(_train(image_folder, "r")) == 0
    assert isinstance(trainers[0].loss_fn, ELBOLoss)
    assert _run_json("r")["training"]["loss"] is None


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--loss", "mes"], "unknown loss 'mes'; did you mean 'mse'?"),
        (["--loss", "elbo", "--loss-arg", "bta=2"], "did you mean 'beta'?"),
        (["--loss-arg", "beta=2"], "--loss-arg given without a loss; pass --loss NAME (bce, "),
        (["--loss-arg", "beta"], "--loss-arg expects key=value"),
        (["--betas", "0.5"], "argument --betas: expected two numbers B1,B2 (e.g. 0.5,0.999)"),
        (["--betas", "0.5,x"], "argument --betas: expected two numbers B1,B2"),
        (["--betas", "0.5,1.0"], "--betas must be two numbers in [0, 1) as B1,B2"),
        (["--weight-decay", "-1"], "argument --weight-decay: expected a non-negative number"),
        (["--checkpoint-every", "0"], "argument --checkpoint-every: expected a positive integer"),
        (["--resume"], "--resume needs --out RUN_DIR"),
    ],
)
def test_training_option_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    line = _error_line(capsys, ["train", "vae", *argv])
    assert line.startswith(expected) or expected in line, line
    assert not Path("runs").exists()


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"loss": "mes"}, "did you mean 'mse'"),
        ({"loss": 3}, "loss must be a registered loss name"),
        ({"loss_kwargs": {"beta": 2}}, "loss_kwargs {'beta': 2} given without a loss"),
        ({"loss": "elbo", "loss_kwargs": {"bta": 2}}, "did you mean 'beta'"),
        ({"betas": (0.5,)}, r"betas must be two numbers in \[0, 1\)"),
        ({"betas": (0.5, -0.1)}, r"betas must be two numbers in \[0, 1\), got \(0.5, -0.1\)"),
        ({"betas": "0.5,0.9"}, "betas must be two numbers"),
        ({"weight_decay": -1e-5}, "weight_decay must be a number >= 0"),
        ({"weight_decay": float("nan")}, "weight_decay must be a number >= 0"),
        ({"checkpoint_every": 0}, "checkpoint_every must be None or an integer >= 1"),
        ({"checkpoint_every": 2.5}, "checkpoint_every must be None or an integer >= 1"),
        ({"resume": "yes"}, "resume must be True or False"),
    ],
)
def test_settings_check_the_new_options(settings: dict, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        runs.RunSettings(**settings).check()


def test_settings_record_every_training_option() -> None:
    s = runs.RunSettings(
        loss="elbo",
        loss_kwargs={"beta": 4.0},
        weight_decay=1e-5,
        betas=[0.5, 0.999],
        checkpoint_every=10,
        resume=True,
        tensorboard=True,
        plots=False,
    ).check()
    assert s.betas == (0.5, 0.999)  # a list (from JSON) becomes the tuple
    record = s.record()
    for key in ("loss", "loss_kwargs", "weight_decay", "betas", "checkpoint_every", "resume"):
        assert record[key] == getattr(s, key), key
    assert record["tensorboard"] is True
    with pytest.raises(runs.RunError, match="call trainer_kwargs"):
        s.trainer_kwargs()


# -- --from ----------------------------------------------------------------------------------------
def test_from_reruns_a_run_exactly(image_folder: Path, capsys) -> None:
    options = ["--optimizer", "adam", "--betas", "0.5,0.99", "--weight-decay", "1e-4"]
    options += ["--loss", "elbo", "--loss-arg", "recon=mse", "--seed", "3", "--limit", "24"]
    assert cli.main(_train(image_folder, "first", *options)) == 0
    assert cli.main(["-q", "train", "--from", "first", "--out", "again", "--no-plots"]) == 0
    a, b = load_file("first/model.safetensors"), load_file("again/model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "weights differ"
    first, again = _run_json("first"), _run_json("again")
    for key in ("model", "model_kwargs", "model_arguments", "data", "training", "best_val_loss"):
        assert first[key] == again[key], key
    assert again["command"] == "autoencoders -q train --from first --out again --no-plots"
    assert first["training"]["seed"] == 3 and first["data"]["limit"] == 24


def test_from_with_overrides(image_folder: Path, trainers: list[Trainer]) -> None:
    options = ["--optimizer", "sgd", "--optimizer-arg", "momentum=0.9", "--lr", "0.01"]
    assert cli.main(_train(image_folder, "first", *options, "--limit", "16")) == 0
    argv = ["-q", "train", "--from", "first", "--out", "second", "--no-plots", "--epochs", "2"]
    assert cli.main([*argv, "--set", "z=3", "--lr", "0.02"]) == 0
    training = _run_json("second")["training"]
    assert training["epochs"] == 2 and training["lr"] == 0.02
    assert training["optimizer"] == "sgd" and training["optimizer_kwargs"] == {"momentum": 0.9}
    assert _run_json("second")["model_kwargs"] == {"h": 8, "z": 3}
    assert _run_json("second")["data"]["limit"] == 16
    # another optimizer drops the recorded one's keywords (momentum is no Adam argument)
    assert (
        cli.main(["-q", "train", "--from", "first", "--out", "third", "--optimizer", "adam"]) == 0
    )
    assert _run_json("third")["training"]["optimizer_kwargs"] == {}
    assert isinstance(trainers[-1].optimizer, torch.optim.Adam)


def test_from_can_drop_the_recorded_scheduler_and_loss(
    image_folder: Path, trainers: list[Trainer]
) -> None:
    options = ["--scheduler", "cosine", "--loss", "elbo", "--loss-arg", "recon=mse"]
    assert cli.main(_train(image_folder, "first", *options, "--limit", "16")) == 0
    first = _run_json("first")["training"]
    assert first["scheduler"] == "cosine" and first["loss"] == "elbo"
    assert trainers[-1].scheduler is not None
    argv = ["-q", "train", "--from", "first", "--out", "plain", "--no-plots"]
    assert cli.main([*argv, "--scheduler", "none", "--loss", "default"]) == 0
    plain = _run_json("plain")["training"]
    assert plain["scheduler"] is None and plain["scheduler_kwargs"] == {}
    assert plain["loss"] is None and plain["loss_kwargs"] == {}
    assert trainers[-1].scheduler is None


def test_from_errors(image_folder: Path, capsys) -> None:
    assert cli.main(_train(image_folder, "first", "--limit", "8")) == 0
    line = _error_line(capsys, ["train", "--from", "first", "--out", "first"])
    assert "--out 'first' already holds a run" in line and "--overwrite" in line
    line = _error_line(capsys, ["train", "ae", "--from", "first", "--out", "x"])
    assert line == "--from first trains the run's model, 'vae'; drop 'ae' (or --from)"
    line = _error_line(capsys, ["train", "--from", "nowhere", "--out", "x"])
    assert line == "'nowhere' is not a run folder (it has no run.json naming a model)"
    assert "train needs a model name" in _error_line(capsys, ["train"])
    assert cli.main(["-q", "train", "--from", "first", "--out", "first", "--overwrite"]) == 0


def test_run_spec_reads_back_what_train_run_recorded() -> None:
    data = from_tensors(torch.rand(32, 1, 28, 28))
    settings = runs.RunSettings(
        **QUICK, loss="mse", betas=(0.5, 0.9), weight_decay=1e-3, extra={"grad_clip": 1.0}
    )
    runs.train_run("ae", {"h": 8, "z": 2}, settings, out="r", splits=data)
    model, kwargs, again = runs.run_spec("r")
    assert (model, kwargs) == ("ae", {"h": 8, "z": 2})
    assert again.loss == "mse" and again.betas == (0.5, 0.9) and again.weight_decay == 1e-3
    assert again.extra == {"grad_clip": 1.0} and again.data == "tensors"
    assert again.record() == {**settings.record(), "device": "cpu"}


# -- checkpoints, resume, tensorboard ------------------------------------------------------------
def test_checkpoint_every_writes_into_the_run_folder(
    image_folder: Path, trainers: list[Trainer]
) -> None:
    assert cli.main(_train(image_folder, "r", "--checkpoint-every", "1", "--limit", "32")) == 0
    (ckpt,) = [cb for cb in trainers[0].callbacks if isinstance(cb, ModelCheckpoint)]
    assert ckpt.directory == Path("r") / "checkpoints" and ckpt.every_n_steps == 1
    assert any(p.name.startswith("ckpt-") for p in Path("r/checkpoints").iterdir())
    assert _run_json("r")["training"]["checkpoint_every"] == 1
    assert "checkpoints" not in (Path("r") / "report.md").read_text().split("## Files")[-1]


def test_resume_continues_a_run_exactly(image_folder: Path) -> None:
    """One epoch with checkpoints, then ``--resume`` to two: the weights of a two-epoch run."""
    base = _train(image_folder, "whole", "--limit", "32", "--checkpoint-every", "100")
    assert cli.main([*base, "--epochs", "2"]) == 0
    assert cli.main(_train(image_folder, "part", "--limit", "32", "--checkpoint-every", "100")) == 0
    resumed = _train(image_folder, "part", "--limit", "32", "--epochs", "2", "--resume")
    assert cli.main(resumed) == 0
    a, b = load_file("whole/model.safetensors"), load_file("part/model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a), "a resumed run differs from a whole one"
    history = json.loads(Path("part/history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    run = _run_json("part")
    assert run["status"] == "done" and run["training"]["resume"] is True


def test_resume_errors_and_fresh_starts(image_folder: Path, capsys) -> None:
    assert cli.main(_train(image_folder, "r", "--limit", "8")) == 0  # no checkpoints
    line = _error_line(capsys, _train(image_folder, "r", "--resume")[1:])
    assert "holds a run but no checkpoint to resume from (none in checkpoints/" in line
    assert "pass --overwrite to train it afresh" in line
    # an empty folder: --resume starts afresh (and writes checkpoints)
    assert cli.main(_train(image_folder, "new", "--limit", "8", "--resume")) == 0
    assert list(Path("new/checkpoints").glob("ckpt-*"))
    # --overwrite without --resume: a fresh run, the old checkpoints are gone
    assert cli.main(_train(image_folder, "new", "--limit", "8", "--overwrite")) == 0
    assert not Path("new/checkpoints").exists()


def test_tensorboard_logs_into_the_run_folder(image_folder: Path, trainers: list[Trainer]) -> None:
    pytest.importorskip("tensorboard")
    assert cli.main(_train(image_folder, "r", "--tensorboard", "--limit", "16")) == 0
    (logger,) = [cb for cb in trainers[0].callbacks if isinstance(cb, TensorBoardLogger)]
    assert logger.log_dir == Path("r") / "tensorboard"
    assert any(p.name.startswith("events.out.tfevents") for p in Path("r/tensorboard").iterdir())
    assert _run_json("r")["training"]["tensorboard"] is True


# -- said before training ------------------------------------------------------------------------
def test_missing_tensorboard_is_said_before_anything_is_written(
    image_folder: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    line = _error_line(capsys, _train(image_folder, "r", "--tensorboard")[1:])
    assert line.startswith("--tensorboard: TensorBoardLogger needs the tensorboard package")
    assert 'pip install "autoencoders[tensorboard]"' in line and "drop --tensorboard" in line
    assert not Path("r").exists()


def test_missing_matplotlib_is_said_before_anything_is_written(
    image_folder: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    argv = ["train", "vae", "--data", str(image_folder), *TINY, "--out", "r"]
    line = _error_line(capsys, argv)
    assert line.startswith("the figures need matplotlib, which cannot be imported (")
    assert line.endswith("install it (pip install matplotlib) or pass --no-plots")
    assert not Path("r").exists()
    line = _error_line(capsys, ["sweep", "vae", "--zip", "z=2,3", "--data", str(image_folder)])
    assert "the figures need matplotlib" in line
    assert cli.main([*argv, "--no-plots"]) == 0  # without figures it needs no matplotlib


# -- failed and interrupted runs -----------------------------------------------------------------
def _break(monkeypatch: pytest.MonkeyPatch, target: object, name: str, exc: BaseException) -> None:
    def broken(*args, **kwargs):
        raise exc

    monkeypatch.setattr(target, name, broken)


@pytest.mark.parametrize("where", ["figures", "metrics", "report"])
def test_a_run_that_fails_after_training_says_so(
    image_folder: Path, capsys, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    report = importlib.import_module("autoencoders.report")
    folder = importlib.import_module("autoencoders.runs.folder")
    target, name = {
        "figures": (report, "write_figures"),
        "metrics": (folder, "evaluate_model"),
        "report": (report, "write_report"),
    }[where]
    _break(monkeypatch, target, name, ValueError(f"no {where} today"))
    argv = ["train", "vae", "--data", str(image_folder), *TINY, "--limit", "8", "--out", "r"]
    assert _error_line(capsys, argv) == f"no {where} today"
    run = _run_json("r")
    assert run["status"] == "failed" and run["error"] == f"ValueError: no {where} today"
    assert Path("r/model.safetensors").is_file()  # what was done is kept


def test_an_interrupted_run_says_so(
    image_folder: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = importlib.import_module("autoencoders.report")
    _break(monkeypatch, report, "write_figures", KeyboardInterrupt())
    argv = ["-q", "train", "vae", "--data", str(image_folder), *TINY, "--limit", "8", "--out", "r"]
    assert cli.main(argv) == 130
    assert capsys.readouterr().err.strip() == "autoencoders: interrupted"
    run = _run_json("r")
    assert run["status"] == "interrupted" and run["error"].startswith("KeyboardInterrupt")


def test_run_folder_json_is_written_atomically(monkeypatch: pytest.MonkeyPatch) -> None:
    files = importlib.import_module("autoencoders.runs._files")
    written: list[str] = []
    real = files.atomic_write_bytes
    monkeypatch.setattr(
        files, "atomic_write_bytes", lambda p, b: written.append(Path(p).name) or real(p, b)
    )
    data = from_tensors(torch.rand(32, 1, 28, 28))
    runs.train_run("ae", {"h": 8, "z": 2}, runs.RunSettings(**QUICK), out="r", splits=data)
    assert written == ["run.json", "metrics.json", "run.json"]
    assert not list(Path("r").glob(".*.tmp"))  # no temporary file left behind


# -- experiments -----------------------------------------------------------------------------------
def test_experiment_list(capsys) -> None:
    assert cli.main(["experiment", "list"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == runs.experiment_table().strip()
    for name in runs.experiment_names():
        assert name in out


def test_experiment_run_calls_run_experiment(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """The options reach :func:`runs.run_experiment`; its table and folder are printed."""
    seen: dict = {}

    def fake(name, out=None, **options):
        seen.update(name=name, out=out, **options)
        folder = Path(out)
        folder.mkdir()
        table = "| run | test MSE |\n|---|---|\n| a | 0.1 |"
        (folder / "comparison.md").write_text(
            f"# Dense AE\n\nSome words.\n\n{table}\n\n![f](f.png)\n"
        )
        return SimpleNamespace(
            dir=folder, rows=[{}], runs={"a": None}, figures=[(folder, "f")], seconds=3.0
        )

    monkeypatch.setattr(runs, "run_experiment", fake)
    argv = ["-q", "experiment", "run", "dense-ae", "--out", "E", "--quick", "--epochs", "2"]
    argv += ["--limit", "50", "--data", "mnist", "--data-root", "d", "--device", "cpu"]
    assert cli.main([*argv, "--seed", "4", "--overwrite", "--no-progress"]) == 0
    command = "autoencoders " + " ".join(argv[:]) + " --seed 4 --overwrite --no-progress"
    assert seen == {
        "name": "dense-ae", "out": "E", "quick": True, "epochs": 2, "limit": 50, "data": "mnist",
        "data_root": "d", "device": "cpu", "seed": 4, "progress": False, "overwrite": True,
        "resume": False, "command": command,
    }  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["| run | test MSE |", "|---|---|", "| a | 0.1 |"]
    assert out[3] == "experiment folder: E  (1 runs; comparison.md, comparison.csv, 1 figure; 3 s)"
    seen.clear()
    assert cli.main(["-q", "experiment", "run", "dense-ae", "--out", "R", "--resume"]) == 0
    assert seen["resume"] is True and seen["overwrite"] is False


def test_unknown_experiment_is_one_line(capsys) -> None:
    line = _error_line(capsys, ["experiment", "run", "dense-as", "--out", "E"])
    assert "did you mean 'dense-ae'" in line
    assert not Path("E").exists()


@pytest.mark.slow
def test_experiment_run_end_to_end(image_folder: Path, capsys) -> None:
    argv = ["-q", "experiment", "run", "dense-ae", "--quick", "--epochs", "1", "--limit", "16"]
    assert cli.main([*argv, "--data", str(image_folder), "--device", "cpu", "--out", "E"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("| ") and out[1].startswith("|---")
    configs = runs.get_experiment("dense-ae").configs(True)
    assert len([line for line in out if line.startswith("| ")]) == 1 + len(configs)
    assert out[-1].startswith(f"experiment folder: E  ({len(configs)} runs; comparison.md")
    assert json.loads(Path("E/experiment.json").read_text())["experiment"] == "dense-ae"
    assert (Path("E") / "comparison.csv").is_file()
    folders = [p.parent for p in Path("E").glob("*/run.json")]
    assert len(folders) == len(configs)
    assert all(_run_json(f)["status"] == "done" for f in folders)
