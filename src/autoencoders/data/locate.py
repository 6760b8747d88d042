"""Where dataset files are looked for, and when torchvision may download them.

A dataset's files are looked for, in order (the first complete copy wins), in

1. the ``root`` argument: the folder itself, ``<root>/<name>/`` and torchvision's layout
   ``<root>/<TorchvisionName>/raw/`` (e.g. ``<root>/FashionMNIST/raw/``);
2. each folder of the environment variable :data:`ENV_VAR` (``os.pathsep``-separated):
   ``<dir>/<name>/`` and ``<dir>/<TorchvisionName>/raw/``;
3. the user cache, :func:`cache_dir` (same layouts);
4. Debian's dataset packages, ``<DEBIAN_DATASETS_DIR>/<name>/``.

A :class:`DataLayout` says which of those folders a dataset has; :func:`search_dirs` lists
them. Downloads happen only when allowed (:func:`download_allowed`), into
:func:`download_target`, through :func:`torchvision_download`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from autoencoders.errors import DATA_ENV_VAR, DOWNLOAD_ENV_VAR, InvalidTypeError, InvalidValueError
from autoencoders.registry import datasets

__all__ = [
    "DEBIAN_DATASETS_DIR",
    "DOWNLOAD_ENV_VAR",
    "ENV_VAR",
    "DataLayout",
    "cache_dir",
    "download_allowed",
    "download_target",
    "env_dirs",
    "layout_of",
    "search_dirs",
    "torchvision_download",
    "with_layout",
]

logger = logging.getLogger(__name__)

#: Environment variable naming folders to look for datasets in (``os.pathsep``-separated).
ENV_VAR = DATA_ENV_VAR
#: Where Debian's ``dataset-*`` packages install datasets (``<dir>/fashion-mnist/*.gz``).
DEBIAN_DATASETS_DIR = Path("/usr/share/datasets")

F = TypeVar("F", bound=Callable[..., Any])


def cache_dir() -> Path:
    """The user cache folder: ``$XDG_CACHE_HOME/autoencoders`` or ``~/.cache/autoencoders``.

    Example:
        >>> cache_dir().name
        'autoencoders'
    """
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "autoencoders"


def env_dirs() -> list[Path]:
    """The folders listed in the environment variable :data:`ENV_VAR`, in order.

    Example:
        >>> import os
        >>> os.environ[ENV_VAR] = os.pathsep.join(["/a", "", "/b"])
        >>> [p.as_posix() for p in env_dirs()]
        ['/a', '/b']
        >>> del os.environ[ENV_VAR]
    """
    value = os.environ.get(ENV_VAR, "")
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


def download_allowed(download: bool | None) -> bool:
    """Whether a download may happen: ``download`` itself, or for ``None`` the variable
    :data:`DOWNLOAD_ENV_VAR` set to ``1``, ``true``, ``yes`` or ``on``.

    Raises:
        TypeError: ``download`` is neither a bool nor None.

    Example:
        >>> download_allowed(True), download_allowed(False)
        (True, False)
        >>> download_allowed("yes")
        Traceback (most recent call last):
          ...
        autoencoders.errors.InvalidTypeError: download must be True, False or None, got 'yes'
    """
    if download is None:
        return os.environ.get(DOWNLOAD_ENV_VAR, "").strip().lower() in ("1", "true", "yes", "on")
    if not isinstance(download, bool):
        raise InvalidTypeError(f"download must be True, False or None, got {download!r}")
    return download


def download_target(root: str | os.PathLike[str] | None) -> Path:
    """Where a download goes: ``root``, else the first :data:`ENV_VAR` folder, else the cache.

    Example:
        >>> download_target("/data").as_posix()
        '/data'
    """
    if root is not None:
        return Path(root).expanduser()
    env = env_dirs()
    return env[0] if env else cache_dir()


@dataclass(frozen=True)
class DataLayout:
    """The folders a dataset's files may be kept in.

    Attributes:
        folder: the dataset's folder name under a data folder, e.g. ``"fashion-mnist"``.
        torchvision_name: torchvision's class name when its ``<dir>/<name>/raw/`` layout is
            also looked in (``"FashionMNIST"``), else ``None``.
        debian: also look in ``<DEBIAN_DATASETS_DIR>/<folder>/``.

    Example:
        >>> layout = DataLayout("mnist", torchvision_name="MNIST")
        >>> [p.as_posix() for p in layout.search_dirs("/data")][:3]
        ['/data', '/data/mnist', '/data/MNIST/raw']
    """

    folder: str
    torchvision_name: str | None = None
    debian: bool = True

    def _layouts(self, d: Path) -> list[Path]:
        tv = [d / self.torchvision_name / "raw"] if self.torchvision_name else []
        return [d / self.folder, *tv]

    def search_dirs(self, root: str | os.PathLike[str] | None = None) -> list[Path]:
        """The folders to look in, in order, without duplicates (see the module docstring)."""
        out: list[Path] = []
        if root is not None:
            r = Path(root).expanduser()
            out += [r, *self._layouts(r)]
        for d in env_dirs():
            out += self._layouts(d)
        out += self._layouts(cache_dir())
        if self.debian:
            out.append(DEBIAN_DATASETS_DIR / self.folder)
        return list(dict.fromkeys(out))


def with_layout(layout: DataLayout) -> Callable[[F], F]:
    """Decorator recording on a dataset loader where its files are kept (its ``layout``).

    :func:`search_dirs` reads it for the registered name of the loader.

    Example:
        >>> @with_layout(DataLayout("faces", debian=False))
        ... def load_faces(root=None):
        ...     ...
        >>> load_faces.layout.folder
        'faces'
    """

    def decorator(loader: F) -> F:
        loader.layout = layout  # type: ignore[attr-defined]
        return loader

    return decorator


def layout_of(name: str) -> DataLayout:
    """The :class:`DataLayout` of the dataset registered as ``name``.

    A loader without a ``layout`` attribute (see :func:`with_layout`) keeps its files in a
    folder named as it is registered, with no torchvision layout.

    Raises:
        autoencoders.errors.UnknownNameError: no dataset is registered as ``name``.

    Example:
        >>> layout_of("fashion-mnist")
        DataLayout(folder='fashion-mnist', torchvision_name='FashionMNIST', debian=True)
    """
    key = datasets.canonical(name)
    layout = getattr(datasets.get(key), "layout", None)
    return layout if isinstance(layout, DataLayout) else DataLayout(key)


def search_dirs(name: str | DataLayout, root: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders searched for a dataset, in order (see the module docstring).

    Args:
        name: a registered dataset name (any alias) or a :class:`DataLayout`.
        root: a folder to look in first.

    Example:
        >>> [p.as_posix() for p in search_dirs("mnist", root="/data")][:3]
        ['/data', '/data/mnist', '/data/MNIST/raw']
    """
    layout = name if isinstance(name, DataLayout) else layout_of(name)
    return layout.search_dirs(root)


