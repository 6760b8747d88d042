"""Bad checkpoints and resume traps: a checkpoint is used whole or passed over with a warning
naming it, a checkpoint of another model is refused, cleanup leftovers never count, and an
optimizer setting changed on resume is used (never silently replaced by the checkpoint's)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

import autoencoders
from autoencoders.errors import (
    CheckpointError,
    IgnoredCheckpointWarning,
    NonFiniteLossError,
    ResumeError,
)
from autoencoders.training import Trainer, find_latest
from autoencoders.training.checkpoint import (
    LATEST,
    MODEL_FILE,
    STATE_FILE,
    delete_checkpoint,
    list_checkpoints,
)

SHAPE = (1, 8, 8)


def _model(h: int = 16, seed: int = 0):
    torch.manual_seed(seed)
    return autoencoders.build("vae", h=h, z=3, input_shape=SHAPE)


def _data(n: int = 48) -> torch.Tensor:
    return torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(1))


def _trainer(ckpt: Path, model=None, **kw) -> Trainer:
    opts = dict(epochs=2, batch_size=16, progress=False, seed=3, checkpoint_dir=ckpt)
    return Trainer(model if model is not None else _model(), **{**opts, **kw})


@pytest.fixture
def two_epochs(tmp_path: Path) -> Path:
    ckpt = tmp_path / "ckpt"
    _trainer(ckpt).fit(_data())
    assert len(list_checkpoints(ckpt)) == 2
    return ckpt


def test_a_truncated_latest_checkpoint_is_passed_over_with_a_warning(two_epochs: Path) -> None:
    latest = find_latest(two_epochs)
    raw = (latest / MODEL_FILE).read_bytes()
    (latest / MODEL_FILE).write_bytes(raw[: len(raw) // 2])
    trainer = _trainer(two_epochs, epochs=3)
    with pytest.warns(IgnoredCheckpointWarning, match=rf"{latest.name}.*it is ignored"):
        trainer.fit(_data(), resume=True)
    assert [r["epoch"] for r in trainer.history.records] == [1, 2, 3]


def test_a_damaged_checkpoint_named_explicitly_is_an_error(two_epochs: Path) -> None:
    latest = find_latest(two_epochs)
    (latest / MODEL_FILE).write_bytes(b"\x00" * 10)
    with pytest.raises(CheckpointError, match=r"model.safetensors is not the file"):
        _trainer(two_epochs, epochs=3).fit(_data(), resume=latest)


def test_when_no_checkpoint_is_usable_the_reasons_are_listed(two_epochs: Path) -> None:
    for c in list_checkpoints(two_epochs):
        (c / STATE_FILE).write_text("{")
    with (
        pytest.warns(IgnoredCheckpointWarning),
        pytest.raises(
            CheckpointError, match=r"no checkpoint could be used.*not valid JSON.*not valid JSON"
        ),
    ):
        _trainer(two_epochs, epochs=3).fit(_data(), resume=True)


@pytest.mark.parametrize("key", ["epoch", "global_step", "rng", "optimizer"])
def test_a_missing_field_of_trainer_state_is_named(two_epochs: Path, key: str) -> None:
    latest = find_latest(two_epochs)
    doc = json.loads((latest / STATE_FILE).read_text())
    doc.pop(key)
    doc["format_version"] = 1  # an unchecked (old-format) file: the fields are still checked
    doc.pop("sha256"), doc.pop("files")
    (latest / STATE_FILE).write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match=rf"field '{key}' must be"):
        _trainer(two_epochs, epochs=3).fit(_data(), resume=latest)


def test_an_edited_trainer_state_is_refused(two_epochs: Path) -> None:
    latest = find_latest(two_epochs)
    doc = json.loads((latest / STATE_FILE).read_text())
    doc["global_step"] = 1
    (latest / STATE_FILE).write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="not as it was written"):
        _trainer(two_epochs, epochs=3).fit(_data(), resume=latest)


def test_a_downgraded_format_version_is_refused(two_epochs: Path) -> None:
    latest = find_latest(two_epochs)
    doc = json.loads((latest / STATE_FILE).read_text())
    doc["format_version"] = 1
    (latest / STATE_FILE).write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="says format_version 1 but holds the SHA-256"):
        _trainer(two_epochs, epochs=3).fit(_data(), resume=latest)


def test_resuming_another_model_size_is_a_resume_error(two_epochs: Path) -> None:
    trainer = _trainer(two_epochs, model=_model(h=12), epochs=3)
    with pytest.raises(ResumeError, match=r"another model.*encoder.net.0.weight: checkpoint"):
        trainer.fit(_data(), resume=True)


def test_resuming_with_another_optimizer_is_a_resume_error(two_epochs: Path) -> None:
    trainer = _trainer(two_epochs, epochs=3, optimizer="sgd")
    with pytest.raises(ResumeError, match="another kind of optimizer"):
        trainer.fit(_data(), resume=True)


def test_a_half_deleted_checkpoint_does_not_count(two_epochs: Path) -> None:
    first, second = list_checkpoints(two_epochs)
    (first / MODEL_FILE).unlink()  # what rmtree leaves when it is killed halfway
    assert list_checkpoints(two_epochs) == [second]
    (two_epochs / LATEST).write_text(first.name + "\n")
    assert find_latest(two_epochs) == second


def test_deleting_renames_first(two_epochs: Path) -> None:
    first = list_checkpoints(two_epochs)[0]
    delete_checkpoint(first)
    assert not first.exists() and not list(two_epochs.glob(".*"))


def test_stray_temporaries_are_removed_at_the_next_run(two_epochs: Path) -> None:
    (two_epochs / ".latest.999999999.x1.tmp").write_text("ckpt")  # a file, not a folder
    (two_epochs / ".ckpt-epoch0003-step000000009.abc.tmp").mkdir()
    (two_epochs / ".ckpt-epoch0001-step000000003.deleting-999999999.tmp").mkdir()
    _trainer(two_epochs, epochs=3).fit(_data(), resume=True)
    assert sorted(p.name for p in two_epochs.glob(".*")) == []


def test_a_lower_learning_rate_after_a_nan_stop_is_used(
    two_epochs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The trap: the NaN message says to lower the learning rate; the resume must use it."""
    trainer = _trainer(two_epochs, epochs=3, lr=1e-4)
    with caplog.at_level(logging.WARNING, logger="autoencoders.training.state"):
        trainer.fit(_data(), resume=True)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)
    assert "lr 0.001 -> 0.0001" in caplog.text
    assert trainer.state.changed_settings == ["lr 0.001 -> 0.0001"]


