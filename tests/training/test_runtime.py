"""The runtime: device, autocast, scaler, compile, backward and step."""

from __future__ import annotations

import pytest
import torch

from autoencoders.training import Runtime
from autoencoders.training.runtime import resolve_device


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="device must be 'auto'"):
        resolve_device("tpu:9")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"amp": "fp8"}, ValueError, "amp must be None, 'bf16' or 'fp16', got 'fp8'"),
        ({"amp": "fp16", "device": "cpu"}, ValueError, "needs a CUDA device"),
        ({"compile": "fast"}, ValueError, "compile must be False, True or a mode"),
        ({"compile": 3}, TypeError, "compile must be a bool or a mode string"),
        ({"compile_backend": 3}, TypeError, "compile_backend must be"),
        ({"grad_clip": 0}, ValueError, "grad_clip must be > 0"),
    ],
)
def test_runtime_rejects(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        Runtime(**{"device": "cpu", **kwargs})


def test_autocast_and_setup(make_ae) -> None:
    rt = Runtime(device="cpu", amp="bf16")
    model = make_ae()
    with pytest.raises(RuntimeError, match="setup"):
        rt.module_for(4)
    rt.setup(model)
    rt.setup(model)  # once
    assert rt.module_for(4) is model and rt.is_main and rt.world_size == 1
    with rt.autocast():
        assert model(torch.rand(2, 1, 8, 8)).logits.dtype == torch.bfloat16
    assert Runtime(device="cpu").autocast().__class__.__name__ == "nullcontext"
    assert rt.scaler is None and "bfloat16" in repr(rt)


def test_compiled_forward_only_for_the_steady_batch(make_ae) -> None:
    torch._dynamo.reset()
    rt = Runtime(device="cpu", compile=True, compile_backend="eager")
    model = make_ae()
    rt.setup(model)
    assert rt.compiled is not None
    assert rt.module_for(16, steady=16) is rt.compiled
    assert rt.module_for(6, steady=16) is model
    torch._dynamo.reset()


def test_step_clips_the_gradient(make_ae) -> None:
    model = make_ae()
    rt = Runtime(device="cpu", grad_clip=1e-3)
    rt.setup(model)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    before = [p.detach().clone() for p in model.parameters()]
    x = torch.rand(8, 1, 8, 8)
    rt.backward(rt.module_for(8)(x).logits.square().sum())
    rt.step(opt)
    moved = torch.sqrt(
        sum(((p.detach() - b) ** 2).sum() for p, b in zip(model.parameters(), before))
    )
    assert 0 < float(moved) <= 1e-3 * (1 + 1e-4)
