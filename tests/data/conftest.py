"""Helpers for the tests of autoencoders.data: small IDX files, CelebA and image folders.

Everything except the ``realdata`` tests runs on small files written to ``tmp_path``; the
``isolated`` fixture (tests/conftest.py) redirects the environment, the user cache and the
Debian path there, so no test depends on what is installed or touches the network.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from autoencoders import data
from autoencoders.data import DataSplits


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


def write_pngs(folder: Path, n: int, mode: str = "L", size=(12, 10), start: int = 0) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        color = (start + i) * 10 if mode == "L" else ((start + i) * 10, 0, 255)
        Image.new(mode, size, color=color).save(folder / f"img{start + i:03d}.png")


class FakeTorchvisionDataset:
    """Stands in for torchvision's FashionMNIST: "downloads" by writing un-gzipped files."""

    calls: list[tuple[str, bool, bool]] = []  # noqa: RUF012

    def __init__(self, root: str, train: bool = True, download: bool = False) -> None:
        type(self).calls.append((root, train, download))
        fake_mnist(Path(root) / "FashionMNIST" / "raw", marker=6, gz=False)


class FakeCelebA:
    """Stands in for torchvision's CelebA: "downloads" by writing a tiny CelebA."""

    calls: list[tuple[str, str, object, bool]] = []  # noqa: RUF012

    def __init__(
        self, root: str, split: str = "train", target_type="attr", download: bool = False
    ) -> None:
        type(self).calls.append((root, split, target_type, download))
        fake_celeba(Path(root))


# The helpers as fixtures (test modules cannot import conftest under --import-mode=importlib).
@pytest.fixture(name="write_idx")
def write_idx_fixture() -> Callable[..., Path]:
    return write_idx


@pytest.fixture(name="idx_bytes")
def idx_bytes_fixture() -> Callable[[np.ndarray], bytes]:
    return idx_bytes


@pytest.fixture(name="fake_mnist")
def fake_mnist_fixture() -> Callable[..., Path]:
    return fake_mnist


@pytest.fixture(name="pixel")
def pixel_fixture() -> Callable[..., torch.Tensor]:
    return pixel


@pytest.fixture(name="fake_celeba")
def fake_celeba_fixture() -> Callable[..., Path]:
    return fake_celeba


@pytest.fixture(name="write_pngs")
def write_pngs_fixture() -> Callable[..., None]:
    return write_pngs


@pytest.fixture
def fake_torchvision_mnist() -> type[FakeTorchvisionDataset]:
    FakeTorchvisionDataset.calls = []
    return FakeTorchvisionDataset


@pytest.fixture
def fake_torchvision_celeba() -> type[FakeCelebA]:
    FakeCelebA.calls = []
    return FakeCelebA
