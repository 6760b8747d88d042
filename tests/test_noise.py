"""Noise transforms: statistics, clipping, reproducibility, errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import autoencoders
from autoencoders.noise import GaussianNoise, Masking, SaltAndPepper

SETTINGS = settings(max_examples=20, deadline=None, derandomize=True)


def test_gaussian_statistics_without_clip() -> None:
    x = torch.zeros(200_000)
    out = GaussianNoise(noise_factor=0.5, clip=None)(x, generator=torch.Generator().manual_seed(0))
    assert abs(out.mean().item()) < 0.01
    assert abs(out.std().item() - 0.5) < 0.01


def test_gaussian_clips_to_unit_interval_by_default() -> None:
    out = GaussianNoise(noise_factor=2.0)(torch.rand(1000))
    assert out.min() >= 0 and out.max() <= 1
    assert ((out == 0) | (out == 1)).float().mean() > 0.3  # strong noise saturates a lot


@SETTINGS
@given(p=st.floats(0.0, 1.0), seed=st.integers(0, 1000))
def test_masking_rate_and_values(p: float, seed: int) -> None:
    x = torch.rand(20_000) + 0.5  # never 0 before masking
    out = Masking(p=p)(x, generator=torch.Generator().manual_seed(seed))
    rate = (out == 0).float().mean().item()
    assert abs(rate - p) < 0.02
    kept = out != 0
    assert torch.equal(out[kept], x[kept])  # no rescaling of kept values


@SETTINGS
@given(p=st.floats(0.0, 1.0), seed=st.integers(0, 1000))
def test_salt_and_pepper(p: float, seed: int) -> None:
    x = torch.full((20_000,), 0.5)
    out = SaltAndPepper(p=p)(x, generator=torch.Generator().manual_seed(seed))
    salt, pepper = (out == 1).float().mean().item(), (out == 0).float().mean().item()
    assert abs(salt + pepper - p) < 0.02
    assert abs(salt - pepper) < 0.02
    assert set(out.unique().tolist()) <= {0.0, 0.5, 1.0}


@pytest.mark.parametrize("name", ["gaussian", "masking", "salt_and_pepper"])
def test_reproducible_with_generators(name: str) -> None:
    t = autoencoders.noise_registry.build(name)
    x = torch.rand(4, 1, 8, 8)
    before = x.clone()
    a = t(x, generator=torch.Generator().manual_seed(7))
    b = t(x, generator=torch.Generator().manual_seed(7))
    c = t(x, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(x, before)  # input untouched
    assert a.data_ptr() != x.data_ptr()  # a new tensor, not x modified in place


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: GaussianNoise(noise_factor=-0.1), "noise_factor must be a number >= 0, got -0.1"),
        (lambda: GaussianNoise(clip=(1, 0)), r"clip must be None or \(low, high\)"),
        (lambda: Masking(p=1.5), r"p must be a probability in \[0, 1\], got 1.5"),
        (lambda: SaltAndPepper(p=0.1, low=1, high=0), "needs low < high"),
    ],
)
def test_bad_arguments(make, match) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_model_corrupt_uses_the_transform() -> None:
    m = autoencoders.build("dae", h=16, z=2, noise_factor=0.4)
    x = torch.rand(2, 1, 28, 28)
    g = torch.Generator().manual_seed(1)
    expected = GaussianNoise(0.4)(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(m.corrupt(x, generator=g), expected)
    assert torch.equal(autoencoders.build("ae").corrupt(x), x)
