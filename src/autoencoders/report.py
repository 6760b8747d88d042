"""The run report: figures of a trained model, ``report.md``, and sweep comparison tables.

A *run folder* (written by :func:`autoencoders.runs.train_run` and ``autoencoders train``) holds::

    run.json            what was run: model name and arguments, data, training settings
    config.json         the model (autoencoders.save) ...
    model.safetensors   ... and its weights
    history.json/.csv   per-epoch losses
    metrics.json        test-set metrics
    *.png               figures (see FIGURES)
    report.md           all of it on one page

:func:`write_figures` draws the PNGs, :func:`write_report` assembles ``report.md`` from whatever
the folder holds, and :func:`write_comparison` writes the table of a sweep.

Example:
    >>> import tempfile, json
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = Path(d, "metrics.json").write_text(json.dumps({"test_mse": 0.0123}))
    ...     text = write_report(d).read_text()
    >>> print(text.splitlines()[0])
    # Run report
    >>> "| test MSE per pixel | 0.0123 |" in text
    True
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from autoencoders import plots
from autoencoders._utils import device_of, flatten_mapping, gather, unwrap_model
from autoencoders.errors import InvalidValueError
from autoencoders.io import atomic_write_bytes
from autoencoders.training.history import TRAIN_KEYS, History

__all__ = [
    "COLUMN_LABELS",
    "FIGURES",
    "METRIC_LABELS",
    "flat_metrics",
    "format_value",
    "markdown_table",
    "write_comparison",
    "write_figures",
    "write_report",
]

logger = logging.getLogger(__name__)

#: The figures of a run folder in report order, as file name -> caption.
FIGURES: dict[str, str] = {
    "loss_curves.png": "Loss curves (train solid, validation dashed; loss per sample)",
    "reconstructions.png": "Test images and their reconstructions",
    "samples.png": "Samples decoded from the prior",
    "interpolation.png": "Linear interpolation in latent space between test images",
    "latent_space.png": "Test-set latent codes coloured by label",
    "filters.png": "First-layer filters",
    "noise_levels.png": "The corruption at several strengths (training noise marked)",
}

#: Human-readable names of the metrics written to ``metrics.json``.
METRIC_LABELS: dict[str, str] = {
    "test_mse": "test MSE per pixel",
    "test_psnr": "test PSNR (dB)",
    "test_samples": "test images",
    "denoising_mse": "denoising MSE",
    "denoising_psnr": "denoising PSNR (dB)",
    "test_elbo": "test ELBO (nats per sample; higher is better)",
    "test_recon": "test ELBO reconstruction term (nats per sample)",
    "test_kl": "test ELBO KL term (nats per sample)",
    "test_nll": "test NLL, IWAE bound (nats per sample)",
    "iwae_k": "IWAE importance samples",
    "test_nll_samples": "test images for the NLL",
    "pca_mse": "PCA baseline: test MSE per pixel",
    "pca_k": "PCA components (= z)",
    "probe_accuracy": "linear-probe accuracy on z (test)",
    "probe_chance": "linear-probe chance level",
}

#: Headers of the sweep comparison table (``comparison.md``; the CSV keeps the keys).
COLUMN_LABELS: dict[str, str] = {
    "params": "parameters",
    "best_val_loss": "best val loss",
    "test_mse": "test MSE/pixel",
    "test_psnr": "test PSNR (dB)",
    "test_elbo": "test ELBO (nats)",
    "denoising_mse": "denoising MSE",
    "denoising_psnr": "denoising PSNR (dB)",
    "denoising_mse_0.5": "denoising MSE, shared noise 0.5",
    "pca_mse": "PCA MSE/pixel",
    "ae_over_pca": "AE / PCA",
    "seconds": "train time (s)",
}


# -- formatting ------------------------------------------------------------------------------------
def format_value(value: Any) -> str:
    """A number for a table: ints with thousands separators, floats with 4 significant digits.

    Example:
        >>> format_value(652824), format_value(0.012345678), format_value(None)
        ('652,824', '0.01235', '—')
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value == int(value) and abs(value) >= 1e4:
            return f"{int(value):,}"
        return f"{value:.4g}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table (values formatted with :func:`format_value`).

    Example:
        >>> print(markdown_table(["a", "b"], [[1, 0.5]]))
        | a | b |
        |---|---|
        | 1 | 0.5 |
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(format_value(v) for v in row) + " |")
    return "\n".join(lines)


