"""What every loss returns: :class:`LossOutput`, and the blocks' own terms added to it.

A loss is any callable ``loss(output, target) -> LossOutput`` (:class:`Loss`); the built-in
ones end with :func:`add_block_terms`, so a block's penalty (a VQ codebook's commitment, a
sparsity or contractive term) reaches the total without a loss of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from autoencoders.errors import InvalidValueError

__all__ = ["AnalyticGrads", "Loss", "LossOutput", "add_block_terms"]

#: A loss's analytic gradients: ``grads(weight) -> (grad_logits, kl_weight)``, ``kl_weight``
#: being ``None`` for a loss without the KL.
AnalyticGrads = Callable[[float], tuple[torch.Tensor, "float | None"]]


@dataclass
class LossOutput:
    """A loss value and its named parts (all scalars, means over the batch).

    Attributes:
        total: the value to minimise.
        parts: named components, e.g. ``{"recon": ..., "kl": ...}``, and the blocks' terms
            and statistics (:func:`add_block_terms`); the Trainer logs each of them.

    Example:
        >>> parts = {"recon": torch.tensor(3.0), "kl": torch.tensor(0.5)}
        >>> LossOutput(total=parts["recon"] + parts["kl"], parts=parts).detached()
        {'loss': 3.5, 'recon': 3.0, 'kl': 0.5}
    """

    total: torch.Tensor
    parts: dict[str, torch.Tensor] = field(default_factory=dict)

    def detached(self) -> dict[str, float]:
        """``{"loss": total, **parts}`` as Python floats (synchronises with the device)."""
        out = {"loss": float(self.total.detach())}
        out.update({k: float(v.detach()) for k, v in self.parts.items()})
        return out


class Loss(Protocol):
    """What the Trainer calls: ``loss(output, target) -> LossOutput``."""

    def __call__(self, output: Any, target: torch.Tensor) -> LossOutput: ...


def add_block_terms(total: torch.Tensor, parts: dict[str, torch.Tensor], output: Any) -> LossOutput:
    """``total`` plus the batch mean of every term in ``output.terms``, as a :class:`LossOutput`.

    Each term (per sample ``(B,)`` or a batch-level scalar, already weighted by its block) is
    added to ``total`` and becomes a part under its name; each of ``output.stats`` becomes a
    part too (not added). A loss of your own calls this last to honour the blocks' penalties.

    Raises:
        ValueError: a term or statistic has the name of one of the loss's own parts.

    Example:
        >>> import torch
        >>> from types import SimpleNamespace
        >>> out = SimpleNamespace(terms={"penalty": torch.tensor([1.0, 3.0])},
        ...                       stats={"usage": torch.tensor(0.5)})
        >>> add_block_terms(torch.tensor(10.0), {"recon": torch.tensor(10.0)}, out).detached()
        {'loss': 12.0, 'recon': 10.0, 'penalty': 2.0, 'usage': 0.5}
    """
    parts = dict(parts)
    for source in ("terms", "stats"):
        for name, value in (getattr(output, source, None) or {}).items():
            if name in parts or name == "loss":
                raise InvalidValueError(
                    f"a block reports a {source[:-1]} named {name!r}, which is already a part of "
                    f"the loss ({', '.join(['loss', *parts])}); rename the block's {source[:-1]}"
                )
            value = value.float().mean()
            if source == "terms":
                total = total + value
            else:
                value = value.detach()
            parts[name] = value
    return LossOutput(total=total, parts=parts)
