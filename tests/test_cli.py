"""Tests for the ``autoencoders`` command line (the run-folder API itself: test_runs.py; the
report: test_report.py).

The end-to-end runs use tiny models (``--set h=16 --set z=2``), one epoch and a data subset
(``--limit``) so the whole file stays quick on two CPU cores.
"""

from __future__ import annotations

import csv
import importlib
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import autoencoders
from autoencoders import cli, data, runs
from autoencoders.training import Trainer

pytest.importorskip("matplotlib")

FASHION = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not (FASHION / "train-images-idx3-ubyte.gz").is_file(),
    reason="Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)",
)

RUN_FILES = {
    "run.json",
    "config.json",
    "model.safetensors",
    "history.json",
    "history.csv",
    "metrics.json",
    "report.md",
    "loss_curves.png",
    "reconstructions.png",
    "interpolation.png",
    "latent_space.png",
    "filters.png",
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test in a scratch folder, so a default ``runs/`` never lands in the repo."""
    monkeypatch.chdir(tmp_path)


def _error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run ``autoencoders -q ARGV``: exit status 2 and exactly one line on stderr."""
    code = cli.main(["-q", *argv])
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("autoencoders: error: ")
    assert "Traceback" not in captured.err
    return lines[0]


# -- argument values ---------------------------------------------------------------------------
def test_parse_set() -> None:
    got = cli.parse_set(["z=20", "hidden=[400,100]", "noise=gaussian", "clip=null", "s=a=b"])
    assert got == {"z": 20, "hidden": [400, 100], "noise": "gaussian", "clip": None, "s": "a=b"}


@pytest.mark.parametrize("item", ["z", "=3", "1z=3", "z x=3"])
def test_parse_set_errors(item: str) -> None:
    with pytest.raises(cli.CLIError, match="key=value"):
        cli.parse_set([item])
    with pytest.raises(cli.CLIError, match="twice"):
        cli.parse_set(["z=1", "z=2"])


def test_parse_grid() -> None:
    grid = cli.parse_grid(["h=400,300", "z=5", "hidden=[400],[400,100]", "act=relu,sigmoid"])
    assert grid == {
        "h": [400, 300],
        "z": [5],
        "hidden": [[400], [400, 100]],
        "act": ["relu", "sigmoid"],
    }


@pytest.mark.parametrize(
    ("item", "match"),
    [("h", "key=value"), ("h=", "empty"), ("h=1,,2", "empty"), ("h=[1,2", "unbalanced")],
)
def test_parse_grid_errors(item: str, match: str) -> None:
    with pytest.raises(cli.CLIError, match=match):
        cli.parse_grid([item])


# -- list ----------------------------------------------------------------------------------------
def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["name", "kind", "input", "z", "parameters", "aliases"]
    rows = {line.split()[0]: line for line in out[1:]}
    assert sorted(rows) == autoencoders.list_models()
    for name, line in rows.items():
        params = autoencoders.build(name).num_parameters()
        assert f"{params:,}" in line.split()
    assert "dense_vae, mlp_vae" in rows["vae"]
    assert rows["vae"].split()[1] == "VAE" and rows["dae"].split()[1] == "DAE"
    # aligned: the parameter column ends at the same place on every line
    ends = {
        line.index(f"{autoencoders.build(n).num_parameters():,}")
        + len(f"{autoencoders.build(n).num_parameters():,}")
        for n, line in rows.items()
    }
    assert len(ends) == 1


DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_docs_show_what_list_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """cli.rst's ``autoencoders list`` block and quickstart.rst's ``list_models()`` comment are
    what the registry gives today (a new model updates them, or this fails)."""
    assert cli.main(["list"]) == 0
    printed = capsys.readouterr().out.splitlines()
    lines = (DOCS / "cli.rst").read_text(encoding="utf-8").splitlines()
    start = lines.index("    $ autoencoders list") + 1
    shown = list(itertools.takewhile(bool, lines[start:]))
    assert [line.removeprefix("    ") for line in shown] == printed
    quickstart = (DOCS / "quickstart.rst").read_text(encoding="utf-8").splitlines()
    start = quickstart.index("    print(autoencoders.list_models())") + 1
    comment = itertools.takewhile(lambda line: line.startswith("    # "), quickstart[start:])
    assert " ".join(line.removeprefix("    # ") for line in comment) == str(
        autoencoders.list_models()
    )


def test_list_pattern(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["list", "*vae"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert names == ["beta_vae", "conv_vae", "cvae", "vae", "vq_vae"]


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["train", "vea"], "unknown model 'vea'; did you mean 'vae'?"),
        (["train", "vae", "--set", "hh=3"], "unexpected keyword argument 'hh'; did you mean 'h'?"),
        (["train", "vae", "--set", "z"], "--set expects key=value"),
        (["train", "vae", "--set", "z=-1"], "z"),
        (["train", "ae", "--set", "noise=gausian"], "did you mean 'gaussian'"),
        (["train", "vae", "--set", "noise=gaussian", "--set", "p=0.1"], "'p'"),
        (["train", "vae", "--epochs", "0"], "--epochs"),
        (["train", "vae", "--amp", "fp8"], "--amp"),
        (["train"], "model"),
        (["trian", "vae"], "invalid choice: 'trian'"),
        (["sweep", "vae"], "--grid"),
        (["sweep", "vae", "--grid", "h"], "--grid expects key=value"),
        (["sweep", "vae", "--grid", "h=400,,300"], "empty value"),
        (["sweep", "vae", "--grid", "h=400", "--set", "h=300"], "both in --set and --grid"),
        (["sweep", "vae", "--grid", "hh=1,2"], "unexpected keyword argument 'hh'"),
        (["evaluate", "/nonexistent/run"], "not a run folder"),
        (["train", "vae", "--optimizer", "adma"], "unknown optimizer 'adma'; did you mean 'adam'?"),
        (["sweep", "vae", "--grid", "z=2,3", "--optimizer", "adma"], "did you mean 'adam'?"),
        (["train", "vae", "--scheduler", "cosin"], "unknown scheduler 'cosin'; did you mean"),
        (["train", "vae", "--optimizer-arg", "momentum"], "--optimizer-arg expects key=value"),
        (["train", "vae", "--scheduler-arg", "x=1"], "without a scheduler"),
        (
            ["train", "vae", "--optimizer", "sgd", "--optimizer-arg", "momentom=0.9"],
            "unexpected keyword argument 'momentom'; did you mean 'momentum'?",
        ),
    ],
)
def test_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    assert expected in _error_line(capsys, argv)


