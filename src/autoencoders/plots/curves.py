"""Loss curves of one run or several (a sweep): :func:`plot_loss_curves`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autoencoders.errors import InvalidValueError
from autoencoders.plots._figures import (
    PlotPath,
    check_target,
    finish,
    new_figure,
    panel_axes,
    result,
    set_title,
)
from autoencoders.training.history import TRAIN_KEYS, VAL_KEYS, History

__all__ = ["plot_loss_curves"]


def plot_loss_curves(
    history: Any,
    *,
    parts: bool = False,
    log_y: bool = False,
    title: str | None = None,
    ylabel: str = "loss per sample",
    ax: Any = None,
    save: PlotPath = None,
) -> Any:
    """Train (solid) and validation (dashed) loss per epoch; several runs overlaid.

    Several runs get one colour each and one legend entry each (plus a train / val key).
    The curves are drawn as recorded: picking a best epoch is :meth:`History.best
    <autoencoders.training.History.best>`'s job.

    Args:
        history: a :class:`~autoencoders.training.History`, a list of per-epoch records
            (dicts with ``train_loss``/``val_loss`` or nested ``{"train": {"loss": ...}}``),
            the path of a ``history.json``, or a mapping ``{run name: history}`` whose runs
            are drawn in one colour each (a sweep).
        parts: also draw the loss parts (e.g. ``recon`` and ``kl`` of a VAE), one more
            panel per part, when the loss has two or more parts.
        log_y: logarithmic loss axis.
        title: figure title (drawn as the first panel's title when ``ax`` is Axes).
        ylabel: label of the loss axis.
        ax: where to draw instead of a new figure: an Axes (one panel), a sequence of Axes
            (one per panel: the loss, then each part), or a Figure / SubFigure to add the
            panels to. ``save`` is not allowed then.
        save: PNG path to write.

    Returns:
        The new figure (one axes, plus one per loss part when ``parts``), or ``ax`` when given
        (a sequence as a list).

    Example:
        >>> recs = [{"epoch": 1, "train_loss": 3.0, "val_loss": 2.5},
        ...         {"epoch": 2, "train_loss": 2.0, "val_loss": 2.1}]
        >>> fig = plot_loss_curves({"h=400": recs, "h=300": recs})
        >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
        ['h=400', 'h=300', 'train', 'val']
        >>> from matplotlib.figure import Figure
        >>> left, right = Figure().subplots(1, 2)
        >>> plot_loss_curves(recs, ax=right) is right, len(right.get_lines())
        (True, 2)
    """
    check_target(ax, save, "plot_loss_curves")
    runs: dict[str, History]
    if isinstance(history, Mapping) and not {"records", "epochs"} & set(history):
        runs = {str(name): History.coerce(h) for name, h in history.items()}
        if not runs:
            raise InvalidValueError("history is an empty mapping of runs")
    else:
        runs = {"": History.coerce(history)}
    if not any(h.series(TRAIN_KEYS) or h.series(VAL_KEYS) for h in runs.values()):
        raise InvalidValueError(
            "found no loss values in the history: expected per-epoch records with "
            f"{' or '.join(TRAIN_KEYS)} / {' or '.join(VAL_KEYS)} entries"
        )
    part_names: list[str] = []
    if parts:
        for h in runs.values():
            part_names += [p for p in h.loss_parts() if p not in part_names]
        if len(part_names) < 2:  # a single part (an AE's "recon") is the loss itself
            part_names = []
    n_panels = 1 + len(part_names)
    if ax is None:
        extra = 1.8 if len(runs) > 4 else 0.0  # room for a legend outside the axes
        target: Any = new_figure(
            figsize=(6.4 + extra + 3.6 * len(part_names), 4.0), layout="constrained"
        )
        axes = list(target.subplots(1, n_panels, squeeze=False)[0])
    else:
        target = ax
        axes = panel_axes(ax, n_panels, "plot_loss_curves")
    multi = len(runs) > 1 or "" not in runs
    all_epochs: set[float] = set()
    colours = [f"C{i % 10}" for i in range(len(runs))]
    panels = [("loss", TRAIN_KEYS, VAL_KEYS)] + [
        (p, (f"train_{p}",), (f"val_{p}",)) for p in part_names
    ]
    for colour, (name, h) in zip(colours, runs.items()):
        if not len(h):
            continue
        epochs = h.epochs()
        all_epochs.update(epochs)
        # one legend entry per run (its colour); train/val told apart by the line style
        train_label = name or "train"
        val_label = f"_{name} val" if name else "val"
        marker = "o" if len(epochs) <= 20 else None
        for a, (_, tkeys, vkeys) in zip(axes, panels):
            train, val = h.series(tkeys), h.series(vkeys)
            if train is not None:
                a.plot(epochs, train, color=colour, marker=marker, ms=3, label=train_label)
            if val is not None:
                a.plot(
                    epochs,
                    val,
                    color=colour,
                    ls="--",
                    marker="s" if marker else None,  # hollow squares: val, dots: train
                    ms=4,
                    mfc="white",
                    label=val_label,
                )
    for a, panel in zip(axes, ["loss", *part_names]):
        _style(a, panel, ylabel if panel == "loss" else f"{panel} per sample", bool(part_names))
        _legend(a, multi, outside=multi and len(runs) > 4)
        _epoch_ticks(a, all_epochs)
        if log_y:
            a.set_yscale("log")
    default = "loss curves" if len(runs) > 1 else "training loss"
    if ax is None:
        target.suptitle(title or default, fontsize=11)
        return finish(target, save)
    set_title(target, axes, title or default)
    return result(ax)


def _style(ax: Any, panel: str, ylabel: str, titled: bool) -> None:
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(panel if titled else "")
    ax.grid(alpha=0.3)


def _legend(ax: Any, multi: bool, outside: bool) -> None:
    handles, _ = ax.get_legend_handles_labels()
    if multi and handles:
        from matplotlib.lines import Line2D

        handles += [
            Line2D([], [], color="0.35", marker="o", ms=3, label="train"),
            Line2D([], [], color="0.35", ls="--", marker="s", ms=4, mfc="white", label="val"),
        ]
    if handles:
        ax.legend(
            handles=handles,
            fontsize=8,
            loc="upper left" if outside else "best",
            bbox_to_anchor=(1.01, 1.0) if outside else None,
        )


def _epoch_ticks(ax: Any, all_epochs: set[float]) -> None:
    if 0 < len(all_epochs) <= 20:  # few epochs: a tick on each
        ax.set_xticks(sorted(all_epochs))
        ax.set_xlim(min(all_epochs) - 0.5, max(all_epochs) + 0.5)
    else:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
