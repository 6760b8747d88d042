"""Subprocess worker for the SIGKILL/resume test (run as a script, not collected).

Usage: ``python resume_worker.py MODE CHECKPOINT_DIR OUT_FILE [KILL_AT]``, MODE one of
``full`` (train to the end), ``kill`` (SIGKILL itself after step KILL_AT) or ``resume``.
Writes the final weights to OUT_FILE (safetensors) and the history next to it (.json).
"""

from __future__ import annotations

import os
import signal
import sys


def main(argv: list[str]) -> None:
    import torch

    torch.set_num_threads(1)
    from safetensors.torch import save_file

    import autoencoders
    from autoencoders.training import Callback, Trainer

    mode, ckpt_dir, out = argv[:3]
    kill_at = int(argv[3]) if len(argv) > 3 else -1
    g = torch.Generator().manual_seed(123)
    x = torch.rand(150, 1, 8, 8, generator=g)
    val = torch.rand(30, 1, 8, 8, generator=g)
    torch.manual_seed(0)
    # Gaussian bottleneck and Gaussian input noise: both draw from the global torch RNG
    model = autoencoders.build("vae", h=16, z=3, input_shape=(1, 8, 8), noise="gaussian")

    class Kill(Callback):
        def on_step_end(self, trainer, step, loss):
            if step == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    trainer = Trainer(
        model,
        epochs=3,
        batch_size=32,  # 5 batches per epoch, the last of 22
        lr=3e-3,
        checkpoint_dir=ckpt_dir,
        checkpoint_every=3,
        progress=False,
        seed=7,
        scheduler="plateau",
        early_stopping={"patience": 5},
        callbacks=[Kill()] if mode == "kill" else [],
    )
    history = trainer.fit(x, val, resume=mode == "resume")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
    history.to_json(out + ".json")


if __name__ == "__main__":
    main(sys.argv[1:])
