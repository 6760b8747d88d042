"""Trainer throughput versus hand-written training loops, measured side by side.

The model is the PyTorch-examples VAE, 784-400-20 (``autoencoders.build("vae")``), trained on
all 60,000 Fashion-MNIST training images (uniform random data of the same shape when the files
are absent, or with ``--synthetic``; the output says which) with batch size 128 and Adam at
lr 1e-3. Contenders:

* ``hand loop, in-memory`` — **the baseline of the ratio**: a plain loop over the training set
  held as one tensor, shuffled by ``torch.randperm`` each epoch, ``x[perm[i:i+128]]``, forward,
  BCE + KL, backward, ``optimizer.step()``, with ``torch.optim.Adam`` at its defaults. It has
  the same data path as the Trainer's fast path, so the ratio measures the Trainer's overhead
  (or gain). It accumulates the loss on the device (no ``.item()`` per step), to be strict.
* ``hand loop, DataLoader`` — the PyTorch VAE example's loop: ``DataLoader(TensorDataset(x),
  batch_size=128, shuffle=True)`` (one worker and pinned memory on CUDA, as the example does).
* ``hand loop, in-memory, fused Adam`` — the baseline with ``Adam(fused=True)``, which is what
  the Trainer uses: it shows how much of the difference is the optimizer kernel.
* ``Trainer`` — ``autoencoders.Trainer(model, batch_size=128, lr=1e-3, progress=False)``, the
  same with its progress bar on, and with ``analytic=False``: the Trainer's step through
  autograd instead of the analytic step (:mod:`autoencoders.analytic`) it takes by default for
  this model (the output prints ``Trainer.step_kind``).
* On CUDA also: the Trainer with ``compile=True``, with ``amp="bf16"``, and with
  ``compile="reduce-overhead"`` (inductor plus CUDA graphs: the model's compiled forward and
  backward are each replayed as one graph launch, which removes most of the per-kernel launch
  cost of this small model; the loss and the fused Adam step stay eager).
  The rows above are then the eager and DataLoader baselines on the GPU. A CUDA contender that
  fails to compile is dropped with a note rather than ending the run.

Each contender keeps its own model and optimizer; after one untimed warm-up round (which is
also when the compiled contenders compile), the rounds run the contenders one after the other,
in reverse order every other round (a-b-c-c-b-a-a-b-c...), each for the same steps over the same
data. The table reports the median samples/s over rounds with the min-max range;
``s/epoch (60k)`` = 60000 / median samples/s, the time of one Fashion-MNIST epoch at that speed
(the issue's GPU target is <= 0.3 s on an H100, with the data resident on the GPU);
``vs baseline``, the ratio of the medians; and ``paired vs baseline``, the median of each
round's own ratio to the baseline of that round. The machines these run on are shared and
drift by 10-30 % within minutes; a round's contenders run seconds apart, so the paired ratio is
the steadier of the two. Both are printed, always.

Usage::

    python benchmarks/trainer_throughput.py --rounds 5            # CPU, 200 steps a round
    python benchmarks/trainer_throughput.py --epochs 1 --rounds 3 # whole epochs per round
    python benchmarks/trainer_throughput.py --device cuda         # adds the GPU rows
    python benchmarks/trainer_throughput.py --quick               # smoke run: 10 steps, 1 round
    python benchmarks/trainer_throughput.py --quick --steps 2 --synthetic  # quickest (tests)
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import autoencoders
from autoencoders.training import Trainer

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
BATCH = 128
LR = 1e-3
#: Samples in one Fashion-MNIST training epoch, for the ``s/epoch (60k)`` column.
EPOCH_SAMPLES = 60000
BASELINE = "hand loop, in-memory (baseline)"


# -- data ---------------------------------------------------------------------------------------
def _read_idx_images(path: Path) -> torch.Tensor:
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    magic, n, rows, cols = np.frombuffer(raw[:16], dtype=">i4")
    if magic != 2051:
        raise ValueError(f"{path} is not an IDX image file (magic {magic})")
    pixels = np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, 1, rows, cols)
    return torch.from_numpy(pixels.copy()).float().div_(255.0)


def _synthetic(why: str) -> tuple[torch.Tensor, str]:
    x = torch.rand(EPOCH_SAMPLES, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    return x, f"SYNTHETIC uniform data of Fashion-MNIST's shape ({why})"


def load_training_images(limit: int | None, synthetic: bool = False) -> tuple[torch.Tensor, str]:
    """Fashion-MNIST training images in [0, 1], and a description of where they came from."""
    if synthetic:
        x, source = _synthetic("--synthetic")
    else:
        try:
            from autoencoders.data import load_dataset

            # val_size=0: the whole training split, 60,000 images, one real epoch
            splits = load_dataset("fashion-mnist", download=False, val_size=0)
            x = splits.train.tensors[0]
            source = (
                f"Fashion-MNIST via autoencoders.data.load_dataset ({splits.source or 'local'})"
            )
        except (ImportError, AttributeError, OSError, ValueError) as exc:
            path = DEBIAN_DIR / "train-images-idx3-ubyte.gz"
            if path.is_file():
                x = _read_idx_images(path)
                source = f"Fashion-MNIST from {path} (load_dataset unavailable: {exc})"
            else:
                x, source = _synthetic("no Fashion-MNIST files found")
    if limit is not None:
        x = x[:limit]
    return x.contiguous(), source


# -- contenders ---------------------------------------------------------------------------------
def vae_loss(out: autoencoders.AutoencoderOutput, x: torch.Tensor) -> torch.Tensor:
    """BCE + KLD as in the PyTorch VAE example, per sample (mean over the batch)."""
    bce = F.binary_cross_entropy_with_logits(out.logits, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + out.logvar - out.mean.pow(2) - out.logvar.exp())
    return (bce + kld) / x.shape[0]


def _new_model(device: torch.device) -> autoencoders.Autoencoder:
    torch.manual_seed(0)
    return autoencoders.build("vae", h=400, z=20).to(device)


class HandLoopInMemory:
    """Shuffled index permutation over an in-memory tensor; plain PyTorch."""

    def __init__(self, device: torch.device, fused: bool = False) -> None:
        self.model = _new_model(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR, fused=fused or None)
        self.device = device

    def run(self, x: torch.Tensor, epochs: int) -> int:
        model, opt = self.model, self.opt
        model.train()
        n = len(x)
        total = torch.zeros((), device=self.device)
        for _ in range(epochs):
            perm = torch.randperm(n, device=self.device)
            for i in range(0, n, BATCH):
                xb = x[perm[i : i + BATCH]]
                opt.zero_grad()
                loss = vae_loss(model(xb), xb)
                loss.backward()
                total += loss.detach()
                opt.step()
        float(total)  # one sync at the end
        return n * epochs


class HandLoopDataLoader:
    """The PyTorch VAE example's loop: a shuffling DataLoader over a TensorDataset."""

    def __init__(self, device: torch.device) -> None:
        self.model = _new_model(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR)
        self.device = device
        self.kwargs = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
        self._host: tuple[torch.Tensor, torch.Tensor] | None = None

    def _on_host(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` on the CPU, as the example keeps it; copied once, not in every timed round."""
        if self._host is None or self._host[0] is not x:
            self._host = (x, x.cpu())
        return self._host[1]

    def run(self, x: torch.Tensor, epochs: int) -> int:
        model, opt, device = self.model, self.opt, self.device
        loader = DataLoader(
            TensorDataset(self._on_host(x)), batch_size=BATCH, shuffle=True, **self.kwargs
        )
        model.train()
        total = torch.zeros((), device=device)
        for _ in range(epochs):
            for (xb,) in loader:
                xb = xb.to(device)
                opt.zero_grad()
                loss = vae_loss(model(xb), xb)
                loss.backward()
                total += loss.detach()
                opt.step()
        float(total)
        return len(x) * epochs


class TrainerContender:
    """``autoencoders.Trainer`` with the given options; one Trainer reused across rounds.

    The same Trainer (so the same optimizer and, with ``compile``, the same compiled module,
    compiled in the warm-up) serves every round, whatever the number of epochs of the round.
    """

    def __init__(self, device: torch.device, **options: object) -> None:
        self.model = _new_model(device)
        self.trainer = Trainer(
            self.model, batch_size=BATCH, lr=LR, epochs=1, device=device, **options
        )
        self.device = device

    def run(self, x: torch.Tensor, epochs: int) -> int:
        self.trainer.epochs = epochs
        self.trainer.fit(x)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return len(x) * epochs


# -- where the time goes ------------------------------------------------------------------------
#: Op-name fragments of each category of the profile, checked in this order.
CATEGORIES = (
    ("matmul", ("addmm", "aten::mm", "bmm", "matmul")),
    ("optimizer", ("adam", "_foreach", "lerp", "addcdiv", "addcmul", "sqrt")),
    ("loss (BCE, KL, reductions)", ("binary_cross_entropy", "mse_loss", "aten::sum", "aten::mean")),
    ("elementwise, copies, indexing", ("aten::",)),
)
OVERHEAD = "Python, autograd engine, dispatch"


def profile_breakdown(run: Callable[[torch.Tensor, int], int], x: torch.Tensor) -> dict[str, float]:
    """Milliseconds per step of each category, from ``torch.profiler`` over one pass of ``x``.

    Each op's *self* CPU time goes to the first category whose fragment its name contains; the
    wall time no op accounts for is the Python, autograd-engine and dispatch overhead.
    """
    from torch.profiler import ProfilerActivity, profile

    steps = -(-len(x) // BATCH)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        run(x, 1)
        wall = time.perf_counter() - t0
    out = {name: 0.0 for name, _ in CATEGORIES}
    for ev in prof.key_averages():
        name = ev.key.lower()
        if not name.startswith("aten::"):
            continue
        for cat, fragments in CATEGORIES:
            if any(f.lower() in name for f in fragments):
                out[cat] += ev.self_cpu_time_total / 1e6
                break
    out[OVERHEAD] = max(0.0, wall - sum(out.values()))
    out["total (wall)"] = wall
    return {k: 1000 * v / steps for k, v in out.items()}


def print_profile(
    contenders: dict[str, Callable[[torch.Tensor, int], int]], x: torch.Tensor, rounds: int = 5
) -> None:
    """The per-step breakdown of each contender, side by side (ms per step): the median of
    ``rounds`` profiles of each, interleaved (in reverse order every other round), so that
    the machine's drift does not fall on one column."""
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            runs[name].append(profile_breakdown(contenders[name], x))
    rows = {
        name: {cat: statistics.median(p[cat] for p in runs[name]) for cat in runs[name][0]}
        for name in names
    }
    steps = -(-len(x) // BATCH)
    print(
        f"\n## Where a step's time goes (ms per step, torch.profiler, {steps} steps, "
        f"median of {rounds} interleaved round{'s' if rounds != 1 else ''})\n"
    )
    print("| category | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for cat in next(iter(rows.values())):
        cells = []
        for name in names:
            value, total = rows[name][cat], rows[name]["total (wall)"]
            cells.append(
                f"{value:.3f}" + ("" if cat == "total (wall)" else f" ({value / total:.0%})")
            )
        print(f"| {cat} | " + " | ".join(cells) + " |")
    print(
        "\n(Under a profiler the Trainer's FusedAdamStep leaves the update to "
        "optimizer.step(), so its columns include that call's Python: about 0.3 ms a step.)"
    )


# -- measurement --------------------------------------------------------------------------------
def _timed(
    run: Callable[[torch.Tensor, int], int], x: torch.Tensor, epochs: int, device: torch.device
) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    samples = run(x, epochs)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return samples / (time.perf_counter() - t0)


def paired_ratio(values: list[float], baseline: list[float]) -> float:
    """The median over rounds of ``values[r] / baseline[r]``: each round's contenders ran
    back to back, so a slow spell of the machine slows both sides of a ratio, not one median.

    Example:
        >>> paired_ratio([12.0, 6.0, 11.0], [10.0, 5.0, 10.0])
        1.2
    """
    return statistics.median(a / b for a, b in zip(values, baseline))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    amount = p.add_mutually_exclusive_group()
    amount.add_argument(
        "--steps", type=int, help="steps per contender per round (default 200; 10 with --quick)"
    )
    amount.add_argument("--epochs", type=int, help="whole epochs per contender per round instead")
    p.add_argument(
        "--rounds", type=int, help="timed rounds after one warm-up (default 5; 1 with --quick)"
    )
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    p.add_argument(
        "--profile",
        type=int,
        metavar="STEPS",
        help="also profile STEPS steps of the baseline and the Trainer contenders (ms per step "
        "by category)",
    )
    p.add_argument(
        "--cpu-compile",
        action="store_true",
        help="add 'Trainer, compile=True' on the CPU (inductor; compiling takes a minute)",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, or auto (default cpu)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 10 steps and 1 round, unless --steps/--epochs/--rounds say otherwise",
    )
    p.add_argument(
        "--synthetic",
        action="store_true",
        help="use synthetic data of Fashion-MNIST's shape even when Fashion-MNIST is present",
    )
    args = p.parse_args(argv)
    if args.steps is None and args.epochs is None:
        args.steps = 10 if args.quick else 200
    if args.rounds is None:
        args.rounds = 1 if args.quick else 5
    for flag in ("steps", "epochs", "rounds"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            p.error(f"--{flag} must be >= 1, got {value}")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda but CUDA is not available")

    full, source = load_training_images(None, synthetic=args.synthetic)
    if args.epochs is None:
        x_round, epochs = full[: args.steps * BATCH], 1
    else:
        x_round, epochs = full, args.epochs
    x_round = x_round.to(device)
    steps = epochs * -(-len(x_round) // BATCH)

    contenders: dict[str, tuple[str, Callable[[torch.Tensor, int], int]]] = {
        BASELINE: ("tensor + randperm", HandLoopInMemory(device).run),
        "hand loop, DataLoader (PyTorch example)": ("DataLoader", HandLoopDataLoader(device).run),
        "hand loop, in-memory, fused Adam": (
            "tensor + randperm",
            HandLoopInMemory(device, fused=True).run,
        ),
        "Trainer": ("Trainer fast path", TrainerContender(device, progress=False).run),
        "Trainer, progress bar on": (
            "Trainer fast path",
            TrainerContender(device, progress=True).run,
        ),
        "Trainer, analytic=False (autograd)": (
            "Trainer fast path",
            TrainerContender(device, progress=False, analytic=False).run,
        ),
    }
    gpu_rows = {
        "Trainer, compile=True": {"compile": True},
        "Trainer, amp='bf16'": {"amp": "bf16"},
        "Trainer, compile='reduce-overhead' (CUDA graphs)": {"compile": "reduce-overhead"},
    }
    notes = []
    if device.type == "cuda":
        for name, options in gpu_rows.items():
            contenders[name] = (
                "Trainer fast path",
                TrainerContender(device, progress=False, **options).run,
            )
    else:
        if args.cpu_compile:
            contenders["Trainer, compile=True"] = (
                "Trainer fast path",
                TrainerContender(device, progress=False, compile=True).run,
            )
        notes.append(
            "GPU rows (Trainer amp='bf16', compile='reduce-overhead' on CUDA) skipped: device is "
            "the CPU"
        )

    print(f"# Trainer throughput: VAE 784-400-20, batch {BATCH}, Adam lr {LR}")
    print(f"data: {source}; {len(full)} training images")
    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    print(
        f"device: {device}{gpu}; torch {torch.__version__}; threads {torch.get_num_threads()}; "
        f"{steps} steps ({len(x_round)} samples x {epochs} epoch(s)) per contender per round; "
        f"{args.rounds} timed rounds after 1 warm-up, interleaved"
    )
    kinds = {
        name: run.__self__.trainer.step_kind  # type: ignore[attr-defined]
        for name, (_, run) in contenders.items()
        if name.startswith("Trainer")
    }
    print("Trainer steps: " + "; ".join(f"{name}: {kind}" for name, kind in kinds.items()))
    print(file=sys.stderr)

    # the warm-up is also where the compiled contenders compile (and record their CUDA graphs)
    warm = x_round[: min(len(x_round), 20 * BATCH)]
    for name, (_, run) in list(contenders.items()):
        try:
            run(warm, 1)
            if device.type == "cuda":
                torch.cuda.synchronize()
        except Exception as exc:
            if name not in gpu_rows:
                raise
            # an optional GPU contender that cannot run here (e.g. no Triton) loses its row only
            del contenders[name]
            notes.append(f"{name}: dropped, its warm-up failed: {type(exc).__name__}: {exc}")
    for note in notes:
        print(note)
    results: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders)
    for r in range(args.rounds):
        # odd rounds run the contenders in reverse, so no one always runs first or last
        for name in order if r % 2 == 0 else order[::-1]:
            results[name].append(_timed(contenders[name][1], x_round, epochs, device))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    base = statistics.median(results[BASELINE])
    print()
    print(
        "| loop | data path | samples/s (median) | min - max | s/epoch (60k) | vs baseline "
        "| paired vs baseline |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, (path, _) in contenders.items():
        vals = results[name]
        med = statistics.median(vals)
        print(
            f"| {name} | {path} | {med:,.0f} | {min(vals):,.0f} - {max(vals):,.0f} "
            f"| {EPOCH_SAMPLES / med:.3f} | {med / base:.2f}x "
            f"| {paired_ratio(results[name], results[BASELINE]):.2f}x |"
        )
    if args.profile:
        profiled = {k: run for k, (_, run) in contenders.items() if "progress" not in k}
        profiled = {k: v for k, v in profiled.items() if "DataLoader" not in k}
        print_profile(profiled, x_round[: args.profile * BATCH], rounds=max(1, min(5, args.rounds)))
    trainer = statistics.median(results["Trainer"])
    fused = statistics.median(results["hand loop, in-memory, fused Adam"])
    print()
    paired = paired_ratio(results["Trainer"], results[BASELINE])
    print(
        f"Trainer / in-memory hand loop = {trainer / base:.2f}x, paired {paired:.2f}x "
        f"(target >= 1.2x); Trainer / fused-Adam hand loop = {trainer / fused:.2f}x"
    )
    if device.type == "cuda":
        best = max(
            (name for name in contenders if name.startswith("Trainer")),
            key=lambda name: statistics.median(results[name]),
        )
        seconds = EPOCH_SAMPLES / statistics.median(results[best])
        print(
            f"fastest Trainer: {best}, {seconds:.3f} s per {EPOCH_SAMPLES}-sample epoch "
            f"(target <= 0.3 s on an H100)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
