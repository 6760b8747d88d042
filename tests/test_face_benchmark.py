"""benchmarks/face_vae_throughput.py runs end to end (``--quick``) and prints its tables."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "face_vae_throughput.py"


def test_face_benchmark_quick_run(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--quick",
            "--images",
            "300",
            "--steps",
            "1",
            "--work",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=SCRIPT.parents[1],
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "300 generated 64x64 JPEGs" in out
    assert len(list((tmp_path / "jpegs-300" / "faces").glob("*.jpg"))) == 300
    rows = {}
    for line in out.splitlines():
        if line.startswith("| ") and not line.startswith("| what") and "---" not in line:
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0] if not cells[0].isdigit() else cells[1]] = cells
    epoch = float(rows["ImageFolder + DataLoader(num_workers=2), one epoch"][1])
    build = float(next(v for k, v in rows.items() if k.startswith("image cache build"))[1])
    assert epoch > 0 and build > 0
    ratio = re.search(r"cache build / ImageFolder epoch: (\S+)x faster", out)
    assert ratio is not None
    # the table shows two decimals; the ratio is of the unrounded times
    low, high = (epoch - 0.005) / (build + 0.005), (epoch + 0.005) / max(build - 0.005, 1e-9)
    assert low - 0.01 <= float(ratio[1]) <= high + 0.01
    load = re.search(r"second run loads in (\S+) s", out)
    assert load and 0 < float(load[1]) < 60
    assert re.search(r"after one pass over the \d[\d,]* training images", out)
    for name in (
        "hand loop, ImageFolder + DataLoader(num_workers=2)",
        "Trainer, cached uint8 set",
        "Trainer, cached uint8 set, channels_last",
    ):
        assert name in rows and float(rows[name][2].replace(",", "")) > 0, name
    assert re.search(r"batch 8: Trainer \(cached uint8 set\) / hand loop = \S+x", out)


def test_contenders_per_device(benchmark_script) -> None:
    bench = benchmark_script("face_vae_throughput")
    cpu = bench.contender_options("cpu", bf16=True)
    assert list(cpu)[:2] == [
        "Trainer, cached uint8 set",
        "Trainer, cached uint8 set, channels_last",
    ]
    assert all(name in cpu for name in bench.BF16_ROWS)
    assert list(bench.contender_options("cpu", bf16=False)) == list(cpu)[:2]
    gpu = bench.contender_options("cuda", bf16=True)
    # the GPU modes: bf16 with channels_last and compile, and fp16 with its GradScaler
    assert {"channels_last": True, "amp": "bf16", "compile": True} in gpu.values()
    assert {"channels_last": True, "amp": "fp16"} in gpu.values()
    assert next(iter(gpu.values())) == {}  # the first, the ratio's Trainer, is plain float32
    assert all(name.startswith(f"Trainer, {bench.GPU_SET}") for name in gpu)


def test_resident_contenders_train_on_a_set_without_rows(benchmark_script) -> None:
    """The pieces of the GPU run, on the CPU: the set copied once (no ``rows`` left), the lean
    hand loop over it and the Trainer over slices of it each count their images and change
    their models' weights."""
    from autoencoders.data import UInt8ImageDataset

    bench = benchmark_script("face_vae_throughput")
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (7, 3, 64, 64), dtype=torch.uint8, generator=g)
    split = UInt8ImageDataset(images, pixel_range=(-1, 1), rows=[6, 0, 2, 4, 1, 3])
    resident = bench.on_gpu(split, torch.device("cpu"))
    assert resident.rows is None and resident.pixel_range == (-1.0, 1.0)
    assert torch.equal(resident.images, images[[6, 0, 2, 4, 1, 3]])
    hand = bench.HandLoopResident(resident, batch=2)
    trainer = bench.TrainerOnCache(resident, 2, torch.device("cpu"))
    for run, model in ((hand.run, hand.model), (trainer.run, trainer.model)):
        before = model.decoder.net[-1].weight.detach().clone()
        assert bench._timed(run, 2, torch.device("cpu")) > 0
        assert not torch.equal(before, model.decoder.net[-1].weight)
    assert trainer.trainer.global_step == 2 and trainer.round == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")
