"""One look at a folder keys both caches: :class:`~autoencoders.data.cache.FileSnapshot`.

A second load of an image folder takes one ``stat`` per file (not one per cache), keys the
header and image caches by the same look, and finds the caches that earlier versions built
(the key is unchanged). The listing of a folder is already in path order, which the loaders
now rely on instead of sorting it again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import autoencoders.data.folder as folder_mod
from autoencoders.data import cached_images, load_image_folder
from autoencoders.data.cache import (
    FileSnapshot,
    _transform,
    cached_headers,
    image_cache_key,
)
from autoencoders.data.images import image_header, path_order


def _images(folder: Path, names: list[str]) -> list[Path]:
    rng = np.random.default_rng(0)
    out = []
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)).save(path)
        out.append(path)
    return out


def test_the_key_is_the_one_earlier_versions_gave(tmp_path: Path) -> None:
    """The transform's JSON, then path, size and mtime of each file, hashed in order: a cache
    built before the snapshot existed is found by the same key."""
    files = _images(tmp_path, ["b.png", "a.png"])
    h = hashlib.sha256(json.dumps(_transform("RGB", 4), sort_keys=True).encode())
    for f in files:
        st = os.stat(f)
        h.update(f"\0{f}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    assert image_cache_key(files, "RGB", 4) == h.hexdigest()
    assert image_cache_key(FileSnapshot.take(files), "RGB", 4) == h.hexdigest()


def test_relative_paths_are_keyed_as_absolute(tmp_path: Path, monkeypatch) -> None:
    _images(tmp_path, ["a.png"])
    monkeypatch.chdir(tmp_path)
    assert FileSnapshot.take(["a.png"]).records == FileSnapshot.take([tmp_path / "a.png"]).records
    assert FileSnapshot.take(["a.png"]).files == ("a.png",)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.png"):
        FileSnapshot.take([tmp_path / "nope.png"])


def test_both_caches_key_by_what_the_snapshot_saw(tmp_path: Path) -> None:
    files = _images(tmp_path / "img", ["0.png", "1.png"])
    snap = FileSnapshot.take(files)
    first = cached_images(snap, mode="RGB", size=None, cache_dir=tmp_path / "c")
    assert first.built and first.key == image_cache_key(files, "RGB", None)
    os.utime(files[0], ns=(1, 1))  # touched after the look
    again = cached_images(snap, mode="RGB", size=None, cache_dir=tmp_path / "c")
    assert not again.built and again.key == first.key
    now = cached_images(files, mode="RGB", size=None, cache_dir=tmp_path / "c")
    assert now.built and now.key != first.key  # a fresh look sees the touch
    reads = []
    read = lambda f: reads.append(f) or image_header(f)  # noqa: E731
    assert cached_headers(snap, read, cache_dir=tmp_path / "c") == [((5, 6), "RGB")] * 2
    assert cached_headers(snap, read, cache_dir=tmp_path / "c") == [((5, 6), "RGB")] * 2
    assert reads == files  # read once, then found by the snapshot's key


def test_a_second_load_stats_each_file_once(tmp_path: Path, monkeypatch) -> None:
    files = _images(tmp_path / "img", [f"{i}.png" for i in range(7)])
    monkeypatch.setenv("AUTOENCODERS_CACHE", str(tmp_path / "c"))
    first = load_image_folder(tmp_path / "img", val_fraction=0.2, test_fraction=0.2)
    stats: list[str] = []
    real_stat = os.stat

    def counting_stat(path, *args, **kwargs):
        if str(path).endswith(".png"):
            stats.append(str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", counting_stat)
    again = load_image_folder(tmp_path / "img", val_fraction=0.2, test_fraction=0.2)
    assert sorted(stats) == sorted(map(str, files))  # one look; the listing took none
    for split in ("train", "val", "test"):
        assert np.array_equal(getattr(first, split).uint8(), getattr(again, split).uint8())


@pytest.mark.parametrize(
    "names",
    [
        ["b.png", "B.png", "a-1.png", "a.png", "a0.png", "a_b.png", "10.png", "9.png", "a.b.png"],
        ["x/2.png", "x/10.png", "x-y/1.png", "x/y/1.png", "x.y/1.png", "X/1.png", "x/y-z/0.png"],
    ],
    ids=["flat", "classes"],
)
def test_the_listing_is_in_path_order(tmp_path: Path, names: list[str]) -> None:
    """What the loader relies on: the files of a folder, flat or one sub-folder per class,
    come in the order ``sorted(..., key=path_order)`` would give, so the splits' union is not
    sorted again."""
    _images(tmp_path / "img", names)
    files, _, _ = folder_mod._labelled_files(tmp_path / "img")
    assert len(files) == len(names) and all(isinstance(f, str) for f in files)
    pathlib_order = [str(p) for p in sorted(map(Path, files))]
    assert files == sorted(set(files), key=path_order) == pathlib_order


def test_a_limited_load_keys_only_what_it_keeps(tmp_path: Path, monkeypatch) -> None:
    _images(tmp_path / "img", [f"{i}.png" for i in range(9)])
    monkeypatch.setenv("AUTOENCODERS_CACHE", str(tmp_path / "c"))
    s = load_image_folder(tmp_path / "img", limit=2, val_fraction=0.2, test_fraction=0.2)
    assert s.sizes() == {"train": 2, "val": 2, "test": 2}
    (cache,) = (tmp_path / "c").glob("*.safetensors")
    assert s.train.images.shape[0] == 6  # the six kept images, not the nine
    assert cache.stat().st_size > 0


_NAMES = st.text(alphabet="aAbB019-._ ~!", min_size=1, max_size=4).filter(
    lambda n: n not in (".", "..")
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_NAMES, min_size=1, max_size=4), min_size=1, max_size=12))
def test_path_order_of_strings_is_pathlibs_order(parts: list[list[str]]) -> None:
    paths = [Path("/root", *p) for p in parts]
    strings = [str(p) for p in paths]
    assert sorted(strings, key=path_order) == [str(p) for p in sorted(paths)]
    assert sorted(paths, key=path_order) == sorted(paths)


def test_a_folder_named_dot_keys_as_its_absolute_path(tmp_path: Path, monkeypatch) -> None:
    """``"."`` lists ``a.png``, not ``./a.png`` (as ``Path(".") / name`` did): its cache
    is the absolute path's, so loading the two in turn maps one cache, never rebuilds."""
    _images(tmp_path / "img", [f"{i}.png" for i in range(5)])
    monkeypatch.setenv("AUTOENCODERS_CACHE", str(tmp_path / "c"))
    monkeypatch.chdir(tmp_path / "img")
    assert folder_mod._image_paths(Path(".")) == [f"{i}.png" for i in range(5)]
    load_image_folder(".", val_fraction=0.2, test_fraction=0.2)
    first = sorted((tmp_path / "c").glob("*.safetensors"))
    load_image_folder(tmp_path / "img", val_fraction=0.2, test_fraction=0.2)
    load_image_folder(".", val_fraction=0.2, test_fraction=0.2)
    assert sorted((tmp_path / "c").glob("*.safetensors")) == first and len(first) == 1


