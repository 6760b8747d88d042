"""Figures for autoencoders: loss curves, reconstructions, samples, latent space, filters.

Every function returns a :class:`matplotlib.figure.Figure` built directly (never through
``pyplot``, so no global state is touched and nothing needs closing) and writes it as a PNG
when given ``save=path``. Nothing is ever shown: display the figure in a notebook by leaving it
as the cell's value, or open the saved file.

Images are ``(N, C, H, W)`` tensors (``(N, H, W)`` is read as grayscale) with 1 (grayscale),
3 (RGB) or 4 (RGBA) channels. They are mapped to [0, 1] for display from ``value_range``:
``"auto"`` takes ``(-1, 1)`` for a model with a ``tanh`` output and ``(0, 1)`` otherwise;
values outside the range are clipped.

matplotlib is an optional dependency: ``pip install 'autoencoders[plots]'``.

Example:
    >>> import torch, autoencoders
    >>> from autoencoders import plots
    >>> model = autoencoders.build("ae", h=32, z=2)
    >>> fig = plots.plot_reconstructions(model, torch.rand(6, 1, 28, 28))
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['original', 'reconstructed']
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from autoencoders.model import Autoencoder

__all__ = [
    "PlotPath",
    "plot_filters",
    "plot_interpolation",
    "plot_latent_space",
    "plot_loss_curves",
    "plot_noise_levels",
    "plot_reconstructions",
    "plot_samples",
    "to_display_range",
]

#: Where a figure is written (a PNG path), or None to only return it.
PlotPath = str | os.PathLike[str] | None

_INSTALL_HINT = "pip install 'autoencoders[plots]'"


# -- matplotlib access -----------------------------------------------------------------------------
def _figure(**kwargs: Any) -> Figure:
    """A new :class:`~matplotlib.figure.Figure`, not registered with pyplot."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"autoencoders.plots needs matplotlib, which is not installed ({exc}); "
            f"install it with: {_INSTALL_HINT}"
        ) from None
    return Figure(**kwargs)


def _finish(fig: Figure, save: PlotPath, dpi: int = 120) -> Figure:
    """Write ``fig`` to ``save`` (a PNG, parent folders created) and return it."""
    if save is not None:
        path = Path(save)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white")
    return fig


# -- image helpers ---------------------------------------------------------------------------------
def _value_range(value_range: Any, model: Any = None) -> tuple[float, float]:
    if isinstance(value_range, str):
        if value_range != "auto":
            raise ValueError(
                f"value_range must be 'auto' or a (low, high) pair, got {value_range!r}"
            )
        activation = getattr(model, "output_activation", "sigmoid")
        return (-1.0, 1.0) if activation == "tanh" else (0.0, 1.0)
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"value_range must be 'auto' or a (low, high) pair, got {value_range!r}"
        ) from None
    if not low < high:
        raise ValueError(f"value_range needs low < high, got {value_range!r}")
    return low, high


def to_display_range(
    images: torch.Tensor, value_range: Sequence[float] | str = "auto", model: Any = None
) -> torch.Tensor:
    """Map images from ``value_range`` to [0, 1] (clipping), as float32 on the CPU.

    Args:
        images: any tensor of pixel values.
        value_range: ``(low, high)`` of the data, or ``"auto"``: ``(-1, 1)`` when ``model``
            has a ``tanh`` output activation, ``(0, 1)`` otherwise.
        model: consulted by ``"auto"``.

    Example:
        >>> to_display_range(torch.tensor([-1.0, 0.0, 1.0, 3.0]), (-1, 1)).tolist()
        [0.0, 0.5, 1.0, 1.0]
    """
    low, high = _value_range(value_range, model)
    x = torch.as_tensor(images).detach().to("cpu", torch.float32)
    return ((x - low) / (high - low)).clamp(0.0, 1.0)


