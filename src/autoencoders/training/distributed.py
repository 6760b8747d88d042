"""torch.distributed helpers: the process group under ``torchrun``, sharding, reductions.

Under ``torchrun`` (``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` in the environment) the
:class:`~autoencoders.training.Trainer` calls :func:`init_from_env` to create the process group
(``gloo`` on the CPU, ``nccl`` on CUDA) unless the script already made one. Without those
variables everything here is a no-op for a single process.

Example:
    >>> world_info()
    (0, 1)
    >>> shard(0, 10, rank=1, world_size=3)
    (4, 7, 0.9)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import torch
import torch.distributed as dist

from autoencoders.errors import InvalidValueError

__all__ = [
    "all_gather_tensor",
    "all_reduce_sum",
    "barrier",
    "cleanup",
    "env_world",
    "init_from_env",
    "is_distributed",
    "shard",
    "world_info",
]

logger = logging.getLogger(__name__)


def env_world(environ: Mapping[str, str] | None = None) -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from the ``torchrun`` environment (``(0, 1, 0)`` if unset).

    Example:
        >>> env_world({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
        (1, 2, 1)
        >>> env_world({})
        (0, 1, 0)
    """
    env = os.environ if environ is None else environ
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise InvalidValueError(
            f"WORLD_SIZE/RANK/LOCAL_RANK must be integers (as torchrun sets them): {exc}"
        ) from None
    if world < 1 or not 0 <= rank < world:
        raise InvalidValueError(f"bad distributed environment: RANK={rank}, WORLD_SIZE={world}")
    return rank, world, local


def is_distributed() -> bool:
    """Whether a process group with more than one process is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_info() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device: torch.device) -> bool:
    """Create the default process group from the ``torchrun`` environment when needed.

    Args:
        device: the training device; CUDA gets ``nccl``, anything else ``gloo``.

    Returns:
        True when this call created the group (the caller may :func:`cleanup` it later).
    """
    _, world, _ = env_world()
    if world <= 1 or not dist.is_available() or dist.is_initialized():
        return False
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend)
    logger.info(
        "initialised process group: backend %s, rank %d of %d",
        backend,
        dist.get_rank(),
        dist.get_world_size(),
    )
    return True


def cleanup() -> None:
    """Destroy the default process group if there is one (call it at the end of a script)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every process (no-op for one process)."""
    if is_distributed():
        dist.barrier()


def _comm_device(t: torch.Tensor) -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum ``t`` over processes (returns a new tensor on ``t``'s device; ``t`` if one process)."""
    if not is_distributed():
        return t
    buf = t.detach().to(_comm_device(t)).clone()
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    return buf.to(t.device)


def all_gather_tensor(t: torch.Tensor) -> list[torch.Tensor]:
    """Every process's ``t`` (same shape and dtype on all), in rank order, on ``t``'s device."""
    if not is_distributed():
        return [t]
    src = t.detach().to(_comm_device(t)).contiguous()
    out = [torch.empty_like(src) for _ in range(dist.get_world_size())]
    dist.all_gather(out, src)
    return [o.to(t.device) for o in out]


def shard(start: int, stop: int, rank: int, world_size: int) -> tuple[int, int, float]:
    """This process's part of the global batch ``[start, stop)`` and its loss scale.

    The global batch is split into ``world_size`` contiguous pieces whose sizes differ by at
    most one. DistributedDataParallel averages gradients over processes; multiplying each
    process's batch-mean loss by ``scale = n_rank * world_size / n_global`` makes that average
    exactly the gradient of the mean over the global batch, even when the pieces differ in
    size (``scale`` is 1 when they do not).

    Returns:
        ``(start, stop, scale)`` of this rank's piece.
    """
    m = stop - start
    if world_size == 1:
        return start, stop, 1.0
    q, r = divmod(m, world_size)
    lo = start + rank * q + min(rank, r)
    size = q + (1 if rank < r else 0)
    return lo, lo + size, size * world_size / m
