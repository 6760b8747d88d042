"""Every exception and warning the library raises on purpose, in one place.

Each error is a subclass of :class:`AutoencodersError` *and* of the built-in exception a caller
would expect (:class:`ValueError`, :class:`TypeError`, :class:`LookupError` or
:class:`FileNotFoundError`), so ``except ValueError`` keeps working and
``except autoencoders.errors.AutoencodersError`` catches everything the library raises about
its inputs. Every message names the bad value, where it was found (a file, a field, an
argument, a tensor) and what is accepted.

=============================  ===========================  ======================================
error                          also a                       raised for
=============================  ===========================  ======================================
:class:`UnknownNameError`      ValueError, KeyError         a registry name nothing provides
:class:`DuplicateNameError`    ValueError                   a name registered twice
:class:`UnknownArgumentError`  TypeError                    a keyword a block does not accept
:class:`InvalidInputError`     ValueError                   a tensor of the wrong shape or device
:class:`InputTypeError`        TypeError                    a tensor of a dtype that is refused
:class:`NonFiniteDataError`    ValueError                   NaN or infinity in a dataset
:class:`NonFiniteLossError`    ValueError                   a NaN or infinite training or
                                                            validation loss
:class:`ModelFileError`        ValueError                   a saved model folder that is missing,
                                                            damaged or edited
:class:`CheckpointError`       ValueError                   a checkpoint that cannot be used
:class:`ResumeError`           ValueError                   a resume that would not continue the
                                                            same run
:class:`DatasetNotFoundError`  FileNotFoundError,           a dataset neither on disk nor
                               ValueError                   downloadable
:class:`RunError`              ValueError                   a run folder that cannot be used
:class:`CLIError`              ValueError                   bad command-line syntax
:class:`InvalidValueError`     ValueError                   any other argument or setting whose
                                                            value is refused (the base of
                                                            :class:`InvalidInputError`)
:class:`InvalidTypeError`      TypeError                    any other argument of a refused type
                                                            (the base of :class:`InputTypeError`
                                                            and :class:`UnknownArgumentError`)
=============================  ===========================  ======================================

Warnings: :class:`PluginWarning` (a plugin failed to import), :class:`IgnoredCheckpointWarning`
(a damaged checkpoint was passed over for an older one), :class:`DataRangeWarning` (training
data outside the range of the model's output).

Example:
    >>> import torch, autoencoders
    >>> from autoencoders.errors import AutoencodersError, InputTypeError
    >>> model = autoencoders.build("ae", h=8, z=2)
    >>> try:
    ...     model(torch.zeros(1, 1, 28, 28, dtype=torch.int64))
    ... except InputTypeError as exc:
    ...     print(isinstance(exc, (TypeError, AutoencodersError)), str(exc)[:60])
    True Autoencoder.forward got x of dtype torch.int64; accepted: fl
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "DATA_ENV_VAR",
    "DOWNLOAD_ENV_VAR",
    "GENERIC_ERRORS",
    "AutoencodersError",
    "CLIError",
    "CheckpointError",
    "DataRangeWarning",
    "DatasetNotFoundError",
    "DuplicateNameError",
    "FileContentError",
    "IgnoredCheckpointWarning",
    "ImageCacheUnavailableError",
    "InputTypeError",
    "InvalidInputError",
    "InvalidTypeError",
    "InvalidValueError",
    "ModelFileError",
    "NonFiniteDataError",
    "NonFiniteLossError",
    "PluginWarning",
    "RegistryError",
    "ResumeError",
    "RunError",
    "UnknownArgumentError",
    "UnknownNameError",
]

#: Environment variable naming folders to look for datasets in (``os.pathsep``-separated).
DATA_ENV_VAR = "AUTOENCODERS_DATA"
#: Environment variable that, set to ``1``/``true``/``yes``, allows downloads by default.
DOWNLOAD_ENV_VAR = "AUTOENCODERS_DOWNLOAD"


class AutoencodersError(Exception):
    """Base class of every error the library raises about its inputs, files and runs."""


# -- arguments -------------------------------------------------------------------------------
class InvalidValueError(AutoencodersError, ValueError):
    """An argument or setting whose value is refused: out of range, not one of the accepted
    choices, inconsistent with another argument (the more specific errors below are
    subclasses where one fits).

    Example:
        >>> import autoencoders
        >>> try:
        ...     autoencoders.Trainer(autoencoders.build("ae", h=8, z=2), lr=-1)
        ... except InvalidValueError as exc:
        ...     print(isinstance(exc, ValueError), exc)
        True lr must be > 0, got -1
    """


class InvalidTypeError(AutoencodersError, TypeError):
    """An argument or setting of a type that is refused (a string for a switch, a float for a
    count), not converted behind the caller's back.

    Example:
        >>> import autoencoders
        >>> try:
        ...     autoencoders.build("conv_ae", z=2, batch_norm="no")
        ... except InvalidTypeError as exc:
        ...     print(isinstance(exc, TypeError), exc)
        True batch_norm must be True or False, got 'no'
    """


#: The two catch-all argument errors: a handler that re-raises the library's specific errors
#: as they are can still wrap these with the place they came from (a config field, a file).
GENERIC_ERRORS = (InvalidValueError, InvalidTypeError)


# -- registry ------------------------------------------------------------------------------
class RegistryError(AutoencodersError, ValueError):
    """Base class of the registry's errors (a :class:`ValueError`)."""


