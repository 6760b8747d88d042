"""The ``autoencoders`` command line: list models, train one into a run folder, evaluate,
sweep, and run the classic experiments.

::

    autoencoders list
    autoencoders train vae --set h=400 --set z=20 --epochs 10
    autoencoders train --from runs/vae-20250101-120000 --out runs/again
    autoencoders evaluate runs/vae-20250101-120000
    autoencoders sweep vae --grid h=400,300 --grid z=5,10,20 --epochs 10
    autoencoders sweep vae --zip h=400,400,300 --zip z=50,10,35 --epochs 10
    autoencoders experiment list
    autoencoders experiment run vae-hz --quick --out runs/vae-hz

``python -m autoencoders`` is the same program. It only parses arguments, calls
:mod:`autoencoders.runs`, where every command is a Python function
(:func:`~autoencoders.runs.train_run`, :func:`~autoencoders.runs.evaluate_run`,
:func:`~autoencoders.runs.sweep`, :func:`~autoencoders.runs.run_experiment`,
:func:`~autoencoders.runs.model_table`, ...), and prints. The parts: ``_values`` (the option
values), ``_parser`` (the commands and options), ``_commands`` (the calls and what they
print). :func:`main` takes an argument list::

    >>> from autoencoders.cli import main, parse_set
    >>> parse_set(["h=400", "hidden=[400, 100]", "noise=gaussian", "beta=0.5"])
    {'h': 400, 'hidden': [400, 100], 'noise': 'gaussian', 'beta': 0.5}
    >>> main(["list"])  # doctest: +ELLIPSIS
    name ...
    vae ...
    0

Errors a user can make (an unknown model, dataset, optimizer, scheduler or loss, a bad
``--set`` key, missing data, bad ``--grid``/``--zip`` syntax, a missing optional package)
end the program with one line on stderr, ``autoencoders: error: ...``, and exit status 2.
``--traceback`` shows the full traceback.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from autoencoders import runs
from autoencoders.cli._commands import error_message, run_command, settings_from_args
from autoencoders.cli._parser import PROG, build_parser
from autoencoders.cli._values import CLIError, parse_grid, parse_set, parse_value
from autoencoders.data import DatasetNotFoundError

__all__ = [
    "CLIError",
    "PROG",
    "TrainSettings",
    "build_parser",
    "evaluate_run",
    "main",
    "model_table",
    "parse_grid",
    "parse_set",
    "parse_value",
    "run_sweep",
    "settings_from_args",
    "train_run",
]

# The run-folder API under the names it had here (TrainSettings is runs.RunSettings).
TrainSettings, train_run, evaluate_run = runs.RunSettings, runs.train_run, runs.evaluate_run
run_sweep, model_table = runs.sweep, runs.model_table


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``autoencoders`` program on ``argv`` (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 on a usage or data error (one line on stderr), 130
        when interrupted (Ctrl-C), 143 when terminated (SIGTERM; a run in progress records
        ``interrupted`` either way).
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
    old_term = _catch_sigterm()
    try:
        return run_command(args, argv)
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print(f"{PROG}: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        for note in getattr(exc, "__notes__", ()):  # what a replaced run kept, and where
            print(f"{PROG}: {note}", file=sys.stderr)
        return 143 if terminated else 130
    except (DatasetNotFoundError, ValueError, TypeError, OSError, ImportError) as exc:
        if args.traceback:
            raise
        print(f"{PROG}: error: {error_message(exc)}", file=sys.stderr)
        return 2
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        package_logger.removeHandler(handler)
        package_logger.setLevel(old_level)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, a batch scheduler's end of time), raised where the
    program is, like Ctrl-C: a run in progress records ``interrupted`` in its ``run.json``."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated(f"signal {signum}")


def _catch_sigterm() -> Any:
    """Turn SIGTERM into :class:`Terminated` while a command runs; the previous handler, or
    None where no handler can be set (not the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)
