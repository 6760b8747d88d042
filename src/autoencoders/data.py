"""Datasets as train / validation / test splits, found on disk before anything is downloaded.

:func:`load_dataset` returns a :class:`DataSplits`: three datasets whose items are ``(x, y)``
pairs (images as float tensors in the requested pixel range, integer labels), plus what a model
needs to know about them (``input_shape``, ``num_classes``, ``pixel_range``, ``class_names``).

=====================  ==========================================================================
name                   what
=====================  ==========================================================================
``"fashion-mnist"``    Fashion-MNIST, 1x28x28, 10 classes (aliases ``fashion_mnist``, ``fmnist``)
``"mnist"``            MNIST digits, 1x28x28, 10 classes
``"celeba"``           CelebA aligned faces, resized (shorter side) and centre-cropped to 3x64x64
``"folder:<path>"``    a folder of images, see :func:`load_image_folder`
=====================  ==========================================================================

**Where the files are looked for**, in this order (the first complete copy wins):

1. the ``root`` argument: the folder itself, ``<root>/<name>/`` and torchvision's layout
   ``<root>/<TorchvisionName>/raw/`` (e.g. ``<root>/FashionMNIST/raw/``);
2. each folder in the environment variable ``AUTOENCODERS_DATA`` (``os.pathsep``-separated):
   ``<dir>/<name>/`` and ``<dir>/<TorchvisionName>/raw/``;
3. the user cache, ``$XDG_CACHE_HOME/autoencoders`` or ``~/.cache/autoencoders`` (same layouts);
4. Debian's dataset packages, ``/usr/share/datasets/<name>/`` (``apt-get install
   dataset-fashion-mnist`` puts the gzipped IDX files of Fashion-MNIST there).

Only then, and only when ``download=True`` (or the environment variable
``AUTOENCODERS_DOWNLOAD=1`` with ``download`` left at ``None``), is torchvision asked to
download into the first of ``root``, ``AUTOENCODERS_DATA``, the cache. Offline with nothing
found, :class:`DatasetNotFoundError` lists every place looked at and how to get the data.

MNIST-style files are IDX (gzipped or not), read directly by :func:`read_idx`. The validation
split is carved from the training split with a permutation seeded by ``split_seed`` (the same
seed gives the same split on every machine); the test split is the dataset's own.

**Labels.** MNIST-style datasets and labelled image folders (one sub-folder per class) have
labels ``0 .. num_classes - 1``. Unlabelled data (CelebA, a flat image folder, tensors given
without labels) has label ``-1`` on every item and ``num_classes = None``, so every split is
still a ``(x, y)`` dataset.

Example:
    >>> import torch
    >>> x = torch.randint(0, 256, (50, 28, 28), dtype=torch.uint8)
    >>> splits = from_tensors(x, torch.arange(50) % 5, val_fraction=0.2, test_fraction=0.2)
    >>> splits.sizes(), splits.input_shape, splits.num_classes, splits.pixel_range
    ({'train': 30, 'val': 10, 'test': 10}, (1, 28, 28), 5, (0.0, 1.0))
    >>> xb, yb = splits.tensors("train")
    >>> xb.dtype, float(xb.min()) >= 0.0, float(xb.max()) <= 1.0
    (torch.float32, True, True)
"""

from __future__ import annotations

import difflib
import functools
import gzip
import logging
import math
import os
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

__all__ = [
    "CELEBA_PARTITION_FILE",
    "DATASET_NAMES",
    "DEBIAN_DATASETS_DIR",
    "DOWNLOAD_ENV_VAR",
    "ENV_VAR",
    "IN_MEMORY_LIMIT_BYTES",
    "DataSplits",
    "DatasetNotFoundError",
    "ImageFilesDataset",
    "cache_dir",
    "from_tensors",
    "load_celeba",
    "load_dataset",
    "load_image_folder",
    "parse_pixel_range",
    "pixel_range_for",
    "read_idx",
    "search_dirs",
]

logger = logging.getLogger(__name__)

#: Environment variable naming folders to look for datasets in (``os.pathsep``-separated).
ENV_VAR = "AUTOENCODERS_DATA"
#: Environment variable that, set to ``1``/``true``/``yes``, allows downloads by default.
DOWNLOAD_ENV_VAR = "AUTOENCODERS_DOWNLOAD"
#: Where Debian's ``dataset-*`` packages install datasets (``<dir>/fashion-mnist/*.gz``).
DEBIAN_DATASETS_DIR = Path("/usr/share/datasets")
#: Image datasets larger than this (as float32) are read lazily from disk, item by item.
IN_MEMORY_LIMIT_BYTES = 1 << 30
#: Name of CelebA's official split file, one ``<image> <0 train | 1 valid | 2 test>`` per line.
CELEBA_PARTITION_FILE = "list_eval_partition.txt"

PixelRangeLike = str | Sequence[float]
ImageSize = int | Sequence[int] | None

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


