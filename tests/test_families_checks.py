"""The families' checks of the results page, each at a small size: the beta-VAE's trade-off,
the WAE's code closer to the prior than the AE's, the VQ codebook in use."""

from __future__ import annotations

import itertools

import torch

import autoencoders
from autoencoders import metrics
from autoencoders.training import Trainer


def _data(n: int, seed: int) -> torch.Tensor:
    """Images from a 4-d latent model through a fixed random map (smooth, in [0, 1])."""
    w = torch.randn(784, 4, generator=torch.Generator().manual_seed(0)) * 2
    b = torch.randn(784, generator=torch.Generator().manual_seed(1))
    z = torch.randn(n, 4, generator=torch.Generator().manual_seed(seed))
    return torch.sigmoid(z @ w.T + b).view(n, 1, 28, 28)


def _train(name: str, epochs: int = 4, **kwargs) -> autoencoders.Autoencoder:
    torch.manual_seed(0)
    model = autoencoders.build(name, h=64, **kwargs)
    Trainer(model, epochs=epochs, batch_size=50, lr=2e-3, progress=False, seed=0).fit(
        _data(600, seed=2)
    )
    return model.eval()


def test_beta_trades_reconstruction_for_a_smaller_kl() -> None:
    test = _data(200, seed=3)
    kls, mses = [], []
    for beta in (0.5, 1.0, 2.0, 4.0):
        model = _train("beta_vae", z=8, beta=beta)
        kls.append(metrics.elbo(model, test)["kl"])
        mses.append(metrics.mse_per_pixel(model, test))
    assert all(a > b for a, b in itertools.pairwise(kls)), kls
    assert all(a < b for a, b in itertools.pairwise(mses)), mses


def test_the_wae_code_is_closer_to_the_prior_than_the_plain_aes() -> None:
    test = _data(300, seed=3)
    # at this tiny budget (120 steps) the penalty needs more weight than the paper's 10
    wae = metrics.code_mmd(_train("wae_mmd", epochs=10, z=4, weight=100.0), test)
    ae = metrics.code_mmd(_train("ae", epochs=10, z=4), test)
    assert wae < ae, (wae, ae)


def test_the_vq_codebook_is_used_with_dead_code_reinitialisation() -> None:
    k = 16
    model = _train("vq_vae", epochs=6, z=8, codebook_size=k, code_dim=2)
    usage = metrics.codebook_usage(model, _data(300, seed=3))
    assert usage["perplexity"] >= k / 4, usage
