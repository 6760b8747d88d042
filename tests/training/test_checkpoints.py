"""Checkpoints: layout, atomicity, exact resume (in-process and after SIGKILL), NaN guard."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import autoencoders
from autoencoders.losses import ReconstructionLoss
from autoencoders.training import Callback, NonFiniteLossError, Trainer, find_latest
from autoencoders.training.checkpoint import list_checkpoints, write_folder

WORKER = Path(__file__).with_name("resume_worker.py")


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _bytes_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


class EveryEpoch(Callback):
    def __init__(self) -> None:
        self.weights: dict[int, dict[str, torch.Tensor]] = {}

    def on_epoch_end(self, trainer, record):
        self.weights[record["epoch"]] = _weights(trainer.model)


def test_layout_rotation_best_and_final(make_vae, make_data, tmp_path) -> None:
    model = make_vae()
    seen = EveryEpoch()
    trainer = Trainer(
        model,
        epochs=3,
        batch_size=16,
        checkpoint_dir=tmp_path,
        checkpoint_every=2,
        progress=False,
        callbacks=[seen],
    )
    trainer.fit(make_data(48), val=make_data(16, seed=2))  # 3 steps per epoch
    ckpts = [p.name for p in list_checkpoints(tmp_path)]
    assert ckpts == ["ckpt-epoch0003-step000000008", "ckpt-epoch0003-step000000009"]  # keep 2
    assert (tmp_path / "latest").read_text().strip() == ckpts[-1]
    assert find_latest(tmp_path) == tmp_path / ckpts[-1]
    latest = tmp_path / ckpts[-1]
    assert sorted(os.listdir(latest)) == [
        "model.safetensors",
        "optimizer.safetensors",
        "state.safetensors",
        "trainer_state.json",
    ]
    state = json.loads((latest / "trainer_state.json").read_text())
    assert (state["epoch"], state["batch_in_epoch"], state["global_step"]) == (3, 0, 9)
    assert [r["epoch"] for r in state["history"]] == [1, 2, 3]
    assert state["model_config"]["architecture"]["name"] == "vae"
    opt = load_file(latest / "optimizer.safetensors")
    assert any(k.endswith("exp_avg") for k in opt)
    rng = load_file(latest / "state.safetensors")
    assert rng["rng.torch.0"].dtype == torch.uint8
    # the final model is in the autoencoders.save format and equals the trained weights
    final = autoencoders.load(tmp_path / "final")
    _assert_same(_weights(final), _weights(model))
    best_epoch = trainer.history.best()["epoch"]  # lowest val_loss
    _assert_same(_weights(autoencoders.load(tmp_path / "best")), seen.weights[best_epoch])
    assert not list(tmp_path.glob(".*"))  # no temporary folders left behind


def test_fresh_fit_refuses_a_used_checkpoint_dir(make_ae, make_data, tmp_path) -> None:
    Trainer(make_ae(), epochs=1, checkpoint_dir=tmp_path, progress=False).fit(make_data(8))
    with pytest.raises(ValueError, match="already holds checkpoints; pass resume=True"):
        Trainer(make_ae(), epochs=1, checkpoint_dir=tmp_path, progress=False).fit(make_data(8))
    with pytest.raises(ValueError, match="needs checkpoint_dir"):
        Trainer(make_ae(), progress=False).fit(make_data(8), resume=True)
    with pytest.raises(ValueError, match="neither a checkpoint folder"):
        Trainer(make_ae(), progress=False).fit(make_data(8), resume=tmp_path / "nope")


def test_resume_without_checkpoint_starts_afresh(make_ae, make_data, tmp_path) -> None:
    h = Trainer(make_ae(), epochs=2, checkpoint_dir=tmp_path, progress=False).fit(
        make_data(8), resume=True
    )
    assert h["epoch"] == [1, 2]


class InterruptError(Exception):
    pass


class StopAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer, step, loss):
        if step == self.step:
            raise InterruptError


def test_resume_mid_epoch_in_process_is_exact(make_vae, make_data, tmp_path) -> None:
    x, val = make_data(70), make_data(20, seed=2)
    kwargs = {"epochs": 3, "batch_size": 16, "progress": False, "scheduler": "cosine", "seed": 5}
    full = make_vae(noise="masking")
    full_history = Trainer(full, **kwargs).fit(x, val)
    broken = make_vae(noise="masking")
    trainer = Trainer(
        broken, checkpoint_dir=tmp_path, checkpoint_every=4, callbacks=[StopAt(10)], **kwargs
    )
    with pytest.raises(InterruptError):
        trainer.fit(x, val)
    latest = find_latest(tmp_path)
    assert latest.name == "ckpt-epoch0002-step000000008"  # 5 batches per epoch: mid-epoch 2
    resumed = make_vae(seed=99, noise="masking")  # other initial weights: all come from disk
    history = Trainer(resumed, checkpoint_dir=tmp_path, **kwargs).fit(x, val, resume=True)
    _assert_same(_weights(resumed), _weights(full))
    assert history["epoch"] == [1, 2, 3]
    for key in ("train_loss", "train_kl", "val_loss", "lr"):
        assert history[key] == pytest.approx(full_history[key], rel=1e-6), key


def test_mid_epoch_resume_checks_the_batch_size(make_ae, make_data, tmp_path) -> None:
    x = make_data(64)
    t = Trainer(
        make_ae(),
        epochs=1,
        batch_size=16,
        checkpoint_dir=tmp_path,
        checkpoint_every=2,
        callbacks=[StopAt(3)],
        progress=False,
    )
    with pytest.raises(InterruptError):
        t.fit(x)
    t = Trainer(make_ae(), epochs=1, batch_size=8, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(
        ValueError, match="mid-epoch with batch_size=16, but this run has batch_size=8"
    ):
        t.fit(x, resume=True)


def _start_worker(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    try:
        out, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _run_worker(*args: str) -> subprocess.CompletedProcess[str]:
    return _finish(_start_worker(*args))


def test_sigkill_mid_epoch_then_resume_is_bitwise_identical(tmp_path) -> None:
    """A run SIGKILLed mid-epoch and resumed ends with the same weights, bit for bit, as an
    uninterrupted run: same permutation replayed, batches skipped, RNG states restored."""
    # the uninterrupted run and the one that is killed are independent: run them side by side
    full_proc = _start_worker("full", str(tmp_path / "ck_full"), str(tmp_path / "full.safetensors"))
    killed = _run_worker("kill", str(tmp_path / "ck"), str(tmp_path / "x.safetensors"), "8")
    full = _finish(full_proc)
    assert full.returncode == 0, full.stderr
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (tmp_path / "x.safetensors").exists()
    # checkpoints at steps 3, 5 (epoch end), 6; killed after step 8 of 15
    assert (tmp_path / "ck" / "latest").read_text().strip() == "ckpt-epoch0002-step000000006"
    state = json.loads(
        (tmp_path / "ck" / "ckpt-epoch0002-step000000006" / "trainer_state.json").read_text()
    )
    assert (state["epoch"], state["batch_in_epoch"]) == (1, 1)
    resumed = _run_worker("resume", str(tmp_path / "ck"), str(tmp_path / "resumed.safetensors"))
    assert resumed.returncode == 0, resumed.stderr
    a = load_file(tmp_path / "full.safetensors")
    b = load_file(tmp_path / "resumed.safetensors")
    _assert_same(a, b)
    h_full = json.loads((tmp_path / "full.safetensors.json").read_text())
    h_res = json.loads((tmp_path / "resumed.safetensors.json").read_text())
    assert [r["epoch"] for r in h_res] == [1, 2, 3]
    assert [r["val_loss"] for r in h_res] == pytest.approx(
        [r["val_loss"] for r in h_full], rel=1e-6
    )


class NaNAt(ReconstructionLoss):
    """Reconstruction loss that turns non-finite at the given training calls (1-based)."""

    def __init__(self, bad: set[int]) -> None:
        super().__init__()
        self.bad, self.calls = bad, 0

    def __call__(self, output, target):
        out = super().__call__(output, target)
        if torch.is_grad_enabled():
            self.calls += 1
            if self.calls in self.bad:
                out.total = out.total * float("nan")
                out.parts = {"recon": out.parts["recon"] * float("inf")}
        return out


class Snapshot(Callback):
    """Keeps the bytes of the latest checkpoint as they are at a given step."""

    def __init__(self, directory: Path, step: int) -> None:
        self.directory, self.step, self.files, self.name = directory, step, None, None

    def on_step_end(self, trainer, step, loss):
        if step == self.step:
            latest = find_latest(self.directory)
            self.name, self.files = latest.name, _bytes_of(latest)


def test_nonfinite_raises_naming_the_step_and_keeps_the_checkpoint(
    make_ae, make_data, tmp_path
) -> None:
    snap = Snapshot(tmp_path, 7)
    trainer = Trainer(
        make_ae(),
        loss=NaNAt({7}),
        epochs=3,
        batch_size=8,  # 5 batches per epoch
        checkpoint_dir=tmp_path,
        checkpoint_every=3,
        callbacks=[snap],
        progress=False,
    )
    with pytest.raises(
        NonFiniteLossError, match=r"epoch 2, step 7 \(batch 2 of the epoch\)"
    ) as info:
        trainer.fit(make_data(40))
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.epoch, err.step, err.batch) == (2, 7, 2)
    assert set(err.parts) == {"loss", "recon"} and err.parts["recon"] == float("inf")
    assert snap.name == "ckpt-epoch0002-step000000006"
    # nothing written after the bad step: the last good checkpoint is byte-for-byte intact
    assert find_latest(tmp_path).name == snap.name
    assert _bytes_of(tmp_path / snap.name) == snap.files
    assert [p.name for p in list_checkpoints(tmp_path)][-1] == snap.name
    assert not (tmp_path / "final").exists()


def test_nonfinite_detected_at_epoch_end_without_checkpoints(make_ae, make_data) -> None:
    trainer = Trainer(make_ae(), loss=NaNAt({3}), epochs=2, batch_size=8, progress=False)
    with pytest.raises(NonFiniteLossError, match="epoch 1, step 3"):
        trainer.fit(make_data(40))


def test_nonfinite_skip(make_ae, make_data) -> None:
    model = make_ae()
    trainer = Trainer(
        model, loss=NaNAt({2, 7}), epochs=2, batch_size=8, nonfinite="skip", progress=False
    )
    history = trainer.fit(make_data(40))
    assert history["skipped_steps"] == [1, 1]
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert all(torch.isfinite(torch.tensor(history["train_loss"])))


def test_write_folder_is_all_or_nothing(tmp_path) -> None:
    target = tmp_path / "ckpt"
    write_folder(target, {"a": b"1"})

    class Boom:
        def __len__(self):
            raise OSError("disk full")

    with pytest.raises(TypeError):
        write_folder(target, {"a": b"2", "b": Boom()})  # fails half-way
    assert _bytes_of(target) == {"a": b"1"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
    write_folder(target, {"b": b"3"})
    assert _bytes_of(target) == {"b": b"3"}
