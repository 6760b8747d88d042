"""The vector-quantised bottleneck of the VQ-VAE (van den Oord et al. 2017).

The code ``z`` (size ``z``) is cut into ``z // code_dim`` groups of ``code_dim`` numbers and
each group is replaced by its nearest vector of a codebook of ``codebook_size`` vectors, so
one image is ``groups`` discrete symbols. It fits the bottleneck contract ``(B, F) -> (B, z)``
and so combines with every encoder and decoder (the MLP and the convolutional ones: the conv
encoder's features are flattened before the bottleneck).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from autoencoders.blocks.base import Bottleneck, BottleneckOutput
from autoencoders.blocks.layers import flag, nonnegative_number, positive_int
from autoencoders.errors import InvalidValueError
from autoencoders.registry import bottlenecks

__all__ = ["VQBottleneck", "codebook_perplexity"]


def codebook_perplexity(indices: torch.Tensor, codebook_size: int) -> torch.Tensor:
    """``exp(H(p))`` of the codes' frequencies ``p`` in ``indices``: from 1 (one code used)
    to ``codebook_size`` (every code equally often).

    Example:
        >>> codebook_perplexity(torch.tensor([0, 1, 2, 3]), 8)
        tensor(4.)
        >>> codebook_perplexity(torch.tensor([5, 5, 5]), 8)
        tensor(1.)
    """
    counts = torch.bincount(indices.flatten(), minlength=codebook_size).float()
    p = counts / counts.sum().clamp_min(1.0)
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum()
    return entropy.exp()


@bottlenecks.register("vq", aliases=("vector_quantized", "vq_vae"))
class VQBottleneck(Bottleneck):
    """Nearest-codebook-vector quantisation with straight-through gradients.

    ``e = W h + b`` is cut into groups of ``code_dim``; each is replaced by its nearest
    codebook vector ``q`` (squared distance), and the decoder sees
    ``z = e + stopgrad(q - e)``: the forward pass uses ``q``, the gradient flows to the encoder
    as if the quantisation were the identity. Terms, per sample, summed over the code:

    * ``commitment = commitment_weight * ||e - stopgrad(q)||^2`` (keeps the encoder close to
      its codes);
    * ``codebook = ||stopgrad(e) - q||^2`` (moves the codes to the encoder), unless ``ema``:
      then the codebook follows exponential moving averages of the vectors assigned to each
      code (decay ``decay``) and has no gradient.

    Statistics: ``perplexity`` of the batch's codes (:func:`codebook_perplexity`) and
    ``usage``, the fraction of the codebook used by the batch.

    Initialisation: with ``init_from_data`` (the default) the first training batch sets the
    codebook to randomly chosen encoder outputs of that batch, so every code starts where the
    data is (a codebook drawn far from the encoder's outputs would leave most codes unused
    from the start); the flag that it happened is a buffer, saved with the weights.

    Dead codes: with ``reinit_dead``, a code that no vector of the last ``dead_after``
    training batches was assigned to is moved onto a randomly chosen encoder output of the
    current batch (its EMA statistics reset to it), so the whole codebook stays in use.
    EMA updates and re-initialisation happen in training mode only, under the global RNG
    (checkpointed with the Trainer), on each process's batch (under DDP the buffers follow
    rank 0's).

    The prior is uniform over codes, independently per group: :meth:`sample_prior` draws
    random codebook vectors.

    Args:
        in_features: encoder feature size ``F``.
        z: the code size (``z // code_dim`` groups).
        codebook_size: ``K``, the number of codebook vectors.
        code_dim: the size of one codebook vector; must divide ``z``.
        commitment_weight: ``beta`` of the commitment term (0.25 in the paper).
        ema: update the codebook by moving averages instead of by its gradient.
        decay: the moving averages' decay.
        reinit_dead: re-initialise codes unused for ``dead_after`` training batches.
        dead_after: batches without use after which a code counts as dead.
        init_from_data: set the codebook from the first training batch's encoder outputs.

    Example:
        >>> b = VQBottleneck(in_features=32, z=8, codebook_size=16, code_dim=4)
        >>> out = b(torch.randn(5, 32))
        >>> out.z.shape, sorted(out.terms), sorted(out.stats)
        (torch.Size([5, 8]), ['codebook', 'commitment'], ['perplexity', 'usage'])
        >>> b.indices(torch.randn(5, 32)).shape  # two groups of 4: two symbols per input
        torch.Size([5, 2])
        >>> b.sample_prior(3).shape
        torch.Size([3, 8])
    """

    has_prior = True

    def __init__(
        self,
        in_features: int,
        z: int = 64,
        codebook_size: int = 256,
        code_dim: int = 8,
        commitment_weight: float = 0.25,
        ema: bool = False,
        decay: float = 0.99,
        reinit_dead: bool = True,
        dead_after: int = 20,
        init_from_data: bool = True,
    ) -> None:
        super().__init__()
        self.in_features = positive_int(in_features, "in_features")
        self.z_dim = positive_int(z, "z")
        self.codebook_size = positive_int(codebook_size, "codebook_size")
        self.code_dim = positive_int(code_dim, "code_dim")
        if self.z_dim % self.code_dim:
            raise InvalidValueError(
                f"code_dim={self.code_dim} must divide z={self.z_dim} (the code is cut into "
                f"groups of code_dim); e.g. z={self.z_dim - self.z_dim % self.code_dim or self.code_dim}"
            )
        self.groups = self.z_dim // self.code_dim
        self.commitment_weight = nonnegative_number(commitment_weight, "commitment_weight")
        self.ema = flag(ema, "ema")
        self.decay = nonnegative_number(decay, "decay")
        if self.decay >= 1.0:
            raise InvalidValueError(f"decay must be a number in [0, 1), got {decay!r}")
        self.reinit_dead = flag(reinit_dead, "reinit_dead")
        self.dead_after = positive_int(dead_after, "dead_after")
        self.init_from_data = flag(init_from_data, "init_from_data")
        self.fc = nn.Linear(self.in_features, self.z_dim)
        k = self.codebook_size
        init = torch.empty(k, self.code_dim).uniform_(-1.0 / k, 1.0 / k)
        if self.ema:
            self.register_buffer("codebook", init)
            self.register_buffer("ema_count", torch.ones(k))
            self.register_buffer("ema_sum", init.clone())
        else:
            self.codebook = nn.Parameter(init)
        self.register_buffer("idle", torch.zeros(k, dtype=torch.long))
        self.register_buffer("initialised", torch.tensor(not self.init_from_data))

    def _initialised(self) -> bool:
        """Whether the codebook was set from data (read from the buffer once it is)."""
        if not getattr(self, "_seen_initialised", False):
            self._seen_initialised = bool(self.initialised)
        return self._seen_initialised

    def _nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """Index of the nearest codebook vector of each row of ``flat`` ``(N, code_dim)``."""
        book = self.codebook.float()
        d2 = flat.pow(2).sum(1, keepdim=True) - 2.0 * flat @ book.T + book.pow(2).sum(1)
        return d2.argmin(dim=1)

    def indices(self, h: torch.Tensor) -> torch.Tensor:
        """The codes chosen for features ``h``: ``(B, groups)`` integers in ``[0, K)``."""
        e = rearrange(self.fc(h).float(), "b (g d) -> (b g) d", d=self.code_dim)
        return self._nearest(e).view(h.shape[0], self.groups)

    def forward(self, h: torch.Tensor) -> BottleneckOutput:
        e = rearrange(self.fc(h).float(), "b (g d) -> b g d", d=self.code_dim)
        flat = rearrange(e, "b g d -> (b g) d")
        if self.training and not self._initialised():
            with torch.no_grad():
                self._replace(torch.arange(self.codebook_size, device=flat.device), flat.detach())
                self.initialised.fill_(True)
        idx = self._nearest(flat.detach())
        if self.training:
            with torch.no_grad():
                self._update(flat.detach(), idx)
        q = F.embedding(idx, self.codebook.float()).view_as(e)
        terms = {"commitment": self.commitment_weight * (e - q.detach()).pow(2).sum((1, 2))}
        if not self.ema:
            terms["codebook"] = (e.detach() - q).pow(2).sum((1, 2))
        z = e + (q - e).detach()
        counts = torch.bincount(idx, minlength=self.codebook_size)
        stats = {
            "perplexity": codebook_perplexity(idx, self.codebook_size).detach(),
            "usage": (counts > 0).float().mean(),
        }
        z = rearrange(z, "b g d -> b (g d)").to(h.dtype if h.is_floating_point() else z.dtype)
        return BottleneckOutput(z=z, terms=terms, stats=stats)

    def _update(self, flat: torch.Tensor, idx: torch.Tensor) -> None:
        """EMA step and dead-code re-initialisation, on one training batch."""
        k = self.codebook_size
        onehot = F.one_hot(idx, k).to(flat.dtype)
        counts = onehot.sum(0)
        if self.ema:
            self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
            self.ema_sum.mul_(self.decay).add_(onehot.T @ flat, alpha=1 - self.decay)
            n = self.ema_count.sum()
            smoothed = (self.ema_count + 1e-5) / (n + k * 1e-5) * n  # Laplace smoothing
            self.codebook.copy_(self.ema_sum / smoothed.unsqueeze(1))
        self.idle.add_(1).masked_fill_(counts > 0, 0)
        if not self.reinit_dead:
            return
        dead = torch.nonzero(self.idle >= self.dead_after).flatten()
        if dead.numel() == 0:
            return
        self._replace(dead, flat)

    def _replace(self, codes: torch.Tensor, flat: torch.Tensor) -> None:
        """Move ``codes`` onto randomly chosen rows of ``flat`` (the batch's encoder outputs)."""
        picks = torch.randint(flat.shape[0], (codes.numel(),), device=flat.device)
        fresh = flat[picks].to(self.codebook.dtype)
        self.codebook.data[codes] = fresh
        if self.ema:
            self.ema_sum[codes] = fresh
            self.ema_count[codes] = 1.0
        self.idle[codes] = 0

    def sample_prior(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """``n`` codes drawn from the uniform prior: a random codebook vector per group."""
        n = positive_int(n, "number of samples")
        if device is None:
            device = self.codebook.device
        idx = torch.randint(
            self.codebook_size, (n, self.groups), generator=generator, device=device
        )
        return rearrange(self.codebook[idx], "n g d -> n (g d)")

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, z={self.z_dim}, codebook_size={self.codebook_size}, "
            f"code_dim={self.code_dim}, ema={self.ema}"
        )
