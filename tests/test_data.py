"""Tests of autoencoders.data: IDX parsing, the search order, splits, CelebA, folders, tensors.

Everything except the ``realdata`` tests runs on small files written to ``tmp_path``; the
environment, the user cache and the Debian path are redirected there, so no test depends on
what is installed on the machine or touches the network.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

import autoencoders
from autoencoders import data
from autoencoders.data import (
    DatasetNotFoundError,
    DataSplits,
    ImageFilesDataset,
    from_tensors,
    load_dataset,
    load_image_folder,
    parse_pixel_range,
    pixel_range_for,
    read_idx,
    search_dirs,
)

FASHION = Path("/usr/share/datasets/fashion-mnist")
IDX_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
requires_fashion = pytest.mark.skipif(
    not all((FASHION / f"{n}.gz").is_file() for n in IDX_NAMES),
    reason="Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)",
)


# -- helpers --------------------------------------------------------------------------------------
def idx_bytes(arr: np.ndarray) -> bytes:
    codes = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D}
    code = codes[arr.dtype.name]
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, arr: np.ndarray, gz: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = idx_bytes(arr)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)
    return path


def fake_mnist(folder: Path, *, marker: int, n_train: int = 200, n_test: int = 30, gz: bool = True):
    """Four IDX files in ``folder``: pixel (0, 0) holds ``marker``, pixel (0, 1) the item's index,
    label = index % 10."""
    for part, n in (("train", n_train), ("t10k", n_test)):
        img = np.zeros((n, 28, 28), dtype=np.uint8)
        img[:, 0, 0] = marker
        img[:, 0, 1] = np.arange(n)
        img[:, 5:20, 5:20] = (np.arange(n) % 10 * 25)[:, None, None]
        lab = (np.arange(n) % 10).astype(np.uint8)
        write_idx(folder / f"{part}-images-idx3-ubyte", img, gz)
        write_idx(folder / f"{part}-labels-idx1-ubyte", lab, gz)
    return folder


def pixel(splits: DataSplits, split: str, r: int, c: int) -> torch.Tensor:
    """Pixel values back as 0..255 integers, one per item."""
    x = splits.tensors(split)[0]
    return (x[:, 0, r, c] * 255).round().long()


# -- IDX ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32"])
def test_read_idx_round_trip(tmp_path: Path, gz: bool, dtype: str) -> None:
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = write_idx(tmp_path / "a-idx3", arr, gz)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(out, arr)
    assert out.flags.writeable


def test_read_idx_gzip_detected_by_content(tmp_path: Path) -> None:
    path = tmp_path / "no-suffix"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(4, dtype=np.uint8))))
    np.testing.assert_array_equal(read_idx(path), np.arange(4))


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "not an IDX file"),
        (b"PK\x03\x04", "not an IDX file"),
        (b"", "not an IDX file"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x02", "truncated IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x05", "truncated"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x05\x06", "trailing data"),
        (b"\x1f\x8b\x08\x00garbage", "could not be read"),
    ],
)
def test_read_idx_rejects_bad_files(tmp_path: Path, raw: bytes, match: str) -> None:
    path = tmp_path / "bad"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


def test_inconsistent_idx_files_are_reported(isolated: Path) -> None:
    folder = fake_mnist(isolated / "root", marker=1)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(7, dtype=np.uint8), gz=True)
    with pytest.raises(ValueError, match="expected 30 labels"):
        load_dataset("fashion-mnist", root=folder)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.full(30, 12, dtype=np.uint8), gz=True)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 10\)"):
        load_dataset("fashion-mnist", root=folder)


# -- search order ---------------------------------------------------------------------------------
def test_search_order(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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


def test_explicit_root_flat_and_named_layouts(isolated: Path) -> None:
    fake_mnist(isolated / "r1", marker=7, gz=False)
    fake_mnist(isolated / "r2" / "mnist", marker=8)
    assert int(pixel(load_dataset("mnist", root=isolated / "r1", limit=2), "test", 0, 0)[0]) == 7
    assert int(pixel(load_dataset("mnist", root=isolated / "r2", limit=2), "test", 0, 0)[0]) == 8


def test_env_var_may_list_several_folders(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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


def test_cache_dir_without_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.cache_dir() == tmp_path / ".cache" / "autoencoders"


def test_mnist_files_are_read_like_torchvision(isolated: Path) -> None:
    """Files in torchvision's layout <root>/MNIST/raw/ (un-gzipped): torchvision reads the same."""
    torchvision = pytest.importorskip("torchvision")
    fake_mnist(isolated / "root" / "MNIST" / "raw", marker=5, gz=False)
    ours = load_dataset("mnist", root=isolated / "root", val_size=0)
    tv = torchvision.datasets.MNIST(str(isolated / "root"), train=False, download=False)
    x, y = ours.tensors("test")
    assert torch.equal((x[:, 0] * 255).round().to(torch.uint8), tv.data)
    assert torch.equal(y, tv.targets)
    assert ours.class_names == tuple(str(d) for d in range(10))


