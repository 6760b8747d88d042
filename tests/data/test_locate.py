"""Where datasets are looked for (root, AUTOENCODERS_DATA, the cache, Debian), the error when
they are nowhere, and downloads through (a stand-in for) torchvision."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from autoencoders import data
from autoencoders.data import DataLayout, DatasetNotFoundError, load_dataset, search_dirs
from autoencoders.data.locate import download_allowed, download_target, layout_of


def test_search_order(isolated: Path, monkeypatch: pytest.MonkeyPatch, fake_mnist, pixel) -> None:
    root = fake_mnist(isolated / "root", marker=1)
    env = isolated / "env"
    fake_mnist(env / "FashionMNIST" / "raw", marker=2, gz=False)  # torchvision's layout
    cache = fake_mnist(isolated / "xdg" / "autoencoders" / "fashion-mnist", marker=3)
    debian = fake_mnist(isolated / "debian" / "fashion-mnist", marker=4)
    monkeypatch.setenv(data.ENV_VAR, str(env))

    def marker(**kw) -> int:
        s = load_dataset("fashion-mnist", limit=5, **kw)
        return int(pixel(s, "train", 0, 0)[0])

    assert marker(root=root) == 1
    assert marker() == 2
    assert load_dataset("fmnist", limit=1).source == str(env / "FashionMNIST" / "raw")
    monkeypatch.delenv(data.ENV_VAR)
    assert marker() == 3
    for f in cache.iterdir():
        f.unlink()
    assert marker() == 4
    for f in debian.iterdir():
        f.unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("fashion-mnist", root=isolated / "elsewhere")
    msg = str(info.value)
    for place in (
        isolated / "elsewhere",
        isolated / "elsewhere" / "FashionMNIST" / "raw",
        isolated / "xdg" / "autoencoders" / "fashion-mnist",
        isolated / "debian" / "fashion-mnist",
    ):
        assert str(place) in msg
    assert "apt-get install dataset-fashion-mnist" in msg
    assert data.ENV_VAR in msg and "download=True" in msg
    assert isinstance(info.value, ValueError) and isinstance(info.value, FileNotFoundError)


def test_not_found_error_keeps_its_parts(isolated: Path) -> None:
    """The error holds the dataset, the folders searched and the dataset's own install hint, so
    that a front end (the CLI) can word the hint with its own option names."""
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("fashion-mnist", root=isolated / "elsewhere")
    err = info.value
    assert err.dataset == "fashion-mnist"
    assert list(err.searched) == search_dirs("fashion-mnist", isolated / "elsewhere")
    assert err.install == "apt-get install dataset-fashion-mnist"
    assert err.download_error is None and err.download_target is None
    # the Python message names the Python arguments, one folder per line
    msg = str(err)
    assert msg == err.describe()
    assert "root=DIR" in msg and "download=True" in msg and "--" not in msg
    for place in err.searched:
        assert f"\n  - {place}\n" in msg
    # a command line names its options instead, on one line
    line = err.describe(root_option="--data-root DIR", download_option="--download", one_line=True)
    assert "\n" not in line
    assert "--data-root DIR" in line and "pass --download (or set AUTOENCODERS_DOWNLOAD=1)" in line
    assert "root=" not in line and "download=True" not in line
    assert ": " + ", ".join(map(str, err.searched)) + ". To get it: " in line
    assert "run `apt-get install dataset-fashion-mnist`" in line
    # pickled (e.g. across processes) by its parts
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is DatasetNotFoundError and str(back) == msg
    assert back.searched == err.searched and back.install == err.install
    # mnist has no Debian package: no apt-get hint
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("mnist")
    assert info.value.install is None and "apt-get" not in str(info.value)
    assert info.value.dataset == "mnist" and "<dir>/mnist/" in str(info.value)


def test_explicit_root_flat_and_named_layouts(isolated: Path, fake_mnist, pixel) -> None:
    fake_mnist(isolated / "r1", marker=7, gz=False)
    fake_mnist(isolated / "r2" / "mnist", marker=8)
    assert int(pixel(load_dataset("mnist", root=isolated / "r1", limit=2), "test", 0, 0)[0]) == 7
    assert int(pixel(load_dataset("mnist", root=isolated / "r2", limit=2), "test", 0, 0)[0]) == 8


def test_env_var_may_list_several_folders(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, fake_mnist, pixel
) -> None:
    fake_mnist(isolated / "b" / "mnist", marker=9)
    monkeypatch.setenv(data.ENV_VAR, os.pathsep.join([str(isolated / "a"), str(isolated / "b")]))
    assert int(pixel(load_dataset("mnist", limit=2), "train", 0, 0)[0]) == 9


def test_search_dirs_order(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.ENV_VAR, str(isolated / "env"))
    dirs = search_dirs("fashion_mnist", root=isolated / "root")
    assert dirs == [
        isolated / "root",
        isolated / "root" / "fashion-mnist",
        isolated / "root" / "FashionMNIST" / "raw",
        isolated / "env" / "fashion-mnist",
        isolated / "env" / "FashionMNIST" / "raw",
        isolated / "xdg" / "autoencoders" / "fashion-mnist",
        isolated / "xdg" / "autoencoders" / "FashionMNIST" / "raw",
        isolated / "debian" / "fashion-mnist",
    ]
    # any alias, and the layout itself, give the same folders
    assert search_dirs("FMNIST", root=isolated / "root") == dirs
    assert search_dirs(layout_of("fashion-mnist"), root=isolated / "root") == dirs


def test_layouts_of_datasets(isolated: Path) -> None:
    assert layout_of("mnist") == DataLayout("mnist", torchvision_name="MNIST")
    assert layout_of("celeb-a") == DataLayout("celeba", debian=False)
    # CelebA: no torchvision raw/ folder, no Debian folder
    assert search_dirs("celeba", isolated / "r") == [
        isolated / "r",
        isolated / "r" / "celeba",
        isolated / "xdg" / "autoencoders" / "celeba",
    ]
    # a loader registered without a layout keeps its files in a folder named as it is
    assert layout_of("tensors") == DataLayout("tensors")
    with pytest.raises(ValueError, match="did you mean 'mnist'"):
        search_dirs("mnsit")


def test_cache_dir_without_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.cache_dir() == tmp_path / ".cache" / "autoencoders"


def test_download_allowed_and_target(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert download_allowed(None) is False
    for value in ("1", "true", "YES", "on"):
        monkeypatch.setenv(data.DOWNLOAD_ENV_VAR, value)
        assert download_allowed(None) is True
        assert download_allowed(False) is False
    with pytest.raises(TypeError, match="download must be True, False or None, got 1"):
        download_allowed(1)  # type: ignore[arg-type]
    assert download_target(None) == isolated / "xdg" / "autoencoders"
    monkeypatch.setenv(data.ENV_VAR, os.pathsep.join([str(isolated / "a"), str(isolated / "b")]))
    assert download_target(None) == isolated / "a"
    assert download_target(isolated / "r") == isolated / "r"


def test_mnist_files_are_read_like_torchvision(isolated: Path, fake_mnist) -> None:
    """Files in torchvision's layout <root>/MNIST/raw/ (un-gzipped): torchvision reads the same."""
    torchvision = pytest.importorskip("torchvision")
    fake_mnist(isolated / "root" / "MNIST" / "raw", marker=5, gz=False)
    ours = load_dataset("mnist", root=isolated / "root", val_size=0)
    tv = torchvision.datasets.MNIST(str(isolated / "root"), train=False, download=False)
    x, y = ours.tensors("test")
    assert torch.equal((x[:, 0] * 255).round().to(torch.uint8), tv.data)
    assert torch.equal(y, tv.targets)
    assert ours.class_names == tuple(str(d) for d in range(10))