def test_a_snapshot_of_an_iterator_keeps_its_files(tmp_path: Path) -> None:
    files = _images(tmp_path, ["a.png", "b.png"])
    snap = FileSnapshot.take(iter(files))
    assert snap.files == tuple(files) and snap.records == FileSnapshot.take(files).records


def test_a_listing_that_lacks_a_splits_file_is_refused_by_name(tmp_path: Path, monkeypatch) -> None:
    from autoencoders.data.images import image_splits

    monkeypatch.setenv("AUTOENCODERS_CACHE", str(tmp_path / "c"))
    files = _images(tmp_path / "img", ["0.png", "1.png"])
    splits = {"train": [str(f) for f in files], "val": [], "test": []}  # str, not Path
    labels = {"train": [-1, -1], "val": [], "test": []}
    common = dict(name="x", channels=3, image_size=None, native_size=(5, 6), pixel_range=(0.0, 1.0),
                  num_classes=None, class_names=None, source=str(tmp_path), in_memory=True)  # fmt: skip
    with pytest.raises(
        ValueError, match=r"the 'train' split's file '.*0\.png' is not in the listing"
    ):
        image_splits(splits, labels, listing=FileSnapshot.take(files), **common)
    ok = image_splits(splits, labels, listing=FileSnapshot.take(splits["train"]), **common)
    assert ok.sizes() == {"train": 2, "val": 0, "test": 0}
