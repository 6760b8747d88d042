"""Bottlenecks: deterministic (AE) and Gaussian (VAE), interchangeable behind one contract."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from autoencoders.blocks.analytic import (
    graph_free,
    linear_forward,
    module_unsupported,
    sequential_forward,
    sequential_unsupported,
)
from autoencoders.blocks.base import Bottleneck, BottleneckOutput
from autoencoders.blocks.layers import flag, make_activation, nonnegative_number, positive_int
from autoencoders.errors import InvalidValueError
from autoencoders.registry import bottlenecks, priors

#: Scales of the IMQ kernel, times ``2 z`` (Tolstikhin et al. 2018 sum over these).
IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)

#: A bottleneck's analytic backward: ``(grad_z, kl_weight) -> grad_h``; ``kl_weight`` is the
#: loss's derivative with respect to each sample's ``kl``, ``None`` for a loss without it.
AnalyticBackward = Callable[[torch.Tensor, "float | None"], torch.Tensor]

__all__ = [
    "AnalyticBackward",
    "DeterministicBottleneck",
    "GaussianBottleneck",
    "MMDBottleneck",
    "gaussian_kl",
    "imq_mmd",
]


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Closed-form ``KL(N(mean, exp(logvar)) || N(0, I))`` summed over latent dims, per sample.

    ``KL = 1/2 * sum(mean^2 + exp(logvar) - 1 - logvar)``, computed in float32 (or float64 if
    given float64) whatever the autocast dtype, and returned with shape ``(B,)``.

    Example:
        >>> gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3))
        tensor([0., 0.])
        >>> gaussian_kl(torch.ones(1, 2), torch.zeros(1, 2))
        tensor([1.])
    """
    dtype = torch.float64 if mean.dtype == torch.float64 else torch.float32
    m = mean if mean.dtype == dtype else mean.to(dtype)
    lv = logvar if logvar.dtype == dtype else logvar.to(dtype)
    # written as 1/2 * sum(m^2 + exp(lv) - 1 - lv) so that m = lv = 0 gives exactly +0
    return 0.5 * torch.sum(m.pow(2) + lv.exp() - 1.0 - lv, dim=tuple(range(1, m.dim())))


@bottlenecks.register("deterministic", aliases=("linear", "ae"))
class DeterministicBottleneck(Bottleneck):
    """``z = activation(W h + b)``: the plain autoencoder's code layer.

    Args:
        in_features: encoder feature size ``F``.
        z: latent size.
        activation: optional activation on ``z`` (``"none"``, ``"tanh"``, ``"relu"``, ...).

    Example:
        >>> b = DeterministicBottleneck(in_features=400, z=2, activation="tanh")
        >>> out = b(torch.randn(4, 400))
        >>> out.z.shape, out.kl is None, bool(out.z.abs().max() <= 1)
        (torch.Size([4, 2]), True, True)
    """

    def __init__(self, in_features: int, z: int = 20, activation: str = "none") -> None:
        super().__init__()
        self.in_features = positive_int(in_features, "in_features")
        self.z_dim = positive_int(z, "z")
        self.fc = nn.Linear(self.in_features, self.z_dim)
        self.act = make_activation(activation)

    def forward(self, h: torch.Tensor) -> BottleneckOutput:
        return BottleneckOutput(z=self.act(self.fc(h)))

    def analytic_unsupported(self) -> str | None:
        """``None`` when :meth:`analytic_forward` computes what ``forward`` does, else why not."""
        return sequential_unsupported([self.fc, self.act])

    def analytic_forward(self, h: torch.Tensor) -> tuple[BottleneckOutput, AnalyticBackward]:
        """``forward(h)`` without a graph, and its backward ``(grad_z, kl_weight) -> grad_h``
        (no KL here: ``kl_weight`` is ignored). See :mod:`autoencoders.blocks.analytic`.

        Example:
            >>> b = DeterministicBottleneck(in_features=4, z=2)
            >>> out, backward = b.analytic_forward(torch.ones(3, 4))
            >>> backward(torch.ones(3, 2), 0.0).shape
            torch.Size([3, 4])
        """
        z, back = sequential_forward([self.fc, self.act], h)
        return BottleneckOutput(z=z), lambda grad_z, kl_weight=0.0: back(grad_z)