def test_a_scheduled_learning_rate_keeps_its_place_scaled(tmp_path: Path) -> None:
    # two epochs of a four-epoch cosine schedule at lr 1e-3, resumed at lr 5e-4: the place in
    # the schedule is the checkpoint's, the base this run's, so epochs 3 and 4 get the
    # learning rates of a run at 5e-4 from the start
    ckpt = tmp_path / "ckpt"
    _trainer(ckpt, epochs=4, lr=1e-3, scheduler="cosine", keep_checkpoints=4).fit(_data())
    middle = next(c for c in list_checkpoints(ckpt) if "epoch0002" in c.name)
    resumed = _trainer(ckpt, epochs=4, lr=5e-4, scheduler="cosine", model=_model())
    resumed.fit(_data(), resume=middle)
    fresh = _trainer(tmp_path / "fresh", epochs=4, lr=5e-4, scheduler="cosine")
    fresh.fit(_data())
    assert resumed.scheduler.base_lrs == [5e-4]
    lrs = [[r["lr"] for r in t.history.records[2:]] for t in (resumed, fresh)]
    assert lrs[0] == pytest.approx(lrs[1])


def test_the_nan_error_message_tells_the_truth_about_resuming() -> None:
    msg = str(NonFiniteLossError(1, 2, 2, {"loss": float("nan")}))
    assert "the new learning rate is used" in msg
