"""Images a model makes: reconstructions, prior samples, latent interpolations.

Also the display mapping every image plot uses: :func:`resolve_value_range` and
:func:`to_display_range`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from autoencoders._utils import device_of, evaluating, gather, label_kwargs, unwrap_model
from autoencoders.blocks.layers import apply_output_activation
from autoencoders.errors import InvalidTypeError, InvalidValueError
from autoencoders.plots._figures import (
    PlotPath,
    as_batch,
    check_model,
    check_target,
    draw_image_rows,
    finish,
    new_figure,
    result,
    set_title,
    show,
    single_axes,
    tile,
    to_model,
)

if TYPE_CHECKING:  # pragma: no cover
    from autoencoders.model import Autoencoder

__all__ = [
    "plot_interpolation",
    "plot_reconstructions",
    "plot_samples",
    "resolve_value_range",
    "to_display_range",
]


def resolve_value_range(
    value_range: Sequence[float] | str = "auto", model: Any = None
) -> tuple[float, float]:
    """The ``(low, high)`` data range a ``value_range`` argument stands for.

    Args:
        value_range: a ``(low, high)`` pair with ``low < high``, or ``"auto"``: the model's
            :attr:`~autoencoders.Autoencoder.pixel_range` (``(-1, 1)`` for a tanh output,
            else ``(0, 1)``); ``(0, 1)`` without a model.
        model: consulted by ``"auto"`` (compiled / DDP wrappers are looked through).

    Raises:
        ValueError: anything else, or ``low >= high``.

    Example:
        >>> import autoencoders
        >>> resolve_value_range("auto", autoencoders.build("conv_vae"))
        (-1.0, 1.0)
        >>> resolve_value_range([0, 255])
        (0.0, 255.0)
    """
    if isinstance(value_range, str):
        if value_range != "auto":
            raise InvalidValueError(
                f"value_range must be 'auto' or a (low, high) pair, got {value_range!r}"
            )
        if model is None:
            return 0.0, 1.0
        low, high = getattr(unwrap_model(model), "pixel_range", (0.0, 1.0))
        return float(low), float(high)
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise InvalidValueError(
            f"value_range must be 'auto' or a (low, high) pair, got {value_range!r}"
        ) from None
    if not low < high:
        raise InvalidValueError(f"value_range needs low < high, got {value_range!r}")
    return low, high


def to_display_range(
    images: torch.Tensor, value_range: Sequence[float] | str = "auto", model: Any = None
) -> torch.Tensor:
    """Map images from ``value_range`` to [0, 1] (clipping), as float32 on the CPU.

    Args:
        images: any tensor of pixel values.
        value_range: ``(low, high)`` of the data, or ``"auto"`` (see
            :func:`resolve_value_range`).
        model: consulted by ``"auto"``.

    Example:
        >>> to_display_range(torch.tensor([-1.0, 0.0, 1.0, 3.0]), (-1, 1)).tolist()
        [0.0, 0.5, 1.0, 1.0]
    """
    low, high = resolve_value_range(value_range, model)
    x = torch.as_tensor(images).detach().to("cpu", torch.float32)
    return ((x - low) / (high - low)).clamp(0.0, 1.0)


def plot_reconstructions(
    model: Autoencoder,
    images: Any,
    *,
    n: int = 10,
    noisy: bool | None = None,
    generator: torch.Generator | None = None,
    value_range: Sequence[float] | str = "auto",
    title: str | None = None,
    labels: Any = None,
    ax: Any = None,
    save: PlotPath = None,
) -> Any:
    """Originals above their reconstructions; for denoising, clean / noisy / denoised rows.

    Args:
        model: the autoencoder.
        images: a batch ``(N, C, H, W)`` in the model's data range, or a split / dataset /
            loader of them; the first ``n`` are shown.
        n: number of images (columns).
        noisy: corrupt the inputs with the model's noise transform and show the three rows
            clean / noisy / denoised. Default: when the model has a noise transform.
        generator: random generator for the corruption (reproducible figures).
        value_range: data range of ``images`` and of the model's output (see
            :func:`resolve_value_range`).
        title: figure title.
        labels: the images' classes, for a conditional model (default: those of ``images``
            when it is labelled data, an ``(x, y)`` pair or a dataset of them).
        ax: where to draw instead of a new figure: a Figure / SubFigure (one axes per row
            added to it), a sequence of Axes (one per row), or one Axes (all rows stacked in
            one image, labelled by its y ticks). ``save`` is not allowed then.
        save: PNG path to write.

    Returns:
        The new figure (one axes per row: 2, or 3 when denoising), or ``ax`` when given.

    Example:
        >>> import torch, autoencoders
        >>> dae = autoencoders.build("dae", h=32, z=2)
        >>> fig = plot_reconstructions(dae, torch.rand(4, 1, 28, 28), n=4)
        >>> [ax.get_ylabel() for ax in fig.axes]
        ['clean', 'noisy', 'denoised']
    """
    check_target(ax, save, "plot_reconstructions")
    model = unwrap_model(model)
    check_model(model)
    x = as_batch(images, limit=int(n))
    if labels is None and getattr(model, "takes_labels", False) and not _is_tensor(images):
        labels = gather(images, 256, what="images", limit=int(n))[1]
    lab = label_kwargs(model, None if labels is None else torch.as_tensor(labels)[: len(x)])
    if noisy is None:
        noisy = getattr(model, "noise", None) is not None
    if noisy and getattr(model, "noise", None) is None:
        raise InvalidValueError(
            "noisy=True needs a model with a noise transform (model.noise is None)"
        )
    with evaluating(model):
        xin = to_model(model, x)
        corrupted = model.corrupt(xin, generator=generator) if noisy else xin
        recon = model.reconstruct(corrupted, **lab)
    rng = resolve_value_range(value_range, model)
    show_ = lambda t: to_display_range(t, rng)  # noqa: E731
    if noisy:
        rows = [("clean", show_(x)), ("noisy", show_(corrupted)), ("denoised", show_(recon))]
    else:
        rows = [("original", show_(x)), ("reconstructed", show_(recon))]
    default = "denoising" if noisy else "reconstructions"
    drawn = draw_image_rows(rows, x.shape[0], title or default, ax, what="plot_reconstructions")
    return finish(drawn, save) if ax is None else drawn


def _is_tensor(obj: Any) -> bool:
    return isinstance(obj, torch.Tensor) or type(obj).__module__.startswith("numpy")


def plot_samples(
    model: Autoencoder,
    n: int = 64,
    *,
    ncol: int | None = None,
    generator: torch.Generator | None = None,
    value_range: Sequence[float] | str = "auto",
    title: str | None = None,
    labels: Any = None,
    ax: Any = None,
    save: PlotPath = None,
) -> Any:
    """A grid of images generated by decoding draws from the prior (VAEs only).

    For a conditional model (a CVAE) each sample is of a chosen class: ``labels`` (an int
    or one per sample), by default every class in turn, one class per column.

    Args:
        model: a model that can sample (``model.can_sample``: a VAE, a WAE, a VQ-VAE).
        n: number of samples.
        ncol: images per row (default: about ``sqrt(n)``; the number of classes for a
            conditional model).
        generator: random generator for the prior draws.
        value_range: the model's data range (see :func:`resolve_value_range`).
        title: figure title (the axes title when ``ax`` is an Axes).
        labels: the classes to generate (conditional models only).
        ax: an Axes to draw the grid on, or a Figure / SubFigure to add it to, instead of a
            new figure; ``save`` is not allowed then.
        save: PNG path to write.

    Returns:
        The new figure (one axes holding the tiled grid), or ``ax`` when given.

    Raises:
        TypeError: the model has a deterministic bottleneck (it has no prior to sample).

    Example:
        >>> import torch, autoencoders
        >>> fig = plot_samples(autoencoders.build("vae", h=32, z=2), n=16)
        >>> fig.axes[0].get_images()[0].get_array().shape
        (117, 117)
        >>> plot_samples(autoencoders.build("ae", h=32, z=2))
        Traceback (most recent call last):
          ...
        autoencoders.errors.InvalidTypeError: plot_samples needs a variational model ...
    """
    check_target(ax, save, "plot_samples")
    model = unwrap_model(model)
    check_model(model)
    if not getattr(model, "can_sample", getattr(model, "is_variational", False)):
        raise InvalidTypeError(
            "plot_samples needs a variational model or another with a prior (a Gaussian, MMD "
            f"or VQ bottleneck, e.g. build('vae')); "
            f"{getattr(model, 'name', None) or type(model).__name__!r} is "
            "deterministic and has no prior to sample from"
        )
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidValueError(f"n must be a positive int, got {n!r}")
    label = title or f"samples from the prior N(0, I), z={model.z_dim}"
    classes = getattr(model, "num_classes", None) if getattr(model, "takes_labels", False) else None
    if classes is not None and labels is None:  # every class in turn, a class per column
        labels, ncol = torch.arange(n) % classes, ncol or classes
        order = "column j: class j" if ncol == classes else f"classes 0-{classes - 1} in turn"
        label = title or f"samples of each class ({order}), z={model.z_dim}"
    with evaluating(model):
        kw = {} if labels is None else {"labels": labels}
        x = model.sample(n, generator=generator, device=device_of(model), **kw)
    ncol = ncol or math.ceil(math.sqrt(n))
    imgs = to_display_range(x, value_range, model)
    if ax is not None:
        axes = single_axes(ax, "plot_samples")
        show(axes, tile(imgs, ncol))
        set_title(ax, [axes], label)
        return result(ax)
    h, w = imgs.shape[-2:]
    nrow = math.ceil(n / ncol)
    cell = min(0.6, 8.0 / max(ncol, nrow))
    fig = new_figure(figsize=(cell * ncol + 0.2, cell * nrow * h / w + 0.5), layout="constrained")
    show(fig.add_subplot(), tile(imgs, ncol))
    fig.suptitle(label, fontsize=11)
    return finish(fig, save)


def plot_interpolation(
    model: Autoencoder,
    start: torch.Tensor,
    end: torch.Tensor,
    *,
    steps: int = 10,
    value_range: Sequence[float] | str = "auto",
    title: str | None = None,
    ax: Any = None,
    save: PlotPath = None,
) -> Any:
    """Decode points on the straight line between the latent codes of two images.

    Each row shows the first image, ``steps`` decodings of ``(1 - t) z_start + t z_end``
    for ``t`` from 0 to 1, and the second image.

    Args:
        model: the autoencoder (codes are posterior means for a VAE).
        start: one image ``(C, H, W)`` or a batch ``(P, C, H, W)`` (one row per pair).
        end: as ``start``, same shape.
        steps: number of interpolated decodings per row (at least 2).
        value_range: data range (see :func:`resolve_value_range`).
        title: figure title.
        ax: as in :func:`plot_reconstructions`, one row per pair.
        save: PNG path to write.

    Returns:
        The new figure (one axes per pair), or ``ax`` when given.

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("vae", h=32, z=2)
        >>> fig = plot_interpolation(model, torch.rand(1, 28, 28), torch.rand(1, 28, 28), steps=5)
        >>> len(fig.axes), fig.axes[0].get_images()[0].get_array().shape
        (1, (30, 204))
    """
    check_target(ax, save, "plot_interpolation")
    model = unwrap_model(model)
    check_model(model)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise InvalidValueError(f"steps must be an int >= 2, got {steps!r}")
    a, b = torch.as_tensor(start), torch.as_tensor(end)
    if a.shape != b.shape:
        raise InvalidValueError(
            f"start and end must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.dim() == len(model.input_shape):
        a, b = a.unsqueeze(0), b.unsqueeze(0)
    a, b = as_batch(a, "start"), as_batch(b, "end")
    t = torch.linspace(0.0, 1.0, steps)
    with evaluating(model):
        za, zb = model.encode(to_model(model, a)), model.encode(to_model(model, b))
        tt = t.to(za.device, za.dtype).view(1, steps, 1)
        z = (1 - tt) * za.unsqueeze(1) + tt * zb.unsqueeze(1)  # (P, steps, Z)
        dec = apply_output_activation(model.decode(z.flatten(0, 1)), model.output_activation)
    dec = dec.unflatten(0, (a.shape[0], steps)).cpu()
    rng = resolve_value_range(value_range, model)
    rows = []
    for i in range(a.shape[0]):
        row = torch.cat([a[i : i + 1], dec[i], b[i : i + 1]])
        rows.append((f"pair {i + 1}" if a.shape[0] > 1 else "", to_display_range(row, rng)))
    default = f"linear interpolation in latent space ({steps} steps; first and last: the inputs)"
    drawn = draw_image_rows(rows, steps + 2, title or default, ax, what="plot_interpolation")
    return finish(drawn, save) if ax is None else drawn
