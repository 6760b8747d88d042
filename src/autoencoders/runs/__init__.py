"""Run folders: train a model into one, re-evaluate it, sweep a grid of them.

This is the application behind the ``autoencoders`` program, as Python functions: a notebook
that calls :func:`train_run` gets the very folder that ``autoencoders train`` writes::

    from autoencoders import runs

    settings = runs.RunSettings(epochs=1, limit=500)  # Fashion-MNIST, 500 images per split
    result = runs.train_run("vae", {"h": 64, "z": 2}, settings, out="runs/vae-64-2")
    # = autoencoders train vae --set h=64 --set z=2 --epochs 1 --limit 500 --out runs/vae-64-2

Data already in memory goes in as ``splits``; optimizer and scheduler are registry names:

    >>> import json, tempfile, torch
    >>> from autoencoders import runs
    >>> from autoencoders.data import from_tensors
    >>> data = from_tensors(torch.rand(60, 1, 28, 28))
    >>> settings = runs.RunSettings(epochs=2, batch_size=16, optimizer="sgd", lr=0.01,
    ...                             optimizer_kwargs={"momentum": 0.9}, scheduler="cosine",
    ...                             progress=False, plots=False)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     result = runs.train_run("vae", {"h": 8, "z": 2}, settings, out=d, splits=data)
    ...     run = json.loads((result.dir / "run.json").read_text())
    >>> run["status"], run["training"]["optimizer"], run["training"]["optimizer_kwargs"]
    ('done', 'sgd', {'momentum': 0.9})
    >>> [round(lr, 4) for lr in result.history.series("lr")]
    [0.01, 0.005]

A run folder holds::

    run.json            what was run: model name and arguments, data, training settings,
                        status (training / done / failed), best validation loss and epoch
    config.json         the model (autoencoders.save) ...
    model.safetensors   ... and its weights
    history.json/.csv   per-epoch losses (and learning rate)
    metrics.json        test-set metrics (autoencoders.metrics.evaluate_model)
    *.png               figures (autoencoders.report.FIGURES)
    report.md           all of it on one page

The parts: :class:`RunSettings` (the options), :func:`train_run` (one folder, a
:class:`RunResult`), :func:`evaluate_run` (recompute ``metrics.json``), :func:`sweep` (one run
per :func:`grid_points` point, a :class:`SweepResult`), :func:`load_data` (the data at a
model's shape) and :func:`model_table` (the registered models); :func:`run_experiment` runs
a registered experiment (:mod:`autoencoders.runs.recipes`: several runs, one comparison table,
the comparison figures) and :func:`experiment_table` lists them.
"""

from autoencoders.runs import recipes
from autoencoders.runs._files import METRICS_FILE, RUN_FILE
from autoencoders.runs.experiment import (
    Config,
    Experiment,
    ExperimentContext,
    ExperimentResult,
    experiment_names,
    experiment_table,
    get_experiment,
    run_experiment,
)
from autoencoders.runs.folder import (
    best_validation,
    evaluate_run,
    restore_previous_run,
    run_spec,
    train_run,
)
from autoencoders.runs.inputs import (
    check_data,
    data_for_models,
    data_summary,
    dataset_name,
    load_data,
)
from autoencoders.runs.models import build_model, describe_model, model_arguments, model_table
from autoencoders.runs.settings import RunError, RunResult, RunSettings, SweepResult
from autoencoders.runs.sweep import grid_points, point_label, slug, sweep, sweep_row

__all__ = [
    "METRICS_FILE",
    "Config",
    "Experiment",
    "ExperimentContext",
    "ExperimentResult",
    "experiment_names",
    "experiment_table",
    "get_experiment",
    "recipes",
    "run_experiment",
    "RUN_FILE",
    "RunError",
    "RunResult",
    "RunSettings",
    "SweepResult",
    "best_validation",
    "build_model",
    "check_data",
    "data_for_models",
    "data_summary",
    "dataset_name",
    "describe_model",
    "evaluate_run",
    "grid_points",
    "load_data",
    "model_arguments",
    "model_table",
    "point_label",
    "restore_previous_run",
    "run_spec",
    "slug",
    "sweep",
    "sweep_row",
    "train_run",
]
