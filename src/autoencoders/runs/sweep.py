"""A sweep: one run per point of a grid of model arguments, and a table comparing them.

The points are the Cartesian product of ``grid`` (every combination) times the lockstep walk
of ``zipped`` (the i-th values of every list together), so the six (h, z) VAEs of a classic
exercise are one sweep::

    >>> grid_points({}, {"h": [400, 400, 300], "z": [50, 10, 35]})
    [{'h': 400, 'z': 50}, {'h': 400, 'z': 10}, {'h': 300, 'z': 35}]
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from autoencoders import plots, report
from autoencoders.errors import InvalidValueError
from autoencoders.io import atomic_write_bytes
from autoencoders.registry import UnknownArgumentError, accepted_parameters
from autoencoders.registry import models as model_registry
from autoencoders.runs._files import check_out
from autoencoders.runs.folder import train_run
from autoencoders.runs.inputs import data_for_models
from autoencoders.runs.models import build_model
from autoencoders.runs.settings import RunError, RunResult, RunSettings, SweepResult

__all__ = ["grid_points", "point_label", "slug", "sweep", "sweep_row"]

logger = logging.getLogger("autoencoders.runs")

_MSE_KEYS = ("test_mse", "mse", "mse_per_pixel")
_ELBO_KEYS = ("test_elbo", "elbo")
_PSNR_KEYS = ("test_psnr", "psnr")
#: How to give each noise type its own strength in one sweep (the hint of a noise error).
_NOISE_HINT_PY = (
    "to sweep noise types with their own keywords, give each as a dict, e.g. grid "
    "{'noise': [{'name': 'gaussian', 'noise_factor': 0.3}, {'name': 'masking', 'p': 0.3}]}"
)
_NOISE_HINT_CLI = (
    "to sweep noise types with their own keywords, give each as a dict, e.g. --grid "
    '\'noise={"name":"gaussian","noise_factor":0.3},{"name":"masking","p":0.3}\''
)


def _check_lists(lists: Mapping[str, Any], what: str) -> None:
    for key, values in lists.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise InvalidValueError(
                f"{what} {key!r} needs a non-empty list of values, got {values!r}"
            )


def _lockstep_error(zipped: Mapping[str, Sequence[Any]], what: str) -> str | None:
    lengths = {key: len(values) for key, values in zipped.items()}
    if len(set(lengths.values())) <= 1:
        return None
    shown = ", ".join(f"{key}: {n} value{'s' if n != 1 else ''}" for key, n in lengths.items())
    return f"{what} must all have the same length (they are walked in lockstep); got {shown}"


def grid_points(
    grid: Mapping[str, Sequence[Any]], zipped: Mapping[str, Sequence[Any]] | None = None
) -> list[dict[str, Any]]:
    """The points of a sweep: every combination of the ``grid`` values (the Cartesian
    product, first key slowest) times the lockstep walk of the ``zipped`` lists (their first
    values together, then their second values, ...), which varies fastest.

    Example:
        >>> grid_points({"h": [400, 300], "z": [5, 10]})
        [{'h': 400, 'z': 5}, {'h': 400, 'z': 10}, {'h': 300, 'z': 5}, {'h': 300, 'z': 10}]
        >>> grid_points({"noise": ["gaussian"]}, {"h": [400, 300], "z": [50, 5]})
        [{'noise': 'gaussian', 'h': 400, 'z': 50}, {'noise': 'gaussian', 'h': 300, 'z': 5}]
        >>> grid_points({}, {"h": [400, 300], "z": [50]})
        Traceback (most recent call last):
          ...
        autoencoders.errors.InvalidValueError: zipped lists must all have the same length (they are walked in lockstep); got h: 2 values, z: 1 value

    Raises:
        ValueError: a key without values, zipped lists of different lengths, or a key both
            in ``grid`` and ``zipped``.
    """
    zipped = dict(zipped or {})
    _check_lists(grid, "grid")
    _check_lists(zipped, "zipped")
    both = sorted(set(grid) & set(zipped))
    if both:
        raise InvalidValueError(f"{', '.join(both)} given both in grid and zipped; keep one")
    error = _lockstep_error(zipped, "zipped lists")
    if error:
        raise InvalidValueError(error)
    rows = [dict(zip(zipped, values)) for values in zip(*zipped.values())] if zipped else [{}]
    return [
        {**dict(zip(grid, values)), **row}
        for values in itertools.product(*grid.values())
        for row in rows
    ]


def _text(value: Any) -> str:
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):  # noise={"name": ...}
        rest = [f"{k}-{_text(v)}" for k, v in value.items() if k != "name"]
        return "-".join([value["name"], *rest])
    if isinstance(value, (list, tuple)):
        return "-".join(map(_text, value))
    return str(value)


def slug(params: Mapping[str, Any]) -> str:
    """A folder name for a grid point: ``h=400_z=5``; lists as ``hidden=400-100``.

    Example:
        >>> slug({"hidden": [400, 100], "act": "leaky relu"})
        'hidden=400-100_act=leaky-relu'
        >>> slug({"noise": {"name": "masking", "p": 0.3}})
        'noise=masking-p-0.3'
    """
    parts = []
    for key, value in params.items():
        text = re.sub(r"[^A-Za-z0-9.+-]+", "-", _text(value)).strip("-")
        parts.append(f"{key}={text or 'x'}")
    return "_".join(parts) or "default"


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def point_label(
    point: Mapping[str, Any],
    model: str | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
) -> str:
    """A sweep point as the errors name it: its values, then the shared ``model_kwargs`` that
    the model's builder does not take itself (those of the noise transform, ``noise_factor``),
    since they shape every noisy point too.

    Example:
        >>> point_label({"noise": "masking"}, "vae", {"h": 16, "noise_factor": 0.3})
        'noise=masking, noise_factor=0.3'
        >>> point_label({"h": 400, "hidden": [400, 100]})
        'h=400, hidden=[400, 100]'
    """
    shared: dict[str, Any] = {}
    if model is not None and model_kwargs:
        try:
            accepted, var_kw = accepted_parameters(model_registry.get(model))
        except (LookupError, TypeError, ValueError):
            accepted, var_kw = [], True
        if not var_kw:
            shared = {k: v for k, v in model_kwargs.items() if k not in accepted}
    items = {**dict(point), **shared}
    return ", ".join(f"{k}={_shown(v)}" for k, v in items.items()) or "(no arguments)"


def _point_error(label: str, exc: BaseException, kwargs: Mapping[str, Any]) -> RunError:
    """``exc`` of one sweep point, as a RunError starting with the point."""
    py = str(exc) if isinstance(exc, (ValueError, TypeError)) else f"{type(exc).__name__}: {exc}"
    cli = exc.cli_message if isinstance(exc, RunError) else py
    if isinstance(exc, UnknownArgumentError) and isinstance(kwargs.get("noise"), str):
        py, cli = f"{py} ({_NOISE_HINT_PY})", f"{cli} ({_NOISE_HINT_CLI})"
    error = RunError(f"sweep point {label}: {py}", cli=f"sweep point {label}: {cli}")
    for note in getattr(exc, "__notes__", ()):  # what the point's folder kept
        error.add_note(note)
    return error


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
    """The comparison-table row of one run: its grid values, size, losses, the denoising
    metrics (None for a model without a noise transform) and time.

    Example:
        >>> from autoencoders.training import History
        >>> result = RunResult(dir=None, model="dae", num_parameters=10, variational=False,
        ...                    best_val_loss=1.0, best_epoch=1, history=History(), seconds=0.5,
        ...                    metrics={"test_mse": 0.02, "denoising_mse": 0.03})
        >>> row = sweep_row("z=2", {"z": 2}, result)
        >>> row["denoising_mse"], row["denoising_psnr"], row["test_elbo"]
        (0.03, None, None)
    """
    metrics = result.metrics
    row: dict[str, Any] = {"run": name, **{k: _cell(v) for k, v in point.items()}}
    row["params"] = result.num_parameters
    row["best_val_loss"] = result.best_val_loss
    row["test_mse"] = _metric(metrics, _MSE_KEYS)
    row["test_psnr"] = _metric(metrics, _PSNR_KEYS)
    row["test_elbo"] = _metric(metrics, _ELBO_KEYS) if result.variational else None
    row["denoising_mse"] = _metric(metrics, ("denoising_mse",))
    row["denoising_psnr"] = _metric(metrics, ("denoising_psnr",))
    row["seconds"] = result.seconds
    return row


def _points(
    grid: Mapping[str, Sequence[Any]],
    zipped: Mapping[str, Sequence[Any]],
    base: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """:func:`grid_points`, with the errors worded for Python and for the command line."""
    if not grid and not zipped:
        raise RunError(
            "sweep needs a grid: at least one model argument with a list of values (grid=, "
            "or zipped= for lists walked in lockstep)",
            cli="sweep needs at least one --grid key=v1,v2,... or --zip key=v1,v2,...",
        )
    for keys, py, cli in (
        (set(base) & set(grid), "model_kwargs and grid", "--set and --grid"),
        (set(base) & set(zipped), "model_kwargs and zipped", "--set and --zip"),
        (set(grid) & set(zipped), "grid and zipped", "--grid and --zip"),
    ):
        if keys:
            shown = ", ".join(sorted(keys))
            raise RunError(
                f"{shown} given both in {py}; keep one",
                cli=f"{shown} given both in {cli}; keep one",
            )
    error = _lockstep_error(zipped, "zipped lists")
    if error:
        raise RunError(error, cli=_lockstep_error(zipped, "--zip lists"))
    points = grid_points(grid, zipped)
    names: dict[str, dict[str, Any]] = {}
    for point in points:
        name = slug(point)
        if name in names:
            raise RunError(
                f"sweep points {point_label(names[name])} and {point_label(point)} would share "
                f"the run folder {name!r}; give every point different values"
            )
        names[name] = point
    return points


def _partial_table(
    rows: list[dict[str, Any]],
    folder: Path,
    title: str,
    label: str,
    exc: BaseException,
    total: int,
) -> None:
    """``comparison.md``/``.csv`` of the runs done before point ``label`` stopped the sweep."""
    if not rows:
        return
    how = "was interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
    md, _ = report.write_comparison(rows, folder, title=f"{title} (incomplete)")
    note = (
        f"\n> Incomplete: {len(rows)} of {total} runs. Sweep point {label} {how} "
        f"({type(exc).__name__}); the points after it were not run.\n"
    )
    atomic_write_bytes(md, (md.read_text(encoding="utf-8") + note).encode("utf-8"))


def _title(model: str, grid: Mapping[str, Sequence[Any]], zipped: Mapping[str, Any]) -> str:
    parts = [f"{k} in {list(v)}" for k, v in grid.items()]
    if zipped:
        keys = ", ".join(zipped)
        rows = ", ".join("(" + ", ".join(map(str, vals)) + ")" for vals in zip(*zipped.values()))
        parts.append(f"({keys}) in [{rows}]" if len(zipped) > 1 else f"{keys} in {rows}")
    return f"Sweep of {model}: " + ", ".join(parts)


def sweep(
    model: str,
    grid: Mapping[str, Sequence[Any]] | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    settings: RunSettings | None = None,
    *,
    zipped: Mapping[str, Sequence[Any]] | None = None,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    splits: Any = None,
    command: str | None = None,
) -> SweepResult:
    """Train one run per point of ``grid`` x ``zipped`` (:func:`grid_points`) into subfolders
    and compare them.

    Every point is built (its keywords checked) and the data loaded before anything is
    written. Each run folder is named by :func:`slug` and is what :func:`train_run` writes;
    the sweep folder (default ``runs/<model>-sweep-<timestamp>``) gets ``comparison.md`` and
    ``comparison.csv`` (one row per run: the point's values, parameters, best validation loss,
    test MSE, PSNR and ELBO, and the denoising MSE and PSNR of models with a noise transform)
    and ``loss_curves.png`` with every run's curves overlaid.

    An error while building or training a point is a :class:`RunError` whose message starts
    with the point (``sweep point noise=masking, noise_factor=0.3: ...``; the original
    exception is its ``__cause__``).

    Args:
        model: registered model name.
        grid: model argument -> the values to try, every combination.
        model_kwargs: the arguments shared by every run (in neither ``grid`` nor ``zipped``).
        settings: data and training options of every run.
        zipped: model argument -> values walked in lockstep with the other zipped lists (all
            of the same length); a sweep may have only these.
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
    grid, zipped = dict(grid or {}), dict(zipped or {})
    base = dict(model_kwargs or {})
    model_registry.get(model)  # an unknown model is no point's error
    points = _points(grid, zipped, base)
    settings = (settings or RunSettings()).check()
    labels = [point_label(p, model, base) for p in points]
    nets = []
    for point, label in zip(points, labels):  # validate every point first
        kwargs = {**base, **point}
        try:
            nets.append(build_model(model, kwargs))
        except (TypeError, ValueError, LookupError) as exc:
            raise _point_error(label, exc, kwargs) from exc
    if settings.resume and out is None:
        raise RunError(
            "resume=True needs out=: the folder of the sweep to continue",
            cli="--resume needs --out DIR: the folder of the sweep to continue",
        )
    folder = check_out(out, model, overwrite or settings.resume, suffix="-sweep")
    names = [f"sweep point {label}" for label in labels]
    data = data_for_models(settings, nets, splits, names=names)  # before anything is written
    folder.mkdir(parents=True, exist_ok=True)
    rows, runs, histories = [], [], {}
    for i, (point, label, point_data) in enumerate(zip(points, labels, data), 1):
        name = slug(point)
        logger.info("sweep run %d/%d: %s", i, len(points), name)
        kwargs = {**base, **point}
        try:
            result = train_run(
                model,
                kwargs,
                settings,
                out=folder / name,
                overwrite=overwrite,
                splits=point_data,
                command=command,
            )
        except BaseException as exc:
            # the runs that finished keep their table; the failed one is named in it
            _partial_table(rows, folder, _title(model, grid, zipped), label, exc, len(points))
            if not isinstance(exc, Exception):  # Ctrl-C and the like: as they are
                raise
            raise _point_error(label, exc, kwargs) from exc
        histories[name] = result.history
        runs.append(result)
        rows.append(sweep_row(name, point, result))
    md, _ = report.write_comparison(rows, folder, title=_title(model, grid, zipped))
    if settings.plots:
        plots.plot_loss_curves(histories, title=f"{model} sweep", save=folder / "loss_curves.png")
        text = md.read_text(encoding="utf-8") + "\n![loss curves of every run](loss_curves.png)\n"
        atomic_write_bytes(md, text.encode("utf-8"))
    return SweepResult(dir=folder, rows=rows, runs=runs)
