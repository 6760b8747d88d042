"""Every model family, on both backbones: output shapes over drawn sizes (hypothesis), and a
few finite training steps under bf16 autocast on the CPU."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import TensorDataset

import autoencoders
from autoencoders.losses import default_loss

#: The seven model families beyond the classics, by their registered names.
FAMILIES = ["beta_vae", "iwae", "wae_mmd", "vq_vae", "cvae", "sparse_ae", "contractive_ae"]
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)


def _build(name: str, encoder: str, z: int, h: int = 16) -> autoencoders.Autoencoder:
    extra = {"codebook_size": 8, "code_dim": 2} if name == "vq_vae" else {}
    if encoder == "conv":
        extra["channels"] = (4, 8)
    return autoencoders.build(name, h=h, z=z, encoder=encoder, **extra)


def _labels(model: autoencoders.Autoencoder, n: int) -> dict:
    return {"labels": torch.arange(n) % model.num_classes} if model.takes_labels else {}


def test_the_seven_families_are_listed() -> None:
    assert set(FAMILIES) <= set(autoencoders.list_models())


@SETTINGS
@given(
    name=st.sampled_from(FAMILIES),
    encoder=st.sampled_from(["mlp", "conv"]),
    half_z=st.integers(1, 4),
    batch=st.integers(1, 5),
)
def test_family_output_shapes(name: str, encoder: str, half_z: int, batch: int) -> None:
    torch.manual_seed(0)
    z = 2 * half_z  # even, so that a VQ code of 2-vectors divides it
    model = _build(name, encoder, z).train()
    x = torch.rand(batch, 1, 28, 28)
    out = model(x, **_labels(model, batch))
    k = getattr(model.bottleneck, "samples", 1)
    lead = (k,) if k > 1 else ()
    assert out.logits.shape == (*lead, batch, 1, 28, 28)
    assert out.z.shape == (*lead, batch, z)
    for key, term in out.terms.items():
        assert term.dim() == 0 or term.shape == (batch,), key
        assert torch.isfinite(term).all(), key
    loss = default_loss(model)(out, x)
    assert math.isfinite(float(loss.total.detach()))
    model.eval()
    with torch.no_grad():
        codes = model.encode(x, **_labels(model, batch))
        assert codes.shape == (batch, z)
        assert model.decode(codes, **_labels(model, batch)).shape == x.shape
        if model.can_sample:
            assert model.sample(batch, **_labels(model, batch)).shape == x.shape


@pytest.mark.parametrize("encoder", ["mlp", "conv"])
@pytest.mark.parametrize("name", FAMILIES)
def test_a_few_steps_under_bf16_autocast_stay_finite(name: str, encoder: str) -> None:
    torch.manual_seed(0)
    model = _build(name, encoder, z=4)
    x = torch.rand(24, 1, 28, 28)
    data = TensorDataset(x, torch.arange(24) % 10) if model.takes_labels else x
    trainer = autoencoders.Trainer(
        model, epochs=2, batch_size=8, amp="bf16", progress=False, seed=0
    )
    history = trainer.fit(data, val=data)
    for record in history.records:
        assert math.isfinite(record["train_loss"]) and math.isfinite(record["val_loss"])
    assert all(torch.isfinite(p).all() for p in model.parameters())
