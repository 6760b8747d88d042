"""Base classes of blocks: configuration capture and the three block contracts.

A block's configuration is the keyword arguments it was constructed with. Subclasses of
:class:`Block` record them automatically (like ``huggingface_hub``'s mixins), so a model made of
registered blocks can be written as JSON and rebuilt through the registries, with no pickle.
"""

from __future__ import annotations

import functools
import inspect
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from autoencoders.errors import (
    GENERIC_ERRORS,
    AutoencodersError,
    InvalidTypeError,
    InvalidValueError,
)
from autoencoders.registry import BUILT_BY, Registry, registry_for

__all__ = [
    "BUILT_BY",
    "Block",
    "BlockSpec",
    "Bottleneck",
    "BottleneckOutput",
    "Decoder",
    "Encoder",
    "Regularizer",
    "RegularizerOutput",
    "build_part",
    "built_by",
    "spec_of",
    "to_jsonable",
]


@dataclass(frozen=True)
class BlockSpec:
    """A registered block's name and its JSON-serialisable constructor keywords.

    Example:
        >>> BlockSpec("mlp", {"hidden": [400]}).to_dict()
        {'name': 'mlp', 'kwargs': {'hidden': [400]}}
    """

    name: str
    kwargs: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kwargs": dict(self.kwargs)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BlockSpec:
        if not isinstance(data, dict) or "name" not in data:
            raise InvalidValueError(
                f"a block spec must be a dict with 'name' and 'kwargs', got {data!r}"
            )
        return cls(str(data["name"]), dict(data.get("kwargs") or {}))


# The one record of how an object is rebuilt, ``obj.__dict__[BUILT_BY] = (builder, kwargs)``,
# written by Block's constructor (builder: the class) and by Registry.build (builder: the
# registered factory); spec_of turns it into a name through the registry.


def built_by(obj: Any) -> tuple[Any, dict[str, Any]] | None:
    """``(builder, kwargs)`` recorded when ``obj`` was built, or None.

    Example:
        >>> from autoencoders.blocks import MLPEncoder
        >>> builder, kwargs = built_by(MLPEncoder(input_shape=(1, 2, 2), hidden=[3]))
        >>> builder is MLPEncoder, kwargs["hidden"]
        (True, [3])
    """
    return getattr(obj, "__dict__", {}).get(BUILT_BY)


def _capture_init(init: Any) -> Any:
    sig = inspect.signature(init)

    @functools.wraps(init)
    def wrapped(self: Any, *args: Any, **kwargs: Any) -> None:
        # the outermost (most derived) __init__ records; calls to super().__init__ don't
        if BUILT_BY not in self.__dict__:
            bound = sig.bind(self, *args, **kwargs)
            bound.apply_defaults()
            recorded: dict[str, Any] = {}
            for pname, value in list(bound.arguments.items())[1:]:
                kind = sig.parameters[pname].kind
                if kind is inspect.Parameter.VAR_KEYWORD:
                    recorded.update(value)
                elif kind is inspect.Parameter.VAR_POSITIONAL:
                    if value:
                        raise InvalidTypeError(
                            f"{type(self).__name__} takes *args, which cannot be saved in a "
                            "config; give its arguments by keyword"
                        )
                else:
                    recorded[pname] = value
            object.__setattr__(self, BUILT_BY, (type(self), recorded))
        init(self, *args, **kwargs)

    return wrapped


def to_jsonable(value: Any, where: str) -> Any:
    """``value`` as JSON would give it back (lists for tuples), or a TypeError naming ``where``.

    Example:
        >>> to_jsonable({"hidden": (400,)}, "encoder 'mlp'")
        {'hidden': [400]}
    """
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise InvalidTypeError(
            f"{where} is not JSON-serialisable ({exc}); block arguments must be numbers, "
            "strings, booleans, None, lists or dicts of them"
        ) from None


