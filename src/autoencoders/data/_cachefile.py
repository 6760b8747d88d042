"""The image cache's files on disk: their layout, locking, writing and the size budget.

:mod:`autoencoders.data.cache` decides *what* is cached; this module knows how a cache file
is laid out (one uint8 tensor in safetensors, its data 64-byte aligned), how it is locked,
written and memory-mapped, and how the folder is kept under its size budget.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import socket
import struct
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autoencoders.errors import InvalidValueError

__all__ = [
    "CACHE_NAME",
    "SUFFIX",
    "TENSOR",
    "cache_limit",
    "evict",
    "header_bytes",
    "locked",
    "map_rows",
    "open_cache",
    "parse_size",
    "read_header",
    "remove_quietly",
    "temp_path",
    "touch",
    "write_rows",
]

logger = logging.getLogger("autoencoders.data.cache")

#: The name of the one tensor in a cache file, and the cache files' suffix.
TENSOR = "images"
SUFFIX = ".safetensors"
#: Temporary files older than this are left over from a killed build: removed by :func:`evict`.
STALE_TEMP_SECONDS = 24 * 3600
#: The names of the cache's own files (``<scope>-<key>``); nothing else is ever evicted.
CACHE_NAME = re.compile(r"[0-9a-f]{16}-[0-9a-f]{24}\.(?:safetensors|json)")
_TEMP_NAME = re.compile(r"\.[0-9a-f]{16}-[0-9a-f]{24}\.(?:safetensors|json)\..+\.tmp")
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str, what: str) -> int:
    """A byte count written as ``"123"``, ``"500M"``, ``"20G"``, ``"1.5T"`` (or ``"20GB"``).

    Raises:
        ValueError: naming ``what`` and the text when it is not a size.

    Example:
        >>> parse_size("20G", "limit"), parse_size("1.5k", "limit"), parse_size("7", "limit")
        (21474836480, 1536, 7)
    """
    found = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([kKmMgGtT]?)[bB]?\s*", text)
    if not found:
        raise InvalidValueError(
            f"{what} must be a size in bytes such as 20G, 500M or 1073741824, got {text!r}"
        )
    return int(float(found.group(1)) * _UNITS[found.group(2).upper()])


def cache_limit(env_var: str, default: int) -> int:
    """The cache folder's size budget in bytes: ``$<env_var>`` if set, else ``default``.

    Example:
        >>> os.environ["_DOCTEST_LIMIT"] = "3M"
        >>> cache_limit("_DOCTEST_LIMIT", 10), cache_limit("_DOCTEST_UNSET", 10)
        (3145728, 10)
        >>> del os.environ["_DOCTEST_LIMIT"]
    """
    text = os.environ.get(env_var)
    return default if text is None or not text.strip() else parse_size(text, env_var)


def header_bytes(shape: tuple[int, ...], metadata: dict[str, str]) -> bytes:
    """A safetensors header for one uint8 tensor, padded so the data starts 64-byte aligned.

    Example:
        >>> head = header_bytes((2, 1, 3, 3), {"key": "k"})
        >>> len(head) % 64, struct.unpack("<Q", head[:8])[0] == len(head) - 8
        (0, True)
    """
    nbytes = int(np.prod(shape))
    head = {
        TENSOR: {"dtype": "U8", "shape": list(shape), "data_offsets": [0, nbytes]},
        "__metadata__": metadata,
    }
    text = json.dumps(head, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 64)
    return struct.pack("<Q", len(text)) + text


def read_header(path: Path) -> tuple[dict[str, Any], int]:
    """The parsed header of a cache file and where its data starts; ValueError if none."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise InvalidValueError("shorter than a safetensors header")
        (n,) = struct.unpack("<Q", raw)
        if n > 1 << 20:
            raise InvalidValueError(f"header of {n} bytes")
        text = f.read(n)
    head = json.loads(text)
    if not isinstance(head, dict):
        raise InvalidValueError("header is not a JSON object")
    return head, 8 + n


def map_rows(path: Path, start: int, shape: tuple[int, ...]) -> torch.Tensor:
    """uint8 ``shape`` at byte ``start`` of ``path``, memory-mapped copy-on-write.

    The mapping stays valid when the file is later renamed or deleted (POSIX keeps the pages).
    """
    if int(np.prod(shape)) == 0:
        return torch.empty(shape, dtype=torch.uint8)
    with open(path, "rb") as fh:  # one descriptor for the size check and the map
        mapped = np.memmap(fh, dtype=np.uint8, mode="c", offset=start, shape=shape)
    return torch.from_numpy(mapped)


