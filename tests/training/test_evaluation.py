"""Validation loss is the training objective as trained: sampled, corrupted, seeded."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset

import autoencoders
from autoencoders.losses import ReconstructionLoss
from autoencoders.metrics import elbo
from autoencoders.training import Trainer
from autoencoders.training.evaluation import draws_like_training, evaluate_objective


def test_evaluate_is_the_sampled_elbo_of_metrics(make_vae, make_data) -> None:
    """``evaluate`` scores a VAE on the single-sample ELBO it trains on: the number
    ``metrics.elbo`` gives with the same seed and batch size, not the loss at the mean."""
    x, batch = make_data(70), 16  # 16, 16, 16, 16, 6
    vae = make_vae()
    trainer = Trainer(vae, batch_size=batch, eval_batch_size=batch, seed=3, progress=False)
    trainer.fit(make_data(64, seed=4))
    result = trainer.evaluate(x)
    reference = elbo(vae, x, seed=3, batch_size=batch)
    assert result["loss"] == pytest.approx(reference["neg_elbo"], rel=1e-4)
    assert result["recon"] == pytest.approx(reference["recon"], rel=1e-4)
    assert result["kl"] == pytest.approx(reference["kl"], rel=1e-4)
    assert trainer.evaluate(x) == result  # seeded afresh at every call
    vae.eval()
    with torch.no_grad():
        at_mean = float(trainer.loss_fn(vae(x), x).total)
    assert result["loss"] != pytest.approx(at_mean, rel=1e-6)  # not the posterior mean


def test_eval_seed_picks_the_draws(make_vae, make_data) -> None:
    x, vae = make_data(40), make_vae()
    kw = {"batch_size": 8, "progress": False}
    default = Trainer(vae, seed=5, **kw).evaluate(x)["loss"]
    other = Trainer(vae, seed=5, eval_seed=6, **kw).evaluate(x)["loss"]
    assert default == pytest.approx(elbo(vae, x, seed=5, batch_size=8)["neg_elbo"], rel=1e-4)
    assert other == pytest.approx(elbo(vae, x, seed=6, batch_size=8)["neg_elbo"], rel=1e-4)
    assert other != default
    no_seed = Trainer(vae, seed=None, **kw).evaluate(x)["loss"]  # eval_seed falls back to 0
    assert no_seed == pytest.approx(elbo(vae, x, seed=0, batch_size=8)["neg_elbo"], rel=1e-4)


def test_evaluation_leaves_the_global_rngs_alone(make_vae, make_data) -> None:
    trainer = Trainer(make_vae(noise="gaussian"), batch_size=8, progress=False)
    x = make_data(24)
    before = torch.get_rng_state()
    trainer.evaluate(x)
    assert torch.equal(before, torch.get_rng_state())


def test_val_loss_is_what_evaluate_returns(make_vae, make_data) -> None:
    val = make_data(30, seed=7)
    trainer = Trainer(make_vae(), epochs=2, batch_size=16, seed=1, progress=False)
    history = trainer.fit(make_data(48), val=val)
    assert history[-1]["val_loss"] == trainer.evaluate(val)["loss"]


def test_denoising_val_loss_is_the_denoising_objective(make_data) -> None:
    """For a DAE, corrupt=True: the loss of reconstructing the clean x from a corrupted copy
    drawn from the evaluation generator (seeded with the Trainer's seed)."""
    torch.manual_seed(0)
    dae = autoencoders.build("ae", h=16, z=3, input_shape=(1, 8, 8), noise="masking", p=0.5)
    x = make_data(20)
    result = Trainer(dae, batch_size=20, seed=2, progress=False).evaluate(x)
    gen = torch.Generator().manual_seed(2)
    dae.eval()
    with torch.no_grad():
        noisy = ReconstructionLoss()(dae(x, corrupt=True, generator=gen), x)
        clean = ReconstructionLoss()(dae(x), x)
    assert result["loss"] == pytest.approx(float(noisy.total), rel=1e-6)
    assert result["loss"] != pytest.approx(float(clean.total), rel=1e-5)


class Plain(torch.nn.Module):
    """A module whose forward takes only x (no sample/corrupt/generator keywords)."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


def test_modules_without_the_keywords_are_called_plainly(make_vae, make_data) -> None:
    vae = make_vae()
    plain = Plain(vae)
    assert draws_like_training(vae) and not draws_like_training(plain)
    x = make_data(10)
    loss = autoencoders.losses.ELBOLoss()
    result = evaluate_objective(plain.train(), loss, [x], seed=0)
    assert plain.training  # the mode is restored
    plain.eval()
    with torch.no_grad():
        assert result["loss"] == pytest.approx(float(loss(vae(x), x).total), rel=1e-6)
    with pytest.raises(ValueError, match="empty"):
        evaluate_objective(plain, loss, [], seed=0)


class EmptyStream(IterableDataset):
    def __iter__(self):
        return iter(())


def test_empty_data_is_an_error_with_known_columns(make_vae, make_data) -> None:
    """Columns known from training (``names``) must not turn empty data into a silent NaN."""
    vae = make_vae()
    with pytest.raises(ValueError, match="empty"):
        evaluate_objective(vae, autoencoders.losses.ELBOLoss(), [], names=["loss", "recon", "kl"])
    trainer = Trainer(vae, epochs=1, batch_size=8, progress=False)
    with pytest.raises(ValueError, match="empty"):
        trainer.fit(make_data(16), val=DataLoader(EmptyStream(), batch_size=4))
    assert trainer.state.part_names == ["loss", "recon", "kl"]  # the Trainer's path
    with pytest.raises(ValueError, match="empty"):
        trainer.evaluate(DataLoader(EmptyStream(), batch_size=4))