@bottlenecks.register("gaussian", aliases=("vae", "normal"))
class GaussianBottleneck(Bottleneck):
    """Mean and log-variance heads with the reparameterisation ``z = mean + exp(logvar/2) * eps``.

    In training mode ``z`` is a sample; in eval mode it is the mean (set
    ``sample_in_eval=True`` to sample there too). ``kl`` is the closed-form KL divergence to
    ``N(0, I)`` per sample (see :func:`gaussian_kl`). The prior can be sampled with
    :meth:`sample_prior`.

    With ``samples=k > 1`` every draw is ``k`` codes per input, ``z`` of shape ``(k, B, Z)``
    from one encoder pass (the heads are computed once; only ``eps`` has the extra
    dimension); the model then decodes all of them (logits ``(k, B, ...)``), which is what the
    importance-weighted bound of the IWAE needs (:class:`~autoencoders.losses.IWAELoss`).
    Without a draw (eval mode) ``z`` is the mean, ``(B, Z)``.

    Args:
        in_features: encoder feature size ``F``.
        z: latent size.
        sample_in_eval: draw ``z`` in eval mode too, instead of returning the mean.
        samples: codes drawn per input, ``k``.

    Example:
        >>> b = GaussianBottleneck(in_features=400, z=20)
        >>> out = b(torch.randn(8, 400))
        >>> out.z.shape, out.mean.shape, out.logvar.shape, out.kl.shape
        (torch.Size([8, 20]), torch.Size([8, 20]), torch.Size([8, 20]), torch.Size([8]))
        >>> b.sample_prior(3).shape
        torch.Size([3, 20])
        >>> GaussianBottleneck(in_features=400, z=20, samples=5)(torch.randn(8, 400)).z.shape
        torch.Size([5, 8, 20])
    """

    is_gaussian = True
    has_prior = True

    def __init__(
        self, in_features: int, z: int = 20, sample_in_eval: bool = False, samples: int = 1
    ) -> None:
        super().__init__()
        self.in_features = positive_int(in_features, "in_features")
        self.z_dim = positive_int(z, "z")
        self.sample_in_eval = flag(sample_in_eval, "sample_in_eval")
        self.samples = positive_int(samples, "samples")
        self.mean = nn.Linear(self.in_features, self.z_dim)
        self.logvar = nn.Linear(self.in_features, self.z_dim)

    def forward(
        self,
        h: torch.Tensor,
        *,
        sample: bool | None = None,
        generator: torch.Generator | None = None,
    ) -> BottleneckOutput:
        """Heads, then ``z``: a draw when ``sample`` (default: training or ``sample_in_eval``).

        Args:
            h: encoder features ``(B, in_features)``.
            sample: draw ``z`` (True) or return the mean (False) whatever the mode; None
                follows the mode.
            generator: the generator of ``eps``, drawn as
                ``torch.randn(mean.shape, generator=generator, device=..., dtype=...)``.
        """
        mean, logvar = self.mean(h), self.logvar(h)
        if sample is None:
            sample = self.training or self.sample_in_eval
        if sample:
            shape = mean.shape if self.samples == 1 else (self.samples, *mean.shape)
            eps = torch.randn(shape, generator=generator, device=mean.device, dtype=mean.dtype)
            z = mean + torch.exp(0.5 * logvar) * eps
        else:
            z = mean
        return BottleneckOutput(z=z, mean=mean, logvar=logvar, kl=gaussian_kl(mean, logvar))

    def analytic_unsupported(self) -> str | None:
        """``None`` when :meth:`analytic_forward` computes what ``forward`` does (one code per
        input), else why not."""
        if self.samples != 1:
            return f"GaussianBottleneck with samples={self.samples}"
        for head in (self.mean, self.logvar):
            if type(head) is not nn.Linear:
                return f"GaussianBottleneck with a {type(head).__name__} head (Linear only)"
        return module_unsupported(self.mean) or module_unsupported(self.logvar)

    def analytic_forward(
        self, h: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[BottleneckOutput, AnalyticBackward]:
        """``forward(h)`` (drawing as the mode says) without a graph, and its backward
        ``(grad_z, kl_weight) -> grad_h``: ``kl_weight`` is the loss's derivative with respect
        to each sample's ``kl`` (``beta / B`` for the ELBO; ``None`` for a loss without the KL,
        whose heads then get no gradient from it, as autograd leaves them). ``eps`` is drawn by the same call
        as in ``forward``, so both consume the random stream alike. See
        :mod:`autoencoders.blocks.analytic`.

        Example:
            >>> b = GaussianBottleneck(in_features=4, z=2)
            >>> out, backward = b.analytic_forward(torch.ones(3, 4))
            >>> out.kl.shape, backward(torch.ones(3, 2), 1 / 3).shape
            (torch.Size([3]), torch.Size([3, 4]))
        """
        return graph_free(self._analytic, h, generator)

    def _analytic(
        self, h: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[BottleneckOutput, AnalyticBackward]:
        mean, back_mean = linear_forward(self.mean, h)
        logvar, back_logvar = linear_forward(self.logvar, h)
        sample = self.training or self.sample_in_eval
        var = logvar.exp()
        if sample:
            eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
            std = torch.exp(0.5 * logvar)
            z = mean + std * eps
        else:
            z = mean
        # gaussian_kl's formula, keeping exp(logvar) for the backward
        kl = 0.5 * torch.sum(mean.pow(2) + var - 1.0 - logvar, dim=1)

        def gradients(grad_z: torch.Tensor, kl_weight: float | None) -> torch.Tensor:
            grad_mean, grad_logvar = grad_z, None
            if sample:  # dz/dlogvar = eps * std / 2
                grad_logvar = (grad_z * eps).mul_(std).mul_(0.5)
            if kl_weight is not None:  # dkl/dmean = mean, dkl/dlogvar = (exp(logvar) - 1) / 2
                grad_mean = grad_mean.add(mean, alpha=kl_weight)
                from_kl = (var - 1.0).mul_(0.5 * kl_weight)
                grad_logvar = from_kl if grad_logvar is None else grad_logvar.add_(from_kl)
            grad_h = back_mean(grad_mean)
            if grad_logvar is not None:
                grad_h = grad_h + back_logvar(grad_logvar)  # type: ignore[operator]
            return grad_h  # type: ignore[return-value]

        def backward(grad_z: torch.Tensor, kl_weight: float | None) -> torch.Tensor:
            return graph_free(gradients, grad_z, kl_weight)

        return BottleneckOutput(z=z, mean=mean, logvar=logvar, kl=kl), backward

    def sample_prior(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """``n`` draws from ``N(0, I)`` of shape ``(n, z)`` on the module's device by default."""
        n = positive_int(n, "number of samples")
        if device is None:
            device = self.mean.weight.device
        return torch.randn(
            n, self.z_dim, generator=generator, device=device, dtype=self.mean.weight.dtype
        )


def imq_mmd(
    x: torch.Tensor, y: torch.Tensor, scales: tuple[float, ...] = IMQ_SCALES
) -> torch.Tensor:
    """Unbiased estimate of ``MMD^2`` between samples ``x`` ``(n, d)`` and ``y`` ``(m, d)``.

    With the inverse multiquadric kernel ``k(a, b) = C / (C + ||a - b||^2)`` summed over
    ``C = s * 2 d`` for each ``s`` in ``scales`` (``2 d`` is ``2 d sigma^2`` for a unit-variance
    prior, the choice of Tolstikhin et al. 2018)::

        MMD^2 = 1/(n(n-1)) sum_{i!=j} k(x_i, x_j) + 1/(m(m-1)) sum_{i!=j} k(y_i, y_j)
                - 2/(nm) sum_{i,j} k(x_i, y_j)

    computed in float32 (float64 if given float64). Needs ``n, m >= 2``.

    Example:
        >>> x = torch.tensor([[0.0], [1.0]]); y = torch.tensor([[0.0], [3.0]])
        >>> k = lambda d2: 2.0 / (2.0 + d2)  # one scale: C = 1 * 2 * d = 2
        >>> by_hand = k(1.0) + k(9.0) - 2 * (k(0.0) + k(9.0) + k(1.0) + k(4.0)) / 4
        >>> bool(torch.isclose(imq_mmd(x, y, scales=(1.0,)), torch.tensor(by_hand)))
        True
    """
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise InvalidValueError(
            f"imq_mmd takes (n, d) and (m, d) samples, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    n, m = x.shape[0], y.shape[0]
    if n < 2 or m < 2:
        raise InvalidValueError(f"imq_mmd needs at least 2 samples on each side, got {n} and {m}")
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    x, y = x.to(dtype), y.to(dtype)
    d2_xx, d2_yy, d2_xy = (
        torch.cdist(x, x).pow(2),
        torch.cdist(y, y).pow(2),
        torch.cdist(x, y).pow(2),
    )
    off_x = 1.0 - torch.eye(n, device=x.device, dtype=dtype)
    off_y = 1.0 - torch.eye(m, device=x.device, dtype=dtype)
    total = x.new_zeros(())
    for s in scales:
        c = float(s) * 2.0 * x.shape[1]
        total = total + ((c / (c + d2_xx)) * off_x).sum() / (n * (n - 1))
        total = total + ((c / (c + d2_yy)) * off_y).sum() / (m * (m - 1))
        total = total - 2.0 * (c / (c + d2_xy)).sum() / (n * m)
    return total


@bottlenecks.register("mmd", aliases=("wae", "wae_mmd"))
class MMDBottleneck(Bottleneck):
    """A deterministic code pulled towards a prior by an MMD penalty: the Wasserstein AE's.

    ``z = W h + b`` as in :class:`DeterministicBottleneck`; in every forward pass the term
    ``mmd = weight * MMD^2(z, z~)`` (0 for a batch of one) (:func:`imq_mmd`, IMQ kernel)
    compares the batch's codes with as many draws ``z~`` from the prior, one number per
    batch (WAE-MMD, Tolstikhin et al. 2018). The prior is a registered
    :mod:`~autoencoders.blocks.priors` block, so :meth:`sample_prior` generates.

    Args:
        in_features: encoder feature size ``F``.
        z: latent size.
        weight: ``lambda``, the penalty's weight (the paper uses 10 on MNIST).
        prior: a registered prior's name (``"standard_normal"``).

    Example:
        >>> b = MMDBottleneck(in_features=16, z=2, weight=10.0)
        >>> out = b(torch.randn(8, 16))
        >>> out.z.shape, out.terms["mmd"].shape, b.sample_prior(3).shape
        (torch.Size([8, 2]), torch.Size([]), torch.Size([3, 2]))
    """

    has_prior = True

    def __init__(
        self, in_features: int, z: int = 8, weight: float = 10.0, prior: str = "standard_normal"
    ) -> None:
        super().__init__()
        self.in_features = positive_int(in_features, "in_features")
        self.z_dim = positive_int(z, "z")
        self.weight = nonnegative_number(weight, "weight")
        self.fc = nn.Linear(self.in_features, self.z_dim)
        self.prior = priors.build(prior, z=self.z_dim)

    def forward(
        self,
        h: torch.Tensor,
        *,
        sample: bool | None = None,
        generator: torch.Generator | None = None,
    ) -> BottleneckOutput:
        """The code and its MMD term (the prior draws from ``generator`` when given)."""
        z = self.fc(h)
        if z.shape[0] >= 2:
            drawn = self.prior.sample(z.shape[0], generator=generator, device=z.device)
            mmd = self.weight * imq_mmd(z, drawn)
        else:  # one code has no distribution to compare (the term stays, so parts line up)
            mmd = z.float().sum() * 0.0
        return BottleneckOutput(z=z, terms={"mmd": mmd})

    def sample_prior(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """``n`` draws from the prior, ``(n, z)``, on the module's device by default."""
        if device is None:
            device = self.fc.weight.device
        return self.prior.sample(n, generator=generator, device=device, dtype=self.fc.weight.dtype)
