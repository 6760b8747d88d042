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

import autoencoders.data._parallel as parallel_mod
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


def _cache_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.safetensors"))


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
    old = _cache(files, tmp_path, scope="img")
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
    new = _cache(files, tmp_path, scope="img")
    assert new.built and new.key != old.key and new.path != old.path
    assert not old.path.exists(), "the replaced cache of the same scope was not removed"
    assert _cache_files(tmp_path / "c") == [new.path.name]
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


def test_other_scopes_and_listings_keep_their_caches(tmp_path: Path) -> None:
    files = _write_images(tmp_path / "img", 8)
    whole, half = _cache(files, tmp_path), _cache(files[:4], tmp_path)  # default scopes
    assert whole.built and half.built and whole.path.exists() and half.path.exists()
    a, b = _cache(files, tmp_path, scope="a"), _cache(files[:4], tmp_path, scope="b")
    assert len(_cache_files(tmp_path / "c")) == 4
    assert not _cache(files, tmp_path).built and not _cache(files[:4], tmp_path).built
    assert not _cache(files, tmp_path, scope="a").built  # nothing was thrown away
    # touching a file under the default scope still replaces that listing's cache
    st = files[0].stat()
    os.utime(files[0], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    again = _cache(files, tmp_path)
    assert again.built and not whole.path.exists() and half.path.exists() and a.path.exists()
    assert b.path.exists()
    locks = list((tmp_path / "c").glob("*.lock"))
    assert locks, "the builds ran without their lock files"
    _cache(files, tmp_path, scope="a")  # another rebuild never deletes a lock file
    assert all(p.exists() for p in locks)


def test_the_images_survive_the_file_being_deleted_right_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another run may delete the new file at once (it replaces it, or evicts it): the images
    were mapped before the rename, so this run still has them."""
    import autoencoders.data.cache as cache_mod

    files = _write_images(tmp_path / "img", 5)
    real_replace = os.replace

    def replace_then_delete(src, dst):
        real_replace(src, dst)
        os.unlink(dst)

    monkeypatch.setattr(cache_mod.os, "replace", replace_then_delete)
    result = _cache(files, tmp_path)
    assert result.built and not result.path.exists()
    assert torch.equal(result.images, stack_images(files, "RGB", None))


def test_an_unwritable_cache_folder_decodes_into_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = _write_images(tmp_path / "img", 5)
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="autoencoders.data.cache"):
        result = cached_images(files, mode="RGB", size=None, cache_dir=not_a_folder)
    assert result.path is None and result.built
    assert torch.equal(result.images, stack_images(files, "RGB", None))
    assert str(not_a_folder) in caplog.text and "into memory" in caplog.text
    assert not_a_folder.read_text().startswith("a file")  # nothing overwritten
    from autoencoders.data.cache import cached_headers
    from autoencoders.data.images import image_header

    headers = cached_headers(files, image_header, cache_dir=not_a_folder)
    assert headers == [((10, 8), "RGB")] * 5


def test_a_full_disk_during_the_build_keeps_what_was_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import errno

    files = _write_images(tmp_path / "img", 6)
    kept = _cache(files[:3], tmp_path, scope="img")  # a cache of the same scope, already there

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(parallel_mod, "write_rows", full)
    with caplog.at_level(logging.WARNING, logger="autoencoders.data.cache"):
        result = _cache(files, tmp_path, scope="img", workers=1)
    assert result.path is None and "No space left" in caplog.text
    assert torch.equal(result.images, stack_images(files, "RGB", None))
    assert kept.path.exists() and _cache_files(tmp_path / "c") == [kept.path.name]
    assert list((tmp_path / "c").glob(".*.tmp")) == []


def test_a_file_system_without_locks_still_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import errno
    import fcntl

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    files = _write_images(tmp_path / "img", 4)
    with caplog.at_level(logging.WARNING, logger="autoencoders.data.cache"):
        result = _cache(files, tmp_path)
    assert result.built and result.path is not None and result.path.exists()
    assert "without the lock" in caplog.text
    assert torch.equal(result.images, stack_images(files, "RGB", None))


def test_the_size_budget_evicts_the_least_recently_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    files = _write_images(tmp_path / "img", 9)
    sets = [files[0:3], files[3:6], files[6:9]]
    first = _cache(sets[0], tmp_path)
    size = first.path.stat().st_size  # every set is the same size
    second = _cache(sets[1], tmp_path)
    os.utime(second.path, (1, 1))
    os.utime(first.path, (2, 2))
    assert not _cache(sets[0], tmp_path).built  # a use renews the first one: now the newest
    mine = tmp_path / "c" / "model.safetensors"  # a user's file in the cache folder
    mine.write_bytes(b"x" * size)
    os.utime(mine, (0, 0))
    monkeypatch.setenv("AUTOENCODERS_CACHE_LIMIT", str(2 * size + size // 2))
    third = _cache(sets[2], tmp_path)
    assert third.path.exists() and first.path.exists() and not second.path.exists()
    assert mine.exists(), "eviction deleted a file that is not the cache's"
    # a set larger than the whole budget is decoded into memory, and evicts nothing
    monkeypatch.setenv("AUTOENCODERS_CACHE_LIMIT", str(size))
    with caplog.at_level(logging.WARNING, logger="autoencoders.data.cache"):
        big = _cache(files, tmp_path)
    assert big.path is None and "AUTOENCODERS_CACHE_LIMIT" in caplog.text
    assert torch.equal(big.images, stack_images(files, "RGB", None))
    assert third.path.exists() and first.path.exists()
    monkeypatch.setenv("AUTOENCODERS_CACHE_LIMIT", "lots")
    with pytest.raises(ValueError, match=r"AUTOENCODERS_CACHE_LIMIT.*20G.*'lots'"):
        _cache(sets[1], tmp_path)


def test_temporary_files_of_killed_builds_are_cleaned(tmp_path: Path) -> None:
    files = _write_images(tmp_path / "img", 3)
    cache = tmp_path / "c"
    cache.mkdir()
    name = f"{'a' * 16}-{'b' * 24}.safetensors"
    old, fresh = cache / f".{name}.host.1.ab.tmp", cache / f".{name}.host.2.cd.tmp"
    theirs = cache / ".notes.tmp"  # not the cache's: never touched
    for p in (old, fresh, theirs):
        p.write_bytes(b"left by a killed build")
    os.utime(old, (0, 0))
    os.utime(theirs, (0, 0))
    _cache(files, tmp_path)
    assert not old.exists() and fresh.exists() and theirs.exists()


def _die_in_worker(files, lo, hi, spec):
    os._exit(3)  # as the kernel's OOM killer would end it: no exception, no cleanup


def test_a_killed_worker_fails_the_build_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    files = _write_images(tmp_path / "img", 40, size=(4, 4))
    monkeypatch.setattr(parallel_mod, "PARALLEL_MIN", 1)
    monkeypatch.setattr(parallel_mod, "decode_rows", _die_in_worker)
    with pytest.raises(RuntimeError, match=r"worker process died.*workers=1"):
        _cache(files, tmp_path, workers=2)
    assert _cache_files(tmp_path / "c") == [] and list((tmp_path / "c").glob(".*.tmp")) == []


def test_the_key_covers_the_decoders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import autoencoders.data.cache as cache_mod

    files = _write_images(tmp_path / "img", 2)
    key = image_cache_key(files, "RGB", None)
    real = cache_mod.decoder_versions()
    for change in ({"torchvision": "0.0.1"}, {"pillow": "1.0"}):
        monkeypatch.setattr(cache_mod, "decoder_versions", lambda c=change: {**real, **c})
        assert image_cache_key(files, "RGB", None) != key, change


def test_a_folder_too_large_for_the_cache_is_read_per_item(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import autoencoders.data.images as images_mod
    from autoencoders.data import ImageFilesDataset

    _write_images(tmp_path / "img", 10)
    monkeypatch.setenv("AUTOENCODERS_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("AUTOENCODERS_CACHE_LIMIT", "100")  # bytes: nothing fits
    small = load_image_folder(tmp_path / "img", val_fraction=0.2, test_fraction=0.2)
    assert isinstance(small.train, UInt8ImageDataset)  # in memory, not cached
    assert not (tmp_path / "c").exists() or _cache_files(tmp_path / "c") == []
    monkeypatch.setattr(images_mod, "IN_MEMORY_LIMIT_BYTES", 100)
    large = load_image_folder(tmp_path / "img", val_fraction=0.2, test_fraction=0.2)
    assert isinstance(large.train, ImageFilesDataset)
    assert torch.equal(large.tensors("train")[0], small.tensors("train")[0])


def test_uint8_splits_read_like_tensor_datasets(tmp_path: Path) -> None:
    from autoencoders._utils import iter_batches

    _write_images(tmp_path / "img", 12)
    splits = load_image_folder(tmp_path / "img", val_fraction=0.25, test_fraction=0.25)
    train = splits.train
    x, y = train.tensors  # what TensorDataset users reach for
    assert x.dtype == torch.float32 and torch.equal(x, splits.tensors("train")[0])
    assert torch.equal(y, train.labels)
    got = list(iter_batches(train, 4))
    assert [len(b) for b, _ in got] == [4, 2]
    assert torch.equal(torch.cat([b for b, _ in got]), x)
    assert torch.equal(torch.cat([lab for _, lab in got]), y)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        next(train.scaled_batches(0))


def test_without_pwrite_the_rows_are_written_by_seek_and_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows has no os.pwrite: the same file comes out of a seek and a write."""
    files = _write_images(tmp_path / "img", 300, size=(6, 6))
    with_pwrite = cached_images(files, mode="RGB", size=None, cache_dir=tmp_path / "a", workers=1)
    monkeypatch.delattr(os, "pwrite")
    without = cached_images(files, mode="RGB", size=None, cache_dir=tmp_path / "b", workers=1)
    assert without.built and torch.equal(without.images, with_pwrite.images)
    assert without.path.read_bytes() == with_pwrite.path.read_bytes()


def test_two_threads_building_at_once_each_get_their_own_images(tmp_path: Path) -> None:
    import threading

    sets = [_write_images(tmp_path / name, 300, size=(6, 6), start=s)
            for name, s in (("a", 0), ("b", 1000))]  # fmt: skip
    results: dict[int, object] = {}

    def build(i: int) -> None:
        try:
            results[i] = cached_images(sets[i], mode="RGB", size=None,
                                       cache_dir=tmp_path / "c", workers=1, scope=str(i))  # fmt: skip
        except Exception as exc:  # reported below
            results[i] = exc

    threads = [threading.Thread(target=build, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in (0, 1):
        got = results[i]
        assert not isinstance(got, Exception), got
        assert torch.equal(got.images, stack_images(sets[i], "RGB", None))
        again = cached_images(sets[i], mode="RGB", size=None, cache_dir=tmp_path / "c",
                              scope=str(i))  # fmt: skip
        assert not again.built and torch.equal(again.images, got.images)  # the file is right


def test_an_existing_cache_is_used_even_when_no_new_one_would_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import autoencoders.data.images as images_mod

    _write_images(tmp_path / "img", 10)
    monkeypatch.setenv("AUTOENCODERS_CACHE", str(tmp_path / "c"))
    first = load_image_folder(tmp_path / "img", val_fraction=0.2, test_fraction=0.2)
    monkeypatch.setenv("AUTOENCODERS_CACHE_LIMIT", "100")  # the budget shrank since
    monkeypatch.setattr(images_mod, "IN_MEMORY_LIMIT_BYTES", 100)
    again = load_image_folder(tmp_path / "img", val_fraction=0.2, test_fraction=0.2)
    assert isinstance(again.train, UInt8ImageDataset)
    assert torch.equal(again.train.images, first.train.images)


def test_the_header_cache_is_shared_by_every_split_of_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import autoencoders.data.folder as folder_mod
    from autoencoders.data.images import image_header

    _write_images(tmp_path / "img", 10)
    monkeypatch.setenv("AUTOENCODERS_CACHE", str(tmp_path / "c"))
    calls = []
    monkeypatch.setattr(folder_mod, "image_header", lambda f: calls.append(f) or image_header(f))
    for seed in (0, 1, 0, 1):
        load_image_folder(tmp_path / "img", split_seed=seed, val_fraction=0.2)
    assert len(calls) == 10, "the headers were read again for another split seed"
    assert len(list((tmp_path / "c").glob("*.json"))) == 1


@pytest.mark.parametrize(
    "text",
    [
        '{"images": {"dtype": "U8", "shape": [1, 3, 2, 2], "data_offsets": [0, 12]}, '
        '"__metadata__": ["k"]}',
        '{"images": ["x"], "__metadata__": {"key": "k"}}',
        "[1, 2]",
    ],
)
def test_a_header_of_the_wrong_json_shapes_is_rebuilt(tmp_path: Path, text: str) -> None:
    import struct

    files = _write_images(tmp_path / "img", 3)
    path = _cache(files, tmp_path).path
    raw = text.encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 12)
    again = _cache(files, tmp_path)
    assert again.built and torch.equal(again.images, stack_images(files, "RGB", None))


def test_a_damaged_header_cache_is_read_again(tmp_path: Path) -> None:
    import json

    from autoencoders.data.cache import cached_headers
    from autoencoders.data.images import image_header

    files = _write_images(tmp_path / "img", 4)
    cached_headers(files, image_header, cache_dir=tmp_path)
    (saved,) = tmp_path.glob("*.json")
    data = json.loads(saved.read_text())
    balanced = {**data, "runs": [[5, 4, "L", 6], [10, 8, "RGB", -2]]}  # sums to 4
    for damaged in ([1, 2], {**data, "runs": [[10, 8, "RGB", 10**12]]}, {**data, "runs": 5},
                    balanced):  # fmt: skip
        saved.write_text(json.dumps(damaged))
        assert cached_headers(files, image_header, cache_dir=tmp_path) == [((10, 8), "RGB")] * 4


def test_errors_that_are_not_about_the_folder_are_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from autoencoders.errors import ImageCacheUnavailableError

    files = _write_images(tmp_path / "img", 4)

    def io_error(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(parallel_mod, "write_rows", io_error)
    with pytest.raises(OSError, match="Input/output error"):
        _cache(files, tmp_path, workers=1)
    monkeypatch.setenv("AUTOENCODERS_CACHE_LIMIT", "1")
    with pytest.raises(ImageCacheUnavailableError, match=r"cannot hold 4 images.*budget"):
        _cache(files, tmp_path, fallback="raise")
    with pytest.raises(ValueError, match="fallback must be 'memory' or 'raise'"):
        _cache(files, tmp_path, fallback="disk")


def test_the_load_says_where_the_images_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _write_images(tmp_path / "img", 6)
    monkeypatch.setenv("AUTOENCODERS_CACHE", str(tmp_path / "c"))
    with caplog.at_level(logging.INFO, logger="autoencoders.data.images"):
        load_image_folder(tmp_path / "img", val_fraction=0, test_fraction=0)
    assert "cached, memory-mapped uint8" in caplog.text
    caplog.clear()
    monkeypatch.setenv("AUTOENCODERS_CACHE_LIMIT", "1")
    with caplog.at_level(logging.INFO, logger="autoencoders.data.images"):
        load_image_folder(tmp_path / "img", val_fraction=0, test_fraction=0, image_size=4)
    assert "uint8 in memory (the image cache could not hold them)" in caplog.text
