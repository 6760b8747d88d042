"""Tests of autoencoders.metrics against independent computations.

MSE and PSNR by hand from the parameters; PCA against NumPy's SVD; the IWAE estimator against a
recomputation with torch.distributions and against the ELBO (equal in expectation for k = 1,
tighter for k > 1, and tighter still as k grows, by paired differences and their standard
errors, on a briefly trained VAE on Fashion-MNIST and on synthetic images); the linear probe on separable
synthetic data and, when installed, on Fashion-MNIST.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Normal
from torch.utils.data import DataLoader, Dataset, TensorDataset

import autoencoders
from autoencoders import metrics as M
from autoencoders.blocks import gaussian_kl
from autoencoders.data import from_tensors
from autoencoders.losses import ELBOLoss

FASHION = Path("/usr/share/datasets/fashion-mnist")
requires_fashion = pytest.mark.skipif(
    not (FASHION / "t10k-images-idx3-ubyte.gz").is_file(),
    reason="Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)",
)


def se(values: torch.Tensor) -> float:
    """Standard error of the mean."""
    return float(values.std() / math.sqrt(len(values)))


@pytest.fixture(scope="module")
def images() -> tuple[torch.Tensor, torch.Tensor]:
    """256 binary-ish 28x28 images from four prototypes, with the prototype as label."""
    g = torch.Generator().manual_seed(1)
    protos = (torch.rand(4, 1, 28, 28, generator=g) > 0.5).float()
    y = torch.arange(256) % 4
    x = protos[y] * 0.9 + 0.05 + 0.05 * torch.rand(256, 1, 28, 28, generator=g)
    return x.clamp(0, 1), y


@pytest.fixture(scope="module")
def trained_vae(images) -> autoencoders.Autoencoder:
    """A tiny VAE after 30 Adam steps, so that its posterior is no longer the prior."""
    x, _ = images
    torch.manual_seed(0)
    model = autoencoders.build("vae", h=32, z=4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss = ELBOLoss()
    for _ in range(30):
        opt.zero_grad()
        loss(model(x), x).total.backward()
        opt.step()
    return model.eval()


# -- reconstruction -------------------------------------------------------------------------------
def test_mse_per_pixel_by_hand() -> None:
    torch.manual_seed(0)
    model = autoencoders.build("linear_ae", z=3)
    x = torch.rand(10, 1, 28, 28)
    enc, dec = model.bottleneck.fc, model.decoder.net[0]
    flat = x.reshape(10, -1).double()
    with torch.no_grad():
        z = flat @ enc.weight.double().T + enc.bias.double()
        recon = torch.sigmoid(z @ dec.weight.double().T + dec.bias.double())
    expected = float(((recon - flat) ** 2).sum() / (10 * 784))
    assert M.mse_per_pixel(model, x) == pytest.approx(expected, rel=1e-5)
    # the same whatever the container or batch size
    y = torch.arange(10)
    for data in (
        x.reshape(10, 784),
        (x, y),
        TensorDataset(x, y),
        TensorDataset(x),
        DataLoader(TensorDataset(x, y), batch_size=3),
        x.numpy(),
    ):
        assert M.mse_per_pixel(model, data, batch_size=4) == pytest.approx(expected, rel=1e-5)


class _ItemDataset(Dataset):
    """A plain map-style dataset of bare tensors (no labels)."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


def test_metrics_use_eval_mode_and_restore_it() -> None:
    torch.manual_seed(0)
    model = autoencoders.build("dae", h=16, z=4, noise_factor=0.9)  # noise only in training
    x = torch.rand(12, 1, 28, 28)
    model.train()
    value = M.mse_per_pixel(model, _ItemDataset(x), batch_size=5)
    assert model.training
    model.eval()
    with torch.no_grad():
        expected = float((model.reconstruct(x) - x).pow(2).mean())
    assert value == pytest.approx(expected, rel=1e-5)


