"""``Trainer(channels_last=True)``: conv weights in channels_last, the same training up to
rounding, checkpoints and saves unchanged; ``--channels-last`` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import autoencoders
from autoencoders import cli
from autoencoders.training import Trainer

CL = torch.channels_last


def _tiny_conv_vae() -> autoencoders.Autoencoder:
    torch.manual_seed(0)
    return autoencoders.build("conv_vae", z=8, filters=(4, 8, 8), input_shape=(3, 16, 16))


def _data() -> torch.Tensor:
    return torch.rand(48, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1


def _fit(channels_last: bool, **kw) -> tuple[Trainer, list[float]]:
    trainer = Trainer(
        _tiny_conv_vae(), epochs=2, batch_size=16, progress=False, device="cpu",
        channels_last=channels_last, **kw,
    )  # fmt: skip
    history = trainer.fit(_data())
    return trainer, [float(v) for v in history["train_loss"]]


def test_the_conv_weights_are_channels_last_and_train_the_same(tmp_path: Path) -> None:
    plain, plain_losses = _fit(False)
    fast, fast_losses = _fit(True)
    convs = [p for p in fast.model.parameters() if p.ndim == 4]
    assert convs and all(p.is_contiguous(memory_format=CL) for p in convs)
    assert not all(p.is_contiguous(memory_format=CL) for p in plain.model.parameters()
                   if p.ndim == 4 and p.shape[2:] != (1, 1))  # fmt: skip
    # the optimizer holds the converted parameters, not copies left behind
    held = {id(p) for g in fast.optimizer.param_groups for p in g["params"]}
    assert held == {id(p) for p in fast.model.parameters()}
    assert plain_losses == pytest.approx(fast_losses, rel=1e-4)
    # (the weights are not compared one by one: a conv bias before BatchNorm has no true
    # gradient, so Adam's steps on it are rounding noise in either layout)
    torch.manual_seed(5)
    after_plain = plain.evaluate(_data())["loss"]
    torch.manual_seed(5)
    assert fast.evaluate(_data())["loss"] == pytest.approx(after_plain, rel=1e-4)
    autoencoders.save(fast.model, tmp_path / "m")
    loaded = autoencoders.load(tmp_path / "m")
    for a, b in zip(fast.model.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_a_channels_last_run_resumes_exactly(tmp_path: Path) -> None:
    full, full_losses = _fit(True, checkpoint_dir=tmp_path / "full")
    first = Trainer(_tiny_conv_vae(), epochs=1, batch_size=16, progress=False, device="cpu",
                    channels_last=True, checkpoint_dir=tmp_path / "part")  # fmt: skip
    first.fit(_data())
    second = Trainer(_tiny_conv_vae(), epochs=2, batch_size=16, progress=False, device="cpu",
                     channels_last=True, checkpoint_dir=tmp_path / "part")  # fmt: skip
    history = second.fit(_data(), resume=True)
    assert [float(v) for v in history["train_loss"]] == full_losses
    for a, b in zip(full.model.state_dict().values(), second.model.state_dict().values(),
                    strict=True):  # fmt: skip
        assert torch.equal(a, b)


def test_a_dense_model_is_left_alone_and_bad_values_are_named() -> None:
    model = autoencoders.build("vae", h=8, z=2)
    trainer = Trainer(model, channels_last=True, progress=False, device="cpu")
    assert all(p.is_contiguous() for p in trainer.model.parameters())
    with pytest.raises(TypeError, match="channels_last must be True or False, got 'yes'"):
        Trainer(model, channels_last="yes", progress=False)


def test_the_command_line_option_reaches_the_trainer_and_run_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    (tmp_path / "img").mkdir()
    for i in range(12):
        Image.new("L", (28, 28), color=20 * i).save(tmp_path / "img" / f"{i}.png")
    argv = ["-q", "train", "conv_ae", "--data", str(tmp_path / "img"), "--epochs", "1",
            "--batch-size", "8", "--no-progress", "--no-plots", "--set", "z=4",
            "--set", "channels=[4,8]", "--channels-last", "--out", "r"]  # fmt: skip
    assert cli.main(argv) == 0
    training = json.loads(Path("r/run.json").read_text())["training"]
    assert training["channels_last"] is True


def test_a_model_with_3d_convolutions_keeps_them_as_they_are() -> None:
    model = _tiny_conv_vae()
    model.extra = torch.nn.Conv3d(1, 2, 3)  # a 5-d weight: channels_last would refuse it
    trainer = Trainer(model, channels_last=True, progress=False, device="cpu")
    assert trainer.model.extra.weight.is_contiguous()
    convs = [p for n, p in trainer.model.named_parameters() if p.ndim == 4]
    assert convs and all(p.is_contiguous(memory_format=CL) for p in convs)


def test_a_left_over_gradient_takes_the_weights_layout() -> None:
    model = _tiny_conv_vae()
    x = _data()[:4]
    model.train()
    from autoencoders.losses import default_loss

    default_loss(model)(model(x), x).total.backward()  # a gradient from before the Trainer
    trainer = Trainer(model, channels_last=True, progress=False, device="cpu")
    for p in trainer.model.parameters():
        if p.ndim == 4:
            assert p.grad.is_contiguous(memory_format=CL), "the fused step would mispair it"