# -- errors ---------------------------------------------------------------------------------------
class DatasetNotFoundError(FileNotFoundError, ValueError):
    """No local copy of a dataset was found and downloading was not allowed (or failed).

    Both a :class:`FileNotFoundError` and a :class:`ValueError`; the message lists every place
    that was looked at and how to get the data. The parts of the message are kept as attributes,
    so that a front end can word the hint in its own terms: :meth:`describe` with the
    command-line spelling of ``root=`` and ``download=True`` (the ``autoencoders`` program
    says ``--data-root DIR`` and ``--download``).

    Args:
        dataset: the dataset's name, e.g. ``"fashion-mnist"``.
        searched: the folders looked in, in order.
        wanted: what was looked for, e.g. ``"IDX files (...)"``.
        install: a command that installs the data, e.g. ``"apt-get install
            dataset-fashion-mnist"``, if there is one.
        manual: how to get the files by hand, if more needs saying than "put the files there".
        download_error: why torchvision's download failed, when one was tried.
        download_target: the folder the download went to, when one was tried.

    Example:
        >>> err = DatasetNotFoundError("mnist", ["/data/mnist"], wanted="IDX files")
        >>> print(err)
        dataset 'mnist' not found: no IDX files in any of
          - /data/mnist
        To get it: put the files in one of those folders, in the folder given by root=DIR, or
        in <dir>/mnist/ for a <dir> listed in the environment variable AUTOENCODERS_DATA; or
        pass download=True (or set AUTOENCODERS_DOWNLOAD=1) to let torchvision download them.
        >>> err.describe(root_option="--data-root DIR", download_option="--download",
        ...              one_line=True)
        "dataset 'mnist' not found: no IDX files in any of: /data/mnist. To get it: ... given by --data-root DIR, ...; or pass --download (or set AUTOENCODERS_DOWNLOAD=1) ..."
    """

    def __init__(
        self,
        dataset: str,
        searched: Sequence[str | os.PathLike[str]] = (),
        *,
        wanted: str = "files",
        install: str | None = None,
        manual: str | None = None,
        download_error: str | None = None,
        download_target: str | os.PathLike[str] | None = None,
    ) -> None:
        self.dataset = dataset
        self.searched = tuple(Path(p) for p in searched)
        self.wanted = wanted
        self.install = install
        self.manual = manual
        self.download_error = download_error.strip().rstrip(".") if download_error else None
        self.download_target = Path(download_target) if download_target is not None else None
        super().__init__(self.describe())

    def __reduce__(self) -> tuple[Any, ...]:  # pickle by the parts, not by the message
        parts = ("wanted", "install", "manual", "download_error", "download_target")
        rebuild = functools.partial(type(self), **{k: getattr(self, k) for k in parts})
        return rebuild, (self.dataset, self.searched)

    def describe(
        self,
        *,
        root_option: str = "root=DIR",
        download_option: str = "download=True",
        one_line: bool = False,
    ) -> str:
        """The message, naming the options as ``root_option`` and ``download_option``.

        Args:
            root_option: how to name a folder to look in first.
            download_option: how to allow a download.
            one_line: list the folders on the same line, separated by commas (for a
                command line's one-line error); else one per line.
        """
        if one_line:
            places = ": " + (", ".join(str(p) for p in self.searched) or "(none)")
            after_places, before_hint = "", ". "
        else:
            places = "".join(f"\n  - {p}" for p in self.searched) or " (none)"
            after_places, before_hint = "\n", "\n"
        if self.download_error is None:
            head = f"dataset {self.dataset!r} not found: no {self.wanted} in any of{places}"
        else:
            head = (
                f"dataset {self.dataset!r} was not found locally (no {self.wanted} in any of"
                f"{places}{after_places}) and torchvision could not download it into "
                f"{self.download_target}: {self.download_error}"
            )
        ways = [f"run `{self.install}`"] if self.install else []
        ways.append(
            f"{self.manual or 'put the files'} in one of those folders, in the folder given by "
            f"{root_option}, or in <dir>/{self.dataset}/ for a <dir> listed in the environment "
            f"variable {ENV_VAR}"
        )
        if self.download_error is None:
            ways.append(
                f"pass {download_option} (or set {DOWNLOAD_ENV_VAR}=1) to let torchvision "
                "download them"
            )
        return f"{head}{before_hint}To get it: {'; or '.join(ways)}."


# -- small helpers --------------------------------------------------------------------------------
def cache_dir() -> Path:
    """The user cache folder: ``$XDG_CACHE_HOME/autoencoders`` or ``~/.cache/autoencoders``.

    Example:
        >>> cache_dir().name
        'autoencoders'
    """
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "autoencoders"


def _env_dirs() -> list[Path]:
    value = os.environ.get(ENV_VAR, "")
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


def _download_allowed(download: bool | None) -> bool:
    if download is None:
        return os.environ.get(DOWNLOAD_ENV_VAR, "").strip().lower() in ("1", "true", "yes", "on")
    if not isinstance(download, bool):
        raise TypeError(f"download must be True, False or None, got {download!r}")
    return download


def parse_pixel_range(value: PixelRangeLike) -> tuple[float, float]:
    """A pixel range as ``(low, high)`` floats.

    Args:
        value: ``"[0,1]"``, ``"[-1,1]"`` (spaces and round brackets are fine) or a pair of
            numbers with ``low < high``.

    Example:
        >>> parse_pixel_range("[-1, 1]"), parse_pixel_range((0, 255))
        ((-1.0, 1.0), (0.0, 255.0))
        >>> parse_pixel_range("0..1")
        Traceback (most recent call last):
          ...
        ValueError: pixel_range must be 'auto', '[0,1]', '[-1,1]' or a pair (low, high) with low < high, got '0..1'
    """
    pair: Any = value
    if isinstance(value, str):
        text = value.strip().strip("[]()").replace(" ", "")
        parts = text.split(",")
        try:
            pair = tuple(float(p) for p in parts)
        except ValueError:
            pair = None
    ok = (
        isinstance(pair, Sequence)
        and len(pair) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair)
        and math.isfinite(float(pair[0]))
        and math.isfinite(float(pair[1]))
        and float(pair[0]) < float(pair[1])
    )
    if not ok:
        raise ValueError(
            "pixel_range must be 'auto', '[0,1]', '[-1,1]' or a pair (low, high) with "
            f"low < high, got {value!r}"
        )
    return float(pair[0]), float(pair[1])


def _resolve_pixel_range(
    value: PixelRangeLike, default: tuple[float, float]
) -> tuple[float, float]:
    if isinstance(value, str) and value.strip().lower() == "auto":
        return default
    return parse_pixel_range(value)


def pixel_range_for(model: Any) -> tuple[float, float]:
    """The pixel range a model's output activation produces: ``(-1, 1)`` for tanh, else ``(0, 1)``.

    Sigmoid models (trained with BCE) need data in [0, 1]; tanh models (the face VAE) need
    [-1, 1]. Identity and ReLU outputs are given [0, 1], the range of the image datasets.

    Example:
        >>> import autoencoders
        >>> pixel_range_for(autoencoders.build("vae", h=8, z=2))
        (0.0, 1.0)
        >>> pixel_range_for(autoencoders.build("vae", h=8, z=2, output_activation="tanh"))
        (-1.0, 1.0)
    """
    model = getattr(model, "module", model)
    model = getattr(model, "_orig_mod", model)
    act = getattr(model, "output_activation", None)
    if act is None:
        raise TypeError(
            f"pixel_range_for needs a model with an output_activation, got {type(model).__name__}"
        )
    return (-1.0, 1.0) if str(act) == "tanh" else (0.0, 1.0)


def _scale_uint8(x: torch.Tensor, pixel_range: tuple[float, float]) -> torch.Tensor:
    """uint8 0..255 -> float32 in ``pixel_range``."""
    lo, hi = pixel_range
    out = x.to(torch.float32).div_(255.0)
    if (lo, hi) != (0.0, 1.0):
        out.mul_(hi - lo).add_(lo)
    return out


def _check_fraction(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{what} must be a number in [0, 1), got {value!r}")
    return float(value)


def _check_limit(limit: Any) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    return limit


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"split_seed must be an integer, got {seed!r}")
    return seed


