"""Regularizers: penalties on the code or the encoder, added to any model's loss by name.

Each is a :class:`~autoencoders.blocks.Regularizer`: the model calls it after the bottleneck
and puts its terms on the output, where every built-in loss adds them
(:func:`autoencoders.losses.add_block_terms`). So ``sparse_ae`` is the plain autoencoder plus
:class:`SparsityRegularizer`, and ``contractive_ae`` is the plain autoencoder plus
:class:`ContractiveRegularizer`, with any encoder and decoder.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from autoencoders.blocks.base import Regularizer, RegularizerOutput
from autoencoders.blocks.layers import nonnegative_number
from autoencoders.errors import InvalidValueError
from autoencoders.registry import regularizers

__all__ = ["ContractiveRegularizer", "SparsityRegularizer", "jacobian_frobenius"]

SPARSITY_KINDS = ("kl", "l1")


@regularizers.register("sparsity", aliases=("sparse",))
class SparsityRegularizer(Regularizer):
    """A sparsity penalty on the code: its units should be mostly off.

    * ``kind="kl"`` (Ng's sparse autoencoder): with ``rho_hat`` the mean activation of each
      code unit over the batch, ``weight * sum_j KL(rho || rho_hat_j)``, where
      ``KL(p || q) = p log(p/q) + (1-p) log((1-p)/(1-q))``. One number per batch; the code
      must lie in (0, 1) (a sigmoid code, ``z_activation="sigmoid"``); values are clamped to
      ``[1e-6, 1 - 1e-6]``.
    * ``kind="l1"``: ``weight * sum_j |z_j|`` per sample.

    Term ``sparsity``; statistic ``code_mean``, the mean activation (compare it with ``rho``).

    Args:
        kind: ``"kl"`` or ``"l1"``.
        rho: the target mean activation, in (0, 1) (``kind="kl"`` only).
        weight: the penalty's weight.

    Example:
        >>> reg = SparsityRegularizer(rho=0.05, weight=1.0)
        >>> out = reg(None, torch.full((4, 8), 0.05), None)
        >>> float(out.terms["sparsity"]), round(float(out.stats["code_mean"]), 3)
        (0.0, 0.05)
    """

    def __init__(self, kind: str = "kl", rho: float = 0.05, weight: float = 1.0) -> None:
        super().__init__()
        if kind not in SPARSITY_KINDS:
            raise InvalidValueError(f"unknown sparsity kind {kind!r}; accepted: kl, l1")
        if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not 0 < rho < 1:
            raise InvalidValueError(f"rho must be a number in (0, 1), got {rho!r}")
        self.kind = kind
        self.rho = float(rho)
        self.weight = nonnegative_number(weight, "weight")

    def forward(
        self, x: torch.Tensor, z: torch.Tensor, encode: Callable | None
    ) -> RegularizerOutput:
        z = z.float()
        stats = {"code_mean": z.detach().mean()}
        if self.kind == "l1":
            return RegularizerOutput({"sparsity": self.weight * z.abs().sum(dim=1)}, stats)
        rho_hat = z.mean(dim=0).clamp(1e-6, 1 - 1e-6)
        rho = self.rho
        kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
        return RegularizerOutput({"sparsity": self.weight * kl.sum()}, stats)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, rho={self.rho}, weight={self.weight}"


def jacobian_frobenius(
    encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, create_graph: bool = False
) -> torch.Tensor:
    """``||d encode(x) / dx||_F^2`` per sample, ``(B,)``, computed exactly.

    The Jacobian of a ``(B, Z)`` code with respect to its inputs is assembled from ``Z``
    vector-Jacobian products done in one batched backward pass (``is_grads_batched``), so
    the cost is about ``Z`` backward passes of the encoder, whatever its input size. Each
    sample's rows come from the gradient of the batch's sum, which is that sample's own
    Jacobian when samples do not interact (no batch-norm statistics in training mode).

    Args:
        encode: ``x -> z``, ``(B, *shape) -> (B, Z)``.
        x: the inputs.
        create_graph: keep the graph, so the result can be differentiated (training).

    Example:
        >>> w = torch.tensor([[1.0, 2.0], [0.0, 3.0], [1.0, 1.0]])  # z = x @ w.T: J = w
        >>> jacobian_frobenius(lambda x: x @ w.T, torch.randn(4, 2))
        tensor([16., 16., 16., 16.])
    """
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        z = encode(xg)
        if z.dim() != 2:
            raise InvalidValueError(
                f"encode(x) must return codes of shape (B, Z), got {tuple(z.shape)}"
            )
        b, k = z.shape
        basis = torch.eye(k, device=z.device, dtype=z.dtype).unsqueeze(1).expand(k, b, k)
        (rows,) = torch.autograd.grad(
            z, xg, grad_outputs=basis, is_grads_batched=True, create_graph=create_graph
        )
    return rows.float().pow(2).flatten(2).sum(dim=2).sum(dim=0)


@regularizers.register("contractive", aliases=("cae",))
class ContractiveRegularizer(Regularizer):
    """The contractive penalty (Rifai et al. 2011): ``weight * ||J_f(x)||_F^2`` per sample.

    ``f`` is the encoder followed by the bottleneck (its mean, for a Gaussian one) and ``x``
    the encoder's input; the squared Frobenius norm of its Jacobian is computed exactly by
    :func:`jacobian_frobenius` (about ``z`` backward passes of the encoder). In training the
    penalty is differentiable (its gradient reaches the encoder's weights); under
    ``torch.no_grad`` (validation) it is computed all the same, without a graph.

    Term ``contractive``; statistic ``jacobian_norm``, the batch mean of ``||J_f(x)||_F``.

    Args:
        weight: the penalty's weight (``lambda`` in the paper).

    Example:
        >>> import autoencoders
        >>> model = autoencoders.build("contractive_ae", h=16, z=3, weight=0.1)
        >>> out = model(torch.rand(2, 1, 28, 28))
        >>> out.terms["contractive"].shape, out.stats["jacobian_norm"].shape
        (torch.Size([2]), torch.Size([]))
    """

    def __init__(self, weight: float = 0.1) -> None:
        super().__init__()
        self.weight = nonnegative_number(weight, "weight")

    def forward(
        self, x: torch.Tensor, z: torch.Tensor, encode: Callable[[torch.Tensor], torch.Tensor]
    ) -> RegularizerOutput:
        norm2 = jacobian_frobenius(encode, x, create_graph=torch.is_grad_enabled())
        return RegularizerOutput(
            {"contractive": self.weight * norm2},
            {"jacobian_norm": norm2.detach().sqrt().mean()},
        )

    def extra_repr(self) -> str:
        return f"weight={self.weight}"
