"""Shared helpers for the Trainer tests: tiny models on 8x8 inputs, small data."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

import autoencoders

SHAPE = (1, 8, 8)


def tiny_ae(seed: int = 0) -> autoencoders.Autoencoder:
    torch.manual_seed(seed)
    return autoencoders.build("ae", h=16, z=3, input_shape=SHAPE)


def tiny_vae(seed: int = 0, noise: str | None = None) -> autoencoders.Autoencoder:
    torch.manual_seed(seed)
    return autoencoders.build("vae", h=16, z=3, input_shape=SHAPE, noise=noise)


def data(n: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def make_ae() -> Callable[..., autoencoders.Autoencoder]:
    return tiny_ae


@pytest.fixture
def make_vae() -> Callable[..., autoencoders.Autoencoder]:
    return tiny_vae


@pytest.fixture
def make_data() -> Callable[..., torch.Tensor]:
    return data