class Block(nn.Module):
    """An ``nn.Module`` that remembers how it was built: its class and keyword arguments.

    Constructing a block records ``(class, kwargs)`` (see :func:`built_by`); the registry
    maps the class back to its name when the block is saved (:func:`spec_of`).
    """

    #: The registry kind used to look up the name of a class (``"encoder"``, ``"bottleneck"``, ...).
    registry_kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "__wrapped_block_init__", False):
            wrapped = _capture_init(init)
            wrapped.__wrapped_block_init__ = True  # type: ignore[attr-defined]
            cls.__init__ = wrapped  # type: ignore[method-assign]

    @property
    def config(self) -> dict[str, Any]:
        """The constructor keywords of this block (a copy)."""
        record = built_by(self)
        return dict(record[1]) if record else {}


def build_part(registry: Registry[Any], field: str, part: Any) -> Any:
    """Build one part of a model config, ``{"name": ..., "kwargs": {...}}``, through
    ``registry``; every failure is an error naming the field.

    A config is data (possibly from an untrusted folder): a malformed entry, a name nothing
    registers, a keyword the block does not take or a value of the wrong type all raise a
    :class:`ValueError` (or the registry's own error) that says which field was at fault.

    Example:
        >>> from autoencoders.registry import encoders
        >>> build_part(encoders, "encoder", {"name": "mlp", "kwargs": {"hidden": [8]}}).out_features
        8
        >>> build_part(encoders, "encoder", {"name": "mlp", "kwargs": {"hidden": "many"}})
        Traceback (most recent call last):
          ...
        autoencoders.errors.InvalidValueError: config['encoder']: cannot build encoder 'mlp' from kwargs {'hidden': 'many'}: ...
    """
    if not isinstance(part, dict) or not isinstance(part.get("name"), str):
        raise InvalidValueError(
            f"config[{field!r}] must be {{'name': ..., 'kwargs': ...}}, got {part!r}"
        )
    unknown = sorted(set(part) - {"name", "kwargs"})
    if unknown:
        raise InvalidValueError(
            f"config[{field!r}] has unknown keys {unknown}; accepted: name, kwargs"
        )
    kwargs = part.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise InvalidValueError(f"config[{field!r}]['kwargs'] must be a dict, got {kwargs!r}")
    try:
        return registry.build(part["name"], **kwargs)
    except Exception as exc:  # any failure of a block built from file data
        if isinstance(exc, AutoencodersError) and type(exc) not in GENERIC_ERRORS:
            raise  # already names the block, the keyword and what exists
        raise InvalidValueError(
            f"config[{field!r}]: cannot build {registry.kind} {part['name']!r} from kwargs "
            f"{kwargs!r}: {type(exc).__name__}: {exc}"
        ) from exc


def spec_of(module: nn.Module, kind: str) -> BlockSpec:
    """The :class:`BlockSpec` that rebuilds ``module`` through the ``kind`` registry.

    The name is whatever the ``kind`` registry holds the recorded builder under (the block's
    class, or the factory it was built by); an unregistered subclass of a registered class
    has no name.

    Raises:
        TypeError: if the builder is not registered as a ``kind``, or the module was not
            built in a way that recorded its keyword arguments.

    Example:
        >>> import autoencoders
        >>> spec_of(autoencoders.build("vae", h=8, z=2).bottleneck, "bottleneck")
        BlockSpec(name='gaussian', kwargs={'in_features': 8, 'z': 2, 'sample_in_eval': False,
        'samples': 1})
    """
    record = built_by(module)
    if record is None:
        raise InvalidTypeError(
            f"{type(module).__name__} did not record its constructor arguments; subclass "
            f"autoencoders.blocks.Block (or Encoder/Bottleneck/Decoder) so it can be saved"
        )
    builder, kwargs = record
    name = registry_for(kind).name_of(builder)
    if name is None:
        raise InvalidTypeError(
            f"{type(module).__name__} is not a registered {kind}, so it cannot be saved by name. "
            f"Register it with @autoencoders.register_{kind.replace(' transform', '')}('name') "
            f"(or build it through the registry)."
        )
    return BlockSpec(name, dict(kwargs))


