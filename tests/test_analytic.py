"""The analytic training step trains the same model as autograd: losses, gradients, whole fits."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import autoencoders
from autoencoders.analytic import AnalyticStep, step_unsupported
from autoencoders.blocks import LabelCondition, MLPEncoder
from autoencoders.losses import CapacityELBOLoss, ELBOLoss, ReconstructionLoss, default_loss
from autoencoders.training import Trainer

SMALL = {"h": 24, "z": 3}
#: Zoo models the analytic step trains, and the ones it leaves to autograd (with why).
SUPPORTED = ["ae", "vae", "beta_vae", "dae", "linear_ae", "cvae"]
DECLINED = {
    "contractive_ae": "a model with regularizers",
    "sparse_ae": "a model with regularizers",
    "iwae": "GaussianBottleneck with samples=5",
    "small_conv_ae": "ConvEncoder has no analytic_forward",
    "vq_vae": "VQBottleneck has no analytic_forward",
    "wae_mmd": "MMDBottleneck has no analytic_forward",
}


def _small(name: str) -> nn.Module:
    kwargs = {} if name in ("linear_ae", "small_conv_ae") else dict(SMALL)
    if name == "iwae":
        kwargs["k"] = 5
    if name == "vq_vae":
        kwargs["z"] = 8
    return autoencoders.build(name, **kwargs)


def _labels(model: nn.Module, n: int) -> torch.Tensor | None:
    """Labels for a conditional model's batch of ``n`` (None for other models)."""
    return torch.arange(n) % model.num_classes if model.takes_labels else None


def _both(model: nn.Module, loss, x: torch.Tensor, seed: int = 3):
    """(analytic loss output, grads) and (autograd loss output, grads), the same draws."""
    model.train()
    y = _labels(model, len(x))
    torch.manual_seed(seed)
    out, backward = AnalyticStep(model, loss)(x, y)
    backward()
    analytic = [p.grad.clone() for p in model.parameters() if p.requires_grad]
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    ref = loss(model(x, labels=y), x)
    ref.total.backward()
    reference = [p.grad.clone() for p in model.parameters() if p.requires_grad]
    model.zero_grad(set_to_none=True)
    return (out, analytic), (ref, reference)


@pytest.mark.parametrize("name", SUPPORTED)
def test_supported_models_have_autograds_loss_and_gradients(name: str) -> None:
    torch.manual_seed(0)
    model = _small(name)
    loss = default_loss(model)
    assert step_unsupported(model, loss) is None
    x = torch.rand(16, *model.input_shape)
    (out, analytic), (ref, reference) = _both(model, loss, x)
    assert out.total.grad_fn is None
    torch.testing.assert_close(out.total, ref.total.detach(), rtol=1e-5, atol=0)
    assert list(out.parts) == list(ref.parts)
    for key in ref.parts:
        torch.testing.assert_close(out.parts[key], ref.parts[key].detach(), rtol=1e-5, atol=0)
    for a, r in zip(analytic, reference, strict=True):
        torch.testing.assert_close(a, r, rtol=1e-5, atol=1e-7)


def test_the_784_400_20_vae_to_1e_5() -> None:
    torch.manual_seed(0)
    model = autoencoders.build("vae", h=400, z=20)
    assert model.num_parameters() == 652_824
    x = torch.rand(128, 1, 28, 28)
    (out, analytic), (ref, reference) = _both(model, ELBOLoss(), x)
    assert abs(out.total.item() - ref.total.item()) <= 1e-5 * abs(ref.total.item())
    for a, r in zip(analytic, reference, strict=True):
        torch.testing.assert_close(a, r, rtol=1e-5, atol=1e-7)


_MSE_LOSSES = [ELBOLoss("mse"), ReconstructionLoss("mse"), ELBOLoss("mse", beta=0.5)]
_CASES = [(loss, act) for loss in _MSE_LOSSES for act in ("tanh", "identity", "relu", "sigmoid")]
_CASES += [(ELBOLoss(beta=0.5), "sigmoid"), (ReconstructionLoss(), "sigmoid")]  # BCE: sigmoid only


