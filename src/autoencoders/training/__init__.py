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
early stopping, the NaN guard, ``torchrun``).
"""

from autoencoders.training.callbacks import Callback, EarlyStopping, MetricsLogger
from autoencoders.training.checkpoint import ModelCheckpoint, find_latest
from autoencoders.training.history import History
from autoencoders.training.trainer import NonFiniteLossError, Trainer

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "MetricsLogger",
    "ModelCheckpoint",
    "NonFiniteLossError",
    "Trainer",
    "find_latest",
]
