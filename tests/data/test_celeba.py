"""CelebA: torchvision's layout, the official partition, the transform, downloads, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from autoencoders import data
from autoencoders.data import DatasetNotFoundError, ImageFilesDataset, load_dataset, search_dirs
from autoencoders.data.celeba import read_partition


def test_celeba_layout_partition_and_transform(isolated: Path, fake_celeba) -> None:
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


def test_celeba_defaults_through_load_dataset(isolated: Path, fake_celeba) -> None:
    """``None`` for a shared option is the dataset's default: 64x64 RGB for CelebA, while
    options CelebA does not use (it has its own validation split) are left out."""
    fake_celeba(isolated / "root")
    s = load_dataset(
        "celeba", root=isolated / "root", image_size=None, channels=None, val_fraction=0.5
    )
    assert s.input_shape == (3, 64, 64) and s.sizes() == {"train": 6, "val": 2, "test": 3}
    native = data.load_celeba(isolated / "root", image_size=None, limit=1)
    assert native.input_shape == (3, 44, 36)  # the function itself: None keeps the size


def test_celeba_found_through_env_and_options(isolated: Path, monkeypatch, fake_celeba) -> None:
    fake_celeba(isolated / "env")
    monkeypatch.setenv(data.ENV_VAR, str(isolated / "env"))
    s = load_dataset("celeb_a", image_size=16, pixel_range="[0,1]", limit=2, flatten=True)
    assert s.sizes() == {"train": 2, "val": 2, "test": 2}
    assert s.input_shape == (3 * 16 * 16,) and float(s.tensors()[0].min()) >= 0


def test_celeba_download_goes_through_torchvision(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, fake_torchvision_celeba
) -> None:
    import torchvision.datasets

    fake = fake_torchvision_celeba
    monkeypatch.setattr(torchvision.datasets, "CelebA", fake)
    monkeypatch.setenv(data.ENV_VAR, str(isolated / "env"))
    with pytest.raises(DatasetNotFoundError, match="img_align_celeba"):
        load_dataset("celeba", download=False)
    assert fake.calls == []
    s = load_dataset("celeba", download=True, image_size=16, limit=2)
    # into the first AUTOENCODERS_DATA folder, every split, no attribute files needed
    assert fake.calls == [(str(isolated / "env"), "all", [], True)]
    assert s.source == str(isolated / "env" / "celeba")
    assert s.sizes() == {"train": 2, "val": 2, "test": 2} and s.input_shape == (3, 16, 16)
    # found on disk now: no second download
    load_dataset("celeba", download=True, image_size=16, limit=1)
    assert len(fake.calls) == 1


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


def test_celeba_missing_and_broken(isolated: Path, fake_celeba) -> None:
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


def test_read_partition(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("a.jpg 0\n\nb.jpg 1\nc.jpg 2\n")
    assert read_partition(path) == [("a.jpg", 0), ("b.jpg", 1), ("c.jpg", 2)]
    path.write_text("a.jpg 0\nb.jpg\n")
    with pytest.raises(ValueError, match=r"line 2: expected '<image file> <0\|1\|2>'"):
        read_partition(path)
