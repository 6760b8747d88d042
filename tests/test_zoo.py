"""The named architectures are exactly the specified networks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import autoencoders
from autoencoders.noise import GaussianNoise, Masking


def _layers(module: nn.Module, kinds: tuple[type, ...]) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, kinds)]


def test_linear_ae_is_two_linear_maps_and_a_sigmoid() -> None:
    m = autoencoders.build("linear_ae", z=2).eval()
    (enc,) = _layers(m.bottleneck, (nn.Linear,))
    (dec,) = _layers(m.decoder, (nn.Linear,))
    assert (enc.in_features, enc.out_features, dec.in_features, dec.out_features) == (
        784,
        2,
        2,
        784,
    )
    x = torch.rand(5, 1, 28, 28)
    manual = torch.sigmoid(dec(enc(x.flatten(1)))).reshape(5, 1, 28, 28)
    torch.testing.assert_close(m.reconstruct(x), manual)
    assert not _layers(m, (nn.ReLU, nn.Sigmoid, nn.Tanh))  # no hidden activation anywhere


def test_vae_hidden_sizes_mirror() -> None:
    m = autoencoders.build("vae", hidden=(400, 100), z=20)
    enc = [(lin.in_features, lin.out_features) for lin in _layers(m.encoder, (nn.Linear,))]
    dec = [(lin.in_features, lin.out_features) for lin in _layers(m.decoder, (nn.Linear,))]
    assert enc == [(784, 400), (400, 100)]
    assert (m.bottleneck.mean.in_features, m.bottleneck.mean.out_features) == (100, 20)
    assert dec == [(20, 100), (100, 400), (400, 784)]


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_ae_activation_choice(activation: str) -> None:
    m = autoencoders.build("ae", h=64, z=8, activation=activation)
    kind = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[activation]
    assert len(_layers(m, (kind,))) == 2
    assert m.output_activation == "sigmoid"


def test_small_conv_ae_is_the_keras_network() -> None:
    m = autoencoders.build("small_conv_ae")
    convs = [
        (c.in_channels, c.out_channels, c.kernel_size, c.padding)
        for c in _layers(m.encoder, (nn.Conv2d,))
    ]
    assert convs == [(1, 8, (2, 2), (0, 0)), (8, 16, (2, 2), (0, 0)), (16, 32, (2, 2), (0, 0))]
    assert len(_layers(m.encoder, (nn.MaxPool2d,))) == 2
    assert m.encoder.feature_shape == (32, 5, 5)
    assert (m.bottleneck.fc.in_features, m.bottleneck.fc.out_features) == (800, 2)
    assert isinstance(m.bottleneck.act, nn.Tanh)
    assert (m.decoder.fc.out_features, m.decoder.start_shape) == (392, (8, 7, 7))
    assert isinstance(m.decoder.fc_act, nn.Tanh)
    deconvs = [
        (c.in_channels, c.out_channels, c.kernel_size, c.stride)
        for c in _layers(m.decoder, (nn.ConvTranspose2d,))
    ]
    assert deconvs == [(8, 8, (2, 2), (2, 2)), (8, 1, (2, 2), (2, 2))]
    assert m.output_activation == "relu"
    z = m.encode(torch.rand(3, 1, 28, 28))
    assert z.abs().max() <= 1 and z.shape == (3, 2)
    assert all(
        float(b.detach().abs().sum()) == 0 for b in (c.bias for c in _layers(m, (nn.Conv2d,)))
    )


def test_conv_vae_is_the_face_vae() -> None:
    m = autoencoders.build("conv_vae")
    convs = _layers(m.encoder, (nn.Conv2d,))
    assert [(c.in_channels, c.out_channels) for c in convs] == [(3, 64), (64, 128), (128, 256)]
    assert all(
        c.kernel_size == (4, 4) and c.stride == (2, 2) and c.padding == (1, 1) for c in convs
    )
    assert len(_layers(m.encoder, (nn.BatchNorm2d,))) == 3
    assert len(_layers(m.encoder, (nn.ReLU,))) == 3
    assert m.encoder.feature_shape == (256, 8, 8)
    assert m.bottleneck.mean.in_features == 256 * 8 * 8 and m.z_dim == 512
    deconvs = _layers(m.decoder, (nn.ConvTranspose2d,))
    assert [(c.in_channels, c.out_channels) for c in deconvs] == [(256, 128), (128, 64), (64, 3)]
    lrelu = _layers(m.decoder, (nn.LeakyReLU,))
    assert len(lrelu) == 2 and all(a.negative_slope == 0.2 for a in lrelu)
    assert len(_layers(m.decoder, (nn.BatchNorm2d,))) == 2
    assert m.output_activation == "tanh" and m.input_shape == (3, 64, 64)
    small = autoencoders.build("conv_vae", z=16, filters=(8, 16, 32))
    assert small.sample(2).shape == (2, 3, 64, 64)


def test_conv_dae_corrupts_only_in_training() -> None:
    m = autoencoders.build("conv_dae")
    assert isinstance(m.noise, GaussianNoise) and m.noise.noise_factor == 0.5
    x = torch.rand(2, 1, 28, 28)
    m.train()
    out = m(x)
    assert out.corrupted is not None and out.corrupted.min() >= 0 and out.corrupted.max() <= 1
    m.eval()
    assert m(x).corrupted is None


def test_any_model_becomes_denoising_by_naming_a_noise() -> None:
    m = autoencoders.build("vae", h=32, z=4, noise="masking", p=0.3)
    assert isinstance(m.noise, Masking) and m.noise.p == 0.3
    assert m.config["noise"] == {"name": "masking", "kwargs": {"p": 0.3, "value": 0.0}}
    assert m.architecture == {
        "name": "vae",
        "kwargs": {"h": 32, "z": 4, "p": 0.3, "noise": "masking"},
    }
    d = autoencoders.build("ae", noise={"name": "gaussian", "noise_factor": 0.2})
    assert d.noise.noise_factor == 0.2
    with pytest.raises(autoencoders.UnknownNameError, match="unknown noise transform 'gausian'"):
        autoencoders.build("ae", noise="gausian")


def test_model_kwarg_goes_to_model_not_noise() -> None:
    # conv_dae takes noise_factor itself; naming another noise replaces its corruption
    m = autoencoders.build("conv_dae", noise_factor=0.1)
    assert m.noise.noise_factor == 0.1
    m = autoencoders.build("conv_dae", noise="salt_and_pepper", p=0.05)
    assert type(m.noise).__name__ == "SaltAndPepper"


def test_aliases_resolve() -> None:
    assert autoencoders.build("face_vae", z=8, filters=(4, 8, 16)).z_dim == 8
    assert autoencoders.build("keras-conv-ae").num_parameters() == 5723
