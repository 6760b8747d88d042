"""Model families beyond the classics, each a small addition to the same three blocks.

Every family here is the plain dense (``encoder="mlp"``, the default) or convolutional
(``encoder="conv"``) autoencoder of :mod:`autoencoders.zoo.classic` with one part swapped or added:

=================  =============================================================================
``beta_vae``       the VAE, trained with ``recon + beta * kl`` (the loss the model names)
``iwae``           the VAE drawing ``k`` codes per input, trained on the importance-weighted bound
``wae_mmd``        an MMD bottleneck: deterministic code + ``weight * MMD^2(q(z), prior)``
``vq_vae``         a vector-quantised bottleneck (codebook, straight-through gradient)
``cvae``           the VAE with a label condition: ``q(z|x,y)``, ``p(x|z,y)``
``sparse_ae``      the AE with a sigmoid code and a sparsity regularizer
``contractive_ae`` the AE with a contractive (Jacobian-norm) regularizer
=================  =============================================================================

The new parts are registered blocks (:mod:`autoencoders.blocks`), so they combine with any
encoder and decoder through :func:`~autoencoders.compose` as well, a user's own included. The
penalties travel on the model output as named terms (``output.terms``), which every built-in
loss adds; no loss or trainer knows these families.

Example:
    >>> import torch, autoencoders
    >>> model = autoencoders.build("vq_vae", encoder="conv", z=32, codebook_size=64)
    >>> out = model(torch.rand(2, 1, 28, 28))
    >>> sorted(out.terms), out.logits.shape
    (['codebook', 'commitment'], torch.Size([2, 1, 28, 28]))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autoencoders.blocks.layers import nonnegative_number
from autoencoders.errors import InvalidValueError
from autoencoders.model import Autoencoder
from autoencoders.registry import models, regularizers
from autoencoders.zoo.compose import MNIST_SHAPE, hidden_sizes, mirrored_conv, mirrored_mlp

__all__ = [
    "ENCODERS",
    "beta_vae",
    "contractive_ae",
    "cvae",
    "iwae",
    "sparse_ae",
    "vq_vae",
    "wae_mmd",
]

#: What ``encoder=`` of a family accepts: the dense or the convolutional backbone.
ENCODERS = ("mlp", "conv")


def _backbone(
    encoder: str,
    input_shape: Sequence[int],
    h: int,
    hidden: Sequence[int] | None,
    channels: Sequence[int],
    z: int,
    bottleneck: str,
    bottleneck_kwargs: dict[str, Any] | None = None,
    activation: str = "relu",
    condition: dict[str, Any] | None = None,
) -> Autoencoder:
    """The dense ``784-h-z-h-784`` or the two-stage conv autoencoder around ``bottleneck``."""
    if encoder == "mlp":
        return mirrored_mlp(
            input_shape,
            hidden_sizes(h, hidden),
            z,
            bottleneck,
            activation,
            "sigmoid",
            bottleneck_kwargs=bottleneck_kwargs,
            condition=condition,
        )
    if encoder == "conv":
        return mirrored_conv(
            input_shape, channels, z, bottleneck, activation, False, bottleneck_kwargs, condition
        )
    raise InvalidValueError(f"unknown encoder {encoder!r} for a model family; accepted: mlp, conv")


@models.register("beta_vae", aliases=("betavae",))
def beta_vae(
    h: int = 400,
    z: int = 10,
    beta: float = 4.0,
    recon: str = "auto",
    capacity: float | None = None,
    capacity_steps: int = 100_000,
    gamma: float = 1000.0,
    encoder: str = "mlp",
    hidden: Sequence[int] | None = None,
    channels: Sequence[int] = (16, 32),
    input_shape: Sequence[int] = MNIST_SHAPE,
) -> Autoencoder:
    """The VAE trained with ``recon + beta * KL`` (Higgins et al. 2017), or with a growing
    capacity (Burgess et al. 2018).

    ``beta > 1`` trades reconstruction for a code closer to the prior (more disentangled
    factors, blurrier images); ``beta = 1`` is the VAE. The model records its loss
    (``{"name": "elbo", "kwargs": {"beta": beta, "recon": recon}}``), so the Trainer, the CLI
    and :func:`~autoencoders.losses.default_loss` train it with that loss. Per sample::

        loss = -E_q[log p(x|z)] + beta * KL(q(z|x) || N(0, I))

    With ``capacity`` (nats) it is the capacity-controlled variant instead
    (:class:`~autoencoders.losses.CapacityELBOLoss`, ``beta`` unused)::

        loss = -E_q[log p(x|z)] + gamma * |KL - C|,   C = capacity * min(1, step / capacity_steps)

    Args:
        h: hidden size of the dense backbone.
        z: code size.
        beta: the KL weight, >= 0.
        recon: ``"auto"`` (BCE for the sigmoid output), ``"bce"`` or ``"mse"``.
        capacity: the final KL capacity ``C_max`` in nats, or None for the plain beta-VAE.
        capacity_steps: optimizer steps over which the capacity grows to ``capacity``.
        gamma: the weight of ``|KL - C|``.
        encoder: ``"mlp"`` or ``"conv"`` (channels ``channels``).
        hidden: several hidden sizes instead of ``h``.
        channels: the conv backbone's channels.
        input_shape: shape of one input.

    Example:
        >>> import autoencoders
        >>> model = autoencoders.build("beta_vae", h=64, z=4, beta=2.0)
        >>> autoencoders.losses.default_loss(model)
        ELBOLoss(recon='auto', beta=2.0)
        >>> autoencoders.losses.default_loss(autoencoders.build("beta_vae", capacity=25.0))
        CapacityELBOLoss(recon='auto', gamma=1000.0, capacity=25.0, capacity_steps=100000)
    """
    beta = nonnegative_number(beta, "beta")
    model = _backbone(encoder, input_shape, h, hidden, channels, z, "gaussian")
    if capacity is None:
        model.loss_spec = {"name": "elbo", "kwargs": {"recon": recon, "beta": beta}}
    else:
        kwargs = {"recon": recon, "gamma": gamma, "capacity": capacity}
        model.loss_spec = {
            "name": "capacity_elbo",
            "kwargs": {**kwargs, "capacity_steps": capacity_steps},
        }
    return model


@models.register("iwae", aliases=("importance_weighted_ae",))
def iwae(
    h: int = 400,
    z: int = 20,
    k: int = 5,
    recon: str = "auto",
    encoder: str = "mlp",
    hidden: Sequence[int] | None = None,
    channels: Sequence[int] = (16, 32),
    input_shape: Sequence[int] = MNIST_SHAPE,
) -> Autoencoder:
    """Importance-weighted autoencoder (Burda et al. 2016): the VAE trained on a tighter bound.

    The Gaussian bottleneck draws ``k`` codes per input from one encoder pass
    (``GaussianBottleneck(samples=k)``), the decoder decodes all of them, and the model trains
    with :class:`~autoencoders.losses.IWAELoss`::

        loss = -log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x),    z_i ~ q(z|x)

    ``k = 1`` is the VAE. Same weights as the VAE of the same sizes: ``build("vae")`` weights
    load into it and back. In eval mode it encodes to the mean, like the VAE.

    Args:
        h: hidden size of the dense backbone.
        z: code size.
        k: codes (importance samples) per input.
        recon: ``"auto"`` (BCE for the sigmoid output), ``"bce"`` or ``"mse"``.
        encoder: ``"mlp"`` or ``"conv"``.
        hidden: several hidden sizes instead of ``h``.
        channels: the conv backbone's channels.
        input_shape: shape of one input.

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("iwae", h=32, z=4, k=3)
        >>> model(torch.rand(2, 1, 28, 28)).logits.shape
        torch.Size([3, 2, 1, 28, 28])
        >>> autoencoders.losses.default_loss(model)
        IWAELoss(recon='auto')
    """
    model = _backbone(encoder, input_shape, h, hidden, channels, z, "gaussian", {"samples": k})
    model.loss_spec = {"name": "iwae", "kwargs": {"recon": recon}}
    return model


@models.register("wae_mmd", aliases=("wae",))
def wae_mmd(
    h: int = 400,
    z: int = 8,
    weight: float = 10.0,
    prior: str = "standard_normal",
    encoder: str = "mlp",
    hidden: Sequence[int] | None = None,
    channels: Sequence[int] = (16, 32),
    input_shape: Sequence[int] = MNIST_SHAPE,
) -> Autoencoder:
    """Wasserstein autoencoder with the MMD penalty (Tolstikhin et al. 2018).

    A deterministic code whose distribution over the batch is pulled towards the prior::

        loss = c(x, decode(encode(x))) + weight * MMD^2({z_i}, {z~_i ~ prior})

    with the IMQ kernel (:func:`~autoencoders.blocks.imq_mmd`); the reconstruction cost is the
    model's default (BCE for the sigmoid output; pass ``--loss mse`` for the paper's squared
    error). It generates by decoding prior draws (:meth:`~autoencoders.Autoencoder.sample`).

    Args:
        h: hidden size of the dense backbone.
        z: code size.
        weight: ``lambda``, the MMD weight (10 in the paper's MNIST runs).
        prior: a registered prior (``"standard_normal"``).
        encoder: ``"mlp"`` or ``"conv"``.
        hidden: several hidden sizes instead of ``h``.
        channels: the conv backbone's channels.
        input_shape: shape of one input.

    Example:
        >>> import autoencoders
        >>> autoencoders.build("wae_mmd", h=32, z=2).sample(3).shape
        torch.Size([3, 1, 28, 28])
    """
    kwargs = {"weight": weight, "prior": prior}
    return _backbone(encoder, input_shape, h, hidden, channels, z, "mmd", kwargs)


@models.register("vq_vae", aliases=("vqvae",))
def vq_vae(
    h: int = 400,
    z: int = 64,
    codebook_size: int = 256,
    code_dim: int = 8,
    commitment_weight: float = 0.25,
    ema: bool = False,
    reinit_dead: bool = True,
    encoder: str = "mlp",
    hidden: Sequence[int] | None = None,
    channels: Sequence[int] = (16, 32),
    input_shape: Sequence[int] = MNIST_SHAPE,
) -> Autoencoder:
    """VQ-VAE (van den Oord et al. 2017): the code is ``z // code_dim`` codebook vectors.

    Per sample, with ``e`` the encoder's output, ``q`` its nearest codebook vectors and
    ``sg`` the stop-gradient::

        loss = recon(x, decode(e + sg(q - e))) + ||sg(e) - q||^2 + commitment_weight * ||e - sg(q)||^2

    (without the middle term when ``ema``: the codebook then follows moving averages). See
    :class:`~autoencoders.blocks.VQBottleneck` for the dead-code re-initialisation and the
    ``perplexity`` and ``usage`` statistics, logged with the loss. It generates from the
    uniform prior over codes.

    Args:
        h: hidden size of the dense backbone.
        z: code size (a multiple of ``code_dim``).
        codebook_size: ``K``.
        code_dim: size of one codebook vector.
        commitment_weight: ``beta`` of the commitment term.
        ema: moving-average codebook updates.
        reinit_dead: re-initialise codes no batch has used for a while.
        encoder: ``"mlp"`` or ``"conv"``.
        hidden: several hidden sizes instead of ``h``.
        channels: the conv backbone's channels.
        input_shape: shape of one input.

    Example:
        >>> import autoencoders
        >>> model = autoencoders.build("vq_vae", h=32, z=16, codebook_size=32, code_dim=4)
        >>> model.bottleneck.groups, model.sample(2).shape
        (4, torch.Size([2, 1, 28, 28]))
    """
    kwargs = {
        "codebook_size": codebook_size,
        "code_dim": code_dim,
        "commitment_weight": commitment_weight,
        "ema": ema,
        "reinit_dead": reinit_dead,
    }
    return _backbone(encoder, input_shape, h, hidden, channels, z, "vq", kwargs)


@models.register("cvae", aliases=("conditional_vae",))
def cvae(
    h: int = 400,
    z: int = 20,
    num_classes: int = 10,
    embedding: int | None = None,
    encoder: str = "mlp",
    hidden: Sequence[int] | None = None,
    channels: Sequence[int] = (16, 32),
    input_shape: Sequence[int] = MNIST_SHAPE,
) -> Autoencoder:
    """Conditional VAE (Sohn et al. 2015): encoder and decoder both see the class label.

    A :class:`~autoencoders.blocks.LabelCondition` turns the label ``y`` into a one-hot
    vector (or a learned embedding of size ``embedding``), appended to the input pixels (the
    dense encoder's first layer sees it), to the encoder's features before the Gaussian
    bottleneck and to the code before the decoder; the conv encoder is left as it is and the
    label joins its features. With the prior
    ``N(0, I)`` for every class, per sample::

        loss = -E_q(z|x,y)[log p(x|z,y)] + KL(q(z|x,y) || N(0, I))

    The labels come with the data: train on ``(x, y)`` items (the dataset loaders give them)
    and the Trainer passes them on; generate a chosen class with
    ``model.sample(n, labels=y)``.

    Args:
        h: hidden size of the dense backbone.
        z: code size.
        num_classes: the number of classes (labels ``0 ... num_classes-1``).
        embedding: the size of a learned label embedding; None for one-hot.
        encoder: ``"mlp"`` or ``"conv"``.
        hidden: several hidden sizes instead of ``h``.
        channels: the conv backbone's channels.
        input_shape: shape of one input.

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("cvae", h=32, z=4)
        >>> out = model(torch.rand(3, 1, 28, 28), labels=torch.tensor([0, 5, 9]))
        >>> out.kl.shape, model.sample(2, labels=7).shape
        (torch.Size([3]), torch.Size([2, 1, 28, 28]))
    """
    condition = {"name": "label", "num_classes": num_classes, "embedding": embedding}
    return _backbone(encoder, input_shape, h, hidden, channels, z, "gaussian", condition=condition)


@models.register("sparse_ae", aliases=("sparse",))
def sparse_ae(
    h: int = 400,
    z: int = 64,
    rho: float = 0.05,
    weight: float = 1.0,
    kind: str = "kl",
    encoder: str = "mlp",
    hidden: Sequence[int] | None = None,
    channels: Sequence[int] = (16, 32),
    input_shape: Sequence[int] = MNIST_SHAPE,
) -> Autoencoder:
    """Sparse autoencoder: a sigmoid code whose units are on a fraction ``rho`` of the time.

    Per batch, with ``rho_hat_j`` the batch's mean activation of code unit ``j``::

        loss = recon + weight * sum_j KL(rho || rho_hat_j)      (kind="kl")
        loss = recon + weight * sum_j |z_j|                     (kind="l1", per sample)

    The regularizer (:class:`~autoencoders.blocks.SparsityRegularizer`) reports the mean
    activation as ``code_mean``.

    Args:
        h: hidden size of the dense backbone.
        z: code size.
        rho: the target mean activation, in (0, 1).
        weight: the penalty's weight.
        kind: ``"kl"`` or ``"l1"``.
        encoder: ``"mlp"`` or ``"conv"``.
        hidden: several hidden sizes instead of ``h``.
        channels: the conv backbone's channels.
        input_shape: shape of one input.

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("sparse_ae", h=32, z=8, rho=0.1)
        >>> sorted(model(torch.rand(4, 1, 28, 28)).terms)
        ['sparsity']
    """
    model = _backbone(
        encoder, input_shape, h, hidden, channels, z, "deterministic", {"activation": "sigmoid"}
    )
    model.regularizers.append(regularizers.build("sparsity", kind=kind, rho=rho, weight=weight))
    return model


@models.register("contractive_ae", aliases=("cae", "contractive"))
def contractive_ae(
    h: int = 400,
    z: int = 20,
    weight: float = 0.1,
    activation: str = "sigmoid",
    encoder: str = "mlp",
    hidden: Sequence[int] | None = None,
    channels: Sequence[int] = (16, 32),
    input_shape: Sequence[int] = MNIST_SHAPE,
) -> Autoencoder:
    """Contractive autoencoder (Rifai et al. 2011): the code changes little near the data.

    Per sample, with ``f`` the encoder and code layer::

        loss = recon + weight * ||J_f(x)||_F^2

    computed exactly (:func:`~autoencoders.blocks.jacobian_frobenius`, about ``z`` backward
    passes of the encoder). The paper's encoder is one sigmoid layer; ``activation`` sets the
    hidden layers' (sigmoid by default, as there). The mean norm is logged as
    ``jacobian_norm``.

    Args:
        h: hidden size of the dense backbone.
        z: code size.
        weight: ``lambda``, the penalty's weight.
        activation: hidden activation.
        encoder: ``"mlp"`` or ``"conv"``.
        hidden: several hidden sizes instead of ``h``.
        channels: the conv backbone's channels.
        input_shape: shape of one input.

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("contractive_ae", h=32, z=4)
        >>> sorted(model(torch.rand(2, 1, 28, 28)).stats)
        ['jacobian_norm']
    """
    model = _backbone(
        encoder, input_shape, h, hidden, channels, z, "deterministic", activation=activation
    )
    model.regularizers.append(regularizers.build("contractive", weight=weight))
    return model
