"""A folder of images as a dataset, flat (unlabelled) or one sub-folder per class."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

from autoencoders._utils import user_stacklevel
from autoencoders.data._checks import (
    ImageSize,
    PixelRangeLike,
    check_channels,
    check_fraction,
    check_image_size,
    check_limit,
    check_seed,
)
from autoencoders.data.cache import FileSnapshot, cached_headers
from autoencoders.data.images import (
    GRAY_MODES,
    IMAGE_EXTENSIONS,
    image_header,
    image_splits,
    path_order,
)
from autoencoders.data.pixels import resolve_pixel_range
from autoencoders.data.splits import DataSplits, seeded_permutation
from autoencoders.errors import InvalidTypeError, InvalidValueError
from autoencoders.registry import datasets

__all__ = ["list_images", "load_image_folder"]


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files directly in ``folder`` (by :data:`IMAGE_EXTENSIONS`), sorted.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     for name in ("b.PNG", "a.jpg", "notes.txt"):
        ...         _ = Path(d, name).write_bytes(b"")
        ...     [p.name for p in list_images(d)]
        ['a.jpg', 'b.PNG']
    """
    return list(map(Path, _image_paths(folder)))


def _image_paths(folder: str | os.PathLike[str]) -> list[str]:
    """:func:`list_images` as path strings: a CelebA-sized folder's 202,599 ``Path`` objects
    cost the loader about a second to make and another to hash."""
    with os.scandir(folder) as entries:  # scandir knows file from folder without a stat
        names = [
            e.name
            for e in entries
            if e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS
        ]
    base = os.fspath(folder)
    if base == os.curdir:  # as ``Path(".") / name``: "a.png", not "./a.png" (another key)
        return sorted(names, key=path_order)
    return sorted((os.path.join(base, name) for name in names), key=path_order)


def _walk_images(folder: str) -> Iterator[str]:
    """Every image file under ``folder``, at any depth, as a path string (unsorted).

    ``os.scandir`` tells files from folders without a stat per entry, several times faster
    than ``Path.rglob`` on a CelebA-sized folder; like ``rglob``, it does not follow links
    to folders.
    """
    with os.scandir(folder) as entries:
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                yield from _walk_images(e.path)
            elif os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS and e.is_file():
                yield e.path


def _labelled_files(folder: Path) -> tuple[list[str], list[int], tuple[str, ...] | None]:
    """Files (path strings, in :func:`path_order`), labels and class names: flat (labels -1)
    or one sub-folder per class."""
    files = _image_paths(folder)
    with os.scandir(folder) as entries:  # no stat per file: a second load stats each once
        subdirs = sorted(Path(e.path) for e in entries if e.is_dir())
    if files:
        ignored = [d.name for d in subdirs if next(_walk_images(str(d)), None) is not None]
        if ignored:
            warnings.warn(
                f"{str(folder)!r} has {len(files)} images of its own, so it is read as one "
                f"flat, unlabelled set; the images in its sub-folders {ignored[:5]}"
                f"{' ...' if len(ignored) > 5 else ''} are not read (move the top-level images "
                "into a class folder to read it as one folder per class)",
                stacklevel=user_stacklevel(),
            )
        return files, [-1] * len(files), None
    per_class = [(d.name, sorted(_walk_images(str(d)), key=path_order)) for d in subdirs]
    empty = [n for n, fs in per_class if not fs]
    if empty and len(empty) < len(per_class):
        warnings.warn(
            f"{str(folder)!r}: the class folders {empty[:5]}{' ...' if len(empty) > 5 else ''} "
            "hold no images and get no label; the labels number the other folders in "
            "sorted order",
            stacklevel=user_stacklevel(),
        )
    per_class = [(n, fs) for n, fs in per_class if fs]
    files = [f for _, fs in per_class for f in fs]
    labels = [i for i, (_, fs) in enumerate(per_class) for _ in fs]
    return files, labels, tuple(n for n, _ in per_class)


