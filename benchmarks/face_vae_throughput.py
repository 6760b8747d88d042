"""The 64x64 face VAE's data path and training throughput: the image cache vs ImageFolder.

Two measurements over the same folder of generated 64x64 JPEG faces (written once by this
script: :func:`autoencoders.data.draw_faces` plus a little pixel noise, JPEG quality 90,
about 4 kB each; CelebA cannot be downloaded here):

**data** — one epoch of torchvision's ``ImageFolder(transform=ToTensor())`` +
``DataLoader(batch_size=128, shuffle=True, num_workers=2)`` (decoding every image, as every
epoch of the original notebook does) against building the library's image cache for the same
files (:func:`autoencoders.data.cached_images`: decoded once, by one forked worker per core,
into a uint8 safetensors file), interleaved over ``--rounds`` rounds with a fresh cache
folder each round. Before every timed contender all the files are read once, so both find
them in the page cache. Then a **new process** loads the folder through
``load_image_folder`` (the cache is found and memory-mapped) and reports the time and its
memory: the second run of a training script.

**train** — the face VAE (``build("conv_vae")``: 64x64x3, z = 512, 26.5 M parameters) at
batch 64 and 128, the contenders interleaved round by round (in reverse order every other
round), each for ``--steps`` steps:

* ``hand loop, ImageFolder + DataLoader`` — the original notebook's loop: ``ImageFolder``
  with ``Resize(64), CenterCrop(64), ToTensor(), Normalize(0.5, 0.5)`` and a shuffling
  ``DataLoader(num_workers=2)``, forward, the library's default loss for the model,
  backward, ``torch.optim.Adam(lr=1e-3)``. The baseline. Each round starts a new iterator,
  as each epoch of the notebook does, so its workers never decode ahead while the other
  contenders run.
* ``Trainer, cached uint8 set`` — ``autoencoders.Trainer`` on ``load_image_folder(...,
  pixel_range="[-1,1]").train``: the memory-mapped uint8 cache, each batch scaled on the fly.
* the same with ``Trainer(..., channels_last=True)`` (the model's weights in that memory
  format), with ``amp="bf16"`` (CPU autocast) and with both (not with ``--quick``), each
  reported whether it helps or not. bf16 is fast only on CPUs with bf16 instructions
  (AVX512-BF16, AMX): where a warm-up step in bf16 is over 3x slower than in float32, the
  bf16 rows run one step in the first round only, and say so.

With ``--device cuda`` (or ``auto`` where CUDA is there) the same interleaved rounds run on
the GPU, each contender synchronised before and after its round:

* the notebook's loop as above, each batch sent to the GPU (``pin_memory=True``);
* ``hand loop, uint8 set on the GPU`` — the same loop, but over the uint8 set copied to the
  GPU once, each batch indexed and scaled there: the lean eager loop, for comparison;
* the Trainer over that resident uint8 set: float32, ``channels_last``, ``channels_last`` with
  ``amp="bf16"``, that with ``compile=True`` (compiled in the warm-up, not timed), and
  ``channels_last`` with ``amp="fp16"`` (its GradScaler). A GPU row whose warm-up fails (no
  Triton, say) is dropped with a note rather than ending the run.

The last lines then give the fastest Trainer row's images/s and the time of ten CelebA-sized
epochs (2,025,990 images) at that speed: the issue's target is under a minute, 34k images/s.

Usage::

    python benchmarks/face_vae_throughput.py                 # 20,000 images, both parts
    python benchmarks/face_vae_throughput.py --part data --rounds 3
    python benchmarks/face_vae_throughput.py --part train --steps 20 --rounds 3
    python benchmarks/face_vae_throughput.py --images 202599 --part data   # CelebA-sized
    python benchmarks/face_vae_throughput.py --quick         # smoke run (tests)
    python benchmarks/face_vae_throughput.py --device cuda --part train --images 10000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

import autoencoders
from autoencoders.data import cached_images, draw_faces, load_image_folder
from autoencoders.data.folder import list_images
from autoencoders.losses import default_loss
from autoencoders.training import Trainer

LR = 1e-3
#: The bf16 rows; on a CPU without bf16 instructions (slower than float32 by more than
#: BF16_SLOW in the warm-up) each runs one step in the first round only.
BF16_ROWS = {
    "Trainer, cached uint8 set, amp='bf16'": {"amp": "bf16"},
    "Trainer, cached uint8 set, channels_last, amp='bf16'": {"amp": "bf16", "channels_last": True},
}
BF16_SLOW = 3.0
#: The Trainer rows on CUDA, over the uint8 set resident on the GPU.
GPU_SET = "uint8 set on the GPU"
GPU_ROWS: dict[str, dict[str, object]] = {
    f"Trainer, {GPU_SET}": {},
    f"Trainer, {GPU_SET}, channels_last": {"channels_last": True},
    f"Trainer, {GPU_SET}, channels_last, amp='bf16'": {"channels_last": True, "amp": "bf16"},
    f"Trainer, {GPU_SET}, channels_last, amp='bf16', compile": {
        "channels_last": True, "amp": "bf16", "compile": True,
    },
    f"Trainer, {GPU_SET}, channels_last, amp='fp16' (GradScaler)": {
        "channels_last": True, "amp": "fp16",
    },
}  # fmt: skip
BASELINE = "hand loop, ImageFolder + DataLoader(num_workers=2)"
#: Ten epochs of CelebA's 202,599 images: the issue's GPU target is these in under a minute.
TEN_CELEBA_EPOCHS = 10 * 202_599


# -- the generated folder -----------------------------------------------------------------------
def write_faces(folder: Path, n: int) -> list[Path]:
    """``n`` generated 64x64 JPEG faces in ``folder/faces/`` (kept when already there)."""
    from PIL import Image

    images = folder / "faces"
    images.mkdir(parents=True, exist_ok=True)
    have = {p.name for p in images.iterdir()}
    for start in range(0, n, 2000):
        names = [f"{i:06d}.jpg" for i in range(start, min(start + 2000, n))]
        if all(name in have for name in names):
            continue
        x = draw_faces(len(names), 64, seed=start).permute(0, 2, 3, 1).numpy()
        noise = np.random.default_rng(start).integers(-12, 13, size=x.shape)
        x = np.clip(x.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        for name, pixels in zip(names, x, strict=True):
            Image.fromarray(pixels).save(images / name, quality=90)
    return sorted(images.iterdir())[:n]


def _warm(files: list[Path]) -> None:
    """Read every file once so that the next contender finds them in the page cache."""
    for f in files:
        f.read_bytes()


# -- data ---------------------------------------------------------------------------------------
def imagefolder_epoch(root: Path) -> float:
    """Seconds of one epoch of ImageFolder + DataLoader(num_workers=2) over ``root``."""
    from torchvision import datasets, transforms

    t0 = time.perf_counter()
    ds = datasets.ImageFolder(str(root), transform=transforms.ToTensor())
    loader = DataLoader(ds, batch_size=128, shuffle=True, num_workers=2)
    n = sum(len(x) for x, _ in loader)
    assert n == len(ds)
    return time.perf_counter() - t0


def cache_build(files: list[Path], cache: Path) -> float:
    shutil.rmtree(cache, ignore_errors=True)
    result = cached_images(files, mode="RGB", size=64, cache_dir=cache)
    assert result.built and len(result.images) == len(files)
    return result.seconds


_SECOND_RUN = """
import json, resource, sys, time
t0 = time.perf_counter()
from autoencoders.data import load_image_folder
t1 = time.perf_counter()
s = load_image_folder(sys.argv[1], image_size=64, pixel_range="[-1,1]")
t2 = time.perf_counter()
def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
loaded = {"rss_anon": rss("RssAnon:"), "rss_file": rss("RssFile:")}
# one pass over the training split as the Trainer's fast path makes its batches
from autoencoders.training.batches import make_source
import torch
src = make_source(s.train, what="train", device=torch.device("cpu"), batch_size=128)
batches, _ = src.train_batches(epoch=0, start=0)
seen = sum(len(x) for x, _, _ in batches)
print(json.dumps({"load_s": t2 - t1, "import_s": t1 - t0, "n": sum(s.sizes().values()),
                  "loaded": loaded, "seen": seen,
                  "after_pass": {"rss_anon": rss("RssAnon:"), "rss_file": rss("RssFile:"),
                                 "peak_rss": rss("VmHWM:")},
                  "dataset_bytes": s.train.images.numel()}))
