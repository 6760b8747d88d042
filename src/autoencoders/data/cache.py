"""A decoded, resized uint8 copy of a list of image files, cached as one safetensors file.

Decoding JPEGs is what makes an image folder slow to train on: torchvision's
``ImageFolder`` + ``DataLoader`` decodes, resizes and converts every image to float32 in every
epoch. :func:`cached_images` does it **once**: the files are decoded (in parallel worker
processes, each writing its share straight into the cache file), resized and centre-cropped
as :func:`~autoencoders.data.decode.decode_pixels` does it, and kept as uint8 ``(N, C, H, W)``
in ``<cache folder>/<tag>-<key>.safetensors``. Later runs **memory-map** that file: loading
takes milliseconds, the pages are read when first used, and the operating system shares them
between processes (202,599 CelebA faces at 64x64 are 2.5 GB as uint8, 10 GB as float32).

**The key** is the SHA-256 of the transform (mode, size, the decoder's version) and, for every
file, its absolute path, size and modification time (``st_mtime_ns``). Adding, removing,
replacing or touching a file changes the key, so the next load rebuilds the cache; the cache
file of the previous key for the same folder and transform is then deleted. Pixels are never
hashed (that would cost as much as decoding): a file rewritten in place with the same size and
modification time is the one change the cache cannot see.

**Concurrent builds** are safe: a builder holds an exclusive lock (``fcntl.flock``) on
``<cache file>.lock`` while it builds, so a second run waits and then memory-maps the finished
file instead of decoding again; the file is written under a temporary name and renamed into
place only when complete (and flushed to disk), so a crash leaves no half-written cache. A
cache file that does not match what it must hold (shape, dtype, key, size on disk) is rebuilt.

The cache folder is ``$AUTOENCODERS_CACHE`` if set, else ``<user cache>/images``
(:func:`~autoencoders.data.locate.cache_dir`).

Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> with tempfile.TemporaryDirectory() as d:
    ...     files = []
    ...     for i in range(3):
    ...         Image.new("RGB", (8, 6), color=(80 * i, 0, 0)).save(f"{d}/{i}.png")
    ...         files.append(f"{d}/{i}.png")
    ...     first = cached_images(files, mode="RGB", size=None, cache_dir=f"{d}/cache")
    ...     again = cached_images(files, mode="RGB", size=None, cache_dir=f"{d}/cache")
    ...     same = torch.equal(first.images, again.images)
    >>> first.built, again.built, tuple(again.images.shape), again.images.dtype, same
    (True, False, (3, 3, 6, 8), torch.uint8, True)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import struct
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autoencoders.data.decode import decode_many, decode_pixels
from autoencoders.data.locate import cache_dir as user_cache_dir

__all__ = [
    "CACHE_ENV_VAR",
    "CACHE_FORMAT",
    "CachedImages",
    "cached_headers",
    "cached_images",
    "image_cache_dir",
    "image_cache_key",
]

logger = logging.getLogger(__name__)

#: Environment variable naming the image cache folder (default ``<user cache>/images``).
CACHE_ENV_VAR = "AUTOENCODERS_CACHE"
#: Version of the cache file layout and of the decoding; part of every key.
CACHE_FORMAT = 1
_TENSOR = "images"
#: Below this many files the images are decoded in this process (starting workers costs more).
_PARALLEL_MIN = 512


def image_cache_dir() -> Path:
    """The image cache folder: ``$AUTOENCODERS_CACHE``, else ``<user cache>/images``.

    Example:
        >>> default = str(user_cache_dir() / "images")
        >>> str(image_cache_dir()) == os.environ.get(CACHE_ENV_VAR, default)
        True
    """
    env = os.environ.get(CACHE_ENV_VAR)
    return Path(env).expanduser() if env else user_cache_dir() / "images"


def _size_spec(size: int | tuple[int, int] | None) -> Any:
    return list(size) if isinstance(size, tuple) else size


def _transform(mode: str, size: int | tuple[int, int] | None) -> dict[str, Any]:
    import PIL

    return {
        "format": CACHE_FORMAT,
        "mode": mode,
        "size": _size_spec(size),
        "pillow": PIL.__version__,
    }


def image_cache_key(
    files: Sequence[str | os.PathLike[str]], mode: str, size: int | tuple[int, int] | None
) -> str:
    """The SHA-256 naming the cache of ``files`` read as ``mode`` at ``size`` (hex).

    It covers the transform and each file's absolute path, size and ``st_mtime_ns``, in order.

    Raises:
        FileNotFoundError: naming a file that does not exist.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = Path(d, "a.png").write_bytes(b"x")
        ...     k1 = image_cache_key([f"{d}/a.png"], "RGB", 64)
        ...     k2 = image_cache_key([f"{d}/a.png"], "RGB", 32)
        ...     _ = Path(d, "a.png").write_bytes(b"xy")  # another size on disk
        ...     k3 = image_cache_key([f"{d}/a.png"], "RGB", 64)
        >>> len(k1), k1 == k2, k1 == k3
        (64, False, False)
    """
    h = hashlib.sha256(json.dumps(_transform(mode, size), sort_keys=True).encode())
    cwd = os.getcwd()
    for f in files:
        path = os.fspath(f)
        if not os.path.isabs(path):
            path = os.path.join(cwd, path)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise FileNotFoundError(f"image file {path!r} does not exist") from None
        h.update(f"\0{path}\0{st.st_size}\0{st.st_mtime_ns}".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


@dataclass(frozen=True)
class CachedImages:
    """What :func:`cached_images` returns.

    Attributes:
        images: uint8 ``(N, C, H, W)``, memory-mapped from the cache file (copy-on-write:
            writing to it never changes the file).
        path: the cache file.
        key: its key (:func:`image_cache_key`).
        built: True if this call decoded the files, False if it loaded an existing cache.
        seconds: how long the call took.
    """

    images: torch.Tensor
    path: Path
    key: str
    built: bool
    seconds: float


# -- the file -----------------------------------------------------------------------------------
def _header(shape: tuple[int, ...], metadata: dict[str, str]) -> bytes:
    """A safetensors header for one uint8 tensor, padded so the data starts 64-byte aligned."""
    nbytes = int(np.prod(shape))
    head = {
        _TENSOR: {"dtype": "U8", "shape": list(shape), "data_offsets": [0, nbytes]},
        "__metadata__": metadata,
    }
    text = json.dumps(head, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 64)
    return struct.pack("<Q", len(text)) + text


def _read_header(path: Path) -> tuple[dict[str, Any], int]:
    """The parsed header of a cache file and where its data starts, or ValueError."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError("shorter than a safetensors header")
        (n,) = struct.unpack("<Q", raw)
        if n > 1 << 20:
            raise ValueError(f"header of {n} bytes")
        text = f.read(n)
    head = json.loads(text)
    if not isinstance(head, dict):
        raise ValueError("header is not a JSON object")
    return head, 8 + n


