"""Tensors or NumPy arrays already in memory as a dataset, registered as ``"tensors"``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from autoencoders.data._checks import (
    PixelRangeLike,
    check_fraction,
    check_limit,
    check_seed,
    split_count,
)
from autoencoders.data.pixels import parse_pixel_range, scale_uint8
from autoencoders.data.splits import DataSplits, seeded_permutation, tensor_splits
from autoencoders.errors import InvalidTypeError, InvalidValueError
from autoencoders.registry import datasets

__all__ = ["from_tensors"]


def _as_image_tensor(x: Any, channels_last: bool | None, what: str) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        if x.dtype == object:
            raise InvalidTypeError(f"{what} is an object array; give a numeric array")
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise InvalidTypeError(
            f"{what} must be a torch.Tensor or numpy.ndarray, got {type(x).__name__}"
        )
    if x.ndim < 2:
        raise InvalidValueError(
            f"{what} must have shape (N, ...) with at least 2 dims, got {tuple(x.shape)}"
        )
    if not (x.dtype == torch.uint8 or x.is_floating_point()):
        raise InvalidTypeError(
            f"{what} has dtype {x.dtype}; accepted: uint8 (0..255, scaled) or floating point "
            "(passed through)"
        )
    if x.ndim == 3:
        return x.unsqueeze(1)
    if x.ndim == 4:
        move = channels_last
        if move is None:
            move = x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4)
        if move:
            return x.permute(0, 3, 1, 2).contiguous()
    return x


def _as_labels(y: Any, n: int, what: str) -> torch.Tensor:
    if y is None:
        return torch.full((n,), -1, dtype=torch.long)
    if isinstance(y, np.ndarray):
        y = torch.from_numpy(np.ascontiguousarray(y))
    y = torch.as_tensor(y)
    if y.is_floating_point() or y.dtype == torch.bool:
        raise InvalidTypeError(f"{what} must hold integer labels, got dtype {y.dtype}")
    if y.dim() > 1 and y.shape[1:].numel() != 1:  # (n, 1) is one label per item; (n, k) not
        raise InvalidValueError(
            f"{what} has shape {tuple(y.shape)}: it needs one integer label per item, shape "
            f"({n},) (one-hot rows? use y.argmax(1))"
        )
    y = y.reshape(-1).long()
    if len(y) != n:
        raise InvalidValueError(f"{what} has {len(y)} labels for {n} items")
    return y


def _data_range(x: torch.Tensor, pixel_range: PixelRangeLike) -> tuple[float, float]:
    if isinstance(pixel_range, str) and pixel_range.strip().lower() == "auto":
        if x.dtype == torch.uint8 or len(x) == 0:
            return (0.0, 1.0)
        return (-1.0, 1.0) if float(x.min()) < 0 else (0.0, 1.0)
    return parse_pixel_range(pixel_range)


def _to_float(x: torch.Tensor, pixel_range: tuple[float, float]) -> torch.Tensor:
    return scale_uint8(x, pixel_range) if x.dtype == torch.uint8 else x.float()


@datasets.register("tensors", aliases=("arrays",))
def from_tensors(
    x: Any,
    y: Any = None,
    *,
    test_x: Any = None,
    test_y: Any = None,
    val_fraction: float = 0.1,
    val_size: int | None = None,
    test_fraction: float = 0.1,
    split_seed: int = 0,
    pixel_range: PixelRangeLike = "auto",
    channels_last: bool | None = None,
    name: str = "tensors",
    class_names: Sequence[str] | None = None,
    limit: int | None = None,
    flatten: bool = False,
) -> DataSplits:
    """Splits from tensors or NumPy arrays already in memory (e.g. Keras' ``mnist.load_data()``).

    ``uint8`` data (0..255) is scaled to ``pixel_range`` (``"auto"``: [0, 1]); floating-point
    data is passed through unchanged and ``pixel_range`` only records its range (``"auto"``:
    [-1, 1] if it has negative values, else [0, 1]). Images ``(N, H, W)`` get a channel axis;
    ``(N, H, W, C)`` arrays with ``C`` in (1, 3, 4) are moved to channels-first when
    ``channels_last`` is ``None`` and the second axis does not look like channels.

    The validation split is carved from ``x`` with a permutation seeded by ``split_seed``; so is
    the test split (``test_fraction``) unless ``test_x`` is given. Registered as the dataset
    ``"tensors"``: ``load_dataset("tensors", x=..., y=...)`` calls it.

    Args:
        x: images or vectors, ``(N, ...)``.
        y: integer labels ``(N,)``, or ``None`` (labels ``-1``).
        test_x: a separate test set (default: carve one from ``x``).
        test_y: its labels.
        val_fraction: fraction of ``x`` for validation (``val_size`` overrides it).
        val_size: number of items of ``x`` for validation.
        test_fraction: fraction of ``x`` for testing when ``test_x`` is not given.
        split_seed: seed of the permutation.
        pixel_range: see above.
        channels_last: force (``True``) or prevent (``False``) the move of a last channel axis.
        name: recorded in :attr:`DataSplits.name`.
        class_names: names of the labels.
        limit: keep at most this many items per split.
        flatten: flatten each item.

    Example:
        >>> import numpy as np
        >>> x = np.zeros((20, 8, 8, 3), dtype=np.uint8); x[:, 0, 0, 0] = 255
        >>> s = from_tensors(x, pixel_range="[-1,1]", test_fraction=0.0, val_size=4)
        >>> s.input_shape, s.sizes(), s.tensors()[0][0, 0, 0, :2].tolist(), s.num_classes
        ((3, 8, 8), {'train': 16, 'val': 4, 'test': 0}, [1.0, -1.0], None)
    """
    val_fraction = check_fraction(val_fraction, "val_fraction")
    test_fraction = check_fraction(test_fraction, "test_fraction")
    split_seed = check_seed(split_seed)
    limit = check_limit(limit)
    xt = _as_image_tensor(x, channels_last, "x")
    yt = _as_labels(y, len(xt), "y")
    prange = _data_range(xt, pixel_range)
    xt = _to_float(xt, prange)
    n = len(xt)
    perm = seeded_permutation(n, split_seed)
    if test_x is None:
        if test_y is not None:
            raise InvalidValueError("test_y given without test_x")
        n_test = round(n * test_fraction)
        test_idx, perm = perm[:n_test], perm[n_test:]
        tx, ty = xt[test_idx], yt[test_idx]
    else:
        tx = _as_image_tensor(test_x, channels_last, "test_x")
        ty = _as_labels(test_y, len(tx), "test_y")
        tx = _to_float(tx, prange)
        if tx.shape[1:] != xt.shape[1:]:
            raise InvalidValueError(
                f"test_x items have shape {tuple(tx.shape[1:])} but x items {tuple(xt.shape[1:])}"
            )
    n_val = split_count(n, val_fraction, val_size, "val_size")
    if n_val >= len(perm):
        raise InvalidValueError(
            f"{n} items are too few for a training split with {n_val} validation and "
            f"{n - len(perm)} test items"
        )
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    parts = {"train": (xt[train_idx], yt[train_idx]), "val": (xt[val_idx], yt[val_idx])}
    parts["test"] = (tx, ty)
    if limit is not None:
        parts = {k: (a[:limit], b[:limit]) for k, (a, b) in parts.items()}
    all_y = torch.cat([yt, ty])
    labelled = bool(len(all_y)) and bool((all_y >= 0).all())
    num_classes = int(all_y.max()) + 1 if labelled else None
    idx, start = {}, 0
    for key, (a, _) in parts.items():
        idx[key] = torch.arange(start, start + len(a))
        start += len(a)
    return tensor_splits(
        torch.cat([p[0] for p in parts.values()]),
        torch.cat([p[1] for p in parts.values()]),
        idx,
        name=name,
        num_classes=num_classes,
        pixel_range=prange,
        class_names=tuple(class_names) if class_names is not None else None,
        flatten=flatten,
    )
