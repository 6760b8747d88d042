"""The data of a run: ``RunSettings.data`` read at the model's input shape and pixel range."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autoencoders._utils import unwrap_model
from autoencoders.data import DataSplits, dataset_takes, load_dataset, native_shape
from autoencoders.runs.settings import RunError, RunSettings

__all__ = ["check_data", "data_for_models", "data_summary", "dataset_name", "load_data"]

logger = logging.getLogger("autoencoders.runs")


def dataset_name(data: str) -> str:
    """A dataset name, ``folder:<path>``, or an existing folder of images (-> ``folder:<path>``).

    Example:
        >>> dataset_name("mnist"), dataset_name(".").startswith("folder:")
        ('mnist', True)
    """
    if ":" not in data and Path(data).expanduser().is_dir():
        return f"folder:{Path(data).expanduser()}"
    return data


def _compact(value: Any) -> str:
    """``value`` as a ``--set`` value that needs no shell quoting: ``[1,28,28]``."""
    return json.dumps(value, separators=(",", ":"))


def load_data(settings: RunSettings, model: Any) -> DataSplits:
    """Load ``settings.data`` as splits that ``model`` takes.

    The pixel range follows the model (:attr:`Autoencoder.pixel_range
    <autoencoders.Autoencoder.pixel_range>`), and a dataset of image files that can resize
    its images or change their number of channels (its loader takes ``image_size`` /
    ``channels``: a folder, CelebA, a plugin's) reads them at the model's size and channels.
    A dataset that declares a fixed ``native_shape`` (MNIST-style data, 1x28x28) is read at
    that shape, so a model of another shape is an error rather than a silent upsampling.

    Raises:
        RunError: the model's input cannot be read from this data (see :func:`check_data`).
        autoencoders.data.DatasetNotFoundError: the data is not on disk (nor downloadable).
    """
    net = unwrap_model(model)
    name = dataset_name(settings.data)
    shape = tuple(net.input_shape)
    image_size, channels = None, None
    if len(shape) == 3 and native_shape(name) is None:  # image files: at the model's shape
        if dataset_takes(name, "channels"):
            if shape[0] not in (1, 3):
                grey, rgb = (_compact([c, *shape[1:]]) for c in (1, 3))
                raise RunError(
                    f"model expects {shape[0]}-channel images (input shape {shape}) but image "
                    f"files are read with 1 (greyscale) or 3 (RGB) channels; build it with "
                    f"input_shape={grey} or {rgb} if it takes that argument",
                    cli=f"model expects {shape[0]}-channel images (input shape {shape}) but "
                    "image files are read with 1 (greyscale) or 3 (RGB) channels; pass --set "
                    f"input_shape={grey} or {rgb} if the model takes it",
                )
            channels = shape[0]
        image_size = shape[1] if shape[1] == shape[2] else (shape[1], shape[2])
    logger.info("loading %s (pixel range %s)", name, list(net.pixel_range))
    splits = load_dataset(
        name,
        root=settings.data_root,
        pixel_range=net.pixel_range,
        image_size=image_size,
        channels=channels,
        limit=settings.limit,
        download=settings.download or None,
    )
    check_data(splits, net, settings.data)
    return splits


def data_for_models(
    settings: RunSettings,
    models: Sequence[Any],
    splits: Any = None,
    *,
    names: Sequence[str] | None = None,
) -> list[DataSplits]:
    """The data of each model: ``splits`` checked against every one, or ``settings.data`` loaded
    once per distinct input shape and pixel range (so a sweep reads its files once).

    Args:
        settings: the data options.
        models: the models.
        splits: data already loaded, for every model.
        names: what to call each model in an error (``sweep point z=2``): a model whose
            input the data cannot give is a :class:`RunError` starting with its name.

    Example:
        >>> import torch, autoencoders
        >>> from autoencoders.data import from_tensors
        >>> nets = [autoencoders.build("ae", z=2), autoencoders.build("vae", z=3)]
        >>> data = from_tensors(torch.rand(8, 1, 28, 28))
        >>> [d is data for d in data_for_models(RunSettings(), nets, data)]
        [True, True]
    """
    out, loaded = [], {}
    for i, model in enumerate(models):
        try:
            if splits is not None:
                check_data(splits, model)
                out.append(splits)
                continue
            net = unwrap_model(model)
            key = (tuple(net.input_shape), tuple(net.pixel_range))
            if key not in loaded:
                loaded[key] = load_data(settings, net)
            out.append(loaded[key])
        except RunError as exc:
            if names is None:
                raise
            raise RunError(f"{names[i]}: {exc}", cli=f"{names[i]}: {exc.cli_message}") from exc
    return out


def check_data(splits: Any, model: Any, data: str | None = None) -> None:
    """Raise :class:`RunError` when the items of ``splits`` do not have ``model``'s input shape.

    Example:
        >>> import torch, autoencoders
        >>> from autoencoders.data import from_tensors
        >>> check_data(from_tensors(torch.rand(8, 1, 28, 28)), autoencoders.build("ae"))
        >>> check_data(from_tensors(torch.rand(8, 10)), autoencoders.build("ae"))
        Traceback (most recent call last):
          ...
        autoencoders.errors.RunError: model expects inputs of shape (1, 28, 28) but ...
    """
    shape = tuple(unwrap_model(model).input_shape)
    data_shape = tuple(splits.input_shape)
    if data_shape == shape:
        return
    what = repr(data if data is not None else getattr(splits, "name", "the data"))
    fix = _compact(list(data_shape))
    raise RunError(
        f"model expects inputs of shape {shape} but {what} has {data_shape}; build it with "
        f"input_shape={fix} if it takes that argument, or use other data",
        cli=f"model expects inputs of shape {shape} but {what} has {data_shape}; pass --set "
        f"input_shape={fix} if the model takes it, or pick another --data",
    )


def data_summary(splits: Any, settings: RunSettings) -> dict[str, Any]:
    """What ``run.json`` records under ``"data"``: the splits' summary, root and limit."""
    summary = dict(splits.summary()) if hasattr(splits, "summary") else {}
    summary.setdefault("name", settings.data)
    summary["root"] = settings.data_root
    summary["limit"] = settings.limit
    return summary
