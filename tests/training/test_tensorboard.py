"""TensorBoardLogger: the events a tiny fit writes, read back with TensorBoard's own reader."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from autoencoders.training import Callback, Trainer
from autoencoders.training import tensorboard as tb_module

from .conftest import SHAPE, data, tiny_ae, tiny_vae

EventAccumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator"
).EventAccumulator

TensorBoardLogger = tb_module.TensorBoardLogger


def read(log_dir: Path):
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def scalars(acc, tag: str) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def test_fit_writes_the_epoch_records_steps_and_images(tmp_path: Path) -> None:
    model = tiny_vae()
    logger = TensorBoardLogger(tmp_path / "tb", images=5, log_every_n_steps=2)
    trainer = Trainer(model, epochs=3, batch_size=8, progress=False, callbacks=[logger])
    history = trainer.fit(data(40), val=data(12, seed=2))
    assert logger.writer is None  # closed at the end of training
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    acc = read(tmp_path / "tb")
    tags = acc.Tags()["scalars"]
    steps = [r["step"] for r in history.records]
    for key in ("train_loss", "val_loss", "lr", "train_kl", "val_kl", "train_recon", "epoch"):
        assert f"epoch/{key}" in tags
        logged = scalars(acc, f"epoch/{key}")
        assert [s for s, _ in logged] == steps
        assert [v for _, v in logged] == pytest.approx(history[key], rel=1e-6)
    # 5 steps per epoch, 15 in all: the per-step loss at steps 2, 4, ..., 14
    assert [s for s, _ in scalars(acc, "step/train_loss")] == list(range(2, 16, 2))
    assert all(v > 0 for _, v in scalars(acc, "step/train_loss"))
    assert [v for _, v in scalars(acc, "step/lr")] == pytest.approx([1e-3] * 7)
    images = acc.Images("images/reconstructions")
    assert [im.step for im in images] == steps
    # a 2-row grid (inputs, reconstructions) of 5 images of 8x8 with 2 pixels of padding
    assert (images[0].width, images[0].height) == (5 * 10 + 2, 2 * 10 + 2)
    assert images[0].encoded_image_string.startswith(b"\x89PNG")
    assert logger.inputs_from == "val"
    assert torch.equal(logger.inputs, data(12, seed=2)[:5])


def test_images_restore_the_mode_and_follow_the_pixel_range(tmp_path: Path) -> None:
    """Reconstructions run in eval mode without grad; the model's mode is restored after."""
    modes: list[tuple[bool, bool]] = []
    model = tiny_ae()
    original = model.reconstruct

    def reconstruct(x: torch.Tensor) -> torch.Tensor:
        modes.append((model.training, torch.is_grad_enabled()))
        return original(x)

    model.reconstruct = reconstruct  # type: ignore[method-assign]

    class Mode(Callback):
        def on_epoch_end(self, trainer, record):
            self.after = trainer.model.training

    mode = Mode()
    logger = TensorBoardLogger(tmp_path, images=3, log_every_n_steps=None)
    trainer = Trainer(model, epochs=2, batch_size=8, progress=False, callbacks=[logger, mode])
    trainer.model.train()
    trainer.fit(data(16))  # no validation: the first training inputs are shown
    assert modes == [(False, False), (False, False)]
    assert mode.after is True
    assert logger.inputs_from == "train" and logger.inputs.shape == (3, *SHAPE)
    acc = read(tmp_path)
    assert "step/train_loss" not in acc.Tags()["scalars"]
    assert len(acc.Images("images/reconstructions")) == 2


def test_a_noise_model_shows_clean_noisy_and_denoised_rows(tmp_path: Path) -> None:
    model = tiny_vae(noise="gaussian")
    logger = TensorBoardLogger(tmp_path, images=4, data=data(6, seed=3).flatten(1))
    Trainer(model, epochs=1, batch_size=8, progress=False, callbacks=[logger]).fit(data(16))
    image = read(tmp_path).Images("images/reconstructions")[0]
    assert (image.width, image.height) == (4 * 10 + 2, 3 * 10 + 2)
    assert logger.inputs_from == "data" and logger.inputs.shape == (4, *SHAPE)


def test_the_writer_is_closed_when_training_raises(tmp_path: Path) -> None:
    class Boom(Callback):
        def on_epoch_end(self, trainer, record):
            raise RuntimeError("boom")

    model = tiny_ae()
    logger = TensorBoardLogger(tmp_path, images=2)
    trainer = Trainer(model, epochs=2, batch_size=8, progress=False, callbacks=[logger, Boom()])
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(data(16))
    assert logger.writer is None and logger._hook is None
    assert not model._forward_pre_hooks  # the input-capturing hook is gone
    acc = read(tmp_path)
    assert [s for s, _ in scalars(acc, "epoch/train_loss")] == [2]  # flushed before closing


def test_resume_keeps_the_shown_inputs_and_drops_what_the_crashed_run_logged_after(
    tmp_path: Path,
) -> None:
    class CrashInEpoch2(Callback):  # after the logger, before the checkpoint of epoch 2
        def on_epoch_end(self, trainer, record):
            if record["epoch"] == 2:
                raise RuntimeError("crash")

    ckpt, log_dir = tmp_path / "ckpt", tmp_path / "tb"
    first = TensorBoardLogger(log_dir, images=3)
    crashing = Trainer(
        tiny_ae(), epochs=3, batch_size=8, progress=False, checkpoint_dir=ckpt,
        callbacks=[first, CrashInEpoch2()],
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="crash"):
        crashing.fit(data(16))
    assert [s for s, _ in scalars(read(log_dir), "epoch/train_loss")] == [2, 4]
    again = TensorBoardLogger(log_dir, images=3)
    resumed = Trainer(
        tiny_ae(), epochs=3, batch_size=8, progress=False, checkpoint_dir=ckpt, callbacks=[again]
    )
    history = resumed.fit(data(16), resume=True)
    assert torch.equal(again.inputs, first.inputs) and again.inputs_from == "train"
    logged = scalars(read(log_dir), "epoch/train_loss")
    assert [s for s, _ in logged] == [2, 4, 6]  # epoch 2 once: the resumed run's
    assert [v for _, v in logged] == pytest.approx(history["train_loss"], rel=1e-6)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="images must be an integer >= 0"):
        TensorBoardLogger("tb", images=-1)
    with pytest.raises(ValueError, match="log_every_n_steps must be an integer >= 1"):
        TensorBoardLogger("tb", log_every_n_steps=0)
    assert "images=8, log_every_n_steps=50" in repr(TensorBoardLogger("tb"))


@pytest.mark.parametrize("missing", ["tensorboard", "torch.utils.tensorboard"])
def test_missing_tensorboard_says_how_to_install_it(monkeypatch, missing: str) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # `import missing` now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "autoencoders\[tensorboard\]"'):
        TensorBoardLogger("tb")


def test_a_compiled_model_logs_like_an_eager_one(tmp_path: Path) -> None:
    """The input-capturing hook does nothing inside the compiled forward."""
    logger = TensorBoardLogger(tmp_path, images=4)
    trainer = Trainer(
        tiny_ae(), epochs=2, batch_size=8, progress=False, callbacks=[logger],
        compile=True, compile_backend="eager",
    )  # fmt: skip
    trainer.fit(data(20), val=data(6, seed=4))
    assert logger.inputs_from == "val" and torch.equal(logger.inputs, data(6, seed=4)[:4])
    assert len(read(tmp_path).Images("images/reconstructions")) == 2
