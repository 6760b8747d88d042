"""Training: the generic :class:`Trainer`, its :class:`History`, callbacks and checkpoints.

Every architecture trains through the same loop::

    >>> import torch, autoencoders
    >>> from autoencoders.training import Trainer, EarlyStopping
    >>> trainer = Trainer(autoencoders.build("ae", h=16, z=2), epochs=3, batch_size=16,
    ...                   early_stopping=EarlyStopping(patience=2), progress=False)
    >>> history = trainer.fit(torch.rand(64, 1, 28, 28), val=torch.rand(16, 1, 28, 28))
    >>> len(history) <= 3 and history.best()["val_loss"] > 0
    True

See :class:`Trainer` for the options (AMP, ``torch.compile``, checkpoints and exact resume,
early stopping, the NaN guard, ``torchrun``). The parts, lowest first (imports only go down):

* :mod:`~autoencoders.training.distributed`, :mod:`~autoencoders.training.history`,
  :mod:`~autoencoders.training.meter` (the epoch's losses on the device, the NaN guard);
* :mod:`~autoencoders.training.batches` (where batches come from),
  :mod:`~autoencoders.training.optim` (optimizers by name),
  :mod:`~autoencoders.training.schedules` (LR schedulers by name),
  :mod:`~autoencoders.training.runtime` (device, autocast, scaler, DDP, compile),
  :mod:`~autoencoders.training.evaluation` (the training objective as trained:
  ``val_loss``);
* :mod:`~autoencoders.training.state` (:class:`TrainingState`: what checkpoints hold);
* :mod:`~autoencoders.training.callbacks` (the callback protocol, progress, early stopping,
  logging), :mod:`~autoencoders.training.tensorboard` (:class:`TensorBoardLogger`, needs the
  ``tensorboard`` extra) and :mod:`~autoencoders.training.checkpoint` (the files,
  :class:`ModelCheckpoint`);
* :mod:`~autoencoders.training.trainer` (the loop).
"""

from autoencoders.training.callbacks import Callback, EarlyStopping, MetricsLogger, ProgressBar
from autoencoders.training.checkpoint import ModelCheckpoint, find_latest
from autoencoders.training.history import History
from autoencoders.training.meter import NonFiniteLossError
from autoencoders.training.runtime import Runtime
from autoencoders.training.state import TrainingState
from autoencoders.training.tensorboard import TensorBoardLogger
from autoencoders.training.trainer import Trainer

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "MetricsLogger",
    "ModelCheckpoint",
    "NonFiniteLossError",
    "ProgressBar",
    "Runtime",
    "TensorBoardLogger",
    "Trainer",
    "TrainingState",
    "find_latest",
]
