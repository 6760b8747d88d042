"""The image cache: built once, memory-mapped later, rebuilt when the files change, safe to share."""

from __future__ import annotations

import logging
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from autoencoders.data import UInt8ImageDataset, cached_images, load_image_folder
from autoencoders.data.cache import image_cache_key
from autoencoders.data.images import stack_images


def _write_images(
    folder: Path, n: int, size: tuple[int, int] = (10, 8), start: int = 0
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(start)
    files = []
    for i in range(start, start + n):
        pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        path = folder / f"{i:05d}.{'png' if i % 2 else 'jpg'}"
        Image.fromarray(pixels).save(path)
        files.append(path)
    return files


def _cache(files, tmp_path: Path, **kw):
    return cached_images(
        files, mode="RGB", size=kw.pop("size", None), cache_dir=tmp_path / "c", **kw
    )


def test_cache_holds_exactly_what_the_uncached_decoder_gives(tmp_path: Path) -> None:
    files = _write_images(tmp_path / "img", 12, size=(20, 14))
    for size in (None, 8, (6, 9)):
        first = _cache(files, tmp_path, size=size)
        again = _cache(files, tmp_path, size=size)
        expected = stack_images(files, "RGB", size)
        assert first.built and not again.built
        assert first.path == again.path
        assert torch.equal(first.images, expected) and torch.equal(again.images, expected)
    # a safetensors file that safetensors itself reads
    assert torch.equal(load_file(str(again.path))["images"], expected)


def test_parallel_build_equals_serial_build(tmp_path: Path) -> None:
    files = _write_images(tmp_path / "img", 600, size=(8, 8))
    parallel = cached_images(files, mode="RGB", size=None, cache_dir=tmp_path / "p", workers=2)
    serial = cached_images(files, mode="RGB", size=None, cache_dir=tmp_path / "s", workers=1)
    assert parallel.built and serial.built
    assert torch.equal(parallel.images, serial.images)
    assert torch.equal(parallel.images[-3:], stack_images(files[-3:], "RGB", None))


@pytest.mark.parametrize("change", ["add", "remove", "touch", "rewrite"])
def test_a_changed_folder_rebuilds_the_cache_and_drops_the_stale_one(
    tmp_path: Path, change: str
) -> None:
    files = _write_images(tmp_path / "img", 6)
    old = _cache(files, tmp_path)
    if change == "add":
        files = files + _write_images(tmp_path / "img", 1, start=6)
    elif change == "remove":
        files[-1].unlink()
        files = files[:-1]
    elif change == "touch":
        st = files[2].stat()
        os.utime(files[2], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    else:  # same name, new pixels
        Image.new("RGB", (10, 8), color=(1, 2, 3)).save(files[3])
    new = _cache(files, tmp_path)
    assert new.built and new.key != old.key and new.path != old.path
    assert not old.path.exists(), "the stale cache of the same folder was not removed"
    assert len(new.images) == len(files)
    assert torch.equal(new.images, stack_images(files, "RGB", None))


def test_key_depends_on_transform_and_order(tmp_path: Path) -> None:
    files = _write_images(tmp_path / "img", 3)
    key = image_cache_key(files, "RGB", None)
    assert key != image_cache_key(files, "L", None)
    assert key != image_cache_key(files, "RGB", 4)
    assert key != image_cache_key(files[::-1], "RGB", None)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        image_cache_key([*files, tmp_path / "missing.png"], "RGB", None)


def test_a_damaged_cache_file_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    files = _write_images(tmp_path / "img", 5)
    path = _cache(files, tmp_path).path
    with open(path, "r+b") as f:  # cut the data short
        f.truncate(path.stat().st_size - 10)
    with caplog.at_level(logging.WARNING, logger="autoencoders.data.cache"):
        again = _cache(files, tmp_path)
    assert again.built and "rebuilding" in caplog.text
    assert torch.equal(again.images, stack_images(files, "RGB", None))
    path.write_bytes(b"\xff" * 20)  # not a header at all
    assert _cache(files, tmp_path).built


def test_writing_to_the_mapped_images_never_changes_the_file(tmp_path: Path) -> None:
    files = _write_images(tmp_path / "img", 4)
    first = _cache(files, tmp_path)
    first.images.zero_()
    again = _cache(files, tmp_path)
    assert not again.built and torch.equal(again.images, stack_images(files, "RGB", None))


def test_bad_files_and_arguments_are_named(tmp_path: Path) -> None:
    files = _write_images(tmp_path / "img", 3)
    bad = tmp_path / "img" / "broken.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"broken.jpg.*could not be read as an image"):
        _cache([*files, bad], tmp_path)
    odd = _write_images(tmp_path / "odd", 1, size=(5, 5))
    with pytest.raises(ValueError, match=r"images differ in size.*image_size"):
        _cache([*files, *odd], tmp_path)
    with pytest.raises(ValueError, match="mode must be 'L'"):
        cached_images(files, mode="CMYK", size=None, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        cached_images(files, mode="RGB", size=None, cache_dir=tmp_path, workers=0)
    with pytest.raises(ValueError, match="at least one file"):
        cached_images([], mode="RGB", size=None, cache_dir=tmp_path)
    leftovers = [p for p in tmp_path.rglob(".*.tmp")]
    assert leftovers == [], leftovers


def _build_in_child(args: tuple[list[str], str]) -> bool:
    files, cache = args
    return cached_images(files, mode="RGB", size=None, cache_dir=cache, workers=1).built


def test_two_processes_building_at_once_decode_once(tmp_path: Path) -> None:
    files = [str(f) for f in _write_images(tmp_path / "img", 300, size=(16, 16))]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        built = pool.map(_build_in_child, [(files, str(tmp_path / "c"))] * 2)
    assert sorted(built) == [False, True], built  # one built it, the other waited and mapped it
    result = cached_images(files, mode="RGB", size=None, cache_dir=tmp_path / "c")
    assert not result.built and len(list((tmp_path / "c").glob("*.safetensors"))) == 1


def test_image_folder_is_uint8_backed_by_the_cache(tmp_path: Path) -> None:
    _write_images(tmp_path / "img", 20)
    cached = load_image_folder(tmp_path / "img", val_fraction=0.2, test_fraction=0.2)
    plain = load_image_folder(tmp_path / "img", val_fraction=0.2, test_fraction=0.2, cache=False)
    assert isinstance(cached.train, UInt8ImageDataset) and isinstance(
        plain.train, UInt8ImageDataset
    )
    assert cached.train.images is cached.test.images  # one cache, three splits of rows
    for split in ("train", "val", "test"):
        xc, yc = cached.tensors(split)
        xp, yp = plain.tensors(split)
        assert xc.dtype == torch.float32 and torch.equal(xc, xp) and torch.equal(yc, yp)
    x0, _ = cached.train[0]
    assert torch.equal(x0, cached.tensors("train")[0][0])


@pytest.mark.parametrize(
    ("suffix", "source_mode"),
    [
        (".jpg", "RGB"),
        (".jpg", "L"),
        (".png", "RGB"),
        (".png", "L"),
        (".png", "RGBA"),
        (".png", "P"),
    ],
)
def test_the_fast_decoder_gives_pillows_pixels(
    tmp_path: Path, suffix: str, source_mode: str
) -> None:
    from autoencoders.data.decode import decode_pixels

    rng = np.random.default_rng(3)
    files = []
    for i in range(6):
        smooth = np.kron(rng.integers(0, 256, (6, 5, 3)), np.ones((5, 5, 1))).astype(np.uint8)
        img = Image.fromarray(smooth).convert(source_mode)
        files.append(tmp_path / f"{i}{suffix}")
        img.save(files[-1], **({"quality": 85} if suffix == ".jpg" else {}))
    for f in files:
        for mode in ("RGB", "L"):
            for size in (None, 16, (10, 12)):
                fast = decode_pixels(f, mode, size)
                slow = decode_pixels(f, mode, size, fast_path=False)
                assert fast.shape == slow.shape and np.array_equal(fast, slow), (f, mode, size)
