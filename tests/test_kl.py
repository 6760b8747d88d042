"""The closed-form Gaussian KL divergence against independent computations."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Normal, kl_divergence

from autoencoders.blocks import gaussian_kl

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


@SETTINGS
@given(
    batch=st.integers(1, 6),
    dims=st.integers(1, 16),
    seed=st.integers(0, 2**16),
    scale=st.floats(0.01, 3.0),
)
def test_matches_torch_distributions(batch: int, dims: int, seed: int, scale: float) -> None:
    g = torch.Generator().manual_seed(seed)
    mean = scale * torch.randn(batch, dims, generator=g)
    logvar = scale * torch.randn(batch, dims, generator=g)
    expected = kl_divergence(
        Normal(mean, torch.exp(0.5 * logvar)), Normal(torch.zeros_like(mean), torch.ones_like(mean))
    ).sum(dim=1)
    got = gaussian_kl(mean, logvar)
    assert got.shape == (batch,)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert (got >= 0).all()


def test_exactly_zero_at_the_prior() -> None:
    kl = gaussian_kl(torch.zeros(3, 7), torch.zeros(3, 7))
    assert torch.equal(kl, torch.zeros(3))
    assert not torch.signbit(kl).any()


def test_float32_under_half_inputs() -> None:
    m = torch.randn(2, 4).to(torch.bfloat16)
    assert gaussian_kl(m, m).dtype == torch.float32
    assert gaussian_kl(m.double(), m.double()).dtype == torch.float64


def test_agrees_with_monte_carlo_within_standard_error() -> None:
    g = torch.Generator().manual_seed(1234)
    mean = torch.tensor([[0.7, -1.2, 0.1]], dtype=torch.float64)
    logvar = torch.tensor([[-0.5, 0.4, -1.5]], dtype=torch.float64)
    n = 200_000
    std = torch.exp(0.5 * logvar)
    z = mean + std * torch.randn(n, 3, generator=g, dtype=torch.float64)
    q = Normal(mean, std)
    p = Normal(torch.zeros_like(mean), torch.ones_like(mean))
    samples = (q.log_prob(z) - p.log_prob(z)).sum(dim=1)  # log q(z) - log p(z), z ~ q
    estimate = samples.mean().item()
    stderr = samples.std().item() / math.sqrt(n)
    exact = gaussian_kl(mean, logvar).item()
    assert abs(estimate - exact) < 4 * stderr, (estimate, exact, stderr)
    assert stderr < 0.01  # the check is tight enough to catch a wrong constant


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4)])
def test_sums_over_all_non_batch_dims(shape: tuple[int, ...]) -> None:
    mean = torch.randn(*shape)
    logvar = torch.randn(*shape)
    if len(shape) == 1:
        expected = (0.5 * (mean**2 + logvar.exp() - 1 - logvar)).sum().reshape(())
        assert torch.allclose(gaussian_kl(mean.unsqueeze(0), logvar.unsqueeze(0))[0], expected)
    else:
        per = 0.5 * (mean**2 + logvar.exp() - 1 - logvar)
        torch.testing.assert_close(gaussian_kl(mean, logvar), per.flatten(1).sum(1))
