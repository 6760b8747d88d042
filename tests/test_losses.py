"""Loss objects: reductions (sum per sample, mean over the batch), parts, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import autoencoders
from autoencoders.losses import (
    ELBOLoss,
    KLLoss,
    LossOutput,
    ReconstructionLoss,
    default_loss,
    reconstruction_per_sample,
)
from autoencoders.model import AutoencoderOutput


def _out(logits: torch.Tensor, act: str = "sigmoid", kl: torch.Tensor | None = None):
    return AutoencoderOutput(
        logits=logits, z=torch.zeros(len(logits), 2), output_activation=act, kl=kl
    )


def test_bce_is_sum_over_pixels_mean_over_batch() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 1, 5, 5, generator=g)
    x = torch.rand(4, 1, 5, 5, generator=g)
    out = ReconstructionLoss("bce")(_out(logits), x)
    expected = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="sum") / 4
    torch.testing.assert_close(out.total, expected, rtol=1e-5, atol=1e-5)
    assert list(out.parts) == ["recon"]


def test_mse_uses_the_activated_output() -> None:
    logits = torch.randn(3, 2, 4)
    x = torch.rand(3, 2, 4) * 2 - 1
    got = ReconstructionLoss("mse")(_out(logits, "tanh"), x).total
    torch.testing.assert_close(got, ((torch.tanh(logits) - x) ** 2).sum() / 3)


def test_auto_picks_bce_for_sigmoid_and_mse_otherwise() -> None:
    logits, x = torch.randn(2, 6), torch.rand(2, 6)
    torch.testing.assert_close(
        reconstruction_per_sample(_out(logits), x, "auto"),
        reconstruction_per_sample(_out(logits), x, "bce"),
    )
    torch.testing.assert_close(
        reconstruction_per_sample(_out(logits, "identity"), x, "auto"),
        ((logits - x) ** 2).sum(1),
    )


def test_bce_refuses_non_sigmoid_outputs() -> None:
    with pytest.raises(ValueError, match="BCE needs a sigmoid output.*'tanh'"):
        ReconstructionLoss("bce")(_out(torch.zeros(1, 3), "tanh"), torch.zeros(1, 3))


def test_shape_mismatch_is_named() -> None:
    with pytest.raises(ValueError, match=r"logits \(1, 3\) and target \(1, 4\)"):
        ReconstructionLoss()(_out(torch.zeros(1, 3)), torch.zeros(1, 4))


def test_elbo_total_is_recon_plus_beta_kl() -> None:
    logits, x = torch.randn(5, 10), torch.rand(5, 10)
    kl = torch.rand(5)
    out = ELBOLoss(beta=4.0)(_out(logits, kl=kl), x)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 5
    torch.testing.assert_close(out.parts["recon"], recon)
    torch.testing.assert_close(out.parts["kl"], kl.mean())
    torch.testing.assert_close(out.total, recon + 4.0 * kl.mean())
    assert KLLoss()(_out(logits, kl=kl), x).total == kl.mean()


def test_kl_losses_need_a_gaussian_bottleneck() -> None:
    with pytest.raises(ValueError, match="needs a Gaussian bottleneck"):
        ELBOLoss()(_out(torch.zeros(1, 2)), torch.zeros(1, 2))


def test_losses_are_float32_under_bf16_autocast() -> None:
    model = autoencoders.build("vae", h=16, z=3)
    x = torch.rand(4, 1, 28, 28)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
        loss = ELBOLoss()(out, x)
    assert out.logits.dtype == torch.bfloat16
    assert loss.total.dtype == torch.float32 and out.kl.dtype == torch.float32
    assert torch.isfinite(loss.total)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ReconstructionLoss("l1"), "unknown recon 'l1'; accepted: auto, bce, mse"),
        (lambda: ELBOLoss(beta=-1), "beta must be a number >= 0, got -1"),
        (lambda: ELBOLoss(recon="huber"), "unknown recon 'huber'"),
    ],
)
def test_bad_loss_arguments(make, match) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_registered_losses_build_by_name() -> None:
    reg = autoencoders.loss_registry
    assert isinstance(reg.build("elbo", beta=2.0), ELBOLoss)
    assert reg.build("bce").recon == "bce" and reg.build("mse").recon == "mse"
    assert isinstance(reg.build("ae"), ReconstructionLoss)


def test_default_loss_follows_the_bottleneck() -> None:
    assert isinstance(default_loss(autoencoders.build("vae")), ELBOLoss)
    assert isinstance(default_loss(autoencoders.build("ae")), ReconstructionLoss)


def test_detached_gives_floats() -> None:
    d = LossOutput(
        torch.tensor(3.0), {"recon": torch.tensor(2.0), "kl": torch.tensor(1.0)}
    ).detached()
    assert d == {"loss": 3.0, "recon": 2.0, "kl": 1.0}
