"""Experiments: a named list of runs plus the figures that compare them, one command each.

An :class:`Experiment` says which models to train (its :class:`Config` list, at full size and
at a ``quick`` size for CI and the docs), with which settings (the original exercise's
epochs, batch size, optimizer and loss), how to rank them and which comparison figures to
draw. :func:`run_experiment` trains every configuration into its own run folder (what
:func:`~autoencoders.runs.train_run` writes) and writes beside them::

    DIR/<config>/          one run folder per configuration
    DIR/comparison.md      the table (numbers formatted), the notes and the figures
    DIR/comparison.csv     the same table as CSV
    DIR/experiment.json    what was run: name, settings, configurations, data, status, seconds
    DIR/*.png              the comparison figures

Experiments are registered in :data:`autoencoders.registry.experiments`
(``experiments.register("name")(Experiment(...))``) and listed by :func:`experiment_table`; the
classic ones live in :mod:`autoencoders.runs.recipes`.

Example (a one-configuration experiment of our own, on data in memory):

    >>> import tempfile, torch
    >>> from autoencoders.data import from_tensors
    >>> exp = Experiment(
    ...     name="tiny", title="A tiny AE", summary="one small AE",
    ...     configs=lambda quick: [Config("z=2", "ae", {"h": 8, "z": 2})],
    ...     settings={"epochs": 1, "batch_size": 16, "plots": False},
    ... )
    >>> with tempfile.TemporaryDirectory() as d:
    ...     result = run_experiment(exp, out=d, splits=from_tensors(torch.rand(40, 1, 28, 28)))
    ...     names = sorted(p.name for p in result.dir.iterdir())
    ...     text = result.table_text()
    >>> names
    ['comparison.csv', 'comparison.md', 'experiment.json', 'z=2']
    >>> text.splitlines()[0]
    '# A tiny AE'
    >>> [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("|")][:1]
    ['run']
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from autoencoders import plots, report
from autoencoders._version import __version__
from autoencoders.data import DatasetNotFoundError
from autoencoders.io import atomic_write_bytes
from autoencoders.registry import experiments
from autoencoders.runs._files import check_out, discard_previous
from autoencoders.runs.context import Config, ExperimentContext, ExperimentResult, Figures
from autoencoders.runs.folder import finished_run, same_run, train_run
from autoencoders.runs.inputs import data_for_models
from autoencoders.runs.models import build_model
from autoencoders.runs.settings import RunError, RunResult, RunSettings
from autoencoders.runs.sweep import sweep_row

__all__ = [
    "Config",
    "Experiment",
    "ExperimentContext",
    "ExperimentResult",
    "Figures",
    "experiment_names",
    "experiment_table",
    "get_experiment",
    "run_experiment",
]

logger = logging.getLogger("autoencoders.runs")


@dataclass(frozen=True)
class Experiment:
    """A named comparison: the runs, their settings, the ranking and the figures.

    Attributes:
        name: the registered name (dashes: ``vae-hz``).
        title: the heading of ``comparison.md``.
        summary: one line for :func:`experiment_table`.
        configs: ``configs(quick) -> [Config, ...]``: the runs at full or quick size.
        settings: :class:`RunSettings` fields of every run (the original exercise's epochs,
            batch size, optimizer, loss, data).
        quick: fields that replace ``settings`` at the quick size (fewer epochs, a ``limit``).
        description: a paragraph for ``comparison.md``: what is compared, what the original did.
        rank_by: the table column that ranks the runs, or None to keep the order.
        higher_is_better: whether larger values of ``rank_by`` rank first.
        columns: ``columns(ctx, config, result) -> {column: value}``: extra table columns.
        followup: ``followup(ctx) -> [Config, ...]``: runs decided by the first ones (e.g.
            the best VAE rebuilt as an AE); trained after them, in the same folder and table.
        figures: ``figures(ctx) -> [(png name, caption), ...]``: comparison figures drawn into
            ``ctx.dir`` (the overlaid loss curves are always drawn).
        notes: ``notes(ctx) -> [str, ...]``: lines for ``comparison.md``, read off the trained
            runs after the last one (e.g. whether each check of the comparison holds, as
            measured); written with or without figures.
        fallback_data: a dataset name used, with a note, when ``settings["data"]`` is not on
            disk and the user did not name data (e.g. generated faces for CelebA).
        prepare: ``prepare(settings) -> settings``, applied last (settings that follow others,
            such as a weight decay scaled by the batch size).
    """

    name: str
    title: str
    summary: str
    configs: Callable[[bool], Sequence[Config]]
    settings: Mapping[str, Any] = field(default_factory=dict)
    quick: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    rank_by: str | None = None
    higher_is_better: bool = False
    columns: Callable[[ExperimentContext, Config, RunResult], Mapping[str, Any]] | None = None
    followup: Callable[[ExperimentContext], Sequence[Config]] | None = None
    figures: Callable[[ExperimentContext], Figures] | None = None
    notes: Callable[[ExperimentContext], Sequence[str]] | None = None
    fallback_data: str | None = None
    prepare: Callable[[RunSettings], RunSettings] | None = None

    def __call__(self, out: str | os.PathLike[str] | None = None, **options: Any) -> Any:
        """Run it: ``experiment(out, quick=True)`` is ``run_experiment(experiment, out, ...)``
        (so ``registry.experiments.build("vae-hz", out=..., quick=True)`` runs it too)."""
        return run_experiment(self, out, **options)


def get_experiment(name: str | Experiment) -> Experiment:
    """The registered experiment ``name`` (dashes or underscores), or ``name`` itself.

    Raises:
        autoencoders.UnknownNameError: no such experiment (with a close match if any).

    Example:
        >>> get_experiment("vae-hz").title
        'VAE hidden and latent sizes (h, z)'
    """
    if isinstance(name, Experiment):
        return name
    return experiments.get(name)


def experiment_names() -> list[str]:
    """The registered experiments, as typed on the command line (with dashes).

    Example:
        >>> "vae-hz" in experiment_names()
        True
    """
    return sorted(experiments.get(n).name for n in experiments.names())


def experiment_table() -> str:
    """The registered experiments as an aligned text table: name, runs, data and summary.

    ``runs`` counts the configurations at full size; a ``+`` marks an experiment that adds
    runs decided by the first ones (its ``followup``).

    Example:
        >>> print(experiment_table().splitlines()[0])
        name                runs  data           summary
    """
    rows = [("name", "runs", "data", "summary")]
    for name in experiment_names():
        exp = get_experiment(name)
        data = str(exp.settings.get("data", RunSettings.data))
        runs = str(len(exp.configs(False))) + ("+" if exp.followup is not None else "")
        rows.append((exp.name, runs, data, exp.summary))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = []
    for r in rows:
        cells = [r[0].ljust(widths[0]), r[1].rjust(widths[1]), r[2].ljust(widths[2]), r[3]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _settings(
    exp: Experiment, quick: bool, overrides: Mapping[str, Any], config: Config | None = None
) -> RunSettings:
    values = {**exp.settings, **(exp.quick if quick else {})}
    values.update({k: v for k, v in overrides.items() if v is not None})
    if config is not None:
        values.update(config.settings)
    known = {f.name for f in dataclasses.fields(RunSettings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise RunError(
            f"experiment {exp.name!r}: unknown settings {', '.join(unknown)}; "
            f"RunSettings takes {', '.join(sorted(known))}"
        )
    settings = RunSettings(**values)
    if exp.prepare is not None:
        settings = exp.prepare(settings)
    return settings.check()


def _varying(configs: Sequence[Config]) -> list[str]:
    """The model keywords (and ``model``) that differ between configurations: the table's
    columns after ``run``."""
    keys: list[str] = []
    if len({c.model for c in configs}) > 1:
        keys.append("model")
    for c in configs:
        for k in c.kwargs:
            if (
                k not in keys
                and len({json.dumps(d.kwargs.get(k), default=str) for d in configs}) > 1
            ):
                keys.append(k)
    return keys


def _train(
    ctx: ExperimentContext,
    configs: Sequence[Config],
    overrides: Mapping[str, Any],
    splits: Any,
    overwrite: bool,
    command: str | None,
    resume: bool = False,
) -> None:
    exp = ctx.experiment
    names = [c.name for c in ctx.configs]
    for c in configs:
        if c.name in names:
            raise RunError(f"experiment {exp.name!r} has two configurations named {c.name!r}")
        names.append(c.name)
    per_run = [_settings(exp, ctx.quick, overrides, c) for c in configs]
    nets = []
    for c in configs:  # every name and keyword checked before anything is trained
        try:
            nets.append(build_model(c.model, c.kwargs))
        except (TypeError, ValueError, LookupError) as exc:
            raise RunError(f"experiment {exp.name!r}, run {c.name!r}: {exc}") from exc
    data = _load(ctx, nets, splits, overrides)
    for c, settings, split in zip(configs, per_run, data):
        logger.info("%s: run %d/%d: %s", exp.name, len(ctx.configs) + 1, len(names), c.name)
        if ctx.settings.data != settings.data:
            settings = dataclasses.replace(settings, data=ctx.settings.data)
        out = ctx.dir / c.name
        done = finished_run(out, c.model, c.kwargs, settings) if resume else None
        if done is not None:
            logger.info("%s: run %s finished before: reusing %s", exp.name, c.name, out)
            discard_previous(out)  # a replacement killed after it was done left the old run
            if not (out / "report.md").is_file():
                report.write_report(out, title=f"Run report: {done.model}")
            ctx.results[c.name] = done
        else:  # with resume, checkpoints every epoch; one of this very run is continued
            again = resume and same_run(out, c.model, c.kwargs, settings)
            ctx.results[c.name] = train_run(
                c.model,
                dict(c.kwargs),
                dataclasses.replace(settings, resume=True) if resume else settings,
                out=out,
                overwrite=overwrite or resume,
                splits=split,
                command=command,
                fresh=resume and not again,
            )
        ctx.data[c.name] = split
        ctx.configs.append(c)
        if exp.columns is not None:
            ctx.extra[c.name] = dict(exp.columns(ctx, c, ctx.results[c.name]))


def _load(ctx: ExperimentContext, nets: list[Any], splits: Any, overrides: Mapping[str, Any]):
    exp = ctx.experiment
    try:
        return data_for_models(ctx.settings, nets, splits)
    except DatasetNotFoundError as exc:
        if exp.fallback_data is None or overrides.get("data") is not None:
            raise
        why = exc.describe(
            root_option="--data-root DIR", download_option="--download", one_line=True
        )
        note = (
            f"The stand-in dataset {exp.fallback_data!r} was used because "
            f"{ctx.settings.data!r} was not found: the numbers and figures say nothing about "
            f"{ctx.settings.data!r}. Name the data with --data (data= in Python)."
        )
        logger.warning("%s: %s (%s)", exp.name, note, why)
        ctx.notes.append(note)
        ctx.settings = dataclasses.replace(ctx.settings, data=exp.fallback_data)
        return data_for_models(ctx.settings, nets, None)


def _rows(ctx: ExperimentContext) -> list[dict[str, Any]]:
    exp = ctx.experiment
    keys = _varying(ctx.configs)
    rows = []
    for c in ctx.configs:
        point = {k: (c.model if k == "model" else c.kwargs.get(k)) for k in keys}
        row = sweep_row(c.name, point, ctx.results[c.name])
        row.update(ctx.extra.get(c.name, {}))
        rows.append(row)
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    rows = [{k: row.get(k) for k in columns} for row in rows]
    if exp.rank_by is None:
        return rows

    def score(row: Mapping[str, Any]) -> float:
        v = row.get(exp.rank_by)
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            return math.inf
        return -v if exp.higher_is_better else v

    ranked = sorted(rows, key=score)
    return [{"rank": i, **row} for i, row in enumerate(ranked, 1)]


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=str) + "\n").encode("utf-8"))


def _comparison_md(
    ctx: ExperimentContext, rows: list[dict[str, Any]], figures: list[tuple[Path, str]]
) -> None:
    exp = ctx.experiment
    md, _ = report.write_comparison(rows, ctx.dir, title=exp.title)
    text = md.read_text(encoding="utf-8")
    head, _, table = text.partition("\n\n")
    parts = [head, ""]
    if exp.description:
        parts += [exp.description.strip(), ""]
    size = "quick size (a smoke test: few epochs, few images)" if ctx.quick else "full size"
    parts += [f"Experiment `{exp.name}` at {size}; data: `{ctx.settings.data}`.", ""]
    if exp.rank_by:
        order = "highest" if exp.higher_is_better else "lowest"
        parts += [f"Ranked by `{exp.rank_by}` ({order} first).", ""]
    parts += [f"> {note}\n" for note in ctx.notes]
    parts += [table.rstrip(), ""]
    for path, caption in figures:
        parts += [f"![{caption}]({path.name})", "", f"*{caption}*", ""]
    atomic_write_bytes(md, "\n".join(parts).encode("utf-8"))


def run_experiment(
    name: str | Experiment,
    out: str | os.PathLike[str] | None = None,
    *,
    quick: bool = False,
    epochs: int | None = None,
    limit: int | None = None,
    data: str | None = None,
    data_root: str | None = None,
    device: str = "auto",
    seed: int = 0,
    progress: bool = False,
    overwrite: bool = False,
    resume: bool = False,
    command: str | None = None,
    splits: Any = None,
) -> ExperimentResult:
    """Run a registered experiment: every configuration, the table and the figures.

    Args:
        name: a registered experiment (see :func:`experiment_names`) or an :class:`Experiment`.
        out: the experiment folder (default ``runs/<name>-experiment-<timestamp>``).
        quick: the quick size (CI, docs): fewer epochs and images, same comparisons.
        epochs: override the experiment's epochs.
        limit: use at most this many examples per split.
        data: another dataset than the experiment's (a name or a folder of images).
        data_root: where to look for the data first.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        seed: seed of every run (initialisation, shuffling, noise, figures).
        progress: progress bars.
        overwrite: allow writing into a folder that already holds an experiment.
        resume: continue the experiment in ``out``: a configuration whose run folder holds
            this very run, finished, is reused as it is (not trained again); an unfinished
            one continues from its last checkpoint (every run writes one per epoch when
            resuming), and any other is trained afresh. So a long experiment that was
            stopped is continued with the same command plus ``resume=True``.
        command: the command line, recorded.
        splits: data already loaded, for every run (instead of ``data``).

    Returns:
        An :class:`ExperimentResult`.

    Raises:
        autoencoders.UnknownNameError: an unknown experiment (with a close match).
        RunError: a configuration that cannot be built, or a taken folder.
    """
    exp = get_experiment(name)
    start = time.perf_counter()
    overrides = {
        "epochs": epochs,
        "limit": limit,
        "data": data,
        "data_root": data_root,
        "device": device,
        "seed": seed,
        "progress": progress,
    }
    settings = _settings(exp, quick, overrides)
    configs = list(exp.configs(quick))
    if not configs:
        raise RunError(f"experiment {exp.name!r} has no configurations")
    if resume and out is None:
        raise RunError(
            "resume=True needs out=: the folder of the experiment to continue",
            cli="--resume needs --out DIR: the folder of the experiment to continue",
        )
    folder = check_out(out, exp.name, overwrite or resume, suffix="-experiment")
    ctx = ExperimentContext(exp, folder, quick, settings)
    record: dict[str, Any] = {
        "experiment": exp.name,
        "title": exp.title,
        "quick": quick,
        "settings": settings.record(),
        "data": settings.data,
        "configs": [dataclasses.asdict(c) for c in configs],
        "command": command,
        "autoencoders_version": __version__,
        "status": "running",
    }
    folder.mkdir(parents=True, exist_ok=True)
    _write_json(folder / "experiment.json", record)
    try:
        _train(ctx, configs, overrides, splits, overwrite, command, resume)
        if exp.followup is not None:
            more = list(exp.followup(ctx))
            record["configs"] += [dataclasses.asdict(c) for c in more]
            _train(ctx, more, overrides, splits, overwrite, command, resume)
        rows = _rows(ctx)
        if exp.notes is not None:
            ctx.notes.extend(exp.notes(ctx))
        figures: list[tuple[Path, str]] = []
        if settings.plots:
            histories = {c.caption: ctx.results[c.name].history for c in ctx.configs}
            plots.plot_loss_curves(histories, title=exp.title, save=folder / "loss_curves.png")
            figures.append(
                (folder / "loss_curves.png", "Training and validation loss of every run")
            )
            if exp.figures is not None:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(settings.seed)
                    figures += [(folder / f, cap) for f, cap in exp.figures(ctx)]
        _comparison_md(ctx, rows, figures)
    except BaseException as exc:
        record["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        record["error"] = f"{type(exc).__name__}: {exc}"
        _write_json(folder / "experiment.json", record)
        raise
    seconds = round(time.perf_counter() - start, 2)
    record.update(
        status="done",
        data=ctx.settings.data,
        notes=ctx.notes,
        seconds=seconds,
        figures=[p.name for p, _ in figures],
    )
    _write_json(folder / "experiment.json", record)
    return ExperimentResult(
        dir=folder,
        rows=rows,
        runs=dict(ctx.results),
        figures=figures,
        notes=list(ctx.notes),
        seconds=seconds,
    )