def open_cache(path: Path, key: str) -> torch.Tensor | None:
    """The images of a complete cache file of ``key``, memory-mapped; None if it is not one.

    A missing file is None quietly; a damaged or foreign one is None with a warning.
    """
    try:
        head, start = read_header(path)
        meta, entry = head.get("__metadata__") or {}, head.get(TENSOR) or {}
        if not isinstance(meta, dict) or not isinstance(entry, dict):
            raise InvalidValueError("its header entries are not JSON objects")
        shape = tuple(int(s) for s in entry["shape"])
        nbytes = int(np.prod(shape))
        ok = (
            meta.get("key") == key
            and entry.get("dtype") == "U8"
            and len(shape) == 4
            and entry.get("data_offsets") == [0, nbytes]
            and path.stat().st_size == start + nbytes
        )
        images = map_rows(path, start, shape) if ok else None
    except FileNotFoundError:
        return None  # not built yet, or just evicted by another run
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("image cache %s is unreadable (%s): rebuilding it", path, exc)
        return None
    if images is None:
        logger.warning("image cache %s does not match its key: rebuilding it", path)
    return images


def write_rows(fd: int, rows: np.ndarray, offset: int) -> None:
    """Write all of ``rows`` at byte ``offset`` of the open file ``fd``.

    ``os.pwrite`` where the platform has it (every worker writes its own rows of one file at
    once); a seek and a write elsewhere (Windows, where the decoding is not parallel).
    """
    view = memoryview(np.ascontiguousarray(rows)).cast("B")
    if not hasattr(os, "pwrite"):
        os.lseek(fd, offset, os.SEEK_SET)
    while view:
        done = os.pwrite(fd, view, offset) if hasattr(os, "pwrite") else os.write(fd, view)
        view, offset = view[done:], offset + done


def temp_path(path: Path) -> Path:
    """A temporary name beside ``path``, unique across processes and machines sharing it."""
    host = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:32] or "host"
    return path.with_name(f".{path.name}.{host}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def remove_quietly(path: Path) -> bool:
    """Delete ``path``; True if it was deleted, False if it was gone or could not be."""
    try:
        path.unlink()
    except OSError:
        return False
    return True


def touch(path: Path) -> None:
    """Mark ``path`` as just used (its mtime orders eviction); never fails."""
    with contextlib.suppress(OSError):
        os.utime(path)


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[bool]:
    """An exclusive lock on ``lock_path`` while the block runs (waiting for another holder).

    Yields True when locked, False where locks are not available (no ``fcntl`` on Windows,
    ``ENOLCK`` on some network file systems): the block then runs unlocked, and the atomic
    rename of the finished file still keeps every cache file whole. Lock files are never
    deleted: a waiting run could otherwise lock a new file while the builder holds the old.
    """
    try:
        import fcntl
    except ImportError:
        yield False
        return
    with open(lock_path, "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        except OSError as exc:
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            logger.warning("cannot lock %s (%s): building without the lock", lock_path, exc)
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def evict(folder: Path, limit: int, keep: Path, *, now: float | None = None) -> list[Path]:
    """Delete the least recently used cache files until the folder holds at most ``limit``.

    Counts the cache's own files (named ``<scope>-<key>.safetensors`` or ``.json``, see
    :data:`CACHE_NAME`: any other file in the folder is neither counted nor touched); never
    deletes ``keep`` (the cache in use) or a lock file. Temporary files of killed builds
    (older than a day) are removed too. A run that has a deleted file mapped keeps reading
    it; a later run rebuilds it. Returns the deleted files.

    Example:
        >>> import tempfile
        >>> names = [f"{c * 16}-{c * 24}{SUFFIX}" for c in "abc"]
        >>> with tempfile.TemporaryDirectory() as d:
        ...     for i, name in enumerate([*names, "model.safetensors"]):
        ...         p = Path(d, name)
        ...         _ = p.write_bytes(b"x" * 100)
        ...         os.utime(p, (i, i))  # a... is the oldest cache
        ...     gone = evict(Path(d), 250, keep=Path(d, names[0]))
        ...     left = sorted(p.name[:3] for p in Path(d).iterdir())
        >>> [p.name[:3] for p in gone], left
        (['bbb'], ['aaa', 'ccc', 'mod'])
    """
    now = time.time() if now is None else now
    entries = []
    removed: list[Path] = []
    try:
        listing = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in listing:
        name = entry.name
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if _TEMP_NAME.fullmatch(name):
            if now - st.st_mtime > STALE_TEMP_SECONDS and remove_quietly(Path(entry.path)):
                removed.append(Path(entry.path))
        elif CACHE_NAME.fullmatch(name) and entry.is_file(follow_symlinks=False):
            entries.append((st.st_mtime, st.st_size, Path(entry.path)))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries, key=lambda e: e[0]):
        if total <= limit:
            break
        if path != keep and remove_quietly(path):
            logger.info("removed the least recently used image cache %s", path)
            removed.append(path)
            total -= size
    return removed
