"""A noise transform at several strengths on the same images: :func:`plot_noise_levels`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from autoencoders.blocks.base import spec_of
from autoencoders.errors import InvalidTypeError, InvalidValueError
from autoencoders.plots._figures import PlotPath, as_batch, check_target, draw_image_rows, finish
from autoencoders.plots.images import resolve_value_range, to_display_range
from autoencoders.registry import accepted_parameters
from autoencoders.registry import noise as noise_registry

__all__ = ["plot_noise_levels"]

_LEVEL_PARAMS = ("noise_factor", "p", "std", "sigma")
_DEFAULT_LEVELS = {"noise_factor": (0.0, 0.1, 0.25, 0.5, 0.75), "p": (0.0, 0.1, 0.25, 0.5)}


def plot_noise_levels(
    images: Any,
    noise: str | Mapping[str, Any] | nn.Module = "gaussian",
    levels: Sequence[float] | None = None,
    *,
    param: str | None = None,
    n: int = 8,
    seed: int = 0,
    value_range: Sequence[float] | str = (0.0, 1.0),
    title: str | None = None,
    ax: Any = None,
    save: PlotPath = None,
    **noise_kwargs: Any,
) -> Any:
    """A preview of a noise transform at several strengths on the same images.

    Args:
        images: a batch ``(N, C, H, W)``, or a split / dataset / loader of them; the first
            ``n`` are shown.
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
        ax: where to draw instead of a new figure, one row per level, as in
            :func:`~autoencoders.plots.plot_reconstructions`; ``save`` is not allowed then.
        save: PNG path to write.
        **noise_kwargs: further arguments of the transform (e.g. ``clip=None``).

    Returns:
        The new figure (one axes per level), or ``ax`` when given.

    Example:
        >>> import torch
        >>> fig = plot_noise_levels(torch.rand(4, 1, 28, 28), "masking", [0.0, 0.5])
        >>> [ax.get_ylabel() for ax in fig.axes]
        ['p=0', 'p=0.5']
    """
    check_target(ax, save, "plot_noise_levels")
    current: float | None = None
    if isinstance(noise, nn.Module):
        spec = spec_of(noise, "noise transform")
        name, base = spec.name, {**spec.kwargs, **noise_kwargs}
    elif isinstance(noise, Mapping):
        base = dict(noise)
        name = base.pop("name", None)
        if name is None:
            raise InvalidValueError(f"a noise dict needs a 'name' entry, got {dict(noise)!r}")
        base.update(noise_kwargs)
    elif isinstance(noise, str):
        name, base = noise, dict(noise_kwargs)
    else:
        raise InvalidTypeError(
            "noise must be a registered noise-transform name, a {'name': ..., ...} dict or a "
            f"noise transform module, got {type(noise).__name__}"
        )
    accepted, _ = accepted_parameters(noise_registry.get(name))
    if param is None:
        param = next((p for p in _LEVEL_PARAMS if p in accepted), None)
        if param is None:
            raise InvalidValueError(
                f"noise transform {name!r} has none of the strength parameters "
                f"{', '.join(_LEVEL_PARAMS)}; pass param= one of: {', '.join(accepted)}"
            )
    elif param not in accepted:
        raise InvalidValueError(
            f"noise transform {name!r} has no parameter {param!r}; accepted: {', '.join(accepted)}"
        )
    if param in base:
        current = float(base.pop(param))
    if levels is None:
        levels = list(_DEFAULT_LEVELS.get(param, (0.0, 0.25, 0.5, 1.0)))
        if current is not None and current not in levels:
            levels = sorted([*levels, current])
    if len(levels) == 0:
        raise InvalidValueError("levels is empty; give at least one noise strength")
    x = as_batch(images, limit=int(n))
    rng = resolve_value_range(value_range)
    rows = []
    for level in levels:
        transform = noise_registry.build(name, **{**base, param: level})
        noisy = transform(x, generator=torch.Generator().manual_seed(int(seed)))
        mark = " (model)" if current is not None and float(level) == current else ""
        rows.append((f"{param}={level:g}{mark}", to_display_range(noisy, rng)))
    drawn = draw_image_rows(
        rows, x.shape[0], title or f"noise: {name}", ax, what="plot_noise_levels"
    )
    return finish(drawn, save) if ax is None else drawn
