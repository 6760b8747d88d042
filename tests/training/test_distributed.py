"""torch.distributed: two CPU processes (gloo on loopback) train like one process."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from safetensors.torch import load_file

from autoencoders.training.distributed import env_world, shard

WORKER = Path(__file__).with_name("ddp_worker.py")


def test_shard_pieces_and_scales() -> None:
    for m in (9, 32, 33):
        for world in (1, 2, 3):
            pieces = [shard(10, 10 + m, r, world) for r in range(world)]
            assert pieces[0][0] == 10 and pieces[-1][1] == 10 + m  # contiguous cover
            assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
            sizes = [hi - lo for lo, hi, _ in pieces]
            assert max(sizes) - min(sizes) <= 1
            # DDP averages scale_r * mean_r over ranks: every sample then weighs 1 / m
            for size, (_, _, sc) in zip(sizes, pieces):
                assert sc / (world * size) == pytest.approx(1 / m)
            assert sum(sc for *_, sc in pieces) == pytest.approx(world)


def test_env_world_errors() -> None:
    with pytest.raises(ValueError, match="must be integers"):
        env_world({"WORLD_SIZE": "two"})
    with pytest.raises(ValueError, match="RANK=2, WORLD_SIZE=2"):
        env_world({"WORLD_SIZE": "2", "RANK": "2"})


def _env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    }
    env.update(OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo", CUDA_VISIBLE_DEVICES="")
    return env


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs gloo")
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="loopback interface 'lo'")
def test_two_processes_match_one(tmp_path) -> None:
    # the single-process reference runs beside the two DDP processes (they write apart)
    single_proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(tmp_path)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    logs = tmp_path / "logs"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
        f"--log-dir={logs}", "--redirects=3", str(WORKER), str(tmp_path),
    ]  # fmt: skip
    try:
        ddp = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
        _, single_err = single_proc.communicate(timeout=300)
    finally:
        if single_proc.poll() is None:
            single_proc.kill()
    assert single_proc.returncode == 0, single_err
    errs = "\n".join(p.read_text() for p in logs.rglob("stderr.log"))
    assert ddp.returncode == 0, ddp.stderr + errs
    r0, r1 = (load_file(tmp_path / f"rank{r}.safetensors") for r in (0, 1))
    one = load_file(tmp_path / "single.safetensors")
    for k in one:
        assert torch.equal(r0[k], r1[k]), k  # DDP keeps the ranks identical
        torch.testing.assert_close(r0[k], one[k], rtol=0, atol=1e-5, msg=k)
    h0, h1, hs = (
        json.loads((tmp_path / f"{t}.json").read_text()) for t in ("rank0", "rank1", "single")
    )
    assert [r["step"] for r in h0] == [7, 14]
    for key in ("train_loss", "val_loss"):  # metrics averaged over both ranks
        assert [r[key] for r in h0] == [r[key] for r in h1]
        assert [r[key] for r in h0] == pytest.approx([r[key] for r in hs], rel=1e-5)
    # progress only from rank 0
    rank_err = {p.parent.name: p.read_text() for p in logs.rglob("stderr.log")}
    assert "epoch 1/2" in rank_err["0"] and "epoch" not in rank_err["1"]
    # rank 0 wrote the checkpoint, with both ranks' RNG states
    ckpt = tmp_path / "ckpt2" / (tmp_path / "ckpt2" / "latest").read_text().strip()
    state = json.loads((ckpt / "trainer_state.json").read_text())
    assert state["world_size"] == 2 and state["global_step"] == 14
    assert {"rng.torch.0", "rng.torch.1"} <= set(load_file(ckpt / "state.safetensors"))
