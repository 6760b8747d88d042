"""The fused loss reductions train the same model: the same loss to 1e-5 on a fixed batch."""

from __future__ import annotations

import pytest
import torch

import autoencoders
from autoencoders.losses import (
    ELBOLoss,
    IWAELoss,
    ReconstructionLoss,
    reconstruction_mean,
    reconstruction_per_sample,
)


@pytest.mark.parametrize("kind", ["bce", "mse"])
@pytest.mark.parametrize("samples", [1, 3])
def test_fused_mean_equals_the_per_sample_mean(kind: str, samples: int) -> None:
    torch.manual_seed(0)
    if samples > 1:  # k decoded codes per input: logits (k, B, ...)
        model = autoencoders.build("iwae", h=32, z=4, k=samples)
    else:
        model = autoencoders.build("vae", h=32, z=4)
    x = torch.rand(16, 1, 28, 28)
    out = model(x)
    fused = reconstruction_mean(out, x, kind)
    plain = reconstruction_per_sample(out, x, kind).mean()
    assert fused.shape == () and torch.allclose(fused, plain, rtol=1e-5, atol=0)
    fused.backward(retain_graph=True)
    g_fused = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    plain.backward()
    for a, p in zip(g_fused, model.parameters(), strict=True):
        assert torch.allclose(a, p.grad, rtol=1e-4, atol=1e-6)


def test_the_784_400_20_vae_has_the_same_loss_and_parameter_count() -> None:
    torch.manual_seed(0)
    model = autoencoders.build("vae", h=400, z=20)
    assert model.num_parameters() == 652_824
    x = torch.rand(128, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    out = model(x)
    # the loss as it was computed before the fusion: per pixel, per sample, then the mean
    recon = torch.nn.functional.binary_cross_entropy_with_logits(out.logits, x, reduction="none")
    before = recon.flatten(1).sum(1).mean() + out.kl.mean()
    after = ELBOLoss()(out, x)
    assert torch.allclose(after.total, before, rtol=1e-5, atol=0)
    assert torch.allclose(ReconstructionLoss()(out, x).total, recon.flatten(1).sum(1).mean())


def test_iwae_keeps_its_per_sample_terms() -> None:
    torch.manual_seed(0)
    model = autoencoders.build("iwae", h=16, z=3, k=4)
    x = torch.rand(6, 1, 28, 28)
    assert torch.isfinite(IWAELoss()(model(x), x).total)


def test_the_summed_bce_matches_torchs_value_and_gradient() -> None:
    import torch.nn.functional as F

    from autoencoders.losses import summed_bce_with_logits

    torch.manual_seed(0)
    extremes = torch.tensor([-200.0, -90.0, -30.0, -1e-3, 0.0, 1e-3, 30.0, 90.0, 200.0])
    z = torch.cat([torch.randn(4000) * 6, extremes]).requires_grad_()
    t = torch.rand(len(z))
    t[::7] = t[::7].round()  # hard 0/1 targets among soft ones
    fast = summed_bce_with_logits(z, t)
    (g_fast,) = torch.autograd.grad(fast, z)
    z64 = z.detach().double().requires_grad_()
    exact = F.binary_cross_entropy_with_logits(z64, t.double(), reduction="sum")
    (g_exact,) = torch.autograd.grad(exact, z64)
    ref = F.binary_cross_entropy_with_logits(z.detach(), t, reduction="sum")
    value, exact_value = float(fast.detach()), float(exact.detach())
    assert abs(value - exact_value) / exact_value < 1e-6
    assert abs(value - float(ref)) / float(ref) < 1e-6
    assert torch.allclose(g_fast.double(), g_exact, atol=1e-6, rtol=0)
    # float64 in, float64 gradient, checked numerically
    zs = (torch.randn(12, dtype=torch.float64) * 3).requires_grad_()
    ts = torch.rand(12, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: summed_bce_with_logits(a, ts), (zs,))
    # a target that needs its gradient too takes torch's path, which gives it one
    tg = t.clone().requires_grad_()
    (g_t,) = torch.autograd.grad(summed_bce_with_logits(z.detach(), tg), tg)
    assert torch.allclose(g_t, -z.detach())


# torch.func over torch's own BCE goes through a scripted decomposition that warns
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_the_summed_bce_works_under_torch_func_and_autocast() -> None:
    import torch.nn.functional as F

    from autoencoders.losses import summed_bce_with_logits

    torch.manual_seed(1)
    z, t = torch.randn(6, 5) * 4, torch.rand(6, 5)

    def torchs(a, b):
        return F.binary_cross_entropy_with_logits(a, b, reduction="sum")

    for transform in (torch.func.grad, torch.func.jacrev):
        assert torch.allclose(transform(summed_bce_with_logits)(z, t), transform(torchs)(z, t),
                              atol=1e-6)  # fmt: skip
    per_row = torch.func.vmap(summed_bce_with_logits)(z, t)
    assert torch.allclose(per_row, torch.func.vmap(torchs)(z, t), rtol=1e-6)
    dz = torch.randn_like(z)
    _, tangent = torch.func.jvp(lambda a: summed_bce_with_logits(a, t), (z,), (dz,))
    _, expected = torch.func.jvp(lambda a: torchs(a, t), (z,), (dz,))
    assert torch.allclose(tangent, expected, rtol=1e-5)
    # the target's gradient, as torch's gives it
    assert torch.allclose(torch.func.grad(summed_bce_with_logits, argnums=1)(z, t), -z)
    # double backward (a gradient penalty on the logits)
    zz = z.clone().requires_grad_()
    (g,) = torch.autograd.grad(summed_bce_with_logits(zz, t), zz, create_graph=True)
    (gg,) = torch.autograd.grad(g.sum(), zz)
    assert torch.allclose(gg, torch.sigmoid(z) * (1 - torch.sigmoid(z)), atol=1e-6)
    # low-precision logits are computed in float32, as autocast does for torch's BCE
    confident = (torch.randn(64, 32) * 9).bfloat16()
    target = torch.rand(64, 32).round()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fast = summed_bce_with_logits(confident, target)
        ref = torchs(confident, target)
    assert fast.dtype == torch.float32
    assert torch.allclose(fast, ref.float(), rtol=1e-5)


def test_the_summed_bce_refuses_shapes_torchs_refuses() -> None:
    from autoencoders.losses import summed_bce_with_logits

    with pytest.raises(ValueError, match=r"target size \(4,\) must be the same.*\(4, 1\)"):
        summed_bce_with_logits(torch.zeros(4, 1), torch.zeros(4))


def test_elbo_with_beta_one_is_bitwise_recon_plus_kl():
    import autoencoders
    from autoencoders.losses import ELBOLoss

    torch.manual_seed(0)
    model = autoencoders.build("vae", h=16, z=3)
    x = torch.rand(6, 1, 28, 28)
    out = model(x)
    one, weighted = ELBOLoss(beta=1.0)(out, x), ELBOLoss(beta=1.0 + 1e-12)(out, x)
    assert torch.equal(one.total, one.parts["recon"] + 1.0 * one.parts["kl"])
    assert torch.allclose(one.total, weighted.total)
