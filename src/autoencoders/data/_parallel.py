"""Decoding many image files into the rows of one uint8 array, in forked worker processes.

What the image cache (:mod:`autoencoders.data.cache`) runs to fill a cache file, or shared
memory when there is no cache file: the first image is decoded here (it fixes the size every
other image must have), the rest in chunks, each chunk's rows written straight to their place
(``os.pwrite`` into the file, or a slice of an anonymous ``MAP_SHARED`` mapping that the
forked workers share with this process), so nothing is pickled back.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np
import torch

from autoencoders.data._cachefile import write_rows
from autoencoders.data.decode import decode_many, decode_pixels
from autoencoders.errors import InvalidValueError

__all__ = [
    "PARALLEL_MIN",
    "decode_into_memory",
    "decode_rows",
    "default_workers",
    "fill_rows",
    "first_image",
]

#: Below this many files the images are decoded in this process (starting workers costs more).
PARALLEL_MIN = 512

#: One build's decoding at a time per process: the forked workers read the job from
#: :data:`_JOB`, which two threads building at once would otherwise share.
_FILL_LOCK = threading.Lock()


def _new_fill_lock() -> None:
    """A forked child starts with a free lock (another thread may have held it at the fork)."""
    global _FILL_LOCK
    _FILL_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_fill_lock)


#: What the forked workers decode and where they write it (set just before they start).
_JOB: dict[str, Any] = {}


def decode_rows(files: Sequence[Any], lo: int, hi: int, spec: dict[str, Any]) -> np.ndarray:
    """``files[lo:hi]`` decoded as uint8 ``(hi - lo, C, H, W)``, all of the first one's size."""
    mode, size, first, (c, h, w) = spec["mode"], spec["size"], spec["first"], spec["chw"]
    out = np.empty((hi - lo, c, h, w), dtype=np.uint8)
    for i, pixels in enumerate(decode_many(files[lo:hi], mode, size), start=lo):
        if pixels.shape != (h, w, c):
            raise InvalidValueError(
                f"images differ in size: {str(files[i])!r} is {pixels.shape[1]}x"
                f"{pixels.shape[0]} but {first!r} is {w}x{h}; pass image_size=... to resize "
                "them all"
            )
        out[i - lo] = pixels.transpose(2, 0, 1)
    return out


def _worker(bounds: tuple[int, int]) -> int:
    """Decode ``files[lo:hi]`` and write them into the cache file or the shared buffer."""
    job, (lo, hi) = _JOB, bounds
    rows = decode_rows(job["files"], lo, hi, job)
    offset = job["start"] + lo * rows[0].nbytes
    if "buffer" in job:  # memory shared with the parent (MAP_SHARED survives the fork)
        job["buffer"][offset : offset + rows.nbytes] = memoryview(rows).cast("B")
        return hi - lo
    fd = os.open(job["tmp"], os.O_WRONLY | getattr(os, "O_BINARY", 0))
    try:
        write_rows(fd, rows, offset)
    finally:
        os.close(fd)
    return hi - lo


def default_workers() -> int:
    """One decoding process per core this process may run on."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cores or 1)


def fill_rows(target: dict[str, Any], n: int, files: Sequence[Any], spec: dict[str, Any],
          workers: int) -> None:  # fmt: skip
    """Decode ``files[1:]`` into rows ``1..n-1`` of ``target``, in forked workers or here.

    Raises:
        ValueError: a file that is not an image, or of another size than the first.
        RuntimeError: a worker process died (killed, out of memory).

    ``target`` is ``{"tmp": file, "start": data offset}`` or ``{"buffer": mmap, "start": 0}``.
    """
    step = 256 if workers == 1 else max(64, min(1024, n // (workers * 8) + 1))
    chunks = [(s, min(s + step, n)) for s in range(1, n, step)]
    with _FILL_LOCK:
        done = _run_chunks(chunks, n, files, spec, target, workers)
    if done != n - 1:
        raise RuntimeError(f"the image cache workers decoded {done} of {n - 1} images")


def _run_chunks(chunks: list[tuple[int, int]], n: int, files: Sequence[Any],
                spec: dict[str, Any], target: dict[str, Any], workers: int) -> int:  # fmt: skip
    """Decode every chunk (here or in forked workers); the number of images decoded."""
    _JOB.update(spec, **target, files=files)
    try:
        if workers == 1 or n < PARALLEL_MIN or not sys.platform.startswith("linux"):
            done = sum(map(_worker, chunks))
        else:
            # fork: the workers inherit the file list and the decoder without pickling or a
            # new interpreter (as DataLoader workers do on Linux); each writes its own rows
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
            try:
                done = sum(pool.map(_worker, chunks))
            except BrokenProcessPool:
                raise RuntimeError(
                    f"an image-decoding worker process died (killed, or out of memory?) while "
                    f"decoding {n} images; nothing was cached. Try again, or pass workers=1 to "
                    "decode in this process"
                ) from None
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    finally:
        _JOB.clear()
    return done


def first_image(files: Sequence[Any], mode: str, size: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """The first image as uint8 ``(C, H, W)`` and the spec the workers decode the rest by."""
    first = decode_pixels(files[0], mode, size)
    h, w, c = first.shape
    spec = {"mode": mode, "size": size, "first": str(files[0]), "chw": (c, h, w)}
    return np.ascontiguousarray(first.transpose(2, 0, 1)), spec


def decode_into_memory(files: Sequence[Any], mode: str, size: Any, workers: int,
                      first: np.ndarray, spec: dict[str, Any]) -> torch.Tensor:  # fmt: skip
    """Every file decoded into anonymous shared memory (in parallel, like a build)."""
    shape = (len(files), *first.shape)
    buffer = mmap.mmap(-1, max(1, int(np.prod(shape))))
    buffer[: first.nbytes] = first.tobytes()
    fill_rows({"buffer": buffer, "start": 0}, len(files), files, spec, workers)
    pixels = np.frombuffer(buffer, dtype=np.uint8, count=int(np.prod(shape)))
    return torch.from_numpy(pixels.reshape(shape))
