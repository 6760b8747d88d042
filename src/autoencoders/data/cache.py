"""A decoded, resized uint8 copy of a list of image files, cached as one safetensors file.

Decoding JPEGs is what makes an image folder slow to train on: torchvision's
``ImageFolder`` + ``DataLoader`` decodes, resizes and converts every image to float32 in every
epoch. :func:`cached_images` does it **once**: the files are decoded (in parallel worker
processes, each writing its share straight into the cache file), resized and centre-cropped
as :func:`~autoencoders.data.decode.decode_pixels` does it, and kept as uint8 ``(N, C, H, W)``
in ``<cache folder>/<scope>-<key>.safetensors``. Later runs **memory-map** that file: loading
takes milliseconds, the pages are read when first used, and the operating system shares them
between processes (202,599 CelebA faces at 64x64 are 2.5 GB as uint8, 10 GB as float32).

**The key** is the SHA-256 of the transform (mode, size, the cache format, the versions of
Pillow and torchvision, whose JPEG decoder is used where it has one) and, for every file,
its absolute path, size and modification time (``st_mtime_ns``). Adding, removing, replacing
or touching a file changes the key, so the next load rebuilds the cache. Pixels are never
hashed (that would cost as much as decoding): a file rewritten in place with the same size and
modification time is the one change the cache cannot see.

**The scope** names what a cache is *of* (the loaders pass the folder and the listing
options, such as ``limit``): a rebuild deletes the caches of the same scope and transform
that it replaces, and leaves every other cache alone, so two subsets of one folder each keep
their cache.

**Size budget**: the folder is kept under :func:`image_cache_limit` bytes
(``$AUTOENCODERS_CACHE_LIMIT``, e.g. ``20G``; default :data:`DEFAULT_LIMIT_BYTES`). After a
build, the least recently used caches (by modification time, renewed on every use) are
deleted until it fits; the one just built is always kept.

**Concurrent builds** are safe: a builder holds an exclusive lock (``fcntl.flock``) on
``<scope>.lock`` while it builds, so a second run waits and then memory-maps the finished
file instead of decoding again; the file is written under a temporary name (unique per
machine, process and call) and renamed into place only when complete and flushed to disk,
so a crash leaves no half-written cache. A cache file that does not match what it must hold
(shape, dtype, key, size on disk) is rebuilt. A worker process that dies (killed, out of
memory) fails the build with a clear error instead of a hang.

**When the cache cannot be written** (a read-only or full folder, a set larger than the
budget, no free space for it), the images are decoded into memory instead, with a warning
that names the folder and the reason; nothing already cached is touched.

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

import errno
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autoencoders.data._cachefile import (
    SUFFIX,
    cache_limit,
    evict,
    header_bytes,
    locked,
    map_rows,
    open_cache,
    remove_quietly,
    temp_path,
    touch,
)
from autoencoders.data._parallel import (
    decode_into_memory,
    default_workers,
    fill_rows,
    first_image,
)
from autoencoders.data.decode import decoder_versions
from autoencoders.data.locate import cache_dir as user_cache_dir
from autoencoders.errors import ImageCacheUnavailableError, InvalidValueError

__all__ = [
    "CACHE_ENV_VAR",
    "CACHE_FORMAT",
    "DEFAULT_LIMIT_BYTES",
    "FREE_SPACE_MARGIN_BYTES",
    "LIMIT_ENV_VAR",
    "CachedImages",
    "FileSnapshot",
    "cache_fits",
    "cached_headers",
    "cached_images",
    "image_cache_dir",
    "image_cache_key",
    "image_cache_limit",
]

logger = logging.getLogger(__name__)

#: Environment variable naming the image cache folder (default ``<user cache>/images``).
CACHE_ENV_VAR = "AUTOENCODERS_CACHE"
#: Environment variable holding the cache folder's size budget (``20G``, ``500M``, bytes).
LIMIT_ENV_VAR = "AUTOENCODERS_CACHE_LIMIT"
#: The size budget without ``$AUTOENCODERS_CACHE_LIMIT``: 50 GiB.
DEFAULT_LIMIT_BYTES = 50 << 30
#: A cache is built only where this much disk stays free after it.
FREE_SPACE_MARGIN_BYTES = 1 << 30
#: Version of the cache file layout and of the decoding; part of every key.
CACHE_FORMAT = 2
#: The errors of a cache folder that cannot take the file: the images are decoded into memory.
_STORAGE_NAMES = ("EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "ENOENT", "ENOTDIR",
                  "EEXIST", "EISDIR", "EFBIG", "ENAMETOOLONG", "ENODEV", "ESTALE",
                  "EOPNOTSUPP")  # fmt: skip
_STORAGE_ERRNOS = frozenset(getattr(errno, n) for n in _STORAGE_NAMES if hasattr(errno, n))


def image_cache_dir() -> Path:
    """The image cache folder: ``$AUTOENCODERS_CACHE``, else ``<user cache>/images``.

    Example:
        >>> default = str(user_cache_dir() / "images")
        >>> str(image_cache_dir()) == os.environ.get(CACHE_ENV_VAR, default)
        True
    """
    env = os.environ.get(CACHE_ENV_VAR)
    return Path(env).expanduser() if env else user_cache_dir() / "images"


def image_cache_limit() -> int:
    """The cache folder's size budget in bytes: ``$AUTOENCODERS_CACHE_LIMIT``, else 50 GiB.

    Raises:
        ValueError: naming the variable when it is not a size (``20G``, ``500M``, bytes).

    Example:
        >>> os.environ[LIMIT_ENV_VAR] = "2G"
        >>> image_cache_limit()
        2147483648
        >>> del os.environ[LIMIT_ENV_VAR]
        >>> image_cache_limit() == DEFAULT_LIMIT_BYTES
        True
    """
    return cache_limit(LIMIT_ENV_VAR, DEFAULT_LIMIT_BYTES)


def _free_bytes(folder: Path) -> int | None:
    """Free bytes on the disk of ``folder`` (or of its nearest existing parent)."""
    for place in (folder, *folder.parents):
        try:
            return shutil.disk_usage(place).free
        except OSError:
            continue
    return None


def cache_fits(nbytes: int, cache_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether a cache of ``nbytes`` can be built: within the budget, with disk to spare.

    Example:
        >>> cache_fits(1000), cache_fits(image_cache_limit() + 1)
        (True, False)
    """
    folder = Path(cache_dir).expanduser() if cache_dir is not None else image_cache_dir()
    free = _free_bytes(folder)
    roomy = free is None or nbytes + FREE_SPACE_MARGIN_BYTES <= free
    return nbytes <= image_cache_limit() and roomy


