"""Figure plumbing shared by the plot modules (private to :mod:`autoencoders.plots`).

Creating and saving figures, resolving the ``ax=`` a caller passes into the axes to draw on,
tiling image batches and drawing them, moving inputs to a model.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from autoencoders._utils import device_of, gather
from autoencoders.errors import InvalidTypeError, InvalidValueError
from autoencoders.io import atomic_write_bytes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "INSTALL_HINT",
    "PlotPath",
    "as_batch",
    "check_model",
    "check_target",
    "draw_image_rows",
    "finish",
    "is_axes",
    "is_figure",
    "new_figure",
    "panel_axes",
    "result",
    "set_title",
    "show",
    "single_axes",
    "tile",
    "to_model",
]

#: Where a figure is written (a PNG path), or None to only return it.
PlotPath = str | os.PathLike[str] | None

INSTALL_HINT = "pip install 'autoencoders[plots]'"

#: What ``ax=`` accepts, for error messages.
_AX_KINDS = "a matplotlib Axes, a Figure / SubFigure, or a sequence of Axes"


# -- figures -------------------------------------------------------------------------------------
def new_figure(**kwargs: Any) -> Figure:
    """A new :class:`~matplotlib.figure.Figure`, not registered with pyplot."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"autoencoders.plots needs matplotlib, which is not installed ({exc}); "
            f"install it with: {INSTALL_HINT}"
        ) from None
    return Figure(**kwargs)


def finish(fig: Figure, save: PlotPath, dpi: int = 120) -> Figure:
    """Write ``fig`` to ``save`` (a PNG, parent folders created) and return it.

    The image is rendered into memory and then written atomically
    (:func:`autoencoders.io.atomic_write_bytes`), so a crash never leaves a half-written file.
    The format follows the suffix, as :meth:`~matplotlib.figure.Figure.savefig` does; a path
    without one gets matplotlib's default format (``savefig.format``, PNG) and its suffix.
    """
    if save is not None:
        path = Path(save)
        fmt = path.suffix[1:].lower()
        if not fmt:
            from matplotlib import rcParams

            fmt = str(rcParams["savefig.format"])
            path = path.with_name(f"{path.name}.{fmt}")
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", facecolor="white")
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buf.getvalue())
    return fig


# -- what the caller gave as ax= -----------------------------------------------------------------
def is_axes(obj: Any) -> bool:
    """Whether ``obj`` is a matplotlib Axes (imports matplotlib: call it only for a given ax)."""
    from matplotlib.axes import Axes

    return isinstance(obj, Axes)


def is_figure(obj: Any) -> bool:
    """Whether ``obj`` is a matplotlib Figure or SubFigure."""
    from matplotlib.figure import FigureBase

    return isinstance(obj, FigureBase)


def _axes_list(ax: Any, what: str) -> list[Axes]:
    if isinstance(ax, (str, bytes)) or (not isinstance(ax, Sequence) and not hasattr(ax, "flat")):
        raise InvalidTypeError(f"{what}: ax must be {_AX_KINDS}, got {type(ax).__name__}")
    axes = list(ax.flat) if hasattr(ax, "flat") else list(ax)  # a NumPy array of Axes too
    if not axes:
        raise InvalidTypeError(f"{what}: ax must be {_AX_KINDS}, got an empty {type(ax).__name__}")
    bad = [type(a).__name__ for a in axes if not is_axes(a)]
    if bad:
        raise InvalidTypeError(f"{what}: ax must be {_AX_KINDS}, got a sequence holding {bad[0]}")
    return axes


def check_target(ax: Any, save: PlotPath, what: str) -> None:
    """Refuse ``save`` together with ``ax``: only a figure the function creates is saved."""
    if ax is not None and save is not None:
        raise InvalidValueError(
            f"{what} got both ax= and save={str(save)!r}; it saves only a figure it creates "
            "itself: drop ax, or save the figure that holds your axes"
        )