class _FakeTorchvisionDataset:
    """Stands in for torchvision's FashionMNIST: "downloads" by writing un-gzipped files."""

    calls: list[tuple[str, bool, bool]] = []  # noqa: RUF012

    def __init__(self, root: str, train: bool = True, download: bool = False) -> None:
        type(self).calls.append((root, train, download))
        fake_mnist(Path(root) / "FashionMNIST" / "raw", marker=6, gz=False)


def test_download_goes_through_torchvision_into_the_cache(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torchvision.datasets

    _FakeTorchvisionDataset.calls = []
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", _FakeTorchvisionDataset)
    with pytest.raises(DatasetNotFoundError):
        load_dataset("fashion-mnist", download=False)
    assert _FakeTorchvisionDataset.calls == []
    s = load_dataset("fashion-mnist", download=True, limit=3)
    cache = isolated / "xdg" / "autoencoders"
    assert _FakeTorchvisionDataset.calls[0] == (str(cache), True, True)
    assert s.source == str(cache / "FashionMNIST" / "raw")
    assert int(pixel(s, "train", 0, 0)[0]) == 6


def test_download_allowed_by_env_var(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", _FakeTorchvisionDataset)
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


# -- splits ---------------------------------------------------------------------------------------
def test_validation_split_is_seeded_and_disjoint(isolated: Path) -> None:
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


def test_val_size_limit_and_fraction(isolated: Path) -> None:
    root = fake_mnist(isolated / "root", marker=1, n_train=200)
    assert load_dataset("mnist", root=root, val_size=50).sizes()["val"] == 50
    assert load_dataset("mnist", root=root, val_fraction=0.25).sizes()["val"] == 50
    assert load_dataset("mnist", root=root, limit=7).sizes() == {"train": 7, "val": 7, "test": 7}
    for bad in ({"val_fraction": 1.0}, {"val_size": 200}, {"limit": 0}, {"split_seed": 1.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            load_dataset("mnist", root=root, **bad)


def test_pixel_range_image_size_and_flatten(isolated: Path) -> None:
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


def test_summary_is_json(isolated: Path) -> None:
    import json

    s = load_dataset("mnist", root=fake_mnist(isolated / "r", marker=1), limit=3)
    info = json.loads(json.dumps(s.summary()))
    assert info["sizes"] == {"train": 3, "val": 3, "test": 3}
    assert info["pixel_range"] == [0.0, 1.0] and info["input_shape"] == [1, 28, 28]
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        s.split("dev")


def test_unknown_name_suggests_a_close_match() -> None:
    with pytest.raises(ValueError, match="did you mean 'fashion-mnist'") as info:
        load_dataset("fashion-mnsit")
    for name in ("celeba", "fashion-mnist", "mnist", "folder:<path>"):
        assert name in str(info.value)
    with pytest.raises(TypeError):
        load_dataset(3)  # type: ignore[arg-type]


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


# -- CelebA ---------------------------------------------------------------------------------------
def fake_celeba(base: Path, parts=(0,) * 6 + (1,) * 2 + (2,) * 3) -> Path:
    from PIL import Image

    folder = base / "celeba"
    images = folder / "img_align_celeba"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for i, part in enumerate(parts, start=1):
        name = f"{i:06d}.jpg"
        arr = rng.integers(0, 256, size=(44, 36, 3), dtype=np.uint8)  # 36 wide, 44 tall
        Image.fromarray(arr).save(images / name, quality=95)
        lines.append(f"{name} {part}")
    (folder / data.CELEBA_PARTITION_FILE).write_text("\n".join(lines) + "\n")
    return folder


def test_celeba_layout_partition_and_transform(isolated: Path) -> None:
    import torchvision.transforms as T
    from PIL import Image

    folder = fake_celeba(isolated / "root")
    s = load_dataset("celeba", root=isolated / "root")
    assert s.sizes() == {"train": 6, "val": 2, "test": 3}
    assert s.input_shape == (3, 64, 64) and s.pixel_range == (-1.0, 1.0)
    assert s.num_classes is None and s.source == str(folder)
    x, y = s.tensors("test")
    assert torch.equal(y, torch.full((3,), -1))
    # the same as torchvision's Resize(64) + CenterCrop(64) + ToTensor, mapped to [-1, 1]
    tf = T.Compose([T.Resize(64), T.CenterCrop(64), T.ToTensor()])
    with Image.open(folder / "img_align_celeba" / "000009.jpg") as im:
        expected = tf(im.convert("RGB")) * 2 - 1
    assert torch.allclose(x[0], expected, atol=1e-6)
    # read lazily from disk: the same values
    lazy = load_dataset("celeba", root=isolated / "root", in_memory=False)
    assert isinstance(lazy.test, ImageFilesDataset)
    assert torch.allclose(lazy.test[0][0], x[0]) and int(lazy.test[0][1]) == -1
    assert torch.allclose(lazy.tensors("test")[0], x)
    # root may also be the celeba folder itself
    assert load_dataset("celeba", root=folder, limit=1).source == str(folder)


def test_celeba_found_through_env_and_options(isolated: Path, monkeypatch) -> None:
    fake_celeba(isolated / "env")
    monkeypatch.setenv(data.ENV_VAR, str(isolated / "env"))
    s = load_dataset("celeb_a", image_size=16, pixel_range="[0,1]", limit=2, flatten=True)
    assert s.sizes() == {"train": 2, "val": 2, "test": 2}
    assert s.input_shape == (3 * 16 * 16,) and float(s.tensors()[0].min()) >= 0


class _FakeCelebA:
    """Stands in for torchvision's CelebA: "downloads" by writing a tiny CelebA."""

    calls: list[tuple[str, str, object, bool]] = []  # noqa: RUF012

    def __init__(
        self, root: str, split: str = "train", target_type="attr", download: bool = False
    ) -> None:
        type(self).calls.append((root, split, target_type, download))
        fake_celeba(Path(root))


def test_celeba_download_goes_through_torchvision(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torchvision.datasets

    _FakeCelebA.calls = []
    monkeypatch.setattr(torchvision.datasets, "CelebA", _FakeCelebA)
    monkeypatch.setenv(data.ENV_VAR, str(isolated / "env"))
    with pytest.raises(DatasetNotFoundError, match="img_align_celeba"):
        load_dataset("celeba", download=False)
    assert _FakeCelebA.calls == []
    s = load_dataset("celeba", download=True, image_size=16, limit=2)
    # into the first AUTOENCODERS_DATA folder, every split, no attribute files needed
    assert _FakeCelebA.calls == [(str(isolated / "env"), "all", [], True)]
    assert s.source == str(isolated / "env" / "celeba")
    assert s.sizes() == {"train": 2, "val": 2, "test": 2} and s.input_shape == (3, 16, 16)
    # found on disk now: no second download
    load_dataset("celeba", download=True, image_size=16, limit=1)
    assert len(_FakeCelebA.calls) == 1


def test_celeba_failed_download_message(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets

    class NoGdown:
        def __init__(self, *args, **kwargs) -> None:
            raise RuntimeError("Downloading CelebA needs gdown. Install it with pip.")

    monkeypatch.setattr(torchvision.datasets, "CelebA", NoGdown)
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("celeba", root=isolated / "faces", download=True)
    err, msg = info.value, str(info.value)
    assert isinstance(err.__cause__, RuntimeError)
    assert err.dataset == "celeba" and err.download_target == isolated / "faces"
    assert list(err.searched) == search_dirs("celeba", isolated / "faces")
    assert msg.startswith(
        "dataset 'celeba' was not found locally (no 'img_align_celeba/' folder with "
        f"'{data.CELEBA_PARTITION_FILE}' in any of\n  - {isolated / 'faces'}\n"
    )
    assert str(isolated / "xdg" / "autoencoders" / "celeba") in msg
    assert (
        f"torchvision could not download it into {isolated / 'faces'}: Downloading CelebA "
        "needs gdown. Install it with pip\n"
    ) in msg
    # how to get it by hand: the two files to fetch and where they go; no download=True again
    assert "To get it: download img_align_celeba.zip and list_eval_partition.txt" in msg
    assert "in the folder given by root=DIR, or in <dir>/celeba/" in msg
    assert "download=True" not in msg
    one = err.describe(root_option="--data-root DIR", download_option="--download", one_line=True)
    assert "\n" not in one and "--data-root DIR" in one and "--download" not in one


def test_celeba_missing_and_broken(isolated: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="img_align_celeba") as info:
        load_dataset("celeba")
    assert str(isolated / "xdg" / "autoencoders" / "celeba") in str(info.value)
    folder = fake_celeba(isolated / "root")
    (folder / "img_align_celeba" / "000002.jpg").unlink()
    with pytest.raises(ValueError, match="missing"):
        load_dataset("celeba", root=isolated / "root")
    (folder / data.CELEBA_PARTITION_FILE).write_text("000001.jpg 7\n")
    with pytest.raises(ValueError, match="line 1"):
        load_dataset("celeba", root=isolated / "root")


# -- image folders --------------------------------------------------------------------------------
def write_pngs(folder: Path, n: int, mode: str = "L", size=(12, 10), start: int = 0) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        color = (start + i) * 10 if mode == "L" else ((start + i) * 10, 0, 255)
        Image.new(mode, size, color=color).save(folder / f"img{start + i:03d}.png")


def test_flat_folder_is_unlabelled(tmp_path: Path) -> None:
    write_pngs(tmp_path / "imgs", 10)
    s = load_dataset(f"folder:{tmp_path / 'imgs'}", val_fraction=0.2, test_fraction=0.1)
    assert s.sizes() == {"train": 7, "val": 2, "test": 1}
    assert s.input_shape == (1, 10, 12) and s.num_classes is None and s.class_names is None
    xs = torch.cat([s.tensors(k)[0] for k in ("train", "val", "test")])
    got = sorted((xs[:, 0, 0, 0] * 255).round().long().tolist())
    assert got == [10 * i for i in range(10)]  # every image exactly once
    assert (torch.cat([s.tensors(k)[1] for k in ("train", "val", "test")]) == -1).all()
    again = load_image_folder(tmp_path / "imgs", val_fraction=0.2, test_fraction=0.1)
    assert torch.equal(again.tensors("val")[0], s.tensors("val")[0])


def test_class_subfolders_are_labels(tmp_path: Path) -> None:
    write_pngs(tmp_path / "d" / "cat", 4, mode="RGB", start=0)
    write_pngs(tmp_path / "d" / "dog", 5, mode="RGB", start=10)
    s = load_image_folder(tmp_path / "d", image_size=8, pixel_range="[-1,1]", test_fraction=0.2)
    assert s.class_names == ("cat", "dog") and s.num_classes == 2
    assert s.input_shape == (3, 8, 8)
    for split in ("train", "val", "test"):
        x, y = s.tensors(split)
        red = ((x[:, 0, 0, 0] + 1) / 2 * 255).round().long()
        assert torch.equal(y, (red >= 100).long())  # dogs were written with red >= 100
        assert float(x.min()) >= -1 and float(x.max()) <= 1


def test_folder_sizes_channels_and_errors(tmp_path: Path) -> None:
    write_pngs(tmp_path / "mixed", 3, size=(12, 10))
    write_pngs(tmp_path / "mixed", 3, size=(20, 16), start=3)
    with pytest.raises(ValueError, match="differ in size"):
        load_image_folder(tmp_path / "mixed")
    s = load_image_folder(tmp_path / "mixed", image_size=(6, 9), channels=3)
    assert s.input_shape == (3, 6, 9)
    lazy = load_image_folder(tmp_path / "mixed", image_size=(6, 9), channels=3, in_memory=False)
    assert isinstance(lazy.train, ImageFilesDataset)
    assert torch.allclose(lazy.tensors("train")[0], s.tensors("train")[0])
    with pytest.raises(FileNotFoundError):
        load_image_folder(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        load_image_folder(tmp_path / "empty")
    with pytest.raises(ValueError, match="too few"):
        load_image_folder(tmp_path / "mixed", image_size=4, val_fraction=0.5, test_fraction=0.45)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="could not be read as an image"):
        load_image_folder(tmp_path / "broken", image_size=4, channels=1)


def test_channels_convert_grey_and_rgb(isolated: Path, tmp_path: Path) -> None:
    from PIL import Image

    write_pngs(tmp_path / "grey", 5)
    write_pngs(tmp_path / "rgb", 5, mode="RGB")
    grey = load_dataset(f"folder:{tmp_path / 'grey'}", val_fraction=0.2, test_fraction=0.2)
    as_rgb = load_dataset(
        f"folder:{tmp_path / 'grey'}", channels=3, val_fraction=0.2, test_fraction=0.2
    )
    assert grey.input_shape == (1, 10, 12) and as_rgb.input_shape == (3, 10, 12)
    g, c = grey.tensors("train")[0], as_rgb.tensors("train")[0]
    assert torch.equal(c, g.expand(-1, 3, -1, -1))  # three equal channels
    as_grey = load_dataset(f"folder:{tmp_path / 'rgb'}", channels=1, test_fraction=0.2)
    assert as_grey.input_shape == (1, 10, 12)
    with Image.open(tmp_path / "rgb" / "img000.png") as im:
        lum = im.convert("L").getpixel((0, 0))  # Pillow's ITU-R 601-2 luma
    values = torch.cat([as_grey.tensors(k)[0] for k in ("train", "val", "test")])
    assert lum in (values[:, 0, 0, 0] * 255).round().long().tolist()
    # CelebA as greyscale and MNIST-style data as RGB
    fake_celeba(isolated / "root")
    faces = load_dataset("celeba", root=isolated / "root", channels=1, image_size=8)
    assert faces.input_shape == (1, 8, 8)
    root = fake_mnist(isolated / "m", marker=255)
    rgb = load_dataset("mnist", root=root, limit=3, channels=3, pixel_range="[-1,1]")
    x1 = load_dataset("mnist", root=root, limit=3, pixel_range="[-1,1]").tensors("test")[0]
    assert rgb.input_shape == (3, 28, 28)
    assert torch.equal(rgb.tensors("test")[0], x1.expand(-1, 3, -1, -1))
    assert load_dataset("mnist", root=root, limit=3, channels=1).input_shape == (1, 28, 28)
    for bad in (2, 4, 0, True, "rgb"):
        with pytest.raises(ValueError, match=r"channels must be .*1 or 3 .*got"):
            load_dataset("mnist", root=root, channels=bad)
        with pytest.raises(ValueError, match=r"channels must be .*1 or 3 .*got"):
            load_image_folder(tmp_path / "grey", channels=bad)


# -- tensors --------------------------------------------------------------------------------------
def test_from_numpy_uint8_is_scaled() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(100, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=100)
    s = from_tensors(x, y, val_size=10, test_fraction=0.2, split_seed=1)
    assert s.sizes() == {"train": 70, "val": 10, "test": 20}
    assert s.input_shape == (1, 28, 28) and s.num_classes == int(y.max()) + 1
    xs = torch.cat([s.tensors(k)[0] for k in ("train", "val", "test")])
    ys = torch.cat([s.tensors(k)[1] for k in ("train", "val", "test")])
    order = np.lexsort(x.reshape(100, -1)[:, :8].T[::-1])
    back = (xs * 255).round().to(torch.uint8).numpy()[:, 0]
    order_back = np.lexsort(back.reshape(100, -1)[:, :8].T[::-1])
    np.testing.assert_array_equal(back[order_back], x[order])  # same images, reordered
    np.testing.assert_array_equal(ys.numpy()[order_back], y[order])  # labels travel along


def test_from_tensors_float_passthrough_channels_last_and_test_set() -> None:
    x = torch.rand(30, 8, 8, 3) * 2 - 1
    s = from_tensors(x, test_x=torch.rand(5, 8, 8, 3), val_fraction=0.2, flatten=False)
    assert s.input_shape == (3, 8, 8) and s.pixel_range == (-1.0, 1.0)
    assert s.sizes() == {"train": 24, "val": 6, "test": 5}
    xt = torch.cat([s.tensors("train")[0], s.tensors("val")[0]])
    assert torch.allclose(xt.sum(0), x.permute(0, 3, 1, 2).sum(0), atol=1e-4)
    assert s.num_classes is None
    vec = from_tensors(torch.rand(10, 5), channels_last=False, test_fraction=0.0)
    assert vec.input_shape == (5,)
    assert isinstance(vec.train, TensorDataset)


def test_from_tensors_errors() -> None:
    with pytest.raises(ValueError, match="3 labels for 10 items"):
        from_tensors(torch.rand(10, 4), torch.arange(3))
    with pytest.raises(TypeError, match="integer labels"):
        from_tensors(torch.rand(10, 4), torch.rand(10))
    with pytest.raises(TypeError, match="dtype"):
        from_tensors(torch.arange(40).reshape(10, 4))
    with pytest.raises(TypeError, match="torch.Tensor or numpy.ndarray"):
        from_tensors([[1.0, 2.0]])
    with pytest.raises(ValueError, match="test_y given without test_x"):
        from_tensors(torch.rand(10, 4), test_y=torch.arange(2))


# -- real data ------------------------------------------------------------------------------------
@pytest.mark.realdata
@requires_fashion
def test_real_fashion_mnist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(data, "DEBIAN_DATASETS_DIR", FASHION.parent)
    s = load_dataset("fashion-mnist")
    assert s.sizes() == {"train": 54000, "val": 6000, "test": 10000}
    assert s.source == str(FASHION)
    x, y = s.tensors("test")
    assert x.shape == (10000, 1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert torch.equal(torch.bincount(y), torch.full((10,), 1000))
    mean = float(s.tensors("train")[0].mean())
    assert 0.27 < mean < 0.30  # Fashion-MNIST's well-known mean intensity, 0.286