def test_bad_data_is_refused() -> None:
    model = autoencoders.build("ae", h=8, z=2)
    with pytest.raises(TypeError, match="floating-point"):
        M.mse_per_pixel(model, torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(TypeError, match="pass one split"):
        M.mse_per_pixel(model, from_tensors(torch.rand(20, 1, 28, 28)))
    with pytest.raises(TypeError, match="Dataset or a DataLoader"):
        M.mse_per_pixel(model, "x")
    with pytest.raises(ValueError, match="expects"):
        M.mse_per_pixel(model, torch.rand(2, 10))
    with pytest.raises(ValueError, match="empty"):
        M.mse_per_pixel(model, torch.rand(0, 1, 28, 28))
    with pytest.raises(ValueError, match="batch_size"):
        M.mse_per_pixel(model, torch.rand(2, 1, 28, 28), batch_size=0)


def test_psnr_formula() -> None:
    assert M.psnr_from_mse(0.01) == pytest.approx(20.0)
    assert M.psnr_from_mse(1e-4, data_range=2.0) == pytest.approx(10 * math.log10(4e4))
    assert M.psnr_from_mse(0.0) == math.inf
    with pytest.raises(ValueError, match="mse"):
        M.psnr_from_mse(-1.0)
    torch.manual_seed(0)
    model = autoencoders.build("ae", h=8, z=2)
    x = torch.rand(6, 1, 28, 28)
    with torch.no_grad():
        err = (model.eval().reconstruct(x) - x).pow(2).double()
    assert M.psnr(model, x) == pytest.approx(10 * math.log10(1 / float(err.mean())), rel=1e-6)
    per_image = (10 * torch.log10(1 / err.flatten(1).mean(1))).mean()
    assert M.psnr(model, x, per_image=True, batch_size=4) == pytest.approx(float(per_image))
    tanh = autoencoders.build("vae", h=8, z=2, output_activation="tanh")
    xt = torch.rand(6, 1, 28, 28) * 2 - 1
    assert M.psnr(tanh, xt) == pytest.approx(M.psnr_from_mse(M.mse_per_pixel(tanh, xt), 2.0))


class _Compiled(torch.nn.Module):
    """Stands for ``torch.compile(model)`` (slow to set up): the model sits in ``_orig_mod``."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self._orig_mod = model

    def forward(self, *args, **kwargs):
        raise AssertionError("the wrapper was run instead of the model inside it")


def test_psnr_follows_the_model_pixel_range(monkeypatch: pytest.MonkeyPatch) -> None:
    """The data range of PSNR is ``high - low`` of ``model.pixel_range``: 2 for a tanh output,
    whatever wraps the model, and whatever the model says when its range is changed."""
    torch.manual_seed(0)
    tanh = autoencoders.build("vae", h=8, z=2, output_activation="tanh")
    assert tanh.pixel_range == (-1.0, 1.0)
    xt = torch.rand(6, 1, 28, 28) * 2 - 1
    mse = M.mse_per_pixel(tanh, xt)
    assert M.psnr(tanh, xt) == pytest.approx(10 * math.log10(4 / mse))
    assert M.psnr(_Compiled(tanh), xt) == pytest.approx(M.psnr(tanh, xt))
    assert M.psnr(tanh, xt, data_range=1.0) == pytest.approx(10 * math.log10(1 / mse))
    splits = {"train": xt, "test": xt}
    out = M.evaluate_model(tanh, splits, k=2, include_pca=False, include_probe=False)
    assert out["test_psnr"] == pytest.approx(M.psnr_from_mse(out["test_mse"], 2.0))
    monkeypatch.setattr(
        autoencoders.Autoencoder, "pixel_range", property(lambda self: (0.0, 255.0))
    )
    assert M.psnr(tanh, xt) == pytest.approx(M.psnr_from_mse(mse, 255.0))
    out = M.evaluate_model(tanh, splits, k=2, include_pca=False, include_probe=False)
    assert out["test_psnr"] == pytest.approx(M.psnr_from_mse(out["test_mse"], 255.0))


def test_metrics_unwrap_compiled_models(trained_vae, images) -> None:
    x = images[0][:16]
    assert M.mse_per_pixel(_Compiled(trained_vae), x) == M.mse_per_pixel(trained_vae, x)
    assert M.elbo(_Compiled(trained_vae), x) == M.elbo(trained_vae, x)
    assert M.iwae_nll(_Compiled(trained_vae), x, k=3) == M.iwae_nll(trained_vae, x, k=3)


# -- ELBO and IWAE --------------------------------------------------------------------------------
def test_elbo_draws_follow_the_documented_protocol(trained_vae, images) -> None:
    """For each batch in order and each of the ``n_samples`` draws, eps =
    torch.randn(mean.shape, generator=gen) with gen = torch.Generator(device).manual_seed(seed);
    the KL is exact. Recomputed here batch by batch with torch.distributions."""
    x = images[0][:13]
    got = M.elbo(trained_vae, x, n_samples=2, seed=5, batch_size=5, reduction="none")
    gen = torch.Generator("cpu").manual_seed(5)
    recon, kl = [], []
    with torch.no_grad():
        for xb in x.split(5):
            b = trained_vae.encode_output(xb)
            std = torch.exp(0.5 * b.logvar)
            r = torch.zeros(len(xb), dtype=torch.float64)
            for _ in range(2):
                eps = torch.randn(b.mean.shape, generator=gen, dtype=b.mean.dtype)
                logits = trained_vae.decode(b.mean + std * eps)
                ll = Bernoulli(logits=logits, validate_args=False).log_prob(xb).flatten(1).sum(1)
                r -= ll.double() / 2
            recon.append(r)
            kl.append(gaussian_kl(b.mean, b.logvar).double())
    torch.testing.assert_close(got["recon"], torch.cat(recon), rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(got["kl"], torch.cat(kl))
    torch.testing.assert_close(got["neg_elbo"], got["recon"] + got["kl"])
    again = M.elbo(trained_vae, x, n_samples=2, seed=5, batch_size=5, reduction="none")
    assert torch.equal(again["recon"], got["recon"])


def test_elbo_needs_a_vae() -> None:
    with pytest.raises(TypeError, match="Gaussian bottleneck"):
        M.elbo(autoencoders.build("ae", h=8, z=2), torch.rand(2, 1, 28, 28))
    with pytest.raises(TypeError, match="deterministic"):
        M.iwae_nll(autoencoders.build("ae", h=8, z=2), torch.rand(2, 1, 28, 28))


def test_elbo_with_a_collapsed_posterior_is_the_training_loss(images) -> None:
    """With a (numerically) zero posterior variance the sampled z is the mean, so the ELBO's
    reconstruction term is the BCE loss of the deterministic reconstruction."""
    x, _ = images
    torch.manual_seed(0)
    model = autoencoders.build("vae", h=16, z=3)
    with torch.no_grad():
        model.bottleneck.logvar.weight.zero_()
        model.bottleneck.logvar.bias.fill_(-30.0)
    out = M.elbo(model, x, batch_size=100)
    with torch.no_grad():
        b = model.encode_output(x)
        logits = model.decode(b.mean)
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        kl = gaussian_kl(b.mean, b.logvar)
    assert out["recon"] == pytest.approx(float(bce.mean()), rel=1e-4)
    assert out["kl"] == pytest.approx(float(kl.mean()), rel=1e-4)
    assert out["elbo"] == pytest.approx(-(out["recon"] + out["kl"]))
    # z is (numerically) deterministic, so more Monte-Carlo draws give the same average
    assert M.elbo(model, x, n_samples=3)["recon"] == pytest.approx(out["recon"], rel=1e-5)
    # the Gaussian likelihood of a tanh model: summed squared error + D/2 log(pi)
    tanh = autoencoders.build("vae", h=16, z=3, output_activation="tanh")
    with torch.no_grad():
        tanh.bottleneck.logvar.weight.zero_()
        tanh.bottleneck.logvar.bias.fill_(-30.0)
        xt = x * 2 - 1
        sq = (tanh.reconstruct(xt) - xt).pow(2).flatten(1).sum(1)
    got = M.elbo(tanh, xt)["recon"]
    assert got == pytest.approx(float(sq.mean()) + 784 / 2 * math.log(math.pi), rel=1e-4)


@pytest.mark.parametrize("k", [1, 5])
def test_iwae_matches_an_independent_computation(trained_vae, images, k: int) -> None:
    """Recomputed with torch.distributions from the documented draws: eps of shape (k, B, Z)
    from a generator seeded with ``seed``, z = mean + std * eps. With k = 1 this is the
    single-sample ELBO estimate (with a sampled KL)."""
    x = images[0][:40]
    got = M.iwae_nll(trained_vae, x, k=k, seed=123, reduction="none")
    with torch.no_grad():
        b = trained_vae.encode_output(x)
        std = torch.exp(0.5 * b.logvar)
        eps = torch.randn((k, 40, 4), generator=torch.Generator().manual_seed(123))
        z = b.mean + std * eps  # (k, 40, 4)
        logits = trained_vae.decode(z.reshape(k * 40, 4)).reshape(k, 40, 1, 28, 28)
        log_px = Bernoulli(logits=logits, validate_args=False).log_prob(x).flatten(2).sum(2)
        log_pz = Normal(0.0, 1.0).log_prob(z).sum(2)
        log_qz = Normal(b.mean, std).log_prob(z).sum(2)
        log_w = (log_px + log_pz - log_qz).double()
    expected = -(torch.logsumexp(log_w, 0) - math.log(k))
    assert got.shape == (40,)
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-3)
    # the same seed gives the same numbers, another seed different ones
    assert torch.equal(got, M.iwae_nll(trained_vae, x, k=k, seed=123, reduction="none"))
    assert not torch.equal(got, M.iwae_nll(trained_vae, x, k=k, seed=124, reduction="none"))


def test_iwae_k1_equals_the_elbo_in_expectation(trained_vae, images) -> None:
    """IWAE with k = 1 (sampled KL) and the ELBO (exact KL) differ only by noise: over 20
    independent draws per image their mean difference is within 4 standard errors of 0."""
    x = images[0][:64].repeat(20, 1, 1, 1)
    nll1 = M.iwae_nll(trained_vae, x, k=1, seed=1, reduction="none")
    neg_elbo = M.elbo(trained_vae, x, seed=2, reduction="none")["neg_elbo"]
    d = nll1 - neg_elbo
    assert abs(float(d.mean())) < 4 * se(d)
    # and a wrong constant (e.g. forgetting the log k) would be detected
    assert 4 * se(d) < math.log(5)


def _blobs(n: int, g: torch.Generator) -> torch.Tensor:
    """Images of one bright Gaussian blob at a random place with a random width: data on a
    smooth 3-D manifold, which a small VAE's Gaussian posterior fits only approximately."""
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centre = 6 + 16 * torch.rand(n, 2, 1, 1, generator=g)
    width = 2 + 3 * torch.rand(n, 1, 1, generator=g)
    d2 = (yy - centre[:, 0]) ** 2 + (xx - centre[:, 1]) ** 2
    return torch.exp(-d2 / (2 * width**2)).unsqueeze(1)


def _briefly_trained_vae(
    source: str, seed: int = 0
) -> tuple[autoencoders.Autoencoder, torch.Tensor]:
    """A small VAE after 60 Adam steps on 1000 training images, and 300 held-out images."""
    g = torch.Generator().manual_seed(seed)
    if source == "fashion-mnist":
        from autoencoders.data import load_dataset

        splits = load_dataset("fashion-mnist", root=FASHION, limit=1000)  # the Debian copy
        train, test = splits.tensors("train")[0], splits.tensors("test")[0][:300]
    else:
        train, test = _blobs(1000, g), _blobs(300, g)
    torch.manual_seed(seed)
    model = autoencoders.build("vae", h=64, z=8)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss = ELBOLoss()
    for _ in range(60):
        xb = train[torch.randint(0, len(train), (100,), generator=g)]
        opt.zero_grad()
        loss(model(xb), xb).total.backward()
        opt.step()
    return model.eval(), test


@pytest.mark.parametrize(
    "source",
    [pytest.param("fashion-mnist", marks=[pytest.mark.realdata, requires_fashion]), "synthetic"],
)
def test_iwae_bound_grows_with_k(source: str) -> None:
    """NLL(k=1) > NLL(k=5) > NLL(k=50), each step by more than 3 standard errors of the paired
    per-image differences (same images, same seed). One batch holds all the images, so the
    draws are nested: the k=5 draws are the first 5 of the k=50 ones and the k=1 draw their
    first. With seeds 0-5 (of the data, training and draws) each step is 9-15 standard errors
    (Fashion-MNIST: about 8 and 4 nats; blobs: about 10 and 5), so 3 leaves a wide margin."""
    model, x = _briefly_trained_vae(source)
    nll = {
        k: M.iwae_nll(model, x, k=k, seed=0, batch_size=len(x), reduction="none")
        for k in (1, 5, 50)
    }
    for a, b in ((1, 5), (5, 50)):
        d = nll[a] - nll[b]
        assert d.shape == (len(x),)
        assert float(d.mean()) > 3 * se(d), (a, b, float(d.mean()), se(d))


def test_iwae_bound_is_above_the_elbo(trained_vae, images) -> None:
    x = images[0]
    nll = {k: M.iwae_nll(trained_vae, x, k=k, seed=0, reduction="none") for k in (5, 50)}
    neg_elbo = M.elbo(trained_vae, x, seed=7, reduction="none")["neg_elbo"]
    d = neg_elbo - nll[50]
    assert float(d.mean()) > 3 * se(d)  # the IWAE bound is above the ELBO
    # mean reduction, batching over data and over k chunks do not change the estimate
    mean = M.iwae_nll(trained_vae, x, k=5, seed=0)
    assert mean == pytest.approx(float(nll[5].mean()), rel=1e-6)
    chunked = M.iwae_nll(trained_vae, x, k=5, seed=0, batch_size=256, reduction="none")
    assert torch.allclose(chunked, nll[5])


def test_log_likelihood_choices() -> None:
    logits, x = torch.zeros(2, 4), torch.full((2, 4), 0.5)
    assert torch.allclose(
        M.log_likelihood(logits, x, "sigmoid"), torch.full((2,), 4 * math.log(0.5))
    )
    gauss = M.log_likelihood(logits, torch.ones(2, 4), "identity", sigma=2.0)
    expected = Normal(0.0, 2.0).log_prob(torch.ones(2, 4)).sum(1)
    assert torch.allclose(gauss, expected)
    with pytest.raises(ValueError, match="sigmoid output"):
        M.log_likelihood(logits, x, "tanh", likelihood="bernoulli")
    with pytest.raises(ValueError, match="unknown likelihood"):
        M.log_likelihood(logits, x, "sigmoid", likelihood="poisson")


# -- PCA ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [0, 1, 5, 12])
def test_pca_baseline_matches_numpy(k: int) -> None:
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((12, 12))
    train = rng.standard_normal((200, 12)) @ mix + 3.0
    test = rng.standard_normal((50, 12)) @ mix + 3.0
    mean = train.mean(0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    v = vt[:k]
    recon = mean + (test - mean) @ v.T @ v
    expected = float(((recon - test) ** 2).mean())
    got = M.pca_baseline_mse(torch.from_numpy(train), test.astype(np.float64), k)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_pca_on_its_training_set_leaves_the_discarded_variance() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 3, 4, generator=g) * torch.arange(1, 13).reshape(3, 4)
    flat = x.reshape(300, -1).double()
    eig = torch.linalg.eigvalsh(torch.cov(flat.T, correction=0)).flip(0)  # descending
    for k in (2, 7):
        expected = float(eig[k:].sum() / 12)
        assert M.pca_baseline_mse(TensorDataset(x), x, k) == pytest.approx(expected, rel=1e-8)


def test_pca_checks_k_and_shapes() -> None:
    with pytest.raises(ValueError, match="k must be"):
        M.pca_baseline_mse(torch.rand(5, 3), torch.rand(2, 3), 4)
    with pytest.raises(ValueError, match="k must be"):
        M.pca_baseline_mse(torch.rand(5, 3), torch.rand(2, 3), -1)
    with pytest.raises(ValueError, match="values"):
        M.pca_baseline_mse(torch.rand(5, 3), torch.rand(2, 4), 1)


# -- linear probe ---------------------------------------------------------------------------------
def test_probe_on_separable_features() -> None:
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 6, generator=g) * 4
    y = torch.arange(600) % 3
    f = centres[y] + torch.randn(600, 6, generator=g)
    r = M.fit_linear_probe(f[:400], y[:400] + 10, f[400:], y[400:] + 10)  # any label values
    assert r.accuracy > 0.95 and r.train_accuracy > 0.95
    assert r.num_classes == 3 and r.chance == pytest.approx(1 / 3, abs=0.01)
    # standardised features: rescaling and shifting them changes nothing
    scaled = f * torch.logspace(-3, 3, 6) + 100.0
    r2 = M.fit_linear_probe(scaled[:400], y[:400] + 10, scaled[400:], y[400:] + 10)
    assert r2.accuracy == r.accuracy and r2.train_accuracy == r.train_accuracy
    # ... which matters with weight decay: a tiny-scale informative feature is still used
    tiny = torch.stack([(y == 1).double() * 1e-2, torch.randn(600, generator=g)], 1)
    tiny[:, 0] += 1e-3 * torch.randn(600, generator=g)
    two = M.fit_linear_probe(tiny[:400], y[:400] == 1, tiny[400:], y[400:] == 1, weight_decay=0.1)
    assert two.accuracy > 0.9 > two.chance
    rand = torch.randn(600, 6, generator=g)
    noise = M.fit_linear_probe(rand[:400], y[:400], rand[400:], y[400:])
    assert noise.accuracy < 0.6  # features unrelated to labels: near chance
    with pytest.raises(ValueError, match="unlabelled"):
        M.fit_linear_probe(f, torch.full((600,), -1), f, y)