class Encoder(Block):
    """Maps ``(B, *input_shape)`` to features ``(B, out_features)``.

    Subclasses set ``self.input_shape`` and ``self.out_features`` in ``__init__``; the
    keyword arguments they were built with are recorded as their :attr:`~Block.config`.

    Example:
        >>> class Flatten(Encoder):
        ...     def __init__(self, input_shape=(1, 4, 4)):
        ...         super().__init__()
        ...         self.input_shape = tuple(input_shape)
        ...         self.out_features = 16
        ...     def forward(self, x):
        ...         return x.flatten(1)
        >>> enc = Flatten(input_shape=[1, 4, 4])
        >>> enc(torch.zeros(2, 1, 4, 4)).shape, enc.config
        (torch.Size([2, 16]), {'input_shape': [1, 4, 4]})
    """

    registry_kind = "encoder"
    input_shape: tuple[int, ...]
    out_features: int
    #: The size ``E`` of the condition vector the encoder takes at its input (a conditional
    #: model's label, one-hot), or 0. An encoder with ``condition_features > 0`` is called as
    #: ``encoder(x, condition=c)`` by a conditional model, so ``q(z | x, y)`` sees the label
    #: from its first layer (the MLP encoder's ``condition_features=``); every other encoder
    #: is called as ``encoder(x)`` and the model appends the condition to its features.
    condition_features: int = 0


@dataclass
class BottleneckOutput:
    """What a bottleneck returns.

    Attributes:
        z: the latent code, ``(B, Z)``.
        mean: posterior mean ``(B, Z)`` (Gaussian bottlenecks only).
        logvar: posterior log-variance ``(B, Z)`` (Gaussian bottlenecks only).
        kl: ``KL(q(z|x) || N(0, I))`` per sample, ``(B,)``, in float32 (Gaussian only).
        terms: the block's own loss terms, by name, already weighted: each a per-sample
            ``(B,)`` tensor or a batch-level scalar. Every built-in loss adds their batch
            means to its total (see :func:`autoencoders.losses.add_block_terms`); a VQ
            bottleneck reports its codebook and commitment terms here.
        stats: numbers to watch, by name (scalars, no gradient), reported beside the loss
            but never added to it: a codebook's perplexity, a code's mean activation.

    Example:
        >>> from autoencoders.blocks import GaussianBottleneck
        >>> out = GaussianBottleneck(in_features=6, z=2).eval()(torch.randn(4, 6))
        >>> out.z.shape, out.kl.shape, torch.equal(out.z, out.mean)  # eval mode: z = mean
        (torch.Size([4, 2]), torch.Size([4]), True)
    """

    z: torch.Tensor
    mean: torch.Tensor | None = None
    logvar: torch.Tensor | None = None
    kl: torch.Tensor | None = None
    terms: dict[str, torch.Tensor] = field(default_factory=dict)
    stats: dict[str, torch.Tensor] = field(default_factory=dict)


