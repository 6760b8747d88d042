"""The entry point: :func:`load_dataset` looks a name up in ``autoencoders.registry.datasets``.

Every dataset is a loader registered by name (``fashion_mnist``, ``mnist``, ``celeba``,
``folder``, ``tensors`` and whatever plugins add); :func:`load_dataset` finds it, checks the
options shared by all datasets (:data:`SHARED_OPTIONS`) the same way for every one of them,
passes on those the loader takes and calls it.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable
from typing import Any

from autoencoders.data._checks import (
    check_channels,
    check_fraction,
    check_image_size,
    check_limit,
    check_root,
    check_seed,
)
from autoencoders.data.locate import download_allowed
from autoencoders.data.pixels import resolve_pixel_range
from autoencoders.data.splits import DataSplits
from autoencoders.errors import InvalidTypeError, InvalidValueError
from autoencoders.registry import (
    PLUGIN_GROUP,
    UnknownNameError,
    accepted_parameters,
    check_kwargs,
    datasets,
    did_you_mean,
)

__all__ = [
    "DATASET_NAMES",
    "FOLDER_PREFIXES",
    "SHARED_OPTIONS",
    "dataset_names",
    "dataset_takes",
    "native_shape",
    "load_dataset",
]

logger = logging.getLogger(__name__)

#: The built-in datasets that a name alone loads, as users type them (``folder:<path>`` loads
#: a folder of images). A fixed tuple, kept for compatibility: :func:`dataset_names` lists
#: every registered dataset, plugins included.
DATASET_NAMES = ("celeba", "fashion-mnist", "mnist", "folder:<path>", "synthetic-faces")
#: Name prefixes that load the folder after them with the ``"folder"`` dataset.
FOLDER_PREFIXES = ("folder:", "image_folder:", "image-folder:")
#: Options every dataset understands the same way; one that a dataset's loader does not take
#: is left out (CelebA has its own validation split, so it takes no ``val_fraction``).
SHARED_OPTIONS = (
    "root",
    "download",
    "pixel_range",
    "image_size",
    "channels",
    "val_fraction",
    "val_size",
    "test_fraction",
    "split_seed",
    "limit",
    "flatten",
    "in_memory",
)


#: What the built-in datasets need when their required arguments are missing.
_NEEDS = {
    "folder": "path=<folder of images>; name it 'folder:<path>' instead (on the command line: "
    "--data folder:<path>, or the folder itself)",
    "tensors": "x=... (arrays or tensors in memory, see from_tensors); it cannot be named on "
    "the command line",
}


def _required(loader: Callable[..., Any]) -> list[str]:
    """The arguments ``loader`` cannot be called without."""
    try:
        params = inspect.signature(loader).parameters.values()
    except (TypeError, ValueError):  # no signature (a builtin): nothing known to be required
        return []
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params if p.kind in kinds and p.default is inspect.Parameter.empty]


def _display(key: str) -> str:
    """A registered name as users type it: ``fashion-mnist``, ``folder:<path>``."""
    return "folder:<path>" if key == "folder" else key.replace("_", "-")


def dataset_names(*, command_line: bool = False, load: bool = True) -> list[str]:
    """Every registered dataset, spelled as users type it (``fashion-mnist``, ``folder:<path>``).

    Args:
        command_line: leave out the datasets that a name cannot load: those whose loader
            needs an argument other than a folder (``tensors`` needs the arrays).
        load: load the entry-point plugins first (their datasets are then listed too).

    Example:
        >>> names = dataset_names()
        >>> {"fashion-mnist", "folder:<path>", "tensors"} <= set(names)
        True
        >>> "tensors" in dataset_names(command_line=True)
        False
    """
    out = []
    for key in datasets.names(load=load):
        needs = set(_required(datasets.get(key))) - ({"path"} if key == "folder" else set())
        if not (command_line and needs):
            out.append(_display(key))
    return out


def _canonical(name: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The registered dataset ``name`` stands for, and ``options`` with a folder's ``path``."""
    if not isinstance(name, str):
        raise InvalidTypeError(f"dataset name must be a string, got {type(name).__name__} {name!r}")
    stripped = name.strip()
    for prefix in FOLDER_PREFIXES:
        if stripped.lower().startswith(prefix):
            if "path" in options:
                raise InvalidValueError(
                    f"dataset {name!r} names its folder; pass either 'folder:<path>' or "
                    f"'folder' with path=..., not both (got path={options['path']!r})"
                )
            stripped, options = "folder", {**options, "path": stripped[len(prefix) :]}
            break
    try:
        return datasets.canonical(stripped), options
    except UnknownNameError:
        pass
    known = datasets.names(load=False)  # canonical() has loaded the plugins
    close = did_you_mean(
        stripped.lower().replace("-", "_"), known + sorted(datasets.aliases()), dashes=True
    )
    if any(sep in stripped for sep in ("/", "\\")) or stripped.startswith((".", "~")):
        close = (
            f"; as a folder, {str(os.path.abspath(os.path.expanduser(stripped)))!r} does not exist."
        )
    raise UnknownNameError(
        f"unknown dataset {name!r}{close} Registered datasets: "
        f"{', '.join(map(_display, known)) or '(none)'}. A folder of images loads as "
        "'folder:<path>'; a dataset from a plugin needs the package that provides it installed "
        f"(entry-point group {PLUGIN_GROUP!r})."
    ) from None


