"""The few private helpers shared across the library: one way to do each cross-cutting job.

* :func:`unwrap_model` — the bare module behind ``torch.compile`` and DDP wrappers;
* :func:`evaluating` — eval mode and no gradients, the previous mode restored afterwards;
* :func:`device_of` — the device of a module's parameters;
* :func:`iter_batches` / :func:`gather` — user data (tensors, arrays, ``(x, y)`` pairs,
  datasets, loaders) as ``(x, y)`` batches, or all of it as two tensors.

Nothing here is public API: modules of the library import these names, users do not.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from autoencoders.errors import InvalidTypeError, InvalidValueError

__all__ = [
    "user_stacklevel",
    "device_of",
    "evaluating",
    "flatten_mapping",
    "gather",
    "iter_batches",
    "resolve_device",
    "unwrap_model",
]


def unwrap_model(model: Any) -> Any:
    """The module inside any nesting of ``torch.compile``, ``DistributedDataParallel`` and
    ``DataParallel`` wrappers.

    Example:
        >>> import autoencoders
        >>> m = autoencoders.build("ae", h=8, z=2)
        >>> unwrap_model(torch.compile(m)) is m, unwrap_model(nn.DataParallel(m)) is m
        (True, True)
    """
    seen = 0
    while seen < 8:  # compile(DDP(compile(m))) at the deepest in practice
        inner = getattr(model, "_orig_mod", None)  # torch.compile's OptimizedModule
        if inner is None and isinstance(
            model, (nn.parallel.DistributedDataParallel, nn.DataParallel)
        ):
            inner = model.module
        if inner is None:
            return model
        model, seen = inner, seen + 1
    return model


def flatten_mapping(mapping: Mapping[str, Any], sep: str, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one flat dict, the keys joined with ``sep``.

    Example:
        >>> flatten_mapping({"train": {"loss": 1, "kl": 2}, "epoch": 3}, "_")
        {'train_loss': 1, 'train_kl': 2, 'epoch': 3}
    """
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_mapping(value, sep, f"{name}{sep}"))
        else:
            flat[name] = value
    return flat


