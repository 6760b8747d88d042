"""Every registered architecture: shapes, gradients, batch independence, save/load."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

import autoencoders
from autoencoders.losses import default_loss

MODELS = autoencoders.list_models()


def _batch(model: autoencoders.Autoencoder, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, *model.input_shape, generator=g)
    return x * 2 - 1 if model.output_activation == "tanh" else x


def _kw(model: autoencoders.Autoencoder, n: int) -> dict:
    """A conditional model's labels for a batch of ``n`` (every class in turn)."""
    return {"labels": torch.arange(n) % model.num_classes} if model.takes_labels else {}


@pytest.fixture(scope="module", params=MODELS)
def model(request: pytest.FixtureRequest) -> autoencoders.Autoencoder:
    torch.manual_seed(0)
    return autoencoders.build(request.param)


def test_forward_backward_shapes(model: autoencoders.Autoencoder) -> None:
    model.train()
    x = _batch(model, 3)
    out = model(x, **_kw(model, 3))
    k = getattr(model.bottleneck, "samples", 1)  # codes drawn per input (the IWAE's k)
    lead = (k,) if k > 1 else ()
    assert out.logits.shape == (*lead, *x.shape)
    assert out.z.shape == (*lead, 3, model.z_dim)
    if model.is_variational:
        assert out.mean.shape == out.logvar.shape == (3, model.z_dim)
        assert out.kl.shape == (3,) and out.kl.dtype == torch.float32
    else:
        assert out.mean is None and out.kl is None
    if model.noise is not None:
        assert out.corrupted is not None and not torch.equal(out.corrupted, x)
    loss = default_loss(model)(out, x)
    assert torch.isfinite(loss.total)
    model.zero_grad()
    loss.total.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads), "every parameter gets a gradient"
    assert any(g.abs().sum() > 0 for g in grads)


def test_encode_decode_reconstruct_shapes(model: autoencoders.Autoencoder) -> None:
    model.eval()
    x = _batch(model, 2)
    kw = _kw(model, 2)
    with torch.no_grad():
        z = model.encode(x, **kw)
        assert z.shape == (2, model.z_dim)
        assert model.decode(z, **kw).shape == x.shape
        r = model.reconstruct(x, **kw)
    assert r.shape == x.shape
    lo, hi = {"sigmoid": (0, 1), "tanh": (-1, 1), "relu": (0, float("inf"))}.get(
        model.output_activation, (-float("inf"), float("inf"))
    )
    assert r.min() >= lo and r.max() <= hi


def test_wrong_shapes_are_named(model: autoencoders.Autoencoder) -> None:
    model.eval()
    z, shape = model.z_dim, model.input_shape
    expected_z = rf"expects latent codes of shape \(N, {z}\), got shape "
    for bad in ((2, z + 1), (z,), (2, 1, z)):
        with pytest.raises(ValueError, match=expected_z + re.escape(str(bad))):
            model.decode(torch.zeros(bad), **_kw(model, bad[0] if len(bad) == 2 else 1))
    expected_x = re.escape(f"expects inputs of shape (N, {', '.join(map(str, shape))}), got shape ")
    flat = (2, math.prod(shape))
    wider = (2, *shape[:-1], shape[-1] + 1)
    for method in ("forward", "encode"):
        for bad in (flat, wider, shape):
            with pytest.raises(ValueError, match=f"Autoencoder.{method} " + expected_x):
                getattr(model, method)(torch.zeros(bad))
    model.train()  # the check comes before any corruption
    with pytest.raises(ValueError, match=expected_x + re.escape(str(flat))):
        model(torch.zeros(flat))