@pytest.mark.parametrize(("loss", "output_activation"), _CASES)
def test_losses_and_output_activations(loss, output_activation: str) -> None:
    torch.manual_seed(0)
    model = autoencoders.build("vae", output_activation=output_activation, **SMALL)
    x = torch.rand(8, 1, 28, 28)
    assert step_unsupported(model, loss) is None
    (out, analytic), (ref, reference) = _both(model, loss, x)
    torch.testing.assert_close(out.total, ref.total.detach(), rtol=1e-5, atol=1e-6)
    for a, r in zip(analytic, reference, strict=True):
        torch.testing.assert_close(a, r, rtol=1e-5, atol=1e-7)


def test_backward_scales_and_accumulates() -> None:
    torch.manual_seed(0)
    model, loss = _small("vae").train(), ELBOLoss()
    x = torch.rand(8, 1, 28, 28)
    torch.manual_seed(1)
    _, backward = AnalyticStep(model, loss)(x)
    backward(0.5)
    half = [p.grad.clone() for p in model.parameters()]
    backward(0.5)  # adds to .grad, as a second loss.backward() would
    for h, p in zip(half, model.parameters(), strict=True):
        torch.testing.assert_close(p.grad, 2 * h)
    model.zero_grad(set_to_none=True)
    torch.manual_seed(1)
    _, backward = AnalyticStep(model, loss)(x)
    backward()
    for h, p in zip(half, model.parameters(), strict=True):
        torch.testing.assert_close(p.grad, 2 * h)


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_other_models_are_left_to_autograd(name: str) -> None:
    model = _small(name)
    reason = DECLINED[name]
    assert step_unsupported(model, default_loss(model)) == reason
    assert Trainer(model, progress=False).step_kind == f"autograd ({reason})"


def test_what_the_step_declines() -> None:
    vae = _small("vae")
    assert step_unsupported(vae, lambda out, x: ELBOLoss()(out, x)) == "function has no analytic"
    assert step_unsupported(vae, CapacityELBOLoss()) == "CapacityELBOLoss has no analytic"

    class Weighted(ELBOLoss):
        def __call__(self, output, target):
            return super().__call__(output, target)

    assert step_unsupported(vae, Weighted()) == "Weighted overrides __call__ but not analytic"
    assert step_unsupported(nn.Linear(2, 2), ELBOLoss()) == "Linear is not an Autoencoder"
    double = _small("vae").double()
    assert (
        step_unsupported(double, ELBOLoss()) == "parameters of dtype torch.float64 (float32 only)"
    )

    hooked = _small("vae")
    hooked.decoder.register_forward_hook(lambda *a: None)
    assert step_unsupported(hooked, ELBOLoss()) == "MLPDecoder has hooks"
    tensor_hook = _small("vae")
    tensor_hook.bottleneck.mean.weight.register_hook(lambda g: g)
    assert step_unsupported(tensor_hook, ELBOLoss()) == "a parameter has gradient hooks"
    handle = nn.modules.module.register_module_forward_hook(lambda *a: None)
    try:
        assert step_unsupported(_small("vae"), ELBOLoss()) == "global module hooks are registered"
    finally:
        handle.remove()
    assert step_unsupported(_small("vae"), ELBOLoss()) is None


def test_a_subclass_that_changes_forward_is_declined() -> None:
    class Doubling(MLPEncoder):
        def forward(self, x, condition=None):
            return 2 * super().forward(x, condition)

    model = autoencoders.Autoencoder(
        encoder=Doubling(input_shape=(1, 28, 28), hidden=(8,)),
        bottleneck=_small("vae").bottleneck.__class__(in_features=8, z=2),
        decoder=_small("vae").decoder.__class__(z=2, hidden=(8,)),
    )
    assert step_unsupported(model, ELBOLoss()) == (
        "Doubling overrides forward but not analytic_forward"
    )