def test_gpu_commands_parse_and_refuse_without_cuda() -> None:
    """Each benchmark command of benchmarks/gpu_checks.sh takes its options, and stops with a
    clear message where there is no CUDA (here); the test file it names exists."""
    script = SCRIPT.parent / "gpu_checks.sh"
    dry = subprocess.run(
        ["bash", str(script), "--dry-run"], capture_output=True, text=True, check=True
    )
    commands = [line.split() for line in dry.stdout.splitlines()]
    assert len(commands) == 3
    one = subprocess.run(
        ["bash", str(script), "--dry-run", "face-vae"], capture_output=True, text=True, check=True
    )
    assert one.stdout.split() == commands[2]
    bad = subprocess.run(["bash", str(script), "--dry-run", "gpu"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown step 'gpu'" in bad.stderr
    tests = [c for c in commands if c[1:3] == ["-m", "pytest"]]
    files = [arg for arg in tests[0] if arg.endswith(".py")]
    assert len(tests) == 1 and files and all((SCRIPT.parents[1] / f).is_file() for f in files)
    for cmd in commands:
        if cmd in tests:
            continue
        assert "--device" in cmd and cmd[cmd.index("--device") + 1] == "cuda"
        proc = subprocess.run(
            [sys.executable, *cmd[1:]], capture_output=True, text=True, cwd=SCRIPT.parents[1]
        )
        assert proc.returncode == 2, proc.stderr
        assert "CUDA is not available" in proc.stderr, proc.stderr


def test_too_few_images_for_the_steps_are_refused_up_front() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--part", "train", "--images", "100", "--steps", "2"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "--images 100 is too few for 2 steps of batch 128 per round" in proc.stderr


def test_unknown_device_is_refused() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "tpu", "--quick"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "--device must be cpu, cuda, cuda:N or auto, got 'tpu'" in proc.stderr


def test_a_failing_optional_gpu_row_loses_its_row_only(benchmark_script) -> None:
    bench = benchmark_script("face_vae_throughput")
    contenders = {"base": len, "extra": len}
    notes: list[str] = []
    bench._drop(contenders, {"extra"}, notes, 64, "extra", "round 2", ValueError("nan"))
    assert list(contenders) == ["base"]
    assert notes == ["batch 64: extra dropped, round 2 failed: ValueError: nan"]
    with pytest.raises(ValueError, match="nan"):
        bench._drop(contenders, {"extra"}, notes, 64, "base", "round 2", ValueError("nan"))
    assert list(contenders) == ["base"]


def test_gpu_rounds_run_on_the_cpu_and_drop_what_cannot_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    benchmark_script,
) -> None:
    """part_train's GPU contenders, run on the CPU (without the compiled row, which would
    compile for a minute): the fp16 row needs CUDA, so its setup fails and it is dropped
    with a note; every other row gets its figures, and the closing lines are printed."""
    bench = benchmark_script("face_vae_throughput")
    rows = {k: v for k, v in bench.GPU_ROWS.items() if "compile" not in v}
    monkeypatch.setattr(bench, "GPU_ROWS", rows)
    monkeypatch.setenv("AUTOENCODERS_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "jpegs"
    bench.write_faces(root, 24)
    bench.part_train(root, [4], 1, 1, tmp_path, bf16=False, device=torch.device("cpu"),
                     gpu_rows=True)  # fmt: skip
    out = capsys.readouterr().out
    table = {}
    for line in out.splitlines():
        if line.startswith("| 4 | "):
            cells = [c.strip() for c in line.strip("|").split("|")]
            table[cells[1]] = float(cells[2].replace(",", ""))
    fp16 = next(name for name, opts in rows.items() if opts.get("amp") == "fp16")
    expected = [bench.BASELINE, f"hand loop, {bench.GPU_SET}", *(n for n in rows if n != fp16)]
    assert list(table) == expected and all(v > 0 for v in table.values())
    assert f"batch 4: {fp16} dropped, its setup failed: InvalidValueError" in out
    assert re.search(r"batch 4: Trainer \(uint8 set on the GPU\) / hand loop = \S+x", out)
    resident = (
        r"batch 4: Trainer \(uint8 set on the GPU\) / hand loop over the uint8 set on the GPU"
    )
    assert re.search(resident + r" = \S+x", out)
    assert re.search(r"fastest Trainer row: batch 4, Trainer, .*images/s, ten CelebA", out)
