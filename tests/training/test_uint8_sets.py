"""uint8 image sets train exactly like their float32 copies, without a float copy of the set."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

import autoencoders
from autoencoders.data import UInt8ImageDataset
from autoencoders.data.pixels import scale_uint8
from autoencoders.training import Trainer
from autoencoders.training.batches import InMemorySource, make_source

SHAPE = (1, 8, 8)


def _images(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, *SHAPE), dtype=torch.uint8, generator=g)


def _fit(data, val=None, *, activation: str = "sigmoid", labels: bool = False) -> dict:
    torch.manual_seed(0)
    if labels:
        model = autoencoders.build("cvae", h=16, z=3, input_shape=SHAPE, num_classes=3)
    else:
        model = autoencoders.build(
            "vae", h=16, z=3, input_shape=SHAPE, output_activation=activation
        )
    trainer = Trainer(model, epochs=2, batch_size=8, progress=False)
    history = trainer.fit(data, val)
    out = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out["val_loss"] = torch.tensor(history.series("val_loss") if val is not None else [0.0])
    out["eval"] = torch.tensor(trainer.evaluate(val if val is not None else data)["loss"])
    return out


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_a_uint8_tensor_trains_like_its_float_copy_in_the_models_range(activation) -> None:
    x, v = _images(40), _images(12, seed=1)
    prange = (0.0, 1.0) if activation == "sigmoid" else (-1.0, 1.0)
    as_float = _fit(scale_uint8(x, prange), scale_uint8(v, prange), activation=activation)
    _same(_fit(x, v, activation=activation), as_float)
    _same(_fit(TensorDataset(x), TensorDataset(v), activation=activation), as_float)


def test_a_uint8_image_dataset_with_rows_trains_like_its_float_tensors() -> None:
    base = _images(60)
    train_rows, val_rows = torch.randperm(60)[:40], torch.arange(50, 60)
    labels = torch.arange(40) % 3
    train = UInt8ImageDataset(base, labels, pixel_range=(0, 1), rows=train_rows)
    val = UInt8ImageDataset(base, torch.arange(10) % 3, rows=val_rows)
    xt, yt = train.load_all()
    xv, yv = val.load_all()
    _same(_fit(train, val), _fit(xt, xv))
    # a conditional model gets the labels through the same fast path
    _same(
        _fit(train, val, labels=True),
        _fit(TensorDataset(xt, yt), TensorDataset(xv, yv), labels=True),
    )


def test_uint8_sets_are_never_copied_as_floats_on_the_cpu() -> None:
    base = _images(30)
    ds = UInt8ImageDataset(base, rows=torch.arange(5, 30))
    src = make_source(ds, what="train", device=torch.device("cpu"), batch_size=8)
    assert isinstance(src, InMemorySource)
    assert src.x.dtype == torch.uint8 and src.x.data_ptr() == base.data_ptr()
    batches, n = src.train_batches(epoch=0, start=0)
    xs = [x for x, _, _ in batches]
    assert n == 4 and all(x.dtype == torch.float32 for x in xs)
    assert sum(len(x) for x in xs) == 25
    evals = torch.cat([x for x, _ in src.eval_batches()])
    assert torch.equal(evals, ds.load_all()[0])


def test_a_set_kept_off_the_device_gives_the_same_batches() -> None:
    base = _images(20)
    ds = UInt8ImageDataset(base, rows=torch.arange(20).flip(0), flatten=True)
    kw = {"what": "t", "device": torch.device("cpu"), "batch_size": 6, "eval_batch_size": 6}
    resident = make_source(ds, **kw)
    away = InMemorySource(
        base, torch.device("cpu"), 6, 6, 0, rows=ds.rows, scale=ds.scale, resident=False
    )
    a = [x for x, _, _ in resident.train_batches(1, 0)[0]]
    b = [x for x, _, _ in away.train_batches(1, 0)[0]]
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
    assert a[0].shape == (6, 64)


class _Items(torch.utils.data.Dataset):
    """A map-style dataset of uint8 images (not a TensorDataset)."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.x[i], 0


def test_a_large_dataset_of_uint8_items_is_scaled_per_batch_too() -> None:
    x, v = _images(40), _images(12, seed=1)
    torch.manual_seed(0)
    expected = _fit(scale_uint8(x, (0.0, 1.0)), scale_uint8(v, (0.0, 1.0)))
    kw = {"what": "t", "device": torch.device("cpu"), "batch_size": 8, "num_workers": 0}
    loader_path = make_source(_Items(x), in_memory_limit=10, **kw)
    assert type(loader_path).__name__ == "DatasetSource"
    batches = [b for b, _, _ in loader_path.train_batches(0, 0)[0]]
    assert all(b.dtype == torch.float32 and float(b.max()) <= 1.0 for b in batches)
    stacked = make_source(_Items(x), **kw)  # small: stacked, kept uint8, scaled per batch
    assert isinstance(stacked, InMemorySource) and stacked.x.dtype == torch.uint8
    _same(_fit(_Items(x), _Items(v)), expected)


def test_other_integer_inputs_are_still_refused() -> None:
    trainer = Trainer(autoencoders.build("ae", h=8, z=2, input_shape=SHAPE), progress=False)
    with pytest.raises(TypeError, match=r"int16.*floating-point inputs or uint8 images"):
        trainer.fit(torch.zeros(8, *SHAPE, dtype=torch.int16))
