"""The error raised when a dataset is neither on disk nor allowed (or able) to be downloaded."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autoencoders.data.locate import DOWNLOAD_ENV_VAR, ENV_VAR

__all__ = ["DatasetNotFoundError"]


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

        Example:
            >>> err = DatasetNotFoundError("mnist", ["/a", "/b"], wanted="IDX files")
            >>> err.describe(one_line=True).split(". To get it")[0]
            "dataset 'mnist' not found: no IDX files in any of: /a, /b"
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
