"""The ``autoencoders`` command line: list models, train one into a run folder, evaluate, sweep.

::

    autoencoders list
    autoencoders train vae --set h=400 --set z=20 --epochs 10
    autoencoders evaluate runs/vae-20250101-120000
    autoencoders sweep vae --grid h=400,300 --grid z=5,10,20 --epochs 10

``python -m autoencoders`` is the same program. It only parses arguments, calls
:mod:`autoencoders.runs`, where every command is a Python function
(:func:`~autoencoders.runs.train_run`, :func:`~autoencoders.runs.evaluate_run`,
:func:`~autoencoders.runs.sweep`, :func:`~autoencoders.runs.model_table`), and prints.
:func:`main` takes an argument list::

    >>> from autoencoders.cli import main, parse_set
    >>> parse_set(["h=400", "hidden=[400, 100]", "noise=gaussian", "beta=0.5"])
    {'h': 400, 'hidden': [400, 100], 'noise': 'gaussian', 'beta': 0.5}
    >>> main(["list"])  # doctest: +ELLIPSIS
    name ...
    vae ...
    0

Errors a user can make (an unknown model, dataset, optimizer or scheduler, a bad ``--set``
key, missing data, bad ``--grid`` syntax) end the program with one line on stderr,
``autoencoders: error: ...``, and exit status 2. ``--traceback`` shows the full traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import Any, NoReturn

from autoencoders import runs
from autoencoders._version import __version__
from autoencoders.data import DatasetNotFoundError, dataset_names
from autoencoders.registry import optimizers, schedulers
from autoencoders.report import METRIC_LABELS, flat_metrics, format_value

__all__ = [
    "CLIError",
    "TrainSettings",
    "build_parser",
    "evaluate_run",
    "main",
    "model_table",
    "parse_grid",
    "parse_set",
    "parse_value",
    "run_sweep",
    "train_run",
]

PROG = "autoencoders"

# The run-folder API under the names it had here (TrainSettings is runs.RunSettings).
TrainSettings, train_run, evaluate_run = runs.RunSettings, runs.train_run, runs.evaluate_run
run_sweep, model_table = runs.sweep, runs.model_table


class CLIError(ValueError):
    """A usage error of the command line (bad ``--set``/``--grid`` syntax)."""


# -- argument values -------------------------------------------------------------------------------
def parse_value(text: str) -> Any:
    """A ``--set``/``--grid`` value: JSON when it parses (numbers, lists, true/null), else the text.

    Example:
        >>> [parse_value(v) for v in ("20", "[400,100]", "gaussian", "null")]
        [20, [400, 100], 'gaussian', None]
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split at ``sep`` outside brackets/braces/quotes: ``"[1,2],[3]"`` -> ``["[1,2]", "[3]"]``."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def _key_value(item: str, option: str) -> tuple[str, str]:
    key, eq, value = item.partition("=")
    key = key.strip()
    if not eq or not key or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise CLIError(
            f"{option} expects key=value with a parameter name as key, got {item!r} "
            f"(e.g. {option} z=20)"
        )
    return key, value.strip()


def parse_set(items: Sequence[str] | None, option: str = "--set") -> dict[str, Any]:
    """``["key=value", ...]`` to a dict; values through :func:`parse_value`.

    Args:
        items: the ``key=value`` strings.
        option: the option they came from, for the error messages (``--optimizer-arg``, ...).

    Raises:
        CLIError: an item without ``=``, an empty or invalid key, or a key given twice.
    """
    out: dict[str, Any] = {}
    for item in items or ():
        key, value = _key_value(item, option)
        if key in out:
            raise CLIError(f"{option} {key} given twice ({out[key]!r} and {value!r})")
        out[key] = parse_value(value)
    return out


