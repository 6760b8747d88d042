"""What each command of the ``autoencoders`` program does: parsed options into a call of
:mod:`autoencoders.runs`, and its result printed."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from autoencoders import runs
from autoencoders.cli._parser import PROG
from autoencoders.cli._values import CLIError, parse_grid, parse_set
from autoencoders.data import DatasetNotFoundError
from autoencoders.report import METRIC_LABELS, flat_metrics, format_value

__all__ = ["error_message", "print_metrics", "run_command", "settings_from_args"]

#: Settings whose keyword arguments have their own option (``--optimizer-arg``, ...).
_WITH_ARGS = ("optimizer", "scheduler", "loss")
#: Settings that no option sets directly.
_NOT_OPTIONS = {"extra", "progress", *(f"{name}_kwargs" for name in _WITH_ARGS)}
#: ``--scheduler none`` and ``--loss default``: the setting's None (what RunSettings defaults to).
_UNSET = {"scheduler": "none", "loss": "default"}


def settings_from_args(
    args: argparse.Namespace, base: runs.RunSettings | None = None
) -> runs.RunSettings:
    """``base`` (default :class:`~autoencoders.runs.RunSettings()`) with the options given.

    A ``--optimizer``, ``--scheduler`` or ``--loss`` other than the base's drops the base's
    keyword arguments for it; ``--optimizer-arg`` and the like add to what is left.
    ``--scheduler none`` and ``--loss default`` set them back to None (no scheduler, the
    model's own loss), e.g. to drop what a ``--from`` run recorded.

    Example:
        >>> from autoencoders.cli import build_parser
        >>> args = build_parser().parse_args(["train", "vae", "--optimizer", "sgd",
        ...                                   "--optimizer-arg", "momentum=0.9", "--epochs", "2"])
        >>> s = settings_from_args(args)
        >>> s.optimizer, s.optimizer_kwargs, s.epochs, s.batch_size
        ('sgd', {'momentum': 0.9}, 2, 128)
    """
    base = base or runs.RunSettings()
    given: dict[str, Any] = {}
    for f in dataclasses.fields(runs.RunSettings):
        value = getattr(args, f.name, None)
        if f.name not in _NOT_OPTIONS and value is not None:
            given[f.name] = value
    # the words that mean "no scheduler" / "the model's own loss" (to undo a --from run's)
    for name, word in _UNSET.items():
        if isinstance(given.get(name), str) and given[name].strip().lower() == word:
            given[name] = None
    for name in _WITH_ARGS:
        kwargs = dict(getattr(base, f"{name}_kwargs"))
        if given.get(name, getattr(base, name)) != getattr(base, name):
            kwargs = {}
        option = f"--{name}-arg"
        kwargs.update(parse_set(getattr(args, f"{name}_arg"), option))
        given[f"{name}_kwargs"] = kwargs
    progress = getattr(args, "progress", None)
    given["progress"] = progress if progress is not None else sys.stderr.isatty()
    return dataclasses.replace(base, **given)


def print_metrics(metrics: Mapping[str, Any]) -> None:
    """The metrics, one aligned ``label  value`` line each."""
    flat = flat_metrics(metrics)
    labels = {k: METRIC_LABELS.get(k, k) for k in flat}
    width = max((len(v) for v in labels.values()), default=0)
    for key, value in flat.items():
        print(f"{labels[key].ljust(width)}  {format_value(value)}")


def _table(md: Path) -> str:
    """The first table of a markdown file (its lines starting with ``|``)."""
    lines = md.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), len(lines))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end])


def _command_line(argv: Sequence[str]) -> str:
    return " ".join([PROG, *map(shlex.quote, argv)])


def _train(args: argparse.Namespace, argv: Sequence[str]) -> int:
    model, kwargs, base = args.model, {}, None
    if args.from_run is not None:
        model, kwargs, base = runs.run_spec(args.from_run)
        if args.model is not None and args.model != model:
            raise CLIError(
                f"--from {args.from_run} trains the run's model, {model!r}; drop "
                f"{args.model!r} (or --from)"
            )
    elif model is None:
        raise CLIError("train needs a model name (see 'autoencoders list') or --from RUN_DIR")
    kwargs.update(parse_set(args.set))
    settings = settings_from_args(args, base)
    result = runs.train_run(
        model,
        kwargs,
        settings,
        out=args.out,
        overwrite=args.overwrite,
        command=_command_line(argv),
    )
    print_metrics(result.metrics)
    print(f"run folder: {result.dir}  (report: {result.dir / 'report.md'})")
    return 0


def _sweep(args: argparse.Namespace, argv: Sequence[str]) -> int:
    grid, zipped = parse_grid(args.grid), parse_grid(args.zip, "--zip")
    swept = runs.sweep(
        args.model,
        grid,
        parse_set(args.set),
        settings_from_args(args),
        zipped=zipped,
        out=args.out,
        overwrite=args.overwrite,
        command=_command_line(argv),
    )
    print((swept.dir / "comparison.md").read_text(encoding="utf-8").split("\n", 2)[2].strip())
    n = len(swept.rows)
    print(f"sweep folder: {swept.dir}  ({n} runs; comparison.md, comparison.csv)")
    return 0


def _experiment(args: argparse.Namespace, argv: Sequence[str]) -> int:
    if args.action == "list":
        print(runs.experiment_table())
        return 0
    result = runs.run_experiment(
        args.name,
        args.out,
        quick=args.quick,
        epochs=args.epochs,
        limit=args.limit,
        data=args.data,
        data_root=args.data_root,
        device=args.device,
        seed=args.seed,
        progress=args.progress if args.progress is not None else sys.stderr.isatty(),
        overwrite=args.overwrite,
        resume=args.resume,
        command=_command_line(argv),
    )
    print(_table(result.dir / "comparison.md"))
    figures = len(result.figures)
    print(
        f"experiment folder: {result.dir}  ({len(result.runs)} runs; comparison.md, "
        f"comparison.csv, {figures} figure{'s' if figures != 1 else ''}; "
        f"{result.seconds:.0f} s)"
    )
    return 0


def run_command(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Run the parsed command; returns the exit status."""
    if args.command == "list":
        table = runs.model_table(args.pattern)
        print(table)
        if "\n" not in table:  # the header alone
            print(f"{PROG}: no model matches {args.pattern!r}; 'autoencoders list' shows them all",
                  file=sys.stderr)  # fmt: skip
        return 0
    if args.command == "evaluate":
        data = {k: getattr(args, k) for k in ("data", "data_root", "limit", "device")}
        print_metrics(runs.evaluate_run(args.run_dir, download=bool(args.download), **data))
        return 0
    if args.command == "experiment":
        return _experiment(args, argv)
    if args.command == "sweep":
        return _sweep(args, argv)
    return _train(args, argv)


def error_message(exc: BaseException) -> str:
    """One line for an expected error, in this program's options (``--data-root``, ...)."""
    if isinstance(exc, DatasetNotFoundError):
        text = exc.describe(
            root_option="--data-root DIR", download_option="--download", one_line=True
        )
    elif isinstance(exc, runs.RunError):
        text = exc.cli_message
    else:
        text = str(exc)
    notes = [n for n in getattr(exc, "__notes__", ()) if isinstance(n, str)]  # what was kept
    text = " ".join(text.split()) or type(exc).__name__
    return text + "".join(f" ({' '.join(n.split())})" for n in notes)