def single_axes(ax: Any, what: str) -> Axes:
    """The one Axes to draw on: ``ax`` itself, or a new subplot of a Figure / SubFigure."""
    if is_axes(ax):
        return ax
    if is_figure(ax):
        return ax.add_subplot()
    if not isinstance(ax, (str, bytes)) and (isinstance(ax, Sequence) or hasattr(ax, "flat")):
        axes = _axes_list(ax, what)
        if len(axes) == 1:
            return axes[0]
        raise InvalidValueError(f"{what} draws one panel; ax holds {len(axes)} Axes, give one")
    raise InvalidTypeError(
        f"{what}: ax must be a matplotlib Axes or a Figure / SubFigure, got {ax!r}"
    )


def panel_axes(ax: Any, n: int, what: str, **subplots: Any) -> list[Axes]:
    """``n`` Axes side by side: new subplots of a Figure / SubFigure, or the ``n`` Axes given."""
    if is_figure(ax):
        return list(ax.subplots(1, n, squeeze=False, **subplots)[0])
    axes = [ax] if is_axes(ax) else _axes_list(ax, what)
    if len(axes) != n:
        raise InvalidValueError(
            f"{what} draws {n} panel{'s' if n > 1 else ''} here; ax holds {len(axes)} Axes "
            f"(give {n} Axes, or a Figure / SubFigure to draw them in)"
        )
    return axes


def set_title(target: Any, axes: Sequence[Axes], title: str, fontsize: float = 11) -> None:
    """The figure title of a Figure / SubFigure target, else the title of the first axes."""
    if is_figure(target):
        target.suptitle(title, fontsize=fontsize)
    else:
        axes[0].set_title(title, fontsize=fontsize)


def result(ax: Any) -> Any:
    """What a plot function returns when given ``ax``: that object (a sequence as a list)."""
    if is_axes(ax) or is_figure(ax):
        return ax
    return _axes_list(ax, "plot")


# -- images --------------------------------------------------------------------------------------
def as_batch(images: Any, what: str = "images", limit: int | None = None) -> torch.Tensor:
    """``(N, C, H, W)`` float tensor from a tensor/array of ``(N, C, H, W)`` or ``(N, H, W)``,
    or from any data :func:`autoencoders._utils.gather` reads (a split, a ``Dataset``, a
    ``DataLoader``, an ``(x, y)`` pair), of which the first ``limit`` items are read."""
    if isinstance(images, torch.Tensor) or type(images).__module__.startswith("numpy"):
        x = torch.as_tensor(images)
    else:
        x = gather(images, 256, what=what, limit=limit)[0]
    if limit is not None:
        x = x[:limit]
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4:
        raise InvalidValueError(
            f"{what} must have shape (N, C, H, W) or (N, H, W), got {tuple(x.shape)}"
        )
    if x.shape[1] not in (1, 3, 4):
        raise InvalidValueError(
            f"{what} must have 1 (grayscale), 3 (RGB) or 4 (RGBA) channels, got {x.shape[1]} "
            f"(shape {tuple(x.shape)})"
        )
    if x.shape[0] == 0:
        raise InvalidValueError(f"{what} is empty (shape {tuple(x.shape)})")
    return x.float()


def tile(images: torch.Tensor, ncol: int, pad: int = 1, pad_value: float = 1.0) -> Any:
    """Tile ``(N, C, H, W)`` images in [0, 1] into one ``(H', W')`` or ``(H', W', C)`` array."""
    n, c, h, w = images.shape
    ncol = max(1, min(ncol, n))
    nrow = math.ceil(n / ncol)
    canvas = torch.full(
        (c, nrow * (h + pad) + pad, ncol * (w + pad) + pad), float(pad_value), dtype=torch.float32
    )
    for i in range(n):
        r, k = divmod(i, ncol)
        top, left = pad + r * (h + pad), pad + k * (w + pad)
        canvas[:, top : top + h, left : left + w] = images[i]
    if c == 1:
        return canvas[0].numpy()
    return canvas.permute(1, 2, 0).numpy()


