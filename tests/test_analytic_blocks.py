"""The blocks' analytic gradients are autograd's: every activation, layer stack and block."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from autoencoders.blocks import (
    DeterministicBottleneck,
    GaussianBottleneck,
    MLPDecoder,
    MLPEncoder,
)
from autoencoders.blocks.analytic import (
    ACTIVATION_GRADIENTS,
    accumulate_grad,
    linear_forward,
    module_unsupported,
    sequential_forward,
    sequential_unsupported,
)
from autoencoders.blocks.layers import (
    ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
    apply_output_activation,
    make_activation,
    output_activation_grad,
)


def _autograd(net: nn.Module, x: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, list]:
    xr = x.clone().requires_grad_()
    y = net(xr)
    grads = torch.autograd.grad(y, [xr, *net.parameters()], g)
    return y.detach(), list(grads)


def _compare(net: nn.Sequential, x: torch.Tensor, seed: int = 0) -> None:
    g = torch.randn(x.shape[0], net(x).shape[1], generator=torch.Generator().manual_seed(seed))
    y_ref, grads = _autograd(net, x, g)
    net.zero_grad(set_to_none=True)
    y, backward = sequential_forward(net, x, input_grad=True)
    assert not y.requires_grad
    torch.testing.assert_close(y, y_ref, rtol=1e-6, atol=1e-7)
    gx = backward(g)
    assert gx is not None and not gx.requires_grad
    torch.testing.assert_close(gx, grads[0], rtol=1e-5, atol=1e-6)
    for p, ref in zip(net.parameters(), grads[1:], strict=True):
        assert p.grad is not None and not p.grad.requires_grad
        torch.testing.assert_close(p.grad, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_every_named_activation_has_autograds_gradient(name: str) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5), make_activation(name), nn.Linear(5, 3))
    assert sequential_unsupported(net) is None
    _compare(net, torch.randn(7, 6) * 2)


def test_the_table_covers_the_named_activations() -> None:
    kinds = {type(make_activation(name)) for name in ACTIVATIONS}
    assert kinds - {nn.Identity} <= set(ACTIVATION_GRADIENTS)


@pytest.mark.parametrize("name", OUTPUT_ACTIVATIONS)
def test_output_activation_gradients(name: str) -> None:
    logits = torch.randn(4, 9, requires_grad=True)
    y = apply_output_activation(logits, name)
    g = torch.randn(4, 9)
    (ref,) = torch.autograd.grad(y, logits, g)
    torch.testing.assert_close(output_activation_grad(g, y.detach(), name), ref)


@settings(max_examples=25, deadline=None)
@given(
    widths=st.lists(st.integers(1, 7), min_size=2, max_size=4),
    acts=st.lists(st.sampled_from(sorted(ACTIVATIONS)), min_size=3, max_size=3),
    batch=st.integers(1, 5),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_random_stacks_match_autograd(widths, acts, batch, bias, seed) -> None:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        layers += [nn.Linear(a, b, bias=bias), make_activation(acts[i])]
    net = nn.Sequential(*layers)
    _compare(net, torch.randn(batch, widths[0]), seed)


def test_without_input_grad_the_first_layer_still_gets_its_gradients() -> None:
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    x = torch.randn(5, 4)
    _, backward = sequential_forward(net, x, input_grad=False)
    assert backward(torch.ones(5, 2)) is None
    assert all(p.grad is not None for p in net.parameters())


def test_gradients_accumulate_and_frozen_parameters_are_left_alone() -> None:
    lin = nn.Linear(3, 2)
    lin.bias.requires_grad_(False)
    x, g = torch.randn(4, 3), torch.randn(4, 2)
    for _ in range(2):
        _, backward = linear_forward(lin, x)
        backward(g)
    torch.testing.assert_close(lin.weight.grad, 2 * g.t() @ x)
    assert lin.bias.grad is None
    p = nn.Parameter(torch.zeros(2), requires_grad=False)
    accumulate_grad(p, torch.ones(2))
    assert p.grad is None


def test_no_graph_is_recorded_even_with_grad_mode_on() -> None:
    net = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
    y, backward = sequential_forward(net, torch.randn(2, 3))
    gx = backward(torch.ones(2, 3))
    assert y.grad_fn is None and gx.grad_fn is None and net[0].weight.grad.grad_fn is None


def test_layers_without_an_analytic_gradient_are_named() -> None:
    class MyReLU(nn.ReLU):
        pass

    hooked = nn.Linear(2, 2)
    hooked.register_forward_hook(lambda *a: None)
    assert module_unsupported(nn.BatchNorm1d(3)) == "BatchNorm1d (no analytic gradient)"
    assert module_unsupported(MyReLU()) == "MyReLU (no analytic gradient)"
    assert module_unsupported(hooked) == "Linear has hooks"
    assert module_unsupported(nn.Dropout(0.3)) == "Dropout in training mode"
    assert module_unsupported(nn.Dropout(0.3).eval()) is None
    assert module_unsupported(nn.Dropout(0.0)) is None
    assert sequential_unsupported(nn.ModuleList([nn.Linear(2, 2)])) == (
        "ModuleList is not an nn.Sequential"
    )
    seq = nn.Sequential(nn.Linear(2, 2))
    seq.register_forward_pre_hook(lambda *a: None)
    assert sequential_unsupported(seq) == "the nn.Sequential has hooks"


def test_an_inactive_dropout_is_skipped() -> None:
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 2)).eval()
    _compare(net, torch.randn(3, 4))


# -- the blocks ------------------------------------------------------------------------------


def _block_grads(block: nn.Module, run, seed: int) -> tuple[object, list[torch.Tensor]]:
    block.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    out = run()
    return out, [p.grad.clone() if p.grad is not None else None for p in block.parameters()]


def _assert_same_grads(a: list, b: list) -> None:
    for ga, gb in zip(a, b, strict=True):
        if ga is None or gb is None:
            assert ga is None and gb is None
        else:
            torch.testing.assert_close(ga, gb, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("activation", ["relu", "tanh", "leaky_relu"])
def test_mlp_encoder_and_decoder(activation: str) -> None:
    torch.manual_seed(0)
    enc = MLPEncoder(input_shape=(1, 4, 4), hidden=(12, 6), activation=activation)
    dec = MLPDecoder(z=6, output_shape=(1, 4, 4), hidden=(12,), activation=activation)
    assert enc.analytic_unsupported() is None and dec.analytic_unsupported() is None
    x, g_h, g_out = torch.rand(5, 1, 4, 4), torch.randn(5, 6), torch.randn(5, 1, 4, 4)

    def analytic_enc():
        h, back = enc.analytic_forward(x)
        assert back(g_h) is None
        return h

    h, ga = _block_grads(enc, analytic_enc, 0)
    ref, gr = _block_grads(enc, lambda: enc(x).backward(g_h) or enc(x), 0)
    torch.testing.assert_close(h, ref.detach())
    _assert_same_grads(ga, gr)

    z = torch.randn(5, 6)

    def analytic_dec():
        y, back = dec.analytic_forward(z)
        return y, back(g_out)

    (y, gz), ga = _block_grads(dec, analytic_dec, 0)
    zr = z.clone().requires_grad_()

    def reference_dec():
        out = dec(zr)
        out.backward(g_out)
        return out.detach()

    ref, gr = _block_grads(dec, reference_dec, 0)
    assert y.shape == (5, 1, 4, 4)
    torch.testing.assert_close(y, ref)
    torch.testing.assert_close(gz, zr.grad)
    _assert_same_grads(ga, gr)


def test_an_encoder_with_condition_features_takes_the_condition_analytically() -> None:
    torch.manual_seed(0)
    enc = MLPEncoder(input_shape=(4,), hidden=(3,), condition_features=2)
    assert enc.analytic_unsupported() is None
    x, c, g = torch.rand(5, 4), torch.rand(5, 2), torch.randn(5, 3)
    h, backward = enc.analytic_forward(x, condition=c)
    assert backward(g) is None  # the input and the condition are data
    analytic = [p.grad.clone() for p in enc.parameters()]
    enc.zero_grad(set_to_none=True)
    ref = enc(x, c)
    ref.backward(g)
    torch.testing.assert_close(h, ref.detach())
    for a, p in zip(analytic, enc.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad)
    with pytest.raises(ValueError, match=r"condition_features=2: it takes a condition"):
        enc.analytic_forward(x)


def test_blocks_decline_what_they_cannot_do() -> None:
    assert MLPEncoder(input_shape=(4,), batch_norm=True).analytic_unsupported() == (
        "BatchNorm1d (no analytic gradient)"
    )
    assert MLPDecoder(z=2, output_shape=(4,), dropout=0.2).analytic_unsupported() == (
        "Dropout in training mode"
    )
    assert GaussianBottleneck(in_features=4, z=2, samples=3).analytic_unsupported() == (
        "GaussianBottleneck with samples=3"
    )


@pytest.mark.parametrize("mode", ["train", "eval", "sample_in_eval"])
@pytest.mark.parametrize("kl_weight", [None, 0.0, 0.25])  # None: a loss without the KL
def test_gaussian_bottleneck(mode: str, kl_weight: float | None) -> None:
    torch.manual_seed(0)
    b = GaussianBottleneck(in_features=8, z=3, sample_in_eval=mode == "sample_in_eval")
    b.train(mode == "train")
    h, g_z = torch.randn(6, 8), torch.randn(6, 3)

    def analytic():
        out, back = b.analytic_forward(h)
        return out, back(g_z, kl_weight)

    (out, g_h), ga = _block_grads(b, analytic, 1)
    hr = h.clone().requires_grad_()

    def reference():
        ref = b(hr)
        total = torch.sum(ref.z * g_z)  # a loss without the KL leaves it out of the graph
        (total if kl_weight is None else total + kl_weight * ref.kl.sum()).backward()
        return ref

    ref, gr = _block_grads(b, reference, 1)  # the same seed: the same eps
    for name in ("z", "mean", "logvar", "kl"):
        torch.testing.assert_close(getattr(out, name), getattr(ref, name).detach())
    torch.testing.assert_close(g_h, hr.grad, rtol=1e-5, atol=1e-6)
    _assert_same_grads(ga, gr)


@pytest.mark.parametrize("activation", ["none", "tanh", "relu"])
def test_deterministic_bottleneck(activation: str) -> None:
    torch.manual_seed(0)
    b = DeterministicBottleneck(in_features=5, z=2, activation=activation)
    h, g_z = torch.randn(4, 5), torch.randn(4, 2)

    def analytic():
        out, back = b.analytic_forward(h)
        return out, back(g_z, 0.0)

    (out, g_h), ga = _block_grads(b, analytic, 0)
    hr = h.clone().requires_grad_()
    ref, gr = _block_grads(b, lambda: b(hr).z.backward(g_z) or b(hr), 0)
    torch.testing.assert_close(out.z, ref.z.detach())
    torch.testing.assert_close(g_h, hr.grad)
    _assert_same_grads(ga, gr)