def _size_spec(size: int | tuple[int, int] | None) -> Any:
    return list(size) if isinstance(size, tuple) else size


def _transform(mode: str, size: int | tuple[int, int] | None) -> dict[str, Any]:
    return {"format": CACHE_FORMAT, "mode": mode, "size": _size_spec(size), **decoder_versions()}


@dataclass(frozen=True, eq=False)
class FileSnapshot:
    """Image files as they were when looked at once: each one's absolute path, size and
    modification time, which is what every cache key covers (:func:`image_cache_key`).

    :func:`cached_headers` and :func:`cached_images` take one in place of a file list and
    key by it, so that a loader that calls both takes one ``stat`` per file instead of one
    per call (about 0.4 s of a CelebA-sized folder's second load), and keys both caches by
    the same look at the folder.

    Attributes:
        files: the files, in the given order.
        records: what the key hashes of them (path, size and ``st_mtime_ns`` of each).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = Path(d, "a.png").write_bytes(b"x")
        ...     snap = FileSnapshot.take([f"{d}/a.png"])
        ...     _ = Path(d, "a.png").write_bytes(b"xy")  # changed after the look
        ...     now = image_cache_key([f"{d}/a.png"], "RGB", 64)
        >>> len(snap.files), image_cache_key(snap, "RGB", 64) == now
        (1, False)
    """

    files: tuple[str | os.PathLike[str], ...]
    records: bytes

    @classmethod
    def take(cls, files: Sequence[str | os.PathLike[str]]) -> FileSnapshot:
        """Look at ``files`` now (one ``os.stat`` each).

        Raises:
            FileNotFoundError: naming a file that does not exist.
        """
        files, cwd, parts = tuple(files), os.getcwd(), []
        for f in files:
            path = os.fspath(f)
            if not os.path.isabs(path):
                path = os.path.join(cwd, path)
            try:
                st = os.stat(path)
            except FileNotFoundError:
                raise FileNotFoundError(f"image file {path!r} does not exist") from None
            parts.append(f"\0{path}\0{st.st_size}\0{st.st_mtime_ns}")
        return cls(files, "".join(parts).encode("utf-8", "surrogateescape"))