def parse_grid(items: Sequence[str] | None) -> dict[str, list[Any]]:
    """``["h=400,300", "z=5,10"]`` to ``{"h": [400, 300], "z": [5, 10]}``.

    Commas inside brackets do not split, so lists work: ``hidden=[400],[400,100]``.

    Example:
        >>> parse_grid(["h=400,300", "hidden=[400],[400,100]"])
        {'h': [400, 300], 'hidden': [[400], [400, 100]]}

    Raises:
        CLIError: a missing ``=``, an empty value, unbalanced brackets, a key given twice.
    """
    grid: dict[str, list[Any]] = {}
    for item in items or ():
        key, text = _key_value(item, "--grid")
        if key in grid:
            raise CLIError(f"--grid {key} given twice; list all its values in one --grid")
        if text.count("[") != text.count("]") or text.count("{") != text.count("}"):
            raise CLIError(f"--grid {item!r} has unbalanced brackets")
        values = _split_top_level(text)
        if not text or any(not v.strip() for v in values):
            raise CLIError(
                f"--grid {item!r} has an empty value; expected key=v1,v2,... (e.g. --grid z=5,10)"
            )
        grid[key] = [parse_value(v.strip()) for v in values]
    return grid


def _positive(cast: Callable[[str], float], what: str) -> Callable[[str], Any]:
    """An argparse type: ``cast(text)``, which must be finite and > 0."""

    def check(text: str) -> Any:
        try:
            value = cast(text)
        except ValueError:
            value = math.nan
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"expected a positive {what}, got {text!r}")
        return value

    return check


_INT = _positive(int, "integer")


# -- argument parsing ------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


def _add_data_options(p: argparse.ArgumentParser, defaults: bool = True) -> None:
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        default="fashion-mnist" if defaults else None,
        help=f"a dataset ({', '.join(dataset_names(command_line=True, load=False))}, or a "
        "plugin's: autoencoders.registry.datasets) or a folder of images"
        + (" (default: fashion-mnist)" if defaults else " (default: the run's)"),
    )
    g.add_argument("--data-root", metavar="DIR", help="where to look for the data first")
    g.add_argument(
        "--download", action="store_true", help="download the dataset when it is not found locally"
    )
    g.add_argument("--limit", type=_INT, metavar="N", help="use at most N examples per split")