def show(
    ax: Axes,
    array: Any,
    ylabel: str | None = None,
    *,
    cmap: Any = "gray",
    vmin: float = 0.0,
    vmax: float = 1.0,
) -> None:
    """``imshow`` an image array on bare axes (no ticks or frame), with an optional row label."""
    ax.imshow(
        array,
        cmap=cmap if array.ndim == 2 else None,
        vmin=vmin,
        vmax=vmax,
        interpolation="nearest",
    )
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if ylabel:
        ax.set_ylabel(ylabel, rotation=0, ha="right", va="center", fontsize=9)


def _stacked(ax: Axes, arrays: list[Any], labels: list[str]) -> None:
    """All rows in one image on one Axes, a white gap between rows, labelled by y ticks."""
    width = max(a.shape[1] for a in arrays)
    gap = max(2, arrays[0].shape[0] // 8)
    parts, centres, top = [], [], 0
    for i, a in enumerate(arrays):
        if a.shape[1] < width:  # pad narrower rows on the right
            a = np.concatenate([a, np.ones((a.shape[0], width - a.shape[1], *a.shape[2:]))], 1)
        if i:
            parts.append(np.ones((gap, width, *a.shape[2:]), dtype=a.dtype))
            top += gap
        parts.append(a)
        centres.append(top + (a.shape[0] - 1) / 2)
        top += a.shape[0]
    show(ax, np.concatenate(parts, 0))
    if any(labels):
        ax.set_yticks(centres, labels, fontsize=9)
        ax.tick_params(axis="y", length=0)


def draw_image_rows(
    rows: Sequence[tuple[str, torch.Tensor]],
    ncol: int,
    title: str | None,
    ax: Any = None,
    *,
    what: str = "plot",
) -> Any:
    """Rows of images (already in [0, 1]), each a labelled strip; returns the figure or ``ax``.

    ``ax=None``: a new figure, one axes per row. A Figure / SubFigure: one axes per row in it.
    A sequence of Axes: one per row. One Axes: all rows stacked in one image, labelled by its
    y ticks.
    """
    n_img_rows = [math.ceil(r.shape[0] / ncol) for _, r in rows]
    if ax is not None and is_axes(ax) and len(rows) > 1:
        _stacked(ax, [tile(imgs, ncol) for _, imgs in rows], [label for label, _ in rows])
        if title:
            ax.set_title(title, fontsize=11)
        return ax
    if ax is None:
        h, w = rows[0][1].shape[-2:]
        cell = 0.9 if max(h, w) <= 64 else 1.2
        width = min(16.0, 1.4 + cell * ncol * w / max(h, w))
        height = 0.4 + sum(cell * k * h / max(h, w) for k in n_img_rows) + 0.15 * len(rows)
        target: Any = new_figure(figsize=(width, height), layout="constrained")
    else:
        target = ax
    if is_figure(target):
        grid = target.subplots(
            len(rows), 1, squeeze=False, gridspec_kw={"height_ratios": n_img_rows}
        )
        axes = list(grid[:, 0])
    else:
        axes = _axes_list(target, what) if not is_axes(target) else [target]
        if len(axes) != len(rows):
            raise InvalidValueError(
                f"{what} draws {len(rows)} rows of images; ax holds {len(axes)} Axes (give "
                f"{len(rows)} Axes, one Axes for all rows, or a Figure / SubFigure)"
            )
    for a, (label, imgs) in zip(axes, rows):
        show(a, tile(imgs, ncol), label)
    if title:
        set_title(target, axes, title)
    return target if ax is None else result(ax)


# -- models --------------------------------------------------------------------------------------
def check_model(model: Any) -> None:
    """A TypeError unless ``model`` looks like an :class:`~autoencoders.Autoencoder`."""
    for attr in ("encode", "decode", "reconstruct", "output_activation"):
        if not hasattr(model, attr):
            raise InvalidTypeError(
                f"expected an autoencoders.Autoencoder, got {type(model).__name__} "
                f"(it has no {attr!r})"
            )


def to_model(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``x`` on the model's device, in its floating-point dtype (float32 by default)."""
    p = next(iter(model.parameters()), None)
    dtype = p.dtype if p is not None and p.is_floating_point() else torch.float32
    return x.to(device_of(model), dtype)