"""


def second_run(root: Path, cache: Path) -> dict:
    env = dict(os.environ, AUTOENCODERS_CACHE=str(cache))
    out = subprocess.run(
        [sys.executable, "-c", _SECOND_RUN, str(root)], env=env, capture_output=True,
        text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def part_data(root: Path, files: list[Path], rounds: int, work: Path) -> None:
    cache = work / "cache"
    folder_s, build_s = [], []
    for r in range(rounds):
        _warm(files)
        folder_s.append(imagefolder_epoch(root))
        _warm(files)
        build_s.append(cache_build(files, cache))
        print(f"data round {r + 1}/{rounds} done", file=sys.stderr)
    # the folder as load_image_folder sees it: build its cache once (untimed), then load it
    shutil.rmtree(cache, ignore_errors=True)
    env_cache = os.environ.get("AUTOENCODERS_CACHE")
    os.environ["AUTOENCODERS_CACHE"] = str(cache)
    try:
        load_image_folder(root, image_size=64)
    finally:
        if env_cache is None:
            os.environ.pop("AUTOENCODERS_CACHE")
        else:
            os.environ["AUTOENCODERS_CACHE"] = env_cache
    loads = [second_run(root, cache) for _ in range(3)]
    f, b = statistics.median(folder_s), statistics.median(build_s)
    load = statistics.median(x["load_s"] for x in loads)
    mb = 1024**2
    print(f"\n## Data: {len(files):,} generated 64x64 JPEGs, {os.cpu_count()} cores\n")
    print("| what | seconds (median) | min - max | images/s |")
    print("|---|---:|---:|---:|")
    print(f"| ImageFolder + DataLoader(num_workers=2), one epoch | {f:.2f} | "
          f"{min(folder_s):.2f} - {max(folder_s):.2f} | {len(files) / f:,.0f} |")  # fmt: skip
    print(f"| image cache build (decode once, {os.cpu_count()} workers) | {b:.2f} | "
          f"{min(build_s):.2f} - {max(build_s):.2f} | {len(files) / b:,.0f} |")  # fmt: skip
    print(f"| second run: load_image_folder, cache memory-mapped (new process) | {load:.3f} | "
          f"{min(x['load_s'] for x in loads):.3f} - {max(x['load_s'] for x in loads):.3f} | |")  # fmt: skip
    last = loads[-1]
    before, after = last["loaded"], last["after_pass"]
    data_mb = last["dataset_bytes"] / mb
    grew_anon = (after["rss_anon"] - before["rss_anon"]) / mb
    grew_file = (after["rss_file"] - before["rss_file"]) / mb
    print(
        f"\ncache build / ImageFolder epoch: {f / b:.2f}x faster (target >= 2x); second run "
        f"loads in {load:.3f} s (target < 2 s)\n\n"
        f"memory (second run, {last['n']:,} images; the uint8 set is {data_mb:,.0f} MiB on "
        f"disk, memory-mapped; float32 would be {4 * data_mb:,.0f} MiB):\n"
        f"- after loading: RssAnon {before['rss_anon'] / mb:,.0f} MiB, RssFile "
        f"{before['rss_file'] / mb:,.0f} MiB (torch itself, nothing of the images paged in)\n"
        f"- after one pass over the {last['seen']:,} training images in batches of 128, as "
        f"the Trainer makes them: RssAnon +{grew_anon:,.0f} MiB, RssFile +{grew_file:,.0f} MiB "
        f"(the mapped cache, shared and reclaimable page cache), peak RSS "
        f"{after['peak_rss'] / mb:,.0f} MiB\n"
        f"- data memory per image: {(grew_anon + grew_file) * mb / max(1, last['seen']):,.0f} "
        f"bytes (one 64x64x3 uint8 image is 12,288)"
    )


# -- train --------------------------------------------------------------------------------------
def _model(device: torch.device) -> autoencoders.Autoencoder:
    torch.manual_seed(0)
    return autoencoders.build("conv_vae").to(device)


class HandLoop:
    """The original notebook's loop: ImageFolder + transforms + DataLoader(num_workers=2)."""

    def __init__(self, root: Path, batch: int, device: torch.device) -> None:
        from torchvision import datasets, transforms

        tf = transforms.Compose([
            transforms.Resize(64), transforms.CenterCrop(64), transforms.ToTensor(),
            transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        ])  # fmt: skip
        self.loader = DataLoader(
            datasets.ImageFolder(str(root), transform=tf), batch_size=batch, shuffle=True,
            num_workers=2, drop_last=True, pin_memory=device.type == "cuda",
        )  # fmt: skip
        self.device = device
        self.model = _model(device)
        self.loss = default_loss(self.model)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR)

    def run(self, steps: int) -> int:
        model, opt = self.model, self.opt
        model.train()
        n = 0
        # a fresh iterator per round, as every epoch of the notebook starts one: its workers
        # never prefetch while the other contenders run
        batches = iter(self.loader)
        for _ in range(steps):
            x = next(batches)[0].to(self.device, non_blocking=True)
            opt.zero_grad()
            loss = self.loss(model(x), x).total
            loss.backward()
            opt.step()
            n += len(x)
        del batches  # stops its workers
        return n