def _add_train_options(p: argparse.ArgumentParser) -> None:
    kv = {"action": "append", "default": [], "metavar": "KEY=VALUE"}
    p.add_argument(
        "--set",
        **kv,
        help="a model argument, e.g. --set z=20 --set hidden=[400,100] "
        "--set noise=gaussian (values are JSON when they parse)",
    )
    _add_data_options(p)
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=_INT, default=10, help="default: 10")
    g.add_argument("--batch-size", type=_INT, default=128, help="default: 128")
    g.add_argument("--lr", type=_positive(float, "number"), default=1e-3, help="default: 1e-3")
    g.add_argument(
        "--optimizer",
        default="adam",
        metavar="NAME",
        help=f"a registered optimizer: {', '.join(optimizers.names(load=False))} (default: adam)",
    )
    g.add_argument(
        "--optimizer-arg", **kv, help="an optimizer argument, e.g. --optimizer-arg momentum=0.9"
    )
    g.add_argument(
        "--scheduler",
        metavar="NAME",
        help=f"an LR scheduler: {', '.join(schedulers.names(load=False))} (default: none)",
    )
    g.add_argument("--scheduler-arg", **kv, help="a scheduler argument, like --optimizer-arg")
    g.add_argument("--amp", choices=("bf16", "fp16"), help="mixed precision (default: off)")
    g.add_argument("--compile", action="store_true", help="torch.compile the model")
    g.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1, mps")
    g.add_argument("--seed", type=int, default=0, help="default: 0")
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="DIR", help="output folder (default: runs/<model>-<time>)")
    o.add_argument(
        "--overwrite", action="store_true", help="write into --out even if it already holds a run"
    )
    o.add_argument("--no-plots", dest="plots", action="store_false", help="skip the figures")
    o.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars (default: when stderr is a terminal)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``autoencoders`` program."""
    parser = _Parser(
        prog=PROG,
        description="Build, train, evaluate and compare autoencoders.",
        epilog="Run 'autoencoders COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = _Parser(add_help=False)  # -q and --traceback after the command too
    for target, default in ((parser, False), (common, argparse.SUPPRESS)):  # keeps the first
        flag = {"action": "store_true", "default": default}
        target.add_argument("-q", "--quiet", **flag, help="log warnings only")
        target.add_argument("--traceback", **flag, help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], help=summary, description=description)

    p = command(
        "list", "list the registered models", "List the registered models with their default sizes."
    )
    p.add_argument("pattern", nargs="?", help="shell-style filter, e.g. '*vae*'")

    p = command(
        "train",
        "train a model into a run folder",
        "Train a model and write a run folder: weights, history, metrics, figures and report.md.",
    )
    p.add_argument("model", help="a registered model name (see 'autoencoders list')")
    _add_train_options(p)

    p = command(
        "evaluate", "recompute a run's metrics", "Reload a run's model and recompute its metrics."
    )
    p.add_argument("run_dir", help="a folder written by 'autoencoders train'")
    _add_data_options(p, defaults=False)
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, ...")

    p = command(
        "sweep",
        "train one run per grid point and compare them",
        "Train one run per combination of --grid values and write comparison.md/.csv and "
        "overlaid loss curves.",
    )
    p.add_argument("model", help="a registered model name")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="values of one model argument, e.g. --grid h=400,300 --grid z=5,10,20",
    )
    _add_train_options(p)
    return parser


# -- running ---------------------------------------------------------------------------------------
def _settings(args: argparse.Namespace) -> runs.RunSettings:
    given = {f.name: getattr(args, f.name) for f in fields(runs.RunSettings) if f.name in args}
    given["progress"] = args.progress if args.progress is not None else sys.stderr.isatty()
    given["optimizer_kwargs"] = parse_set(args.optimizer_arg, "--optimizer-arg")
    given["scheduler_kwargs"] = parse_set(args.scheduler_arg, "--scheduler-arg")
    return runs.RunSettings(**given)


def _print_metrics(metrics: Mapping[str, Any]) -> None:
    flat = flat_metrics(metrics)
    labels = {k: METRIC_LABELS.get(k, k) for k in flat}
    width = max((len(v) for v in labels.values()), default=0)
    for key, value in flat.items():
        print(f"{labels[key].ljust(width)}  {format_value(value)}")


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    if args.command == "list":
        print(runs.model_table(args.pattern))
        return 0
    if args.command == "evaluate":
        data = {k: getattr(args, k) for k in ("data", "data_root", "limit", "device", "download")}
        _print_metrics(runs.evaluate_run(args.run_dir, **data))
        return 0
    grid = parse_grid(args.grid) if args.command == "sweep" else None
    kwargs, settings = parse_set(args.set), _settings(args)
    output = {"out": args.out, "overwrite": args.overwrite}
    output["command"] = " ".join([PROG, *map(shlex.quote, argv)])
    if grid is None:  # train
        result = runs.train_run(args.model, kwargs, settings, **output)
        _print_metrics(result.metrics)
        print(f"run folder: {result.dir}  (report: {result.dir / 'report.md'})")
    else:
        swept = runs.sweep(args.model, grid, kwargs, settings, **output)
        print((swept.dir / "comparison.md").read_text(encoding="utf-8").split("\n", 2)[2].strip())
        n = len(swept.rows)
        print(f"sweep folder: {swept.dir}  ({n} runs; comparison.md, comparison.csv)")
    return 0


def _error_message(exc: BaseException) -> str:
    """One line for an expected error, in this program's options (``--data-root``, ...)."""
    if isinstance(exc, DatasetNotFoundError):
        text = exc.describe(
            root_option="--data-root DIR", download_option="--download", one_line=True
        )
    elif isinstance(exc, runs.RunError):
        text = exc.cli_message
    else:
        text = str(exc)
    return " ".join(text.split()) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``autoencoders`` program on ``argv`` (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 on a usage or data error (one line on stderr).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    package_logger = logging.getLogger("autoencoders")
    old_level = package_logger.level
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.WARNING if args.quiet else logging.INFO)
    try:
        return _run(args, argv)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except (DatasetNotFoundError, ValueError, TypeError, OSError, ImportError) as exc:
        if args.traceback:
            raise
        print(f"{PROG}: error: {_error_message(exc)}", file=sys.stderr)
        return 2
    finally:
        package_logger.removeHandler(handler)
        package_logger.setLevel(old_level)
