"""Conditions: what a conditional model is given beside its input, such as a class label.

A :class:`Condition` maps the labels of a batch to a vector per sample, ``(B, out_features)``.
A model with a condition (a conditional VAE, ``autoencoders.build("cvae")``) appends that
vector to the encoder's features before the bottleneck, so ``q(z | x, y)``, and to the code
before the decoder, so ``p(x | z, y)``; any encoder and decoder therefore work unchanged (the
bottleneck takes ``F + E`` features and the decoder ``Z + E`` inputs). An encoder that can
take it at its input as well (``condition_features = E``, as the MLP encoder can) is given it
there too, so the posterior's first layer sees the label. Labels travel with the
data: the Trainer, the metrics and the plots pass ``labels=`` to every model that
:attr:`~autoencoders.Autoencoder.takes_labels`.
"""

from __future__ import annotations

import torch
from torch import nn

from autoencoders.blocks.base import Block
from autoencoders.blocks.layers import positive_int
from autoencoders.errors import InvalidTypeError, InvalidValueError
from autoencoders.registry import conditions

__all__ = ["Condition", "LabelCondition", "check_labels"]


class Condition(Block):
    """A map from a batch's labels to one conditioning vector per sample.

    Subclasses set ``self.out_features`` (the vector's size ``E``) and ``self.num_classes``
    and implement ``forward(labels) -> (B, E)``.
    """

    registry_kind = "condition"
    out_features: int
    num_classes: int


def check_labels(labels: object, num_classes: int, n: int, where: str) -> torch.Tensor:
    """``labels`` as an integer tensor ``(n,)`` with values in ``[0, num_classes)``.

    An int is one class for all ``n`` samples; a tensor (or a list) holds one label each.

    Raises:
        TypeError: not an int, a list or an integer tensor.
        ValueError: the wrong number of labels, or a label out of range.

    Example:
        >>> check_labels(3, 10, 2, "sample").tolist()
        [3, 3]
        >>> check_labels([0, 9], 10, 2, "sample").tolist()
        [0, 9]
    """
    if isinstance(labels, bool):
        raise InvalidTypeError(f"{where}: labels must be class indices, got {labels!r}")
    if isinstance(labels, int):
        labels = torch.full((n,), labels, dtype=torch.long)
    elif isinstance(labels, (list, tuple)):
        labels = torch.as_tensor(labels)
    if not isinstance(labels, torch.Tensor):
        raise InvalidTypeError(
            f"{where}: labels must be an int, a list of ints or an integer tensor of shape "
            f"({n},), got {type(labels).__name__}"
        )
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise InvalidTypeError(
            f"{where}: labels must be integer class indices, got a {labels.dtype} tensor "
            "(one-hot rows? pass labels.argmax(1))"
        )
    if labels.dim() != 1 or len(labels) != n:
        raise InvalidValueError(
            f"{where}: expected one label per sample, shape ({n},), got shape {tuple(labels.shape)}"
        )
    if n and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        raise InvalidValueError(
            f"{where}: label {int(bad)} is out of range; the model knows classes "
            f"0 ... {num_classes - 1}"
        )
    return labels.long()


@conditions.register("label", aliases=("class", "one_hot"))
class LabelCondition(Condition):
    """A class label as a one-hot vector (``embedding=None``) or a learned embedding.

    Args:
        num_classes: the number of classes ``C``; labels are ``0 ... C-1``.
        embedding: the size of a learned embedding, or None for a fixed one-hot vector of
            size ``C``.

    Example:
        >>> cond = LabelCondition(num_classes=3)
        >>> cond(torch.tensor([2, 0])).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
        >>> LabelCondition(num_classes=10, embedding=4)(torch.tensor([7])).shape
        torch.Size([1, 4])
    """

    def __init__(self, num_classes: int = 10, embedding: int | None = None) -> None:
        super().__init__()
        self.num_classes = positive_int(num_classes, "num_classes")
        self.embedding = None if embedding is None else positive_int(embedding, "embedding")
        self.table = None if embedding is None else nn.Embedding(self.num_classes, embedding)
        self.out_features = self.num_classes if embedding is None else int(embedding)

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        if self.table is not None:
            return self.table(labels)
        return nn.functional.one_hot(labels, self.num_classes).float()

    def extra_repr(self) -> str:
        kind = "one-hot" if self.embedding is None else f"embedding={self.embedding}"
        return f"num_classes={self.num_classes}, {kind}"