class HandLoopResident:
    """The notebook's loop over a uint8 set already on the device: index, scale, step."""

    def __init__(self, train: autoencoders.data.UInt8ImageDataset, batch: int) -> None:
        self.images = train.images
        self.batch, self.scale = batch, train.scale
        self.model = _model(train.images.device)
        self.loss = default_loss(self.model)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR)

    def run(self, steps: int) -> int:
        model, opt = self.model, self.opt
        model.train()
        perm = torch.randperm(len(self.images), device=self.images.device)
        starts = max(1, len(perm) - self.batch + 1)
        for i in range(steps):
            idx = perm[(i * self.batch) % starts :][: self.batch]
            x = self.scale(self.images.index_select(0, idx))
            opt.zero_grad()
            loss = self.loss(model(x), x).total
            loss.backward()
            opt.step()
        return steps * self.batch


class TrainerOnCache:
    """The Trainer on the uint8 set (memory-mapped, or resident on the GPU), ``steps`` batches
    per round."""

    def __init__(
        self, train: autoencoders.data.UInt8ImageDataset, batch: int, device: torch.device,
        **options: object,
    ) -> None:  # fmt: skip
        self.model = _model(device)
        self.trainer = Trainer(self.model, batch_size=batch, lr=LR, epochs=1, progress=False,
                               device=device, **options)  # fmt: skip
        self.train, self.batch, self.round = train, batch, 0

    def run(self, steps: int) -> int:
        n = steps * self.batch
        start = (self.round * n) % max(1, len(self.train) - n)
        self.round += 1
        rows = self.train.rows
        part = type(self.train)(
            self.train.images, pixel_range=self.train.pixel_range,
            rows=torch.arange(start, start + n) if rows is None else rows[start : start + n],
        )  # fmt: skip
        self.trainer.fit(part)
        return n


