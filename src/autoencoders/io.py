"""Saving and loading models: ``config.json`` + ``model.safetensors``, never pickle.

``save(model, dir)`` writes the model's config (block names and keyword arguments, see
:attr:`autoencoders.Autoencoder.config`) as JSON and its weights as safetensors.
``load(dir)`` rebuilds the model through the registries and loads the weights strictly, so a
model made of user-registered blocks loads anywhere those blocks are registered (imported, or
provided by an installed plugin).

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

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from autoencoders._utils import unwrap_model
from autoencoders._version import __version__
from autoencoders.model import Autoencoder

__all__ = ["CONFIG_NAME", "WEIGHTS_NAME", "atomic_write_bytes", "load", "load_config", "save"]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temp file in the same folder, fsync, rename.

    A reader sees the old file or the new one, never a half-written one.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates the file readable by its owner only; give it the usual 0o644 less umask
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


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


def _state_dict_bytes(state: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    from safetensors.torch import save

    return save({k: v.detach().contiguous().cpu() for k, v in state.items()}, metadata=metadata)


def save(model: Autoencoder, directory: str | os.PathLike[str]) -> Path:
    """Write ``config.json`` and ``model.safetensors`` for ``model`` into ``directory``.

    The folder is created if needed. Both files are written atomically (temp file, fsync,
    rename), and the config is computed first, so a model that cannot be described (an
    unregistered block, a non-JSON argument) raises before anything on disk changes.

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
        raise TypeError(
            f"save() takes an autoencoders.Autoencoder, got {type(model).__name__}; for a bare "
            "nn.Module use safetensors.torch.save_model"
        )
    config = model.config  # raises early, before touching the disk
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"save() needs a folder, but {str(folder)!r} is a file")
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"format": "pt", "library": "autoencoders", "version": __version__}
    weights = _state_dict_bytes(model.state_dict(), meta)
    atomic_write_bytes(folder / WEIGHTS_NAME, weights)
    text = json.dumps(config, indent=2, sort_keys=False) + "\n"
    atomic_write_bytes(folder / CONFIG_NAME, text.encode("utf-8"))
    return folder


def load_config(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and parse ``config.json`` from a saved model folder."""
    folder = Path(directory)
    if not folder.is_dir():
        raise ValueError(f"no saved model at {str(folder)!r}: it is not a folder")
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise ValueError(
            f"{str(folder)!r} has no {CONFIG_NAME}; a saved model folder holds {CONFIG_NAME} "
            f"and {WEIGHTS_NAME} (written by autoencoders.save)"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{str(path)!r} must hold a JSON object, got {type(config).__name__}")
    return config


def load(directory: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> Autoencoder:
    """Rebuild a saved model through the registries and load its weights strictly.

    Args:
        directory: a folder written by :func:`save`.
        device: where to put the weights.

    Returns:
        The model, in eval mode.

    Raises:
        ValueError: missing or unreadable files, an unknown block name (with what is
            registered), or weights that do not match the config (missing, unexpected or
            mis-shaped tensors are listed).

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
    folder = Path(directory)
    config = load_config(folder)
    weights_path = folder / WEIGHTS_NAME
    if not weights_path.is_file():
        raise ValueError(f"{str(folder)!r} has {CONFIG_NAME} but no {WEIGHTS_NAME}")
    model = Autoencoder.from_config(config)
    try:
        state = load_file(str(weights_path), device=str(device))
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"cannot read weights {str(weights_path)!r}: {exc}") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mis_shaped = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    if missing or unexpected or mis_shaped:
        parts = []
        if missing:
            parts.append(f"missing {missing[:8]}{' ...' if len(missing) > 8 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:8]}{' ...' if len(unexpected) > 8 else ''}")
        if mis_shaped:
            parts.append(f"wrong shape {mis_shaped[:8]}")
        raise ValueError(
            f"weights in {str(weights_path)!r} do not match its {CONFIG_NAME}: " + "; ".join(parts)
        )
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()