def _open_cache(path: Path, key: str) -> torch.Tensor | None:
    """The images of a complete, matching cache file, memory-mapped; None if it is not one."""
    try:
        head, start = _read_header(path)
        meta, entry = head.get("__metadata__") or {}, head.get(_TENSOR) or {}
        shape = tuple(int(s) for s in entry["shape"])
        nbytes = int(np.prod(shape))
        ok = (
            meta.get("key") == key
            and entry.get("dtype") == "U8"
            and len(shape) == 4
            and entry.get("data_offsets") == [0, nbytes]
            and path.stat().st_size == start + nbytes
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("image cache %s is unreadable (%s): rebuilding it", path, exc)
        return None
    if not ok:
        logger.warning("image cache %s does not match its key: rebuilding it", path)
        return None
    if nbytes == 0:
        return torch.empty(shape, dtype=torch.uint8)
    mapped = np.memmap(path, dtype=np.uint8, mode="c", offset=start, shape=shape)
    return torch.from_numpy(mapped)


# -- decoding -----------------------------------------------------------------------------------
_JOB: dict[str, Any] = {}


def _decode_rows(files: Sequence[Any], lo: int, hi: int, spec: dict[str, Any]) -> np.ndarray:
    """``files[lo:hi]`` decoded as uint8 ``(hi - lo, C, H, W)``, all of the first one's size."""
    mode, size, first, (c, h, w) = spec["mode"], spec["size"], spec["first"], spec["chw"]
    out = np.empty((hi - lo, c, h, w), dtype=np.uint8)
    for i, pixels in enumerate(decode_many(files[lo:hi], mode, size), start=lo):
        if pixels.shape != (h, w, c):
            raise ValueError(
                f"images differ in size: {str(files[i])!r} is {pixels.shape[1]}x"
                f"{pixels.shape[0]} but {first!r} is {w}x{h}; pass image_size=... to resize "
                "them all"
            )
        out[i - lo] = pixels.transpose(2, 0, 1)
    return out


def _write_rows(fd: int, rows: np.ndarray, offset: int) -> None:
    """Write ``rows`` at byte ``offset`` of the open file ``fd`` (all of it)."""
    view = memoryview(rows).cast("B")
    while view:
        done = os.pwrite(fd, view, offset)
        view, offset = view[done:], offset + done


def _worker(bounds: tuple[int, int]) -> int:
    """Decode ``files[lo:hi]`` and write them into the cache file being built (a worker)."""
    job, (lo, hi) = _JOB, bounds
    rows = _decode_rows(job["files"], lo, hi, job)
    fd = os.open(job["tmp"], os.O_WRONLY)
    try:
        _write_rows(fd, rows, job["start"] + lo * rows[0].nbytes)
    finally:
        os.close(fd)
    return hi - lo


def _default_workers() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cores or 1)