class Bottleneck(Block):
    """Maps features ``(B, in_features)`` to a :class:`BottleneckOutput` with ``z`` ``(B, z)``.

    Subclasses set ``self.in_features`` and ``self.z_dim``; Gaussian ones set
    ``is_gaussian = True`` and implement :meth:`sample_prior`. A stochastic bottleneck may
    also take the keywords ``sample: bool | None`` (draw, or not, whatever the mode; None
    follows the mode) and ``generator`` (the source of its draws) in ``forward``, as
    :class:`~autoencoders.blocks.GaussianBottleneck` does: then validation and
    ``Trainer.evaluate`` score it sampled and reproducibly, as it trains. Without them it is
    called as ``forward(h)`` and draws as its mode says.

    Example:
        >>> class FirstHalf(Bottleneck):
        ...     def __init__(self, in_features=8):
        ...         super().__init__()
        ...         self.in_features, self.z_dim = in_features, in_features // 2
        ...     def forward(self, h):
        ...         return BottleneckOutput(z=h[:, : self.z_dim])
        >>> FirstHalf()(torch.ones(3, 8)).z.shape
        torch.Size([3, 4])
    """

    registry_kind = "bottleneck"
    in_features: int
    z_dim: int
    #: whether the bottleneck is stochastic with a N(0, I) prior (a VAE's: ELBO by default)
    is_gaussian: ClassVar[bool] = False
    #: whether :meth:`sample_prior` draws codes (Gaussian, MMD and VQ bottlenecks), so that
    #: :meth:`autoencoders.Autoencoder.sample` can generate
    has_prior: ClassVar[bool] = False

    def sample_prior(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Draw ``n`` latent codes from the prior (bottlenecks with ``has_prior`` only)."""
        raise InvalidTypeError(
            f"{type(self).__name__} is deterministic and has no prior to sample; "
            "use a bottleneck with a prior (e.g. autoencoders.build('vae'), 'wae_mmd' or "
            "'vq_vae')"
        )


class Decoder(Block):
    """Maps ``(B, z)`` to logits ``(B, *output_shape)``; declares ``output_activation``.

    Subclasses set ``self.z_dim``, ``self.output_shape`` and ``self.output_activation``
    (``"sigmoid"``, ``"tanh"``, ``"identity"`` or ``"relu"``) and return logits: the model
    applies the activation in :meth:`~autoencoders.Autoencoder.reconstruct`.

    Example:
        >>> class Linear(Decoder):
        ...     def __init__(self, z=2, output_shape=(1, 4, 4)):
        ...         super().__init__()
        ...         self.z_dim, self.output_shape = z, tuple(output_shape)
        ...         self.output_activation = "sigmoid"
        ...         self.fc = nn.Linear(z, 16)
        ...     def forward(self, z):
        ...         return self.fc(z).reshape(len(z), *self.output_shape)
        >>> Linear()(torch.zeros(5, 2)).shape
        torch.Size([5, 1, 4, 4])
    """

    registry_kind = "decoder"
    z_dim: int
    output_shape: tuple[int, ...]
    output_activation: str


@dataclass
class RegularizerOutput:
    """What a :class:`Regularizer` returns: named loss terms and named statistics.

    Attributes:
        terms: loss terms, already weighted, each per sample ``(B,)`` or a batch-level scalar
            (an MMD between the batch's codes and prior draws is one number per batch).
        stats: scalars to watch (no gradient), reported beside the loss, never added to it.
    """

    terms: dict[str, torch.Tensor] = field(default_factory=dict)
    stats: dict[str, torch.Tensor] = field(default_factory=dict)


class Regularizer(Block):
    """A penalty on what the model computes, added to the training objective by name.

    The model calls ``regularizer(x, z, encode)`` after its bottleneck, with ``x`` the
    encoder's input (corrupted, for a denoising model), ``z`` the code and ``encode`` a
    function ``x -> z`` through the encoder and bottleneck (for penalties on derivatives, such
    as the contractive one), and puts the returned :class:`RegularizerOutput` on its output
    (``output.terms``, ``output.stats``). Losses add the terms without knowing the block
    (see :func:`autoencoders.losses.add_block_terms`); the Trainer logs them like the loss's
    own parts. Regularizers combine with any encoder, bottleneck and decoder.

    Example:
        >>> class CodeL2(Regularizer):
        ...     def __init__(self, weight=0.1):
        ...         super().__init__()
        ...         self.weight = weight
        ...     def forward(self, x, z, encode):
        ...         return RegularizerOutput(terms={"code_l2": self.weight * z.pow(2).sum(1)})
        >>> CodeL2()(torch.ones(2, 4), torch.ones(2, 3), None).terms["code_l2"]
        tensor([0.3000, 0.3000])
    """

    registry_kind = "regularizer"
