"""Datasets are registry entries: lookup by any spelling, did-you-mean, plugins, options."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import autoencoders
from autoencoders.data import (
    DATASET_NAMES,
    SHARED_OPTIONS,
    DataSplits,
    dataset_names,
    dataset_takes,
    from_tensors,
    load_celeba,
    load_dataset,
    load_fashion_mnist,
    load_image_folder,
    load_mnist,
)
from autoencoders.registry import UnknownArgumentError, UnknownNameError, datasets


@pytest.fixture
def registered() -> Iterator[list[str]]:
    """Names registered by the test, unregistered afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        datasets.unregister(name)


def test_builtin_datasets_are_registered() -> None:
    assert set(datasets.names()) >= {"celeba", "fashion_mnist", "folder", "mnist", "tensors"}
    assert datasets.get("fashion-mnist") is load_fashion_mnist
    for alias in ("fashion_mnist", "FashionMNIST", "fmnist", "Fashion-MNIST"):
        assert datasets.canonical(alias) == "fashion_mnist"
    assert datasets.get("mnist") is load_mnist
    assert datasets.get("celeb-a") is datasets.get("celeb_a") is load_celeba
    assert datasets.get("folder") is datasets.get("image_folder") is load_image_folder
    assert datasets.get("tensors") is from_tensors
    assert datasets.name_of(load_fashion_mnist) == "fashion_mnist"
    # the display names (and DATASET_NAMES) keep their dashes
    assert load_fashion_mnist.name == "fashion-mnist"
    assert DATASET_NAMES == ("celeba", "fashion-mnist", "mnist", "folder:<path>", "synthetic-faces")
    for name in (*DATASET_NAMES[:3], DATASET_NAMES[4]):
        assert name in datasets


def test_unknown_name_suggests_a_close_match() -> None:
    with pytest.raises(ValueError, match="did you mean 'fashion-mnist'") as info:
        load_dataset("fashion-mnsit")
    assert isinstance(info.value, UnknownNameError)
    # every name is listed as it is typed on the command line
    assert (
        "Registered datasets: celeba, fashion-mnist, folder:<path>, mnist, synthetic-faces, tensors"
        in str(info.value)
    )
    assert "fashion_mnist" not in str(info.value)
    with pytest.raises(ValueError, match="did you mean 'fashion-mnist'"):
        load_dataset("fashion_mnst")  # the suggestion is spelled the same way
    with pytest.raises(ValueError, match="did you mean 'celeba'"):
        load_dataset("celebA_")
    with pytest.raises(ValueError, match="unknown dataset 'cifar10'"):
        load_dataset("cifar10")
    with pytest.raises(TypeError):
        load_dataset(3)  # type: ignore[arg-type]


def test_dataset_names_are_spelled_as_typed(registered: list[str]) -> None:
    assert dataset_names() == [
        "celeba",
        "fashion-mnist",
        "folder:<path>",
        "mnist",
        "synthetic-faces",
        "tensors",
    ]
    assert dataset_names(command_line=True) == [
        "celeba",
        "fashion-mnist",
        "folder:<path>",
        "mnist",
        "synthetic-faces",
    ]
    # DATASET_NAMES: the built-in ones a name alone loads
    assert set(DATASET_NAMES) == set(dataset_names(command_line=True))

    @datasets.register("my_needy_data")
    def load_needy(size: int, *, limit: int | None = None) -> DataSplits:
        return from_tensors(torch.zeros(10, size))

    registered.append("my_needy_data")
    assert "my-needy-data" in dataset_names()
    assert "my-needy-data" not in dataset_names(command_line=True)
    with pytest.raises(TypeError, match=r"dataset 'my_needy_data' needs size=\.\.\.; give it"):
        load_dataset("my-needy-data", limit=2)
    assert load_dataset("my-needy-data", size=3).input_shape == (3,)


def test_a_missing_required_argument_says_what_to_give() -> None:
    """Not Python's "missing 1 required positional argument": what to pass, and how."""
    with pytest.raises(TypeError) as info:
        load_dataset("folder", limit=2)
    assert str(info.value).startswith("dataset 'folder' needs path=<folder of images>; name it ")
    assert "--data folder:<path>" in str(info.value)
    for name in ("tensors", "arrays"):
        with pytest.raises(TypeError, match=r"dataset 'tensors' needs x=\.\.\. \(arrays"):
            load_dataset(name, channels=1)
    with pytest.raises(TypeError, match="cannot be named on the command line"):
        load_dataset("tensors")