def native_shape(name: str) -> tuple[int, ...] | None:
    """The fixed shape the dataset ``name`` declares for its images (``native_shape``), if any.

    MNIST-style datasets declare ``(1, 28, 28)``; image folders, CelebA and tensors declare
    none (their images are read at whatever size is asked for).

    Example:
        >>> native_shape("fashion-mnist"), native_shape("folder:photos")
        ((1, 28, 28), None)
    """
    key, _ = _canonical(name, {})
    shape = getattr(datasets.get(key), "native_shape", None)
    return tuple(shape) if shape is not None else None


def dataset_takes(name: str, option: str) -> bool:
    """Whether the dataset ``name`` takes the keyword ``option`` (or any keyword).

    Raises:
        autoencoders.errors.UnknownNameError: for an unknown name, as :func:`load_dataset`.

    Example:
        >>> dataset_takes("image-folder:photos", "channels"), dataset_takes("tensors", "channels")
        (True, False)
    """
    key, _ = _canonical(name, {})
    accepted, takes_any = accepted_parameters(datasets.get(key))
    return takes_any or option in accepted


def _check_shared(options: dict[str, Any]) -> None:
    """Raise the same error for a bad shared option whichever dataset it is for."""
    checks = {
        "root": check_root,
        "download": download_allowed,
        "pixel_range": lambda v: resolve_pixel_range(v, (0.0, 1.0)),
        "image_size": check_image_size,
        "channels": check_channels,
        "val_fraction": lambda v: check_fraction(v, "val_fraction"),
        "test_fraction": lambda v: check_fraction(v, "test_fraction"),
        "split_seed": check_seed,
        "limit": check_limit,
    }
    for key, value in options.items():
        if key in checks and value is not None:
            checks[key](value)
    size = options.get("val_size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise InvalidValueError(f"val_size must be a non-negative integer or None, got {size!r}")


def load_dataset(name: str, /, **options: Any) -> DataSplits:
    """Load a dataset by name as train / validation / test splits.

    ``name`` is looked up in ``autoencoders.registry.datasets`` (any case, ``-`` or ``_``,
    aliases, plugins); ``"folder:<path>"`` is the ``"folder"`` dataset with ``path=<path>``.

    Options shared by the datasets (:data:`SHARED_OPTIONS`) are checked the same way for
    every dataset; one given as ``None`` means the dataset's default, and one the dataset
    does not use is left out. Any other keyword goes to the dataset's loader as it is (e.g.
    ``path=`` for ``"folder"``, ``x=`` and ``y=`` for ``"tensors"``).

    Args:
        name: ``"fashion-mnist"`` (``fashion_mnist``, ``fmnist``), ``"mnist"``, ``"celeba"``,
            ``"folder:<path>"``, ``"folder"``, ``"tensors"`` or a name a plugin registered.
        **options: the loader's keyword arguments; the shared ones are:

            * ``root``: a folder to look in first (see :mod:`autoencoders.data.locate`);
            * ``download``: let torchvision download the data when no local copy is found;
              ``None``: only if the environment variable ``AUTOENCODERS_DOWNLOAD`` is ``1``;
            * ``pixel_range``: ``"auto"`` ([0, 1]; [-1, 1] for CelebA), ``"[0,1]"``,
              ``"[-1,1]"`` or a pair; use :func:`~autoencoders.data.pixel_range_for` to
              match a model;
            * ``image_size``: an int (shorter side, then centre-crop a square) or
              ``(height, width)``; ``None`` keeps 28x28 for MNIST-style data and 64 for CelebA;
            * ``channels``: 1 (greyscale) or 3 (RGB); ``None`` keeps the data's own;
            * ``val_fraction`` / ``val_size``: the validation split carved from the training
              data (MNIST-style datasets, folders, tensors; CelebA has its own);
            * ``test_fraction``: for folders and tensors (the others have a test split);
            * ``split_seed``: seed of the permutation that carves the splits;
            * ``limit``: keep at most this many items per split (quick runs and tests);
            * ``flatten``: flatten each item to one dimension;
            * ``in_memory``: for image files (CelebA, folders), see
              :func:`~autoencoders.data.load_image_folder`.

    Returns:
        A :class:`~autoencoders.data.DataSplits`.

    Raises:
        autoencoders.errors.UnknownNameError: (a ValueError) for an unknown name, with a
            close match.
        autoencoders.errors.UnknownArgumentError: (a TypeError) for a keyword the dataset
            does not take, with a close match.
        TypeError: for a required argument left out (``path=`` of ``"folder"``, ``x=`` of
            ``"tensors"``).
        ValueError: for a bad option.
        DatasetNotFoundError: when no local copy exists and downloading is not allowed.

    Example:
        >>> load_dataset("fashon-mnist")
        Traceback (most recent call last):
          ...
        autoencoders.errors.UnknownNameError: unknown dataset 'fashon-mnist'; did you mean 'fashion-mnist'? ...
        >>> import torch
        >>> load_dataset("tensors", x=torch.rand(10, 4), val_size=2, test_fraction=0).sizes()
        {'train': 8, 'val': 2, 'test': 0}
        >>> load_dataset("tensors")
        Traceback (most recent call last):
          ...
        autoencoders.errors.InvalidTypeError: dataset 'tensors' needs x=... (arrays or tensors in memory, see ...
    """
    key, options = _canonical(name, options)
    loader = datasets.get(key)
    _check_shared(options)
    accepted, takes_any = accepted_parameters(loader)
    passed: dict[str, Any] = {}
    for option, value in options.items():
        if option in SHARED_OPTIONS and value is None:
            continue  # the dataset's default
        if option in SHARED_OPTIONS and not takes_any and option not in accepted:
            logger.debug("dataset %r does not use %s=%r; left out", key, option, value)
            continue
        passed[option] = value
    check_kwargs(f"dataset {key!r}", loader, passed)
    missing = [p for p in _required(loader) if p not in passed]
    if missing:
        needs = ", ".join(f"{p}=..." for p in missing)
        raise InvalidTypeError(
            f"dataset {key!r} needs "
            + _NEEDS.get(key, f"{needs}; give it to load_dataset (a name alone cannot)")
        )
    splits = loader(**passed)
    if not isinstance(splits, DataSplits):
        raise InvalidTypeError(
            f"dataset {key!r} returned {type(splits).__name__}; a dataset loader must return "
            "autoencoders.data.DataSplits"
        )
    return splits