def _check_image_size(size: Any) -> int | tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        return size
    if (
        isinstance(size, Sequence)
        and not isinstance(size, str)
        and len(size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
    ):
        return (int(size[0]), int(size[1]))
    raise ValueError(
        f"image_size must be None, a positive int (resize the shorter side, then centre-crop a "
        f"square) or a pair (height, width), got {size!r}"
    )


def _check_channels(channels: Any, allow_none: bool = True) -> int | None:
    if channels is None and allow_none:
        return None
    if isinstance(channels, bool) or channels not in (1, 3):
        accepted = "None (the images' own), 1 or 3" if allow_none else "1 or 3"
        raise ValueError(f"channels must be {accepted} (1: greyscale, 3: RGB), got {channels!r}")
    return int(channels)


def _count(n: int, fraction: float, size: int | None, what: str) -> int:
    """Number of items of a carved split: ``size`` if given, else ``round(n * fraction)``."""
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < n:
            raise ValueError(f"{what} must be an integer in [0, {n}), got {size!r}")
        return size
    return round(n * fraction)


def _permutation(n: int, seed: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def _resize_tensor(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize a float batch (N, C, H, W) like ``Resize(size)`` (+ ``CenterCrop`` for an int)."""
    import torchvision.transforms.functional as TF

    if isinstance(size, int):
        x = TF.resize(x, size, antialias=True)
        return TF.center_crop(x, [size, size])
    return TF.resize(x, list(size), antialias=True)


# -- the splits -----------------------------------------------------------------------------------
@dataclass
class DataSplits:
    """Train, validation and test datasets plus what a model needs to know about them.

    Each split yields ``(x, y)``: ``x`` a float32 tensor of shape ``input_shape`` in
    ``pixel_range``, ``y`` an int64 label (``-1`` for unlabelled data). In-memory splits are
    :class:`~torch.utils.data.TensorDataset`\\ s; large image collections are
    :class:`ImageFilesDataset`\\ s read from disk item by item.

    Attributes:
        train: training split.
        val: validation split (carved from the training data unless the dataset has one).
        test: test split.
        name: dataset name (``"fashion-mnist"``, ``"folder:/path"``, ...).
        input_shape: shape of one ``x``, e.g. ``(1, 28, 28)``.
        num_classes: number of classes, or ``None`` for unlabelled data.
        pixel_range: ``(low, high)`` of the pixel values.
        class_names: names of the labels ``0, 1, ...`` when known.
        source: the folder the files were read from, when they were.
    """

    train: Dataset
    val: Dataset
    test: Dataset
    name: str
    input_shape: tuple[int, ...]
    num_classes: int | None
    pixel_range: tuple[float, float] = (0.0, 1.0)
    class_names: tuple[str, ...] | None = None
    source: str | None = None

    #: The split names, in order.
    SPLITS: ClassVar[tuple[str, ...]] = ("train", "val", "test")

    def split(self, split: str) -> Dataset:
        """The dataset of ``split`` (``"train"``, ``"val"`` or ``"test"``)."""
        if split not in self.SPLITS:
            raise ValueError(f"unknown split {split!r}; accepted: {', '.join(self.SPLITS)}")
        return getattr(self, split)

    def tensors(self, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)`` of a whole split as two tensors (read from disk for lazy splits)."""
        ds = self.split(split)
        if isinstance(ds, TensorDataset):
            return ds.tensors[0], ds.tensors[1]
        if isinstance(ds, ImageFilesDataset):
            return ds.load_all()
        items = [ds[i] for i in range(len(ds))]  # type: ignore[arg-type]
        if not items:
            return torch.empty(0, *self.input_shape), torch.empty(0, dtype=torch.long)
        return torch.stack([it[0] for it in items]), torch.as_tensor([int(it[1]) for it in items])

    def sizes(self) -> dict[str, int]:
        """Number of items per split."""
        return {s: len(getattr(self, s)) for s in self.SPLITS}  # type: ignore[arg-type]

    def summary(self) -> dict[str, Any]:
        """A JSON-serialisable description (name, shape, range, classes, sizes, source)."""
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "pixel_range": list(self.pixel_range),
            "num_classes": self.num_classes,
            "class_names": list(self.class_names) if self.class_names else None,
            "sizes": self.sizes(),
            "source": self.source,
        }


def _tensor_splits(
    x: torch.Tensor,
    y: torch.Tensor,
    idx: dict[str, torch.Tensor],
    *,
    name: str,
    num_classes: int | None,
    pixel_range: tuple[float, float],
    class_names: tuple[str, ...] | None,
    source: str | None,
    flatten: bool,
) -> DataSplits:
    """DataSplits of in-memory float tensors (already scaled and resized) by index sets."""
    if flatten:
        x = x.reshape(len(x), -1)
    sets = {k: TensorDataset(x[v], y[v]) for k, v in idx.items()}
    return DataSplits(
        train=sets["train"],
        val=sets["val"],
        test=sets["test"],
        name=name,
        input_shape=tuple(x.shape[1:]),
        num_classes=num_classes,
        pixel_range=pixel_range,
        class_names=class_names,
        source=source,
    )


# -- IDX files (MNIST, Fashion-MNIST) -------------------------------------------------------------
_IDX_DTYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
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
        raise ValueError(f"{str(path)!r} could not be read as an IDX file: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"{str(path)!r} is not an IDX file: it should start with two zero bytes, a type "
            f"code and the number of dimensions, but starts with {raw[:4].hex(' ') or '(nothing)'}"
        )
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        accepted = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise ValueError(f"{str(path)!r}: unknown IDX type code 0x{code:02X}; accepted: {accepted}")
    if ndim == 0:
        raise ValueError(f"{str(path)!r}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{str(path)!r}: truncated IDX header ({ndim} dimensions declared)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "has trailing data"
        raise ValueError(
            f"{str(path)!r}: IDX file {what}: dimensions {tuple(dims)} of {dtype.name} need "
            f"{expected} bytes of data, found {got}"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


@dataclass(frozen=True)
class _IdxSpec:
    name: str
    torchvision_name: str
    class_names: tuple[str, ...]
    debian_package: str | None


_FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_IDX_SPECS = {
    "fashion-mnist": _IdxSpec(
        "fashion-mnist", "FashionMNIST", _FASHION_CLASSES, "dataset-fashion-mnist"
    ),
    "mnist": _IdxSpec("mnist", "MNIST", tuple(str(d) for d in range(10)), None),
}
_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

#: Accepted dataset names (``folder:<path>`` loads a folder of images).
DATASET_NAMES = ("celeba", "fashion-mnist", "mnist", "folder:<path>")
_ALIASES = {
    "fashion-mnist": "fashion-mnist",
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
    "mnist": "mnist",
    "celeba": "celeba",
    "celeb_a": "celeba",
    "celeb-a": "celeba",
}
_FOLDER_PREFIXES = ("folder:", "image_folder:", "image-folder:")


def search_dirs(name: str, root: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders searched for a dataset, in order (see the module docstring).

    Example:
        >>> [p.as_posix() for p in search_dirs("mnist", root="/data")][:3]
        ['/data', '/data/mnist', '/data/MNIST/raw']
    """
    key = _canonical_name(name)
    tv = _IDX_SPECS[key].torchvision_name if key in _IDX_SPECS else None
    base = "celeba" if key == "celeba" else key

    def layouts(d: Path) -> list[Path]:
        return [d / base] + ([d / tv / "raw"] if tv else [])

    out: list[Path] = []
    if root is not None:
        r = Path(root).expanduser()
        out += [r, *layouts(r)]
    for d in _env_dirs():
        out += layouts(d)
    out += layouts(cache_dir())
    if key != "celeba":
        out.append(DEBIAN_DATASETS_DIR / key)
    return list(dict.fromkeys(out))  # without duplicates, in order


def _idx_files_in(d: Path) -> dict[str, Path] | None:
    """The four IDX files (plain or ``.gz``) in ``d``, or None if any is missing."""
    found: dict[str, Path] = {}
    for key, base in _IDX_FILES.items():
        for candidate in (d / base, d / f"{base}.gz"):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            return None
    return found


def _idx_not_found(spec: _IdxSpec, looked: list[Path], **kw: Any) -> DatasetNotFoundError:
    wanted = "IDX files (" + ", ".join(_IDX_FILES.values()) + ", or .gz)"
    install = f"apt-get install {spec.debian_package}" if spec.debian_package else None
    return DatasetNotFoundError(spec.name, looked, wanted=wanted, install=install, **kw)


def _celeba_not_found(looked: list[Path], **kw: Any) -> DatasetNotFoundError:
    return DatasetNotFoundError(
        "celeba",
        looked,
        wanted=f"'img_align_celeba/' folder with '{CELEBA_PARTITION_FILE}'",
        manual=(
            f"download img_align_celeba.zip and {CELEBA_PARTITION_FILE} from the CelebA "
            f"website and put the unpacked img_align_celeba/ folder and {CELEBA_PARTITION_FILE}"
        ),
        **kw,
    )


def _download_target(root: str | os.PathLike[str] | None) -> Path:
    if root is not None:
        return Path(root).expanduser()
    env = _env_dirs()
    return env[0] if env else cache_dir()


def _torchvision_download(
    spec_name: str, target: Path, not_found: Callable[..., DatasetNotFoundError]
) -> None:
    """Download with torchvision's dataset class ``spec_name`` into ``target``; on failure raise
    ``not_found(download_error=..., download_target=target)``."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, spec_name)
    logger.info("downloading %s with torchvision into %s", spec_name, target)
    try:
        target.mkdir(parents=True, exist_ok=True)
        if spec_name == "CelebA":
            cls(str(target), split="all", target_type=[], download=True)
        else:
            cls(str(target), train=True, download=True)
            cls(str(target), train=False, download=True)
    except (RuntimeError, OSError, ImportError) as exc:  # URLError is an OSError
        reason = str(exc) or type(exc).__name__
        raise not_found(download_error=reason, download_target=target) from exc


def _load_idx_arrays(
    spec: _IdxSpec, root: str | os.PathLike[str] | None, download: bool
) -> tuple[dict[str, np.ndarray], Path]:
    looked = search_dirs(spec.name, root)
    for d in looked:
        files = _idx_files_in(d)
        if files is not None:
            break
    else:
        if not download:
            raise _idx_not_found(spec, looked)
        target = _download_target(root)
        _torchvision_download(
            spec.torchvision_name, target, functools.partial(_idx_not_found, spec, looked)
        )
        d = target / spec.torchvision_name / "raw"
        files = _idx_files_in(d)
        if files is None:
            raise _idx_not_found(
                spec,
                [*looked, d],
                download_error=f"the download left no IDX files in {d}",
                download_target=target,
            )
    logger.info("reading %s from %s", spec.name, d)
    arrays = {k: read_idx(p) for k, p in files.items()}
    for part in ("train", "test"):
        img, lab = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if img.ndim != 3 or img.dtype != np.uint8:
            raise ValueError(
                f"{str(files[part + '_images'])!r}: expected uint8 images (N, H, W), got "
                f"{img.dtype.name} {img.shape}"
            )
        if lab.ndim != 1 or len(lab) != len(img):
            raise ValueError(
                f"{str(files[part + '_labels'])!r}: expected {len(img)} labels (one per image "
                f"in {files[part + '_images'].name}), got shape {lab.shape}"
            )
        n_cls = len(spec.class_names)
        if len(lab) and (int(lab.min()) < 0 or int(lab.max()) >= n_cls):
            raise ValueError(
                f"{str(files[part + '_labels'])!r}: labels must be in [0, {n_cls}), found "
                f"[{int(lab.min())}, {int(lab.max())}]"
            )
    return arrays, d


def _load_idx_dataset(
    spec: _IdxSpec,
    *,
    root: str | os.PathLike[str] | None,
    split_seed: int,
    val_fraction: float,
    val_size: int | None,
    pixel_range: tuple[float, float],
    image_size: int | tuple[int, int] | None,
    channels: int | None,
    limit: int | None,
    download: bool,
    flatten: bool,
) -> DataSplits:
    arrays, source = _load_idx_arrays(spec, root, download)
    train_x = torch.from_numpy(arrays["train_images"])
    train_y = torch.from_numpy(arrays["train_labels"].astype(np.int64))
    test_x = torch.from_numpy(arrays["test_images"])
    test_y = torch.from_numpy(arrays["test_labels"].astype(np.int64))
    n = len(train_x)
    n_val = _count(n, val_fraction, val_size, "val_size")
    perm = _permutation(n, split_seed)
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    test_idx = torch.arange(len(test_x))
    if limit is not None:
        train_idx, val_idx, test_idx = train_idx[:limit], val_idx[:limit], test_idx[:limit]
    # only the selected images are converted to float
    parts = {"train": train_idx, "val": val_idx, "test": test_idx}
    xs, ys, idx, start = [], [], {}, 0
    for key, ix in parts.items():
        src_x, src_y = (test_x, test_y) if key == "test" else (train_x, train_y)
        xs.append(src_x[ix])
        ys.append(src_y[ix])
        idx[key] = torch.arange(start, start + len(ix))
        start += len(ix)
    x = torch.cat(xs).unsqueeze(1)  # (N, 1, H, W)
    x = _scale_uint8(x, (0.0, 1.0))
    if image_size is not None:
        x = _resize_tensor(x, image_size)
    if channels == 3:  # greyscale as RGB: three equal channels
        x = x.expand(-1, 3, -1, -1).contiguous()
    lo, hi = pixel_range
    if (lo, hi) != (0.0, 1.0):
        x.mul_(hi - lo).add_(lo)
    return _tensor_splits(
        x,
        torch.cat(ys),
        idx,
        name=spec.name,
        num_classes=len(spec.class_names),
        pixel_range=pixel_range,
        class_names=spec.class_names,
        source=str(source),
        flatten=flatten,
    )


# -- image files (CelebA, folders) ----------------------------------------------------------------
def _open_image(path: Path, mode: str, size: int | tuple[int, int] | None) -> torch.Tensor:
    """An image file as a uint8 tensor (C, H, W): converted to ``mode``, resized and cropped
    like torchvision's ``Resize(size)`` + ``CenterCrop(size)`` (int) or ``Resize((h, w))``."""
    import torchvision.transforms.functional as TF
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            img = im.convert(mode)
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{str(path)!r} could not be read as an image: {exc}") from None
    if isinstance(size, int):
        img = TF.center_crop(TF.resize(img, size), [size, size])
    elif size is not None:
        img = TF.resize(img, list(size))
    arr = np.asarray(img, dtype=np.uint8)
    t = torch.from_numpy(arr.copy())
    return t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1).contiguous()


class ImageFilesDataset(Dataset):
    """Images read from disk item by item: ``(x, y)`` with ``x`` float32 in ``pixel_range``.

    Used for image collections too large to hold in memory (see
    :data:`IN_MEMORY_LIMIT_BYTES`); :meth:`load_all` reads everything into tensors.

    Args:
        files: image paths.
        labels: one int per file (``-1`` for unlabelled).
        channels: 1 (greyscale) or 3 (RGB).
        image_size: ``None`` (keep the size; all images must then share it), an int (resize the
            shorter side, then centre-crop a square) or ``(height, width)``.
        pixel_range: ``(low, high)`` that pixel values 0..255 are mapped to.
        flatten: return ``x`` flattened to one dimension.
    """

    def __init__(
        self,
        files: Sequence[str | os.PathLike[str]],
        labels: Sequence[int] | torch.Tensor,
        *,
        channels: int = 3,
        image_size: ImageSize = None,
        pixel_range: tuple[float, float] = (0.0, 1.0),
        flatten: bool = False,
    ) -> None:
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (greyscale) or 3 (RGB), got {channels!r}")
        self.files = [Path(f) for f in files]
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        if len(self.labels) != len(self.files):
            raise ValueError(f"{len(self.files)} files but {len(self.labels)} labels")
        self.channels = channels
        self.image_size = _check_image_size(image_size)
        self.pixel_range = parse_pixel_range(pixel_range)
        self.flatten = bool(flatten)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        raw = _open_image(self.files[index], "L" if self.channels == 1 else "RGB", self.image_size)
        x = _scale_uint8(raw, self.pixel_range)
        return (x.reshape(-1) if self.flatten else x), self.labels[index]

    def load_all(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every image and label as two tensors ``(N, *shape)`` and ``(N,)``."""
        mode = "L" if self.channels == 1 else "RGB"
        raw = _stack_images(self.files, mode, self.image_size)
        x = _scale_uint8(raw, self.pixel_range)
        return (x.reshape(len(x), -1) if self.flatten else x), self.labels.clone()


def _stack_images(
    files: Sequence[Path], mode: str, size: int | tuple[int, int] | None
) -> torch.Tensor:
    """uint8 (N, C, H, W) of ``files``; an error naming the first image whose size differs."""
    if not files:
        c = 1 if mode == "L" else 3
        hw = (size, size) if isinstance(size, int) else tuple(size or (0, 0))
        return torch.empty(0, c, *hw, dtype=torch.uint8)
    first = _open_image(files[0], mode, size)
    out = torch.empty(len(files), *first.shape, dtype=torch.uint8)
    out[0] = first
    for i, f in enumerate(files[1:], start=1):
        img = _open_image(f, mode, size)
        if img.shape != first.shape:
            raise ValueError(
                f"images differ in size: {str(f)!r} is {img.shape[2]}x{img.shape[1]} but "
                f"{str(files[0])!r} is {first.shape[2]}x{first.shape[1]}; pass image_size=... "
                "to resize them all"
            )
        out[i] = img
    return out


def _image_header(path: Path) -> tuple[tuple[int, int], str]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size, im.mode
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{str(path)!r} could not be read as an image: {exc}") from None


def _output_hw(size: int | tuple[int, int] | None, native: tuple[int, int]) -> tuple[int, int]:
    if size is None:
        return native[1], native[0]  # PIL gives (width, height)
    if isinstance(size, int):
        return size, size
    return size[0], size[1]


def _image_splits(
    files: dict[str, list[Path]],
    labels: dict[str, list[int]],
    *,
    name: str,
    channels: int,
    image_size: int | tuple[int, int] | None,
    native_size: tuple[int, int],
    pixel_range: tuple[float, float],
    num_classes: int | None,
    class_names: tuple[str, ...] | None,
    source: str,
    flatten: bool,
    in_memory: bool | None,
) -> DataSplits:
    h, w = _output_hw(image_size, native_size)
    total = sum(len(v) for v in files.values())
    if in_memory is None:
        in_memory = total * channels * h * w * 4 <= IN_MEMORY_LIMIT_BYTES
    mode = "L" if channels == 1 else "RGB"
    sets: dict[str, Dataset] = {}
    for key in ("train", "val", "test"):
        if in_memory:
            x = _scale_uint8(_stack_images(files[key], mode, image_size), pixel_range)
            if len(x) == 0:
                x = torch.empty(0, channels, h, w)
            if flatten:
                x = x.reshape(len(x), -1)
            sets[key] = TensorDataset(x, torch.as_tensor(labels[key], dtype=torch.long))
        else:
            sets[key] = ImageFilesDataset(
                files[key],
                labels[key],
                channels=channels,
                image_size=image_size,
                pixel_range=pixel_range,
                flatten=flatten,
            )
    shape: tuple[int, ...] = (channels * h * w,) if flatten else (channels, h, w)
    logger.info(
        "%s: %s images of shape %s (%s)",
        name,
        total,
        shape,
        "in memory" if in_memory else "read from disk per item",
    )
    return DataSplits(
        train=sets["train"],
        val=sets["val"],
        test=sets["test"],
        name=name,
        input_shape=shape,
        num_classes=num_classes,
        pixel_range=pixel_range,
        class_names=class_names,
        source=source,
    )


def _list_images(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )


def load_image_folder(
    path: str | os.PathLike[str],
    *,
    image_size: ImageSize = None,
    channels: int | None = None,
    pixel_range: PixelRangeLike = "[0,1]",
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    split_seed: int = 0,
    limit: int | None = None,
    flatten: bool = False,
    in_memory: bool | None = None,
) -> DataSplits:
    """A folder of images as train / validation / test splits.

    Two layouts are understood. **Flat**: the images are directly in ``path``; they are
    unlabelled (label ``-1``, ``num_classes=None``). **One sub-folder per class** (torchvision's
    ``ImageFolder``): ``path`` has no images itself and each sub-folder's images (searched
    recursively) get the sub-folder's index in sorted order as label; ``class_names`` are the
    sub-folder names. Files are read with Pillow (extensions: png, jpg, jpeg, bmp, gif, webp,
    tif, tiff, ppm).

    The files are shuffled with a permutation seeded by ``split_seed`` and cut into test
    (``test_fraction``), validation (``val_fraction``) and training parts; with at least three
    images each non-zero fraction gets at least one.

    Args:
        path: the folder.
        image_size: ``None`` keeps the images' size (they must all share it); an int resizes
            the shorter side and centre-crops a square (torchvision's ``Resize`` +
            ``CenterCrop``); ``(height, width)`` resizes to exactly that.
        channels: 1 (greyscale) or 3 (RGB); ``None``: 1 if every image is greyscale, else 3.
        pixel_range: range that 0..255 is mapped to: ``"[0,1]"``, ``"[-1,1]"`` or a pair.
        val_fraction: fraction of the images for validation.
        test_fraction: fraction of the images for testing.
        split_seed: seed of the shuffle.
        limit: keep at most this many images per split.
        flatten: flatten each image to one dimension.
        in_memory: hold the splits as tensors; ``None`` decides by size
            (:data:`IN_MEMORY_LIMIT_BYTES`), ``False`` reads images from disk per item.

    Raises:
        ValueError: when the folder has no images, or images differ in size without
            ``image_size``.
        FileNotFoundError: when ``path`` is not a folder.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as d:
        ...     for i in range(6):
        ...         Image.new("L", (10, 8), color=40 * i).save(f"{d}/{i}.png")
        ...     s = load_image_folder(d, val_fraction=0.2, test_fraction=0.2)
        >>> s.sizes(), s.input_shape, s.num_classes
        ({'train': 4, 'val': 1, 'test': 1}, (1, 8, 10), None)
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {str(folder)!r} does not exist or is not a folder")
    image_size = _check_image_size(image_size)
    val_fraction = _check_fraction(val_fraction, "val_fraction")
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1, got {val_fraction} + {test_fraction}"
        )
    limit = _check_limit(limit)
    split_seed = _check_seed(split_seed)
    channels = _check_channels(channels)
    prange = _resolve_pixel_range(pixel_range, (0.0, 1.0))

    files = _list_images(folder)
    class_names: tuple[str, ...] | None = None
    if files:
        labels = [-1] * len(files)
    else:
        subdirs = sorted(p for p in folder.iterdir() if p.is_dir())
        per_class = [
            (d.name, sorted(f for f in d.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS))
            for d in subdirs
        ]
        per_class = [(n, fs) for n, fs in per_class if fs]
        class_names = tuple(n for n, _ in per_class)
        files = [f for _, fs in per_class for f in fs]
        labels = [i for i, (_, fs) in enumerate(per_class) for _ in fs]
    if not files:
        raise ValueError(
            f"no images in {str(folder)!r} or its sub-folders (extensions: "
            f"{', '.join(IMAGE_EXTENSIONS)})"
        )

    n = len(files)
    counts = {}
    for key, frac in (("test", test_fraction), ("val", val_fraction)):
        c = round(n * frac)
        counts[key] = max(c, 1) if frac > 0 and n >= 3 else c
    if counts["test"] + counts["val"] >= n:
        raise ValueError(
            f"{str(folder)!r} has {n} images: too few for a training split with "
            f"val_fraction={val_fraction} and test_fraction={test_fraction}"
        )
    perm = _permutation(n, split_seed).tolist()
    order = {
        "test": perm[: counts["test"]],
        "val": perm[counts["test"] : counts["test"] + counts["val"]],
        "train": perm[counts["test"] + counts["val"] :],
    }
    if limit is not None:
        order = {k: v[:limit] for k, v in order.items()}
    split_files = {k: [files[i] for i in v] for k, v in order.items()}
    split_labels = {k: [labels[i] for i in v] for k, v in order.items()}

    used = [f for v in split_files.values() for f in v]
    if channels is None or image_size is None:
        headers = [_image_header(f) for f in used]
        if channels is None:
            channels = 1 if all(m in _GRAY_MODES for _, m in headers) else 3
        if image_size is None:
            sizes = {s for s, _ in headers}
            if len(sizes) > 1:
                shown = ", ".join(f"{w}x{h}" for w, h in sorted(sizes)[:4])
                raise ValueError(
                    f"images in {str(folder)!r} differ in size ({shown}); pass image_size=... "
                    "to resize them all"
                )
        native = headers[0][0]
    else:
        native = (0, 0)
    return _image_splits(
        split_files,
        split_labels,
        name=f"folder:{folder}",
        channels=channels,
        image_size=image_size,
        native_size=native,
        pixel_range=prange,
        num_classes=len(class_names) if class_names is not None else None,
        class_names=class_names,
        source=str(folder),
        flatten=flatten,
        in_memory=in_memory,
    )


def _celeba_dir(root: str | os.PathLike[str] | None) -> tuple[Path | None, list[Path]]:
    looked = search_dirs("celeba", root)
    for d in looked:
        if (d / "img_align_celeba").is_dir() and (d / CELEBA_PARTITION_FILE).is_file():
            return d, looked
    return None, looked


def _read_partition(path: Path) -> list[tuple[str, int]]:
    rows: list[tuple[str, int]] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise ValueError(
                    f"{str(path)!r} line {lineno}: expected '<image file> <0|1|2>' "
                    f"(0 train, 1 valid, 2 test), got {line.strip()!r}"
                )
            rows.append((parts[0], int(parts[1])))
    return rows


def load_celeba(
    root: str | os.PathLike[str] | None = None,
    *,
    image_size: ImageSize = 64,
    channels: int = 3,
    pixel_range: PixelRangeLike = "[-1,1]",
    limit: int | None = None,
    download: bool | None = None,
    flatten: bool = False,
    in_memory: bool | None = None,
) -> DataSplits:
    """CelebA's aligned faces, split by its official partition file, for the face VAE.

    Reads torchvision's layout ``<dir>/celeba/img_align_celeba/*.jpg`` plus
    ``<dir>/celeba/list_eval_partition.txt`` (``<file> <0|1|2>`` per line: train, valid,
    test), with ``<dir>`` found as in the module docstring (``root`` may also be the
    ``celeba`` folder itself). Unlike torchvision's ``CelebA`` class it needs neither the
    attribute, identity, bounding-box and landmark files nor their MD5 sums. Images are resized
    (shorter side to ``image_size``) and centre-cropped to a square, as torchvision's
    ``Resize(64)`` + ``CenterCrop(64)``, and unlabelled (label ``-1``). The full dataset
    (202,599 images) is read from disk item by item unless ``limit`` makes it small.

    Args:
        root: a folder holding ``celeba/`` (or ``celeba/`` itself).
        image_size: output size (int: square) or ``(height, width)``; default 64.
        channels: 3 (RGB, the default) or 1 (converted to greyscale).
        pixel_range: default ``"[-1,1]"``, the range of the tanh face VAE.
        limit: keep at most this many images per split (in file order).
        download: let torchvision download it if not found (needs ``gdown``; Google Drive
            often refuses). ``None``: only if ``AUTOENCODERS_DOWNLOAD=1``.
        flatten: flatten each image.
        in_memory: see :func:`load_image_folder`.
    """
    limit = _check_limit(limit)
    image_size = _check_image_size(image_size)
    channels = _check_channels(channels, allow_none=False)
    prange = _resolve_pixel_range(pixel_range, (-1.0, 1.0))
    found, looked = _celeba_dir(root)
    if found is None:
        if not _download_allowed(download):
            raise _celeba_not_found(looked)
        target = _download_target(root)
        _torchvision_download("CelebA", target, functools.partial(_celeba_not_found, looked))
        found, _ = _celeba_dir(target)
        if found is None:
            raise _celeba_not_found(
                looked,
                download_error=f"the download left no img_align_celeba/ with "
                f"{CELEBA_PARTITION_FILE} in {target / 'celeba'}",
                download_target=target,
            )
    rows = _read_partition(found / CELEBA_PARTITION_FILE)
    images = found / "img_align_celeba"
    split_files: dict[str, list[Path]] = {"train": [], "val": [], "test": []}
    for fname, part in rows:
        split_files[("train", "val", "test")[part]].append(images / fname)
    if limit is not None:
        split_files = {k: v[:limit] for k, v in split_files.items()}
    for fs in split_files.values():
        missing = [f for f in fs if not f.is_file()]
        if missing:
            raise ValueError(
                f"{len(missing)} images listed in {CELEBA_PARTITION_FILE} are missing from "
                f"{str(images)!r}, e.g. {missing[0].name!r}"
            )
    if image_size is None:
        first = next((f for fs in split_files.values() for f in fs), None)
        native = _image_header(first)[0] if first is not None else (0, 0)
    else:
        native = (0, 0)
    logger.info("reading celeba from %s", found)
    return _image_splits(
        split_files,
        {k: [-1] * len(v) for k, v in split_files.items()},
        name="celeba",
        channels=channels,
        image_size=image_size,
        native_size=native,
        pixel_range=prange,
        num_classes=None,
        class_names=None,
        source=str(found),
        flatten=flatten,
        in_memory=in_memory,
    )


# -- tensors and arrays ---------------------------------------------------------------------------
def from_tensors(
    x: Any,
    y: Any = None,
    *,
    test_x: Any = None,
    test_y: Any = None,
    val_fraction: float = 0.1,
    val_size: int | None = None,
    test_fraction: float = 0.1,
    split_seed: int = 0,
    pixel_range: PixelRangeLike = "auto",
    channels_last: bool | None = None,
    name: str = "tensors",
    class_names: Sequence[str] | None = None,
    limit: int | None = None,
    flatten: bool = False,
) -> DataSplits:
    """Splits from tensors or NumPy arrays already in memory (e.g. Keras' ``mnist.load_data()``).

    ``uint8`` data (0..255) is scaled to ``pixel_range`` (``"auto"``: [0, 1]); floating-point
    data is passed through unchanged and ``pixel_range`` only records its range (``"auto"``:
    [-1, 1] if it has negative values, else [0, 1]). Images ``(N, H, W)`` get a channel axis;
    ``(N, H, W, C)`` arrays with ``C`` in (1, 3, 4) are moved to channels-first when
    ``channels_last`` is ``None`` and the second axis does not look like channels.

    The validation split is carved from ``x`` with a permutation seeded by ``split_seed``; so is
    the test split (``test_fraction``) unless ``test_x`` is given.

    Args:
        x: images or vectors, ``(N, ...)``.
        y: integer labels ``(N,)``, or ``None`` (labels ``-1``).
        test_x: a separate test set (default: carve one from ``x``).
        test_y: its labels.
        val_fraction: fraction of ``x`` for validation (``val_size`` overrides it).
        val_size: number of items of ``x`` for validation.
        test_fraction: fraction of ``x`` for testing when ``test_x`` is not given.
        split_seed: seed of the permutation.
        pixel_range: see above.
        channels_last: force (``True``) or prevent (``False``) the move of a last channel axis.
        name: recorded in :attr:`DataSplits.name`.
        class_names: names of the labels.
        limit: keep at most this many items per split.
        flatten: flatten each item.

    Example:
        >>> import numpy as np
        >>> x = np.zeros((20, 8, 8, 3), dtype=np.uint8); x[:, 0, 0, 0] = 255
        >>> s = from_tensors(x, pixel_range="[-1,1]", test_fraction=0.0, val_size=4)
        >>> s.input_shape, s.sizes(), s.tensors()[0][0, 0, 0, :2].tolist(), s.num_classes
        ((3, 8, 8), {'train': 16, 'val': 4, 'test': 0}, [1.0, -1.0], None)
    """
    val_fraction = _check_fraction(val_fraction, "val_fraction")
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    split_seed = _check_seed(split_seed)
    limit = _check_limit(limit)
    xt = _as_image_tensor(x, channels_last, "x")
    yt = _as_labels(y, len(xt), "y")
    prange = _data_range(xt, pixel_range)
    xt = _scale_uint8(xt, prange) if xt.dtype == torch.uint8 else xt.float()
    n = len(xt)
    perm = _permutation(n, split_seed)
    if test_x is None:
        if test_y is not None:
            raise ValueError("test_y given without test_x")
        n_test = round(n * test_fraction)
        test_idx, perm = perm[:n_test], perm[n_test:]
        tx, ty = xt[test_idx], yt[test_idx]
    else:
        tx = _as_image_tensor(test_x, channels_last, "test_x")
        ty = _as_labels(test_y, len(tx), "test_y")
        tx = _scale_uint8(tx, prange) if tx.dtype == torch.uint8 else tx.float()
        if tx.shape[1:] != xt.shape[1:]:
            raise ValueError(
                f"test_x items have shape {tuple(tx.shape[1:])} but x items {tuple(xt.shape[1:])}"
            )
    n_val = _count(n, val_fraction, val_size, "val_size")
    if n_val >= len(perm):
        raise ValueError(
            f"{n} items are too few for a training split with {n_val} validation and "
            f"{n - len(perm)} test items"
        )
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    parts = {"train": (xt[train_idx], yt[train_idx]), "val": (xt[val_idx], yt[val_idx])}
    parts["test"] = (tx, ty)
    if limit is not None:
        parts = {k: (a[:limit], b[:limit]) for k, (a, b) in parts.items()}
    all_y = torch.cat([yt, ty])
    labelled = bool(len(all_y)) and bool((all_y >= 0).all())
    num_classes = int(all_y.max()) + 1 if labelled else None
    xs = torch.cat([p[0] for p in parts.values()])
    ys = torch.cat([p[1] for p in parts.values()])
    idx, start = {}, 0
    for key, (a, _) in parts.items():
        idx[key] = torch.arange(start, start + len(a))
        start += len(a)
    return _tensor_splits(
        xs,
        ys,
        idx,
        name=name,
        num_classes=num_classes,
        pixel_range=prange,
        class_names=tuple(class_names) if class_names is not None else None,
        source=None,
        flatten=flatten,
    )


def _as_image_tensor(x: Any, channels_last: bool | None, what: str) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        if x.dtype == object:
            raise TypeError(f"{what} is an object array; give a numeric array")
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor or numpy.ndarray, got {type(x).__name__}")
    if x.ndim < 2:
        raise ValueError(
            f"{what} must have shape (N, ...) with at least 2 dims, got {tuple(x.shape)}"
        )
    if not (x.dtype == torch.uint8 or x.is_floating_point()):
        raise TypeError(
            f"{what} has dtype {x.dtype}; accepted: uint8 (0..255, scaled) or floating point "
            "(passed through)"
        )
    if x.ndim == 3:
        return x.unsqueeze(1)
    if x.ndim == 4:
        move = channels_last
        if move is None:
            move = x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4)
        if move:
            return x.permute(0, 3, 1, 2).contiguous()
    return x


def _as_labels(y: Any, n: int, what: str) -> torch.Tensor:
    if y is None:
        return torch.full((n,), -1, dtype=torch.long)
    if isinstance(y, np.ndarray):
        y = torch.from_numpy(np.ascontiguousarray(y))
    y = torch.as_tensor(y)
    if y.is_floating_point() or y.dtype == torch.bool:
        raise TypeError(f"{what} must hold integer labels, got dtype {y.dtype}")
    y = y.reshape(-1).long()
    if len(y) != n:
        raise ValueError(f"{what} has {len(y)} labels for {n} items")
    return y


def _data_range(x: torch.Tensor, pixel_range: PixelRangeLike) -> tuple[float, float]:
    if isinstance(pixel_range, str) and pixel_range.strip().lower() == "auto":
        if x.dtype == torch.uint8 or len(x) == 0:
            return (0.0, 1.0)
        return (-1.0, 1.0) if float(x.min()) < 0 else (0.0, 1.0)
    return parse_pixel_range(pixel_range)


# -- the entry point ------------------------------------------------------------------------------
def _canonical_name(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string, got {type(name).__name__}")
    key = name.strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    options = sorted(set(_ALIASES))
    close = difflib.get_close_matches(key, options, n=1, cutoff=0.6)
    hint = f"; did you mean {_ALIASES[close[0]]!r}?" if close else ""
    raise ValueError(
        f"unknown dataset {name!r}{hint} Accepted: {', '.join(DATASET_NAMES)} "
        f"(aliases: {', '.join(k for k in options if k not in DATASET_NAMES)})."
    )


def load_dataset(
    name: str,
    *,
    root: str | os.PathLike[str] | None = None,
    split_seed: int = 0,
    val_fraction: float = 0.1,
    val_size: int | None = None,
    test_fraction: float = 0.1,
    pixel_range: PixelRangeLike = "auto",
    image_size: ImageSize = None,
    channels: int | None = None,
    limit: int | None = None,
    download: bool | None = None,
    flatten: bool = False,
    in_memory: bool | None = None,
) -> DataSplits:
    """Load a dataset by name as train / validation / test splits.

    Args:
        name: ``"fashion-mnist"`` (``fashion_mnist``, ``fmnist``), ``"mnist"``, ``"celeba"`` or
            ``"folder:<path>"``.
        root: a folder to look in first (see the module docstring for the search order).
        split_seed: seed of the permutation that carves the validation split from training.
        val_fraction: fraction of the training data for validation (MNIST-style datasets and
            folders; CelebA uses its official validation partition).
        val_size: number of validation items instead of ``val_fraction``.
        test_fraction: for folders only (the other datasets have a test split).
        pixel_range: ``"auto"`` ([0, 1]; [-1, 1] for CelebA), ``"[0,1]"``, ``"[-1,1]"`` or a
            pair; use :func:`pixel_range_for` to match a model.
        image_size: resize: an int (shorter side, then centre-crop a square) or
            ``(height, width)``; ``None`` keeps 28x28 for MNIST-style data and 64 for CelebA.
        channels: 1 (greyscale) or 3 (RGB); ``None`` keeps the data's own (1 for MNIST-style
            data, 3 for CelebA, see :func:`load_image_folder` for folders). Colour images are
            converted to greyscale, greyscale ones to RGB (three equal channels).
        limit: keep at most this many items per split (quick runs and tests).
        download: let torchvision download the data when no local copy is found; ``None``:
            only if the environment variable ``AUTOENCODERS_DOWNLOAD`` is ``1``.
        flatten: flatten each item to one dimension.
        in_memory: for image files (CelebA, folders): see :func:`load_image_folder`.

    Returns:
        A :class:`DataSplits`.

    Raises:
        ValueError: for an unknown name (with a close match) or a bad argument.
        DatasetNotFoundError: when no local copy exists and downloading is not allowed.

    Example:
        >>> load_dataset("fashon-mnist")
        Traceback (most recent call last):
          ...
        ValueError: unknown dataset 'fashon-mnist'; did you mean 'fashion-mnist'? Accepted: ...
    """
    if isinstance(name, str):
        stripped = name.strip()
        for prefix in _FOLDER_PREFIXES:
            if stripped.lower().startswith(prefix):
                return load_image_folder(
                    stripped[len(prefix) :],
                    image_size=image_size,
                    channels=channels,
                    pixel_range=_resolve_pixel_range(pixel_range, (0.0, 1.0)),
                    val_fraction=val_fraction,
                    test_fraction=test_fraction,
                    split_seed=split_seed,
                    limit=limit,
                    flatten=flatten,
                    in_memory=in_memory,
                )
    key = _canonical_name(name)
    split_seed = _check_seed(split_seed)
    val_fraction = _check_fraction(val_fraction, "val_fraction")
    limit = _check_limit(limit)
    image_size = _check_image_size(image_size)
    channels = _check_channels(channels)
    allow = _download_allowed(download)
    if key == "celeba":
        return load_celeba(
            root,
            image_size=64 if image_size is None else image_size,
            channels=3 if channels is None else channels,
            pixel_range=_resolve_pixel_range(pixel_range, (-1.0, 1.0)),
            limit=limit,
            download=allow,
            flatten=flatten,
            in_memory=in_memory,
        )
    return _load_idx_dataset(
        _IDX_SPECS[key],
        root=root,
        split_seed=split_seed,
        val_fraction=val_fraction,
        val_size=val_size,
        pixel_range=_resolve_pixel_range(pixel_range, (0.0, 1.0)),
        image_size=image_size,
        channels=channels,
        limit=limit,
        download=allow,
        flatten=flatten,
    )
