"""Baselines and probes: the PCA reconstruction floor and linear probes on latent codes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

from autoencoders._utils import (
    device_of,
    evaluating,
    gather,
    iter_batches,
    label_kwargs,
    unwrap_model,
)
from autoencoders.errors import InvalidValueError
from autoencoders.metrics._common import as_model_input, check_positive

__all__ = ["ProbeResult", "fit_linear_probe", "linear_probe_accuracy", "pca_baseline_mse"]


def pca_baseline_mse(train_x: Any, test_x: Any, k: int) -> float:
    """Reconstruction MSE per pixel of the best rank-``k`` linear code: PCA fitted on ``train_x``.

    The principal directions are the top ``k`` right singular vectors of the centred training
    data (``torch.linalg.svd`` in float64); ``test_x`` is projected onto them around the
    training mean and reconstructed. ``k = 0`` reconstructs everything as the training mean.
    This is the floor a linear autoencoder with a ``k``-dimensional code can reach, to compare
    an autoencoder's :func:`mse_per_pixel` with at the same latent size.

    Args:
        train_x: training data ``(N, ...)`` (or a dataset / ``(x, y)`` pair; labels ignored).
        test_x: evaluation data with the same item shape.
        k: number of components, ``0 <= k <= min(N, D)``.

    Example:
        >>> import torch
        >>> x = torch.randn(100, 2) @ torch.randn(2, 5)  # rank-2 data
        >>> round(pca_baseline_mse(x, x, 2), 10), pca_baseline_mse(x, x, 1) > 0
        (0.0, True)
    """
    a, _ = gather(train_x, what="train_x")
    b, _ = gather(test_x, what="test_x")
    a = a.reshape(len(a), -1).to(torch.float64)
    b = b.reshape(len(b), -1).to(torch.float64)
    if a.shape[1] != b.shape[1]:
        raise InvalidValueError(
            f"train_x items have {a.shape[1]} values but test_x items have {b.shape[1]}"
        )
    n, d = a.shape
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= min(n, d):
        raise InvalidValueError(
            f"k must be an integer in [0, {min(n, d)}] (min of N and D), got {k!r}"
        )
    mean = a.mean(0)
    b = b.to(a.device) - mean
    if k == 0:
        return float(b.pow(2).mean())
    _, _, vh = torch.linalg.svd(a - mean, full_matrices=False)
    v = vh[:k]  # (k, D)
    residual = b - (b @ v.T) @ v
    return float(residual.pow(2).mean())


@dataclass
class ProbeResult:
    """Outcome of a linear probe.

    Attributes:
        accuracy: accuracy on the test codes.
        train_accuracy: accuracy on the training codes.
        chance: frequency of the most common test label (accuracy of always guessing it).
        num_classes: classes seen in training.
    """

    accuracy: float
    train_accuracy: float
    chance: float
    num_classes: int

    def to_dict(self) -> dict[str, float | int]:
        """The fields as a dict."""
        return asdict(self)


def fit_linear_probe(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    steps: int = 200,
    lr: float = 1.0,
    weight_decay: float = 1e-4,
) -> ProbeResult:
    """Multinomial logistic regression on fixed features, fitted with full-batch L-BFGS.

    Features are standardised with the training mean and standard deviation; the loss is the
    mean cross-entropy plus ``weight_decay / 2 * ||W||^2`` (bias not penalised), minimised in
    float64 from zero weights (so the fit is deterministic) with a strong-Wolfe line search.
    Labels may be any integers; test labels unseen in training count as errors.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> y = torch.arange(200) % 2
        >>> f = torch.randn(200, 3, generator=g) + 3 * y[:, None]
        >>> r = fit_linear_probe(f[:100], y[:100], f[100:], y[100:])
        >>> r.accuracy > 0.9, r.chance
        (True, 0.5)
    """
    steps = check_positive(steps, "steps")
    if not lr > 0:
        raise InvalidValueError(f"lr must be > 0, got {lr!r}")
    if not weight_decay >= 0:
        raise InvalidValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    xa = torch.as_tensor(train_features).reshape(len(train_features), -1).double()
    xb = torch.as_tensor(test_features).reshape(len(test_features), -1).double().to(xa.device)
    ya = torch.as_tensor(train_labels).reshape(-1).long().to(xa.device)
    yb = torch.as_tensor(test_labels).reshape(-1).long().to(xa.device)
    if len(xa) != len(ya) or len(xb) != len(yb):
        raise InvalidValueError(
            f"features and labels differ in length: train {len(xa)} vs {len(ya)}, "
            f"test {len(xb)} vs {len(yb)}"
        )
    if len(xa) == 0 or len(xb) == 0:
        raise InvalidValueError("the linear probe needs non-empty training and test sets")
    if (ya < 0).any() or (yb < 0).any():
        raise InvalidValueError(
            "the linear probe needs labels >= 0; this data is unlabelled (label -1)"
        )
    classes, ya_idx = torch.unique(ya, return_inverse=True)
    c = len(classes)
    mu, sd = xa.mean(0), xa.std(0, unbiased=False).clamp_min(1e-8)
    xa, xb = (xa - mu) / sd, (xb - mu) / sd
    w = torch.zeros(xa.shape[1], c, dtype=torch.float64, device=xa.device, requires_grad=True)
    bias = torch.zeros(c, dtype=torch.float64, device=xa.device, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w, bias],
        lr=lr,
        max_iter=steps,
        history_size=20,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(xa @ w + bias, ya_idx) + 0.5 * weight_decay * w.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        if c > 1:
            opt.step(closure)
    with torch.no_grad():
        pred_a = classes[(xa @ w + bias).argmax(1)]
        pred_b = classes[(xb @ w + bias).argmax(1)]
    counts = torch.unique(yb, return_counts=True)[1]
    return ProbeResult(
        accuracy=float((pred_b == yb).double().mean()),
        train_accuracy=float((pred_a == ya).double().mean()),
        chance=float(counts.max()) / len(yb),
        num_classes=c,
    )


def _encode_all(net: Any, data: Any, batch_size: int, what: str) -> tuple[torch.Tensor, Any]:
    device = device_of(net)
    codes, labels = [], []
    with evaluating(net):
        for x, y in iter_batches(data, batch_size):
            if y is None:
                raise InvalidValueError(
                    f"{what} has no labels; give (x, y) items or an (x, y) pair"
                )
            lab = label_kwargs(net, y)
            codes.append(net.encode(as_model_input(x, net, device), **lab).double().cpu())
            labels.append(y.reshape(-1).long().cpu())
    if not codes:
        raise InvalidValueError(f"{what} is empty")
    return torch.cat(codes), torch.cat(labels)


def linear_probe_accuracy(
    model: Any,
    train: Any,
    test: Any,
    *,
    steps: int = 200,
    lr: float = 1.0,
    weight_decay: float = 1e-4,
    batch_size: int = 256,
    return_result: bool = False,
) -> float | ProbeResult:
    """Accuracy of a logistic regression on the model's latent codes (posterior means for VAEs).

    The codes of ``train`` fit the probe (see :func:`fit_linear_probe`), those of ``test``
    score it. Both must carry labels (``(x, y)`` items).

    Args:
        model: the autoencoder.
        train: labelled data to fit the probe on.
        test: labelled data to score it on.
        steps: L-BFGS iterations.
        lr: L-BFGS learning rate.
        weight_decay: L2 penalty on the weights.
        batch_size: samples per forward pass when encoding.
        return_result: return the :class:`ProbeResult` (with chance level and train accuracy)
            instead of the test accuracy.

    Example:
        >>> import torch, autoencoders
        >>> y = torch.arange(64) % 2
        >>> x = torch.rand(64, 1, 28, 28) * 0.5 + 0.5 * y[:, None, None, None]
        >>> acc = linear_probe_accuracy(autoencoders.build("ae", h=16, z=4), (x, y), (x, y))
        >>> acc > 0.9
        True
    """
    net = unwrap_model(model)
    batch_size = check_positive(batch_size, "batch_size")
    za, ya = _encode_all(net, train, batch_size, "train")
    zb, yb = _encode_all(net, test, batch_size, "test")
    result = fit_linear_probe(za, ya, zb, yb, steps=steps, lr=lr, weight_decay=weight_decay)
    return result if return_result else result.accuracy
