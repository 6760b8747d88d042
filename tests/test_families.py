"""Model families beyond the classics: their blocks, their terms, and small-size evidence."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import torch

import autoencoders
from autoencoders import Trainer
from autoencoders.blocks import (
    ContractiveRegularizer,
    MMDBottleneck,
    Regularizer,
    RegularizerOutput,
    SparsityRegularizer,
    VQBottleneck,
    codebook_perplexity,
    imq_mmd,
    jacobian_frobenius,
)
from autoencoders.losses import (
    CapacityELBOLoss,
    ELBOLoss,
    IWAELoss,
    ReconstructionLoss,
    default_loss,
)

FAMILIES = ["beta_vae", "iwae", "wae_mmd", "vq_vae", "sparse_ae", "contractive_ae"]
SMALL = {"h": 32, "z": 8}


def _small(name: str, **kwargs):
    extra = {"codebook_size": 16, "code_dim": 4} if name == "vq_vae" else {}
    return autoencoders.build(name, **{**SMALL, **extra, **kwargs})


# -- every family, both backbones --------------------------------------------------------------
@pytest.mark.parametrize(("name", "encoder"), list(itertools.product(FAMILIES, ["mlp", "conv"])))
def test_family_builds_trains_saves_and_loads(name: str, encoder: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = _small(name, encoder=encoder)
    assert type(model.encoder).__name__ == {"mlp": "MLPEncoder", "conv": "ConvEncoder"}[encoder]
    x = torch.rand(6, 1, 28, 28)
    out = model(x)
    loss = default_loss(model)(out, x)
    expected_terms = {
        "beta_vae": set(),
        "iwae": set(),
        "wae_mmd": {"mmd"},
        "vq_vae": {"codebook", "commitment"},
        "sparse_ae": {"sparsity"},
        "contractive_ae": {"contractive"},
    }[name]
    assert set(out.terms) == expected_terms
    assert expected_terms <= set(loss.parts)
    loss.total.backward()
    assert all(p.grad is not None for p in model.encoder.parameters())
    autoencoders.save(model, tmp_path)
    again = autoencoders.load(tmp_path)
    assert again.config == model.config
    model.eval(), again.eval()
    with torch.no_grad():
        assert torch.equal(model(x).logits, again(x).logits)


def test_families_are_unknown_encoder_errors() -> None:
    with pytest.raises(ValueError, match="unknown encoder 'resnet' for a model family; accepted"):
        autoencoders.build("vq_vae", encoder="resnet")


# -- terms on the output, added by every loss ---------------------------------------------------
def test_block_terms_are_added_to_every_loss_and_stats_are_not() -> None:
    model = _small("sparse_ae", weight=2.0)
    x = torch.rand(4, 1, 28, 28)
    out = model(x)
    plain = ReconstructionLoss()(autoencoders.AutoencoderOutput(out.logits, out.z, "sigmoid"), x)
    with_terms = ReconstructionLoss()(out, x)
    assert torch.allclose(with_terms.total, plain.total + out.terms["sparsity"].mean())
    assert with_terms.parts["code_mean"] == pytest.approx(float(out.z.detach().mean()))
    # a statistic never moves the total
    out.stats["code_mean"] = torch.tensor(1e6)
    assert torch.allclose(ReconstructionLoss()(out, x).total, with_terms.total)


def test_a_term_named_like_a_loss_part_is_an_error() -> None:
    class Clash(Regularizer):
        def forward(self, x, z, encode):
            return RegularizerOutput(terms={"recon": z.sum(1)})

    model = autoencoders.build("ae", h=8, z=2)
    model.regularizers.append(Clash())
    with pytest.raises(ValueError, match="a block reports a term named 'recon'"):
        ReconstructionLoss()(model(torch.rand(2, 1, 28, 28)), torch.rand(2, 1, 28, 28))


def test_two_blocks_with_one_term_name_are_an_error() -> None:
    model = autoencoders.compose(
        bottleneck="deterministic", z=4, regularizers=["sparsity", {"name": "sparsity"}]
    )
    with pytest.raises(ValueError, match="two blocks report a term named 'sparsity'"):
        model(torch.rand(2, 1, 28, 28))


def test_compose_takes_regularizers_and_a_loss_and_saves_them(tmp_path: Path) -> None:
    model = autoencoders.compose(
        bottleneck="gaussian",
        z=4,
        encoder_kwargs={"hidden": [16]},
        decoder_kwargs={"hidden": [16]},
        regularizers=[{"name": "contractive", "weight": 0.5}],
        loss={"name": "elbo", "kwargs": {"beta": 3.0}},
    )
    cfg = model.config
    assert cfg["regularizers"] == [{"name": "contractive", "kwargs": {"weight": 0.5}}]
    assert cfg["loss"] == {"name": "elbo", "kwargs": {"beta": 3.0}}
    autoencoders.save(model, tmp_path)
    again = autoencoders.load(tmp_path)
    assert isinstance(again.regularizers[0], ContractiveRegularizer)
    assert default_loss(again).beta == 3.0
    with pytest.raises(ValueError, match="loss must be a registered loss name or"):
        autoencoders.Autoencoder(model.encoder, model.bottleneck, model.decoder, loss=3)


def test_a_users_regularizer_trains_saves_and_loads(tmp_path: Path) -> None:
    @autoencoders.register_regularizer("test_code_l2")
    class CodeL2(Regularizer):
        def __init__(self, weight: float = 1.0) -> None:
            super().__init__()
            self.weight = weight

        def forward(self, x, z, encode):
            return RegularizerOutput(terms={"code_l2": self.weight * z.pow(2).sum(1)})

    try:
        model = autoencoders.compose(
            bottleneck="deterministic", z=3, regularizers=[{"name": "test_code_l2", "weight": 5.0}]
        )
        data = torch.rand(32, 1, 28, 28)
        history = Trainer(model, epochs=1, batch_size=16, progress=False).fit(data)
        assert "train_code_l2" in history.keys
        autoencoders.save(model, tmp_path)
        assert autoencoders.load(tmp_path).regularizers[0].weight == 5.0
    finally:
        autoencoders.regularizers.unregister("test_code_l2")


# -- beta-VAE ------------------------------------------------------------------------------------
def test_beta_vae_trains_with_its_recorded_loss() -> None:
    model = _small("beta_vae", beta=2.5)
    loss = default_loss(model)
    assert isinstance(loss, ELBOLoss) and loss.beta == 2.5
    assert Trainer(model, epochs=1, progress=False).loss_fn.beta == 2.5
    x = torch.rand(4, 1, 28, 28)
    out = loss(model(x), x)
    assert torch.allclose(out.total, out.parts["recon"] + 2.5 * out.parts["kl"])
    with pytest.raises(ValueError, match="beta must be a number >= 0, got -1"):
        autoencoders.build("beta_vae", beta=-1)


# -- WAE-MMD -------------------------------------------------------------------------------------
def _mmd_by_hand(x: torch.Tensor, y: torch.Tensor, scales) -> float:
    n, m, d = len(x), len(y), x.shape[1]
    total = 0.0
    for s in scales:
        c = s * 2 * d

        def k(a, b, c=c):
            return c / (c + float(((a - b) ** 2).sum()))

        total += sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
        total += sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        total -= 2 * sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return total


def test_imq_mmd_matches_a_hand_computation() -> None:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randn(4, 3, generator=g)
    y = y.double() + 1.0
    for scales in [(1.0,), (0.1, 1.0, 10.0)]:
        assert float(imq_mmd(x, y, scales)) == pytest.approx(_mmd_by_hand(x, y, scales), rel=1e-9)
    # the same sample on both sides: the unbiased estimate is near 0, a shifted one is not
    a, b = torch.randn(400, 2, generator=g), torch.randn(400, 2, generator=g)
    assert abs(float(imq_mmd(a, b))) < 0.05 < float(imq_mmd(a, b + 2.0))
    with pytest.raises(ValueError, match="at least 2 samples"):
        imq_mmd(x[:1], y)


def test_mmd_bottleneck_term_is_weight_times_mmd_to_prior_draws() -> None:
    b = MMDBottleneck(in_features=6, z=3, weight=7.0)
    h = torch.randn(10, 6)
    with torch.no_grad():
        out = b(h, generator=torch.Generator().manual_seed(1))
        one = b(h[:1])
    drawn = torch.randn(10, 3, generator=torch.Generator().manual_seed(1))
    assert float(out.terms["mmd"]) == pytest.approx(7.0 * float(imq_mmd(out.z, drawn)), rel=1e-5)
    assert float(one.terms["mmd"]) == 0.0


# -- VQ-VAE --------------------------------------------------------------------------------------
def test_vq_straight_through_gradient_reaches_the_encoder() -> None:
    torch.manual_seed(0)
    model = _small("vq_vae", z=8)
    x = torch.rand(4, 1, 28, 28)
    out = model(x)
    # forward: every group of the code is a codebook vector
    book = model.bottleneck.codebook
    groups = out.z.detach().view(-1, 4)
    assert torch.cdist(groups, book).min(dim=1).values.max() < 1e-6
    # a loss of the reconstruction alone still moves the encoder (straight-through)
    recon = ReconstructionLoss()(autoencoders.AutoencoderOutput(out.logits, out.z, "sigmoid"), x)
    recon.total.backward()
    assert model.bottleneck.fc.weight.grad.abs().sum() > 0
    assert all(p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    assert book.grad is None  # the codebook moves by its own term only


def test_vq_terms_by_hand() -> None:
    b = VQBottleneck(in_features=4, z=4, codebook_size=3, code_dim=2, commitment_weight=0.5)
    b.eval()
    with torch.no_grad():
        b.fc.weight.copy_(torch.eye(4))
        b.fc.bias.zero_()
        b.codebook.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]]))
    h = torch.tensor([[0.1, 0.2, 0.9, 1.2]])
    with torch.no_grad():
        out = b(h)
    assert out.z.tolist() == [[0.0, 0.0, 1.0, 1.0]]
    d2 = 0.1**2 + 0.2**2 + 0.1**2 + 0.2**2
    assert float(out.terms["commitment"]) == pytest.approx(0.5 * d2)
    assert float(out.terms["codebook"]) == pytest.approx(d2)
    assert float(out.stats["perplexity"]) == pytest.approx(2.0)
    assert float(out.stats["usage"]) == pytest.approx(2 / 3)
    assert b.indices(h).tolist() == [[0, 1]]


def test_the_first_training_batch_initialises_the_codebook(tmp_path: Path) -> None:
    torch.manual_seed(0)
    b = VQBottleneck(in_features=6, z=6, codebook_size=8, code_dim=3)
    h = torch.randn(10, 6)
    b.eval()
    b(h)
    assert not bool(b.initialised)  # not in eval mode
    b.train()
    b(h)
    rows = b.fc(h).detach().reshape(-1, 3)  # the batch's encoder outputs, one per group
    assert bool(b.initialised)
    assert torch.cdist(b.codebook.detach(), rows).min(dim=1).values.max() < 1e-6
    # saved and loaded: not initialised again
    model = _small("vq_vae")
    model.train()(torch.rand(4, 1, 28, 28))
    autoencoders.save(model, tmp_path)
    again = autoencoders.load(tmp_path).train()
    book = again.bottleneck.codebook.detach().clone()
    again(torch.rand(4, 1, 28, 28))
    assert bool(again.bottleneck.initialised) and torch.equal(book, again.bottleneck.codebook)


def test_codebook_perplexity() -> None:
    assert float(codebook_perplexity(torch.arange(8), 8)) == pytest.approx(8.0)
    assert float(codebook_perplexity(torch.tensor([0, 0, 1, 1]), 8)) == pytest.approx(2.0)


@pytest.mark.parametrize("ema", [False, True])
def test_dead_codes_are_reinitialised_onto_encoder_outputs(ema: bool) -> None:
    torch.manual_seed(0)
    b = VQBottleneck(
        in_features=8, z=8, codebook_size=32, code_dim=8, ema=ema, dead_after=3,
        init_from_data=False,
    )  # fmt: skip
    with torch.no_grad():  # every code far from the data: one code wins, 31 are dead
        b.codebook.copy_(torch.randn(32, 8) * 0.01 + 50.0)
        b.codebook[0] = 0.0
    b.train()
    h = torch.randn(64, 8)
    assert float(b(h).stats["usage"]) == pytest.approx(1 / 32)
    for _ in range(3):
        b(h)
    used = float(b(h).stats["usage"])
    assert used > 0.5, used
    assert b.codebook.abs().max() < 50.0  # the far codes were moved onto the data


def test_vq_without_reinit_keeps_dead_codes() -> None:
    torch.manual_seed(0)
    b = VQBottleneck(
        in_features=8, z=8, codebook_size=32, code_dim=8, reinit_dead=False, init_from_data=False
    )
    with torch.no_grad():
        b.codebook.copy_(torch.randn(32, 8) * 0.01 + 50.0)
        b.codebook[0] = 0.0
    h = torch.randn(64, 8)
    for _ in range(5):
        b(h)
    assert float(b(h).stats["usage"]) == pytest.approx(1 / 32)


def test_vq_ema_updates_the_codebook_without_a_gradient() -> None:
    torch.manual_seed(0)
    b = VQBottleneck(
        in_features=4, z=4, codebook_size=8, code_dim=4, ema=True, decay=0.5, init_from_data=False
    )
    assert "codebook" not in dict(b.named_parameters())
    before = b.codebook.clone()
    b.train()
    out = b(torch.randn(16, 4))
    assert "codebook" not in out.terms and "commitment" in out.terms
    assert not torch.equal(before, b.codebook)
    b.eval()
    frozen = b.codebook.clone()
    b(torch.randn(16, 4))
    assert torch.equal(frozen, b.codebook)  # no update in eval mode


def test_vq_trainer_logs_perplexity_and_usage() -> None:
    model = _small("vq_vae")
    history = Trainer(model, epochs=1, batch_size=16, progress=False).fit(torch.rand(48, 1, 28, 28))
    logged = {"train_perplexity", "train_usage", "train_commitment", "train_codebook"}
    assert logged <= set(history.keys)
    assert all(1.0 <= p <= 16.0 for p in history.series("train_perplexity"))


def test_vq_code_dim_must_divide_z() -> None:
    with pytest.raises(ValueError, match="code_dim=3 must divide z=8"):
        VQBottleneck(in_features=4, z=8, code_dim=3)


# -- sparse AE -----------------------------------------------------------------------------------
def test_sparsity_kl_by_hand() -> None:
    reg = SparsityRegularizer(rho=0.1, weight=2.0)
    z = torch.tensor([[0.2, 0.5], [0.4, 0.1]])
    rho_hat = [0.3, 0.3]

    def kl(p, q):
        return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))

    expected = 2.0 * sum(kl(0.1, q) for q in rho_hat)
    assert float(reg(None, z, None).terms["sparsity"]) == pytest.approx(expected, rel=1e-6)
    l1 = SparsityRegularizer(kind="l1", weight=0.5)(None, z, None).terms["sparsity"]
    assert l1.tolist() == pytest.approx([0.35, 0.25])
    with pytest.raises(ValueError, match="rho must be a number in"):
        SparsityRegularizer(rho=1.5)


def test_sparse_ae_mean_activation_reaches_rho() -> None:
    torch.manual_seed(0)
    model = autoencoders.build("sparse_ae", h=64, z=32, rho=0.05, weight=3.0)
    data = torch.rand(256, 1, 28, 28)
    Trainer(model, epochs=25, batch_size=64, lr=3e-3, progress=False).fit(data)
    model.eval()
    with torch.no_grad():
        mean = float(model.encode(data).mean())
    assert abs(mean - 0.05) < 0.005, mean


# -- contractive AE ------------------------------------------------------------------------------
def test_jacobian_frobenius_matches_autograd_functional() -> None:
    torch.manual_seed(0)
    model = autoencoders.build("contractive_ae", h=16, z=3).eval()
    x = torch.rand(3, 1, 28, 28)
    ours = jacobian_frobenius(model.encode, x)
    for i in range(3):
        jac = torch.autograd.functional.jacobian(lambda v: model.encode(v[None])[0], x[i])
        assert float(ours[i]) == pytest.approx(float(jac.pow(2).sum()), rel=1e-5)


def test_contractive_penalty_is_differentiable_and_computed_under_no_grad() -> None:
    torch.manual_seed(0)
    model = autoencoders.build("contractive_ae", h=16, z=3, weight=1.0)
    x = torch.rand(4, 1, 28, 28)
    term = model(x).terms["contractive"]
    assert term.requires_grad
    term.sum().backward()
    assert model.encoder.net[0].weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        again = model(x).terms["contractive"]
    assert not again.requires_grad
    assert torch.allclose(again, term.detach(), rtol=1e-5)


def test_contractive_ae_has_a_smaller_jacobian_than_the_plain_ae() -> None:
    data = torch.rand(128, 1, 28, 28)
    test = torch.rand(32, 1, 28, 28)
    norms = {}
    for name, kwargs in (("ae", {"activation": "sigmoid"}), ("contractive_ae", {"weight": 1.0})):
        torch.manual_seed(0)
        model = autoencoders.build(name, h=32, z=8, **kwargs)
        Trainer(model, epochs=5, batch_size=32, progress=False).fit(data)
        norms[name] = float(jacobian_frobenius(model.eval().encode, test).sqrt().mean())
    assert norms["contractive_ae"] < 0.8 * norms["ae"], norms


def test_contractive_regularizer_weight_is_checked() -> None:
    with pytest.raises(ValueError, match="weight must be a number >= 0, got -0.1"):
        ContractiveRegularizer(weight=-0.1)


# -- IWAE ----------------------------------------------------------------------------------------
def test_iwae_draws_k_codes_from_one_encoder_pass() -> None:
    model = _small("iwae", k=4)
    calls = []
    model.encoder.register_forward_hook(lambda *args: calls.append(1))
    out = model(torch.rand(3, 1, 28, 28))
    assert len(calls) == 1
    assert out.z.shape == (4, 3, 8) and out.logits.shape == (4, 3, 1, 28, 28)
    assert out.mean.shape == (3, 8)  # the heads once, only the draws have k
    model.eval()
    assert model(torch.rand(3, 1, 28, 28)).z.shape == (3, 8)  # eval: the mean


def test_iwae_bound_with_one_code_is_the_elbo_in_expectation() -> None:
    torch.manual_seed(0)
    model = _small("iwae", k=1)
    x = torch.rand(1, 1, 28, 28).expand(4000, 1, 28, 28)  # one image, 4000 draws
    with torch.no_grad():
        out = model(x)
        iwae = IWAELoss()(out, x)
        elbo = ELBOLoss()(out, x)  # same draws, closed-form KL
        z, mean, logvar = out.z, out.mean, out.logvar
        log_ratio = 0.5 * (z.pow(2) - (z - mean).pow(2) / logvar.exp() - logvar).sum(1)
    stderr = float(log_ratio.std()) / math.sqrt(len(x))
    assert abs(float(iwae.total - elbo.total)) < 4 * stderr + 1e-4


def test_iwae_bound_tightens_with_k() -> None:
    torch.manual_seed(0)
    model = _small("iwae", k=1)
    x = torch.rand(64, 1, 28, 28)
    with torch.no_grad():
        one = float(IWAELoss()(model(x), x).total)
        model.bottleneck.samples = 50
        fifty = float(IWAELoss()(model(x), x).total)
    assert fifty < one


def _latent_data(n: int, g: torch.Generator) -> torch.Tensor:
    """Binary images from a 4-d latent model: what a VAE can fit in a few epochs."""
    w = torch.randn(784, 4, generator=torch.Generator().manual_seed(0)) * 2
    b = torch.randn(784, generator=torch.Generator().manual_seed(1))
    p = torch.sigmoid(torch.randn(n, 4, generator=g) @ w.T + b)
    return torch.bernoulli(p, generator=g).view(n, 1, 28, 28)


def test_iwae_ends_with_a_lower_test_nll_than_the_vae_trained_the_same_way() -> None:
    from autoencoders.metrics import iwae_nll

    g = torch.Generator().manual_seed(0)
    train, test = _latent_data(1000, g), _latent_data(100, g)
    nll = {}
    for name, kwargs in (("vae", {}), ("iwae", {"k": 5})):
        torch.manual_seed(0)  # the same initial weights: the two share their layers
        model = autoencoders.build(name, h=64, z=4, **kwargs)
        Trainer(model, epochs=6, batch_size=100, lr=2e-3, progress=False).fit(train)
        nll[name] = iwae_nll(model, test, k=500, batch_size=100)
    assert nll["iwae"] < nll["vae"], nll


# -- capacity-controlled beta-VAE ----------------------------------------------------------------
def test_capacity_grows_with_the_trainers_steps() -> None:
    model = _small("beta_vae", capacity=8.0, capacity_steps=4, gamma=10.0)
    loss = default_loss(model)
    assert isinstance(loss, CapacityELBOLoss)
    seen = []
    original = loss.set_step

    def spy(step: int) -> None:
        seen.append(step)
        original(step)

    loss.set_step = spy
    data = torch.rand(48, 1, 28, 28)
    history = Trainer(model, loss=loss, epochs=2, batch_size=16, progress=False).fit(data, data)
    # before each of the 6 training batches, and before each validation (after steps 3 and 6)
    assert seen == [0, 1, 2, 3, 3, 4, 5, 6]
    assert history.series("val_capacity") == pytest.approx([6.0, 8.0])  # C = 8 * min(1, s/4)
    assert history.series("train_capacity") == pytest.approx([(0 + 2 + 4) / 3, (6 + 8 + 8) / 3])


def test_capacity_loss_resumes_exactly(tmp_path: Path) -> None:
    data = torch.rand(48, 1, 28, 28)

    def trainer(folder: Path, epochs: int) -> Trainer:
        torch.manual_seed(0)
        model = _small("beta_vae", capacity=8.0, capacity_steps=5, gamma=10.0)
        return Trainer(model, epochs=epochs, batch_size=16, seed=1, progress=False,
                       checkpoint_dir=folder)  # fmt: skip

    straight = trainer(tmp_path / "a", 2)
    straight.fit(data)
    trainer(tmp_path / "b", 1).fit(data)
    resumed = trainer(tmp_path / "b", 2)
    resumed.fit(data, resume=True)
    assert resumed.loss_fn.step == straight.loss_fn.step == 5
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_capacity_loss_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="capacity_steps must be a positive int, got 0"):
        CapacityELBOLoss(capacity_steps=0)
    with pytest.raises(ValueError, match="gamma must be a number >= 0"):
        CapacityELBOLoss(gamma=-1)
