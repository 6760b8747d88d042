"""The IDX file format of MNIST-style datasets: reading one file, finding a dataset's four."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

from autoencoders.errors import InvalidValueError

__all__ = ["IDX_DTYPES", "IDX_FILES", "find_idx_files", "read_idx"]

#: IDX type codes and the NumPy dtypes they stand for (big-endian).
IDX_DTYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
#: The four files of an MNIST-style dataset, each plain or gzipped (``.gz``).
IDX_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not, into a NumPy array.

    The header is checked: two zero bytes, a type code (``0x08`` uint8, ``0x09`` int8,
    ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64), the number of
    dimensions, then one big-endian uint32 per dimension; the payload must have exactly the
    size they imply. Gzip is recognised by its magic bytes, whatever the file name.

    Raises:
        ValueError: naming the file when it is not a valid IDX file (bad magic, unknown type,
            truncated or trailing data, corrupt gzip stream).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = Path(d, "labels-idx1-ubyte")
        ...     _ = p.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
        ...     read_idx(p)
        array([7, 2, 1], dtype=uint8)
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise InvalidValueError(f"{str(path)!r} could not be read as an IDX file: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise InvalidValueError(
            f"{str(path)!r} is not an IDX file: it should start with two zero bytes, a type "
            f"code and the number of dimensions, but starts with {raw[:4].hex(' ') or '(nothing)'}"
        )
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        accepted = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise InvalidValueError(
            f"{str(path)!r}: unknown IDX type code 0x{code:02X}; accepted: {accepted}"
        )
    if ndim == 0:
        raise InvalidValueError(f"{str(path)!r}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InvalidValueError(f"{str(path)!r}: truncated IDX header ({ndim} dimensions declared)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(IDX_DTYPES[code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "has trailing data"
        raise InvalidValueError(
            f"{str(path)!r}: IDX file {what}: dimensions {tuple(dims)} of {dtype.name} need "
            f"{expected} bytes of data, found {got}"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def find_idx_files(folder: str | os.PathLike[str]) -> dict[str, Path] | None:
    """The four :data:`IDX_FILES` (plain or ``.gz``) in ``folder``, or None if any is missing.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     for base in IDX_FILES.values():
        ...         _ = Path(d, base + ".gz").write_bytes(b"")
        ...     sorted(p.name for p in find_idx_files(d).values())[0]
        't10k-images-idx3-ubyte.gz'
        >>> find_idx_files("/nonexistent") is None
        True
    """
    d = Path(folder)
    found: dict[str, Path] = {}
    for key, base in IDX_FILES.items():
        for candidate in (d / base, d / f"{base}.gz"):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            return None
    return found