def _fill(tmp: Path, start: int, n: int, files: Sequence[Any], spec: dict[str, Any],
          workers: int) -> None:  # fmt: skip
    """Decode ``files[1:]`` into rows ``1..n-1`` of ``tmp``'s data, in forked workers or here."""
    step = 256 if workers == 1 else max(64, min(1024, n // (workers * 8) + 1))
    chunks = [(s, min(s + step, n)) for s in range(1, n, step)]
    _JOB.update(spec, tmp=str(tmp), start=start, files=files)
    try:
        if workers == 1 or n < _PARALLEL_MIN or not sys.platform.startswith("linux"):
            done = sum(map(_worker, chunks))
        else:
            # fork: the workers inherit the file list and the decoder without pickling or a
            # new interpreter (as DataLoader workers do on Linux); each writes its own rows
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                done = sum(pool.imap_unordered(_worker, chunks))
    finally:
        _JOB.clear()
    if done != n - 1:
        raise RuntimeError(f"the image cache workers decoded {done} of {n - 1} images")


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """An exclusive lock on ``lock_path`` (waits for another builder); no-op without fcntl."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the atomic rename still keeps the file whole
        yield
        return
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _build(path: Path, key: str, files: Sequence[Any], mode: str, size: Any, workers: int) -> None:
    first = decode_pixels(files[0], mode, size)
    h, w, c = first.shape
    shape = (len(files), c, h, w)
    meta = {
        "key": key,
        "count": str(len(files)),
        "transform": json.dumps(_transform(mode, size), sort_keys=True),
        "first_file": os.path.abspath(files[0]),
    }
    header = _header(shape, meta)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(header)
            f.write(np.ascontiguousarray(first.transpose(2, 0, 1)).tobytes())
            f.truncate(len(header) + int(np.prod(shape)))
        spec = {"mode": mode, "size": size, "first": str(files[0]), "chw": (c, h, w)}
        _fill(tmp, len(header), len(files), files, spec, workers)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _remove_stale(folder: Path, tag: str, keep: Path) -> None:
    for old in folder.glob(f"{tag}-*{keep.suffix}"):
        if old != keep:
            with contextlib.suppress(OSError):
                old.unlink()
                logger.info("removed the stale image cache %s", old)
            with contextlib.suppress(OSError):
                old.with_name(old.name + ".lock").unlink()


def _tag(files: Sequence[Any], transform: str) -> str:
    """The source (the folder the files share) and the transform: a rebuild for another key
    of the same tag deletes the stale file."""
    source = os.path.commonpath([os.path.abspath(files[0]), os.path.abspath(files[-1])])
    return hashlib.sha256(f"{source}\0{transform}".encode()).hexdigest()[:16]


def cached_headers(
    files: Sequence[str | os.PathLike[str]],
    read: Callable[[Any], tuple[tuple[int, int], str]],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> list[tuple[tuple[int, int], str]]:
    """``read(file)`` (an image's ``((width, height), mode)``) of every file, cached as JSON.

    Opening every file only to read its header costs about half of decoding it; a folder
    loaded again with unchanged files (the same key as the image cache: paths, sizes,
    modification times) gets the headers from ``<cache folder>/<tag>-<key>.json``.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> from autoencoders.data.images import image_header
        >>> with tempfile.TemporaryDirectory() as d:
        ...     Image.new("L", (5, 4)).save(f"{d}/a.png")
        ...     first = cached_headers([f"{d}/a.png"], image_header, cache_dir=d)
        ...     again = cached_headers([f"{d}/a.png"], lambda f: 1 / 0, cache_dir=d)  # not read
        >>> first, again
        ([((5, 4), 'L')], [((5, 4), 'L')])
    """
    files = list(files)
    if not files:
        return []
    key = image_cache_key(files, "headers", None)
    folder = Path(cache_dir).expanduser() if cache_dir is not None else image_cache_dir()
    path = folder / f"{_tag(files, 'headers')}-{key[:24]}.json"
    try:
        saved = json.loads(path.read_text())
        if saved.get("key") == key and len(saved["headers"]) == len(files):
            return [((int(w), int(h)), str(m)) for w, h, m in saved["headers"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no such file yet, or a damaged one: read the headers again
    headers = [read(f) for f in files]
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"key": key, "headers": [[w, h, m] for (w, h), m in headers]}))
    os.replace(tmp, path)
    _remove_stale(folder, path.name.split("-")[0], path)
    return headers


def cached_images(
    files: Sequence[str | os.PathLike[str]],
    *,
    mode: str,
    size: int | tuple[int, int] | None,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
) -> CachedImages:
    """``files`` decoded, converted to ``mode`` and resized, as memory-mapped uint8 images.

    Builds the cache on the first call (and whenever a file was added, removed or touched);
    memory-maps it on later calls. See the module docstring for the key, the locking and
    what is never checked.

    Args:
        files: the image files, in the order of the rows (at least one).
        mode: ``"L"`` (greyscale) or ``"RGB"``.
        size: ``None`` (keep; all images must share a size), an int (shorter side, then a
            centre square) or ``(height, width)``.
        cache_dir: the cache folder (default :func:`image_cache_dir`).
        workers: decoding processes (default: one per available core; 1 decodes here).

    Raises:
        ValueError: no files, a bad ``mode`` or ``workers``, a file that is not an image, or
            images of different sizes without ``size``.
        FileNotFoundError: naming a file that does not exist.
    """
    start = time.perf_counter()
    if mode not in ("L", "RGB"):
        raise ValueError(f"mode must be 'L' (greyscale) or 'RGB', got {mode!r}")
    if not files:
        raise ValueError("cached_images needs at least one file")
    if workers is None:
        workers = _default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer or None, got {workers!r}")
    files = list(files)
    key = image_cache_key(files, mode, size)
    folder = Path(cache_dir).expanduser() if cache_dir is not None else image_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    transform = json.dumps(_transform(mode, size), sort_keys=True)
    path = folder / f"{_tag(files, transform)}-{key[:24]}.safetensors"
    images = _open_cache(path, key) if path.exists() else None
    built = False
    if images is None:
        with _locked(path.with_name(path.name + ".lock")):
            images = _open_cache(path, key) if path.exists() else None  # built meanwhile?
            if images is None:
                logger.info("decoding %d images into the cache %s", len(files), path)
                _build(path, key, files, mode, size, workers)
                built = True
                images = _open_cache(path, key)
                if images is None:
                    raise RuntimeError(f"the image cache {path} was built but cannot be read")
        _remove_stale(folder, path.name.split("-")[0], path)
    seconds = time.perf_counter() - start
    logger.info("%s %d images from %s in %.2f s", "built" if built else "mapped",
                len(images), path, seconds)  # fmt: skip
    return CachedImages(images=images, path=path, key=key, built=built, seconds=seconds)