def test_out_already_holds_a_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text("{}")
    line = _error_line(capsys, ["train", "vae", "--out", str(tmp_path)])
    assert "--overwrite" in line


def _check_unknown_model(command: list[str]) -> None:
    """``COMMAND train vea`` in a subprocess: status 2, one line on stderr, no traceback."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    res = subprocess.run([*command, "train", "vea"], capture_output=True, text=True, env=env)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("autoencoders: error: unknown model 'vea'")
    assert "did you mean 'vae'" in lines[0]
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_python_m_autoencoders() -> None:
    _check_unknown_model([sys.executable, "-m", "autoencoders"])


def test_console_script() -> None:
    """The installed ``autoencoders`` script (the one of this interpreter's environment)."""
    script = Path(sys.executable).with_name("autoencoders")
    if not script.is_file():
        pytest.skip(f"the console script is not installed next to {sys.executable}")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    version = subprocess.Popen(  # runs while the unknown-model check below runs
        [str(script), "--version"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        _check_unknown_model([str(script)])
        out, err = version.communicate(timeout=300)
    finally:
        if version.poll() is None:
            version.kill()
    assert version.returncode == 0, err
    assert out.strip() == f"autoencoders {autoencoders.__version__}"


def test_traceback_flag() -> None:
    with pytest.raises(autoencoders.UnknownNameError):
        cli.main(["--traceback", "train", "vea"])


# -- end to end ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny labelled image folder: two classes of 28x28 greyscale PNGs (bright top / bottom)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    gen = torch.Generator().manual_seed(0)
    for label, name in enumerate(["top", "bottom"]):
        (root / name).mkdir()
        for i in range(40):
            img = torch.rand(28, 28, generator=gen) * 60
            rows = slice(0, 14) if label == 0 else slice(14, 28)
            img[rows] += 150
            Image.fromarray(img.clamp(0, 255).to(torch.uint8).numpy(), mode="L").save(
                root / name / f"{i:02d}.png"
            )
    return root


TINY = ["--set", "h=16", "--set", "z=2", "--epochs", "1", "--batch-size", "16", "--no-progress"]


@pytest.fixture(scope="module")
def vae_run(image_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "vae"
    code = cli.main(["-q", "train", "vae", "--data", str(image_folder), *TINY, "--out", str(out)])
    assert code == 0
    return out


def test_train_writes_every_file(vae_run: Path) -> None:
    files = {p.name for p in vae_run.iterdir()}
    assert files >= RUN_FILES | {"samples.png"}
    assert "noise_levels.png" not in files  # not a denoising model
    for png in vae_run.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000
    metrics = json.loads((vae_run / "metrics.json").read_text())
    for key in ("test_mse", "test_psnr", "test_elbo", "test_nll", "pca_mse", "probe_accuracy"):
        assert math.isfinite(metrics[key]), key
    run = json.loads((vae_run / "run.json").read_text())
    assert run["status"] == "done" and run["model_kwargs"] == {"h": 16, "z": 2}
    assert run["data"]["class_names"] == ["bottom", "top"]
    assert run["training"]["device"] == "cpu"
    history = json.loads((vae_run / "history.json").read_text())
    assert len(history) == 1 and math.isfinite(history[0]["val_loss"])
    assert (vae_run / "history.csv").read_text().startswith("epoch,")
    text = (vae_run / "report.md").read_text()
    for png in sorted(vae_run.glob("*.png")):
        assert f"]({png.name})" in text
    assert "| test MSE per pixel |" in text
    model = autoencoders.load(vae_run)
    assert model.num_parameters() == autoencoders.build("vae", h=16, z=2).num_parameters()


def test_evaluate_recomputes_metrics(
    vae_run: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    before = json.loads((vae_run / "metrics.json").read_text())
    (vae_run / "metrics.json").unlink()
    assert cli.main(["-q", "evaluate", str(vae_run), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    after = json.loads((vae_run / "metrics.json").read_text())
    assert after == pytest.approx(before)
    assert "test MSE per pixel" in out


def test_python_api_writes_the_same_folder(
    vae_run: Path, image_folder: Path, tmp_path: Path
) -> None:
    """``runs.train_run`` from Python writes the folder ``autoencoders train`` writes."""
    settings = runs.RunSettings(data=str(image_folder), epochs=1, batch_size=16, progress=False)
    result = runs.train_run("vae", {"h": 16, "z": 2}, settings, out=tmp_path / "api")
    assert {p.name for p in result.dir.iterdir()} == {p.name for p in vae_run.iterdir()}
    api, shell = (json.loads((d / "run.json").read_text()) for d in (result.dir, vae_run))
    assert api.keys() == shell.keys()
    assert api["command"] is None and shell["command"].startswith("autoencoders -q train vae ")
    for key in ("model_kwargs", "model_arguments", "num_parameters", "data", "training"):
        assert api[key] == shell[key], key
    assert api["best_val_loss"] == pytest.approx(shell["best_val_loss"], rel=1e-5)
    assert result.best_val_loss == api["best_val_loss"] and result.best_epoch == 1
    assert result["metrics"] == json.loads((result.dir / "metrics.json").read_text())


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


def test_optimizer_options_reach_the_trainer(
    image_folder: Path, tmp_path: Path, trainers: list[Trainer]
) -> None:
    out = tmp_path / "sgd"
    argv = ["-q", "train", "ae", "--data", str(image_folder), *TINY, "--no-plots", "--out"]
    argv += [str(out), "--optimizer", "sgd", "--optimizer-arg", "momentum=0.9", "--lr", "0.05"]
    assert cli.main(argv) == 0
    (trainer,) = trainers
    assert type(trainer.optimizer) is torch.optim.SGD
    group = trainer.optimizer.param_groups[0]
    assert group["momentum"] == 0.9 and group["lr"] == 0.05
    training = json.loads((out / "run.json").read_text())["training"]
    assert training["optimizer"] == "sgd" and training["optimizer_kwargs"] == {"momentum": 0.9}
    assert training["scheduler"] is None and training["lr"] == 0.05
    assert 'optimizer=sgd, optimizer_kwargs={"momentum": 0.9}' in (out / "report.md").read_text()


def test_scheduler_option(image_folder: Path, tmp_path: Path, trainers: list[Trainer]) -> None:
    out = tmp_path / "cosine"
    argv = ["-q", "train", "ae", "--data", str(image_folder), *TINY, "--epochs", "3"]
    assert cli.main([*argv, "--no-plots", "--scheduler", "cosine", "--out", str(out)]) == 0
    assert trainers[0].scheduler is not None
    lrs = [r["lr"] for r in json.loads((out / "history.json").read_text())]
    assert len(lrs) == 3 and lrs[0] == pytest.approx(1e-3)
    assert all(a > b for a, b in itertools.pairwise(lrs)), lrs
    training = json.loads((out / "run.json").read_text())["training"]
    assert training["scheduler"] == "cosine" and training["scheduler_kwargs"] == {}


def test_train_denoising_model(image_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "dae"
    argv = ["train", "ae", "--data", str(image_folder), *TINY, "--set", "noise=gaussian"]
    assert cli.main(["-q", *argv, "--set", "noise_factor=0.3", "--out", str(out)]) == 0
    files = {p.name for p in out.iterdir()}
    assert files >= RUN_FILES | {"noise_levels.png"}
    assert "samples.png" not in files
    assert "test_elbo" not in json.loads((out / "metrics.json").read_text())
    assert autoencoders.load(out).noise.noise_factor == 0.3


def test_missing_data_is_one_line(capsys: pytest.CaptureFixture[str], isolated: Path) -> None:
    """Nothing on disk and no download: one line naming every folder searched and how to get
    the data, in the program's own options (not the Python arguments root= / download=True)."""
    root = isolated / "root"
    argv = ["train", "vae", "--data", "mnist", "--data-root", str(root), "--out", "x"]
    line = _error_line(capsys, argv)
    assert line.startswith("autoencoders: error: dataset 'mnist' not found: no IDX files (")
    searched = data.search_dirs("mnist", root)
    assert searched == [
        root,
        root / "mnist",
        root / "MNIST" / "raw",
        isolated / "xdg" / "autoencoders" / "mnist",
        isolated / "xdg" / "autoencoders" / "MNIST" / "raw",
        isolated / "debian" / "mnist",
    ]
    assert " in any of: " + ", ".join(map(str, searched)) + ". To get it: " in line
    assert "put the files in one of those folders, in the folder given by --data-root DIR" in line
    assert f"<dir>/mnist/ for a <dir> listed in the environment variable {data.ENV_VAR}" in line
    assert "pass --download (or set AUTOENCODERS_DOWNLOAD=1)" in line
    assert "root=" not in line and "download=True" not in line
    assert not (isolated / "x").exists()


def test_missing_fashion_mnist_suggests_apt(
    capsys: pytest.CaptureFixture[str], isolated: Path
) -> None:
    line = _error_line(capsys, ["train", "vae", "--out", "x"])  # the default --data
    assert "dataset 'fashion-mnist' not found" in line
    assert str(isolated / "debian" / "fashion-mnist") in line
    assert "run `apt-get install dataset-fashion-mnist`; or put the files" in line


def test_failed_download_is_one_line(
    capsys: pytest.CaptureFixture[str], isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--download that fails: the reason, and how to get the files by hand; not --download."""
    import torchvision.datasets

    class NoGdown:
        def __init__(self, *args, **kwargs) -> None:
            raise RuntimeError("Downloading CelebA needs gdown.\nInstall it with pip.")

    monkeypatch.setattr(torchvision.datasets, "CelebA", NoGdown)
    argv = ["train", "vae", "--data", "celeba", "--download", "--out", "x"]
    line = _error_line(capsys, argv)
    cache = isolated / "xdg" / "autoencoders"
    assert line.startswith(
        "autoencoders: error: dataset 'celeba' was not found locally (no 'img_align_celeba/' "
        f"folder with 'list_eval_partition.txt' in any of: {cache / 'celeba'}) and torchvision "
        f"could not download it into {cache}: Downloading CelebA needs gdown. Install it with pip."
    )
    assert "To get it: download img_align_celeba.zip and list_eval_partition.txt" in line
    assert "--data-root DIR" in line and "--download" not in line
    assert not (isolated / "x").exists()


def test_error_after_progress_logs(capsys: pytest.CaptureFixture[str], isolated: Path) -> None:
    """Without -q the progress log comes first; the error is still one line, the last."""
    code = cli.main(["train", "vae", "--data", "mnist", "--limit", "4"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[0].startswith("loading mnist")
    assert err[-1].startswith("autoencoders: error: dataset 'mnist' not found")
    assert sum("error" in line for line in err) == 1


def test_unknown_dataset_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert "did you mean 'fashion-mnist'" in _error_line(
        capsys, ["train", "vae", "--data", "fashon-mnist"]
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("tensors", "dataset 'tensors' needs x=... (arrays or tensors in memory, see "),
        ("folder", "dataset 'folder' needs path=<folder of images>; name it 'folder:<path>' "),
        ("image-folder", "dataset 'folder' needs path=<folder of images>;"),
    ],
)
def test_dataset_that_needs_arguments_is_one_line(
    capsys: pytest.CaptureFixture[str], data: str, expected: str
) -> None:
    """Not Python's "missing 1 required positional argument" (the cwd has no such folder)."""
    line = _error_line(capsys, ["train", "vae", "--data", data, "--out", "x"])
    assert line.startswith("autoencoders: error: " + expected)
    assert ("cannot be named on the command line" in line) == (data == "tensors")
    assert ("--data folder:<path>" in line) == (data != "tensors")
    assert not Path("x").exists()


def test_data_help_lists_the_registered_datasets(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "a dataset (celeba, fashion-mnist, folder:<path>, mnist, synthetic-faces, or a plugin's"
        in text
    )
    assert "tensors" not in text


def test_image_files_are_read_at_the_models_size_and_channels(
    image_folder: Path, tmp_path: Path
) -> None:
    """The folder holds 28x28 greyscale PNGs; the face VAE takes 3x64x64 in [-1, 1]."""
    out = tmp_path / "faces"
    argv = ["-q", "train", "conv_vae", "--data", str(image_folder), "--set", "filters=[4,8,8]"]
    argv += ["--set", "z=4", "--epochs", "1", "--limit", "8", "--batch-size", "4"]
    assert cli.main([*argv, "--no-progress", "--no-plots", "--out", str(out)]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["data"]["input_shape"] == [3, 64, 64]
    assert run["data"]["pixel_range"] == [-1.0, 1.0]
    assert run["data"]["sizes"] == {"train": 8, "val": 8, "test": 8}
    assert math.isfinite(json.loads((out / "metrics.json").read_text())["test_mse"])
    # (a folder of RGB images read as greyscale for a 1-channel model: test_runs.py)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["conv_ae", "--set", "input_shape=[4,28,28]"],
            "model expects 4-channel images (input shape (4, 28, 28)) but image files are read "
            "with 1 (greyscale) or 3 (RGB) channels; pass --set input_shape=[1,28,28] or "
            "[3,28,28] if the model takes it",
        ),
        (
            ["vae", "--set", "input_shape=[100]"],
            "model expects inputs of shape (100,) but '{folder}' has (1, 28, 28); pass --set "
            "input_shape=[1,28,28] if the model takes it, or pick another --data",
        ),
    ],
)
def test_shape_that_cannot_be_adapted_is_one_line(
    capsys: pytest.CaptureFixture[str], image_folder: Path, argv: list[str], expected: str
) -> None:
    line = _error_line(capsys, ["train", *argv, "--data", str(image_folder), "--limit", "4"])
    assert line == "autoencoders: error: " + expected.format(folder=image_folder)


def _check_sweep(folder: Path, grid: dict[str, list[int]], rows: int) -> None:
    table = list(csv.DictReader((folder / "comparison.csv").open()))
    assert len(table) == rows
    expected_cols = ["run", *grid, "params", "best_val_loss", "test_mse", "test_psnr", "test_elbo"]
    assert list(table[0])[: len(expected_cols)] == expected_cols
    seen = set()
    for row in table:
        kwargs = {k: int(row[k]) for k in grid}
        seen.add(tuple(kwargs.values()))
        assert int(row["params"]) == autoencoders.build("vae", **kwargs).num_parameters()
        for col in ("best_val_loss", "test_mse", "test_psnr", "test_elbo"):
            assert math.isfinite(float(row[col])), (row["run"], col)
        assert (folder / row["run"] / "model.safetensors").is_file()
    assert len(seen) == rows
    md = (folder / "comparison.md").read_text()
    assert md.count("\n| ") == rows + 1  # header + one line per run
    assert (folder / "loss_curves.png").stat().st_size > 2000


def test_sweep(image_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep"
    argv = ["-q", "sweep", "vae", "--grid", "h=8,16", "--grid", "z=2,3", "--data"]
    argv += [str(image_folder), "--epochs", "1", "--batch-size", "16", "--no-progress"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    _check_sweep(out, {"h": [8, 16], "z": [2, 3]}, 4)
    printed = capsys.readouterr().out
    assert "h=16_z=3" in printed and "4 runs" in printed


@pytest.mark.realdata
@needs_fashion
def test_sweep_fashion_mnist_subset(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    argv = ["-q", "sweep", "vae", "--grid", "h=16,32", "--grid", "z=2", "--limit", "300"]
    argv += ["--epochs", "1", "--no-progress", "--no-plots", "--out", str(out)]
    assert cli.main(argv) == 0
    table = list(csv.DictReader((out / "comparison.csv").open()))
    assert [r["run"] for r in table] == ["h=16_z=2", "h=32_z=2"]
    for row in table:
        assert math.isfinite(float(row["test_mse"])) and float(row["test_mse"]) < 0.2


@pytest.mark.realdata
@needs_fashion
def test_train_fashion_mnist_subset(tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["-q", "train", "vae", *TINY, "--limit", "500", "--out", str(out)]
    assert cli.main(argv) == 0
    assert {p.name for p in out.iterdir()} >= RUN_FILES | {"samples.png"}
    run = json.loads((out / "run.json").read_text())
    assert run["data"]["name"] == "fashion-mnist"
    assert run["data"]["sizes"] == {"train": 500, "val": 500, "test": 500}
    assert "Ankle boot" in run["data"]["class_names"]


@pytest.mark.realdata
@needs_fashion
@pytest.mark.parametrize("name", ["cvae", "vq_vae"])
def test_families_train_from_the_cli(name: str, tmp_path: Path) -> None:
    """A family trains from the command line like any model (the CVAE on the labels the
    loader gives), with its metrics and figures."""
    out = tmp_path / name
    argv = ["-q", "train", name, "--set", "h=16", "--set", "z=4", "--epochs", "1"]
    argv += ["--batch-size", "64", "--limit", "300", "--out", str(out)]
    if name == "vq_vae":
        argv += ["--set", "codebook_size=16", "--set", "code_dim=2"]
    assert cli.main(argv) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "done" and run["model"] == name
    metrics = json.loads((out / "metrics.json").read_text())
    assert math.isfinite(metrics["test_mse"])
    if name == "cvae":
        assert (out / "samples.png").is_file() and math.isfinite(metrics["test_nll"])


@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="no SIGTERM")
def test_sigterm_ends_a_run_as_interrupted(
    capsys: pytest.CaptureFixture[str], image_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kill``/``timeout``/a scheduler's SIGTERM during training: exit 143, one line, and
    the run folder records ``interrupted`` (not ``training`` forever); the handler is undone."""
    from autoencoders.training import Trainer

    def killed(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        raise AssertionError("SIGTERM was not turned into an exception")

    monkeypatch.setattr(Trainer, "fit", killed)
    before = signal.getsignal(signal.SIGTERM)
    out = Path("run")
    argv = ["-q", "train", "ae", *TINY, "--data", str(image_folder), "--out", str(out)]
    assert cli.main(argv) == 143
    assert capsys.readouterr().err.strip() == "autoencoders: terminated"
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "interrupted" and run["error"].startswith("Terminated")
    assert signal.getsignal(signal.SIGTERM) == before


def test_list_says_when_nothing_matches(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["list", "vea*"]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == ["name", "kind", "input", "z", "parameters", "aliases"]
    assert "no model matches 'vea*'" in captured.err
    assert cli.main(["list", "vae"]) == 0
    assert capsys.readouterr().err == ""
