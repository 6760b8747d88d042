"""benchmarks/face_vae_throughput.py runs end to end (``--quick``) and prints its tables."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
