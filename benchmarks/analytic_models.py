"""What the analytic step gives each dense model: the Trainer with and without it, side by side.

For every zoo model the analytic step trains (:func:`autoencoders.analytic.step_unsupported`
finds nothing against it), two Trainers fit the same model from the same weights on the same
batches: ``analytic=True`` (the default) and ``analytic=False`` (autograd). The two alternate,
in reverse order every other round, so both see the same state of a drifting machine; the
table shows the median samples/s of each and the median of the per-round ratios. The models
are the 784-400-20 shapes of the classic experiments; the conditional VAE takes random labels
(its speed does not depend on which).

Usage::

    python benchmarks/analytic_models.py                       # 5 rounds of 100 steps each
    python benchmarks/analytic_models.py --steps 5 --rounds 1 --synthetic   # smoke (tests)
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

import autoencoders
from autoencoders.analytic import step_unsupported
from autoencoders.losses import default_loss
from autoencoders.training import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trainer_throughput import load_training_images

BATCH = 128
#: The models, with the keywords of the classic experiments' sizes.
MODELS = {
    "ae": {"h": 400, "z": 20},
    "dae": {"h": 400, "z": 20},
    "vae": {"h": 400, "z": 20},
    "beta_vae": {"h": 400, "z": 20, "beta": 4.0},
    "cvae": {"h": 400, "z": 20},
}


def _fit_seconds(model: torch.nn.Module, data, analytic: bool) -> float:
    trainer = Trainer(model, epochs=1, batch_size=BATCH, progress=False, analytic=analytic, seed=0)
    kind = trainer.step_kind
    if analytic and kind != "analytic":
        raise RuntimeError(f"{type(model).__name__}: expected the analytic step, got {kind!r}")
    start = time.perf_counter()
    trainer.fit(data)
    return time.perf_counter() - start


def measure(name: str, kwargs: dict, x: torch.Tensor, rounds: int) -> tuple[float, float, float]:
    """Median samples/s with and without the analytic step, and the median per-round ratio."""
    torch.manual_seed(0)
    initial = autoencoders.build(name, **kwargs)
    reason = step_unsupported(initial, default_loss(initial))
    if reason is not None:
        raise RuntimeError(f"{name}: the analytic step declines ({reason})")
    y = torch.randint(0, 10, (len(x),))
    data = TensorDataset(x, y) if initial.takes_labels else x
    times: dict[bool, list[float]] = {True: [], False: []}
    for r in range(rounds + 1):  # round 0 warms up
        order = (True, False) if r % 2 == 0 else (False, True)
        for analytic in order:
            seconds = _fit_seconds(copy.deepcopy(initial), data, analytic)
            if r:
                times[analytic].append(seconds)
    ratios = [slow / fast for fast, slow in zip(times[True], times[False], strict=True)]
    fast = len(x) / statistics.median(times[True])
    slow = len(x) / statistics.median(times[False])
    return fast, slow, statistics.median(ratios)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="steps per fit (default 100)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument(
        "--synthetic", action="store_true", help="synthetic data of Fashion-MNIST's shape"
    )
    args = parser.parse_args(argv)
    if args.steps < 1 or args.rounds < 1:
        parser.error(f"--steps and --rounds must be >= 1, got {args.steps} and {args.rounds}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    x, source = load_training_images(args.steps * BATCH, synthetic=args.synthetic)
    if len(x) < args.steps * BATCH:
        parser.error(f"--steps {args.steps} needs {args.steps * BATCH} images, found {len(x)}")
    print(f"data: {source}; {len(x)} images, batch {BATCH}, {args.rounds} rounds")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print()
    print("| model | analytic samples/s | autograd samples/s | analytic / autograd |")
    print("|---|---:|---:|---:|")
    for name in args.models:
        fast, slow, ratio = measure(name, MODELS[name], x, args.rounds)
        print(f"| {name} | {fast:,.0f} | {slow:,.0f} | {ratio:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