@datasets.register("folder", aliases=("image_folder",))
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
    cache: bool = True,
) -> DataSplits:
    """A folder of images as train / validation / test splits.

    Two layouts are understood. **Flat**: the images are directly in ``path``; they are
    unlabelled (label ``-1``, ``num_classes=None``). **One sub-folder per class** (torchvision's
    ``ImageFolder``): ``path`` has no images itself and each sub-folder's images (searched
    recursively) get the sub-folder's index in sorted order as label; ``class_names`` are the
    sub-folder names. A folder with images of its own is read flat even if it also has
    sub-folders of images (a warning names them), and a class folder without images gets no
    label (a warning names it). Files are read with Pillow (extensions: png, jpg, jpeg, bmp, gif, webp,
    tif, tiff, ppm), decoded once into the image cache and held as uint8; each split's items
    are ``(x, y)`` with ``x`` float32 in ``pixel_range``, and the Trainer scales whole
    batches of the uint8 images on the training device.

    The files are shuffled with a permutation seeded by ``split_seed`` and cut into test
    (``test_fraction``), validation (``val_fraction``) and training parts; with at least three
    images each non-zero fraction gets at least one.

    Registered as the dataset ``"folder"``: ``load_dataset("folder:<path>")`` and
    ``load_dataset("folder", path=...)`` call it.

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
        in_memory: hold the splits as uint8 images
            (:class:`~autoencoders.data.UInt8ImageDataset`); ``False`` reads images from disk
            per item (:class:`~autoencoders.data.ImageFilesDataset`); ``None``: uint8 when
            ``cache`` is on, else decide by size
            (:data:`~autoencoders.data.IN_MEMORY_LIMIT_BYTES`).
        cache: decode the images once, in parallel, into the image cache and memory-map it
            on later runs (:mod:`autoencoders.data.cache`; rebuilt when a file is added,
            removed or touched). ``False`` decodes them in this process on every load.

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
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidTypeError(f"path must be a folder (str or os.PathLike), got {path!r}")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {str(folder)!r} does not exist or is not a folder")
    image_size = check_image_size(image_size)
    val_fraction = check_fraction(val_fraction, "val_fraction")
    test_fraction = check_fraction(test_fraction, "test_fraction")
    if val_fraction + test_fraction >= 1:
        raise InvalidValueError(
            f"val_fraction + test_fraction must be < 1, got {val_fraction} + {test_fraction}"
        )
    limit = check_limit(limit)
    split_seed = check_seed(split_seed)
    channels = check_channels(channels)
    prange = resolve_pixel_range(pixel_range, (0.0, 1.0))

    files, labels, class_names = _labelled_files(folder)
    if not files:
        raise InvalidValueError(
            f"no images in {str(folder)!r} or its sub-folders (extensions: "
            f"{', '.join(IMAGE_EXTENSIONS)})"
        )
    n = len(files)
    counts = {}
    for key, frac in (("test", test_fraction), ("val", val_fraction)):
        c = round(n * frac)
        counts[key] = max(c, 1) if frac > 0 and n >= 3 else c
    if counts["test"] + counts["val"] >= n:
        raise InvalidValueError(
            f"{str(folder)!r} has {n} images: too few for a training split with "
            f"val_fraction={val_fraction} and test_fraction={test_fraction}"
        )
    perm = seeded_permutation(n, split_seed).tolist()
    n_test, n_val = counts["test"], counts["val"]
    order = {
        "test": perm[:n_test],
        "val": perm[n_test : n_test + n_val],
        "train": perm[n_test + n_val :],
    }
    if limit is not None:
        order = {k: v[:limit] for k, v in order.items()}
    split_files = {k: [files[i] for i in v] for k, v in order.items()}
    # what the cache holds: every file of the folder, or (with a limit) those the split keeps
    listing = [] if limit is None else [limit, val_fraction, test_fraction, split_seed]
    scope = json.dumps(["folder", str(folder.resolve()), *listing])
    split_labels = {k: [labels[i] for i in v] for k, v in order.items()}

    # every file the splits hold, in path order, so that another split of the same files
    # finds the same caches; without a limit that is the listing itself, already in that order
    if limit is None:
        every = files
    else:
        every = sorted({f for v in split_files.values() for f in v}, key=path_order)
    need_headers = channels is None or image_size is None
    # one look at the files (a stat each) keys both the header and the image cache
    snapshot = (
        FileSnapshot.take(every) if cache and (need_headers or in_memory is not False) else None
    )
    native = (0, 0)
    if need_headers:
        headers = (
            cached_headers(snapshot or every, image_header, scope=scope)
            if cache
            else list(map(image_header, every))
        )
        if channels is None:
            channels = 1 if all(m in GRAY_MODES for _, m in headers) else 3
        if image_size is None:
            sizes = {s for s, _ in headers}
            if len(sizes) > 1:
                shown = ", ".join(f"{w}x{h}" for w, h in sorted(sizes)[:4])
                raise InvalidValueError(
                    f"images in {str(folder)!r} differ in size ({shown}); pass image_size=... "
                    "to resize them all"
                )
        native = headers[0][0]
    return image_splits(
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
        cache=cache,
        cache_scope=scope,
        listing=snapshot,
    )