def test_sample_alone_equals_sample_in_batch(model: autoencoders.Autoencoder) -> None:
    model.eval()
    x = _batch(model, 4, seed=1)
    kw = _kw(model, 4)
    with torch.no_grad():
        batch = model(x, **kw)
        alone = model(x[2:3], **{k: v[2:3] for k, v in kw.items()})
    torch.testing.assert_close(alone.logits, batch.logits[2:3], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(alone.z, batch.z[2:3], rtol=1e-4, atol=1e-5)


def test_save_load_identical_outputs(model: autoencoders.Autoencoder, tmp_path: Path) -> None:
    model.eval()
    # make BatchNorm statistics non-trivial so they are checked too
    with torch.no_grad():
        for buf in model.buffers():
            if buf.dtype.is_floating_point:
                buf.add_(0.1 * torch.rand_like(buf))
    autoencoders.save(model, tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    again = autoencoders.load(tmp_path / "m")
    assert type(again) is type(model)
    assert again.config == model.config
    # every parameter and buffer (BatchNorm statistics included) comes back bit for bit
    expected, loaded = model.state_dict(), again.state_dict()
    assert list(loaded) == list(expected)
    for key, value in expected.items():
        assert loaded[key].dtype == value.dtype, key
        assert torch.equal(loaded[key], value), key
    x, kw = _batch(model, 2), _kw(model, 2)
    with torch.no_grad():
        assert torch.equal(again(x, **kw).logits, model(x, **kw).logits)
        assert torch.equal(again.reconstruct(x, **kw), model.reconstruct(x, **kw))


def test_sampling_only_with_a_prior(model: autoencoders.Autoencoder) -> None:
    model.eval()
    assert model.can_sample == (model.is_variational or model.bottleneck.has_prior)
    if model.can_sample:
        g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
        with torch.no_grad():
            kw = _kw(model, 2)
            a, b = model.sample(2, generator=g1, **kw), model.sample(2, generator=g2, **kw)
        assert a.shape == (2, *model.input_shape)
        assert torch.equal(a, b)
    else:
        with pytest.raises(TypeError, match="deterministic bottleneck"):
            model.sample(2)


def test_config_is_json_and_rebuilds(model: autoencoders.Autoencoder) -> None:
    import json

    cfg = model.config
    assert json.loads(json.dumps(cfg)) == cfg
    rebuilt = autoencoders.Autoencoder.from_config(cfg)
    assert rebuilt.num_parameters() == model.num_parameters()
    assert rebuilt.config == cfg


class _PluginGaussian(autoencoders.Bottleneck):
    """A Gaussian bottleneck written to the old contract: ``forward(h)`` only."""

    is_gaussian = True

    def __init__(self, in_features: int = 8, z: int = 2) -> None:
        super().__init__()
        self.in_features, self.z_dim = in_features, z
        self.mean = torch.nn.Linear(in_features, z)
        self.logvar = torch.nn.Linear(in_features, z)

    def forward(self, h):
        from autoencoders.blocks import gaussian_kl

        mean, logvar = self.mean(h), self.logvar(h)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean) if self.training else mean
        return autoencoders.BottleneckOutput(
            z=z, mean=mean, logvar=logvar, kl=gaussian_kl(mean, logvar)
        )

    def sample_prior(self, n, *, generator=None, device=None):
        return torch.randn(n, self.z_dim, generator=generator, device=device)


def test_a_bottleneck_with_forward_h_only_still_validates() -> None:
    """Validation asks for sampled draws; a bottleneck without those keywords is called as before."""
    from autoencoders.blocks import MLPDecoder, MLPEncoder

    enc = MLPEncoder(input_shape=(1, 4, 4), hidden=(8,))
    model = autoencoders.Autoencoder(
        enc, _PluginGaussian(8, 2), MLPDecoder(z=2, output_shape=(1, 4, 4), hidden=(8,))
    ).eval()
    x = torch.rand(6, 1, 4, 4)
    out = model(x, sample=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out.z, out.mean)  # its own rule in eval mode: the mean
    trainer = autoencoders.Trainer(model, epochs=1, batch_size=3, progress=False)
    history = trainer.fit(x, val=x)
    assert torch.isfinite(torch.tensor(history[-1]["val_loss"]))
    assert trainer.evaluate(x)["loss"] == trainer.evaluate(x)["loss"]
