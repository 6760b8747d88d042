"""What an experiment's recipe works with: its runs, what its hooks see, what it returns.

:class:`Config` is one configuration (one run) of an :class:`~autoencoders.runs.Experiment`;
:class:`ExperimentContext` is what the experiment's ``columns``, ``followup`` and ``figures``
hooks see while it runs; :class:`ExperimentResult` is what
:func:`~autoencoders.runs.run_experiment` returns.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from autoencoders._utils import gather
from autoencoders.io import load
from autoencoders.runs.settings import RunError, RunResult, RunSettings
from autoencoders.runs.sweep import sweep_row

__all__ = ["Config", "ExperimentContext", "ExperimentResult", "Figures"]

#: Figure functions return (file name in the experiment folder, caption) pairs.
Figures = list[tuple[str, str]]


@dataclass(frozen=True)
class Config:
    """One configuration (one run) of an experiment.

    Attributes:
        name: the run's folder name and its row label in the table.
        model: a registered model name.
        kwargs: the model's keyword arguments (``noise`` and its parameters included).
        settings: :class:`RunSettings` fields that differ for this run (``loss``, ``lr``, ...).
        label: a short label for legends and panel titles (default: ``name``).
    """

    name: str
    model: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    label: str | None = None

    @property
    def caption(self) -> str:
        """``label``, or ``name`` without one."""
        return self.label or self.name


@dataclass
class ExperimentContext:
    """What the figure and column functions of an experiment see while it runs.

    Attributes:
        experiment: the experiment.
        dir: its folder (figures are drawn into it).
        quick: whether it runs at the quick size.
        settings: the settings shared by its runs.
        configs: the configurations trained so far, in order.
        results: each configuration's :class:`RunResult`, by name.
        data: each configuration's data splits, by name.
        notes: lines added to ``comparison.md`` (e.g. which stand-in data was used).
        cache: room for the recipe's own values computed once (e.g. a PCA fit).
        extra: each configuration's extra table columns (``Experiment.columns``), by name.
    """

    experiment: Any  # the Experiment (autoencoders.runs.experiment imports this module)
    dir: Path
    quick: bool
    settings: RunSettings
    configs: list[Config] = field(default_factory=list)
    results: dict[str, RunResult] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)
    _models: dict[str, Any] = field(default_factory=dict, repr=False)

    def model(self, name: str) -> Any:
        """The trained model of configuration ``name``, loaded from its run folder (cached)."""
        if name not in self._models:
            self._models[name] = load(self.results[name].dir).eval()
        return self._models[name]

    def test_set(self, name: str, limit: int | None = None) -> tuple[torch.Tensor, Any]:
        """``(images, labels or None)`` of configuration ``name``'s test split (the first
        ``limit``)."""
        x, y = gather(self.data[name].test, limit=limit)
        return x, y

    def class_names(self, name: str) -> list[str] | None:
        """The class names of configuration ``name``'s data, if it has them."""
        names = getattr(self.data[name], "class_names", None)
        return list(names) if names else None

    def best(self, column: str, *, higher_is_better: bool = False) -> Config:
        """The configuration with the best finite value of ``column`` in its table row."""
        scored = []
        for config in self.configs:
            value = self.row_value(config.name, column)
            if value is not None and math.isfinite(value):
                scored.append((-value if higher_is_better else value, len(scored), config))
        if not scored:
            raise RunError(f"no run of {self.experiment.name!r} has a finite {column!r}")
        return min(scored)[2]

    def row_value(self, name: str, column: str) -> float | None:
        """The number in column ``column`` of configuration ``name``'s row, or None."""
        result = self.results[name]
        row = {**sweep_row(name, {}, result), **self.extra.get(name, {})}
        value = row.get(column, result.metrics.get(column))
        return float(value) if isinstance(value, (int, float)) else None


@dataclass
class ExperimentResult:
    """What :func:`~autoencoders.runs.run_experiment` returns.

    Attributes:
        dir: the experiment folder.
        rows: the comparison table, one mapping per run (ranked when the experiment ranks).
        runs: each configuration's :class:`RunResult`, by name, in training order.
        figures: ``(png path, caption)`` of each comparison figure.
        notes: the notes written to ``comparison.md``.
        seconds: wall time of the whole experiment.
    """

    dir: Path
    rows: list[dict[str, Any]]
    runs: dict[str, RunResult]
    figures: list[tuple[Path, str]]
    notes: list[str]
    seconds: float

    def table_text(self, width: int = 88) -> str:
        """``comparison.md`` as plain text: the heading, the prose wrapped, the table as is.

        The figure links at the end of the file are left out (see :meth:`show_figures`).

        Args:
            width: the column at which prose paragraphs are wrapped; table rows are never
                wrapped.
        """
        text = (self.dir / "comparison.md").read_text(encoding="utf-8")
        blocks = []
        for block in text.split("\n\n"):
            if block.startswith("!["):
                break
            blocks.append(block if block.startswith("|") else textwrap.fill(block, width))
        return "\n\n".join(blocks).rstrip() + "\n"

    def show_figures(self) -> list[Any]:
        """Open every comparison figure with :mod:`matplotlib.pyplot`, one figure per PNG.

        Each figure is sized to the PNG's own pixels (at 100 dpi) and titled with its caption,
        so a notebook or a docs gallery shows it as it was saved; in a script, call
        ``matplotlib.pyplot.show()`` afterwards. Unlike :mod:`autoencoders.plots`, this goes
        through ``pyplot`` on purpose (that is what displays figures): close them with
        ``pyplot.close("all")`` when done.

        Returns:
            The :class:`matplotlib.figure.Figure` objects, in the order of :attr:`figures`.
        """
        import matplotlib.pyplot as plt

        shown = []
        for png, caption in self.figures:
            image = plt.imread(png)
            height, width = image.shape[:2]
            fig, ax = plt.subplots(figsize=(width / 100, height / 100 + 0.4), layout="constrained")
            ax.imshow(image)
            ax.set_axis_off()
            ax.set_title(caption, fontsize=10, wrap=True)
            shown.append(fig)
        return shown