def test_dataset_takes(registered: list[str]) -> None:
    assert dataset_takes("image-folder:/nowhere", "channels")
    assert dataset_takes("celeb-a", "image_size") and dataset_takes("mnist", "channels")
    assert not dataset_takes("tensors", "channels") and not dataset_takes("celeba", "val_fraction")

    @datasets.register("any_options")
    def load_any(**options: object) -> DataSplits:
        return from_tensors(torch.zeros(10, 2))

    registered.append("any_options")
    assert dataset_takes("any-options", "channels")
    with pytest.raises(UnknownNameError, match="did you mean 'fashion-mnist'"):
        dataset_takes("fashon-mnist", "channels")


def test_unknown_option_suggests_a_close_match(isolated: Path) -> None:
    with pytest.raises(UnknownArgumentError, match="'val_fracton'; did you mean 'val_fraction'"):
        load_dataset("mnist", val_fracton=0.2)
    with pytest.raises(TypeError, match="dataset 'folder' got unexpected keyword argument 'sise'"):
        load_dataset("folder:/nowhere", sise=3)


def test_shared_options_are_checked_alike_for_every_dataset(isolated: Path) -> None:
    """A bad shared option is the same error whichever dataset it is for, even one that does
    not use the option, and is raised before any file is looked for."""
    assert "limit" in SHARED_OPTIONS and "root" in SHARED_OPTIONS
    for name in ("mnist", "celeba", "folder:/nowhere", "tensors"):
        with pytest.raises(ValueError, match="limit must be a positive integer or None, got 0"):
            load_dataset(name, limit=0)
        with pytest.raises(ValueError, match=r"val_fraction must be a number in \[0, 1\)"):
            load_dataset(name, val_fraction=2)
        with pytest.raises(TypeError, match="download must be True, False or None"):
            load_dataset(name, download="yes")
        with pytest.raises(ValueError, match="val_size must be a non-negative integer"):
            load_dataset(name, val_size=-1)
        with pytest.raises(ValueError, match="pixel_range must be"):
            load_dataset(name, pixel_range="0..1")


def test_a_plugin_dataset_is_loaded_by_name(registered: list[str]) -> None:
    seen: dict[str, object] = {}

    @autoencoders.registry.datasets.register("my-squares", aliases=("squares",))
    def load_squares(*, size: int = 4, limit: int | None = None, pixel_range="auto") -> DataSplits:
        seen.update(size=size, limit=limit, pixel_range=pixel_range)
        x = torch.zeros(20, 1, size, size)
        return from_tensors(x, torch.arange(20) % 2, name="my-squares", limit=limit)

    registered.append("my_squares")
    assert "my_squares" in datasets.names()
    s = load_dataset("my-squares", size=6, limit=3)
    assert s.name == "my-squares" and s.input_shape == (1, 6, 6) and s.num_classes == 2
    assert s.sizes() == {"train": 3, "val": 2, "test": 2}
    assert seen == {"size": 6, "limit": 3, "pixel_range": "auto"}
    # shared options it does not take are left out; None means its own default
    s = load_dataset("squares", root="/nowhere", download=False, split_seed=3, limit=None)
    assert seen == {"size": 4, "limit": None, "pixel_range": "auto"}
    # its own options are checked by the registry, with a close match
    with pytest.raises(UnknownArgumentError, match="'sise'; did you mean 'size'"):
        load_dataset("my_squares", sise=5)
    with pytest.raises(UnknownNameError, match="did you mean 'my-squares'"):
        load_dataset("my-sqares")


def test_a_plugin_taking_any_keyword_gets_every_option(registered: list[str]) -> None:
    got: dict[str, object] = {}

    @datasets.register("anything")
    def load_anything(**options: object) -> DataSplits:
        got.update(options)
        return from_tensors(torch.rand(10, 3), test_fraction=0.0)

    registered.append("anything")
    load_dataset("anything", root="/data", limit=2, colour="blue", channels=None)
    assert got == {"root": "/data", "limit": 2, "colour": "blue"}


def test_a_loader_must_return_data_splits(registered: list[str]) -> None:
    @datasets.register("broken")
    def load_broken() -> list[int]:
        return [1, 2, 3]

    registered.append("broken")
    with pytest.raises(TypeError, match="dataset 'broken' returned list; .* must return"):
        load_dataset("broken")


def test_tensors_by_name() -> None:
    x = torch.rand(30, 2, 4, 4)
    s = load_dataset("tensors", x=x, y=torch.arange(30) % 3, val_size=5, test_fraction=0.2)
    assert s.sizes() == {"train": 19, "val": 5, "test": 6} and s.num_classes == 3
    direct = from_tensors(x, torch.arange(30) % 3, val_size=5, test_fraction=0.2)
    assert torch.equal(s.tensors("val")[0], direct.tensors("val")[0])
