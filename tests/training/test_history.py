"""History: records, columns, best, JSON and CSV."""

from __future__ import annotations

import csv
import json
import math

import pytest

from autoencoders.training import History

RECORDS = [
    {"epoch": 1, "train_loss": 3.0, "val_loss": 2.5, "lr": 0.1},
    {"epoch": 2, "train_loss": 2.0, "val_loss": 2.2, "lr": 0.1},
    {"epoch": 3, "train_loss": 1.0, "val_loss": math.nan, "lr": 0.01, "skipped_steps": 1},
]


def test_columns_and_records() -> None:
    h = History(RECORDS)
    assert len(h) == 3
    assert h["train_loss"] == [3.0, 2.0, 1.0]
    assert h["skipped_steps"] == [None, None, 1]
    assert h[1]["epoch"] == 2
    assert h.keys == ["epoch", "train_loss", "val_loss", "lr", "skipped_steps"]
    with pytest.raises(KeyError, match="no record has 'nope'"):
        h["nope"]
    copied = h.to_dicts()
    copied[0]["epoch"] = 99
    assert h[0]["epoch"] == 1


def test_best_skips_nan_and_follows_mode() -> None:
    h = History(RECORDS)
    assert h.best()["epoch"] == 2  # val_loss by default; the NaN epoch is ignored
    assert h.best("train_loss")["epoch"] == 3
    assert h.best("train_loss", mode="max")["epoch"] == 1
    assert History([{"epoch": 1, "train_loss": 1.0}]).best()["epoch"] == 1
    with pytest.raises(ValueError, match="mode must be"):
        h.best(mode="lowest")
    with pytest.raises(ValueError, match="no record has a finite 'kl'"):
        h.best("kl")


def test_json_and_csv_files(tmp_path) -> None:
    h = History(RECORDS)
    h.to_json(tmp_path / "h.json")
    assert json.loads((tmp_path / "h.json").read_text())[0] == RECORDS[0]
    again = History.from_json(tmp_path / "h.json")
    assert again.records[:2] == RECORDS[:2] and math.isnan(again[2]["val_loss"])
    assert History.from_json(json.dumps({"records": RECORDS[:1]})).records == RECORDS[:1]
    with pytest.raises(ValueError, match="list of per-epoch records"):
        History.from_json("[1, 2]")
    h.to_csv(tmp_path / "h.csv")
    rows = list(csv.DictReader((tmp_path / "h.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["skipped_steps"] == "" and rows[2]["skipped_steps"] == "1"
