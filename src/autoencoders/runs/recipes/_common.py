"""What the recipes share: figures of one panel per run, saved atomically."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from autoencoders import plots
from autoencoders.io import atomic_write_bytes
from autoencoders.runs.experiment import Config, ExperimentContext

__all__ = ["GRID_SEED", "latent_panels", "panels", "save_figure", "seeded"]

#: Seed of the noise and prior draws in the figures (the same draw for every run).
GRID_SEED = 0


def seeded(seed: int = GRID_SEED) -> torch.Generator:
    """A CPU generator seeded with ``seed``: the same draws in every run's panel."""
    return torch.Generator().manual_seed(seed)


def save_figure(fig: Any, path: Path, dpi: int = 110) -> None:
    """Write ``fig`` as a PNG at ``path`` atomically (never a half-written file)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    atomic_write_bytes(path, buf.getvalue())


def panels(
    ctx: ExperimentContext,
    configs: Sequence[Config],
    draw: Callable[[Config, Any], Any],
    file: str,
    *,
    title: str,
    columns: int | None = None,
    panel_size: tuple[float, float] = (4.0, 3.0),
) -> str:
    """One sub-figure per configuration, ``draw(config, subfigure)`` in each; saved as ``file``.

    Returns:
        ``file`` (the PNG's name in ``ctx.dir``).
    """
    from matplotlib.figure import Figure

    n = len(configs)
    ncol = columns or min(n, 4)
    nrow = -(-n // ncol)
    fig = Figure(figsize=(panel_size[0] * ncol, panel_size[1] * nrow), layout="constrained")
    subs = fig.subfigures(nrow, ncol, squeeze=False)
    for i, config in enumerate(configs):
        sub = subs[i // ncol][i % ncol]
        draw(config, sub)
    for j in range(n, nrow * ncol):
        subs[j // ncol][j % ncol].set_visible(False)
    fig.suptitle(title)
    save_figure(fig, ctx.dir / file)
    return file


def latent_panels(
    ctx: ExperimentContext,
    configs: Sequence[Config],
    x: torch.Tensor,
    y: torch.Tensor,
    file: str,
    *,
    title: str,
    panel_size: tuple[float, float] = (6.0, 5.0),
) -> str:
    """The codes of ``x`` under each configuration's model, coloured by ``y``: two per row.

    Codes wider than two are drawn on their first two principal components (what
    :func:`~autoencoders.plots.plot_latent_space` does). Returns ``file``.
    """

    def draw(config: Config, sub: Any) -> None:
        plots.plot_latent_space(
            ctx.model(config.name),
            x,
            y,
            class_names=ctx.class_names(config.name),
            ax=sub,
            title=config.caption,
        )

    return panels(ctx, configs, draw, file, title=title, columns=2, panel_size=panel_size)