class _ScaledEncoder(nn.Module):
    """A user's encoder with its own analytic gradient: ``h = 3 x W^T``."""

    def __init__(self) -> None:
        super().__init__()
        self.input_shape = (1, 28, 28)
        self.out_features = 6
        self.weight = nn.Parameter(torch.randn(6, 784) * 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 3 * x.reshape(len(x), -1) @ self.weight.t()

    def analytic_forward(self, x: torch.Tensor):
        flat = x.reshape(len(x), -1)
        h = 3 * flat @ self.weight.detach().t()

        def backward(g: torch.Tensor) -> None:
            grad = 3 * g.t() @ flat
            self.weight.grad = grad if self.weight.grad is None else self.weight.grad + grad

        return h, backward


def test_a_users_block_joins_the_analytic_step() -> None:
    torch.manual_seed(0)
    base = _small("vae")
    model = autoencoders.Autoencoder(
        encoder=_ScaledEncoder(),
        bottleneck=base.bottleneck.__class__(in_features=6, z=2),
        decoder=base.decoder.__class__(z=2, hidden=(8,)),
    )
    assert step_unsupported(model, ELBOLoss()) is None
    (out, analytic), (ref, reference) = _both(model, ELBOLoss(), torch.rand(4, 1, 28, 28))
    torch.testing.assert_close(out.total, ref.total.detach())
    for a, r in zip(analytic, reference, strict=True):
        torch.testing.assert_close(a, r, rtol=1e-5, atol=1e-6)  # its own order of products


# -- in the Trainer ------------------------------------------------------------------------


def _fit(name: str, analytic: bool, x: torch.Tensor, **options) -> tuple[Trainer, list]:
    torch.manual_seed(0)
    model = _small(name)
    trainer = Trainer(
        model, epochs=2, batch_size=16, progress=False, analytic=analytic, seed=5, **options
    )
    y = _labels(model, len(x))
    if y is None:
        history = trainer.fit(x, val=x[:16])
    else:
        history = trainer.fit(TensorDataset(x, y), val=TensorDataset(x[:16], y[:16]))
    return trainer, history


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("vae", {}),
        ("dae", {}),  # the noise draws come first, as in model(x)
        ("beta_vae", {"grad_clip": 0.5, "scheduler": "cosine"}),
        ("ae", {"nonfinite": "skip", "optimizer": "sgd"}),
        ("cvae", {}),  # the labels go to the analytic step too
    ],
)
def test_a_fit_is_the_same_with_and_without_the_analytic_step(name: str, options) -> None:
    x = torch.rand(72, 1, 28, 28)  # 4 full batches and one of 8
    fast, h_fast = _fit(name, True, x, **options)
    slow, h_slow = _fit(name, False, x, **options)
    assert fast.step_kind == "analytic"
    assert slow.step_kind == "autograd (analytic=False)"
    for a, b in zip(h_fast, h_slow, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            if key not in ("seconds", "samples_per_s"):
                assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), key
    for a, b in zip(fast.model.parameters(), slow.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_the_trainer_says_why_it_uses_autograd() -> None:
    vae = _small("vae")
    assert Trainer(vae, progress=False).step_kind == "analytic"
    assert Trainer(vae, amp="bf16", device="cpu").step_kind == "autograd (amp)"
    trainer = Trainer(vae, compile=True, compile_backend="eager")
    assert trainer.step_kind == "autograd (compile)"
    with torch.autograd.set_detect_anomaly(True):
        assert Trainer(vae).step_kind.startswith("autograd (anomaly")
    with pytest.raises(TypeError, match="analytic must be True or False, got 'yes'"):
        Trainer(vae, analytic="yes")


def test_a_nan_loss_is_still_caught() -> None:
    x = torch.rand(32, 1, 28, 28)
    model = _small("ae")
    with torch.no_grad():
        model.decoder.net[-1].bias.fill_(float("nan"))
    trainer = Trainer(model, epochs=1, batch_size=16, progress=False)
    assert trainer.step_kind == "analytic"
    with pytest.raises(autoencoders.training.NonFiniteLossError):
        trainer.fit(x)


# -- what an independent review found (each was chosen as analytic and differed) ---------


def test_a_parameter_in_another_layout_gets_its_gradient_in_that_layout() -> None:
    """Fused Adam pairs gradient and parameter elements by memory position."""
    x = torch.rand(48, 1, 28, 28)
    runs = []
    for analytic in (True, False):
        torch.manual_seed(0)
        model = _small("vae")
        last = model.decoder.net[-1]
        last.weight = nn.Parameter(torch.randn(SMALL["h"], 784).t() * 0.05)  # transposed
        assert not last.weight.is_contiguous()
        trainer = Trainer(model, epochs=1, batch_size=16, progress=False, analytic=analytic)
        assert trainer.step_kind == ("analytic" if analytic else "autograd (analytic=False)")
        trainer.fit(x)
        runs.append([p.detach().clone() for p in model.parameters()])
    for a, b in zip(*runs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


class _HookAtStep2(autoencoders.training.Callback):
    def on_step_end(self, trainer, step, loss) -> None:
        if step == 2:
            w = trainer.model.bottleneck.logvar.weight
            w.register_hook(lambda g: torch.zeros_like(g))


def test_a_callback_that_adds_a_hook_mid_epoch_hands_the_rest_to_autograd() -> None:
    x = torch.rand(64, 1, 28, 28)
    runs = []
    for analytic in (True, False):
        torch.manual_seed(0)
        model = _small("vae")
        trainer = Trainer(
            model, epochs=1, batch_size=16, progress=False, analytic=analytic,
            callbacks=[_HookAtStep2()],
        )  # fmt: skip
        trainer.fit(x)
        runs.append([p.detach().clone() for p in model.parameters()])
        if analytic:
            assert trainer.step_kind == "autograd (a parameter has gradient hooks)"
    for a, b in zip(*runs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


class _Triple(nn.Module):
    def forward(self, z):
        return 3 * super().forward(z)


class _Half:
    def __call__(self, output, target):
        out = super().__call__(output, target)
        return type(out)(out.total / 2, out.parts)


def test_mixins_and_overridden_helpers_are_declined() -> None:
    from autoencoders.blocks import MLPDecoder

    class TripleDecoder(_Triple, MLPDecoder):
        pass

    class HalfELBO(_Half, ELBOLoss):
        pass

    class OwnLogits(autoencoders.Autoencoder):
        def _decode_logits(self, z, c):
            return 2 * super()._decode_logits(z, c)

    vae = _small("vae")
    vae.decoder.__class__ = TripleDecoder
    assert step_unsupported(vae, ELBOLoss()) == (
        "TripleDecoder overrides forward but not analytic_forward"
    )
    assert step_unsupported(_small("vae"), HalfELBO()) == (
        "HalfELBO overrides __call__ but not analytic"
    )
    other = _small("vae")
    other.__class__ = OwnLogits
    assert step_unsupported(other, ELBOLoss()) == "OwnLogits overrides Autoencoder._decode_logits"


def test_other_unsupported_configurations_are_named() -> None:
    odd_head = autoencoders.build("vae", h=4, z=4)
    odd_head.bottleneck.mean = nn.Identity()
    assert step_unsupported(odd_head, ELBOLoss()) == (
        "GaussianBottleneck with a Identity head (Linear only)"
    )

    class LearnedNoise(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.log_scale = nn.Parameter(torch.zeros(()))

        def forward(self, x, generator=None):
            return x + self.log_scale.exp() * torch.randn(x.shape, generator=generator)

    noisy = _small("vae")
    noisy.noise = LearnedNoise()
    assert step_unsupported(noisy, ELBOLoss()) == "a noise transform with trainable parameters"

    loss = autoencoders.losses.KLLoss()
    loss.analytic = lambda output, target: None  # on the instance, not the class
    assert step_unsupported(_small("vae"), loss) == "KLLoss has no analytic"


def test_step_kind_judges_the_model_as_fit_trains_it() -> None:
    model = autoencoders.compose(
        (1, 28, 28), bottleneck="gaussian", z=2, encoder_kwargs={"hidden": [16], "dropout": 0.3}
    ).eval()
    trainer = Trainer(model, progress=False)
    assert trainer.step_kind == "autograd (Dropout in training mode)"
    assert not model.training and not model.encoder.net[2].training  # modes left as they were


def test_an_elbo_without_weight_still_gives_the_heads_zero_gradients() -> None:
    torch.manual_seed(0)
    model = _small("vae").eval()  # no draw: the log-variance is in the loss by the KL only
    x = torch.rand(4, 1, 28, 28)
    _, backward = AnalyticStep(model, ELBOLoss(beta=0.0))(x)
    backward()
    analytic = model.bottleneck.logvar.weight.grad
    model.zero_grad(set_to_none=True)
    ELBOLoss(beta=0.0)(model(x), x).total.backward()
    reference = model.bottleneck.logvar.weight.grad
    assert analytic is not None and reference is not None
    torch.testing.assert_close(analytic, reference)
    assert not analytic.any()


def test_the_command_line_can_turn_it_off(tmp_path, monkeypatch) -> None:
    import json
    from pathlib import Path

    from PIL import Image

    from autoencoders import cli
    from autoencoders.runs import RunSettings

    assert RunSettings().trainer_kwargs()["analytic"] is True
    assert RunSettings(analytic=False).trainer_kwargs()["analytic"] is False
    monkeypatch.chdir(tmp_path)
    (tmp_path / "img").mkdir()
    for i in range(12):
        Image.new("L", (28, 28), color=20 * i).save(tmp_path / "img" / f"{i}.png")
    for flag, expected in (("--no-analytic", False), ("--analytic", True)):
        out = f"r{int(expected)}"
        argv = ["-q", "train", "ae", "--data", str(tmp_path / "img"), "--epochs", "1",
                "--batch-size", "8", "--no-progress", "--no-plots", "--set", "h=8",
                "--set", "z=2", flag, "--out", out]  # fmt: skip
        assert cli.main(argv) == 0
        training = json.loads(Path(out, "run.json").read_text())["training"]
        assert training["analytic"] is expected


# -- conditional models --------------------------------------------------------------------


def test_a_learned_label_embedding_is_left_to_autograd() -> None:
    model = autoencoders.build("cvae", embedding=4, **SMALL)
    reason = "LabelCondition with trainable parameters (a learned embedding)"
    assert step_unsupported(model, default_loss(model)) == reason
    frozen = autoencoders.build("cvae", embedding=4, **SMALL)
    frozen.condition.requires_grad_(False)  # a fixed embedding is data, as one-hot rows are
    assert step_unsupported(frozen, default_loss(frozen)) is None
    (out, analytic), (ref, reference) = _both(
        frozen, default_loss(frozen), torch.rand(8, 1, 28, 28)
    )
    torch.testing.assert_close(out.total, ref.total.detach(), rtol=1e-5, atol=0)
    for a, r in zip(analytic, reference, strict=True):
        torch.testing.assert_close(a, r, rtol=1e-5, atol=1e-7)


def test_a_condition_appended_only_after_the_encoder() -> None:
    """An encoder without ``condition_features``: the label reaches the bottleneck and the
    decoder only, and the features' gradient is the first columns of the bottleneck's."""
    torch.manual_seed(0)
    base = _small("vae")
    model = autoencoders.Autoencoder(
        encoder=MLPEncoder(input_shape=(1, 28, 28), hidden=(12,)),
        bottleneck=base.bottleneck.__class__(in_features=12 + 3, z=2),
        decoder=base.decoder.__class__(z=2 + 3, hidden=(8,)),
        condition=LabelCondition(num_classes=3),
    )
    assert step_unsupported(model, ELBOLoss()) is None
    (out, analytic), (ref, reference) = _both(model, ELBOLoss(), torch.rand(6, 1, 28, 28))
    torch.testing.assert_close(out.total, ref.total.detach(), rtol=1e-5, atol=0)
    for a, r in zip(analytic, reference, strict=True):
        torch.testing.assert_close(a, r, rtol=1e-5, atol=1e-7)


def test_the_step_checks_labels_as_the_model_does() -> None:
    cvae, vae = _small("cvae").train(), _small("vae").train()
    x = torch.rand(4, 1, 28, 28)
    with pytest.raises(ValueError, match="needs labels="):
        AnalyticStep(cvae, ELBOLoss())(x)
    with pytest.raises(ValueError, match="label 10 is out of range"):
        AnalyticStep(cvae, ELBOLoss())(x, torch.tensor([0, 1, 2, 10]))
    with pytest.raises(TypeError, match="is not conditional"):
        AnalyticStep(vae, ELBOLoss())(x, torch.zeros(4, dtype=torch.long))


def test_a_users_encoder_must_take_the_condition_to_join() -> None:
    class NoCondition(MLPEncoder):
        def analytic_forward(self, x):  # drops the condition the encoder was built to take
            return super().analytic_forward(x)

    model = autoencoders.build("cvae", **SMALL)
    encoder = NoCondition(input_shape=(1, 28, 28), hidden=(24,), condition_features=10)
    model.encoder = encoder
    assert step_unsupported(model, ELBOLoss()) == "NoCondition.analytic_forward takes no condition"
