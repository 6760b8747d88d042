"""Tests for :mod:`autoencoders.report`: it formats what it is given (tables, report.md, figures)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

import autoencoders
from autoencoders import report

pytest.importorskip("matplotlib")


def test_write_comparison(tmp_path: Path) -> None:
    rows = [
        {"run": "z=5", "z": 5, "params": 1000, "test_mse": 0.1, "test_elbo": None},
        {"run": "z=10", "z": 10, "params": 2000, "test_mse": 0.05, "test_elbo": None},
    ]
    rows[0]["test_elbo"] = -90.5  # a column empty in some rows stays (None in every row: dropped)
    md, csv_path = report.write_comparison(rows, tmp_path, title="t")
    table = list(csv.DictReader(csv_path.open()))
    assert [r["run"] for r in table] == ["z=5", "z=10"]
    assert table[0]["test_elbo"] == "-90.5" and table[1]["test_elbo"] == ""
    text = md.read_text()
    assert "| run | z | parameters | test MSE/pixel | test ELBO (nats) |" in text
    assert "| z=10 | 10 | 2,000 | 0.05 | — |" in text
    with pytest.raises(ValueError, match="no runs"):
        report.write_comparison([], tmp_path)


def test_write_comparison_drops_columns_empty_in_every_row(tmp_path: Path) -> None:
    rows = [
        {"run": "a", "test_mse": 0.1, "denoising_mse": None, "denoising_psnr": None},
        {"run": "b", "test_mse": 0.2, "denoising_mse": None, "denoising_psnr": None, "x": None},
    ]
    md, csv_path = report.write_comparison(rows, tmp_path)
    assert csv_path.read_text().splitlines()[0] == "run,test_mse"
    assert "| run | test MSE/pixel |" in md.read_text() and "denoising" not in md.read_text()
    rows[1]["denoising_mse"], rows[1]["denoising_psnr"] = 0.03, 15.2
    md, csv_path = report.write_comparison(rows, tmp_path)
    assert csv_path.read_text().splitlines()[:2] == [
        "run,test_mse,denoising_mse,denoising_psnr",
        "a,0.1,,",
    ]
    assert "| run | test MSE/pixel | denoising MSE | denoising PSNR (dB) |" in md.read_text()
    assert "| a | 0.1 | — | — |" in md.read_text()
    # both files written atomically: no temporary file is left beside them
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comparison.csv", "comparison.md"]


def test_write_comparison_writes_atomically(tmp_path: Path, monkeypatch) -> None:
    """A failure while writing leaves the previous files whole."""
    rows = [{"run": "a", "test_mse": 0.1}]
    md, csv_path = report.write_comparison(rows, tmp_path)
    before = md.read_text(), csv_path.read_text()

    def broken(path, data):
        raise OSError("disk full")

    monkeypatch.setattr(report, "atomic_write_bytes", broken)
    with pytest.raises(OSError, match="disk full"):
        report.write_comparison([{"run": "b", "test_mse": 0.2}], tmp_path)
    assert (md.read_text(), csv_path.read_text()) == before


def test_report_shows_the_denoising_metrics(tmp_path: Path) -> None:
    metrics = {"test_mse": 0.01, "denoising_mse": 0.025, "denoising_psnr": 16.02}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    text = report.write_report(tmp_path).read_text()
    assert "| denoising MSE | 0.025 |" in text
    assert "| denoising PSNR (dB) | 16.02 |" in text
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_write_report_partial_folder(tmp_path: Path) -> None:
    (tmp_path / "history.json").write_text(
        json.dumps(
            [{"epoch": 1, "train_loss": 3.0, "val_loss": 2.0}, {"epoch": 2, "val_loss": 1.5}]
        )
    )
    text = report.write_report(tmp_path).read_text()
    assert "**Best validation loss**: 1.5 at epoch 2 of 2" in text
    assert "## Test metrics" not in text


@pytest.mark.parametrize(
    ("records", "line"),
    [
        # the best epoch is History's: the first of equal minima, NaN epochs skipped
        (
            [
                {"epoch": 1, "val_loss": 2.0},
                {"epoch": 2, "val_loss": float("nan")},
                {"epoch": 3, "val_loss": 1.0},
                {"epoch": 4, "val_loss": 1.0},
            ],
            "**Best validation loss**: 1 at epoch 3 of 4",
        ),
        # nested records as the History accepts them
        ([{"epoch": 1, "val": {"loss": 0.5}}], "**Best validation loss**: 0.5 at epoch 1 of 1"),
        # no validation: the final training loss
        ([{"train_loss": 3.0}, {"train_loss": 2.5}], "**Final training loss**: 2.5"),
        # no finite validation loss either
        ([{"train_loss": 3.0, "val_loss": float("nan")}], "**Final training loss**: 3"),
    ],
)
def test_report_best_epoch_is_the_historys(tmp_path: Path, records: list, line: str) -> None:
    (tmp_path / "history.json").write_text(json.dumps(records))
    assert f"- {line}\n" in report.write_report(tmp_path).read_text()


def test_report_survives_a_bad_history(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "history.json").write_text("{not json")
    text = report.write_report(tmp_path).read_text()
    assert "Best validation loss" not in text and "cannot read" in caplog.text


def test_report_training_settings_as_json(tmp_path: Path) -> None:
    run = {"training": {"optimizer": "sgd", "optimizer_kwargs": {"momentum": 0.9}, "lr": 0.1}}
    (tmp_path / "run.json").write_text(json.dumps(run))
    text = report.write_report(tmp_path).read_text()
    assert '- **Training**: optimizer=sgd, optimizer_kwargs={"momentum": 0.9}, lr=0.1\n' in text


def test_report_leaves_out_unset_training_settings(tmp_path: Path) -> None:
    """None and empty settings say nothing; False and 0 do."""
    training = {
        "optimizer": "adam",
        "optimizer_kwargs": {},
        "scheduler": None,
        "scheduler_kwargs": {},
        "amp": None,
        "callbacks": [],
        "compile": False,
        "grad_clip": 0,
    }
    (tmp_path / "run.json").write_text(json.dumps({"training": training}))
    text = report.write_report(tmp_path).read_text()
    assert "- **Training**: optimizer=adam, compile=False, grad_clip=0\n" in text
    (tmp_path / "run.json").write_text(json.dumps({"training": {"amp": None}, "seconds": 1}))
    assert "Training" not in report.write_report(tmp_path).read_text()


def test_flat_metrics() -> None:
    got = report.flat_metrics({"a": 1, "b": {"c": 2, "d": {"e": 3}}})
    assert got == {"a": 1, "b.c": 2, "b.d.e": 3}


def test_write_figures_takes_any_data(tmp_path: Path) -> None:
    """A DataLoader works like a TensorDataset; the noise preview uses the model's range."""
    model = autoencoders.build("ae", h=8, z=2, noise="gaussian", output_activation="tanh")
    x = torch.rand(12, 1, 28, 28) * 2 - 1
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, torch.arange(12) % 3), batch_size=5
    )
    written = {p.name for p in report.write_figures(model, loader, tmp_path, n=4)}
    assert {"reconstructions.png", "latent_space.png", "noise_levels.png"} <= written
    assert "samples.png" not in written  # not variational