def on_gpu(train: autoencoders.data.UInt8ImageDataset, device: torch.device):
    """The split's uint8 images copied to ``device`` once, as one dataset without ``rows``."""
    images = train.images if train.rows is None else train.images.index_select(0, train.rows)
    return type(train)(images.to(device), pixel_range=train.pixel_range)


def contender_options(device_type: str, bf16: bool) -> dict[str, dict[str, object]]:
    """The Trainer contenders of a batch size on a device, and their Trainer options.

    Example:
        >>> list(contender_options("cpu", bf16=False))
        ['Trainer, cached uint8 set', 'Trainer, cached uint8 set, channels_last']
        >>> len(contender_options("cuda", bf16=False)) == len(GPU_ROWS)
        True
    """
    if device_type == "cuda":
        return dict(GPU_ROWS)
    rows: dict[str, dict[str, object]] = {
        "Trainer, cached uint8 set": {},
        "Trainer, cached uint8 set, channels_last": {"channels_last": True},
    }
    if bf16:
        rows.update(BF16_ROWS)
    return rows


def _seconds(run: Callable[[int], int]) -> float:
    """How long one step of a contender takes."""
    t0 = time.perf_counter()
    run(1)
    return time.perf_counter() - t0


def _timed(run: Callable[[int], int], steps: int, device: torch.device) -> float:
    """Images per second of ``steps`` steps of a contender, the GPU's queue drained."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    n = run(steps)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return n / (time.perf_counter() - t0)


def _drop(
    contenders: dict[str, Callable[[int], int]], optional: set[str], notes: list[str],
    batch: int, name: str, when: str, exc: Exception,
) -> None:  # fmt: skip
    """Drop an optional contender that failed (with a note); re-raise for any other."""
    if name not in optional:
        raise exc
    del contenders[name]
    notes.append(
        f"batch {batch}: {name} dropped, {when} failed: {type(exc).__name__}: {str(exc)[:200]}"
    )


def part_train(
    root: Path, batches: list[int], steps: int, rounds: int, work: Path, bf16: bool,
    device: torch.device, gpu_rows: bool | None = None,
) -> None:  # fmt: skip
    """The training tables; ``gpu_rows`` (default: on CUDA) copies the set to ``device`` and
    runs the GPU contenders (the tests run them on the CPU, without the compiled row)."""
    os.environ["AUTOENCODERS_CACHE"] = str(work / "cache")
    splits = load_image_folder(root, image_size=64, pixel_range="[-1,1]", val_fraction=0,
                               test_fraction=0)  # fmt: skip
    cuda = device.type == "cuda" if gpu_rows is None else gpu_rows
    train = on_gpu(splits.train, device) if cuda else splits.train
    gpu = device.type == "cuda"
    where = f"{device} ({torch.cuda.get_device_name(device)})" if gpu else f"{device}"
    print(f"\n## Train: face VAE (conv_vae, z=512, "
          f"{_model(torch.device('cpu')).num_parameters():,} parameters) on {where}, {steps} "
          f"steps per contender per round, {rounds} rounds after 1 warm-up, interleaved; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")  # fmt: skip
    print("| batch | loop | images/s (median) | min - max | vs hand loop |")
    print("|---:|---|---:|---:|---:|")
    ratios, notes, speeds, resident_ratios = {}, [], {}, {}
    kind = "cuda" if cuda else "cpu"
    first_trainer = next(iter(contender_options(kind, bf16)))
    for batch in batches:
        contenders: dict[str, Callable[[int], int]] = {BASELINE: HandLoop(root, batch, device).run}
        if cuda:
            contenders[f"hand loop, {GPU_SET}"] = HandLoopResident(train, batch).run
        options = contender_options(kind, bf16 and not cuda)
        optional = {n for n in options if cuda and n in GPU_ROWS and n != first_trainer}
        for name, opts in options.items():
            try:
                contenders[name] = TrainerOnCache(train, batch, device, **opts).run
            except Exception as exc:
                contenders[name] = len  # a placeholder for _drop to remove
                _drop(contenders, optional, notes, batch, name, "its setup", exc)
        for name, run in list(contenders.items()):
            try:
                _timed(run, 1, device)  # warm-up: workers, buffers, kernels chosen, compiled
            except Exception as exc:
                _drop(contenders, optional, notes, batch, name, "its warm-up", exc)
        slow = (
            bf16 and not cuda
            and _seconds(contenders[next(iter(BF16_ROWS))]) > BF16_SLOW
            * _seconds(contenders[first_trainer])
        )  # fmt: skip
        results: dict[str, list[float]] = {k: [] for k in contenders}
        order = list(contenders)
        for r in range(rounds):
            for name in order if r % 2 == 0 else order[::-1]:
                short = slow and name in BF16_ROWS
                if (short and r > 0) or name not in contenders:
                    continue  # one short round: without bf16 instructions it is very slow
                try:
                    results[name].append(_timed(contenders[name], 1 if short else steps, device))
                except Exception as exc:  # e.g. a non-finite fp16 loss
                    _drop(contenders, optional, notes, batch, name, f"round {r + 1}", exc)
                    del results[name]
            print(f"batch {batch}: round {r + 1}/{rounds} done", file=sys.stderr)
        base = statistics.median(results[BASELINE])
        for name, vals in results.items():
            med = statistics.median(vals)
            speeds[(batch, name)] = med
            if slow and name in BF16_ROWS:
                name += " (slow on this CPU: 1 step, round 1 only)"
            print(f"| {batch} | {name} | {med:,.1f} | {min(vals):,.1f} - {max(vals):,.1f} | "
                  f"{med / base:.2f}x |")  # fmt: skip
        ratios[batch] = statistics.median(results[first_trainer]) / base
        if cuda:  # the notebook's loop is data-bound there: the same loop over the resident set
            resident = statistics.median(results[f"hand loop, {GPU_SET}"])
            resident_ratios[batch] = statistics.median(results[first_trainer]) / resident
    print()
    for note in notes:
        print(note)
    for batch, ratio in ratios.items():
        print(f"batch {batch}: Trainer ({first_trainer.removeprefix('Trainer, ')}) / hand loop "
              f"= {ratio:.2f}x (target >= 1.0x)")  # fmt: skip
    for batch, ratio in resident_ratios.items():
        print(f"batch {batch}: Trainer ({first_trainer.removeprefix('Trainer, ')}) / hand loop "
              f"over the {GPU_SET} = {ratio:.2f}x")  # fmt: skip
    if cuda:
        (batch, best), speed = max(
            ((k, v) for k, v in speeds.items() if k[1].startswith("Trainer")),
            key=lambda kv: kv[1],
        )  # fmt: skip
        print(f"fastest Trainer row: batch {batch}, {best}: {speed:,.0f} images/s, ten "
              f"CelebA-sized epochs ({TEN_CELEBA_EPOCHS:,} images) in "
              f"{TEN_CELEBA_EPOCHS / speed:.1f} s (target: under 60 s, >= 34k images/s)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, help="generated images (default 20000; 600 quick)")
    p.add_argument("--part", choices=("data", "train", "both"), default="both")
    p.add_argument("--rounds", type=int, help="timed rounds (default 3; 1 with --quick)")
    p.add_argument(
        "--steps", type=int, help="training steps per contender per round (8; 50 on CUDA)"
    )
    p.add_argument("--batch", type=int, action="append", help="batch sizes (default 64, 128)")
    p.add_argument("--work", type=Path, help="folder for the images and caches (kept)")
    p.add_argument("--quick", action="store_true", help="smoke run: few images, 2 steps")
    p.add_argument("--device", default="cpu", help="training device: cpu, cuda or auto (cpu)")
    args = p.parse_args(argv)
    if args.device not in ("cpu", "cuda", "auto") and not args.device.startswith("cuda:"):
        p.error(f"--device must be cpu, cuda, cuda:N or auto, got {args.device!r}")
    auto = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(auto if args.device == "auto" else args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error(f"--device {args.device} but CUDA is not available here")
    n = args.images or (600 if args.quick else 20000)
    rounds = args.rounds or (1 if args.quick else 3)
    steps = args.steps or (2 if args.quick else 50 if device.type == "cuda" else 8)
    batches = args.batch or ([8] if args.quick else [64, 128])
    for flag, value in (("images", n), ("rounds", rounds), ("steps", steps)):
        if value < 1:
            p.error(f"--{flag} must be >= 1, got {value}")
    if args.part != "data" and n < steps * max(batches):
        p.error(
            f"--images {n} is too few for {steps} steps of batch {max(batches)} per round: "
            f"give at least {steps * max(batches)} images, or fewer --steps"
        )
    work = args.work or Path(tempfile.mkdtemp(prefix="face-vae-bench-"))
    root = work / f"jpegs-{n}"
    t0 = time.perf_counter()
    files = write_faces(root, n)
    print(f"# Face VAE data and throughput: {len(files):,} generated 64x64 JPEGs in {root} "
          f"(ready in {time.perf_counter() - t0:.1f} s)")  # fmt: skip
    assert len(list_images(root / "faces")) >= n
    if args.part in ("data", "both"):
        part_data(root, files, rounds, work)
    if args.part in ("train", "both"):
        part_train(root, batches, steps, rounds, work, bf16=not args.quick, device=device)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
