"""Subprocess worker of the fault-injection tests (run as a script, not collected).

Usage::

    python fault_worker.py train CHECKPOINT_DIR OUT_FILE [KIND:N]
    python fault_worker.py save MODEL_DIR [KIND:N]
    python fault_worker.py run RUN_DIR SEED [KIND:N]

``KIND:N`` makes the process SIGKILL itself at the N-th call of ``KIND``: ``fsync``,
``replace`` (``os.replace``: every atomic rename), ``rmtree`` (checkpoint cleanup), ``unlink``,
``step`` (after a training step) or ``epoch`` (at an epoch end, before the checkpoint). Without
it the process runs to the end. ``train`` resumes from CHECKPOINT_DIR when it holds a
checkpoint and writes the final weights to OUT_FILE; ``save`` saves ``SAVES`` models in turn
into MODEL_DIR, the i-th with every weight shifted by i (see :func:`model_of`); ``run``
trains a small run folder into RUN_DIR with ``overwrite=True`` (see :func:`run_folder`).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys

SAVES = 12


def _arm(spec: str | None) -> str | None:
    """Wrap the file operations so that the N-th call of one kind kills the process."""
    if not spec:
        return None
    kind, n = spec.split(":")
    left = [int(n)]

    def die_at_count() -> None:
        left[0] -= 1
        if left[0] == 0:
            os.kill(os.getpid(), signal.SIGKILL)

    def wrap(fn):
        def wrapped(*args, **kwargs):
            die_at_count()  # before the call: the operation never happens
            return fn(*args, **kwargs)

        return wrapped

    targets = {"fsync": (os, "fsync"), "replace": (os, "replace"), "unlink": (os, "unlink")}
    if kind in targets:
        mod, name = targets[kind]
        setattr(mod, name, wrap(getattr(mod, name)))
    elif kind == "rmtree":
        shutil.rmtree = wrap(shutil.rmtree)
    globals()["_die"] = die_at_count
    return kind


def model_of(i: int):
    import torch

    import autoencoders

    torch.manual_seed(0)
    model = autoencoders.build("vae", h=16, z=3, input_shape=(1, 8, 8))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(float(i))
    return model


def train(ckpt_dir: str, out: str, kind: str | None) -> None:
    import torch
    from safetensors.torch import save_file

    import autoencoders
    from autoencoders.training import Callback, Trainer

    g = torch.Generator().manual_seed(123)
    x = torch.rand(150, 1, 8, 8, generator=g)
    val = torch.rand(30, 1, 8, 8, generator=g)
    torch.manual_seed(0)
    model = autoencoders.build("vae", h=16, z=3, input_shape=(1, 8, 8), noise="gaussian")

    class Kill(Callback):
        def on_step_end(self, trainer, step, loss):
            if kind == "step":
                _die()  # noqa: F821 - set by _arm

        def on_epoch_end(self, trainer, record):
            if kind == "epoch":
                _die()  # noqa: F821

    trainer = Trainer(
        model,
        epochs=3,
        batch_size=32,  # 5 batches per epoch, the last of 22
        lr=3e-3,
        checkpoint_dir=ckpt_dir,
        checkpoint_every=1,  # a checkpoint, a pointer update and a cleanup at every step
        progress=False,
        seed=7,
        scheduler="plateau",
        early_stopping={"patience": 5},
        callbacks=[Kill()],  # before the trainer's own checkpointing at an epoch end
    )
    trainer.fit(x, val, resume=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)


def save_loop(model_dir: str) -> None:
    import autoencoders

    models = [model_of(i) for i in range(SAVES)]  # built before the fault counting matters
    for m in models:
        autoencoders.save(m, model_dir)


def run_folder(out: str, seed: int, **extra) -> None:
    """Two epochs of a small ae into the run folder ``out``, replacing the run it holds."""
    import torch

    from autoencoders import runs
    from autoencoders.data import from_tensors

    x = torch.rand(48, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    settings = runs.RunSettings(
        epochs=2, batch_size=16, progress=False, plots=False, seed=seed, checkpoint_every=2,
        **extra,
    )  # fmt: skip
    runs.train_run("ae", {"h": 8, "z": 2}, settings, out=out, overwrite=True,
                   splits=from_tensors(x))  # fmt: skip


def main(argv: list[str]) -> None:
    import torch

    torch.set_num_threads(1)
    mode = argv[0]
    if mode == "train":
        kind = _arm(argv[3] if len(argv) > 3 else None)
        train(argv[1], argv[2], kind)
    elif mode == "save":
        import autoencoders  # noqa: F401 - imported before the faults are armed

        models_first = argv[2] if len(argv) > 2 else None
        _arm(models_first)
        save_loop(argv[1])
    elif mode == "run":
        from autoencoders import runs  # noqa: F401 - imported before the faults are armed

        _arm(argv[3] if len(argv) > 3 else None)
        run_folder(argv[1], int(argv[2]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
