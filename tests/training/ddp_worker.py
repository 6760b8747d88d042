"""Worker for the torch.distributed test (run as a script, not collected).

Usage: ``python ddp_worker.py OUT_DIR`` alone (one process) or under
``python -m torch.distributed.run --nproc_per_node=2 --standalone ddp_worker.py OUT_DIR``.
Writes ``<tag>.safetensors`` (final weights) and ``<tag>.json`` (history), where tag is
``single`` or ``rank<r>``.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> None:
    import torch

    torch.set_num_threads(1)
    from safetensors.torch import save_file

    import autoencoders
    from autoencoders.training import Trainer, distributed

    out = argv[0]
    g = torch.Generator().manual_seed(5)
    x = torch.rand(201, 1, 8, 8, generator=g)  # 6 batches of 32, then 9 split 5 + 4
    val = torch.rand(41, 1, 8, 8, generator=g)
    torch.manual_seed(0)
    model = autoencoders.build("ae", h=16, z=3, input_shape=(1, 8, 8))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    trainer = Trainer(
        model,
        epochs=2,
        batch_size=32,
        lr=1e-2,
        device="cpu",
        progress=True,
        checkpoint_dir=os.path.join(out, f"ckpt{world}"),
        checkpoint_every=4,
    )
    history = trainer.fit(x, val)
    tag = f"rank{trainer.rank}" if trainer.world_size > 1 else "single"
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()},
        os.path.join(out, f"{tag}.safetensors"),
    )
    history.to_json(os.path.join(out, f"{tag}.json"))
    distributed.cleanup()


if __name__ == "__main__":
    main(sys.argv[1:])
