"""Trainer throughput versus hand-written training loops, measured side by side.

The model is the PyTorch-examples VAE, 784-400-20 (``autoencoders.build("vae")``), trained on
Fashion-MNIST (uniform random data of the same shape when the files are absent; the output
says which) with batch size 128 and Adam at lr 1e-3. Contenders:

* ``hand loop, in-memory`` — **the baseline of the ratio**: a plain loop over the training set
  held as one tensor, shuffled by ``torch.randperm`` each epoch, ``x[perm[i:i+128]]``, forward,
  BCE + KL, backward, ``optimizer.step()``, with ``torch.optim.Adam`` at its defaults. It has
  the same data path as the Trainer's fast path, so the ratio measures the Trainer's overhead
  (or gain). It accumulates the loss on the device (no ``.item()`` per step), to be strict.
* ``hand loop, DataLoader`` — the PyTorch VAE example's loop: ``DataLoader(TensorDataset(x),
  batch_size=128, shuffle=True)`` (one worker and pinned memory on CUDA, as the example does).
* ``hand loop, in-memory, fused Adam`` — the baseline with ``Adam(fused=True)``, which is what
  the Trainer uses: it shows how much of the difference is the optimizer kernel.
* ``Trainer`` — ``autoencoders.Trainer(model, batch_size=128, lr=1e-3, progress=False)``, and
  the same with its progress bar on.
* On CUDA also: the Trainer with ``compile=True`` and with ``amp="bf16"``.

Each contender keeps its own model and optimizer; after one untimed warm-up round, the rounds
run the contenders one after the other (a-b-c-a-b-c...), each for the same steps over the same
data, and the table reports the median samples/s over rounds with the min-max range.

Usage::

    python benchmarks/trainer_throughput.py --rounds 5            # CPU, 200 steps a round
    python benchmarks/trainer_throughput.py --epochs 1 --rounds 3 # whole epochs per round
    python benchmarks/trainer_throughput.py --device cuda         # adds the GPU rows
    python benchmarks/trainer_throughput.py --quick               # tiny smoke run
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


# -- data ---------------------------------------------------------------------------------------
def _read_idx_images(path: Path) -> torch.Tensor:
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    magic, n, rows, cols = np.frombuffer(raw[:16], dtype=">i4")
    if magic != 2051:
        raise ValueError(f"{path} is not an IDX image file (magic {magic})")
    pixels = np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, 1, rows, cols)
    return torch.from_numpy(pixels.copy()).float().div_(255.0)


def load_training_images(limit: int | None) -> tuple[torch.Tensor, str]:
    """Fashion-MNIST training images in [0, 1], and a description of where they came from."""
    try:
        from autoencoders.data import load_dataset

        splits = load_dataset("fashion-mnist", download=False)
        x = splits.train.tensors[0]
        source = f"Fashion-MNIST via autoencoders.data.load_dataset ({splits.source or 'local'})"
    except (ImportError, AttributeError, OSError, ValueError) as exc:
        path = DEBIAN_DIR / "train-images-idx3-ubyte.gz"
        if path.is_file():
            x = _read_idx_images(path)
            source = f"Fashion-MNIST from {path} (load_dataset unavailable: {exc})"
        else:
            x = torch.rand(60000, 1, 28, 28, generator=torch.Generator().manual_seed(0))
            source = (
                "SYNTHETIC uniform data of Fashion-MNIST's shape (no Fashion-MNIST files found)"
            )
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

    def run(self, x: torch.Tensor, epochs: int) -> int:
        model, opt, device = self.model, self.opt, self.device
        loader = DataLoader(TensorDataset(x.cpu()), batch_size=BATCH, shuffle=True, **self.kwargs)
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
    """``autoencoders.Trainer`` with the given options; one Trainer reused across rounds."""

    def __init__(self, device: torch.device, **options: object) -> None:
        self.model = _new_model(device)
        self.options = options
        self.trainer: Trainer | None = None
        self.device = device

    def run(self, x: torch.Tensor, epochs: int) -> int:
        if self.trainer is None or self.trainer.epochs != epochs:
            self.trainer = Trainer(
                self.model,
                batch_size=BATCH,
                lr=LR,
                epochs=epochs,
                device=self.device,
                **self.options,
            )
        self.trainer.fit(x)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return len(x) * epochs


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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    amount = p.add_mutually_exclusive_group()
    amount.add_argument(
        "--steps", type=int, default=200, help="steps per contender per round (default 200)"
    )
    amount.add_argument("--epochs", type=int, help="whole epochs per contender per round instead")
    p.add_argument(
        "--rounds", type=int, default=5, help="timed rounds (default 5), after one warm-up"
    )
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, or auto (default cpu)")
    p.add_argument("--quick", action="store_true", help="tiny smoke run: 10 steps, 1 round")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.epochs, args.rounds = 10, None, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda but CUDA is not available")

    full, source = load_training_images(None)
    if args.epochs is None:
        x_round, epochs = full[: args.steps * BATCH], 1
    else:
        x_round, epochs = full, args.epochs
    x_round = x_round.to(device)
    steps = epochs * -(-len(x_round) // BATCH)

    contenders: dict[str, tuple[str, Callable[[torch.Tensor, int], int]]] = {
        "hand loop, in-memory (baseline)": ("tensor + randperm", HandLoopInMemory(device).run),
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
    }
    skipped_note = None
    if device.type == "cuda":
        contenders["Trainer, compile=True"] = (
            "Trainer fast path",
            TrainerContender(device, progress=False, compile=True).run,
        )
        contenders["Trainer, amp='bf16'"] = (
            "Trainer fast path",
            TrainerContender(device, progress=False, amp="bf16").run,
        )
    else:
        skipped_note = (
            "GPU rows (Trainer compile=True, amp='bf16' on CUDA) skipped: device is the CPU"
        )

    print(f"# Trainer throughput: VAE 784-400-20, batch {BATCH}, Adam lr {LR}")
    print(f"data: {source}; {len(full)} training images")
    print(
        f"device: {device}; torch {torch.__version__}; threads {torch.get_num_threads()}; "
        f"{steps} steps ({len(x_round)} samples x {epochs} epoch(s)) per contender per round; "
        f"{args.rounds} timed rounds after 1 warm-up, interleaved"
    )
    if skipped_note:
        print(skipped_note)
    print(file=sys.stderr)

    warm = x_round[: min(len(x_round), 20 * BATCH)]
    for _, run in contenders.values():
        run(warm, 1)
    results: dict[str, list[float]] = {name: [] for name in contenders}
    for r in range(args.rounds):
        for name, (_, run) in contenders.items():
            results[name].append(_timed(run, x_round, epochs, device))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    base = statistics.median(results["hand loop, in-memory (baseline)"])
    print()
    print("| loop | data path | samples/s (median) | min - max | vs baseline |")
    print("|---|---|---:|---:|---:|")
    for name, (path, _) in contenders.items():
        vals = results[name]
        med = statistics.median(vals)
        print(
            f"| {name} | {path} | {med:,.0f} | {min(vals):,.0f} - {max(vals):,.0f} | {med / base:.2f}x |"
        )
    ratio = statistics.median(results["Trainer"]) / base
    fused = statistics.median(results["hand loop, in-memory, fused Adam"])
    print()
    print(
        f"Trainer / in-memory hand loop = {ratio:.2f}x (target >= 1.0x); "
        f"Trainer / fused-Adam hand loop = {statistics.median(results['Trainer']) / fused:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
