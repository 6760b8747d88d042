"""First-layer weights drawn as images: :func:`plot_filters`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from torch import nn

from autoencoders._utils import unwrap_model
from autoencoders.errors import InvalidValueError
from autoencoders.plots._figures import (
    PlotPath,
    check_target,
    finish,
    new_figure,
    result,
    show,
    single_axes,
    tile,
)

if TYPE_CHECKING:  # pragma: no cover
    from autoencoders.model import Autoencoder

__all__ = ["plot_filters"]


def _first_layer(model: nn.Module) -> nn.Module:
    # encoder first, then the bottleneck (a linear AE's only encoding layer lives there)
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            return module
    raise InvalidValueError(
        f"found no Linear or Conv2d layer in {type(model).__name__}; plot_filters shows the "
        "weights of the first Linear or Conv2d layer that reads the input"
    )


def plot_filters(
    model: Autoencoder,
    *,
    max_filters: int = 64,
    ncol: int | None = None,
    title: str | None = None,
    ax: Any = None,
    save: PlotPath = None,
) -> Any:
    """The weights of the first layer (the one reading the input), drawn as images.

    A first ``Linear`` layer reading the flattened input has one row of weights per unit;
    each is reshaped to the input's ``(C, H, W)``. A first ``Conv2d`` has one ``(C, k, k)``
    kernel per output channel. Single-channel filters are drawn signed (each divided by its
    largest absolute weight: red positive, white zero, blue negative, black gaps); 3-channel
    (RGB) filters are each scaled to their own min-max. Inputs with another number of
    channels show the first input channel.

    Args:
        model: the autoencoder.
        max_filters: show at most this many (the first ones).
        ncol: filters per row (default: about ``sqrt``).
        title: axes title.
        ax: an Axes to draw the filters on, or a Figure / SubFigure to add them to, instead
            of a new figure; ``save`` is not allowed then.
        save: PNG path to write.

    Returns:
        The new figure (one axes holding the tiled filters), or ``ax`` when given.

    Raises:
        ValueError: the encoder has no Linear/Conv2d layer, or its first Linear layer does
            not read the flattened input.

    Example:
        >>> import autoencoders
        >>> fig = plot_filters(autoencoders.build("ae", h=32, z=2), max_filters=16)
        >>> fig.axes[0].get_images()[0].get_array().shape
        (117, 117)
        >>> fig = plot_filters(autoencoders.build("conv_ae"))
        >>> fig.axes[0].get_title()
        'first-layer filters: Conv2d(1→16, 3x3), 16 of 16 shown (red > 0 > blue)'
    """
    check_target(ax, save, "plot_filters")
    model = unwrap_model(model)
    layer = _first_layer(model)
    w = layer.weight.detach().float().cpu()
    if isinstance(layer, nn.Linear):
        shape = tuple(getattr(model, "input_shape", ()))
        extra = int(getattr(getattr(model, "encoder", None), "condition_features", 0) or 0)
        if extra and math.prod(shape) + extra == w.shape[1]:
            w = w[:, : math.prod(shape)]  # the pixels' weights; the condition's come after
        if math.prod(shape) != w.shape[1]:
            raise InvalidValueError(
                f"the first Linear layer reads {w.shape[1]} features, not the flattened input "
                f"{shape}; cannot draw its rows as images"
            )
        filters = w.reshape(w.shape[0], *shape)
        desc = f"Linear({w.shape[1]}→{w.shape[0]})"
    else:
        filters = w
        k = tuple(w.shape[-2:])
        desc = f"Conv2d({w.shape[1]}→{w.shape[0]}, {k[0]}x{k[1]})"
    if filters.dim() == 3:
        filters = filters.unsqueeze(1)
    if filters.shape[1] not in (1, 3):
        filters = filters[:, :1]
    total = filters.shape[0]
    filters = filters[: int(max_filters)]
    flat = filters.flatten(1)
    if filters.shape[1] == 1:
        # signed: each filter divided by its largest |weight|; red > 0, white = 0, blue < 0
        scale = flat.abs().max(1).values.clamp_min(1e-12).view(-1, 1, 1, 1)
        filters, pad, vmin, legend = filters / scale, math.nan, -1.0, "red > 0 > blue"
    else:
        low = flat.min(1).values.view(-1, 1, 1, 1)
        high = flat.max(1).values.view(-1, 1, 1, 1)
        filters = (filters - low) / (high - low).clamp_min(1e-12)
        pad, vmin, legend = 0.0, 0.0, "RGB, each scaled to its min-max"
    ncol = ncol or math.ceil(math.sqrt(filters.shape[0]))
    nrow = math.ceil(filters.shape[0] / ncol)
    if ax is None:
        side = min(8.0, 0.75 * max(ncol, nrow))
        fig: Any = new_figure(
            figsize=(side * ncol / max(ncol, nrow) + 0.3, side * nrow / max(ncol, nrow) + 0.6),
            layout="constrained",
        )
        axes = fig.add_subplot()
    else:
        axes = single_axes(ax, "plot_filters")
    import matplotlib

    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="black")
    show(axes, tile(filters, ncol, pad_value=pad), cmap=cmap, vmin=vmin)
    axes.set_title(
        title or f"first-layer filters: {desc}, {filters.shape[0]} of {total} shown ({legend})",
        fontsize=10,
    )
    return finish(fig, save) if ax is None else result(ax)