def _listing(
    files: Sequence[str | os.PathLike[str]] | FileSnapshot,
) -> tuple[list[Any], FileSnapshot | None]:
    """The files as a list, and the snapshot when ``files`` is one."""
    if isinstance(files, FileSnapshot):
        return list(files.files), files
    return list(files), None


def image_cache_key(
    files: Sequence[str | os.PathLike[str]] | FileSnapshot,
    mode: str,
    size: int | tuple[int, int] | None,
) -> str:
    """The SHA-256 naming the cache of ``files`` read as ``mode`` at ``size`` (hex).

    It covers the transform and each file's absolute path, size and ``st_mtime_ns``, in order:
    as they are now, or as a :class:`FileSnapshot` saw them.

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
    snap = files if isinstance(files, FileSnapshot) else FileSnapshot.take(files)
    h = hashlib.sha256(json.dumps(_transform(mode, size), sort_keys=True).encode())
    h.update(snap.records)
    return h.hexdigest()


@dataclass(frozen=True)
class CachedImages:
    """What :func:`cached_images` returns.

    Attributes:
        images: uint8 ``(N, C, H, W)``, memory-mapped from the cache file (copy-on-write:
            writing to it never changes the file), or in memory when it could not be cached.
        path: the cache file, or None when the images could not be cached (see the warning).
        key: its key (:func:`image_cache_key`).
        built: True if this call decoded the files, False if it loaded an existing cache.
        seconds: how long the call took.
    """

    images: torch.Tensor
    path: Path | None
    key: str
    built: bool
    seconds: float


def _build(path: Path, key: str, files: Sequence[Any], mode: str, size: Any, workers: int,
           first: np.ndarray, spec: dict[str, Any]) -> torch.Tensor:  # fmt: skip
    """Write the cache file of ``files`` and return its images, mapped before the rename (so
    that another run deleting the file meanwhile cannot take them away)."""
    shape = (len(files), *first.shape)
    meta = {
        "key": key,
        "count": str(len(files)),
        "transform": json.dumps(_transform(mode, size), sort_keys=True),
        "first_file": os.path.abspath(files[0]),
    }
    header = header_bytes(shape, meta)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(header)
            f.write(first.tobytes())
            f.truncate(len(header) + int(np.prod(shape)))
        fill_rows({"tmp": str(tmp), "start": len(header)}, len(files), files, spec, workers)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        images = map_rows(tmp, len(header), shape)
        os.replace(tmp, path)
    finally:
        remove_quietly(tmp)
    return images


def _remove_replaced(folder: Path, tag: str, keep: Path) -> None:
    """Delete the caches of the same scope and transform as ``keep`` (never lock files)."""
    for old in folder.glob(f"{tag}-*{keep.suffix}"):
        if old != keep and remove_quietly(old):
            logger.info("removed the replaced image cache %s", old)


def _tag(scope: str, transform: str) -> str:
    text = f"{scope}\0{transform}".encode("utf-8", "surrogateescape")
    return hashlib.sha256(text).hexdigest()[:16]


def _default_scope(files: Sequence[Any]) -> str:
    """The folder the files share, their count and the first one: a cache of other files of the
    same folder (a subset, a longer listing) is left alone; pass ``scope=`` to replace it."""
    first, last = os.path.abspath(files[0]), os.path.abspath(files[-1])
    return json.dumps([os.path.commonpath([first, last]), len(files), first])


def _folder(cache_dir: str | os.PathLike[str] | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir is not None else image_cache_dir()


def cached_headers(
    files: Sequence[str | os.PathLike[str]] | FileSnapshot,
    read: Callable[[Any], tuple[tuple[int, int], str]],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    scope: str | None = None,
) -> list[tuple[tuple[int, int], str]]:
    """``read(file)`` (an image's ``((width, height), mode)``) of every file, cached as JSON.

    Opening every file only to read its header costs about half of decoding it; a folder
    loaded again with unchanged files (the same key as the image cache: paths, sizes,
    modification times) gets the headers from ``<cache folder>/<scope>-<key>.json`` (stored
    run-length encoded: a folder of one size and mode is one entry). A folder
    that cannot be written only means the headers are read again next time. ``files`` may be
    a :class:`FileSnapshot` (keyed as it saw them).

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
    files, snap = _listing(files)
    if not files:
        return []
    key = image_cache_key(snap or files, "headers", None)
    folder = _folder(cache_dir)
    tag = _tag(_default_scope(files) if scope is None else scope, "headers")
    path = folder / f"{tag}-{key[:24]}.json"
    try:
        saved = json.loads(path.read_text())
        got = saved["runs"] if isinstance(saved, dict) and saved.get("key") == key else []
        counts = [int(n) for *_, n in got]
        if got and min(counts) > 0 and sum(counts) == len(files):
            touch(path)
            return [((int(w), int(h)), str(m)) for w, h, m, n in got for _ in range(int(n))]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # no such file yet, or a damaged one: read the headers again
    headers = [read(f) for f in files]
    runs: list[list[Any]] = []  # run-length encoded: most folders hold one size and mode
    for (w, h), m in headers:
        if runs and runs[-1][:3] == [w, h, m]:
            runs[-1][3] += 1
        else:
            runs.append([w, h, m, 1])
    tmp = temp_path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"key": key, "runs": runs}))
        os.replace(tmp, path)
    except OSError as exc:
        logger.info("could not save the image headers in %s (%s)", folder, exc)
        remove_quietly(tmp)
        return headers
    _remove_replaced(folder, tag, path)
    return headers


