"""Datasets as train / validation / test splits, found on disk before anything is downloaded.

:func:`load_dataset` looks a name up in ``autoencoders.registry.datasets`` and returns a
:class:`DataSplits`: three datasets whose items are ``(x, y)`` pairs (images as float tensors
in the requested pixel range, integer labels), plus what a model needs to know about them
(``input_shape``, ``num_classes``, ``pixel_range``, ``class_names``).

=====================  ==========================================================================
name                   what
=====================  ==========================================================================
``"fashion-mnist"``    Fashion-MNIST, 1x28x28, 10 classes (aliases ``fashion_mnist``, ``fmnist``)
``"mnist"``            MNIST digits, 1x28x28, 10 classes
``"celeba"``           CelebA aligned faces, resized (shorter side) and centre-cropped to 3x64x64
``"folder:<path>"``    a folder of images, see :func:`load_image_folder` (also ``"folder"``
                       with ``path=...``)
``"tensors"``          tensors or arrays in memory, see :func:`from_tensors`
=====================  ==========================================================================

A plugin (or your own code) adds a dataset by registering a loader that returns a
:class:`DataSplits`: ``@autoencoders.registry.datasets.register("mine")``;
:func:`dataset_names` lists every registered one as users type it.

**Where the files are looked for**, in this order (the first complete copy wins):

1. the ``root`` argument: the folder itself, ``<root>/<name>/`` and torchvision's layout
   ``<root>/<TorchvisionName>/raw/`` (e.g. ``<root>/FashionMNIST/raw/``);
2. each folder in the environment variable ``AUTOENCODERS_DATA`` (``os.pathsep``-separated):
   ``<dir>/<name>/`` and ``<dir>/<TorchvisionName>/raw/``;
3. the user cache, ``$XDG_CACHE_HOME/autoencoders`` or ``~/.cache/autoencoders`` (same layouts);
4. Debian's dataset packages, ``/usr/share/datasets/<name>/`` (``apt-get install
   dataset-fashion-mnist`` puts the gzipped IDX files of Fashion-MNIST there; the folder is
   :data:`autoencoders.data.locate.DEBIAN_DATASETS_DIR`).

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

The modules: :mod:`~autoencoders.data.splits` (:class:`DataSplits`),
:mod:`~autoencoders.data.pixels` (pixel ranges), :mod:`~autoencoders.data.locate` (search
folders, downloads), :mod:`~autoencoders.data.errors`, :mod:`~autoencoders.data.idx` (the IDX
format), :mod:`~autoencoders.data.decode` (one image file to pixels),
:mod:`~autoencoders.data.images` (image files), :mod:`~autoencoders.data.cache` (the image
cache), :mod:`~autoencoders.data.uint8` (uint8 image sets), the datasets
:mod:`~autoencoders.data.mnist`, :mod:`~autoencoders.data.celeba`,
:mod:`~autoencoders.data.folder`, :mod:`~autoencoders.data.tensors`, and
:mod:`~autoencoders.data.load` (:func:`load_dataset`).

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

from autoencoders.data._checks import ImageSize, PixelRangeLike
from autoencoders.data.cache import CACHE_ENV_VAR, CachedImages, cached_images, image_cache_dir
from autoencoders.data.celeba import CELEBA_PARTITION_FILE, load_celeba
from autoencoders.data.errors import DatasetNotFoundError
from autoencoders.data.folder import load_image_folder
from autoencoders.data.idx import read_idx
from autoencoders.data.images import IMAGE_EXTENSIONS, IN_MEMORY_LIMIT_BYTES, ImageFilesDataset
from autoencoders.data.load import (
    DATASET_NAMES,
    SHARED_OPTIONS,
    dataset_names,
    dataset_takes,
    load_dataset,
    native_shape,
)
from autoencoders.data.locate import (
    DEBIAN_DATASETS_DIR,
    DOWNLOAD_ENV_VAR,
    ENV_VAR,
    DataLayout,
    cache_dir,
    search_dirs,
)
from autoencoders.data.mnist import IdxDataset, load_fashion_mnist, load_mnist
from autoencoders.data.pixels import parse_pixel_range, pixel_range_for
from autoencoders.data.splits import DataSplits, tensor_splits
from autoencoders.data.synthetic import draw_faces, synthetic_faces
from autoencoders.data.tensors import from_tensors
from autoencoders.data.uint8 import UInt8ImageDataset

__all__ = [
    "CACHE_ENV_VAR",
    "CELEBA_PARTITION_FILE",
    "DATASET_NAMES",
    "DEBIAN_DATASETS_DIR",
    "DOWNLOAD_ENV_VAR",
    "ENV_VAR",
    "IMAGE_EXTENSIONS",
    "IN_MEMORY_LIMIT_BYTES",
    "SHARED_OPTIONS",
    "CachedImages",
    "DataLayout",
    "DataSplits",
    "DatasetNotFoundError",
    "IdxDataset",
    "ImageFilesDataset",
    "ImageSize",
    "PixelRangeLike",
    "UInt8ImageDataset",
    "cache_dir",
    "cached_images",
    "dataset_names",
    "draw_faces",
    "dataset_takes",
    "native_shape",
    "from_tensors",
    "image_cache_dir",
    "synthetic_faces",
    "load_celeba",
    "load_dataset",
    "load_fashion_mnist",
    "load_image_folder",
    "load_mnist",
    "parse_pixel_range",
    "pixel_range_for",
    "read_idx",
    "search_dirs",
    "tensor_splits",
]