def _as_batch(images: Any, what: str = "images") -> torch.Tensor:
    """``(N, C, H, W)`` float tensor from a tensor/array of ``(N, C, H, W)`` or ``(N, H, W)``."""
    x = torch.as_tensor(images)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4:
        raise ValueError(f"{what} must have shape (N, C, H, W) or (N, H, W), got {tuple(x.shape)}")
    if x.shape[1] not in (1, 3, 4):
        raise ValueError(
            f"{what} must have 1 (grayscale), 3 (RGB) or 4 (RGBA) channels, got {x.shape[1]} "
            f"(shape {tuple(x.shape)})"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{what} is empty (shape {tuple(x.shape)})")
    return x.float()


def _tile(images: torch.Tensor, ncol: int, pad: int = 1, pad_value: float = 1.0) -> Any:
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


def _show(
    ax: Axes,
    array: Any,
    ylabel: str | None = None,
    *,
    cmap: Any = "gray",
    vmin: float = 0.0,
    vmax: float = 1.0,
) -> None:
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


def _image_rows_figure(
    rows: Sequence[tuple[str, torch.Tensor]], ncol: int, title: str | None
) -> Figure:
    """One axes per row; each row a strip of images (already in [0, 1])."""
    n_img_rows = [math.ceil(r.shape[0] / ncol) for _, r in rows]
    h, w = rows[0][1].shape[-2:]
    cell = 0.9 if max(h, w) <= 64 else 1.2
    width = min(16.0, 1.4 + cell * ncol * w / max(h, w))
    height = 0.4 + sum(cell * k * h / max(h, w) for k in n_img_rows) + 0.15 * len(rows)
    fig = _figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(len(rows), 1, squeeze=False, gridspec_kw={"height_ratios": n_img_rows})
    for ax, (label, imgs) in zip(axes[:, 0], rows):
        _show(ax, _tile(imgs, ncol), label)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


# -- model helpers ---------------------------------------------------------------------------------
def _device_of(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


class _EvalMode:
    """Context: the model in eval mode without gradients, its mode restored afterwards."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.was_training = model.training
        self.no_grad = torch.no_grad()

    def __enter__(self) -> None:
        self.model.eval()
        self.no_grad.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.no_grad.__exit__(*exc)
        self.model.train(self.was_training)


def _to_model(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    p = next(iter(model.parameters()), None)
    dtype = p.dtype if p is not None and p.is_floating_point() else torch.float32
    return x.to(_device_of(model), dtype)


def _check_model(model: Any) -> None:
    for attr in ("encode", "decode", "reconstruct", "output_activation"):
        if not hasattr(model, attr):
            raise TypeError(
                f"expected an autoencoders.Autoencoder, got {type(model).__name__} "
                f"(it has no {attr!r})"
            )


# -- loss curves -----------------------------------------------------------------------------------
_TRAIN_KEYS = ("train_loss", "loss", "train")
_VAL_KEYS = ("val_loss", "validation_loss", "val")


def _records(history: Any) -> list[dict[str, Any]]:
    """Per-epoch records as flat dicts, from a History, a list of dicts/dataclasses, or JSON."""
    if isinstance(history, (str, os.PathLike)):
        import json

        history = json.loads(Path(history).read_text(encoding="utf-8"))
    if isinstance(history, Mapping) and "records" in history:
        history = history["records"]
    elif isinstance(history, Mapping) and "epochs" in history:
        history = history["epochs"]
    elif hasattr(history, "records"):
        history = history.records
    elif hasattr(history, "to_dicts"):
        history = history.to_dicts()
    if not isinstance(history, Iterable) or isinstance(history, (str, bytes, Mapping)):
        raise TypeError(
            "history must be a History, a list of per-epoch records (dicts), or the path of a "
            f"history.json, got {type(history).__name__}"
        )
    out = []
    for rec in history:
        if is_dataclass(rec) and not isinstance(rec, type):
            rec = asdict(rec)
        elif not isinstance(rec, Mapping):
            rec = getattr(rec, "__dict__", None)
            if rec is None:
                raise TypeError(f"cannot read a per-epoch record from {type(rec).__name__}")
        out.append(_flatten(dict(rec)))
    return out


def _flatten(rec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"loss": 1, "kl": 2}}`` -> ``{"train_loss": 1, "train_kl": 2}``."""
    flat: dict[str, Any] = {}
    for key, value in rec.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(dict(value), f"{name}_"))
        else:
            flat[name] = value
    return flat


def _series(records: list[dict[str, Any]], keys: Sequence[str]) -> list[float] | None:
    for key in keys:
        values = [r.get(key) for r in records]
        if any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return [float(v) if isinstance(v, (int, float)) else math.nan for v in values]
    return None


def _epochs(records: list[dict[str, Any]]) -> list[float]:
    epochs = [r.get("epoch") for r in records]
    if all(isinstance(e, (int, float)) for e in epochs):
        return [float(e) for e in epochs]  # type: ignore[arg-type]
    return [float(i + 1) for i in range(len(records))]


def _part_names(records: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    skip = {"loss", "lr", "seconds", "samples_per_s", "samples_per_second", "epoch", "time"}
    for rec in records:
        for key in rec:
            for split in ("train_", "val_"):
                if key.startswith(split):
                    part = key[len(split) :]
                    if part not in skip and part not in names:
                        names.append(part)
    return names


def plot_loss_curves(
    history: Any,
    *,
    parts: bool = False,
    log_y: bool = False,
    title: str | None = None,
    ylabel: str = "loss per sample",
    save: PlotPath = None,
) -> Figure:
    """Train (solid) and validation (dashed) loss per epoch; several runs overlaid.

    Several runs get one colour each and one legend entry each (plus a train / val key).

    Args:
        history: a :class:`~autoencoders.training.History`, a list of per-epoch records
            (dicts with ``train_loss``/``val_loss`` or nested ``{"train": {"loss": ...}}``),
            the path of a ``history.json``, or a mapping ``{run name: history}`` whose runs
            are drawn in one colour each (a sweep).
        parts: also draw the loss parts (e.g. ``recon`` and ``kl`` of a VAE), one more
            panel per part, when the loss has two or more parts.
        log_y: logarithmic loss axis.
        title: figure title.
        ylabel: label of the loss axis.
        save: PNG path to write.

    Returns:
        The figure: one axes, plus one per loss part when ``parts``.

    Example:
        >>> recs = [{"epoch": 1, "train_loss": 3.0, "val_loss": 2.5},
        ...         {"epoch": 2, "train_loss": 2.0, "val_loss": 2.1}]
        >>> fig = plot_loss_curves({"h=400": recs, "h=300": recs})
        >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
        ['h=400', 'h=300', 'train', 'val']
    """
    runs: dict[str, list[dict[str, Any]]]
    if isinstance(history, Mapping) and not {"records", "epochs"} & set(history):
        runs = {str(name): _records(h) for name, h in history.items()}
        if not runs:
            raise ValueError("history is an empty mapping of runs")
    else:
        runs = {"": _records(history)}
    part_names: list[str] = []
    if parts:
        for recs in runs.values():
            part_names += [p for p in _part_names(recs) if p not in part_names]
        if len(part_names) < 2:  # a single part (an AE's "recon") is the loss itself
            part_names = []
    extra = 1.8 if len(runs) > 4 else 0.0  # room for a legend outside the axes
    fig = _figure(figsize=(6.4 + extra + 3.6 * len(part_names), 4.0), layout="constrained")
    axes = fig.subplots(1, 1 + len(part_names), squeeze=False)[0]
    multi = len(runs) > 1 or "" not in runs
    all_epochs: set[float] = set()
    colours = [f"C{i % 10}" for i in range(len(runs))]
    for colour, (name, recs) in zip(colours, runs.items()):
        if not recs:
            continue
        epochs = _epochs(recs)
        all_epochs.update(epochs)
        # one legend entry per run (its colour); train/val told apart by the line style
        train_label = name or "train"
        val_label = f"_{name} val" if name else "val"
        panels = [("loss", _TRAIN_KEYS, _VAL_KEYS)] + [
            (p, (f"train_{p}",), (f"val_{p}",)) for p in part_names
        ]
        for ax, (_, tkeys, vkeys) in zip(axes, panels):
            train = _series(recs, tkeys)
            val = _series(recs, vkeys)
            marker = "o" if len(epochs) <= 20 else None
            if train is not None:
                ax.plot(epochs, train, color=colour, marker=marker, ms=3, label=train_label)
            if val is not None:
                ax.plot(
                    epochs,
                    val,
                    color=colour,
                    ls="--",
                    marker="s" if marker else None,  # hollow squares: val, dots: train
                    ms=4,
                    mfc="white",
                    label=val_label,
                )
    for ax, panel in zip(axes, ["loss", *part_names]):
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel if panel == "loss" else f"{panel} per sample")
        ax.set_title(panel if part_names else "")
        if log_y:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        handles, _ = ax.get_legend_handles_labels()
        if multi and handles:
            from matplotlib.lines import Line2D

            handles += [
                Line2D([], [], color="0.35", marker="o", ms=3, label="train"),
                Line2D([], [], color="0.35", ls="--", marker="s", ms=4, mfc="white", label="val"),
            ]
        if handles:
            outside = multi and len(runs) > 4
            ax.legend(
                handles=handles,
                fontsize=8,
                loc="upper left" if outside else "best",
                bbox_to_anchor=(1.01, 1.0) if outside else None,
            )
        if 0 < len(all_epochs) <= 20:  # few epochs: a tick on each
            ax.set_xticks(sorted(all_epochs))
            ax.set_xlim(min(all_epochs) - 0.5, max(all_epochs) + 0.5)
        else:
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if not axes[0].get_lines():
        raise ValueError(
            "found no loss values in the history: expected per-epoch records with "
            f"{' or '.join(_TRAIN_KEYS)} / {' or '.join(_VAL_KEYS)} entries"
        )
    fig.suptitle(title or ("loss curves" if len(runs) > 1 else "training loss"), fontsize=11)
    return _finish(fig, save)


# -- reconstructions, samples, interpolation -------------------------------------------------------
def plot_reconstructions(
    model: Autoencoder,
    images: torch.Tensor,
    *,
    n: int = 10,
    noisy: bool | None = None,
    generator: torch.Generator | None = None,
    value_range: Sequence[float] | str = "auto",
    title: str | None = None,
    save: PlotPath = None,
) -> Figure:
    """Originals above their reconstructions; for denoising, clean / noisy / denoised rows.

    Args:
        model: the autoencoder.
        images: a batch ``(N, C, H, W)`` in the model's data range; the first ``n`` are shown.
        n: number of images (columns).
        noisy: corrupt the inputs with the model's noise transform and show the three rows
            clean / noisy / denoised. Default: when the model has a noise transform.
        generator: random generator for the corruption (reproducible figures).
        value_range: data range of ``images`` and of the model's output (see module docs).
        title: figure title.
        save: PNG path to write.

    Returns:
        The figure, one axes per row (2, or 3 when denoising).

    Example:
        >>> import torch, autoencoders
        >>> dae = autoencoders.build("dae", h=32, z=2)
        >>> fig = plot_reconstructions(dae, torch.rand(4, 1, 28, 28), n=4)
        >>> [ax.get_ylabel() for ax in fig.axes]
        ['clean', 'noisy', 'denoised']
    """
    _check_model(model)
    x = _as_batch(images)[: int(n)]
    if noisy is None:
        noisy = getattr(model, "noise", None) is not None
    if noisy and getattr(model, "noise", None) is None:
        raise ValueError("noisy=True needs a model with a noise transform (model.noise is None)")
    with _EvalMode(model):
        xin = _to_model(model, x)
        corrupted = model.corrupt(xin, generator=generator) if noisy else xin
        recon = model.reconstruct(corrupted)
    rng = _value_range(value_range, model)
    show = lambda t: to_display_range(t, rng)  # noqa: E731
    if noisy:
        rows = [("clean", show(x)), ("noisy", show(corrupted)), ("denoised", show(recon))]
    else:
        rows = [("original", show(x)), ("reconstructed", show(recon))]
    default = "denoising" if noisy else "reconstructions"
    return _finish(_image_rows_figure(rows, x.shape[0], title or default), save)


def plot_samples(
    model: Autoencoder,
    n: int = 64,
    *,
    ncol: int | None = None,
    generator: torch.Generator | None = None,
    value_range: Sequence[float] | str = "auto",
    title: str | None = None,
    save: PlotPath = None,
) -> Figure:
    """A grid of images generated by decoding draws from the prior (VAEs only).

    Args:
        model: a variational autoencoder (``model.is_variational``).
        n: number of samples.
        ncol: images per row (default: about ``sqrt(n)``).
        generator: random generator for the prior draws.
        value_range: the model's data range (see module docs).
        title: figure title.
        save: PNG path to write.

    Returns:
        The figure, one axes holding the tiled grid.

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
        TypeError: plot_samples needs a variational model ...
    """
    _check_model(model)
    if not getattr(model, "is_variational", False):
        raise TypeError(
            "plot_samples needs a variational model (a Gaussian bottleneck, e.g. "
            f"build('vae')); {getattr(model, 'name', None) or type(model).__name__!r} is "
            "deterministic and has no prior to sample from"
        )
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    with _EvalMode(model):
        x = model.sample(n, generator=generator, device=_device_of(model))
    ncol = ncol or math.ceil(math.sqrt(n))
    imgs = to_display_range(x, value_range, model)
    h, w = imgs.shape[-2:]
    nrow = math.ceil(n / ncol)
    cell = min(0.6, 8.0 / max(ncol, nrow))
    fig = _figure(figsize=(cell * ncol + 0.2, cell * nrow * h / w + 0.5), layout="constrained")
    _show(fig.add_subplot(), _tile(imgs, ncol))
    fig.suptitle(title or f"samples from the prior N(0, I), z={model.z_dim}", fontsize=11)
    return _finish(fig, save)


def plot_interpolation(
    model: Autoencoder,
    start: torch.Tensor,
    end: torch.Tensor,
    *,
    steps: int = 10,
    value_range: Sequence[float] | str = "auto",
    title: str | None = None,
    save: PlotPath = None,
) -> Figure:
    """Decode points on the straight line between the latent codes of two images.

    Each row shows the first image, ``steps`` decodings of ``(1 - t) z_start + t z_end``
    for ``t`` from 0 to 1, and the second image.

    Args:
        model: the autoencoder (codes are posterior means for a VAE).
        start: one image ``(C, H, W)`` or a batch ``(P, C, H, W)`` (one row per pair).
        end: as ``start``, same shape.
        steps: number of interpolated decodings per row (at least 2).
        value_range: data range (see module docs).
        title: figure title.
        save: PNG path to write.

    Returns:
        The figure, one axes per pair.

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("vae", h=32, z=2)
        >>> fig = plot_interpolation(model, torch.rand(1, 28, 28), torch.rand(1, 28, 28), steps=5)
        >>> len(fig.axes), fig.axes[0].get_images()[0].get_array().shape
        (1, (30, 204))
    """
    _check_model(model)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    a, b = torch.as_tensor(start), torch.as_tensor(end)
    if a.shape != b.shape:
        raise ValueError(
            f"start and end must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.dim() == len(model.input_shape):
        a, b = a.unsqueeze(0), b.unsqueeze(0)
    a, b = _as_batch(a, "start"), _as_batch(b, "end")
    t = torch.linspace(0.0, 1.0, steps)
    with _EvalMode(model):
        za, zb = model.encode(_to_model(model, a)), model.encode(_to_model(model, b))
        tt = t.to(za.device, za.dtype).view(1, steps, 1)
        z = (1 - tt) * za.unsqueeze(1) + tt * zb.unsqueeze(1)  # (P, steps, Z)
        from autoencoders.blocks.layers import apply_output_activation

        dec = apply_output_activation(model.decode(z.flatten(0, 1)), model.output_activation)
    dec = dec.unflatten(0, (a.shape[0], steps)).cpu()
    rng = _value_range(value_range, model)
    rows = []
    for i in range(a.shape[0]):
        row = torch.cat([a[i : i + 1], dec[i], b[i : i + 1]])
        rows.append((f"pair {i + 1}" if a.shape[0] > 1 else "", to_display_range(row, rng)))
    fig = _image_rows_figure(
        rows,
        steps + 2,
        title
        or f"linear interpolation in latent space ({steps} steps; first and last: the inputs)",
    )
    return _finish(fig, save)


# -- latent space ----------------------------------------------------------------------------------
def _encode_all(model: Autoencoder, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    codes = []
    with _EvalMode(model):
        for i in range(0, x.shape[0], batch_size):
            codes.append(model.encode(_to_model(model, x[i : i + batch_size])).float().cpu())
    return torch.cat(codes)


def plot_latent_space(
    model: Autoencoder,
    images: torch.Tensor,
    labels: torch.Tensor | Sequence[int] | None = None,
    *,
    class_names: Sequence[str] | None = None,
    max_points: int = 5000,
    batch_size: int = 512,
    title: str | None = None,
    save: PlotPath = None,
) -> Figure:
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
        title: figure title.
        save: PNG path to write.

    Returns:
        The figure, one axes (plus a colour bar for many classes).

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("ae", h=32, z=8)
        >>> fig = plot_latent_space(model, torch.rand(50, 1, 28, 28), torch.arange(50) % 3)
        >>> fig.axes[0].get_xlabel()[:4], len(fig.axes[0].get_legend().get_texts())
        ('PC 1', 3)
    """
    _check_model(model)
    x = torch.as_tensor(images)[: int(max_points)]
    z = _encode_all(model, x.float(), batch_size)
    y = None
    if labels is not None:
        y = torch.as_tensor(labels)[: x.shape[0]].cpu()
        if y.shape[0] != z.shape[0]:
            raise ValueError(f"got {z.shape[0]} images but {y.shape[0]} labels")
    zdim = z.shape[1]
    if zdim == 1:
        xs = z[:, 0]
        ys = y.float() if y is not None else torch.arange(z.shape[0], dtype=torch.float32)
        xlabel, ylabel = "z", ("label" if y is not None else "index")
        kind = "latent code (z=1)"
    elif zdim == 2:
        xs, ys = z[:, 0], z[:, 1]
        xlabel, ylabel = "z[0]", "z[1]"
        kind = "latent space (z=2)"
    else:
        centred = z - z.mean(0, keepdim=True)
        _, s, v = torch.linalg.svd(centred, full_matrices=False)
        proj = centred @ v[:2].T
        var = s**2
        share = (var / var.sum()).tolist() if float(var.sum()) > 0 else [0.0, 0.0]
        xs, ys = proj[:, 0], proj[:, 1]
        xlabel = f"PC 1 ({100 * share[0]:.0f}% of variance)"
        ylabel = f"PC 2 ({100 * share[1]:.0f}% of variance)"
        kind = f"latent space (z={zdim}): first two principal components"
    fig = _figure(figsize=(6.4, 5.4), layout="constrained")
    ax = fig.add_subplot()
    size = 6 if xs.shape[0] > 1000 else 14
    if y is None:
        ax.scatter(xs.numpy(), ys.numpy(), s=size, alpha=0.6, linewidths=0)
    else:
        classes = sorted(set(y.tolist()))
        if len(classes) <= 20:
            cmap = "tab10" if len(classes) <= 10 else "tab20"
            import matplotlib

            colours = matplotlib.colormaps[cmap]
            for i, c in enumerate(classes):
                mask = y == c
                name = (
                    class_names[int(c)]
                    if class_names is not None and 0 <= int(c) < len(class_names)
                    else str(c)
                )
                ax.scatter(
                    xs[mask].numpy(),
                    ys[mask].numpy(),
                    s=size,
                    alpha=0.7,
                    linewidths=0,
                    color=colours(i),
                    label=name,
                )
            ax.legend(fontsize=8, markerscale=2, loc="best", framealpha=0.8)
        else:
            sc = ax.scatter(
                xs.numpy(),
                ys.numpy(),
                c=y.float().numpy(),
                s=size,
                alpha=0.7,
                linewidths=0,
                cmap="viridis",
            )
            fig.colorbar(sc, ax=ax, label="label")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.set_title(title or f"{kind}, {xs.shape[0]} points", fontsize=10)
    return _finish(fig, save)


# -- filters ---------------------------------------------------------------------------------------
def _first_layer(model: nn.Module) -> nn.Module:
    # encoder first, then the bottleneck (a linear AE's only encoding layer lives there)
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            return module
    raise ValueError(
        f"found no Linear or Conv2d layer in {type(model).__name__}; plot_filters shows the "
        "weights of the first Linear or Conv2d layer that reads the input"
    )


def plot_filters(
    model: Autoencoder,
    *,
    max_filters: int = 64,
    ncol: int | None = None,
    title: str | None = None,
    save: PlotPath = None,
) -> Figure:
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
        title: figure title.
        save: PNG path to write.

    Returns:
        The figure, one axes holding the tiled filters.

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
    layer = _first_layer(model)
    w = layer.weight.detach().float().cpu()
    if isinstance(layer, nn.Linear):
        shape = tuple(getattr(model, "input_shape", ()))
        if math.prod(shape) != w.shape[1]:
            raise ValueError(
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
    side = min(8.0, 0.75 * max(ncol, nrow))
    fig = _figure(
        figsize=(side * ncol / max(ncol, nrow) + 0.3, side * nrow / max(ncol, nrow) + 0.6),
        layout="constrained",
    )
    ax = fig.add_subplot()
    import matplotlib

    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="black")
    _show(ax, _tile(filters, ncol, pad_value=pad), cmap=cmap, vmin=vmin)
    ax.set_title(
        title or f"first-layer filters: {desc}, {filters.shape[0]} of {total} shown ({legend})",
        fontsize=10,
    )
    return _finish(fig, save)


# -- noise -----------------------------------------------------------------------------------------
_LEVEL_PARAMS = ("noise_factor", "p", "std", "sigma")
_DEFAULT_LEVELS = {"noise_factor": (0.0, 0.1, 0.25, 0.5, 0.75), "p": (0.0, 0.1, 0.25, 0.5)}


def plot_noise_levels(
    images: torch.Tensor,
    noise: str | Mapping[str, Any] | nn.Module = "gaussian",
    levels: Sequence[float] | None = None,
    *,
    param: str | None = None,
    n: int = 8,
    seed: int = 0,
    value_range: Sequence[float] | str = (0.0, 1.0),
    title: str | None = None,
    save: PlotPath = None,
    **noise_kwargs: Any,
) -> Figure:
    """A preview of a noise transform at several strengths on the same images.

    Args:
        images: a batch ``(N, C, H, W)``; the first ``n`` are shown.
        noise: a registered noise-transform name, a ``{"name": ..., **kwargs}`` dict, or a
            transform built through the registry (e.g. ``model.noise``): its other settings
            are kept and ``param`` varies.
        levels: the values of ``param``, one row each (default depends on ``param``; for a
            transform instance, its own value joins the defaults).
        param: the strength parameter; default ``noise_factor`` or ``p``, whichever the
            transform takes.
        n: images per row.
        seed: seed of the noise (each row uses the same seed).
        value_range: data range of ``images``.
        title: figure title.
        save: PNG path to write.
        **noise_kwargs: further arguments of the transform (e.g. ``clip=None``).

    Returns:
        The figure, one axes per level.

    Example:
        >>> import torch
        >>> fig = plot_noise_levels(torch.rand(4, 1, 28, 28), "masking", [0.0, 0.5])
        >>> [ax.get_ylabel() for ax in fig.axes]
        ['p=0', 'p=0.5']
    """
    from autoencoders.blocks.base import spec_of
    from autoencoders.registry import accepted_parameters
    from autoencoders.registry import noise as noise_registry

    current: float | None = None
    if isinstance(noise, nn.Module):
        spec = spec_of(noise, "noise transform")
        name, base = spec.name, {**spec.kwargs, **noise_kwargs}
    elif isinstance(noise, Mapping):
        base = dict(noise)
        name = base.pop("name", None)
        if name is None:
            raise ValueError(f"a noise dict needs a 'name' entry, got {dict(noise)!r}")
        base.update(noise_kwargs)
    elif isinstance(noise, str):
        name, base = noise, dict(noise_kwargs)
    else:
        raise TypeError(
            "noise must be a registered noise-transform name, a {'name': ..., ...} dict or a "
            f"noise transform module, got {type(noise).__name__}"
        )
    accepted, _ = accepted_parameters(noise_registry.get(name))
    if param is None:
        param = next((p for p in _LEVEL_PARAMS if p in accepted), None)
        if param is None:
            raise ValueError(
                f"noise transform {name!r} has none of the strength parameters "
                f"{', '.join(_LEVEL_PARAMS)}; pass param= one of: {', '.join(accepted)}"
            )
    elif param not in accepted:
        raise ValueError(
            f"noise transform {name!r} has no parameter {param!r}; accepted: {', '.join(accepted)}"
        )
    if param in base:
        current = float(base.pop(param))
    if levels is None:
        levels = list(_DEFAULT_LEVELS.get(param, (0.0, 0.25, 0.5, 1.0)))
        if current is not None and current not in levels:
            levels = sorted([*levels, current])
    if len(levels) == 0:
        raise ValueError("levels is empty; give at least one noise strength")
    x = _as_batch(images)[: int(n)]
    rng = _value_range(value_range)
    rows = []
    for level in levels:
        transform = noise_registry.build(name, **{**base, param: level})
        noisy = transform(x, generator=torch.Generator().manual_seed(int(seed)))
        mark = " (model)" if current is not None and float(level) == current else ""
        rows.append((f"{param}={level:g}{mark}", to_display_range(noisy, rng)))
    return _finish(_image_rows_figure(rows, x.shape[0], title or f"noise: {name}"), save)