def _check_args(files: Sequence[Any], mode: str, workers: int | None) -> int:
    if mode not in ("L", "RGB"):
        raise InvalidValueError(f"mode must be 'L' (greyscale) or 'RGB', got {mode!r}")
    if not files:
        raise InvalidValueError("cached_images needs at least one file")
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidValueError(f"workers must be a positive integer or None, got {workers!r}")
    return workers


def cached_images(
    files: Sequence[str | os.PathLike[str]] | FileSnapshot,
    *,
    mode: str,
    size: int | tuple[int, int] | None,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    scope: str | None = None,
    fallback: str = "memory",
) -> CachedImages:
    """``files`` decoded, converted to ``mode`` and resized, as memory-mapped uint8 images.

    Builds the cache on the first call (and whenever a file was added, removed or touched);
    memory-maps it on later calls. See the module docstring for the key, the scope, the size
    budget, the locking and what is never checked.

    Args:
        files: the image files, in the order of the rows (at least one); or a
            :class:`FileSnapshot` of them, which keys the cache as it saw them.
        mode: ``"L"`` (greyscale) or ``"RGB"``.
        size: ``None`` (keep; all images must share a size), an int (shorter side, then a
            centre square) or ``(height, width)``.
        cache_dir: the cache folder (default :func:`image_cache_dir`).
        workers: decoding processes (default: one per available core; 1 decodes here).
        scope: what these files are, e.g. a folder and its listing options: a rebuild
            deletes the older caches of the same scope (and transform). Default: the folder
            the files share, their number and the first file, so a cache of a different
            listing is kept (until the size budget evicts it).
        fallback: when the cache cannot hold the images (over the budget or the free disk
            space, a folder that cannot be written): ``"memory"`` decodes them into memory
            with a warning, ``"raise"`` raises :class:`~autoencoders.errors.ImageCacheUnavailableError`
            and decodes nothing (the loaders then read large sets per item).

    Raises:
        ValueError: no files, a bad ``mode`` or ``workers``, a file that is not an image,
            images of different sizes without ``size``, or a bad ``$AUTOENCODERS_CACHE_LIMIT``.
        FileNotFoundError: naming a file that does not exist.
        RuntimeError: a decoding worker process died.
        ImageCacheUnavailableError: with ``fallback="raise"``, see above.
    """
    start = time.perf_counter()
    files, snap = _listing(files)
    workers = _check_args(files, mode, workers)
    if fallback not in ("memory", "raise"):
        raise InvalidValueError(f"fallback must be 'memory' or 'raise', got {fallback!r}")
    key = image_cache_key(snap or files, mode, size)
    folder = _folder(cache_dir)
    limit = image_cache_limit()
    transform = json.dumps(_transform(mode, size), sort_keys=True)
    tag = _tag(_default_scope(files) if scope is None else scope, transform)
    path = folder / f"{tag}-{key[:24]}{SUFFIX}"
    images, built = open_cache(path, key), False
    if images is not None:
        touch(path)
    else:
        first, spec = first_image(files, mode, size)
        nbytes = len(files) * first.nbytes
        why = None
        if not cache_fits(nbytes, folder):
            why = (
                f"{nbytes / 2**30:.2f} GiB is more than the budget of {limit / 2**30:.2f} GiB "
                f"(${LIMIT_ENV_VAR}) or than the free disk space"
            )
        else:
            try:
                images, built = _build_locked(path, key, files, mode, size, workers, first, spec)
            except OSError as exc:
                if exc.errno not in _STORAGE_ERRNOS:
                    raise  # not about the folder (a failed fork, an I/O error): say so
                why = f"{type(exc).__name__}: {exc}"  # read-only, full, gone, not a folder
        if why is not None and fallback == "raise":
            raise ImageCacheUnavailableError(f"the image cache in {folder} cannot hold "
                                             f"{len(files)} images: {why}")  # fmt: skip
        if why is not None:
            logger.warning(
                "the image cache in %s cannot hold %d images (%s); decoding them into memory "
                "instead (set $%s to another folder, or $%s)", folder, len(files), why,
                CACHE_ENV_VAR, LIMIT_ENV_VAR,
            )  # fmt: skip
            images = decode_into_memory(files, mode, size, workers, first, spec)
            path, built = None, True
        else:
            _remove_replaced(folder, tag, path)
            evict(folder, limit, keep=path)
    seconds = time.perf_counter() - start
    logger.info("%s %d images (%s) in %.2f s", "built" if built else "mapped", len(images),
                path or "in memory", seconds)  # fmt: skip
    return CachedImages(images=images, path=path, key=key, built=built, seconds=seconds)


def _build_locked(path: Path, key: str, files: Sequence[Any], mode: str, size: Any,
                  workers: int, first: np.ndarray,
                  spec: dict[str, Any]) -> tuple[torch.Tensor, bool]:  # fmt: skip
    """Build the cache under the scope's lock, unless another run built it meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path.with_name(path.name.split("-")[0] + ".lock")):
        images = open_cache(path, key)  # built while this run waited?
        if images is not None:
            return images, False
        logger.info("decoding %d images into the cache %s", len(files), path)
        return _build(path, key, files, mode, size, workers, first, spec), True