def test_probe_on_a_model_beats_chance(images) -> None:
    """Even an untrained encoder (a random projection) keeps the four prototypes apart."""
    x, y = images
    torch.manual_seed(0)
    model = autoencoders.build("ae", h=32, z=4)
    r = M.linear_probe_accuracy(
        model, (x[:192], y[:192]), TensorDataset(x[192:], y[192:]), return_result=True
    )
    assert r.accuracy >= 0.9 and r.chance == 0.25
    with pytest.raises(ValueError, match="no labels"):
        M.linear_probe_accuracy(model, x, x)


# -- everything -----------------------------------------------------------------------------------
def test_evaluate_model_keys_and_consistency(trained_vae, images) -> None:
    x, y = images
    splits = from_tensors(x, y, val_fraction=0.1, test_fraction=0.25)
    out = M.evaluate_model(trained_vae, splits, k=5, nll_samples=20, fit_samples=100)
    assert json.loads(json.dumps(out)) == out
    test = splits.test
    assert out["test_mse"] == pytest.approx(M.mse_per_pixel(trained_vae, test))
    assert out["test_psnr"] == pytest.approx(M.psnr(trained_vae, test))
    assert out["test_elbo"] == pytest.approx(M.elbo(trained_vae, test)["elbo"])
    assert out["test_elbo"] < 0 and out["test_recon"] > 0 and out["test_kl"] > 0
    assert out["test_nll"] == pytest.approx(
        M.iwae_nll(trained_vae, splits.tensors("test")[0][:20], k=5)
    )
    assert out["iwae_k"] == 5 and out["test_nll_samples"] == 20 and out["test_samples"] == 64
    assert out["pca_k"] == 4 and 0 < out["pca_mse"] < out["test_mse"] * 10
    assert out["probe_accuracy"] > 0.9 and out["probe_chance"] == pytest.approx(0.25, abs=0.1)

    ae = autoencoders.build("ae", h=8, z=2)
    unlabelled = from_tensors(x[:50])
    out = M.evaluate_model(ae, unlabelled, include_pca=False)
    assert set(out) == {"test_mse", "test_psnr", "test_samples"}
    with pytest.raises(TypeError, match="train' and 'test"):
        M.evaluate_model(ae, x)


