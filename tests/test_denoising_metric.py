"""The denoising metric: a seeded, fixed noisy copy of the test set, scored against the clean set.

Checked against a recomputation by hand; the draw against the transforms called with a seeded
generator; independence of the batch size, of the model and of the noise's spelling; the global
RNGs untouched; and what :func:`evaluate_model` adds for a noise model.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, TensorDataset

import autoencoders
from autoencoders import metrics as M
from autoencoders.metrics.denoising import resolve_noise
from autoencoders.noise import GaussianNoise, Masking, SaltAndPepper

SHAPE = (1, 8, 8)


def tiny(noise: object = None, seed: int = 0, **kwargs: object) -> autoencoders.Autoencoder:
    torch.manual_seed(seed)
    kwargs = {"h": 12, "z": 3, "input_shape": SHAPE, **kwargs}
    return autoencoders.build("ae", noise=noise, **kwargs)


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.rand(37, *SHAPE, generator=torch.Generator().manual_seed(5))


# -- noisy_copy --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "module"),
    [
        ("gaussian", GaussianNoise()),
        ({"name": "gaussian", "noise_factor": 0.2}, GaussianNoise(noise_factor=0.2)),
        ({"name": "masking", "kwargs": {"p": 0.4}}, Masking(p=0.4)),
        ({"name": "salt_and_pepper", "p": 0.3}, SaltAndPepper(p=0.3)),
    ],
)
def test_noisy_copy_is_the_transform_with_a_seeded_generator(spec, module, x) -> None:
    expected = module(x.clone(), generator=torch.Generator().manual_seed(3))
    assert torch.equal(M.noisy_copy(x, spec, seed=3), expected)
    assert torch.equal(M.noisy_copy(x, module, seed=3), expected)
    assert not torch.equal(M.noisy_copy(x, spec, seed=4), expected)
    assert not torch.equal(M.noisy_copy(x, spec, seed=3), x)


def test_noisy_copy_leaves_the_global_rng_and_the_input_alone(x) -> None:
    before, original = torch.get_rng_state(), x.clone()
    M.noisy_copy(x, "gaussian", seed=0)
    M.noisy_copy(x, lambda t: t + torch.rand(t.shape), seed=0)  # draws from the global RNG
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(x, original)


def test_noisy_copy_of_a_transform_without_a_generator_is_still_seeded(x) -> None:
    def jitter(t: torch.Tensor) -> torch.Tensor:
        return t + torch.randn(t.shape)

    a, b = M.noisy_copy(x, jitter, seed=7), M.noisy_copy(x, jitter, seed=7)
    assert torch.equal(a, b) and not torch.equal(a, M.noisy_copy(x, jitter, seed=8))


def test_noisy_copy_keeps_dtype_and_accepts_arrays(x) -> None:
    doubled = M.noisy_copy(x.double(), "gaussian", seed=1)
    assert doubled.dtype == torch.float64
    assert torch.allclose(doubled.float(), M.noisy_copy(x, "gaussian", seed=1))
    from_numpy = M.noisy_copy(x.numpy(), "gaussian", seed=1)
    assert torch.equal(from_numpy, M.noisy_copy(x, "gaussian", seed=1))


def test_noisy_copy_errors(x) -> None:
    with pytest.raises(TypeError, match="noise must be a registered noise-transform name"):
        M.noisy_copy(x, 0.5)
    with pytest.raises(ValueError, match="needs a 'name' entry"):
        M.noisy_copy(x, {"noise_factor": 0.5})
    with pytest.raises(ValueError, match="gaussian"):  # the registry lists what exists
        M.noisy_copy(x, "gausian")
    with pytest.raises(ValueError, match="seed must be an integer"):
        M.noisy_copy(x, "gaussian", seed=1.5)
    with pytest.raises(TypeError, match="takes a tensor"):
        M.noisy_copy([[0.1]], "gaussian")
    with pytest.raises(TypeError, match="must return a tensor of the input's shape"):
        M.noisy_copy(x, lambda t: t[:1], seed=0)


def test_resolve_noise_builds_through_the_registry() -> None:
    built = resolve_noise({"name": "gaussian", "noise_factor": 0.1, "clip": None})
    assert isinstance(built, GaussianNoise) and built.noise_factor == 0.1 and built.clip is None
    module = Masking(p=0.1)
    assert resolve_noise(module) is module


# -- denoising_mse -----------------------------------------------------------------------------
def test_denoising_mse_by_hand(x) -> None:
    model = tiny("gaussian", noise_factor=0.3)
    noisy = GaussianNoise(noise_factor=0.3)(x, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = ((model.reconstruct(noisy).double() - x.double()) ** 2).mean().item()
    assert M.denoising_mse(model, x) == pytest.approx(expected, rel=1e-6)
    # the same definition as mse_per_pixel: with no corruption they agree
    identity = lambda t, generator=None: t  # noqa: E731
    assert M.denoising_mse(model, x, noise=identity) == pytest.approx(
        M.mse_per_pixel(model, x), rel=1e-12
    )


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 40), st.sampled_from(["gaussian", "masking", "salt_and_pepper"]))
def test_denoising_mse_does_not_depend_on_the_batch_size(batch_size: int, kind: str) -> None:
    """The model sees the same noisy inputs whatever the batch size (the value differs only by
    the float32 rounding of batched matrix products)."""
    x = torch.rand(37, *SHAPE, generator=torch.Generator().manual_seed(5))
    model = tiny(kind)
    inputs: list[torch.Tensor] = []
    original = model.reconstruct

    def reconstruct(t: torch.Tensor) -> torch.Tensor:
        inputs.append(t.clone())
        return original(t)

    model.reconstruct = reconstruct  # type: ignore[method-assign]
    ref = M.denoising_mse(model, x, batch_size=256)
    assert len(inputs) == 1
    assert M.denoising_mse(model, x, batch_size=batch_size) == pytest.approx(ref, rel=1e-6)
    assert len(inputs) == 1 + math.ceil(37 / batch_size)
    assert torch.equal(torch.cat(inputs[1:]), inputs[0])
    assert torch.equal(inputs[0], M.noisy_copy(x, kind, seed=0))


def test_denoising_mse_takes_any_data_and_restores_the_mode(x) -> None:
    model = tiny("masking").train()
    ref = M.denoising_mse(model, x)
    y = torch.arange(len(x))
    assert M.denoising_mse(model, (x, y)) == pytest.approx(ref, rel=1e-6)
    assert M.denoising_mse(model, TensorDataset(x, y)) == pytest.approx(ref, rel=1e-6)
    loader = DataLoader(TensorDataset(x), batch_size=10)
    assert M.denoising_mse(model, loader) == pytest.approx(ref, rel=1e-6)
    assert M.denoising_mse(model, x.flatten(1)) == pytest.approx(ref, rel=1e-6)
    assert model.training


def test_denoising_mse_noise_argument(x) -> None:
    plain = tiny()
    with pytest.raises(ValueError, match="has no noise transform; pass noise="):
        M.denoising_mse(plain, x)
    given_noise = M.denoising_mse(plain, x, noise={"name": "gaussian", "noise_factor": 0.3})
    assert math.isfinite(given_noise) and given_noise > 0
    dae = tiny("gaussian", noise_factor=0.3)
    dae.load_state_dict(plain.state_dict())
    assert M.denoising_mse(dae, x) == pytest.approx(given_noise, rel=1e-12)
    # an explicit noise wins over the model's own
    assert M.denoising_mse(dae, x, noise="masking") != pytest.approx(given_noise)
    with pytest.raises(ValueError, match="batch_size"):
        M.denoising_mse(dae, x, batch_size=0)


def test_denoising_mse_leaves_the_global_rng_alone(x) -> None:
    before = torch.get_rng_state()
    M.denoising_mse(tiny("salt_and_pepper"), x)
    assert torch.equal(torch.get_rng_state(), before)


# -- evaluate_model ----------------------------------------------------------------------------
def test_evaluate_model_adds_denoising_for_noise_models_only(x) -> None:
    splits = {"train": x, "test": x}
    plain = M.evaluate_model(tiny(), splits, include_pca=False)
    assert "denoising_mse" not in plain and "denoising_psnr" not in plain
    model = tiny("gaussian", noise_factor=0.4)
    m = M.evaluate_model(model, splits, include_pca=False, seed=2)
    assert m["denoising_mse"] == pytest.approx(M.denoising_mse(model, x, seed=2), rel=1e-12)
    assert m["denoising_psnr"] == pytest.approx(M.psnr_from_mse(m["denoising_mse"]))
    assert m["denoising_mse"] != pytest.approx(m["test_mse"])


def test_evaluate_model_denoising_psnr_uses_the_models_range() -> None:
    model = tiny("gaussian", output_activation="tanh")
    assert model.pixel_range == (-1.0, 1.0)
    x = torch.rand(12, *SHAPE, generator=torch.Generator().manual_seed(0)) * 2 - 1
    m = M.evaluate_model(model, {"train": x, "test": x}, include_pca=False)
    assert m["denoising_psnr"] == pytest.approx(10 * math.log10(4 / m["denoising_mse"]))


def test_models_with_the_same_noise_see_the_same_noisy_copy(x, monkeypatch) -> None:
    """Two models with equal noise settings get the same inputs; another seed changes them."""
    seen: dict[str, list[torch.Tensor]] = {}

    def spy(name: str, model: autoencoders.Autoencoder) -> autoencoders.Autoencoder:
        original = model.reconstruct
        seen[name] = []

        def reconstruct(t: torch.Tensor) -> torch.Tensor:
            seen[name].append(t.clone())
            return original(t)

        monkeypatch.setattr(model, "reconstruct", reconstruct)
        return model

    splits = {"train": x, "test": x}
    kwargs = {"include_pca": False, "batch_size": 16}
    a = spy("a", tiny("gaussian", seed=0, noise_factor=0.3))
    b = spy("b", tiny({"name": "gaussian", "noise_factor": 0.3}, seed=1, h=20))
    c = spy("c", tiny("gaussian", seed=0, noise_factor=0.3))
    before = torch.get_rng_state()
    M.evaluate_model(a, splits, **kwargs)
    M.evaluate_model(b, splits, **kwargs)
    M.evaluate_model(c, splits, seed=1, **kwargs)
    assert torch.equal(torch.get_rng_state(), before)
    # each model reconstructs the clean test set, then the noisy copy
    noisy = {k: torch.cat(v[len(v) // 2 :]) for k, v in seen.items()}
    assert torch.equal(torch.cat(seen["a"][: len(seen["a"]) // 2]), x)
    assert torch.equal(noisy["a"], noisy["b"])
    assert torch.equal(noisy["a"], M.noisy_copy(x, GaussianNoise(noise_factor=0.3), seed=0))
    assert not torch.equal(noisy["a"], noisy["c"])


def test_evaluate_model_with_one_corruption_for_every_model(x) -> None:
    splits = {"train": x, "test": x}
    fixed = {"name": "masking", "p": 0.3}
    plain = M.evaluate_model(tiny(), splits, include_pca=False, denoising_noise=fixed)
    assert plain["denoising_mse"] == pytest.approx(M.denoising_mse(tiny(), x, noise=fixed))
    dae = tiny("gaussian")
    m = M.evaluate_model(dae, splits, include_pca=False, denoising_noise=fixed)
    assert m["denoising_mse"] == pytest.approx(M.denoising_mse(dae, x, noise=fixed))
    assert m["denoising_mse"] != pytest.approx(M.denoising_mse(dae, x))
