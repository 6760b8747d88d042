"""TensorBoard logging: :class:`TensorBoardLogger`, a callback writing scalars and images.

It needs the optional ``tensorboard`` package (``pip install "autoencoders[tensorboard]"``);
nothing here imports it until a logger is built. Watch a run with
``tensorboard --logdir LOG_DIR``.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autoencoders._utils import device_of, evaluating, gather, unwrap_model
from autoencoders.errors import InvalidValueError
from autoencoders.metrics import noisy_copy
from autoencoders.training.callbacks import Callback, TrainerView
from autoencoders.training.history import History

__all__ = ["INSTALL_HINT", "TensorBoardLogger", "summary_writer_class"]

logger = logging.getLogger(__name__)

#: How to install what :class:`TensorBoardLogger` needs.
INSTALL_HINT = 'pip install "autoencoders[tensorboard]"'


def summary_writer_class() -> type:
    """:class:`torch.utils.tensorboard.SummaryWriter`, or an ImportError saying how to install it.

    Example:
        >>> summary_writer_class().__name__
        'SummaryWriter'
    """
    try:
        import tensorboard  # noqa: F401  (torch.utils.tensorboard needs it)
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise ImportError(
            f"TensorBoardLogger needs the tensorboard package, which is not installed ({exc}); "
            f"install it with: {INSTALL_HINT}"
        ) from None
    return SummaryWriter


def _count(value: Any, what: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidValueError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def _as_images(x: torch.Tensor) -> torch.Tensor | None:
    """``(N, C, H, W)`` with 1 or 3 channels from model inputs, or None if they are no images."""
    if x.dim() == 3:
        x = x.unsqueeze(1)
    elif x.dim() == 2:
        side = math.isqrt(x.shape[1])
        if side * side != x.shape[1]:
            return None
        x = x.reshape(len(x), 1, side, side)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        return None
    return x


class TensorBoardLogger(Callback):
    """Log training to TensorBoard: losses per step, the epoch records, reconstructions.

    Written on rank 0 only, to a :class:`~torch.utils.tensorboard.SummaryWriter` on
    ``log_dir``, all against the global step (the x axis TensorBoard shows):

    * ``step/train_loss`` and ``step/lr`` every ``log_every_n_steps`` optimizer steps (reading
      the loss is one device synchronisation each time);
    * ``epoch/<key>`` for every number of the epoch's
      :class:`~autoencoders.training.History` record (``train_loss``, ``val_loss``, ``lr``,
      ``train_kl``, ``seconds``, ...; ``epoch/epoch`` maps steps to epochs);
    * ``images/reconstructions`` after every epoch: ``images`` validation inputs (training
      inputs without validation data; or the first items of ``data``) in the top row and their
      reconstructions below, made in eval mode without gradients (the model's mode is
      restored), shown in the model's pixel range mapped to [0, 1]. For a model with a noise
      transform the rows are the clean inputs, a fixed noisy copy of them
      (:func:`autoencoders.metrics.noisy_copy`, seed 0) and the model's reconstruction of it.
      The inputs are picked once, so every epoch shows the same ones (checkpoints keep them).

    The writer is opened when training starts (on a resume, events after the restored step
    are purged, so what a crashed run logged after its last checkpoint does not overlap) and
    closed when ``fit`` ends, also when it raises.

    Args:
        log_dir: the folder of the event files.
        images: how many inputs to show per epoch (0: no images).
        log_every_n_steps: steps between the per-step scalars (None: none).
        data: where to take the shown inputs from (a tensor, ``(x, y)`` pair, dataset or
            loader); default: the first validation inputs the model sees, else the first
            training batch.

    Raises:
        ImportError: the ``tensorboard`` package is not installed (it says how to install it).

    Example:
        >>> import tempfile, torch, autoencoders
        >>> from autoencoders.training import TensorBoardLogger, Trainer
        >>> with tempfile.TemporaryDirectory() as d:
        ...     tb = TensorBoardLogger(d, images=4, log_every_n_steps=2)
        ...     trainer = Trainer(autoencoders.build("ae", h=8, z=2), epochs=1, batch_size=8,
        ...                       progress=False, callbacks=[tb])
        ...     _ = trainer.fit(torch.rand(16, 1, 28, 28), val=torch.rand(8, 1, 28, 28))
        ...     any(p.name.startswith("events.out.tfevents") for p in Path(d).iterdir())
        True
    """

    changes_model = False

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        *,
        images: int = 8,
        log_every_n_steps: int | None = 50,
        data: Any = None,
    ) -> None:
        self._writer_class = summary_writer_class()
        self.log_dir = Path(log_dir)
        self.images = _count(images, "images", minimum=0)
        self.log_every_n_steps = (
            None
            if log_every_n_steps is None
            else _count(log_every_n_steps, "log_every_n_steps", minimum=1)
        )
        self.data = data
        self.writer: Any = None
        self._hook: Any = None
        self._reset_inputs()

    def _reset_inputs(self) -> None:
        self.inputs: torch.Tensor | None = None  # the inputs shown, once picked
        self.inputs_from: str | None = None  # "val", "train" or "data"
        self.input_labels: torch.Tensor | None = None  # their labels (from ``data``), if any
        self._seen: dict[str, list[torch.Tensor]] = {"val": [], "train": []}
        self._warned = False

    # -- picking the inputs shown --------------------------------------------------------------
    def _capture(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        """Forward pre-hook: keep the first ``images`` inputs seen in eval and in train mode."""
        if torch.compiler.is_compiling() or self.inputs is not None:
            return
        if not args or not isinstance(args[0], torch.Tensor):
            return
        seen = self._seen["train" if module.training else "val"]
        have = sum(len(t) for t in seen)
        if have < self.images:
            seen.append(args[0][: self.images - have].detach().to("cpu", copy=True))

    def _pick_inputs(self) -> torch.Tensor | None:
        if self.inputs is None:
            for where in ("val", "train"):
                if self._seen[where]:
                    self.inputs, self.inputs_from = torch.cat(self._seen[where]), where
                    self._seen = {"val": [], "train": []}
                    break
        return self.inputs

    def _remove_hook(self) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    # -- hooks -----------------------------------------------------------------------------------
    def on_fit_start(self, trainer: TrainerView) -> None:
        self._close()
        self._reset_inputs()
        if not trainer.is_main or not self.images:
            return
        if self.data is not None:
            x, y = gather(self.data, what="TensorBoardLogger's data", limit=self.images)
            x = x[: self.images].detach().cpu().float()
            self.input_labels = None if y is None else y[: len(x)].cpu()
            shape = tuple(getattr(unwrap_model(trainer.model), "input_shape", ()) or ())
            if shape and tuple(x.shape[1:]) != shape and x[0].numel() == math.prod(shape):
                x = x.reshape(len(x), *shape)  # flat pixels, as the metrics take them
            self.inputs, self.inputs_from = x, "data"
        else:  # removed when fit ends: removing it between epochs would recompile the model
            self._hook = unwrap_model(trainer.model).register_forward_pre_hook(self._capture)

    def on_epoch_start(self, trainer: TrainerView, epoch: int) -> None:
        if self.writer is None and trainer.is_main:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            step = int(trainer.global_step)  # > 0 on a resume; what it logged up to it stays
            self.writer = self._writer_class(
                log_dir=str(self.log_dir), purge_step=step + 1 if step > 0 else None
            )

    def on_step_end(self, trainer: TrainerView, step: int, loss: torch.Tensor) -> None:
        every = self.log_every_n_steps
        if self.writer is None or every is None or step % every:
            return
        self.writer.add_scalar("step/train_loss", float(loss.detach()), step)
        self.writer.add_scalar("step/lr", float(trainer.optimizer.param_groups[0]["lr"]), step)

    def on_epoch_end(self, trainer: TrainerView, record: dict[str, Any]) -> None:
        if self.writer is None:
            return
        step = int(record.get("step", trainer.global_step))
        for key, value in record.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"epoch/{key}", float(value), step)
        self._log_images(trainer, step)
        self.writer.flush()

    def _log_images(self, trainer: TrainerView, step: int) -> None:
        x = self._pick_inputs() if self.images else None
        if x is None:
            return
        net = unwrap_model(trainer.model)
        lab = {}
        if getattr(net, "takes_labels", False):
            if self.input_labels is None:
                if not self._warned:
                    logger.warning(
                        "TensorBoardLogger: a conditional model needs labelled images; pass "
                        "data=(x, y) to log reconstructions"
                    )
                    self._warned = True
                return
            lab = {"labels": self.input_labels}
        images = _as_images(x)
        if images is None:
            if not self._warned:
                logger.warning(
                    "TensorBoardLogger: inputs of shape %s are not images; no image logged",
                    tuple(x.shape[1:]),
                )
                self._warned = True
            return
        from torchvision.utils import make_grid  # a dependency; imported when first needed

        low, high = getattr(net, "pixel_range", (0.0, 1.0))
        rows = [x]
        with evaluating(net):
            device = device_of(net)
            if getattr(net, "noise", None) is not None:
                noisy = noisy_copy(x, net.noise, seed=0)
                rows.append(noisy)
                rows.append(net.reconstruct(noisy.to(device), **lab).float().cpu())
            else:
                rows.append(net.reconstruct(x.to(device), **lab).float().cpu())
        grid = torch.cat([_as_images(r.reshape(x.shape)) for r in rows])  # type: ignore[misc]
        grid = ((grid.float() - low) / (high - low)).clamp(0.0, 1.0)
        picture = make_grid(grid, nrow=len(x), padding=2, pad_value=1.0)
        self.writer.add_image("images/reconstructions", picture, step)

    def on_fit_end(self, trainer: TrainerView, history: History) -> None:
        self._close()

    def on_exception(self, trainer: TrainerView, error: BaseException) -> None:
        self._close()

    def _close(self) -> None:
        self._remove_hook()
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    # -- checkpoints: the shown inputs survive a resume ------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        if self.inputs is None:
            return {}
        return {"inputs": self.inputs, "inputs_from": self.inputs_from}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        inputs = state.get("inputs")
        if isinstance(inputs, torch.Tensor) and self.data is None:
            self.inputs, self.inputs_from = inputs.cpu(), state.get("inputs_from")

    def __repr__(self) -> str:
        return (
            f"TensorBoardLogger({str(self.log_dir)!r}, images={self.images}, "
            f"log_every_n_steps={self.log_every_n_steps})"
        )
