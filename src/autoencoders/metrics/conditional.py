"""Conditional generation: are a conditional model's samples of the class they were asked for?

:func:`conditional_sample_accuracy` trains a classifier on the real training images, checks
it on the real test images, then asks the model for ``per_class`` samples of every class
(:meth:`Autoencoder.sample(n, labels=c) <autoencoders.Autoencoder.sample>`) and reports how
many the classifier puts in the class they were generated for. The classifier's own test
accuracy is reported beside it: samples cannot be judged more reliably than the judge judges
real images.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from autoencoders._utils import device_of, evaluating, gather, unwrap_model
from autoencoders.errors import InvalidTypeError
from autoencoders.metrics._common import check_positive

__all__ = ["ConditionalSampleResult", "conditional_sample_accuracy", "train_classifier"]


@dataclass(frozen=True)
class ConditionalSampleResult:
    """What :func:`conditional_sample_accuracy` measured.

    Attributes:
        accuracy: the fraction of samples classified as the class they were generated for,
            averaged over the classes.
        per_class: that fraction for each class ``0 ... C-1``.
        classifier_accuracy: the classifier's accuracy on the real test images.
        samples_per_class: samples generated for each class.
    """

    accuracy: float
    per_class: list[float]
    classifier_accuracy: float
    samples_per_class: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_classifier(
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    *,
    hidden: int = 256,
    epochs: int = 5,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
) -> nn.Module:
    """A one-hidden-layer ReLU classifier of images ``x`` ``(N, ...)`` with labels ``y``.

    Trained with Adam on the cross-entropy, on ``x``'s device, from a seeded initialisation
    and order (the global RNG is not touched); returned in eval mode.

    Example:
        >>> x = torch.cat([torch.zeros(20, 4), torch.ones(20, 4)])
        >>> y = torch.cat([torch.zeros(20), torch.ones(20)]).long()
        >>> net = train_classifier(x, y, 2, hidden=8, epochs=20, batch_size=8)
        >>> net(torch.tensor([[0.0] * 4, [1.0] * 4])).argmax(1).tolist()
        [0, 1]
    """
    for value, what in ((hidden, "hidden"), (epochs, "epochs"), (batch_size, "batch_size")):
        check_positive(value, what)
    gen = torch.Generator().manual_seed(seed)
    flat = x.flatten(1).float()
    with torch.random.fork_rng(devices=[]):  # a seeded initialisation; the global RNG untouched
        torch.manual_seed(seed)
        net = nn.Sequential(
            nn.Linear(flat.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
        )
    net = net.to(flat.device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    y = y.to(flat.device).long()
    for _ in range(epochs):
        order = torch.randperm(len(flat), generator=gen).to(flat.device)
        for i in range(0, len(flat), batch_size):
            idx = order[i : i + batch_size]
            loss = F.cross_entropy(net(flat[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net.eval()


def _accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        pred = torch.cat([net(b.flatten(1).float()).argmax(1) for b in x.split(1024)])
    return float((pred.cpu() == y.cpu()).double().mean())


def conditional_sample_accuracy(
    model: Any,
    train: Any,
    test: Any,
    *,
    per_class: int = 100,
    classifier: nn.Module | None = None,
    epochs: int = 5,
    seed: int = 0,
) -> ConditionalSampleResult:
    """How often a classifier of real images names the class a conditional model was asked for.

    Args:
        model: a conditional model that can sample (``takes_labels`` and ``can_sample``: a
            CVAE).
        train: labelled training images (an ``(x, y)`` pair, a dataset of ``(x, y)``, a split),
            in the model's pixel range: the classifier learns from them.
        test: labelled test images, to report the classifier's own accuracy.
        per_class: samples generated for each class.
        classifier: an already trained classifier of flattened images (then ``train`` is
            not used for training it, only checked); default :func:`train_classifier`.
        epochs: the default classifier's training epochs.
        seed: seed of the classifier's training and of the samples' draws.

    Raises:
        TypeError: the model is not conditional or cannot sample.
        ValueError: the data has no labels.

    Example:
        >>> import torch, autoencoders
        >>> cvae = autoencoders.build("cvae", h=16, z=2, num_classes=2)
        >>> x, y = torch.rand(40, 1, 28, 28), torch.arange(40) % 2
        >>> r = conditional_sample_accuracy(cvae, (x, y), (x, y), per_class=5, epochs=1)
        >>> len(r.per_class), r.samples_per_class, 0.0 <= r.accuracy <= 1.0
        (2, 5, True)
    """
    net = unwrap_model(model)
    if not getattr(net, "takes_labels", False) or not getattr(net, "can_sample", False):
        raise InvalidTypeError(
            "conditional_sample_accuracy needs a conditional model that can sample (e.g. "
            f"build('cvae')); {getattr(net, 'name', None) or type(net).__name__!r} is not one"
        )
    per_class = check_positive(per_class, "per_class")
    classes = int(net.num_classes)
    x_test, y_test = gather(test, need_labels=True, what="test")
    device = device_of(net)
    if classifier is None:
        x_train, y_train = gather(train, need_labels=True, what="train")
        classifier = train_classifier(
            x_train.to(device), y_train, classes, epochs=epochs, seed=seed
        )
    classifier = classifier.to(device).eval()
    gen = torch.Generator(device=device).manual_seed(seed)
    per: list[float] = []
    with evaluating(net), torch.no_grad():
        for c in range(classes):
            samples = net.sample(per_class, labels=c, generator=gen, device=device)
            per.append(_accuracy(classifier, samples, torch.full((per_class,), c)))
        acc_test = _accuracy(classifier, x_test.to(device), y_test)
    return ConditionalSampleResult(
        accuracy=sum(per) / classes,
        per_class=per,
        classifier_accuracy=acc_test,
        samples_per_class=per_class,
    )
