"""benchmarks/trainer_throughput.py runs end to end and prints a table that parses.

The script runs as a subprocess with its quickest settings (``--quick --steps 2 --threads 1``:
one warm-up and one timed round of two steps per contender), once on whatever data it finds
(Fashion-MNIST, or synthetic data when the files are absent) and once with ``--synthetic``, the
two side by side.
The data fallback itself is checked in process, with Fashion-MNIST hidden from the script.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "trainer_throughput.py"
QUICKEST = ("--quick", "--steps", "2", "--threads", "1")
CPU_ROWS = [
    "hand loop, in-memory (baseline)",
    "hand loop, DataLoader (PyTorch example)",
    "hand loop, in-memory, fused Adam",
    "Trainer",
    "Trainer, progress bar on",
    "Trainer, analytic=False (autograd)",
]
RATIO = re.compile(
    r"^Trainer / in-memory hand loop = (?P<base>\S+)x, paired (?P<paired>\S+)x "
    r"\(target >= 1\.2x\); "
    r"Trainer / fused-Adam hand loop = (?P<fused>\S+)x$",
    re.MULTILINE,
)


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), *QUICKEST, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=SCRIPT.parents[1],
    )


def _stdout(proc: subprocess.Popen[str]) -> str:
    try:
        out, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    return out


@pytest.fixture(scope="module")
def outputs() -> dict[str, str]:
    """The script's output on the data it finds and with ``--synthetic``, run side by side
    (one thread each; the tests check the table, not the speed)."""
    procs = {"found": _start(), "synthetic": _start("--synthetic", "--profile", "2")}
    try:
        return {name: _stdout(proc) for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()


def _number(text: str) -> float:
    value = float(text.replace(",", "").removesuffix("x"))
    assert math.isfinite(value) and value > 0, text
    return value


def _first_table(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return lines[start:end]


def _table(stdout: str) -> dict[str, dict[str, float | str]]:
    lines = _first_table(stdout)
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == [
        "loop",
        "data path",
        "samples/s (median)",
        "min - max",
        "s/epoch (60k)",
        "vs baseline",
        "paired vs baseline",
    ]
    assert set(lines[1].replace("|", "").replace(":", "")) == {"-"}  # the separator row
    rows: dict[str, dict[str, float | str]] = {}
    for line in lines[2:]:
        cells = (c.strip() for c in line.strip("|").split("|"))
        name, path, median, span, epoch, ratio, paired = cells
        low, high = (_number(v) for v in span.split(" - "))
        rows[name] = {
            "path": path,
            "median": _number(median),
            "low": low,
            "high": high,
            "epoch": _number(epoch),
            "ratio": _number(ratio),
            "paired": _number(paired),
        }
    return rows


def _check_output(stdout: str) -> None:
    assert stdout.startswith("# Trainer throughput: VAE 784-400-20, batch 128")
    assert "2 steps (256 samples x 1 epoch(s)) per contender per round" in stdout
    assert "GPU rows" in stdout and "skipped: device is the CPU" in stdout
    assert (
        "Trainer steps: Trainer: analytic; Trainer, progress bar on: analytic; "
        "Trainer, analytic=False (autograd): autograd (analytic=False)"
    ) in stdout
    rows = _table(stdout)
    assert list(rows) == CPU_ROWS
    base = rows["hand loop, in-memory (baseline)"]
    assert base["ratio"] == 1.0
    for name, row in rows.items():
        med = row["median"]
        assert row["low"] <= med <= row["high"], name  # one round: all three equal
        assert row["epoch"] == pytest.approx(60000 / med, rel=1e-3, abs=1e-3), name
        assert row["ratio"] == pytest.approx(med / base["median"], rel=1e-2, abs=0.01), name
        assert row["paired"] == row["ratio"], name  # one round: the same ratio
    match = RATIO.search(stdout)
    assert match is not None, stdout
    assert _number(match["base"]) == rows["Trainer"]["ratio"]
    assert _number(match["paired"]) == rows["Trainer"]["paired"]
    fused = rows["Trainer"]["median"] / rows["hand loop, in-memory, fused Adam"]["median"]
    assert _number(match["fused"]) == pytest.approx(fused, rel=1e-2, abs=0.01)


def test_benchmark_runs_on_the_data_it_finds(outputs) -> None:
    stdout = outputs["found"]
    data = next(line for line in stdout.splitlines() if line.startswith("data: "))
    assert data.startswith("data: Fashion-MNIST") or (
        "SYNTHETIC" in data and "no Fashion-MNIST files found" in data
    ), data
    assert data.endswith("; 60000 training images")
    _check_output(stdout)


def test_benchmark_runs_on_synthetic_data(outputs) -> None:
    stdout = outputs["synthetic"]
    assert "data: SYNTHETIC uniform data of Fashion-MNIST's shape (--synthetic)" in stdout
    _check_output(stdout)


def test_profile_breaks_each_step_down_by_category(outputs) -> None:
    stdout = outputs["synthetic"]
    heading = (
        "## Where a step's time goes (ms per step, torch.profiler, 2 steps, "
        "median of 1 interleaved round)"
    )
    assert heading in stdout
    lines = _first_table(stdout[stdout.index(heading) :])
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == [
        "category",
        "hand loop, in-memory (baseline)",
        "hand loop, in-memory, fused Adam",
        "Trainer",
        "Trainer, analytic=False (autograd)",
    ]
    rows = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = [float(c.split()[0]) for c in cells[1:]]
    assert list(rows) == [
        "matmul",
        "optimizer",
        "loss (BCE, KL, reductions)",
        "elementwise, copies, indexing",
        "Python, autograd engine, dispatch",
        "total (wall)",
    ]
    for col in range(3):
        parts = sum(rows[k][col] for k in rows if k != "total (wall)")
        assert rows["total (wall)"][col] > 0
        assert parts == pytest.approx(rows["total (wall)"][col], rel=0.02, abs=0.01)
        assert rows["matmul"][col] > 0 and rows["optimizer"][col] > 0


def test_benchmark_falls_back_to_synthetic_data_and_says_so(
    monkeypatch, tmp_path, benchmark_script
) -> None:
    import autoencoders.data

    bench = benchmark_script("trainer_throughput")

    def missing(*args: object, **kwargs: object) -> None:
        raise autoencoders.data.DatasetNotFoundError("fashion-mnist", [tmp_path])

    monkeypatch.setattr(autoencoders.data, "load_dataset", missing)
    monkeypatch.setattr(bench, "DEBIAN_DIR", tmp_path)  # no IDX files there either
    x, source = bench.load_training_images(limit=5)
    assert source.startswith("SYNTHETIC") and "no Fashion-MNIST files found" in source
    assert tuple(x.shape) == (5, 1, 28, 28)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def test_paired_ratio_is_the_median_of_each_rounds_ratio(benchmark_script) -> None:
    bench = benchmark_script("trainer_throughput")
    # a machine twice as slow in round 2 halves both sides: the paired ratio ignores it
    assert bench.paired_ratio([12.0, 6.0, 13.0], [10.0, 5.0, 10.0]) == pytest.approx(1.2)
    assert bench.paired_ratio([1.0], [4.0]) == 0.25


def _table_rows(script: str, *args: str) -> dict[str, list[float]]:
    """Run ``benchmarks/<script>`` with ``args``; its table's rows, name -> figures."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPT.with_name(script)), *args],
        capture_output=True,
        text=True,
        cwd=SCRIPT.parents[1],
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[1:]]
    return {row[0]: [_number(c) for c in row[1:]] for row in cells if set(row[1]) != {"-", ":"}}


def test_step_variants_runs_and_prints_every_variant() -> None:
    rows = _table_rows("step_variants.py", "--steps", "3", "--synthetic")
    assert list(rows) == [
        "library",
        "autograd",
        "optimizer.step()",
        "fused heads",
        "BCE log of products",
        "BCE in-place backward",
        "no loss object",
    ]
    assert rows["library"][1] == 1.0
    for name, (ms, speed) in rows.items():
        assert speed == pytest.approx(rows["library"][0] / ms, rel=2e-3, abs=2e-3), name


def test_analytic_models_runs_every_model_through_the_analytic_step() -> None:
    rows = _table_rows("analytic_models.py", "--steps", "2", "--rounds", "1", "--synthetic")
    assert list(rows) == ["ae", "dae", "vae", "beta_vae", "cvae"]  # _number: each figure > 0
    assert all(len(figures) == 3 for figures in rows.values())
