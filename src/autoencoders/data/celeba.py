"""CelebA's aligned faces, split by its official partition file, registered as ``"celeba"``."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from autoencoders.data._checks import (
    ImageSize,
    PixelRangeLike,
    check_channels,
    check_image_size,
    check_limit,
    check_root,
)
from autoencoders.data.errors import DatasetNotFoundError
from autoencoders.data.images import image_header, image_splits
from autoencoders.data.locate import (
    DataLayout,
    download_allowed,
    download_target,
    torchvision_download,
    with_layout,
)
from autoencoders.data.pixels import resolve_pixel_range
from autoencoders.data.splits import DataSplits
from autoencoders.errors import InvalidValueError
from autoencoders.registry import datasets

__all__ = ["CELEBA_LAYOUT", "CELEBA_PARTITION_FILE", "find_celeba", "load_celeba", "read_partition"]

logger = logging.getLogger(__name__)

#: Name of CelebA's official split file, one ``<image> <0 train | 1 valid | 2 test>`` per line.
CELEBA_PARTITION_FILE = "list_eval_partition.txt"
#: Where CelebA may be: ``<dir>/celeba/`` (torchvision's layout too); no Debian package.
CELEBA_LAYOUT = DataLayout("celeba", debian=False)


def _not_found(looked: list[Path], **kw: Any) -> DatasetNotFoundError:
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


def find_celeba(root: str | os.PathLike[str] | None = None) -> tuple[Path | None, list[Path]]:
    """The first folder holding ``img_align_celeba/`` and the partition file, and all looked in.

    Example:
        >>> found, looked = find_celeba("/nonexistent")
        >>> [p.as_posix() for p in looked[:2]]
        ['/nonexistent', '/nonexistent/celeba']
    """
    looked = CELEBA_LAYOUT.search_dirs(root)
    for d in looked:
        if (d / "img_align_celeba").is_dir() and (d / CELEBA_PARTITION_FILE).is_file():
            return d, looked
    return None, looked


def read_partition(path: str | os.PathLike[str]) -> list[tuple[str, int]]:
    """``(image file, 0 | 1 | 2)`` per line of a CelebA partition file (0 train, 1 valid, 2 test).

    Raises:
        ValueError: naming the file and line of a malformed line.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = Path(d, "p.txt").write_text("000001.jpg 0\\n\\n000002.jpg 2\\n")
        ...     read_partition(Path(d, "p.txt"))
        [('000001.jpg', 0), ('000002.jpg', 2)]
    """
    path = Path(path)
    rows: list[tuple[str, int]] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise InvalidValueError(
                    f"{str(path)!r} line {lineno}: expected '<image file> <0|1|2>' "
                    f"(0 train, 1 valid, 2 test), got {line.strip()!r}"
                )
            rows.append((parts[0], int(parts[1])))
    return rows


@datasets.register("celeba", aliases=("celeb_a",))
@with_layout(CELEBA_LAYOUT)
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
    cache: bool = True,
) -> DataSplits:
    """CelebA's aligned faces, split by its official partition file, for the face VAE.

    Reads torchvision's layout ``<dir>/celeba/img_align_celeba/*.jpg`` plus
    ``<dir>/celeba/list_eval_partition.txt`` (``<file> <0|1|2>`` per line: train, valid,
    test), with ``<dir>`` found as :func:`~autoencoders.data.search_dirs` lists (``root`` may
    also be the ``celeba`` folder itself). Unlike torchvision's ``CelebA`` class it needs
    neither the attribute, identity, bounding-box and landmark files nor their MD5 sums.
    Images are resized (shorter side to ``image_size``) and centre-cropped to a square, as
    torchvision's ``Resize(64)`` + ``CenterCrop(64)``, and unlabelled (label ``-1``). They are
    decoded once, in parallel, into the image cache (:mod:`autoencoders.data.cache`) and
    memory-mapped as uint8 from then on: the full dataset (202,599 images) is 2.5 GB there,
    shared by the three splits.

    Args:
        root: a folder holding ``celeba/`` (or ``celeba/`` itself).
        image_size: output size (int: square) or ``(height, width)``; default 64.
        channels: 3 (RGB, the default) or 1 (converted to greyscale).
        pixel_range: default ``"[-1,1]"``, the range of the tanh face VAE.
        limit: keep at most this many images per split (in file order).
        download: let torchvision download it if not found (needs ``gdown``; Google Drive
            often refuses). ``None``: only if ``AUTOENCODERS_DOWNLOAD=1``.
        flatten: flatten each image.
        in_memory: see :func:`~autoencoders.data.load_image_folder`.
        cache: see :func:`~autoencoders.data.load_image_folder`.

    Raises:
        DatasetNotFoundError: when no local copy exists and downloading is not allowed.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as d:
        ...     Path(d, "celeba", "img_align_celeba").mkdir(parents=True)
        ...     for i in range(3):
        ...         Image.new("RGB", (36, 44)).save(f"{d}/celeba/img_align_celeba/{i}.jpg")
        ...     rows = "0.jpg 0\\n1.jpg 1\\n2.jpg 2\\n"
        ...     _ = Path(d, "celeba", CELEBA_PARTITION_FILE).write_text(rows)
        ...     s = load_celeba(d, image_size=16)
        >>> s.sizes(), s.input_shape, s.pixel_range
        ({'train': 1, 'val': 1, 'test': 1}, (3, 16, 16), (-1.0, 1.0))
    """
    root = check_root(root)
    limit = check_limit(limit)
    image_size = check_image_size(image_size)
    channels = int(check_channels(channels, allow_none=False))  # type: ignore[arg-type]
    prange = resolve_pixel_range(pixel_range, (-1.0, 1.0))
    found, looked = find_celeba(root)
    if found is None:
        if not download_allowed(download):
            raise _not_found(looked)
        target = download_target(root)
        torchvision_download("CelebA", target, lambda **kw: _not_found(looked, **kw))
        found, _ = find_celeba(target)
        if found is None:
            raise _not_found(
                looked,
                download_error=f"the download left no img_align_celeba/ with "
                f"{CELEBA_PARTITION_FILE} in {target / 'celeba'}",
                download_target=target,
            )
    rows = read_partition(found / CELEBA_PARTITION_FILE)
    images = found / "img_align_celeba"
    split_files: dict[str, list[Path]] = {"train": [], "val": [], "test": []}
    for fname, part in rows:
        split_files[DataSplits.SPLITS[part]].append(images / fname)
    if limit is not None:
        split_files = {k: v[:limit] for k, v in split_files.items()}
    for fs in split_files.values():
        missing = [f for f in fs if not f.is_file()]
        if missing:
            raise InvalidValueError(
                f"{len(missing)} images listed in {CELEBA_PARTITION_FILE} are missing from "
                f"{str(images)!r}, e.g. {missing[0].name!r}"
            )
    native = (0, 0)
    if image_size is None:
        first = next((f for fs in split_files.values() for f in fs), None)
        native = image_header(first)[0] if first is not None else (0, 0)
    logger.info("reading celeba from %s", found)
    return image_splits(
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
        cache=cache,
        cache_scope=json.dumps(["celeba", str(found.resolve()), limit]),
    )