class UnknownNameError(RegistryError, KeyError):
    """A name that no registered builder (nor any installed plugin) provides.

    It is a :class:`ValueError` and, for dict-like callers, a :class:`KeyError`.

    Example:
        >>> from autoencoders.registry import Registry
        >>> reg = Registry("widget")
        >>> _ = reg.register("square")(lambda side=2: side * side)
        >>> try:
        ...     reg.get("sqare")
        ... except UnknownNameError as exc:
        ...     print(exc)
        unknown widget 'sqare'; did you mean 'square'? Registered widgets: square. ...
    """

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class DuplicateNameError(RegistryError):
    """A name registered twice without ``override=True``.

    Example:
        >>> from autoencoders.registry import Registry
        >>> reg = Registry("widget")
        >>> _ = reg.register("square")(lambda: 4)
        >>> try:
        ...     reg.register("square")(lambda: 9)
        ... except DuplicateNameError as exc:
        ...     print(exc)
        widget 'square' is already registered (as <function <lambda> at ...>); pass
        override=True to replace it
        >>> reg.register("square", override=True)(lambda: 9)()
        9
    """


class UnknownArgumentError(InvalidTypeError):
    """A keyword argument that the builder does not accept (a :class:`TypeError`).

    Example:
        >>> from autoencoders.registry import Registry
        >>> reg = Registry("widget")
        >>> _ = reg.register("square")(lambda side=2: side * side)
        >>> try:
        ...     reg.build("square", sides=3)
        ... except UnknownArgumentError as exc:
        ...     print(exc)
        widget 'square' got unexpected keyword argument 'sides'; did you mean 'side'?
        Accepted: side.
    """


class PluginWarning(UserWarning):
    """An entry-point plugin could not be loaded."""


# -- tensors and data ------------------------------------------------------------------------
class InvalidInputError(InvalidValueError):
    """A tensor of the wrong shape, or on another device than the model."""


class InputTypeError(InvalidTypeError):
    """A value that is not a tensor, or a tensor of a dtype that is refused (not converted)."""


class NonFiniteDataError(InvalidInputError):
    """NaN or infinite values in a dataset or a batch.

    Attributes:
        what: the tensor, e.g. ``"training images"``.
        count: how many values are not finite.
        first_index: the index (along the first dimension) of the first sample holding one.

    Example:
        >>> print(NonFiniteDataError("training images", 3, 17))
        training images hold 3 non-finite values (NaN or infinity), the first in sample 17; clean or drop those samples before training
    """

    def __init__(self, what: str, count: int, first_index: int) -> None:
        self.what, self.count, self.first_index = what, int(count), int(first_index)
        super().__init__(
            f"{what} hold {self.count} non-finite value{'s' if self.count != 1 else ''} "
            f"(NaN or infinity), the first in sample {self.first_index}; clean or drop those "
            "samples before training"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.what, self.count, self.first_index)


