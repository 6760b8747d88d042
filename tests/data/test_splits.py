"""Splits: the seeded validation split, sizes and limits, pixel ranges, resizing, flattening."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

import autoencoders
from autoencoders.data import (
    DataSplits,
    load_dataset,
    parse_pixel_range,
    pixel_range_for,
    tensor_splits,
)
from autoencoders.data.splits import seeded_permutation


def test_validation_split_is_seeded_and_disjoint(isolated: Path, fake_mnist, pixel) -> None:
    root = fake_mnist(isolated / "root", marker=1, n_train=200)
    a = load_dataset("mnist", root=root, split_seed=3)
    b = load_dataset("mnist", root=root, split_seed=3)
    c = load_dataset("mnist", root=root, split_seed=4)
    assert a.sizes() == {"train": 180, "val": 20, "test": 30}
    ids_train, ids_val = pixel(a, "train", 0, 1), pixel(a, "val", 0, 1)
    assert set(ids_train.tolist()).isdisjoint(ids_val.tolist())
    assert sorted(ids_train.tolist() + ids_val.tolist()) == list(range(200))
    assert torch.equal(ids_val, pixel(b, "val", 0, 1))
    assert not torch.equal(ids_val, pixel(c, "val", 0, 1))
    # the test split is the dataset's own, in file order, and labels follow their images
    assert pixel(a, "test", 0, 1).tolist() == list(range(30))
    for split in ("train", "val", "test"):
        assert torch.equal(a.tensors(split)[1], pixel(a, split, 0, 1) % 10)
    assert a.num_classes == 10 and a.class_names[0] == "0"


def test_val_size_limit_and_fraction(isolated: Path, fake_mnist) -> None:
    root = fake_mnist(isolated / "root", marker=1, n_train=200)
    assert load_dataset("mnist", root=root, val_size=50).sizes()["val"] == 50
    assert load_dataset("mnist", root=root, val_fraction=0.25).sizes()["val"] == 50
    assert load_dataset("mnist", root=root, limit=7).sizes() == {"train": 7, "val": 7, "test": 7}
    for bad in ({"val_fraction": 1.0}, {"val_size": 200}, {"limit": 0}, {"split_seed": 1.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            load_dataset("mnist", root=root, **bad)


def test_pixel_range_image_size_and_flatten(isolated: Path, fake_mnist) -> None:
    root = fake_mnist(isolated / "root", marker=255)
    s01 = load_dataset("mnist", root=root, limit=4)
    x01 = s01.tensors("train")[0]
    assert s01.pixel_range == (0.0, 1.0) and s01.input_shape == (1, 28, 28)
    assert x01.dtype == torch.float32 and float(x01.max()) == 1.0 and float(x01.min()) == 0.0
    s11 = load_dataset("mnist", root=root, limit=4, pixel_range="[-1,1]")
    assert torch.allclose(s11.tensors("train")[0], x01 * 2 - 1)
    assert s11.pixel_range == (-1.0, 1.0)
    s32 = load_dataset("mnist", root=root, limit=4, image_size=32, flatten=True)
    assert s32.input_shape == (32 * 32,) and s32.tensors("val")[0].shape == (4, 1024)
    assert load_dataset("mnist", root=root, limit=2, image_size=(14, 20)).input_shape == (1, 14, 20)


def test_summary_is_json(isolated: Path, fake_mnist) -> None:
    s = load_dataset("mnist", root=fake_mnist(isolated / "r", marker=1), limit=3)
    info = json.loads(json.dumps(s.summary()))
    assert info["sizes"] == {"train": 3, "val": 3, "test": 3}
    assert info["pixel_range"] == [0.0, 1.0] and info["input_shape"] == [1, 28, 28]
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        s.split("dev")


def test_tensors_of_any_dataset() -> None:
    """A split that is neither a TensorDataset nor read from files is gathered item by item."""

    class Pairs(Dataset):
        def __len__(self) -> int:
            return 3

        def __getitem__(self, i: int):
            return torch.full((2,), float(i)), i % 2

    class Empty(Pairs):
        def __len__(self) -> int:
            return 0

    s = DataSplits(Pairs(), Empty(), Pairs(), name="p", input_shape=(2,), num_classes=2)
    x, y = s.tensors("train")
    assert x.tolist() == [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]] and y.tolist() == [0, 1, 0]
    x, y = s.tensors("val")
    assert x.shape == (0, 2) and y.dtype == torch.long


def test_tensor_splits_and_seeded_permutation() -> None:
    assert torch.equal(seeded_permutation(50, 7), seeded_permutation(50, 7))
    assert not torch.equal(seeded_permutation(50, 7), seeded_permutation(50, 8))
    x, y = torch.rand(6, 1, 2, 2), torch.arange(6)
    idx = {"train": torch.tensor([0, 1, 2]), "val": torch.tensor([3]), "test": torch.tensor([4, 5])}
    s = tensor_splits(x, y, idx, name="t", num_classes=6, pixel_range=(0.0, 1.0))
    assert isinstance(s.train, TensorDataset) and s.sizes() == {"train": 3, "val": 1, "test": 2}
    assert torch.equal(s.tensors("test")[0], x[4:]) and s.tensors("val")[1].tolist() == [3]
    assert s.input_shape == (1, 2, 2) and s.source is None and s.class_names is None


def test_pixel_range_parsing_and_for_model() -> None:
    assert parse_pixel_range("[0,1]") == (0.0, 1.0)
    assert parse_pixel_range("(-1, 1)") == (-1.0, 1.0)
    assert parse_pixel_range([0, 255]) == (0.0, 255.0)
    for bad in ("[1,0]", "x", (0, 1, 2), (0, float("nan")), (True, 2)):
        with pytest.raises(ValueError, match="pixel_range"):
            parse_pixel_range(bad)  # type: ignore[arg-type]
    assert pixel_range_for(autoencoders.build("ae", h=4, z=2)) == (0.0, 1.0)
    tanh = autoencoders.build("vae", h=4, z=2, output_activation="tanh")
    assert pixel_range_for(tanh) == (-1.0, 1.0)
    with pytest.raises(TypeError, match="output_activation"):
        pixel_range_for(torch.nn.Linear(2, 2))


def test_pixel_range_for_follows_the_models_pixel_range() -> None:
    """The model owns its range: pixel_range_for reads model.pixel_range, whatever decides it."""
    tanh = autoencoders.build("vae", h=4, z=2, output_activation="tanh")
    assert pixel_range_for(tanh) == tanh.pixel_range == (-1.0, 1.0)
    # wrapped models are unwrapped first
    assert pixel_range_for(torch.compile(tanh)) == (-1.0, 1.0)
    assert pixel_range_for(torch.nn.DataParallel(tanh)) == (-1.0, 1.0)

    class Bytes(autoencoders.Autoencoder):  # a model whose data is 0..255
        @property
        def pixel_range(self) -> tuple[float, float]:
            return (0.0, 255.0)

    model = autoencoders.build("ae", h=4, z=2)
    model.__class__ = Bytes
    assert model.output_activation != "tanh" and pixel_range_for(model) == (0.0, 255.0)
    # no tanh rule of its own: an object saying tanh but declaring (0, 1) gets (0, 1)
    duck = types.SimpleNamespace(output_activation="tanh", pixel_range=(0, 1))
    assert pixel_range_for(duck) == (0.0, 1.0)
    assert all(isinstance(v, float) for v in pixel_range_for(duck))