def flat_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested metrics as one level, the keys joined with dots.

    Example:
        >>> flat_metrics({"test_mse": 0.01, "probe": {"accuracy": 0.8}})
        {'test_mse': 0.01, 'probe.accuracy': 0.8}
    """
    return flatten_mapping(metrics, ".", prefix)


def _count(value: Any) -> str:
    """An integer with thousands separators; anything else (a hand-edited record) as it is."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        logger.warning("cannot read %s: %s", path, exc)
        return None


# -- figures ---------------------------------------------------------------------------------------
def _images_and_labels(data: Any, limit: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The first ``limit`` items of ``data`` as ``(x, y)``; ``y`` None unless class labels."""
    x, y = gather(data, 256, what="the figures' data", limit=limit)
    if y is not None and (y.is_floating_point() or y.numel() != x.shape[0]):
        y = None
    return x, y


def write_figures(
    model: Any,
    data: Any,
    folder: str | os.PathLike[str],
    *,
    history: Any = None,
    class_names: Sequence[str] | None = None,
    n: int = 10,
    max_points: int = 3000,
    seed: int = 0,
) -> list[Path]:
    """Draw the figures of :data:`FIGURES` that apply to ``model`` into ``folder``.

    Samples only for a variational model, the noise preview only for a model with a noise
    transform, the latent scatter coloured by label when ``data`` has labels. A figure that
    cannot be drawn for this model (e.g. no Linear/Conv first layer) is skipped with a
    warning in the log.

    Args:
        model: the trained autoencoder.
        data: the images to draw from (the test split): a tensor, an ``(x, y)`` pair, a
            Dataset or a DataLoader.
        folder: where the PNGs go.
        history: the training history (``loss_curves.png``), if any.
        class_names: names of the labels, for the latent-space legend.
        n: images per row in the image grids.
        max_points: points in the latent scatter (and the most items read from ``data``).
        seed: seed of the sampling and corruption drawn in the figures.

    Returns:
        The paths written.

    Example:
        >>> import tempfile, torch, autoencoders
        >>> model = autoencoders.build("ae", h=16, z=2)
        >>> data = torch.utils.data.TensorDataset(torch.rand(20, 1, 28, 28), torch.arange(20) % 2)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     sorted(p.name for p in write_figures(model, data, d))
        ['filters.png', 'interpolation.png', 'latent_space.png', 'reconstructions.png']
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    x, y = _images_and_labels(data, max(max_points, n))
    gen = lambda: torch.Generator(device=device_of(model)).manual_seed(seed)  # noqa: E731
    pairs = min(3, x.shape[0] // 2)
    jobs: list[tuple[str, Any]] = []
    if history is not None:
        jobs.append(
            ("loss_curves.png", lambda p: plots.plot_loss_curves(history, save=p, parts=True))
        )
    jobs.append(
        (
            "reconstructions.png",
            lambda p: plots.plot_reconstructions(model, x, n=n, generator=gen(), labels=y, save=p),
        )
    )
    if getattr(model, "can_sample", getattr(model, "is_variational", False)):
        jobs.append(
            ("samples.png", lambda p: plots.plot_samples(model, 64, generator=gen(), save=p))
        )
    if pairs >= 1 and not getattr(model, "takes_labels", False):  # one class per path only
        jobs.append(
            (
                "interpolation.png",
                lambda p: plots.plot_interpolation(
                    model, x[:pairs], x[pairs : 2 * pairs], steps=8, save=p
                ),
            )
        )
    jobs.append(
        (
            "latent_space.png",
            lambda p: plots.plot_latent_space(
                model, x, y, class_names=class_names, max_points=max_points, save=p
            ),
        )
    )
    jobs.append(("filters.png", lambda p: plots.plot_filters(model, save=p)))
    if getattr(model, "noise", None) is not None:
        rng = unwrap_model(model).pixel_range
        jobs.append(
            (
                "noise_levels.png",
                lambda p: plots.plot_noise_levels(
                    x, model.noise, n=n, seed=seed, value_range=rng, save=p
                ),
            )
        )
    written = []
    for name, draw in jobs:
        path = out / name
        try:
            draw(path)
        except (ValueError, TypeError) as exc:
            logger.warning("skipped %s: %s", name, exc)
            continue
        written.append(path)
    return written


# -- report.md -------------------------------------------------------------------------------------
def _is_set(value: Any) -> bool:
    """False for a setting left unset (None, ``{}``, ``[]``): the report leaves it out."""
    return value is not None and not (isinstance(value, (Mapping, list, tuple)) and not value)


def _setting(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (Mapping, list, tuple)) else str(value)


def _history_line(history: History) -> str | None:
    """The best validation loss and its epoch (:meth:`History.best_index`), else the final
    training loss; None for a history with neither."""
    if history.monitor_key() == "val_loss":
        with contextlib.suppress(ValueError):  # no finite validation loss
            i = history.best_index()
            return (
                f"**Best validation loss**: {format_value(float(history.records[i]['val_loss']))}"
                f" at epoch {history.epochs()[i]:g} of {len(history)}"
            )
    train = history.series(TRAIN_KEYS)
    return f"**Final training loss**: {format_value(train[-1])}" if train else None


def _mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else empty (a hand-edited record reads as absent)."""
    return value if isinstance(value, Mapping) else {}


def _model_line(run: Mapping[str, Any], config: Any) -> str:
    architecture = _mapping(_mapping(config).get("architecture"))
    name = run.get("model") or architecture.get("name") or "model"
    kwargs = next(
        (run[k] for k in ("model_arguments", "model_kwargs") if isinstance(run.get(k), Mapping)),
        architecture.get("kwargs"),
    )
    args = ", ".join(f"{k}={json.dumps(v)}" for k, v in _mapping(kwargs).items())
    return f"`{name}`" + (f" ({args})" if args else "")


def write_report(
    folder: str | os.PathLike[str], *, title: str | None = None, filename: str = "report.md"
) -> Path:
    """Write ``report.md`` for a run folder from the files it holds.

    It shows the run settings (``run.json``; those left unset, None or empty, are left
    out), the model (``config.json``), the test metrics (``metrics.json``) as a table, the
    best epoch (``history.json``) and every figure of :data:`FIGURES` present, linked
    relatively so the folder can be moved.

    Args:
        folder: the run folder.
        title: first heading (default: "Run report").
        filename: name of the file written.

    Returns:
        The path of the report.
    """
    folder = Path(folder)
    run = _read_json(folder / "run.json") if (folder / "run.json").is_file() else None
    run = run if isinstance(run, dict) else {}
    config = _read_json(folder / "config.json") if (folder / "config.json").is_file() else None
    metrics = _read_json(folder / "metrics.json") if (folder / "metrics.json").is_file() else None
    lines = [f"# {title or 'Run report'}", ""]
    if run or config:
        lines.append(f"- **Model**: {_model_line(run, config)}")
        facts = []
        if "num_parameters" in run:
            facts.append(f"{_count(run['num_parameters'])} parameters")
        if "variational" in run:
            facts.append(
                "variational (Gaussian bottleneck)"
                if run["variational"]
                else "deterministic bottleneck"
            )
        if run.get("output_activation"):
            facts.append(f"{run['output_activation']} output")
        if run.get("noise"):
            facts.append(f"denoising: {run['noise']}")
        if facts:
            lines.append(f"  - {'; '.join(facts)}")
    data = run.get("data")
    if isinstance(data, Mapping):
        sizes = data.get("sizes")
        sizes = (
            ", ".join(f"{k} {_count(v)}" for k, v in sizes.items())
            if isinstance(sizes, Mapping)
            else ""
        )
        lines.append(
            f"- **Data**: {data.get('name')}"
            + (f" ({sizes})" if sizes else "")
            + (f", pixel range {data.get('pixel_range')}" if data.get("pixel_range") else "")
            + (f", at most {_count(data['limit'])} per split" if data.get("limit") else "")
            + (f", read from `{data['source']}`" if data.get("source") else "")
        )
    train = run.get("training")
    if isinstance(train, Mapping):
        settings = ", ".join(f"{k}={_setting(v)}" for k, v in train.items() if _is_set(v))
        if settings:
            lines.append(f"- **Training**: {settings}")
    if isinstance(run.get("seconds"), (int, float)):
        lines.append(f"- **Wall time**: {run['seconds']:.1f} s")
    if run.get("command"):
        lines.append(f"- **Command**: `{run['command']}`")
    history_path = folder / "history.json"
    if history_path.is_file():
        line = None
        try:
            line = _history_line(History.coerce(history_path))
        except (OSError, TypeError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
            logger.warning("cannot read %s: %s", history_path, exc)
        if line:
            lines.append(f"- {line}")
    lines.append("")
    if isinstance(metrics, Mapping) and metrics:
        lines += ["## Test metrics", ""]
        flat = flat_metrics(metrics)
        rows = [[METRIC_LABELS.get(k, k), v] for k, v in flat.items()]
        lines += [markdown_table(["metric", "value"], rows), ""]
    for name, caption in FIGURES.items():
        if (folder / name).is_file():
            lines += [f"## {caption}", "", f"![{caption}]({name})", ""]
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != filename)
    if files:
        lines += ["## Files", "", *(f"- [{f}]({f})" for f in files), ""]
    path = folder / filename
    atomic_write_bytes(path, "\n".join(lines).encode("utf-8"))
    return path


# -- sweeps ----------------------------------------------------------------------------------------
def write_comparison(
    rows: Sequence[Mapping[str, Any]],
    folder: str | os.PathLike[str],
    *,
    title: str = "Sweep comparison",
    stem: str = "comparison",
) -> tuple[Path, Path]:
    """Write a sweep's table as ``<stem>.md`` and ``<stem>.csv``, each atomically.

    The columns are the rows' keys in order of appearance; a column whose value is None (or
    missing) in every row is left out, so a table of models without noise transforms has no
    empty ``denoising_mse`` column. A value missing in some rows shows as ``—`` in the
    markdown and as an empty field in the CSV.

    Args:
        rows: one mapping per run (the columns, in order).
        folder: where to write.
        title: heading of the markdown file.
        stem: file name without extension.

    Returns:
        The markdown and CSV paths.

    Example:
        >>> import tempfile
        >>> rows = [{"run": "z=5", "params": 100, "test_mse": 0.02, "denoising_mse": None},
        ...         {"run": "z=10", "params": 200, "test_mse": 0.01, "denoising_mse": None}]
        >>> with tempfile.TemporaryDirectory() as d:
        ...     md, csv_path = write_comparison(rows, d)
        ...     print(csv_path.read_text().strip())
        run,params,test_mse
        z=5,100,0.02
        z=10,200,0.01
    """
    if not rows:
        raise InvalidValueError("no runs to compare")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(k for row in rows for k in row))
    columns = [k for k in keys if any(row.get(k) is not None for row in rows)] or keys
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in columns})
    csv_path = folder / f"{stem}.csv"
    header = [COLUMN_LABELS.get(c, c) for c in columns]
    table = markdown_table(header, [[row.get(c) for c in columns] for row in rows])
    md_path = folder / f"{stem}.md"
    atomic_write_bytes(csv_path, buf.getvalue().encode("utf-8"))
    atomic_write_bytes(md_path, f"# {title}\n\n{table}\n".encode())
    return md_path, csv_path