class NonFiniteLossError(AutoencodersError, ValueError):
    """Training produced a NaN or infinite loss (with ``nonfinite="raise"``), or the
    validation loss of an epoch was not finite.

    Attributes:
        epoch: the epoch (1-based).
        step: the step (1-based, counted over the whole run).
        batch: the batch within the epoch (1-based; 0 for a validation loss).
        parts: ``{"loss": ..., <part>: ...}`` of that step.
        where: ``"training"`` or ``"validation"``.

    Example:
        >>> str(NonFiniteLossError(1, 3, 3, {"loss": float("nan")}))[:35]
        'non-finite loss at epoch 1, step 3 '
    """

    def __init__(
        self,
        epoch: int,
        step: int,
        batch: int,
        parts: dict[str, float],
        where: str = "training",
    ) -> None:
        self.epoch, self.step, self.batch, self.parts = epoch, step, batch, dict(parts)
        self.where = where
        shown = ", ".join(f"{k}={v:.6g}" for k, v in self.parts.items())
        if where == "validation":
            message = (
                f"non-finite validation loss after epoch {epoch} (step {step}): {shown}. The "
                "validation data was checked for NaN and infinity when it was loaded, so the "
                "model's outputs overflowed; checkpoints and best/ written before it are "
                "untouched. Resume from the last checkpoint with a lower learning rate (the new "
                "learning rate is used), set grad_clip, or use amp=None"
            )
        else:
            message = (
                f"non-finite loss at epoch {epoch}, step {step} (batch {batch} of the epoch): "
                f"{shown}. Checkpoints written before it are untouched; resume from the last "
                "one with a lower learning rate (the new learning rate is used), set grad_clip, "
                "use amp=None, or pass nonfinite='skip' to skip such steps"
            )
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.epoch, self.step, self.batch, self.parts, self.where)


# -- files ---------------------------------------------------------------------------------------
class FileContentError(AutoencodersError, ValueError):
    """A file or folder whose content cannot be used; :attr:`path` names it.

    Attributes:
        path: the file or folder at fault (None when unknown).
    """

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(message)
        self.path = None if path is None else Path(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.path)


class ModelFileError(FileContentError):
    """A saved model folder (``config.json`` + ``model.safetensors``) that cannot be loaded
    as the model that was saved: missing, unreadable, damaged or edited."""


class CheckpointError(FileContentError):
    """A checkpoint folder that is incomplete, damaged or edited (:attr:`path`: the folder)."""


class ResumeError(AutoencodersError, ValueError):
    """A resume that would not continue the same run (e.g. a mid-epoch checkpoint taken with
    another batch size), or a resume asked for where there is nothing to resume."""


class ImageCacheUnavailableError(AutoencodersError, OSError):
    """The image cache cannot hold a set (no room in its budget or on its disk, or a folder
    that cannot be written), raised by ``cached_images(..., fallback="raise")`` so that the
    caller picks another way to hold the images."""


class IgnoredCheckpointWarning(UserWarning):
    """A damaged or incomplete checkpoint was passed over (the message names it and why)."""


class DataRangeWarning(UserWarning):
    """Training data outside the range the model's output activation can produce (images in
    0..255 as floats for a sigmoid output, say): the model cannot reconstruct them, and the
    BCE of such targets is not a likelihood (it can go negative)."""


class DatasetNotFoundError(AutoencodersError, FileNotFoundError, ValueError):
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
            f"variable {DATA_ENV_VAR}"
        )
        if self.download_error is None:
            ways.append(
                f"pass {download_option} (or set {DOWNLOAD_ENV_VAR}=1) to let torchvision "
                "download them"
            )
        return f"{head}{before_hint}To get it: {'; or '.join(ways)}."


# -- runs and the command line --------------------------------------------------------------
class RunError(AutoencodersError, ValueError):
    """A run that cannot start as asked: a taken output folder, data that does not fit the model.

    ``str(exc)`` words the fix for Python callers (``overwrite=True``); :attr:`cli_message`
    words it in the options of the ``autoencoders`` program (``--overwrite``), which the
    command line prints instead.

    Example:
        >>> exc = RunError("pass overwrite=True", cli="pass --overwrite")
        >>> str(exc), exc.cli_message, isinstance(exc, ValueError)
        ('pass overwrite=True', 'pass --overwrite', True)
    """

    def __init__(self, message: str, *, cli: str | None = None) -> None:
        super().__init__(message)
        self.cli_message = message if cli is None else cli


class CLIError(AutoencodersError, ValueError):
    """A usage error of the command line (bad ``--set``/``--grid``/``--zip`` syntax)."""
