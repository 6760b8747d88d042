"""Sweeps over lists walked in lockstep (``zipped`` / ``--zip``), noise named in a grid, and
errors that name their sweep point.

Tiny models (h <= 16, z <= 4), one epoch, in-memory data (``from_tensors``) or a folder of 40
small PNGs for the command line, and no figures unless a test is about them.
"""

from __future__ import annotations

import csv
import importlib
import json
import math
import re
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import autoencoders
from autoencoders import cli, runs
from autoencoders.data import from_tensors

QUICK = {"epochs": 1, "batch_size": 16, "progress": False, "plots": False}
CLI_QUICK = ["--epochs", "1", "--batch-size", "16", "--no-progress", "--no-plots"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test in a scratch folder, so a default ``runs/`` never lands in the repo."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def splits() -> autoencoders.data.DataSplits:
    gen = torch.Generator().manual_seed(0)
    return from_tensors(torch.rand(48, 1, 28, 28, generator=gen), torch.arange(48) % 2)


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


def _error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = cli.main(["-q", *argv])
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autoencoders: error: "), captured.err
    return lines[0].removeprefix("autoencoders: error: ")


def _table(folder: Path) -> list[dict[str, str]]:
    with (folder / "comparison.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


# -- grid_points ---------------------------------------------------------------------------------
def test_zipped_lists_are_walked_in_lockstep() -> None:
    points = runs.grid_points(
        {}, {"h": [400, 400, 400, 300, 300, 300], "z": [50, 10, 30, 35, 5, 40]}
    )
    assert [(p["h"], p["z"]) for p in points] == [
        (400, 50), (400, 10), (400, 30), (300, 35), (300, 5), (300, 40),
    ]  # fmt: skip


def test_grid_times_zipped() -> None:
    points = runs.grid_points({"noise": ["gaussian", "masking"]}, {"h": [8, 16], "z": [2, 3]})
    assert points == [
        {"noise": "gaussian", "h": 8, "z": 2},
        {"noise": "gaussian", "h": 16, "z": 3},
        {"noise": "masking", "h": 8, "z": 2},
        {"noise": "masking", "h": 16, "z": 3},
    ]
    assert runs.grid_points({"z": [2, 3]}) == runs.grid_points({"z": [2, 3]}, {})


def test_zipped_lists_of_different_lengths_name_each_key_and_length() -> None:
    with pytest.raises(ValueError, match="same length") as info:
        runs.grid_points({}, {"h": [400, 300, 200], "z": [5, 10], "beta": [1.0]})
    assert "h: 3 values, z: 2 values, beta: 1 value" in str(info.value)


@pytest.mark.parametrize(
    ("grid", "zipped", "match"),
    [
        ({"z": [2]}, {"z": [3]}, "z given both in grid and zipped"),
        ({}, {"z": []}, "zipped 'z' needs a non-empty list"),
        ({}, {"z": "2,3"}, "zipped 'z' needs a non-empty list"),
        ({"h": 8}, {}, "grid 'h' needs a non-empty list"),
    ],
)
def test_grid_points_errors(grid: dict, zipped: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        runs.grid_points(grid, zipped)


@settings(max_examples=40, deadline=None)
@given(
    grid=st.dictionaries(
        st.sampled_from(["a", "b", "c"]), st.lists(st.integers(0, 9), min_size=1, max_size=3)
    ),
    length=st.integers(1, 4),
    zip_keys=st.lists(st.sampled_from(["x", "y"]), unique=True, max_size=2),
)
def test_grid_points_is_the_product_times_the_lockstep_walk(
    grid: dict[str, list[int]], length: int, zip_keys: list[str]
) -> None:
    zipped = {k: [f"{k}{i}" for i in range(length)] for k in zip_keys}
    points = runs.grid_points(grid, zipped)
    walk = length if zipped else 1
    assert len(points) == math.prod(len(v) for v in grid.values()) * walk
    for point in points:
        assert list(point) == [*grid, *zipped]
        assert all(point[k] in grid[k] for k in grid)
        indices = {int(point[k][1:]) for k in zipped}
        assert len(indices) <= 1  # the zipped values of a point share their position
    if zipped:  # every position of the walk appears once per grid combination
        first = zip_keys[0]
        positions = [int(p[first][1:]) for p in points]
        assert positions == list(range(length)) * (len(points) // length)


# -- sweeps from Python --------------------------------------------------------------------------
def test_a_sweep_of_zipped_lists_only(splits) -> None:
    zipped = {"h": [8, 8, 16], "z": [2, 3, 2]}
    result = runs.sweep(
        "vae", None, {}, runs.RunSettings(**QUICK), zipped=zipped, out="s", splits=splits
    )
    assert [row["run"] for row in result.rows] == ["h=8_z=2", "h=8_z=3", "h=16_z=2"]
    table = _table(result.dir)
    assert [(int(r["h"]), int(r["z"])) for r in table] == [(8, 2), (8, 3), (16, 2)]
    for row, run in zip(table, result.runs):
        assert int(row["params"]) == run.num_parameters
        assert (result.dir / row["run"] / "model.safetensors").is_file()
    assert "denoising_mse" not in table[0]  # no noise: the empty columns are left out
    title = (result.dir / "comparison.md").read_text().splitlines()[0]
    assert title == "# Sweep of vae: (h, z) in [(8, 2), (8, 3), (16, 2)]"


def test_a_sweep_needs_a_grid_or_zipped_lists(splits) -> None:
    with pytest.raises(runs.RunError, match="sweep needs a grid") as info:
        runs.sweep("vae", {}, {}, runs.RunSettings(**QUICK), zipped={}, splits=splits)
    assert "--grid key=v1,v2,... or --zip key=v1,v2,..." in info.value.cli_message
    assert not Path("runs").exists()


def test_points_sharing_a_folder_are_an_error(splits) -> None:
    with pytest.raises(runs.RunError, match="would share the run folder 'h=8_z=2'"):
        runs.sweep("vae", {}, {}, runs.RunSettings(**QUICK), zipped={"h": [8, 8], "z": [2, 2]})


def test_sweep_rows_carry_the_denoising_metrics(splits) -> None:
    grid = {"noise": [{"name": "gaussian", "noise_factor": 0.3}, {"name": "masking", "p": 0.3}]}
    result = runs.sweep(
        "ae", grid, {"h": 8, "z": 2}, runs.RunSettings(**QUICK), out="s", splits=splits
    )
    assert [r.dir.name for r in result.runs] == [
        "noise=gaussian-noise-factor-0.3",
        "noise=masking-p-0.3",
    ]
    for row, run in zip(result.rows, result.runs):
        assert row["denoising_mse"] == pytest.approx(run.metrics["denoising_mse"])
        assert row["denoising_psnr"] == pytest.approx(run.metrics["denoising_psnr"])
        assert row["denoising_mse"] > 0 and row["test_elbo"] is None
    table = _table(result.dir)
    assert {"denoising_mse", "denoising_psnr"} <= set(table[0]) and "test_elbo" not in table[0]
    assert autoencoders.load(result.runs[1].dir).noise.p == 0.3


def test_a_training_error_names_its_sweep_point(splits, monkeypatch: pytest.MonkeyPatch) -> None:
    fit = autoencoders.Trainer.fit

    def fit_that_fails_for_z3(self, *args, **kwargs):
        if self.model.z_dim == 3:
            raise RuntimeError("out of memory")
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(autoencoders.Trainer, "fit", fit_that_fails_for_z3)
    with pytest.raises(runs.RunError) as info:
        runs.sweep(
            "vae", {"z": [2, 3]}, {"h": 8}, runs.RunSettings(**QUICK), out="s", splits=splits
        )
    assert str(info.value) == "sweep point z=3: RuntimeError: out of memory"
    assert isinstance(info.value.__cause__, RuntimeError)
    run = json.loads(Path("s/z=3/run.json").read_text())
    assert run["status"] == "failed" and run["error"] == "RuntimeError: out of memory"
    assert json.loads(Path("s/z=2/run.json").read_text())["status"] == "done"
    # the finished run keeps its table, which says it is incomplete and why
    md = Path("s/comparison.md").read_text()
    assert md.startswith("# Sweep of vae: z in [2, 3] (incomplete)")
    assert "Incomplete: 1 of 2 runs. Sweep point z=3 failed (RuntimeError)" in md
    csv_rows = Path("s/comparison.csv").read_text().strip().splitlines()
    assert len(csv_rows) == 2 and csv_rows[1].startswith("z=2,")


def test_an_interrupted_sweep_keeps_the_table_of_its_finished_runs(
    splits, monkeypatch: pytest.MonkeyPatch
) -> None:
    fit = autoencoders.Trainer.fit

    def ctrl_c_at_z4(self, *args, **kwargs):
        if self.model.z_dim == 4:
            raise KeyboardInterrupt
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(autoencoders.Trainer, "fit", ctrl_c_at_z4)
    with pytest.raises(KeyboardInterrupt):  # not turned into a RunError
        runs.sweep("ae", {"z": [2, 3, 4, 5]}, {"h": 8}, runs.RunSettings(**QUICK), out="s",
                   splits=splits)  # fmt: skip
    md = Path("s/comparison.md").read_text()
    assert "Incomplete: 2 of 4 runs. Sweep point z=4 was interrupted" in md
    assert [line.split(",")[0] for line in Path("s/comparison.csv").read_text().splitlines()] == [
        "run", "z=2", "z=3"
    ]  # fmt: skip
    assert not Path("s/z=5").exists()


def test_a_data_error_names_its_sweep_point(splits) -> None:
    with pytest.raises(runs.RunError, match=r"^sweep point input_shape=\[784\]: model expects"):
        runs.sweep("vae", {"input_shape": [[1, 28, 28], [784]]}, {"h": 8, "z": 2},
                   runs.RunSettings(**QUICK), out="s", splits=splits)  # fmt: skip
    assert not Path("s").exists()


# -- the command line ----------------------------------------------------------------------------
def test_cli_zip_writes_one_row_per_position(image_folder: Path, capsys) -> None:
    """The issue's six (h, z) VAEs, at tiny sizes: ``--zip h=... --zip z=...``."""
    argv = ["-q", "sweep", "vae", "--zip", "h=8,8,8,6,6,6", "--zip", "z=4,1,3,3,1,4"]
    argv += ["--data", str(image_folder), "--limit", "16", *CLI_QUICK, "--out", "D"]
    assert cli.main(argv) == 0
    table = _table(Path("D"))
    assert len(table) == 6
    assert [(r["h"], r["z"]) for r in table] == [
        ("8", "4"), ("8", "1"), ("8", "3"), ("6", "3"), ("6", "1"), ("6", "4"),
    ]  # fmt: skip
    for row in table:
        params = autoencoders.build("vae", h=int(row["h"]), z=int(row["z"])).num_parameters()
        assert int(row["params"]) == params
        assert math.isfinite(float(row["test_elbo"]))
    assert "6 runs" in capsys.readouterr().out


def test_cli_grid_and_zip_combine(image_folder: Path) -> None:
    argv = ["-q", "sweep", "ae", "--grid", "h=6,8", "--zip", "z=1,2", "--zip"]
    argv += ["activation=relu,sigmoid", "--data", str(image_folder), "--limit", "8"]
    assert cli.main([*argv, *CLI_QUICK, "--out", "D"]) == 0
    runs_done = [r["run"] for r in _table(Path("D"))]
    assert runs_done == [
        "h=6_z=1_activation=relu",
        "h=6_z=2_activation=sigmoid",
        "h=8_z=1_activation=relu",
        "h=8_z=2_activation=sigmoid",
    ]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--zip", "h=8,6,4", "--zip", "z=2,3"],
            "--zip lists must all have the same length (they are walked in lockstep); "
            "got h: 3 values, z: 2 values",
        ),
        (["--zip", "z=2,3", "--grid", "z=4"], "z given both in --grid and --zip; keep one"),
        (["--zip", "z=2,3", "--set", "z=4"], "z given both in --set and --zip; keep one"),
        (["--zip", "z=2,,3"], "--zip 'z=2,,3' has an empty value"),
        (["--zip", "z"], "--zip expects key=value"),
        (["--zip", "z=2", "--zip", "z=3"], "--zip z given twice"),
        ([], "sweep needs at least one --grid key=v1,v2,... or --zip key=v1,v2,..."),
    ],
)
def test_cli_zip_errors(capsys, argv: list[str], expected: str) -> None:
    line = _error_line(capsys, ["sweep", "vae", *argv, "--out", "D"])
    assert line.startswith(expected), line
    assert not Path("D").exists()


def test_noise_named_in_a_grid_that_does_not_take_a_shared_keyword(
    image_folder: Path, capsys
) -> None:
    """``--grid noise=gaussian,masking --set noise_factor=0.3``: masking's strength is ``p``.

    The library maps no keyword of one noise onto another's (a Gaussian standard deviation is
    no masking probability), so the point that cannot be built is named with the keywords its
    noise takes and how to give each noise its own; nothing is trained or written.
    """
    argv = ["sweep", "ae", "--grid", "noise=gaussian,masking", "--set", "noise_factor=0.3"]
    line = _error_line(capsys, [*argv, "--data", str(image_folder), *CLI_QUICK, "--out", "D"])
    assert line.startswith("sweep point noise=masking, noise_factor=0.3: model 'ae' with noise ")
    assert "unexpected keyword argument 'noise_factor'" in line
    assert "p, value (noise transform)" in line
    assert (
        """--grid 'noise={"name":"gaussian","noise_factor":0.3},{"name":"masking","p":0.3}'"""
        in line
    )
    assert not Path("D").exists()
    with pytest.raises(
        runs.RunError, match=r"^sweep point noise=masking, noise_factor=0\.3: "
    ) as info:
        runs.sweep("ae", {"noise": ["gaussian", "masking"]}, {"noise_factor": 0.3})
    assert "give each as a dict, e.g. grid {'noise': [{'name': 'gaussian'" in str(info.value)


def test_noise_named_in_a_grid_works(image_folder: Path) -> None:
    """Noise types by name (each with its default strength) and by dict (with its own)."""
    argv = ["-q", "sweep", "ae", "--set", "h=8", "--set", "z=2", "--data", str(image_folder)]
    argv += ["--limit", "16", *CLI_QUICK]
    assert cli.main([*argv, "--grid", "noise=gaussian,masking", "--out", "A"]) == 0
    assert [r["run"] for r in _table(Path("A"))] == ["noise=gaussian", "noise=masking"]
    grid = 'noise={"name":"gaussian","noise_factor":0.3},{"name":"masking","p":0.3}'
    assert cli.main([*argv, "--grid", grid, "--out", "B"]) == 0
    table = _table(Path("B"))
    assert [json.loads(r["noise"]) for r in table] == [
        {"name": "gaussian", "noise_factor": 0.3},
        {"name": "masking", "p": 0.3},
    ]
    assert all(float(r["denoising_mse"]) > 0 for r in table)
    assert autoencoders.load(Path("B") / table[0]["run"]).noise.noise_factor == 0.3


def test_cli_training_error_names_its_point(
    image_folder: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = importlib.import_module("autoencoders.runs.folder")

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(folder, "evaluate_model", broken)
    argv = ["sweep", "vae", "--zip", "h=8", "--zip", "z=2", "--data", str(image_folder)]
    line = _error_line(capsys, [*argv, "--limit", "8", *CLI_QUICK, "--out", "D"])
    assert line == "sweep point h=8, z=2: RuntimeError: the disk is full"
    assert json.loads(Path("D/h=8_z=2/run.json").read_text())["status"] == "failed"


def test_the_sweep_table_is_written_atomically(splits, monkeypatch: pytest.MonkeyPatch) -> None:
    """comparison.md gains its figure line through one atomic write, not an append."""
    sweep_module = importlib.import_module("autoencoders.runs.sweep")
    written: list[str] = []
    real = sweep_module.atomic_write_bytes
    monkeypatch.setattr(
        sweep_module, "atomic_write_bytes", lambda p, b: written.append(Path(p).name) or real(p, b)
    )
    settings = runs.RunSettings(**{**QUICK, "plots": True})
    result = runs.sweep("ae", {}, {"h": 6}, settings, zipped={"z": [1, 2]}, out="s", splits=splits)
    assert written == ["comparison.md"]
    text = (result.dir / "comparison.md").read_text()
    assert re.search(r"\n!\[loss curves of every run\]\(loss_curves\.png\)\n$", text)