def test_download_goes_through_torchvision_into_the_cache(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, fake_torchvision_mnist, pixel
) -> None:
    import torchvision.datasets

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", fake_torchvision_mnist)
    with pytest.raises(DatasetNotFoundError):
        load_dataset("fashion-mnist", download=False)
    assert fake_torchvision_mnist.calls == []
    s = load_dataset("fashion-mnist", download=True, limit=3)
    cache = isolated / "xdg" / "autoencoders"
    assert fake_torchvision_mnist.calls[0] == (str(cache), True, True)
    assert s.source == str(cache / "FashionMNIST" / "raw")
    assert int(pixel(s, "train", 0, 0)[0]) == 6


def test_download_allowed_by_env_var(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, fake_torchvision_mnist
) -> None:
    import torchvision.datasets

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", fake_torchvision_mnist)
    monkeypatch.setenv(data.DOWNLOAD_ENV_VAR, "1")
    monkeypatch.setenv(data.ENV_VAR, str(isolated / "envdir"))
    s = load_dataset("fashion-mnist", limit=2)  # download=None: the variable decides
    assert s.source == str(isolated / "envdir" / "FashionMNIST" / "raw")


def test_failed_download_is_a_dataset_not_found_error(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torchvision.datasets

    class Offline:
        def __init__(self, *args, **kwargs) -> None:
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets, "MNIST", Offline)
    with pytest.raises(DatasetNotFoundError, match="could not download") as info:
        load_dataset("mnist", download=True)
    err, msg = info.value, str(info.value)
    cache = isolated / "xdg" / "autoencoders"
    assert err.dataset == "mnist" and err.download_target == cache
    assert err.download_error == "Error downloading train-images-idx3-ubyte.gz"
    assert isinstance(err.__cause__, RuntimeError)
    assert msg.startswith("dataset 'mnist' was not found locally (no IDX files")
    assert f"torchvision could not download it into {cache}: Error downloading" in msg
    for place in search_dirs("mnist"):
        assert f"  - {place}\n" in msg
    # the download was tried: the hint is how to get the files by hand, not download=True again
    assert "To get it: put the files in one of those folders" in msg
    assert "download=True" not in msg and data.DOWNLOAD_ENV_VAR not in msg


def test_download_that_leaves_no_files_is_reported(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torchvision.datasets

    class Silent:  # "succeeds" without writing anything
        def __init__(self, *args, **kwargs) -> None:
            pass

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", Silent)
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("fashion-mnist", download=True)
    raw = isolated / "xdg" / "autoencoders" / "FashionMNIST" / "raw"
    assert info.value.download_error == f"the download left no IDX files in {raw}"
    assert info.value.searched[-1] == raw
