"""Blocks: shape invariants over random configurations, and errors for bad arguments."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import autoencoders
from autoencoders.blocks import (
    ConvDecoder,
    ConvEncoder,
    DeterministicBottleneck,
    GaussianBottleneck,
    MLPDecoder,
    MLPEncoder,
    spec_of,
)

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)
ACTS = st.sampled_from(["relu", "sigmoid", "tanh", "leaky_relu", "none"])


@SETTINGS
@given(
    shape=st.sampled_from([(1, 28, 28), (784,), (3, 8, 8), (2, 5)]),
    hidden=st.lists(st.integers(1, 48), min_size=0, max_size=3),
    z=st.integers(1, 12),
    batch=st.integers(1, 5),
    activation=ACTS,
    gaussian=st.booleans(),
)
def test_mlp_models_keep_shapes(shape, hidden, z, batch, activation, gaussian) -> None:
    model = autoencoders.compose(
        shape,
        encoder="mlp",
        encoder_kwargs={"hidden": hidden, "activation": activation},
        bottleneck="gaussian" if gaussian else "deterministic",
        z=z,
        decoder_kwargs={"hidden": hidden[::-1], "activation": activation},
    ).eval()
    x = torch.rand(batch, *shape)
    out = model(x)
    assert out.logits.shape == x.shape
    assert model.encode(x).shape == (batch, z)
    assert model.decode(torch.zeros(batch, z)).shape == x.shape
    assert model.encoder.out_features == (hidden[-1] if hidden else x[0].numel())


@SETTINGS
@given(
    channels=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    kernel=st.integers(1, 4),
    stride=st.integers(1, 2),
    padding=st.integers(0, 2),
    pool=st.sampled_from([0, 2]),
    size=st.integers(8, 20),
    batch=st.integers(1, 4),
    batch_norm=st.booleans(),
)
def test_conv_encoder_shape_arithmetic(
    channels, kernel, stride, padding, pool, size, batch, batch_norm
) -> None:
    args = dict(
        input_shape=(2, size, size + 1),
        channels=channels,
        kernel_size=kernel,
        stride=stride,
        padding=padding,
        pool=pool,
        batch_norm=batch_norm,
    )
    try:
        enc = ConvEncoder(**args)
    except ValueError as exc:  # configurations that shrink the image to nothing
        assert "shrinks to nothing" in str(exc)
        return
    enc.eval()
    out = enc.net(torch.rand(batch, 2, size, size + 1))
    assert tuple(out.shape[1:]) == enc.feature_shape  # the arithmetic matches PyTorch
    assert enc(torch.rand(batch, 2, size, size + 1)).shape == (batch, enc.out_features)


@SETTINGS
@given(
    depth=st.integers(1, 3),
    z=st.integers(1, 8),
    start=st.integers(2, 5),
    channels=st.integers(1, 6),
    out_channels=st.sampled_from([1, 3]),
    batch=st.integers(1, 3),
)
def test_conv_decoder_upsamples_by_two_per_layer(depth, z, start, channels, out_channels, batch):
    size = start * 2**depth
    dec = ConvDecoder(
        z=z,
        output_shape=(out_channels, size, size),
        start_shape=(channels, start, start),
        channels=[channels] * (depth - 1) + [out_channels],
        kernel_size=4,
        stride=2,
        padding=1,
        output_padding=0,
    )
    assert dec(torch.randn(batch, z)).shape == (batch, out_channels, size, size)


def _conv_size(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1  # PyTorch's formula, written out independently


@st.composite
def mirrored_conv_models(draw: st.DrawFn) -> dict:
    """A conv encoder with random stages and a transposed-conv decoder that inverts it exactly.

    Each encoder stage is conv(k, s, p) [+ pool]; the decoder undoes a pool with a
    ConvTranspose(pool, stride pool) and a conv with ConvTranspose(k, s, p), choosing
    ``output_padding`` as the remainder the forward arithmetic dropped (always < stride).
    The decoder's own channels are drawn independently of the encoder's.
    """
    in_c = draw(st.sampled_from([1, 3]))
    size = (draw(st.integers(6, 20)), draw(st.integers(6, 20)))
    depth = draw(st.integers(1, 3))
    enc = {"channels": [], "kernel_size": [], "stride": [], "padding": [], "pool": []}
    undo: list[tuple[int, int, int, int]] = []  # (kernel, stride, padding, output_padding)
    h, w = size
    for _ in range(depth):
        k = draw(st.integers(1, 5))
        s = draw(st.integers(1, 3))
        p = draw(st.integers(0, k))
        pool = draw(st.sampled_from([0, 0, 2, 3]))
        hc, wc = _conv_size(h, k, s, p), _conv_size(w, k, s, p)
        assume(min(hc, wc) >= max(pool, 1))
        # one output_padding for both dimensions: the decoder takes ints, not (h, w) pairs
        assume((h + 2 * p - k) % s == (w + 2 * p - k) % s)
        steps = [(k, s, p, (h + 2 * p - k) % s)]
        if pool:
            assume(hc % pool == wc % pool)
            steps.append((pool, pool, 0, hc % pool))
            hc, wc = hc // pool, wc // pool
        undo = steps[::-1] + undo
        for key, value in zip(enc, (draw(st.integers(1, 6)), k, s, p, pool)):
            enc[key].append(value)
        h, w = hc, wc
    dec_channels = [draw(st.integers(1, 6)) for _ in undo[:-1]] + [in_c]
    dec = {
        "start_shape": [enc["channels"][-1], h, w],
        "channels": dec_channels,
        **{key: [u[i] for u in undo] for i, key in enumerate(CONV_T_KEYS)},
    }
    common = {
        "batch_norm": draw(st.booleans()),
        "activation": draw(st.sampled_from(["relu", "tanh", "leaky_relu"])),
    }
    return {
        "input_shape": (in_c, *size),
        "feature_shape": (enc["channels"][-1], h, w),
        "encoder_kwargs": {**enc, **common},
        "decoder_kwargs": {**dec, **common},
    }


CONV_T_KEYS = ("kernel_size", "stride", "padding", "output_padding")


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Tiny convolutions run ~50x slower with two threads on a busy two-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    spec=mirrored_conv_models(),
    gaussian=st.booleans(),
    z=st.integers(1, 12),
    batch=st.integers(1, 4),
)
def test_composed_conv_models_keep_shapes(spec: dict, gaussian: bool, z: int, batch: int) -> None:
    model = autoencoders.compose(
        spec["input_shape"],
        encoder="conv",
        encoder_kwargs=spec["encoder_kwargs"],
        bottleneck="gaussian" if gaussian else "deterministic",
        z=z,
        decoder="conv",
        decoder_kwargs=spec["decoder_kwargs"],
    )
    assert model.encoder.feature_shape == spec["feature_shape"]
    x = torch.rand(batch, *spec["input_shape"])
    model.eval()
    with torch.no_grad():
        out = model(x)
        assert out.logits.shape == x.shape
        assert out.z.shape == model.encode(x).shape == (batch, z)
        assert model.decode(torch.randn(batch, z)).shape == x.shape
        assert model.reconstruct(x).shape == x.shape
    # training mode (BatchNorm needs two samples there), and every parameter learns
    model.train()
    xt = torch.rand(max(batch, 2), *spec["input_shape"])
    out = model(xt)
    assert out.logits.shape == xt.shape
    loss = autoencoders.losses.default_loss(model)(out, xt).total
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in model.parameters())


def test_conv_decoder_checks_output_shape() -> None:
    with pytest.raises(ValueError, match=r"produces \(1, 14, 14\).*output_shape is \(1, 28, 28\)"):
        ConvDecoder(z=4, output_shape=(1, 28, 28), start_shape=(8, 7, 7), channels=[1])


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: MLPEncoder(hidden=[0]),
            r"hidden must be a list of positive ints, got \[0\] \(entry 0 is 0\)",
        ),
        (lambda: MLPEncoder(activation="relu6"), "unknown activation 'relu6'; accepted: relu"),
        (lambda: MLPEncoder(input_shape=[]), "input_shape must be a non-empty sequence"),
        (lambda: MLPEncoder(dropout=1.5), r"dropout must be in \[0, 1\), got 1.5"),
        (lambda: MLPDecoder(output_activation="softmax"), "unknown output activation 'softmax'"),
        (lambda: ConvEncoder(input_shape=(28, 28)), "needs input_shape \\(channels, height"),
        (lambda: ConvEncoder(channels=[4, 4], kernel_size=[3]), "kernel_size has 1 entries"),
        (lambda: ConvEncoder(pool_type="median"), "pool_type must be 'max' or 'avg'"),
        (lambda: ConvEncoder(kernel_size=0), "kernel_size must be a positive integer, got 0"),
        (lambda: ConvEncoder(kernel_size=2.5), "kernel_size must be a positive integer, got 2.5"),
        (lambda: ConvEncoder(stride=[1, 0]), "stride must be a positive integer, got 0"),
        (lambda: ConvEncoder(padding=-1), "padding must be an integer >= 0, got -1"),
        (lambda: ConvEncoder(pool=-2), r"pool must be a positive integer \(0 or None for no"),
        (lambda: ConvDecoder(stride=0), "stride must be a positive integer, got 0"),
        (lambda: ConvDecoder(output_padding=-1), "output_padding must be an integer >= 0, got -1"),
        (
            lambda: ConvDecoder(
                output_shape=(1, 9, 9),
                start_shape=(2, 8, 8),
                channels=[1],
                kernel_size=1,
                stride=1,
                padding=0,
                output_padding=1,
            ),
            "output_padding must be smaller than the stride, got output_padding 1 with stride 1",
        ),
        (lambda: DeterministicBottleneck(in_features=4, z=True), "z must be a positive integer"),
        (lambda: GaussianBottleneck(in_features=-1), "in_features must be a positive integer"),
    ],
)
def test_bad_arguments_name_the_value(make, match) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_encoder_rejects_wrong_input_shape() -> None:
    enc = MLPEncoder(input_shape=(1, 28, 28))
    with pytest.raises(
        ValueError, match=r"expects inputs of shape \(N, 1, 28, 28\), got shape \(2, 784\)"
    ):
        enc(torch.zeros(2, 784))


@pytest.mark.parametrize(
    "decoder",
    [
        MLPDecoder(z=4),
        ConvDecoder(z=4, output_shape=(1, 8, 8), start_shape=(2, 4, 4), channels=[1]),
    ],
)
def test_decoder_rejects_wrong_latent_shape(decoder) -> None:
    name = type(decoder).__name__
    for bad in [(2, 5), (4,), (2, 1, 4)]:
        with pytest.raises(
            ValueError, match=rf"{name} expects latent codes of shape \(N, 4\), got shape "
        ):
            decoder(torch.zeros(bad))


def test_mismatched_blocks_refused() -> None:
    enc = MLPEncoder(hidden=[32])
    with pytest.raises(
        ValueError, match="encoder outputs 32 features but the bottleneck expects 16"
    ):
        autoencoders.Autoencoder(enc, GaussianBottleneck(16, z=2), MLPDecoder(z=2))
    with pytest.raises(ValueError, match="bottleneck z=2 but decoder z=3"):
        autoencoders.Autoencoder(enc, GaussianBottleneck(32, z=2), MLPDecoder(z=3))
    with pytest.raises(ValueError, match="differs from decoder output_shape"):
        autoencoders.Autoencoder(
            enc, GaussianBottleneck(32, z=2), MLPDecoder(z=2, output_shape=(3, 8, 8))
        )


def test_gaussian_bottleneck_train_samples_eval_uses_mean() -> None:
    torch.manual_seed(0)
    b = GaussianBottleneck(in_features=6, z=3)
    h = torch.randn(4, 6)
    b.eval()
    out = b(h)
    assert torch.equal(out.z, out.mean)
    b.train()
    out = b(h)
    assert not torch.equal(out.z, out.mean)
    # z - mean is exp(logvar / 2) * eps: standardising recovers a finite eps
    eps = (out.z - out.mean) / torch.exp(0.5 * out.logvar)
    assert torch.isfinite(eps).all()
    b.sample_in_eval = True
    b.eval()
    assert not torch.equal(b(h).z, b(h).mean)


def test_deterministic_bottleneck_activation() -> None:
    b = DeterministicBottleneck(in_features=5, z=3, activation="tanh")
    z = b(100 * torch.randn(10, 5)).z
    assert z.abs().max() <= 1
    with pytest.raises(TypeError, match="deterministic and has no prior"):
        b.sample_prior(2)


def test_block_records_constructor_kwargs() -> None:
    enc = MLPEncoder(input_shape=(1, 28, 28), hidden=(64, 32), activation="tanh")
    spec = spec_of(enc, "encoder")
    assert spec.name == "mlp"
    assert spec.kwargs == {
        "input_shape": (1, 28, 28),
        "hidden": (64, 32),
        "activation": "tanh",
        "dropout": 0.0,
        "batch_norm": False,
        "condition_features": 0,
    }


def test_unregistered_subclass_cannot_pass_as_parent() -> None:
    class Wider(MLPEncoder):
        def __init__(self, width: int = 8) -> None:
            super().__init__(hidden=[width])

    with pytest.raises(TypeError, match="Wider is not a registered encoder"):
        spec_of(Wider(), "encoder")