def test_figures_are_written_atomically(tmp_path: Path, monkeypatch) -> None:
    """A PNG is rendered in memory first: a crash while drawing leaves the old file whole."""
    from matplotlib.figure import Figure

    from autoencoders import plots

    model = autoencoders.build("ae", h=8, z=2)
    x = torch.rand(6, 1, 28, 28)
    path = tmp_path / "reconstructions.png"
    plots.plot_reconstructions(model, x, n=3, save=path)
    good = path.read_bytes()
    assert good.startswith(b"\x89PNG")
    real_savefig = Figure.savefig

    def crash_halfway(self, fname, *args, **kwargs):
        real_savefig(self, fname, *args, **kwargs)
        if hasattr(fname, "write"):  # a buffer: what reaches the file is decided later
            fname.write(b"truncated")
        else:  # a path: the file itself is left half-written
            Path(fname).write_bytes(b"\x89PNG truncated")
        raise RuntimeError("killed while saving")

    monkeypatch.setattr(Figure, "savefig", crash_halfway)
    with pytest.raises(RuntimeError, match="killed"):
        plots.plot_reconstructions(model, x, n=3, save=path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["reconstructions.png"]
    monkeypatch.setattr(Figure, "savefig", real_savefig)
    plots.plot_reconstructions(model, x, n=3, save=tmp_path / "no_suffix")
    assert (tmp_path / "no_suffix.png").read_bytes().startswith(b"\x89PNG")
