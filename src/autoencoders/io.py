"""Saving and loading models: ``config.json`` + ``model.safetensors``, never pickle.

``save(model, dir)`` writes the model's config (block names and keyword arguments, see
:attr:`autoencoders.Autoencoder.config`) as JSON and its weights as safetensors.
``load(dir)`` rebuilds the model through the registries and loads the weights strictly, so a
model made of user-registered blocks loads anywhere those blocks are registered (imported, or
provided by an installed plugin).

The two files vouch for each other: ``config.json`` records the SHA-256 of
``model.safetensors`` (under ``"weights"``) and the weights' metadata records the SHA-256 of the
config; the weights also carry the config itself and the SHA-256 of their tensors. :func:`load`
checks them: an edited or damaged file is a :class:`~autoencoders.errors.ModelFileError`, never
a silently different model, and a folder whose save was killed between the two files loads as
the newer model (the weights vouch for themselves), with a warning. Loading never runs code
from the folder: JSON and safetensors only.

Example:
    >>> import tempfile, torch, autoencoders
    >>> model = autoencoders.build("vae", h=64, z=4).eval()
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = autoencoders.save(model, d)
    ...     again = autoencoders.load(d)
    >>> x = torch.rand(2, 1, 28, 28)
    >>> torch.equal(model.reconstruct(x), again.reconstruct(x))
    True
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load

from autoencoders._utils import resolve_device, unwrap_model
from autoencoders._version import __version__
from autoencoders.errors import (
    GENERIC_ERRORS,
    AutoencodersError,
    InvalidTypeError,
    InvalidValueError,
    ModelFileError,
)
from autoencoders.model import Autoencoder
from autoencoders.registry import models

__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "atomic_write_bytes",
    "stage_bytes",
    "canonical_json",
    "load",
    "load_config",
    "remove_stale_temporaries",
    "safetensors_bytes",
    "save",
    "sha256_hex",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
#: The key of ``config.json`` that records the weights file (name, size, SHA-256).
WEIGHTS_RECORD = "weights"
_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp$")


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data``, as hex.

    Example:
        >>> sha256_hex(b"")[:16]
        'e3b0c44298fc1c14'
    """
    return hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    """``value`` as JSON with sorted keys and no spaces: the bytes that are hashed.

    Example:
        >>> canonical_json({"b": 1, "a": [1.5, None]})
        b'{"a":[1.5,null],"b":1}'
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # a process we may not signal exists
    return True


def remove_stale_temporaries(folder: str | os.PathLike[str], name: str | None = None) -> list[Path]:
    """Delete the temporary files that :func:`atomic_write_bytes` left in ``folder`` when its
    process was killed mid-write (only those of processes that no longer run).

    Args:
        folder: where to look.
        name: only the temporaries of this file name (None: all of them).

    Returns:
        The files removed.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = (d / ".config.json.999999999.abc.tmp").write_bytes(b"half")
        >>> [p.name for p in remove_stale_temporaries(d)]
        ['.config.json.999999999.abc.tmp']
    """
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _TMP.match(p.name)
        if m is None or (name is not None and m.group("name") != name):
            continue
        if not _pid_alive(int(m.group("pid"))) and p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temp file in the same folder, fsync, rename.

    A reader sees the old file or the new one, never a half-written one. The temp file's name
    carries the writer's process id, so the temporaries of a writer that was killed are found
    and removed by the next write of the same file (:func:`remove_stale_temporaries`).
    """
    path = Path(path)
    tmp = stage_bytes(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def stage_bytes(path: str | os.PathLike[str], data: bytes) -> str:
    """Write ``data`` to a temp file beside ``path`` and fsync it, without putting it in place:
    the first half of :func:`atomic_write_bytes`, so that a writer of several files can write
    them all before it renames any (``os.replace(returned, path)``). The temp file is removed
    if the write fails.
    """
    path = Path(path)
    remove_stale_temporaries(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp"
    )
    try:
        # mkstemp creates the file readable by its owner only; give it the usual 0o644 less umask
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(folder: Path) -> None:
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(dfd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(dfd)


def safetensors_bytes(state: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """``state`` as safetensors bytes that depend on the tensors and metadata only.

    With ``metadata``, the SHA-256 of the tensor data is added to it as ``data_sha256``.

    safetensors writes the header's keys in an arbitrary order (its metadata is a hash map),
    so two saves of one model would differ in bytes and in hash; the header is rewritten with
    sorted keys (the tensors' offsets are relative to the data, so they stay valid).

    Example:
        >>> t = {"w": torch.ones(2, 2)}
        >>> meta = {"format": "pt", "a": "1", "b": "2", "c": "3"}
        >>> safetensors_bytes(t, meta) == safetensors_bytes(t, dict(reversed(meta.items())))
        True
    """
    from safetensors.torch import save

    raw = save({k: v.detach().contiguous().cpu() for k, v in state.items()}, metadata=metadata)
    n = int.from_bytes(raw[:8], "little")
    doc = json.loads(raw[8 : 8 + n])
    if "__metadata__" in doc:  # the tensors' bytes vouch for themselves (see load)
        doc["__metadata__"]["data_sha256"] = sha256_hex(raw[8 + n :])
    header = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    head = header.encode("utf-8")
    head += b" " * (-len(head) % 8)  # safetensors aligns the data to 8 bytes
    return len(head).to_bytes(8, "little") + head + raw[8 + n :]


def save(model: Autoencoder, directory: str | os.PathLike[str]) -> Path:
    """Write ``config.json`` and ``model.safetensors`` for ``model`` into ``directory``.

    The folder is created if needed. The config is computed first, so a model that cannot be
    described (an unregistered block, a non-JSON argument) raises before anything on disk
    changes. Then both files are written to temporaries beside them and fsynced, and only
    then renamed into place, weights first: a write that fails (a full disk, a killed
    process) leaves the previous save as it was. Each file records the other's SHA-256, and
    the weights carry the config too, so a crash between the two renames leaves a folder that
    :func:`load` loads as the new model (with a warning), never the new weights with the old
    config. Temporaries of a save that was killed are removed by the next save.

    Args:
        model: an :class:`~autoencoders.Autoencoder`.
        directory: destination folder.

    Returns:
        The folder, as a :class:`~pathlib.Path`.

    Raises:
        TypeError: ``model`` is not an Autoencoder, or one of its blocks is not registered.

    Example:
        >>> import tempfile, autoencoders
        >>> with tempfile.TemporaryDirectory() as d:
        ...     folder = autoencoders.save(autoencoders.build("ae", h=32, z=2), d)
        ...     sorted(p.name for p in folder.iterdir())
        ['config.json', 'model.safetensors']
    """
    model = unwrap_model(model)  # torch.compile / DDP wrappers save as the model inside
    if not isinstance(model, Autoencoder):
        raise InvalidTypeError(
            f"save() takes an autoencoders.Autoencoder, got {type(model).__name__}; for a bare "
            "nn.Module use safetensors.torch.save_model"
        )
    config = model.config  # raises early, before touching the disk
    _check_config_describes(model, config)
    if not isinstance(directory, (str, os.PathLike)):
        raise InvalidTypeError(f"save() takes a folder path, got {type(directory).__name__}")
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise InvalidValueError(f"save() needs a folder, but {str(folder)!r} is a file")
    folder.mkdir(parents=True, exist_ok=True)
    text_config = canonical_json(config)
    meta = {
        "format": "pt",
        "library": "autoencoders",
        "version": __version__,
        "config": text_config.decode("ascii"),  # the weights describe themselves, too
        "config_sha256": sha256_hex(text_config),
    }
    weights = safetensors_bytes(model.state_dict(), meta)
    record = {"file": WEIGHTS_NAME, "bytes": len(weights), "sha256": sha256_hex(weights)}
    text = json.dumps({**config, WEIGHTS_RECORD: record}, indent=2, sort_keys=False) + "\n"
    staged: list[tuple[Path, str]] = []
    try:  # both files are written and fsynced before either is put in place
        for name, data in ((WEIGHTS_NAME, weights), (CONFIG_NAME, text.encode("utf-8"))):
            staged.append((folder / name, stage_bytes(folder / name, data)))
        for path, tmp in staged:
            os.replace(tmp, path)
    except BaseException:
        for _, tmp in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(folder)
    return folder


def _check_config_describes(model: Autoencoder, config: dict[str, Any]) -> None:
    """Raise, before anything is written, when the model that ``config`` rebuilds would not
    take ``model``'s state: a module or buffer added after the model was built, or a
    parameter given another shape, would make a folder that :func:`load` refuses."""
    try:
        with torch.device("meta"):  # the skeleton's shapes, without allocating its weights
            skeleton = Autoencoder.from_config(config)
    except Exception:  # a block that cannot be built on meta (it reads a value at init)
        skeleton = Autoencoder.from_config(config)
    want = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    extra, missing = sorted(have.keys() - want), sorted(want.keys() - have)
    reshaped = sorted(k for k in have.keys() & want if have[k] != want[k])
    if extra or missing or reshaped:
        found = [
            f"{label} {names[:5]}{' ...' if len(names) > 5 else ''}"
            for label, names in (
                ("not in the config:", extra),
                ("missing:", missing),
                ("of another shape than the config builds:", reshaped),
            )
            if names
        ]
        raise InvalidValueError(
            "save(): the model's config does not describe its state, so the saved folder "
            f"would not load ({'; '.join(found)}). A module, parameter or buffer added or "
            "resized after build() is not recorded; make it part of a registered block. "
            "Nothing was written."
        )


def _read_config(folder: Path) -> tuple[dict[str, Any], Any]:
    """``(model config, weights record or None)`` of ``folder/config.json``."""
    if not folder.is_dir():
        raise ModelFileError(f"no saved model at {str(folder)!r}: it is not a folder", folder)
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise ModelFileError(
            f"{str(folder)!r} has no {CONFIG_NAME}; a saved model folder holds {CONFIG_NAME} "
            f"and {WEIGHTS_NAME} (written by autoencoders.save)",
            folder,
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{str(path)!r} is not valid JSON: {exc}", path) from None
    except (OSError, RecursionError) as exc:
        raise ModelFileError(f"cannot read {str(path)!r}: {exc}", path) from None
    if not isinstance(config, dict):
        raise ModelFileError(
            f"{str(path)!r} must hold a JSON object, got {type(config).__name__}", path
        )
    record = config.pop(WEIGHTS_RECORD, None)
    return config, record


def load_config(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and parse ``config.json`` from a saved model folder: the model's config, as
    :attr:`autoencoders.Autoencoder.config` gives it (without the weights record).

    Raises:
        ModelFileError: no folder, no ``config.json``, or not a JSON object.
    """
    return _read_config(Path(directory))[0]


def _check_record(record: Any, path: Path) -> str:
    ok = isinstance(record, dict) and isinstance(record.get("sha256"), str)
    if not ok:
        raise ModelFileError(
            f"{str(path)!r}: the field {WEIGHTS_RECORD!r} must be {{'file': ..., 'bytes': ..., "
            f"'sha256': ...}} (written by autoencoders.save), got {record!r}",
            path,
        )
    return str(record["sha256"])


def _check_tensors(
    state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], path: Path
) -> None:
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mis_shaped = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    # floating tensors may come as any float dtype (cast to the model's); integer and bool
    # buffers (BatchNorm's counter, a VQ codebook's usage) must keep their exact dtype
    mis_typed = [
        f"{k}: file {state[k].dtype} vs model {expected[k].dtype}"
        for k in expected
        if k in state
        and (
            state[k].is_floating_point() != expected[k].is_floating_point()
            or (not expected[k].is_floating_point() and state[k].dtype != expected[k].dtype)
        )
    ]
    parts = []
    if missing:
        parts.append(f"missing {missing[:8]}{' ...' if len(missing) > 8 else ''}")
    if unexpected:
        parts.append(f"unexpected {unexpected[:8]}{' ...' if len(unexpected) > 8 else ''}")
    if mis_shaped:
        parts.append(f"wrong shape {mis_shaped[:8]}")
    if mis_typed:
        parts.append(f"wrong dtype {mis_typed[:8]}")
    if parts:
        raise ModelFileError(
            f"weights in {str(path)!r} do not match its {CONFIG_NAME}: " + "; ".join(parts), path
        )


def load(
    directory: str | os.PathLike[str],
    *,
    device: str | torch.device | None = "cpu",
    verify: bool = True,
) -> Autoencoder:
    """Rebuild a saved model through the registries and load its weights strictly.

    Checked, in order: the config (a JSON object of the supported format version, every block
    name registered, every block buildable from its keywords, a registered architecture
    name), the weights file (readable safetensors with exactly the model's tensor names,
    shapes and dtype kinds: a floating tensor may be stored in any float dtype and is cast to
    the model's, integer and bool tensors must match exactly), then that the two files are
    the ones one :func:`save` wrote together (their SHA-256 records).

    Args:
        directory: a folder written by :func:`save`.
        device: where to put the weights: ``"cpu"``, ``"cuda"``, ``"cuda:<i>"``, ``"mps"``,
            ``"auto"`` (CUDA, else MPS, else the CPU) or a :class:`torch.device`; None is
            the CPU.
        verify: check the SHA-256 records (folders written before they existed have none and
            load without them). Pass False to load files you edited on purpose.

    Returns:
        The model, in eval mode.

    Raises:
        ModelFileError: missing or unreadable files, a config that does not describe a model,
            weights that do not match it (missing, unexpected, mis-shaped and mis-typed tensors
            are listed), or files that were not saved together. A block name that no
            installed package registers is an :class:`~autoencoders.errors.UnknownNameError`
            naming what is registered.

    Example:
        >>> import tempfile, torch, autoencoders
        >>> model = autoencoders.build("conv_ae", z=8)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = autoencoders.save(model, d)
        ...     again = autoencoders.load(d)
        >>> again.name, again.training
        ('conv_ae', False)
        >>> all(torch.equal(a, b) for a, b in zip(again.parameters(), model.parameters()))
        True
    """
    # a misspelt device fails before any file is read; None is the CPU, as it always was
    device = resolve_device("cpu" if device is None else device)
    folder = Path(directory)
    config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
    config, record = _read_config(folder)
    if not weights_path.is_file():
        raise ModelFileError(f"{str(folder)!r} has {CONFIG_NAME} but no {WEIGHTS_NAME}", folder)
    try:
        data = weights_path.read_bytes()
        state = st_load(data)
        metadata = _metadata(data)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelFileError(
            f"cannot read weights {str(weights_path)!r}: {exc}", weights_path
        ) from None
    if verify and record is not None and _check_record(record, config_path) != sha256_hex(data):
        own = _self_described(data, metadata)
        if own is not None:  # a save interrupted between its two files: the weights are newer
            warnings.warn(
                f"{str(config_path)!r} is from an earlier save than {str(weights_path)!r} (a "
                "save was interrupted between the two files, or the weights file was "
                "replaced): the model is loaded as the weights file describes it; save it "
                "again to rewrite config.json",
                stacklevel=2,
            )
            config, record = own, None
            metadata = {}  # verified already, as a whole
    try:
        model = Autoencoder.from_config(config)
    except Exception as exc:  # the config is data from a file: any failure is the file's
        if isinstance(exc, AutoencodersError) and type(exc) not in GENERIC_ERRORS:
            raise  # names the block or the keyword already
        raise ModelFileError(f"{str(config_path)!r}: {exc}", config_path) from exc
    _check_tensors(state, model.state_dict(), weights_path)
    if verify and (record is not None or metadata):
        _verify(config, record, data, metadata, folder)
    if model.name is not None and model.name not in models:
        # the blocks define the model, and all of them are registered: it loads exactly, but
        # autoencoders.build(name) would not rebuild it here
        warnings.warn(
            f"{str(config_path)!r} names the architecture {model.name!r}, which is not a "
            f"registered model (registered: {', '.join(models.names())}); the model is rebuilt "
            "from its registered blocks, but build() cannot make another one here",
            stacklevel=2,
        )
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()


def _metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file's header (already parsed once by
    safetensors, so the header is known to be well formed)."""
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    meta = header.get("__metadata__") or {}
    return meta if isinstance(meta, dict) else {}


def _self_described(data: bytes, metadata: dict[str, str]) -> dict[str, Any] | None:
    """The config a weights file carries, if the file vouches for it and for its tensors
    (the SHA-256 of both match its records); else None."""
    text, n = metadata.get("config"), int.from_bytes(data[:8], "little")
    if not isinstance(text, str) or metadata.get("data_sha256") != sha256_hex(data[8 + n :]):
        return None
    if metadata.get("config_sha256") != sha256_hex(text.encode("utf-8")):
        return None
    try:
        config = json.loads(text)
    except ValueError:
        return None
    return config if isinstance(config, dict) else None


def _verify(
    config: dict[str, Any], record: Any, data: bytes, metadata: dict[str, str], folder: Path
) -> None:
    config_sha = metadata.get("config_sha256")
    if record is None and config_sha is None:
        return  # a folder saved before the records existed
    hint = (
        "The save that wrote them was interrupted, or a file was replaced or edited since; "
        "save the model again (or pass verify=False to load these files as they are)"
    )
    if record is None:
        raise ModelFileError(
            f"{str(folder / CONFIG_NAME)!r} has no {WEIGHTS_RECORD!r} record, but "
            f"{WEIGHTS_NAME} was written with one: the two files are not from the same save. "
            + hint,
            folder,
        )
    if _check_record(record, folder / CONFIG_NAME) != sha256_hex(data):
        raise ModelFileError(
            f"{str(folder / WEIGHTS_NAME)!r} is not the weights file that "
            f"{str(folder / CONFIG_NAME)!r} was saved with (its SHA-256 differs from the one "
            "recorded). " + hint,
            folder,
        )
    if config_sha != sha256_hex(canonical_json(config)):
        raise ModelFileError(
            f"{str(folder / CONFIG_NAME)!r} is not the config that {str(folder / WEIGHTS_NAME)!r} "
            "was saved with (its SHA-256 differs from the one recorded in the weights). " + hint,
            folder,
        )
