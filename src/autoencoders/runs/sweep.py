"""A sweep: one run per point of a grid of model arguments, and a table comparing them."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from autoencoders import plots, report
from autoencoders.runs._files import check_out
from autoencoders.runs.folder import train_run
from autoencoders.runs.inputs import data_for_models
from autoencoders.runs.models import build_model
from autoencoders.runs.settings import RunError, RunResult, RunSettings, SweepResult

__all__ = ["grid_points", "slug", "sweep", "sweep_row"]

logger = logging.getLogger("autoencoders.runs")

_MSE_KEYS = ("test_mse", "mse", "mse_per_pixel")
_ELBO_KEYS = ("test_elbo", "elbo")
_PSNR_KEYS = ("test_psnr", "psnr")


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values (the Cartesian product), first key slowest.

    Example:
        >>> grid_points({"h": [400, 300], "z": [5, 10]})
        [{'h': 400, 'z': 5}, {'h': 400, 'z': 10}, {'h': 300, 'z': 5}, {'h': 300, 'z': 10}]

    Raises:
        ValueError: a key without values.
    """
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"grid {key!r} needs a non-empty list of values, got {values!r}")
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def slug(params: Mapping[str, Any]) -> str:
    """A folder name for a grid point: ``h=400_z=5``; lists as ``hidden=400-100``.

    Example:
        >>> slug({"hidden": [400, 100], "act": "leaky relu"})
        'hidden=400-100_act=leaky-relu'
    """
    parts = []
    for key, value in params.items():
        text = "-".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{key}={re.sub(r'[^A-Za-z0-9.+-]+', '-', text).strip('-') or 'x'}")
    return "_".join(parts) or "default"


def _metric(metrics: Mapping[str, Any], keys: Sequence[str]) -> float | None:
    for key in keys:
        value = metrics.get(key)
        if isinstance(value, Mapping):
            value = value.get("value")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def sweep_row(name: str, point: Mapping[str, Any], result: RunResult) -> dict[str, Any]:
    """The comparison-table row of one run: its grid values, size, losses and time."""
    metrics = result.metrics
    row: dict[str, Any] = {"run": name, **{k: _cell(v) for k, v in point.items()}}
    row["params"] = result.num_parameters
    row["best_val_loss"] = result.best_val_loss
    row["test_mse"] = _metric(metrics, _MSE_KEYS)
    row["test_psnr"] = _metric(metrics, _PSNR_KEYS)
    row["test_elbo"] = _metric(metrics, _ELBO_KEYS) if result.variational else None
    row["seconds"] = result.seconds
    return row


def sweep(
    model: str,
    grid: Mapping[str, Sequence[Any]],
    model_kwargs: Mapping[str, Any] | None = None,
    settings: RunSettings | None = None,
    *,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    splits: Any = None,
    command: str | None = None,
) -> SweepResult:
    """Train one run per combination of ``grid`` values into subfolders and compare them.

    Every grid point is built (its keywords checked) and the data loaded before anything is
    written. Each run folder is named by :func:`slug` and is what :func:`train_run` writes;
    the sweep folder (default ``runs/<model>-sweep-<timestamp>``) gets ``comparison.md`` and
    ``comparison.csv`` (one row per run: the grid values, parameters, best validation loss,
    test MSE, PSNR and ELBO) and ``loss_curves.png`` with every run's curves overlaid.

    Args:
        model: registered model name.
        grid: model argument -> the values to try.
        model_kwargs: the arguments shared by every run (not in ``grid``).
        settings: data and training options of every run.
        out: the sweep folder.
        overwrite: allow writing into a folder that already holds a sweep.
        splits: data already loaded, for every run (default: load ``settings.data``).
        command: the command line, recorded in each run.

    Returns:
        A :class:`SweepResult`: the folder, the table rows and each run's result.

    Example:
        >>> import tempfile, torch
        >>> from autoencoders.data import from_tensors
        >>> settings = RunSettings(epochs=1, batch_size=16, progress=False, plots=False)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     result = sweep("ae", {"z": [2, 3]}, {"h": 8}, settings, out=d,
        ...                    splits=from_tensors(torch.rand(40, 1, 28, 28)))
        >>> [row["run"] for row in result.rows]
        ['z=2', 'z=3']
    """
    if not grid:
        raise RunError(
            "sweep needs a grid: at least one model argument with a list of values",
            cli="sweep needs at least one --grid key=v1,v2,...",
        )
    base = dict(model_kwargs or {})
    clash = sorted(set(base) & set(grid))
    if clash:
        raise RunError(
            f"{', '.join(clash)} given both in model_kwargs and grid; keep one",
            cli=f"{', '.join(clash)} given both in --set and --grid; keep one",
        )
    settings = (settings or RunSettings()).check()
    points = grid_points(grid)
    nets = [build_model(model, {**base, **p}) for p in points]  # validate every point first
    folder = check_out(out, model, overwrite, suffix="-sweep")
    data = data_for_models(settings, nets, splits)  # loaded before anything is written
    folder.mkdir(parents=True, exist_ok=True)
    rows, runs, histories = [], [], {}
    for i, (point, point_data) in enumerate(zip(points, data), 1):
        name = slug(point)
        logger.info("sweep run %d/%d: %s", i, len(points), name)
        result = train_run(
            model,
            {**base, **point},
            settings,
            out=folder / name,
            overwrite=overwrite,
            splits=point_data,
            command=command,
        )
        histories[name] = result.history
        runs.append(result)
        rows.append(sweep_row(name, point, result))
    title = f"Sweep of {model}: " + ", ".join(f"{k} in {v}" for k, v in grid.items())
    md, _ = report.write_comparison(rows, folder, title=title)
    if settings.plots:
        plots.plot_loss_curves(histories, title=f"{model} sweep", save=folder / "loss_curves.png")
        with md.open("a", encoding="utf-8") as fh:
            fh.write("\n![loss curves of every run](loss_curves.png)\n")
    return SweepResult(dir=folder, rows=rows, runs=runs)
