"""Conditional models: labels flow from the data through the Trainer, metrics and plots to the
model; ``cvae`` generates the class it is asked for."""

from __future__ import annotations

import re

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import autoencoders
from autoencoders import metrics, plots
from autoencoders.blocks import LabelCondition
from autoencoders.training.batches import make_source

CLASSES = 4


def _quadrants(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images whose class is the quadrant holding a bright square, plus pixel noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % CLASSES
    x = 0.15 * torch.rand(n, 1, 28, 28, generator=g)
    for i, c in enumerate(y.tolist()):
        r, col = divmod(c, 2)
        x[i, 0, 2 + 14 * r : 12 + 14 * r, 2 + 14 * col : 12 + 14 * col] += 0.8
    return x.clamp(0, 1), y


class _Spy(LabelCondition):
    """A one-hot condition that records the labels it is given (unregistered: tests only)."""

    def __init__(self, num_classes: int = CLASSES) -> None:
        super().__init__(num_classes=num_classes)
        self.seen: list[torch.Tensor] = []

    def forward(self, labels):
        self.seen.append(labels.detach().cpu().clone())
        return super().forward(labels)


def _cvae(**kw) -> autoencoders.Autoencoder:
    torch.manual_seed(0)
    return autoencoders.build("cvae", h=32, z=2, num_classes=CLASSES, **kw)


def test_labels_reach_the_model_with_their_own_images() -> None:
    x, y = _quadrants(24)
    x = x + torch.arange(24).view(24, 1, 1, 1) * 1e-3  # each image tells its index apart
    model = _cvae()
    spy = _Spy()
    model.condition = spy
    seen_x: list[torch.Tensor] = []
    model.encoder.register_forward_pre_hook(lambda _m, a: seen_x.append(a[0].detach().clone()))
    trainer = autoencoders.Trainer(model, epochs=2, batch_size=5, progress=False, seed=1)
    trainer.fit(TensorDataset(x, y))
    assert len(spy.seen) == len(seen_x) == 10  # 5 batches per epoch
    for xb, yb in zip(seen_x, spy.seen, strict=True):
        # which training image each one is (they differ by the ramp added above)
        idx = torch.tensor([int((x - img).abs().flatten(1).sum(1).argmin()) for img in xb])
        assert torch.equal(y[idx], yb), "every batch's labels belong to its images"
    assert len(torch.cat(spy.seen[:5]).unique()) == CLASSES  # an epoch saw every class


@pytest.mark.parametrize("kind", ["tensors", "dataset", "stacked", "loader"])
def test_every_kind_of_labelled_data_trains_the_same(kind: str) -> None:
    x, y = _quadrants(20)
    data = {
        "tensors": TensorDataset(x, y),
        "dataset": [(x[i], int(y[i])) for i in range(20)],  # read through a DataLoader
        "stacked": [(x[i], int(y[i])) for i in range(20)],  # stacked in memory
        "loader": None,
    }[kind]

    def conditional_ae() -> autoencoders.Autoencoder:
        # deterministic, so that a DataLoader's draw from the global RNG changes nothing
        torch.manual_seed(0)
        return autoencoders.compose(
            bottleneck="deterministic", z=2, condition={"name": "label", "num_classes": 4},
            encoder_kwargs={"hidden": [16]}, decoder_kwargs={"hidden": [16]},
        )  # fmt: skip

    ref = autoencoders.Trainer(conditional_ae(), epochs=1, batch_size=4, progress=False, seed=3)
    ref.fit(TensorDataset(x, y))
    model = conditional_ae()
    limit = 0 if kind == "dataset" else 2**31
    trainer = autoencoders.Trainer(
        model, epochs=1, batch_size=4, progress=False, seed=3, in_memory_limit=limit,
        num_workers=0,
    )  # fmt: skip
    if kind == "loader":  # a user's loader in the same order as the Trainer's first epoch
        from autoencoders.training.batches import epoch_permutation

        perm = epoch_permutation(20, 3, 0)
        data = DataLoader(TensorDataset(x[perm], y[perm]), batch_size=4)
    trainer.fit(data)
    for a, b in zip(ref.model.state_dict().values(), model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_batch_sources_hand_out_labels_only_when_asked() -> None:
    x, y = _quadrants(10)
    cpu = torch.device("cpu")
    plain = make_source(TensorDataset(x, y), what="train", device=cpu, batch_size=4)
    assert all(yb is None for _, yb, _ in plain.train_batches(0, 0)[0])
    labelled = make_source(TensorDataset(x, y), what="train", device=cpu, batch_size=4, labels=True)
    got = torch.cat([yb for _, yb in labelled.eval_batches()])
    assert torch.equal(got, y)
    with pytest.raises(ValueError, match=r"train data \(a tensor of inputs\) has no labels"):
        make_source(x, what="train", device=cpu, batch_size=4, labels=True)
    with pytest.raises(TypeError, match="labels have dtype torch.float32"):
        make_source(
            TensorDataset(x, y.float()), what="train", device=cpu, batch_size=4, labels=True
        )


def test_a_conditional_model_refuses_missing_or_bad_labels() -> None:
    model, x = _cvae().eval(), _quadrants(3)[0]
    with pytest.raises(ValueError, match=re.escape("Autoencoder.forward needs labels=")):
        model(x)
    with pytest.raises(
        ValueError, match="label 4 is out of range; the model knows classes 0 ... 3"
    ):
        model(x, labels=torch.tensor([0, 1, 4]))
    with pytest.raises(ValueError, match=r"expected one label per sample, shape \(3,\)"):
        model.encode(x, labels=torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="integer class indices, got a torch.float32"):
        model.reconstruct(x, labels=torch.zeros(3))
    with pytest.raises(ValueError, match="Autoencoder.sample needs labels="):
        model.sample(2)
    with pytest.raises(TypeError, match="is not conditional"):
        autoencoders.build("vae", h=8, z=2)(x, labels=torch.zeros(3, dtype=torch.long))
    trainer = autoencoders.Trainer(model, epochs=1, batch_size=2, progress=False)
    with pytest.raises(ValueError, match="has no labels, but the model is conditional"):
        trainer.fit(x)
    with pytest.raises(ValueError, match="has no labels, but the model is conditional"):
        metrics.mse_per_pixel(model, x)


def test_the_label_changes_the_output_and_sampling_obeys_it() -> None:
    model = _cvae().eval()
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    with torch.no_grad():
        a = model.sample(3, labels=1, generator=g())
        b = model.sample(3, labels=torch.tensor([1, 1, 1]), generator=g())
        c = model.sample(3, labels=2, generator=g())
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_conv_and_embedding_conditions_build_save_and_load(tmp_path) -> None:
    x, y = _quadrants(4)
    for kw in ({"encoder": "conv"}, {"embedding": 3}):
        model = _cvae(**kw).eval()
        assert model.config["condition"]["name"] == "label"
        autoencoders.save(model, tmp_path / str(len(kw)) / next(iter(kw)))
        again = autoencoders.load(tmp_path / str(len(kw)) / next(iter(kw))).eval()
        with torch.no_grad():
            assert torch.equal(again.reconstruct(x, labels=y), model.reconstruct(x, labels=y))
    composed = autoencoders.compose(
        condition={"name": "label", "num_classes": 3}, z=2,
        encoder_kwargs={"hidden": [8]}, decoder_kwargs={"hidden": [8]},
    )  # fmt: skip
    assert composed.takes_labels and composed.bottleneck.in_features == 8 + 3
    assert composed.decoder.z_dim == 2 + 3


def test_mismatched_condition_sizes_are_named() -> None:
    from autoencoders.blocks import GaussianBottleneck, MLPDecoder, MLPEncoder

    enc = MLPEncoder(input_shape=(1, 28, 28), hidden=(8,))
    with pytest.raises(ValueError, match=r"encoder outputs 8 \+ 4 \(the condition\) features"):
        autoencoders.Autoencoder(
            enc, GaussianBottleneck(8, z=2), MLPDecoder(z=6, output_shape=(1, 28, 28)),
            condition=LabelCondition(num_classes=4),
        )  # fmt: skip
    with pytest.raises(ValueError, match=r"build the decoder with z=6"):
        autoencoders.Autoencoder(
            enc, GaussianBottleneck(12, z=2), MLPDecoder(z=2, output_shape=(1, 28, 28)),
            condition=LabelCondition(num_classes=4),
        )  # fmt: skip


def test_metrics_and_plots_pass_the_labels() -> None:
    x, y = _quadrants(16)
    model = _cvae().eval()
    data = (x, y)
    assert metrics.mse_per_pixel(model, data) > 0
    e = metrics.elbo(model, data)
    assert e["neg_elbo"] == pytest.approx(e["recon"] + e["kl"])
    assert metrics.iwae_nll(model, data, k=3) > 0
    assert metrics.code_mmd(model, data) == metrics.code_mmd(model, data)
    assert metrics.mean_jacobian_norm(model, data, limit=4) > 0
    m = metrics.evaluate_model(model, {"train": data, "test": data}, k=3, nll_samples=8)
    assert m["test_nll"] > 0 and "probe_accuracy" in m
    fig = plots.plot_samples(model, n=8)
    assert "column j: class j" in fig.texts[0].get_text()
    plots.plot_reconstructions(model, TensorDataset(x, y), n=4)
    plots.plot_latent_space(model, x, y)
    # the first layer's pixel weights are drawn (the label's columns come after them)
    assert "Linear(784→32)" in plots.plot_filters(model).axes[0].get_title()
    with pytest.raises(ValueError, match="no labels, but the model is conditional"):
        plots.plot_reconstructions(model, x, n=4)


def test_cvae_generates_the_class_it_is_asked_for() -> None:
    """The issue's check at a small size: a classifier of real images recognises the class
    of the CVAE's samples (accuracy >= 0.8 averaged over classes)."""
    x, y = _quadrants(200)
    xt, yt = _quadrants(100, seed=1)
    torch.manual_seed(0)
    model = autoencoders.build("cvae", h=64, z=2, num_classes=CLASSES)
    # long enough for the code to stop carrying the class (the label does, for free)
    trainer = autoencoders.Trainer(model, epochs=60, batch_size=16, lr=3e-3, progress=False, seed=0)
    trainer.fit(TensorDataset(x, y))
    r = metrics.conditional_sample_accuracy(model, (x, y), (xt, yt), per_class=50, epochs=3)
    assert r.classifier_accuracy >= 0.95  # the judge itself is reliable on real images
    assert r.accuracy >= 0.8, r
    assert len(r.per_class) == CLASSES and r.samples_per_class == 50
    # an untrained CVAE's samples are not of the class asked for
    blank = metrics.conditional_sample_accuracy(
        autoencoders.build("cvae", h=64, z=2, num_classes=CLASSES), (x, y), (xt, yt),
        per_class=50, epochs=3,
    )  # fmt: skip
    assert blank.accuracy < 0.6


def test_conditional_sample_accuracy_refuses_other_models() -> None:
    x, y = _quadrants(8)
    with pytest.raises(TypeError, match="needs a conditional model"):
        metrics.conditional_sample_accuracy(autoencoders.build("vae", h=8, z=2), (x, y), (x, y))
    with pytest.raises(ValueError, match="has no labels"):
        metrics.conditional_sample_accuracy(_cvae(), x, (x, y))


def test_the_dense_encoder_sees_the_label_from_its_first_layer() -> None:
    from autoencoders.blocks import MLPEncoder

    model = _cvae().eval()
    assert model.encoder.condition_features == CLASSES
    assert model.encoder.net[0].in_features == 28 * 28 + CLASSES
    x = _quadrants(1)[0].expand(2, -1, -1, -1)
    with torch.no_grad():  # the same image under two labels: two posteriors
        h = model.encoder(x, condition=model.condition(torch.tensor([0, 1])))
    assert not torch.equal(h[0], h[1])
    with pytest.raises(ValueError, match=r"condition_features=4: it takes a condition of shape"):
        model.encoder(x)
    with pytest.raises(ValueError, match="condition_features=0"):
        MLPEncoder(hidden=(8,))(x, condition=torch.zeros(2, 4))
    with pytest.raises(ValueError, match="build the encoder with condition_features=3"):
        autoencoders.Autoencoder(
            model.encoder, model.bottleneck, model.decoder, condition=LabelCondition(3)
        )
    # a conv encoder takes no condition: the label joins its features only
    assert _cvae(encoder="conv").encoder.condition_features == 0
