"""Mixed precision and torch.compile (CPU here; CUDA paths skip without a GPU)."""

from __future__ import annotations

import math

import pytest
import torch

from autoencoders.training import Trainer

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _logit_dtypes(model: torch.nn.Module) -> list[torch.dtype]:
    seen: list[torch.dtype] = []
    model.decoder.register_forward_hook(lambda m, a, out: seen.append(out.dtype))
    return seen


def test_bf16_autocast_on_cpu(make_vae, make_data) -> None:
    model = make_vae()
    seen = _logit_dtypes(model)
    trainer = Trainer(model, amp="bf16", device="cpu", epochs=2, batch_size=16, progress=False)
    history = trainer.fit(make_data(32), val=make_data(16))
    assert set(seen) == {torch.bfloat16}  # training and evaluation forwards ran in bf16
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay fp32
    assert all(math.isfinite(v) for v in history["train_loss"] + history["val_loss"])
    assert trainer.scaler is None


def test_full_precision_by_default(make_vae, make_data) -> None:
    model = make_vae()
    seen = _logit_dtypes(model)
    Trainer(model, epochs=1, batch_size=16, progress=False).fit(make_data(16))
    assert set(seen) == {torch.float32}


class CountingBackend:
    """A torch.compile backend that counts compilations and runs the graph eagerly."""

    def __init__(self) -> None:
        self.graphs: list[list[tuple[int, ...]]] = []

    def __call__(self, gm, example_inputs):
        self.graphs.append([tuple(t.shape) for t in example_inputs if isinstance(t, torch.Tensor)])
        return gm.forward


def test_compile_compiles_once_per_fit(make_vae, make_data) -> None:
    """70 samples in batches of 16 leave a last batch of 6 each epoch, and validation runs in
    eval mode: still exactly one compilation (the partial batch and evaluation run eagerly)."""
    torch._dynamo.reset()
    backend = CountingBackend()
    model = make_vae()
    sizes: list[int] = []
    model.register_forward_pre_hook(lambda m, args: sizes.append(args[0].shape[0]))
    trainer = Trainer(
        model, compile=True, compile_backend=backend, epochs=3, batch_size=16, progress=False
    )
    history = trainer.fit(make_data(70), val=make_data(20))
    assert len(backend.graphs) == 1, backend.graphs
    assert (16, 1, 8, 8) in backend.graphs[0]
    assert history["step"] == [5, 10, 15]  # nothing dropped
    assert sizes.count(6) == 3  # the partial batches were trained (eagerly)
    torch._dynamo.reset()


def test_compile_with_eager_backend_matches_eager_training(make_ae, make_data) -> None:
    torch._dynamo.reset()
    x = make_data(40)
    a, b = make_ae(), make_ae()
    Trainer(a, epochs=2, batch_size=16, progress=False).fit(x)
    Trainer(b, compile=True, compile_backend="eager", epochs=2, batch_size=16, progress=False).fit(
        x
    )
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(va, vb, rtol=1e-5, atol=1e-6, msg=k)
    torch._dynamo.reset()


@needs_cuda
def test_fp16_with_grad_scaler_on_cuda(make_vae, make_data) -> None:
    model = make_vae()
    seen = _logit_dtypes(model)
    trainer = Trainer(model, amp="fp16", device="cuda", epochs=2, batch_size=16, progress=False)
    history = trainer.fit(make_data(64), val=make_data(16))
    assert trainer.scaler is not None and trainer.scaler.get_scale() > 0
    assert set(seen) == {torch.float16}
    assert all(math.isfinite(v) for v in history["train_loss"])


@needs_cuda
def test_cuda_fast_path_and_bf16(make_vae, make_data, tmp_path) -> None:
    model = make_vae()
    trainer = Trainer(
        model,
        amp="bf16",
        device="auto",
        epochs=2,
        batch_size=16,
        progress=False,
        checkpoint_dir=tmp_path,
        checkpoint_every=3,
    )
    assert trainer.device.type == "cuda"
    history = trainer.fit(make_data(64), val=make_data(16))
    assert next(model.parameters()).is_cuda and len(history) == 2
    resumed = Trainer(
        make_vae(),
        device="cuda",
        epochs=3,
        batch_size=16,
        progress=False,
        checkpoint_dir=tmp_path,
        amp="bf16",
    )
    assert resumed.fit(make_data(64), val=make_data(16), resume=True)["epoch"] == [1, 2, 3]


@needs_cuda
def test_compile_inductor_on_cuda(make_vae, make_data) -> None:
    torch._dynamo.reset()
    trainer = Trainer(
        make_vae(), compile=True, device="cuda", epochs=1, batch_size=16, progress=False
    )
    assert math.isfinite(trainer.fit(make_data(40))[-1]["train_loss"])
    torch._dynamo.reset()