# -- real data ------------------------------------------------------------------------------------
@pytest.mark.realdata
@requires_fashion
def test_real_fashion_mnist_baselines(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from autoencoders import data

    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(data.locate, "DEBIAN_DATASETS_DIR", FASHION.parent)
    splits = data.load_dataset("fashion-mnist", limit=3000)
    (xa, ya), (xb, yb) = splits.tensors("train"), splits.tensors("test")
    pca = {k: M.pca_baseline_mse(xa, xb, k) for k in (2, 20, 50)}
    assert pca[2] > pca[20] > pca[50]
    assert 0.012 < pca[20] < 0.025  # about 0.019 with the full training set
    # a linear probe on PCA codes and on an untrained encoder's codes: far above chance (0.1)
    _, _, vh = torch.linalg.svd(
        xa.reshape(3000, -1) - xa.reshape(3000, -1).mean(0), full_matrices=False
    )
    codes_a, codes_b = xa.reshape(3000, -1) @ vh[:20].T, xb.reshape(3000, -1) @ vh[:20].T
    assert M.fit_linear_probe(codes_a, ya, codes_b, yb).accuracy >= 0.7
    torch.manual_seed(0)
    r = M.linear_probe_accuracy(
        autoencoders.build("vae", z=20), (xa, ya), (xb, yb), return_result=True
    )
    assert r.accuracy >= 0.5 and r.chance < 0.12
