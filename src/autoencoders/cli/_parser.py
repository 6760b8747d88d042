"""The argument parser of the ``autoencoders`` program: its commands and their options.

The options that set a :class:`~autoencoders.runs.RunSettings` field default to None, so that
what the command line gives can be told from what it does not (``train --from RUN_DIR``
overrides only the options given); the defaults shown in ``--help`` are the settings'.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from autoencoders._version import __version__
from autoencoders.cli._values import (
    nonnegative_number,
    number_pair,
    positive_int,
    positive_number,
)
from autoencoders.data import dataset_names
from autoencoders.registry import losses, optimizers, schedulers

__all__ = ["PROG", "Parser", "build_parser"]

PROG = "autoencoders"


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


_KV: dict[str, Any] = {"action": "append", "default": [], "metavar": "KEY=VALUE"}
_ON_OFF = argparse.BooleanOptionalAction


def _add_data_options(p: argparse.ArgumentParser, default: str) -> None:
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        help=f"a dataset ({', '.join(dataset_names(command_line=True, load=False))}, or a "
        f"plugin's: autoencoders.registry.datasets) or a folder of images (default: {default})",
    )
    g.add_argument("--data-root", metavar="DIR", help="where to look for the data first")
    g.add_argument(
        "--download",
        action="store_true",
        default=None,
        help="download the dataset when it is not found locally",
    )
    g.add_argument(
        "--limit", type=positive_int, metavar="N", help="use at most N examples per split"
    )


def _names(registry: Any) -> str:
    return ", ".join(registry.names(load=False))


def _add_training_options(p: argparse.ArgumentParser, default_data: str) -> None:
    p.add_argument(
        "--set",
        **_KV,
        help="a model argument, e.g. --set z=20 --set hidden=[400,100] "
        "--set noise=gaussian (values are JSON when they parse)",
    )
    _add_data_options(p, default_data)
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=positive_int, help="default: 10")
    g.add_argument("--batch-size", type=positive_int, help="default: 128")
    g.add_argument("--lr", type=positive_number, help="learning rate (default: 1e-3)")
    g.add_argument(
        "--optimizer", metavar="NAME", help=f"an optimizer: {_names(optimizers)} (default: adam)"
    )
    g.add_argument(
        "--optimizer-arg", **_KV, help="an optimizer argument, e.g. --optimizer-arg momentum=0.9"
    )
    g.add_argument(
        "--betas",
        type=number_pair,
        metavar="B1,B2",
        help="Adam-family betas, e.g. --betas 0.5,0.999 (default: the optimizer's)",
    )
    g.add_argument(
        "--weight-decay",
        type=nonnegative_number,
        metavar="W",
        help="weight decay of the optimizer (default: 0)",
    )
    g.add_argument(
        "--scheduler",
        metavar="NAME",
        help=f"an LR scheduler: {_names(schedulers)}, or 'none' (the default; with --from, drops "
        "the run's scheduler)",
    )
    g.add_argument("--scheduler-arg", **_KV, help="a scheduler argument, like --optimizer-arg")
    g.add_argument(
        "--loss",
        metavar="NAME",
        help=f"a loss: {_names(losses)}, or 'default': the model's (ELBO for a VAE, else BCE or "
        "MSE by its output; with --from, drops the run's loss)",
    )
    g.add_argument(
        "--loss-arg", **_KV, help="a loss argument, e.g. --loss elbo --loss-arg recon=mse"
    )
    g.add_argument("--amp", choices=("bf16", "fp16"), help="mixed precision (default: off)")
    g.add_argument("--compile", action=_ON_OFF, help="torch.compile the model (default: off)")
    g.add_argument(
        "--channels-last",
        action=_ON_OFF,
        help="train in the channels_last memory format: faster for conv models (default: off)",
    )
    g.add_argument(
        "--analytic",
        action=_ON_OFF,
        help="dense models: gradients written out, without autograd (default: on)",
    )
    g.add_argument("--device", help="auto (default), cpu, cuda, cuda:1, mps")
    g.add_argument("--seed", type=int, help="default: 0")
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="DIR", help="output folder (default: runs/<model>-<time>)")
    o.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run --out holds (it is put back if the new run fails)",
    )
    o.add_argument(
        "--no-plots", dest="plots", action="store_false", default=None, help="skip the figures"
    )
    o.add_argument(
        "--progress", action=_ON_OFF, help="progress bars (default: when stderr is a terminal)"
    )
    o.add_argument(
        "--checkpoint-every",
        type=positive_int,
        metavar="N",
        help="write a resumable checkpoint every N steps (and every epoch) to OUT/checkpoints",
    )
    o.add_argument(
        "--resume",
        action="store_true",
        default=None,
        help="continue the run in --out from its latest checkpoint (checkpoints are written "
        "with --checkpoint-every or --resume)",
    )
    o.add_argument(
        "--tensorboard",
        action=_ON_OFF,
        help='log to TensorBoard in OUT/tensorboard (pip install "autoencoders[tensorboard]")',
    )


def _add_experiment_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "experiment",
        parents=[common],
        help="list or run the classic experiments",
        description="The classic experiments, each several runs, one comparison table and "
        "its figures: 'experiment list' names them, 'experiment run NAME' runs one.",
    )
    inner = p.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    inner.required = True
    inner.add_parser(
        "list", parents=[common], help="list the experiments", description="List the experiments."
    )
    r = inner.add_parser(
        "run",
        parents=[common],
        help="run an experiment into a folder",
        description="Run a registered experiment: one run folder per configuration, "
        "comparison.md/.csv and the comparison figures.",
    )
    r.add_argument("name", help="an experiment (see 'autoencoders experiment list')")
    r.add_argument(
        "--out", metavar="DIR", help="output folder (default: runs/<name>-experiment-<time>)"
    )
    r.add_argument("--quick", action="store_true", help="the quick size (CI, docs): minutes")
    r.add_argument("--epochs", type=positive_int, help="default: the experiment's")
    r.add_argument(
        "--limit", type=positive_int, metavar="N", help="use at most N examples per split"
    )
    r.add_argument("--data", help="another dataset or folder of images (default: the experiment's)")
    r.add_argument("--data-root", metavar="DIR", help="where to look for the data first")
    r.add_argument("--device", default="auto", help="auto (default), cpu, cuda, ...")
    r.add_argument("--seed", type=int, default=0, help="default: 0")
    r.add_argument(
        "--overwrite", action="store_true", help="write into --out even if it holds an experiment"
    )
    r.add_argument(
        "--resume",
        action="store_true",
        help="continue the experiment in --out: reuse its finished runs, continue an unfinished "
        "one from its last checkpoint",
    )
    r.add_argument(
        "--progress", action=_ON_OFF, help="progress bars (default: when stderr is a terminal)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``autoencoders`` program.

    Example:
        >>> args = build_parser().parse_args(["sweep", "vae", "--zip", "z=2,3", "--betas", "0.5,0.9"])
        >>> args.zip, args.betas, args.epochs
        (['z=2,3'], (0.5, 0.9), None)
    """
    parser = Parser(
        prog=PROG,
        description="Build, train, evaluate and compare autoencoders.",
        epilog="Run 'autoencoders COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = Parser(add_help=False)  # -q and --traceback after the command too
    for target, default in ((parser, False), (common, argparse.SUPPRESS)):  # keeps the first
        flag = {"action": "store_true", "default": default}
        target.add_argument("-q", "--quiet", **flag, help="log warnings only")
        target.add_argument("--traceback", **flag, help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
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
    p.add_argument("model", nargs="?", help="a registered model name (see 'autoencoders list')")
    p.add_argument(
        "--from",
        dest="from_run",
        metavar="RUN_DIR",
        help="run again what RUN_DIR/run.json records (model, arguments, data, training "
        "settings); the options given here override it",
    )
    _add_training_options(p, "fashion-mnist, or the --from run's")

    p = command(
        "evaluate", "recompute a run's metrics", "Reload a run's model and recompute its metrics."
    )
    p.add_argument("run_dir", help="a folder written by 'autoencoders train'")
    _add_data_options(p, "the run's")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, ...")

    p = command(
        "sweep",
        "train one run per grid point and compare them",
        "Train one run per point (every combination of the --grid values, times the --zip "
        "lists walked in lockstep) and write comparison.md/.csv and overlaid loss curves.",
    )
    p.add_argument("model", help="a registered model name")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="values of one model argument, every combination: --grid h=400,300 --grid z=5,10",
    )
    p.add_argument(
        "--zip",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="values walked in lockstep with the other --zip lists (same length): "
        "--zip h=400,300 --zip z=50,5 gives (400, 50) and (300, 5)",
    )
    _add_training_options(p, "fashion-mnist")
    _add_experiment_commands(sub, common)
    return parser
