"""The :class:`Autoencoder`: Encoder -> Bottleneck -> Decoder, plus an optional corruption."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from autoencoders._inputs import code_input, model_input
from autoencoders.blocks.base import (
    Block,
    Bottleneck,
    BottleneckOutput,
    Decoder,
    Encoder,
    Regularizer,
    build_part,
    spec_of,
    to_jsonable,
)
from autoencoders.blocks.conditions import check_labels
from autoencoders.blocks.layers import apply_output_activation, positive_int
from autoencoders.errors import InvalidTypeError, InvalidValueError
from autoencoders.registry import bottlenecks, conditions, decoders, encoders, noise, regularizers

__all__ = ["FORMAT_VERSION", "Autoencoder", "AutoencoderOutput"]

#: Version of the config.json layout written by :meth:`Autoencoder.config`.
FORMAT_VERSION = 1


@dataclass
class AutoencoderOutput:
    """What :meth:`Autoencoder.forward` returns.

    Attributes:
        logits: decoder output before the output activation, ``(B, *input_shape)``, or
            ``(k, B, *input_shape)`` when the bottleneck drew ``k`` codes per input.
        z: latent code ``(B, Z)`` (a sample in training mode for Gaussian models), or
            ``(k, B, Z)`` for ``k`` draws per input.
        output_activation: name of the activation that maps logits to data space.
        mean: posterior mean (Gaussian bottleneck only).
        logvar: posterior log-variance (Gaussian bottleneck only).
        kl: per-sample KL divergence to the prior, float32 ``(B,)`` (Gaussian only).
        corrupted: the corrupted input the encoder saw, when a noise transform was applied.
        terms: the blocks' own loss terms, by name, already weighted (the bottleneck's and
            the regularizers'): each ``(B,)`` or a batch-level scalar. Every built-in loss
            adds them (:func:`autoencoders.losses.add_block_terms`).
        stats: the blocks' statistics, by name (scalars), logged beside the loss.

    Example:
        >>> import autoencoders
        >>> out = autoencoders.build("vae", h=32, z=4)(torch.rand(3, 1, 28, 28))
        >>> out.logits.shape, out.z.shape, out.kl.shape, out.corrupted is None
        (torch.Size([3, 1, 28, 28]), torch.Size([3, 4]), torch.Size([3]), True)
        >>> torch.equal(out.recon, torch.sigmoid(out.logits))
        True
    """

    logits: torch.Tensor
    z: torch.Tensor
    output_activation: str
    mean: torch.Tensor | None = None
    logvar: torch.Tensor | None = None
    kl: torch.Tensor | None = None
    corrupted: torch.Tensor | None = None
    terms: dict[str, torch.Tensor] = field(default_factory=dict)
    stats: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def recon(self) -> torch.Tensor:
        """The reconstruction in data space, the output activation applied to ``logits``."""
        return apply_output_activation(self.logits, self.output_activation)


def _loss_spec(loss: Any) -> dict[str, Any] | None:
    """``{"name": str, "kwargs": dict}`` (JSON) from what ``Autoencoder(loss=...)`` was given."""
    if loss is None:
        return None
    if isinstance(loss, str):
        loss = {"name": loss}
    if not isinstance(loss, dict) or not isinstance(loss.get("name"), str):
        raise InvalidValueError(
            f"loss must be a registered loss name or {{'name': ..., 'kwargs': {{...}}}}, "
            f"got {loss!r}"
        )
    unknown = set(loss) - {"name", "kwargs"}
    if unknown:
        raise InvalidValueError(
            f"loss spec has unknown keys {sorted(unknown)}; accepted: name, kwargs"
        )
    kwargs = loss.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise InvalidValueError(f"loss kwargs must be a dict, got {kwargs!r}")
    return to_jsonable({"name": loss["name"], "kwargs": dict(kwargs)}, "loss spec")


@functools.cache
def _takes_draw_keywords(bottleneck_type: type) -> bool:
    """Whether ``bottleneck_type.forward`` accepts ``sample=`` and ``generator=``."""
    try:
        params = inspect.signature(bottleneck_type.forward).parameters
    except (TypeError, ValueError):
        return False
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return True
    return {"sample", "generator"} <= set(params)


class Autoencoder(nn.Module):
    """An autoencoder made of registered blocks.

    ``forward(x)`` corrupts ``x`` with the noise transform (training mode only), encodes it,
    passes the features through the bottleneck and decodes ``z`` to logits. A conditional
    model (one with a ``condition``) takes ``labels=`` in every method that encodes, decodes
    or samples: the condition's vector is appended to the encoder's features and to the code.

    Args:
        encoder: maps ``(B, *input_shape)`` to ``(B, F)``.
        bottleneck: maps ``(B, F)`` to ``z`` (deterministic or Gaussian).
        decoder: maps ``(B, Z)`` to logits ``(B, *input_shape)``.
        noise: optional corruption applied to the encoder's input in training mode.
        regularizers: penalties on the code or the encoder (:class:`~autoencoders.blocks.Regularizer`),
            whose terms go on the output beside the bottleneck's.
        condition: what a conditional model sees beside ``x``
            (:class:`~autoencoders.blocks.Condition`, e.g. a one-hot class label of size
            ``E``): the bottleneck then takes ``F + E`` features and the decoder ``Z + E``.
        architecture: optional ``{"name": ..., "kwargs": ...}`` of the named architecture it was
            built from; informational (saved in the config, shown by the CLI).
        loss: optional ``{"name": ..., "kwargs": ...}`` of the registered loss the model is
            meant to be trained with (a beta-VAE's weighted ELBO); saved in the config and
            used by :func:`autoencoders.losses.default_loss`. None: the loss follows the
            bottleneck (ELBO for a Gaussian one, reconstruction otherwise).

    Example:
        >>> from autoencoders.blocks import MLPEncoder, GaussianBottleneck, MLPDecoder
        >>> enc = MLPEncoder(input_shape=(1, 28, 28), hidden=(400,))
        >>> model = Autoencoder(enc, GaussianBottleneck(enc.out_features, z=20),
        ...                     MLPDecoder(z=20, output_shape=(1, 28, 28), hidden=(400,)))
        >>> out = model(torch.rand(4, 1, 28, 28))
        >>> out.logits.shape, out.z.shape, out.kl.shape
        (torch.Size([4, 1, 28, 28]), torch.Size([4, 20]), torch.Size([4]))
        >>> model.sample(2).shape
        torch.Size([2, 1, 28, 28])
    """

    def __init__(
        self,
        encoder: Encoder,
        bottleneck: Bottleneck,
        decoder: Decoder,
        noise: nn.Module | None = None,
        regularizers: Sequence[Regularizer] | None = None,
        *,
        condition: Block | None = None,
        architecture: dict[str, Any] | None = None,
        loss: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        for what, mod in (("encoder", encoder), ("bottleneck", bottleneck), ("decoder", decoder)):
            if not isinstance(mod, nn.Module):
                raise InvalidTypeError(f"{what} must be an nn.Module, got {type(mod).__name__}")
        if condition is not None and not isinstance(condition, nn.Module):
            raise InvalidTypeError(
                f"condition must be an nn.Module, got {type(condition).__name__}"
            )
        e = int(getattr(condition, "out_features", 0)) if condition is not None else 0
        plus = f" + {e} (the condition)" if e else ""
        e_in = int(getattr(encoder, "condition_features", 0) or 0)
        if e_in and e_in != e:
            raise InvalidValueError(
                f"the encoder takes a condition of {e_in} features at its input, but the "
                f"model's condition gives {e or 'none'}; build the encoder with "
                f"condition_features={e}"
            )
        f_enc = getattr(encoder, "out_features", None)
        f_bn = getattr(bottleneck, "in_features", None)
        if f_enc is not None and f_bn is not None and f_enc + e != f_bn:
            raise InvalidValueError(
                f"encoder outputs {f_enc}{plus} features but the bottleneck expects {f_bn}; "
                f"build the bottleneck with in_features={f_enc + e}"
            )
        z_bn, z_dec = getattr(bottleneck, "z_dim", None), getattr(decoder, "z_dim", None)
        if z_bn is not None and z_dec is not None and z_bn + e != z_dec:
            raise InvalidValueError(
                f"bottleneck z={z_bn}{plus} but decoder z={z_dec}; build the decoder with "
                f"z={z_bn + e}"
            )
        in_shape = getattr(encoder, "input_shape", None)
        out_shape = getattr(decoder, "output_shape", None)
        if in_shape is not None and out_shape is not None and tuple(in_shape) != tuple(out_shape):
            raise InvalidValueError(
                f"encoder input_shape {tuple(in_shape)} differs from decoder output_shape "
                f"{tuple(out_shape)}; an autoencoder reconstructs its input"
            )
        self.encoder = encoder
        self.bottleneck = bottleneck
        self.decoder = decoder
        self.noise = noise
        regs = list(regularizers or [])
        for reg in regs:
            if not isinstance(reg, nn.Module):
                raise InvalidTypeError(f"regularizers must be nn.Modules, got {type(reg).__name__}")
        self.regularizers = nn.ModuleList(regs)
        self.condition = condition
        self.architecture = dict(architecture) if architecture else None
        self.loss_spec = _loss_spec(loss)

    # -- properties ---------------------------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input (without the batch dimension)."""
        return tuple(self.decoder.output_shape)

    @property
    def z_dim(self) -> int:
        """Latent size."""
        return int(self.bottleneck.z_dim)

    @property
    def is_variational(self) -> bool:
        """Whether the bottleneck is Gaussian (the model is a VAE and can :meth:`sample`)."""
        return bool(getattr(self.bottleneck, "is_gaussian", False))

    @property
    def can_sample(self) -> bool:
        """Whether the bottleneck has a prior to draw codes from, so :meth:`sample` works."""
        return bool(getattr(self.bottleneck, "has_prior", False) or self.is_variational)

    @property
    def takes_labels(self) -> bool:
        """Whether the model is conditional: it takes ``labels=`` (a class per sample)."""
        return self.condition is not None

    @property
    def num_classes(self) -> int | None:
        """The number of classes a conditional model knows (None for other models)."""
        return None if self.condition is None else int(self.condition.num_classes)

    def condition_vectors(
        self, labels: Any, n: int, method: str = "Autoencoder.condition_vectors"
    ) -> torch.Tensor | None:
        """The condition's vectors ``(n, E)`` for ``labels`` (one class per sample, or one int
        for all ``n``), or None for a model without a condition; what the model appends to the
        encoder's features and to the code. ``method`` names the caller in errors.

        Raises:
            TypeError: labels for a model that is not conditional, or labels of a wrong type.
            ValueError: no labels for a conditional model, or labels out of range.

        Example:
            >>> import autoencoders
            >>> cvae = autoencoders.build("cvae", h=8, z=2, num_classes=3)
            >>> cvae.condition_vectors([2, 0], 2).tolist()
            [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
            >>> autoencoders.build("vae").condition_vectors(None, 2) is None
            True
        """
        if self.condition is None:
            if labels is not None:
                raise InvalidTypeError(
                    f"{method} got labels, but model {self.name or 'Autoencoder'!r} is not "
                    "conditional; labels are for models with a condition, e.g. build('cvae')"
                )
            return None
        if labels is None:
            raise InvalidValueError(
                f"{method} needs labels= (one class in 0 ... {self.num_classes - 1} per "
                "sample): the model is conditional"
            )
        labels = check_labels(labels, self.condition.num_classes, n, method)
        p = next(self.parameters(), None)
        return self.condition(labels.to(p.device if p is not None else "cpu"))

    def _decode_logits(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """The decoder on ``z`` ``(B, Z)`` or ``(k, B, Z)``, with the condition appended."""
        if z.dim() == 3:  # k codes per input (an importance-weighted bottleneck)
            k, n = z.shape[:2]
            if c is not None:
                z = torch.cat([z, c.to(z.dtype).expand(k, -1, -1)], dim=2)
            return self.decoder(z.reshape(k * n, -1)).reshape(k, n, *self.input_shape)
        if c is not None:
            z = torch.cat([z, c.to(z.dtype)], dim=1)
        return self.decoder(z)

    @property
    def output_activation(self) -> str:
        """Name of the decoder's output activation (sigmoid, tanh, identity or relu)."""
        return str(self.decoder.output_activation)

    @property
    def pixel_range(self) -> tuple[float, float]:
        """The range of the data the model reconstructs: ``(-1, 1)`` for tanh, else ``(0, 1)``.

        Sigmoid models (trained with BCE) take data in [0, 1]; tanh models (the face VAE) take
        [-1, 1]. Identity and ReLU outputs are given [0, 1], the range of the image datasets.
        Data loaders, metrics and plots all ask the model, so the rule lives here only.

        Example:
            >>> import autoencoders
            >>> autoencoders.build("vae", h=8, z=2).pixel_range
            (0.0, 1.0)
            >>> autoencoders.build("conv_vae").pixel_range
            (-1.0, 1.0)
        """
        return (-1.0, 1.0) if self.output_activation == "tanh" else (0.0, 1.0)

    @property
    def name(self) -> str | None:
        """The registered architecture name it was built from, if any."""
        return self.architecture["name"] if self.architecture else None

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of parameters (optionally only those with ``requires_grad``)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # -- computation --------------------------------------------------------------------------
    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Apply the noise transform (whatever the mode); ``x`` itself when there is none."""
        if self.noise is None:
            return x
        return self.noise(x, generator=generator)

    def _check_input(self, x: torch.Tensor, method: str) -> torch.Tensor:
        """``x`` checked and converted by the rules of :mod:`autoencoders._inputs`."""
        shape = getattr(self.encoder, "input_shape", None)
        return model_input(self, x, method, shape, self.pixel_range)

    def forward(
        self,
        x: torch.Tensor,
        *,
        labels: Any = None,
        sample: bool | None = None,
        corrupt: bool | None = None,
        generator: torch.Generator | None = None,
    ) -> AutoencoderOutput:
        """Corrupt (training only), encode, bottleneck, decode.

        Args:
            x: a batch ``(N, *input_shape)``.
            labels: a conditional model's class per sample ``(N,)`` (an int: one for all);
                only for models that :attr:`takes_labels`.
            corrupt: apply the noise transform (True) or not (False) whatever the mode; None
                (default) corrupts in training mode only.
            sample: for a Gaussian bottleneck, draw ``z`` (True) or use the mean (False)
                whatever the mode; None (default) samples in training mode only. Evaluating
                the training objective as trained uses ``sample=True`` in eval mode. A
                bottleneck whose ``forward`` takes only ``h`` (no ``sample``/``generator``
                keywords) is called as ``bottleneck(h)`` and draws as its mode says.
            generator: the generator of the corruption's and the bottleneck's draws, in that
                order (reproducible evaluation).

        Raises:
            InvalidInputError: ``x`` is not a batch of shape ``(N, *input_shape)``, or is on
                another device (uint8 images are scaled to :attr:`pixel_range`, other float
                dtypes cast; see :mod:`autoencoders.errors`).
            InputTypeError: ``x`` is not a tensor, or of an integer dtype other than uint8.

        Example:
            >>> import autoencoders
            >>> vae = autoencoders.build("vae", h=16, z=2).eval()
            >>> x = torch.rand(3, 1, 28, 28)
            >>> a = vae(x, sample=True, generator=torch.Generator().manual_seed(0)).z
            >>> b = vae(x, sample=True, generator=torch.Generator().manual_seed(0)).z
            >>> torch.equal(a, b), torch.equal(vae(x).z, vae(x).mean)
            (True, True)
        """
        x = self._check_input(x, "Autoencoder.forward")
        c = self.condition_vectors(labels, len(x), "Autoencoder.forward")
        corrupted = None
        if corrupt is None:
            corrupt = self.training
        if corrupt and self.noise is not None:
            corrupted = self.noise(x) if generator is None else self.noise(x, generator=generator)
            x = corrupted
        h = self._encoder_features(x, c)
        if (sample is not None or generator is not None) and _takes_draw_keywords(
            type(self.bottleneck)
        ):
            b = self.bottleneck(h, sample=sample, generator=generator)
        else:  # a bottleneck whose forward takes only h draws as its mode says
            b = self.bottleneck(h)
        terms, stats = dict(b.terms), dict(b.stats)
        code = self._code if c is None else functools.partial(self._code, labels=labels)
        for reg in self.regularizers:
            r = reg(x, b.z, code)
            for what, mine, theirs in (("term", terms, r.terms), ("statistic", stats, r.stats)):
                for key, value in theirs.items():
                    if key in mine:
                        raise InvalidValueError(
                            f"two blocks report a {what} named {key!r}; give one of them "
                            "another name"
                        )
                    mine[key] = value
        logits = self._decode_logits(b.z, c)
        return AutoencoderOutput(
            logits=logits,
            z=b.z,
            output_activation=self.output_activation,
            mean=b.mean,
            logvar=b.logvar,
            kl=b.kl,
            corrupted=corrupted,
            terms=terms,
            stats=stats,
        )

    def _code(self, x: torch.Tensor, labels: Any = None) -> torch.Tensor:
        """``x -> z`` through the encoder and the bottleneck, without drawing: the function
        a regularizer differentiates (the posterior mean for a Gaussian bottleneck)."""
        h = self._features(x, labels, "Autoencoder.encode")
        if _takes_draw_keywords(type(self.bottleneck)):
            b = self.bottleneck(h, sample=False)
        else:
            b = self.bottleneck(h)
        return b.mean if b.mean is not None else b.z

    def _features(self, x: torch.Tensor, labels: Any, method: str) -> torch.Tensor:
        """The bottleneck's input for ``x`` and ``labels``."""
        return self._encoder_features(x, self.condition_vectors(labels, len(x), method))

    def _encoder_features(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """The encoder's features with the condition appended (and given to an encoder that
        takes it at its input, one with ``condition_features``)."""
        if c is None:
            return self.encoder(x)
        if getattr(self.encoder, "condition_features", 0):
            h = self.encoder(x, condition=c)
        else:
            h = self.encoder(x)
        return torch.cat([h, c.to(h.dtype)], dim=1)

    def encode_output(self, x: torch.Tensor, labels: Any = None) -> BottleneckOutput:
        """Encode without corruption and return the full bottleneck output (z, mean, ...)."""
        x = self._check_input(x, "Autoencoder.encode")
        return self.bottleneck(self._features(x, labels, "Autoencoder.encode"))

    def encode(self, x: torch.Tensor, labels: Any = None) -> torch.Tensor:
        """Latent codes ``(B, Z)`` of a clean batch: the posterior mean for Gaussian models
        (``labels``: a conditional model's class per sample)."""
        b = self.encode_output(x, labels)
        return b.mean if b.mean is not None else b.z

    def decode(self, z: torch.Tensor, labels: Any = None) -> torch.Tensor:
        """Decoder logits for latent codes ``z`` (apply :attr:`output_activation` for images);
        ``labels``: a conditional model's class per code.

        Raises:
            InvalidInputError: ``z`` is not of shape ``(N, z_dim)`` or on another device.
            InputTypeError: ``z`` is not a floating-point tensor.
        """
        z = code_input(self, z, "Autoencoder.decode", self.z_dim)
        return self._decode_logits(z, self.condition_vectors(labels, len(z), "Autoencoder.decode"))

    def reconstruct(self, x: torch.Tensor, labels: Any = None) -> torch.Tensor:
        """Deterministic reconstruction in data space (no corruption, posterior mean);
        ``labels``: a conditional model's class per sample."""
        z = self.encode(x, labels)
        return apply_output_activation(self.decode(z, labels), self.output_activation)

    def sample(
        self,
        n: int,
        *,
        labels: Any = None,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Generate ``n`` outputs in data space by decoding draws from the bottleneck's prior
        (VAEs, WAEs, VQ-VAEs: see :attr:`can_sample`).

        ``labels``: for a conditional model, the class to generate, one int for all or one
        per sample (``torch.arange(n) % model.num_classes`` for every class in turn).

        Example:
            >>> import autoencoders
            >>> cvae = autoencoders.build("cvae", h=16, z=2, num_classes=10)
            >>> cvae.sample(4, labels=torch.tensor([0, 1, 2, 3])).shape
            torch.Size([4, 1, 28, 28])
        """
        positive_int(n, "number of samples")
        if not self.can_sample:
            raise InvalidTypeError(
                f"model {self.name or type(self.bottleneck).__name__!r} has a deterministic "
                "bottleneck; sampling needs one with a prior (e.g. autoencoders.build('vae'), "
                "'wae_mmd' or 'vq_vae')"
            )
        c = self.condition_vectors(labels, n, "Autoencoder.sample")
        z = self.bottleneck.sample_prior(n, generator=generator, device=device)
        return apply_output_activation(self._decode_logits(z, c), self.output_activation)

    # -- configuration ------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        """A JSON-serialisable description that :meth:`from_config` rebuilds the model from.

        Example:
            >>> import autoencoders
            >>> cfg = autoencoders.build("linear_ae", z=2).config
            >>> cfg["encoder"], cfg["bottleneck"]["name"], cfg["architecture"]["name"]
            ({'name': 'mlp', 'kwargs': {'input_shape': [1, 28, 28], 'hidden': [], 'activation': 'none', 'dropout': 0.0, 'batch_norm': False, 'condition_features': 0}}, 'deterministic', 'linear_ae')
        """
        cfg: dict[str, Any] = {"format_version": FORMAT_VERSION}
        cfg["architecture"] = self.architecture
        if self.loss_spec is not None:
            cfg["loss"] = self.loss_spec
        parts = (
            ("encoder", self.encoder, "encoder"),
            ("bottleneck", self.bottleneck, "bottleneck"),
            ("decoder", self.decoder, "decoder"),
            ("noise", self.noise, "noise transform"),
        )
        for key, module, kind in parts:
            if module is None:
                cfg[key] = None
                continue
            spec = spec_of(module, kind)
            cfg[key] = {
                "name": spec.name,
                "kwargs": to_jsonable(spec.kwargs, f"{kind} {spec.name!r}"),
            }
        if self.condition is not None:
            spec = spec_of(self.condition, "condition")
            kwargs = to_jsonable(spec.kwargs, f"condition {spec.name!r}")
            cfg["condition"] = {"name": spec.name, "kwargs": kwargs}
        if len(self.regularizers):
            cfg["regularizers"] = []
            for reg in self.regularizers:
                spec = spec_of(reg, "regularizer")
                kwargs = to_jsonable(spec.kwargs, f"regularizer {spec.name!r}")
                cfg["regularizers"].append({"name": spec.name, "kwargs": kwargs})
        return to_jsonable(cfg, "model config")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Autoencoder:
        """Rebuild a model (fresh weights) from :attr:`config`, through the registries.

        Raises:
            ValueError: on a malformed config, an unsupported format version, or a block name
                that no installed package registers.
        """
        if not isinstance(config, dict):
            raise InvalidValueError(f"model config must be a dict, got {type(config).__name__}")
        version = config.get("format_version")
        if version != FORMAT_VERSION:
            raise InvalidValueError(
                f"unsupported model config format_version {version!r}; this version of "
                f"autoencoders reads format_version {FORMAT_VERSION}"
            )
        built: dict[str, Any] = {}
        for key, registry in (
            ("encoder", encoders),
            ("bottleneck", bottlenecks),
            ("decoder", decoders),
            ("noise", noise),
        ):
            part = config.get(key)
            if part is None and key != "noise":
                raise InvalidValueError(f"model config has no {key!r} entry")
            built[key] = None if part is None else build_part(registry, key, part)
        regs = config.get("regularizers")
        regs = [] if regs is None else regs
        if not isinstance(regs, list):
            raise InvalidValueError(f"config['regularizers'] must be a list, got {regs!r}")
        built_regs = [
            build_part(regularizers, f"regularizers[{i}]", part) for i, part in enumerate(regs)
        ]
        cond = config.get("condition")
        arch = config.get("architecture")
        if arch is not None and not (isinstance(arch, dict) and isinstance(arch.get("name"), str)):
            raise InvalidValueError(
                f"config['architecture'] must be {{'name': ..., ...}}, got {arch!r}"
            )
        return cls(
            built["encoder"],
            built["bottleneck"],
            built["decoder"],
            built["noise"],
            built_regs,
            condition=None if cond is None else build_part(conditions, "condition", cond),
            architecture=arch,
            loss=config.get("loss"),
        )

    def extra_repr(self) -> str:
        name = f"name={self.name!r}, " if self.name else ""
        classes = f", classes={self.num_classes}" if self.condition is not None else ""
        return (
            f"{name}input_shape={self.input_shape}, z={self.z_dim}{classes}, "
            f"variational={self.is_variational}, output_activation={self.output_activation!r}"
        )