def device_of(model: nn.Module) -> torch.device:
    """The device of the first parameter (or buffer); the CPU for a module without either."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode without gradients for the ``with`` block; the previous mode is restored.

    Example:
        >>> import autoencoders
        >>> m = autoencoders.build("ae", h=8, z=2).train()
        >>> with evaluating(m):
        ...     m.training, torch.is_grad_enabled()
        (False, False)
        >>> m.training
        True
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def _as_float_tensor(x: Any, what: str) -> torch.Tensor:
    if type(x).__module__.startswith("numpy"):
        x = torch.as_tensor(x)
    if not isinstance(x, torch.Tensor):
        raise InvalidTypeError(
            f"{what} items must be tensors (or NumPy arrays), got {type(x).__name__}; convert "
            "images with torchvision.transforms.ToTensor() or autoencoders.data.from_tensors"
        )
    if not x.is_floating_point():
        raise InvalidTypeError(
            f"{what} has dtype {x.dtype}; models take floating-point data in their pixel range "
            "(autoencoders.data.from_tensors scales uint8 images)"
        )
    return x


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning of the calling function point at the first
    frame outside this package (the user's line), however deep in the library it is raised."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


def _is_array(obj: Any) -> bool:
    return isinstance(obj, torch.Tensor) or type(obj).__module__.startswith("numpy")


def tensor_pair(data: Any, what: str = "data") -> TensorDataset | None:
    """``data`` as a ``TensorDataset`` when it is an ``(x, y)`` tuple or list (or an ``(x,)``
    tuple) of tensors or numpy arrays, ``x`` a batch (2-D or more) and ``y`` one label per
    row; else None (a list of one or two samples is a dataset of its own). Their lengths
    must agree.

    Example:
        >>> pair = tensor_pair((torch.rand(3, 2), torch.arange(3)))
        >>> len(pair), pair[0][1].item()
        (3, 0)
        >>> tensor_pair(torch.rand(3, 2)) is None
        True
        >>> tensor_pair((torch.rand(3, 2), torch.arange(4)))
        Traceback (most recent call last):
          ...
        autoencoders.errors.InvalidValueError: data is an (x, y) pair with 3 inputs but 4 labels
    """
    if not (isinstance(data, (tuple, list)) and 1 <= len(data) <= 2 and all(map(_is_array, data))):
        return None
    tensors = [torch.as_tensor(t) for t in data]
    # a batch of inputs (2-D or more) and one label per row; anything else is a list of
    # samples, a dataset of its own: [image, image], [image], (vector, vector)
    labels_like = len(tensors) == 1 or tensors[1].dim() == 1 or tuple(tensors[1].shape[1:]) == (1,)
    if tensors[0].dim() < 2 or not labels_like or (len(tensors) == 1 and isinstance(data, list)):
        return None
    if len(tensors) == 2 and len(tensors[0]) != len(tensors[1]):
        raise InvalidValueError(
            f"{what} is an (x, y) pair with {len(tensors[0])} inputs but {len(tensors[1])} labels"
        )
    return TensorDataset(*tensors)


def iter_batches(
    data: Any, batch_size: int, *, what: str = "data"
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Yield ``(x, y)`` batches of ``data`` in order (``y`` is None when there are no labels).

    ``data`` is a tensor or array of inputs, an ``(x, y)`` pair of them, a ``Dataset`` (of
    ``x`` or ``(x, y, ...)`` items), a ``DataLoader`` or any iterable of such batches. A
    dataset with a ``scaled_batches(batch_size)`` method (the uint8 image datasets) is
    iterated by it, batch by batch, instead of item by item.

    Raises:
        TypeError: for train/validation/test splits (pass one split), non-float inputs, or
            something that is not data.

    Example:
        >>> x, y = torch.rand(5, 1, 2, 2), torch.arange(5)
        >>> [(len(a), b.tolist()) for a, b in iter_batches((x, y), 2)]
        [(2, [0, 1]), (2, [2, 3]), (1, [4])]
        >>> [b for _, b in iter_batches(x, 4)]
        [None, None]
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if hasattr(data, "train") and hasattr(data, "test") and not isinstance(data, Dataset):
        raise InvalidTypeError(
            f"got train/validation/test splits as {what}; pass one split, e.g. splits.test"
        )
    data = tensor_pair(data, what) or data
    if _is_array(data):
        x = _as_float_tensor(data, what)
        for i in range(0, len(x), batch_size):
            yield x[i : i + batch_size], None
        return
    if isinstance(data, TensorDataset):
        x = _as_float_tensor(data.tensors[0], what)
        y = data.tensors[1] if len(data.tensors) > 1 else None
        for i in range(0, len(x), batch_size):
            yield x[i : i + batch_size], (y[i : i + batch_size] if y is not None else None)
        return
    if isinstance(data, Dataset) and callable(getattr(type(data), "scaled_batches", None)):
        for x, y in data.scaled_batches(batch_size):  # uint8 images, scaled batch by batch
            yield x, y
        return
    if isinstance(data, Dataset):
        data = DataLoader(data, batch_size=batch_size, shuffle=False)
    if isinstance(data, (str, bytes, dict)) or not hasattr(data, "__iter__"):
        raise InvalidTypeError(
            f"{what} must be a tensor, an (x, y) pair of tensors, a Dataset or a DataLoader, "
            f"got {type(data).__name__}"
        )
    for item in data:
        if isinstance(item, (tuple, list)):
            if not item:
                raise InvalidValueError(f"{what} yields empty items; expected x or (x, label)")
            x, y = item[0], (item[1] if len(item) > 1 else None)
        else:
            x, y = item, None
        yield _as_float_tensor(x, what), (torch.as_tensor(y) if y is not None else None)


def label_kwargs(model: Any, y: torch.Tensor | None, what: str = "data") -> dict[str, Any]:
    """``{"labels": y}`` for a conditional model (one that ``takes_labels``), else ``{}``.

    Every metric and plot that runs a model on data passes its batches' labels this way, so
    a conditional model gets them and every other model runs as before.

    Raises:
        ValueError: the model is conditional and ``y`` is None (the data has no labels).

    Example:
        >>> import autoencoders
        >>> label_kwargs(autoencoders.build("ae", h=8, z=2), torch.arange(3))
        {}
        >>> label_kwargs(autoencoders.build("cvae", h=8, z=2), torch.arange(3))
        {'labels': tensor([0, 1, 2])}
    """
    if not getattr(model, "takes_labels", False):
        return {}
    if y is None:
        raise InvalidValueError(
            f"{what} has no labels, but the model is conditional (it takes labels=); give "
            "(x, y) items or an (x, y) pair of tensors"
        )
    return {"labels": y}


def gather(
    data: Any,
    batch_size: int = 4096,
    *,
    need_labels: bool = False,
    what: str = "data",
    limit: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """All of ``data`` (or its first ``limit`` items) as one ``(x, y)`` pair of tensors.

    ``y`` is None when the data has no labels. With ``limit``, reading stops at the batch that
    reaches it, so a large lazy dataset is not read whole.

    Raises:
        ValueError: ``data`` is empty, or has no labels while ``need_labels`` is set.

    Example:
        >>> x, y = gather((torch.rand(5, 3), torch.arange(5)), batch_size=2)
        >>> x.shape, y.tolist()
        (torch.Size([5, 3]), [0, 1, 2, 3, 4])
        >>> gather(torch.rand(100, 3), batch_size=8, limit=10)[0].shape
        torch.Size([10, 3])
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidValueError(f"limit must be a positive integer or None, got {limit!r}")
    xs, ys, count = [], [], 0
    for x, y in iter_batches(data, batch_size, what=what):
        xs.append(x)
        ys.append(y)
        count += len(x)
        if limit is not None and count >= limit:
            break
    if not xs:
        raise InvalidValueError(f"{what} is empty")
    labels = None if any(y is None for y in ys) else torch.cat([y.reshape(-1) for y in ys])
    if need_labels and labels is None:
        raise InvalidValueError(f"{what} has no labels; give (x, y) items or an (x, y) pair")
    x = torch.cat(xs)
    if limit is not None:
        x = x[:limit]
        labels = labels[:limit] if labels is not None and len(labels) == count else labels
    return x, labels


def resolve_device(device: str | torch.device, local_rank: int = 0) -> torch.device:
    """``"auto"`` -> ``cuda:<local_rank>`` when CUDA is available, else ``mps``, else ``cpu``.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidValueError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:<i>', 'mps' or a torch.device, "
            f"got {device!r}"
        ) from None
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise InvalidValueError(f"device {device!r} asked for MPS, which is not available here")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InvalidValueError(
                f"device {device!r} asked for CUDA, which is not available here"
            )
        if dev.index is None:
            dev = torch.device("cuda", local_rank % torch.cuda.device_count())
    return dev