def torchvision_download(
    torchvision_name: str, target: Path, not_found: Callable[..., Exception]
) -> None:
    """Download a dataset with torchvision's class ``torchvision_name`` into ``target``.

    MNIST-style classes download both their training and test files; ``"CelebA"`` every
    split, without the attribute files.

    Args:
        torchvision_name: a class of ``torchvision.datasets``, e.g. ``"FashionMNIST"``.
        target: the folder torchvision downloads into (its ``root``).
        not_found: builds the error to raise when the download fails; it is called with
            ``download_error=<why>`` and ``download_target=target``.

    Raises:
        ValueError: ``torchvision.datasets`` has no class ``torchvision_name``.

    Example:
        >>> def not_found(**kw):
        ...     return ValueError(f"failed: {kw['download_error']}")
        >>> torchvision_download("NoSuchDataset", Path("/nonexistent"), not_found)
        Traceback (most recent call last):
          ...
        autoencoders.errors.InvalidValueError: torchvision.datasets has no dataset class 'NoSuchDataset'
    """
    import torchvision.datasets as tvd

    cls = getattr(tvd, torchvision_name, None)
    if not isinstance(cls, type):
        raise InvalidValueError(f"torchvision.datasets has no dataset class {torchvision_name!r}")
    legacy = sorted((target / torchvision_name / "processed").glob("*.pt"))
    if legacy and torchvision_name != "CelebA":
        # torchvision would read these with torch.load (unpickling) instead of downloading
        raise not_found(
            download_error=(
                f"{legacy[0].parent} holds {', '.join(p.name for p in legacy)}, an old "
                "torchvision format that is read by unpickling, which autoencoders never does; "
                f"remove that folder (or put the IDX files in {target / torchvision_name / 'raw'})"
            ),
            download_target=target,
        )
    logger.info("downloading %s with torchvision into %s", torchvision_name, target)
    try:
        target.mkdir(parents=True, exist_ok=True)
        if torchvision_name == "CelebA":
            cls(str(target), split="all", target_type=[], download=True)
        else:
            cls(str(target), train=True, download=True)
            cls(str(target), train=False, download=True)
    except (RuntimeError, OSError, ImportError) as exc:  # URLError is an OSError
        reason = str(exc) or type(exc).__name__
        raise not_found(download_error=reason, download_target=target) from exc
