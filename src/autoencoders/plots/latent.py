"""The latent space: codes of a batch, coloured by label (:func:`plot_latent_space`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from autoencoders._utils import evaluating, label_kwargs, unwrap_model
from autoencoders.errors import InvalidValueError
from autoencoders.plots._figures import (
    PlotPath,
    check_model,
    check_target,
    finish,
    new_figure,
    result,
    single_axes,
    to_model,
)

if TYPE_CHECKING:  # pragma: no cover
    from autoencoders.model import Autoencoder

__all__ = ["plot_latent_space"]


def _encode_all(
    model: Autoencoder, x: torch.Tensor, batch_size: int, y: torch.Tensor | None
) -> torch.Tensor:
    codes = []
    with evaluating(model):
        for i in range(0, x.shape[0], batch_size):
            lab = label_kwargs(model, None if y is None else y[i : i + batch_size], "labels")
            codes.append(model.encode(to_model(model, x[i : i + batch_size]), **lab).float().cpu())
    return torch.cat(codes)


def _coordinates(
    z: torch.Tensor, y: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, str, str, str]:
    """The two plotted coordinates of each code, the axis labels and what the plot shows."""
    zdim = z.shape[1]
    if zdim == 1:
        ys = y.float() if y is not None else torch.arange(z.shape[0], dtype=torch.float32)
        return z[:, 0], ys, "z", ("label" if y is not None else "index"), "latent code (z=1)"
    if zdim == 2:
        return z[:, 0], z[:, 1], "z[0]", "z[1]", "latent space (z=2)"
    centred = z - z.mean(0, keepdim=True)
    _, s, v = torch.linalg.svd(centred, full_matrices=False)
    proj = centred @ v[:2].T
    var = s**2
    share = (var / var.sum()).tolist() if float(var.sum()) > 0 else [0.0, 0.0]
    return (
        proj[:, 0],
        proj[:, 1],
        f"PC 1 ({100 * share[0]:.0f}% of variance)",
        f"PC 2 ({100 * share[1]:.0f}% of variance)",
        f"latent space (z={zdim}): first two principal components",
    )


def plot_latent_space(
    model: Autoencoder,
    images: torch.Tensor,
    labels: torch.Tensor | Sequence[int] | None = None,
    *,
    class_names: Sequence[str] | None = None,
    max_points: int = 5000,
    batch_size: int = 512,
    title: str | None = None,
    ax: Any = None,
    save: PlotPath = None,
) -> Any:
    """Scatter of the latent codes, coloured by label.

    With ``z = 2`` the axes are the two latent dimensions. With ``z > 2`` they are the first
    two principal components of the codes (the axis labels say so, with the share of variance
    each explains). With ``z = 1`` the code is plotted against the label (or the index).

    Args:
        model: the autoencoder (codes are posterior means for a VAE).
        images: inputs ``(N, C, H, W)``.
        labels: optional integer labels ``(N,)``; up to 20 classes get a legend, more a
            colour bar.
        class_names: names for the label values 0, 1, ... in the legend.
        max_points: encode at most this many (the first ones).
        batch_size: encoding batch size.
        title: axes title.
        ax: an Axes to draw the scatter on (a colour bar, if any, joins its figure), or a
            Figure / SubFigure to add it to, instead of a new figure (then without ``save``).
        save: PNG path to write.

    Returns:
        The new figure (one axes, plus a colour bar for many classes), or ``ax`` when given.

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("ae", h=32, z=8)
        >>> fig = plot_latent_space(model, torch.rand(50, 1, 28, 28), torch.arange(50) % 3)
        >>> fig.axes[0].get_xlabel()[:4], len(fig.axes[0].get_legend().get_texts())
        ('PC 1', 3)
    """
    check_target(ax, save, "plot_latent_space")
    model = unwrap_model(model)
    check_model(model)
    x = torch.as_tensor(images)[: int(max_points)]
    y = None
    if labels is not None:
        y = torch.as_tensor(labels)[: x.shape[0]].cpu()
        if y.shape[0] != x.shape[0]:
            raise InvalidValueError(f"got {x.shape[0]} images but {y.shape[0]} labels")
    z = _encode_all(model, x.float(), batch_size, y)
    xs, ys, xlabel, ylabel, kind = _coordinates(z, y)
    if ax is None:
        fig: Any = new_figure(figsize=(6.4, 5.4), layout="constrained")
        axes = fig.add_subplot()
    else:
        axes = single_axes(ax, "plot_latent_space")
    size = 6 if xs.shape[0] > 1000 else 14
    if y is None:
        axes.scatter(xs.numpy(), ys.numpy(), s=size, alpha=0.6, linewidths=0)
    else:
        classes = sorted(set(y.tolist()))
        if len(classes) <= 20:
            import matplotlib

            colours = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
            for i, c in enumerate(classes):
                mask = y == c
                name = (
                    class_names[int(c)]
                    if class_names is not None and 0 <= int(c) < len(class_names)
                    else str(c)
                )
                axes.scatter(
                    xs[mask].numpy(),
                    ys[mask].numpy(),
                    s=size,
                    alpha=0.7,
                    linewidths=0,
                    color=colours(i),
                    label=name,
                )
            axes.legend(fontsize=8, markerscale=2, loc="best", framealpha=0.8)
        else:
            sc = axes.scatter(
                xs.numpy(),
                ys.numpy(),
                c=y.float().numpy(),
                s=size,
                alpha=0.7,
                linewidths=0,
                cmap="viridis",
            )
            axes.figure.colorbar(sc, ax=axes, label="label")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    axes.set_title(title or f"{kind}, {xs.shape[0]} points", fontsize=10)
    return finish(fig, save) if ax is None else result(ax)
