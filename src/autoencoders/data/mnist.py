"""MNIST-style datasets (four IDX files): Fashion-MNIST and MNIST, registered by name.

Both are :class:`IdxDataset`\\ s: callables that find the files (see
:mod:`autoencoders.data.locate`), read them with :func:`~autoencoders.data.read_idx`, carve a
seeded validation split from the training images and keep the dataset's own test split.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autoencoders.data._checks import (
    ImageSize,
    PixelRangeLike,
    check_channels,
    check_fraction,
    check_image_size,
    check_limit,
    check_root,
    check_seed,
    split_count,
)
from autoencoders.data.errors import DatasetNotFoundError
from autoencoders.data.idx import IDX_FILES, find_idx_files, read_idx
from autoencoders.data.images import resize_batch
from autoencoders.data.locate import (
    DataLayout,
    download_allowed,
    download_target,
    torchvision_download,
)
from autoencoders.data.pixels import resolve_pixel_range, scale_uint8
from autoencoders.data.splits import DataSplits, seeded_permutation, tensor_splits
from autoencoders.errors import InvalidValueError
from autoencoders.registry import datasets

__all__ = [
    "FASHION_MNIST_CLASSES",
    "IdxDataset",
    "load_fashion_mnist",
    "load_mnist",
]

logger = logging.getLogger(__name__)

#: Fashion-MNIST's class names, for labels 0 .. 9.
FASHION_MNIST_CLASSES = (
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


@dataclass(frozen=True)
class IdxDataset:
    """An MNIST-style dataset: 28x28 greyscale images and labels in four IDX files.

    Calling it loads the splits. The files are looked for as :func:`~autoencoders.data.
    search_dirs` lists (the first folder holding all four, plain or gzipped, wins) and,
    only if allowed, downloaded with torchvision's class ``torchvision_name``.

    Attributes:
        name: the dataset's name and folder name, e.g. ``"fashion-mnist"``.
        torchvision_name: torchvision's class, e.g. ``"FashionMNIST"`` (its files are in
            ``<root>/FashionMNIST/raw/``).
        class_names: names of the labels ``0 .. len(class_names) - 1``.
        debian_package: the Debian package that installs the files, if there is one.

    Example:
        >>> load_mnist.layout
        DataLayout(folder='mnist', torchvision_name='MNIST', debian=True)
        >>> load_fashion_mnist.class_names[:2]
        ('T-shirt/top', 'Trouser')
    """

    name: str
    torchvision_name: str
    class_names: tuple[str, ...]
    debian_package: str | None = None

    #: The shape its images have on disk. A dataset that declares one is read at that shape
    #: by the run layer (``autoencoders train``), which refuses a model of another shape
    #: rather than resizing 28x28 digits for it; ``image_size=`` / ``channels=`` given
    #: explicitly still resize and convert.
    native_shape: tuple[int, int, int] = (1, 28, 28)

    @property
    def layout(self) -> DataLayout:
        """Where the files may be: ``<dir>/<name>/``, ``<dir>/<TorchvisionName>/raw/``, Debian."""
        return DataLayout(self.name, torchvision_name=self.torchvision_name)

    def not_found(self, looked: list[Path], **kw: Any) -> DatasetNotFoundError:
        """The error for files in none of ``looked`` (``kw``: download_error, download_target)."""
        wanted = "IDX files (" + ", ".join(IDX_FILES.values()) + ", or .gz)"
        install = f"apt-get install {self.debian_package}" if self.debian_package else None
        return DatasetNotFoundError(self.name, looked, wanted=wanted, install=install, **kw)

    def find(self, root: str | os.PathLike[str] | None, download: bool) -> dict[str, Path]:
        """The four files, downloading them only if ``download`` and none were found."""
        looked = self.layout.search_dirs(root)
        for d in looked:
            files = find_idx_files(d)
            if files is not None:
                return files
        if not download:
            raise self.not_found(looked)
        target = download_target(root)
        torchvision_download(
            self.torchvision_name, target, lambda **kw: self.not_found(looked, **kw)
        )
        d = target / self.torchvision_name / "raw"
        files = find_idx_files(d)
        if files is None:
            raise self.not_found(
                [*looked, d],
                download_error=f"the download left no IDX files in {d}",
                download_target=target,
            )
        return files

    def read(self, files: dict[str, Path]) -> dict[str, np.ndarray]:
        """The four arrays, checked: uint8 images ``(N, H, W)``, one valid label per image."""
        arrays = {k: read_idx(p) for k, p in files.items()}
        n_cls = len(self.class_names)
        for part in ("train", "test"):
            img, lab = arrays[f"{part}_images"], arrays[f"{part}_labels"]
            images, labels = files[f"{part}_images"], files[f"{part}_labels"]
            if img.ndim != 3 or img.dtype != np.uint8:
                raise InvalidValueError(
                    f"{str(images)!r}: expected uint8 images (N, H, W), got "
                    f"{img.dtype.name} {img.shape}"
                )
            if lab.ndim != 1 or len(lab) != len(img):
                raise InvalidValueError(
                    f"{str(labels)!r}: expected {len(img)} labels (one per image in "
                    f"{images.name}), got shape {lab.shape}"
                )
            if len(lab) and (int(lab.min()) < 0 or int(lab.max()) >= n_cls):
                raise InvalidValueError(
                    f"{str(labels)!r}: labels must be in [0, {n_cls}), found "
                    f"[{int(lab.min())}, {int(lab.max())}]"
                )
        return arrays

    def __call__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        split_seed: int = 0,
        val_fraction: float = 0.1,
        val_size: int | None = None,
        pixel_range: PixelRangeLike = "auto",
        image_size: ImageSize = None,
        channels: int | None = None,
        limit: int | None = None,
        download: bool | None = None,
        flatten: bool = False,
    ) -> DataSplits:
        """Load the train / validation / test splits.

        Args:
            root: a folder to look in first.
            split_seed: seed of the permutation that carves the validation split.
            val_fraction: fraction of the training images for validation.
            val_size: number of validation images instead of ``val_fraction``.
            pixel_range: ``"auto"`` ([0, 1]), ``"[0,1]"``, ``"[-1,1]"`` or a pair.
            image_size: ``None`` keeps 28x28; an int (square) or ``(height, width)`` resizes.
            channels: ``None`` or 1 (greyscale), or 3 (three equal channels).
            limit: keep at most this many items per split.
            download: let torchvision download the files when none are found; ``None``:
                only if ``AUTOENCODERS_DOWNLOAD=1``.
            flatten: flatten each image to one dimension.

        Raises:
            DatasetNotFoundError: when no local copy exists and downloading is not allowed.
        """
        root = check_root(root)
        split_seed = check_seed(split_seed)
        val_fraction = check_fraction(val_fraction, "val_fraction")
        limit = check_limit(limit)
        image_size = check_image_size(image_size)
        channels = check_channels(channels)
        prange = resolve_pixel_range(pixel_range, (0.0, 1.0))
        files = self.find(root, download_allowed(download))
        source = files["train_images"].parent
        logger.info("reading %s from %s", self.name, source)
        arrays = self.read(files)
        train_x = torch.from_numpy(arrays["train_images"])
        train_y = torch.from_numpy(arrays["train_labels"].astype(np.int64))
        test_x = torch.from_numpy(arrays["test_images"])
        test_y = torch.from_numpy(arrays["test_labels"].astype(np.int64))
        n = len(train_x)
        n_val = split_count(n, val_fraction, val_size, "val_size")
        perm = seeded_permutation(n, split_seed)
        parts = {"train": perm[n_val:], "val": perm[:n_val], "test": torch.arange(len(test_x))}
        if limit is not None:
            parts = {k: v[:limit] for k, v in parts.items()}
        # only the selected images are converted to float
        xs, ys, idx, start = [], [], {}, 0
        for key, ix in parts.items():
            src_x, src_y = (test_x, test_y) if key == "test" else (train_x, train_y)
            xs.append(src_x[ix])
            ys.append(src_y[ix])
            idx[key] = torch.arange(start, start + len(ix))
            start += len(ix)
        x = scale_uint8(torch.cat(xs).unsqueeze(1), (0.0, 1.0))  # (N, 1, H, W)
        if image_size is not None:
            x = resize_batch(x, image_size)
        if channels == 3:  # greyscale as RGB: three equal channels
            x = x.expand(-1, 3, -1, -1).contiguous()
        lo, hi = prange
        if (lo, hi) != (0.0, 1.0):
            x.mul_(hi - lo).add_(lo)
        return tensor_splits(
            x,
            torch.cat(ys),
            idx,
            name=self.name,
            num_classes=len(self.class_names),
            pixel_range=prange,
            class_names=self.class_names,
            source=str(source),
            flatten=flatten,
        )


#: Fashion-MNIST (Zalando): 70,000 1x28x28 images of clothes, 10 classes; Debian packages it.
load_fashion_mnist = datasets.register("fashion_mnist", aliases=("fashionmnist", "fmnist"))(
    IdxDataset("fashion-mnist", "FashionMNIST", FASHION_MNIST_CLASSES, "dataset-fashion-mnist")
)
#: MNIST: 70,000 1x28x28 images of handwritten digits, 10 classes.
load_mnist = datasets.register("mnist")(
    IdxDataset("mnist", "MNIST", tuple(str(d) for d in range(10)))
)
