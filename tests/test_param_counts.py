"""Exact parameter counts of the classic architectures, worked out by hand from their specs."""

from __future__ import annotations

import pytest

import autoencoders


def linear(i: int, o: int) -> int:
    return i * o + o


def conv(cin: int, cout: int, k: int) -> int:  # Conv2d and ConvTranspose2d alike
    return cin * cout * k * k + cout


def bn(c: int) -> int:
    return 2 * c  # weight and bias (running stats are buffers)


CASES = {
    # 784-400-20 VAE: fc1, mean and logvar heads, fc3, fc4
    ("vae", ()): linear(784, 400) + 2 * linear(400, 20) + linear(20, 400) + linear(400, 784),
    # the six (h, z) configurations of the comparison experiment
    **{
        ("vae", (("h", h), ("z", z))): linear(784, h)
        + 2 * linear(h, z)
        + linear(z, h)
        + linear(h, 784)
        for h, z in [(400, 50), (400, 10), (400, 30), (300, 35), (300, 5), (300, 40)]
    },
    # four-layer VAE: 784-400-100-20 / 20-100-400-784
    ("vae", (("hidden", (400, 100)),)): linear(784, 400)
    + linear(400, 100)
    + 2 * linear(100, 20)
    + linear(20, 100)
    + linear(100, 400)
    + linear(400, 784),
    # dense AE 784-400-20, deterministic code
    ("ae", ()): linear(784, 400) + linear(400, 20) + linear(20, 400) + linear(400, 784),
    ("ae", (("h", 32), ("z", 32))): linear(784, 32)
    + linear(32, 32)
    + linear(32, 32)
    + linear(32, 784),
    # Linear(784, 2) -> Linear(2, 784)
    ("linear_ae", ()): linear(784, 2) + linear(2, 784),
    # conv AE: conv 1->16, 16->32 (3x3); code 32*7*7 -> 32; dense 32 -> 32*7*7; convT 32->16->1
    ("conv_ae", ()): conv(1, 16, 3)
    + conv(16, 32, 3)
    + linear(32 * 7 * 7, 32)
    + linear(32, 32 * 7 * 7)
    + conv(32, 16, 3)
    + conv(16, 1, 3),
    # Keras exercise: conv 1->8->16->32 (2x2), 32*5*5 -> 2 (tanh); 2 -> 7*7*8; convT 8->8->1 (2x2)
    ("small_conv_ae", ()): conv(1, 8, 2)
    + conv(8, 16, 2)
    + conv(16, 32, 2)
    + linear(32 * 5 * 5, 2)
    + linear(2, 7 * 7 * 8)
    + conv(8, 8, 2)
    + conv(8, 1, 2),
    # face VAE: conv 3->64->128->256 (4x4) + BN; heads 256*8*8 -> 512;
    # dense 512 -> 256*8*8; convT 256->128->64->3 (4x4) with BN between
    ("conv_vae", ()): conv(3, 64, 4)
    + bn(64)
    + conv(64, 128, 4)
    + bn(128)
    + conv(128, 256, 4)
    + bn(256)
    + 2 * linear(256 * 8 * 8, 512)
    + linear(512, 256 * 8 * 8)
    + conv(256, 128, 4)
    + bn(128)
    + conv(128, 64, 4)
    + bn(64)
    + conv(64, 3, 4),
    # the families: the dense 784-400-z backbone with one part swapped or added
    # beta-VAE: the VAE's layers at z=10
    ("beta_vae", ()): linear(784, 400) + 2 * linear(400, 10) + linear(10, 400) + linear(400, 784),
    # WAE-MMD: a deterministic code of 8 (the prior and the penalty have no parameters)
    ("wae_mmd", ()): linear(784, 400) + linear(400, 8) + linear(8, 400) + linear(400, 784),
    # VQ-VAE: code 64 plus a codebook of 256 vectors of 8
    ("vq_vae", ()): linear(784, 400)
    + linear(400, 64)
    + 256 * 8
    + linear(64, 400)
    + linear(400, 784),
    # with the moving-average codebook the codebook is a buffer, not a parameter
    ("vq_vae", (("ema", True),)): linear(784, 400)
    + linear(400, 64)
    + linear(64, 400)
    + linear(400, 784),
    # CVAE: the VAE with a one-hot label (10) beside the input pixels, beside the encoder's
    # 400 features and beside the code
    ("cvae", ()): linear(784 + 10, 400)
    + 2 * linear(400 + 10, 20)
    + linear(20 + 10, 400)
    + linear(400, 784),
    # with a learned 4-d label embedding instead: a 10 x 4 table
    ("cvae", (("embedding", 4),)): linear(784 + 4, 400)
    + 2 * linear(400 + 4, 20)
    + 10 * 4
    + linear(20 + 4, 400)
    + linear(400, 784),
    # the conv CVAE: conv_ae's layers, the label beside the conv features and the code
    ("cvae", (("encoder", "conv"), ("z", 8))): conv(1, 16, 3)
    + conv(16, 32, 3)
    + 2 * linear(32 * 7 * 7 + 10, 8)
    + linear(8 + 10, 32 * 7 * 7)
    + conv(32, 16, 3)
    + conv(16, 1, 3),
    # sparse and contractive AEs: the plain AE (the regularizers have no parameters)
    ("sparse_ae", ()): linear(784, 400) + linear(400, 64) + linear(64, 400) + linear(400, 784),
    ("contractive_ae", ()): linear(784, 400) + linear(400, 20) + linear(20, 400) + linear(400, 784),
    # conv VQ-VAE: conv_ae's layers around a 32-d code and a codebook of 64 x 8
    ("vq_vae", (("encoder", "conv"), ("z", 32), ("codebook_size", 64))): conv(1, 16, 3)
    + conv(16, 32, 3)
    + linear(32 * 7 * 7, 32)
    + 64 * 8
    + linear(32, 32 * 7 * 7)
    + conv(32, 16, 3)
    + conv(16, 1, 3),
}


@pytest.mark.parametrize(("case", "expected"), list(CASES.items()), ids=lambda v: str(v))
def test_parameter_count(case: tuple[str, tuple], expected: int) -> None:
    name, kwargs = case
    assert autoencoders.build(name, **dict(kwargs)).num_parameters() == expected


def test_headline_numbers() -> None:
    # the figures quoted in the docs and README
    assert CASES[("vae", ())] == 652_824
    assert CASES[("conv_vae", ())] == 26_502_019
    assert CASES[("linear_ae", ())] == 3_922
    assert CASES[("small_conv_ae", ())] == 5_723


def test_denoising_variants_have_the_same_parameters() -> None:
    assert autoencoders.build("conv_dae").num_parameters() == CASES[("conv_ae", ())]
    assert autoencoders.build("dae").num_parameters() == CASES[("ae", ())]
    noisy = autoencoders.build("vae", noise="masking", p=0.3)
    assert noisy.num_parameters() == CASES[("vae", ())]
