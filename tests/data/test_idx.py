"""The IDX format: read_idx on good and bad files, and IDX files that disagree."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from autoencoders.data import load_dataset, read_idx
from autoencoders.data.idx import IDX_FILES, find_idx_files


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32"])
def test_read_idx_round_trip(tmp_path: Path, gz: bool, dtype: str, write_idx) -> None:
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = write_idx(tmp_path / "a-idx3", arr, gz)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(out, arr)
    assert out.flags.writeable


def test_read_idx_gzip_detected_by_content(tmp_path: Path, idx_bytes) -> None:
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


def test_find_idx_files_plain_or_gzipped(tmp_path: Path) -> None:
    assert find_idx_files(tmp_path) is None
    names = list(IDX_FILES.values())
    for i, base in enumerate(names):
        (tmp_path / (base + (".gz" if i % 2 else ""))).write_bytes(b"")
    found = find_idx_files(tmp_path)
    assert found is not None and set(found) == set(IDX_FILES)
    assert found["train_labels"].name == names[1] + ".gz"
    assert found["train_images"].name == names[0]
    (tmp_path / names[3]).with_name(names[3] + ".gz").unlink()
    assert find_idx_files(tmp_path) is None  # one missing: none


def test_inconsistent_idx_files_are_reported(isolated: Path, fake_mnist, write_idx) -> None:
    folder = fake_mnist(isolated / "root", marker=1)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(7, dtype=np.uint8), gz=True)
    with pytest.raises(ValueError, match="expected 30 labels"):
        load_dataset("fashion-mnist", root=folder)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.full(30, 12, dtype=np.uint8), gz=True)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 10\)"):
        load_dataset("fashion-mnist", root=folder)
