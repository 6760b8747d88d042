"""Image folders (flat or one sub-folder per class) and the channels conversion of images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from autoencoders.data import ImageFilesDataset, load_dataset, load_image_folder


def test_flat_folder_is_unlabelled(tmp_path: Path, write_pngs) -> None:
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


def test_folder_by_name_and_path(tmp_path: Path, write_pngs) -> None:
    """``"folder:<path>"`` and ``"folder"`` with ``path=`` are the same dataset; options it
    does not use (``root``, ``download``, as the CLI passes them) are left out."""
    write_pngs(tmp_path / "imgs", 10)
    a = load_dataset(f"folder:{tmp_path / 'imgs'}", root=tmp_path / "other", download=False)
    b = load_dataset("folder", path=tmp_path / "imgs")
    c = load_dataset(f"image-folder:{tmp_path / 'imgs'}")
    assert a.name == b.name == c.name == f"folder:{tmp_path / 'imgs'}"
    assert torch.equal(a.tensors("train")[0], b.tensors("train")[0])
    assert torch.equal(a.tensors("test")[0], c.tensors("test")[0])
    with pytest.raises(ValueError, match="not both"):
        load_dataset(f"folder:{tmp_path / 'imgs'}", path=tmp_path / "imgs")
    with pytest.raises(TypeError, match="path"):
        load_dataset("folder")  # no folder given


def test_class_subfolders_are_labels(tmp_path: Path, write_pngs) -> None:
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


def test_folder_sizes_channels_and_errors(tmp_path: Path, write_pngs) -> None:
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


def test_channels_convert_grey_and_rgb(
    isolated: Path, tmp_path: Path, write_pngs, fake_celeba, fake_mnist
) -> None:
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
