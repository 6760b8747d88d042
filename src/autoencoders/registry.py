"""Named registries of builders: one generic :class:`Registry`, one instance per kind.

Every encoder, bottleneck, decoder, architecture, loss and noise transform in the library is
found by name through a registry, and so are the ones users add::

    >>> import autoencoders
    >>> "vae" in autoencoders.models
    True
    >>> autoencoders.models.get("vea")
    Traceback (most recent call last):
      ...
    autoencoders.errors.UnknownNameError: unknown model 'vea'; did you mean 'vae'? ...

Third-party packages can add entries without being imported by hand: they declare an entry point
in the group ``autoencoders.plugins`` whose object is a module (importing it registers its
blocks) or a function taking no arguments (called once). Plugins are loaded lazily, the first
time a name is missing or the names are listed, never at import time. A plugin that fails to
load is reported with a :class:`PluginWarning` naming its distribution, not raised.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import logging
import warnings
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any, Generic, TypeVar, overload

from torch import nn

from autoencoders.errors import (
    DuplicateNameError,
    InvalidTypeError,
    InvalidValueError,
    PluginWarning,
    RegistryError,
    UnknownArgumentError,
    UnknownNameError,
)

__all__ = [
    "PLUGIN_GROUP",
    "DuplicateNameError",
    "PluginWarning",
    "Registry",
    "RegistryError",
    "UnknownArgumentError",
    "UnknownNameError",
    "bottlenecks",
    "conditions",
    "datasets",
    "decoders",
    "encoders",
    "experiments",
    "load_plugins",
    "losses",
    "models",
    "noise",
    "optimizers",
    "priors",
    "registry_for",
    "regularizers",
    "schedulers",
]

logger = logging.getLogger(__name__)

PLUGIN_GROUP = "autoencoders.plugins"

#: Attribute holding ``(builder, kwargs)`` on what a registry built (read by ``spec_of``).
BUILT_BY = "_built_by"

T = TypeVar("T", bound=Callable[..., Any])


_plugins_loaded = False


def load_plugins(*, force: bool = False) -> list[str]:
    """Load every entry point in the ``autoencoders.plugins`` group, once.

    Args:
        force: load again even if plugins were loaded before (useful after installing a
            package in a running interpreter, and in tests).

    Returns:
        The names of the entry points that loaded without error.

    Example:
        >>> from autoencoders.registry import load_plugins
        >>> isinstance(load_plugins(), list)
        True
    """
    global _plugins_loaded
    if _plugins_loaded and not force:
        return []
    _plugins_loaded = True
    loaded: list[str] = []
    for ep in metadata.entry_points(group=PLUGIN_GROUP):
        dist = getattr(getattr(ep, "dist", None), "name", None) or "an unknown distribution"
        try:
            obj = ep.load()
            if callable(obj) and not inspect.isclass(obj) and not inspect.ismodule(obj):
                obj()
        except Exception as exc:  # a broken plugin must not break the library
            warnings.warn(
                f"autoencoders plugin {ep.name!r} ({ep.value}) from distribution {dist!r} "
                f"failed to load: {type(exc).__name__}: {exc}",
                PluginWarning,
                stacklevel=2,
            )
            continue
        logger.debug("loaded autoencoders plugin %s from %s", ep.name, dist)
        loaded.append(ep.name)
    return loaded


def _plural(kind: str) -> str:
    """``kind`` in the plural: ``loss`` -> ``losses``, ``noise transform`` -> ``noise transforms``."""
    return kind + ("es" if kind.endswith(("s", "x", "sh", "ch")) else "s")


def _normalise(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def did_you_mean(word: str, options: list[str], *, dashes: bool = False) -> str:
    """The end of a sentence about ``word``: a close match as a question, else a full stop.

    Args:
        word: what the user wrote (normalised like the options).
        options: the valid names.
        dashes: spell the suggestion with ``-`` instead of ``_``, as the user did (registry
            names are stored with ``_`` and match either).

    Example:
        >>> "unknown optimizer 'adma'" + did_you_mean("adma", ["adam", "sgd"])
        "unknown optimizer 'adma'; did you mean 'adam'?"
        >>> did_you_mean("fashion_mnst", ["fashion_mnist"], dashes=True)
        "; did you mean 'fashion-mnist'?"
        >>> did_you_mean("xyz", ["adam"])
        '.'
    """
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        return "."
    return f"; did you mean {close[0].replace('_', '-') if dashes else close[0]!r}?"


def accepted_parameters(builder: Callable[..., Any]) -> tuple[list[str], bool]:
    """Keyword names a builder accepts, and whether it also takes ``**kwargs``."""
    target = builder.__init__ if inspect.isclass(builder) else builder
    sig = inspect.signature(target)
    names: list[str] = []
    var_kw = False
    params = list(sig.parameters.values())
    if inspect.isclass(builder) and params:
        params = params[1:]  # self
    for p in params:
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            var_kw = True
        elif p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            names.append(p.name)
    return names, var_kw


def check_kwargs(what: str, builder: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    """Raise :class:`UnknownArgumentError` for keywords the builder does not take.

    The message names each bad keyword, lists the accepted ones and suggests a close match.
    """
    accepted, var_kw = accepted_parameters(builder)
    if var_kw:
        return
    bad = [k for k in kwargs if k not in accepted]
    if not bad:
        return
    hints = "".join(did_you_mean(k, accepted) for k in bad[:1])
    raise UnknownArgumentError(
        f"{what} got unexpected keyword argument{'s' if len(bad) > 1 else ''} "
        f"{', '.join(repr(b) for b in bad)}{hints} Accepted: {', '.join(accepted) or '(none)'}."
    )


class Registry(Generic[T]):
    """A table of named builders (classes or functions) of one kind.

    Args:
        kind: what the registry holds, used in messages ("model", "encoder", ...).

    Example:
        >>> reg = Registry("widget")
        >>> @reg.register("square", aliases=("sq",))
        ... def square(side: int = 2) -> int:
        ...     return side * side
        >>> reg.build("sq", side=3)
        9
        >>> reg.names()
        ['square']
        >>> reg.build("square", sides=3)
        Traceback (most recent call last):
          ...
        autoencoders.errors.UnknownArgumentError: widget 'square' got unexpected keyword argument 'sides'; did you mean 'side'? Accepted: side.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names(load=False)})"

    # -- registration -------------------------------------------------------------------------
    @overload
    def register(self, name: T, *, aliases: tuple[str, ...] = (), override: bool = False) -> T: ...

    @overload
    def register(
        self, name: str | None = None, *, aliases: tuple[str, ...] = (), override: bool = False
    ) -> Callable[[T], T]: ...

    def register(
        self,
        name: str | T | None = None,
        *,
        aliases: tuple[str, ...] | list[str] = (),
        override: bool = False,
    ) -> Callable[[T], T] | T:
        """Register a builder, as a decorator (``@reg.register("name")`` or ``@reg.register``).

        Args:
            name: the public name; defaults to the object's ``__name__``. Names are stored
                lower-cased with ``-`` as ``_``, and looked up the same way.
            aliases: further names that resolve to the same entry.
            override: replace an existing entry of the same name instead of raising
                :class:`DuplicateNameError`.

        Returns:
            The decorator, or the object itself when used without parentheses.
        """
        if isinstance(aliases, str):
            raise InvalidTypeError(
                f"aliases must be a tuple or list of strings, got the string {aliases!r}; "
                f"write aliases=({aliases!r},)"
            )
        if callable(name) and not isinstance(name, str):
            return self._add(name, None, tuple(aliases), override)

        def decorator(obj: T) -> T:
            return self._add(obj, name, tuple(aliases), override)

        return decorator

    def _add(self, obj: T, name: str | None, aliases: tuple[str, ...], override: bool) -> T:
        if not callable(obj):
            raise InvalidTypeError(
                f"can only register callables in the {self.kind} registry, got {obj!r}"
            )
        named = (("name", name),) if name is not None else ()
        for what, n in (*named, *(("alias", a) for a in aliases)):
            if not isinstance(n, str) or not n.strip():
                raise InvalidTypeError(
                    f"{self.kind} {what} must be a non-empty str, got {type(n).__name__} {n!r}"
                )
        key = _normalise(name or obj.__name__)
        for n in (key, *map(_normalise, aliases)):
            taken = n in self._entries or n in self._aliases
            if taken and not override:
                raise DuplicateNameError(
                    f"{self.kind} {n!r} is already registered "
                    f"(as {self._entries.get(self._aliases.get(n, n))!r}); pass override=True "
                    "to replace it"
                )
        if override:
            # drop every alias of a replaced entry, and the entry an alias used to point to
            for n in (key, *map(_normalise, aliases)):
                self._aliases.pop(n, None)
        self._entries[key] = obj
        for a in map(_normalise, aliases):
            self._aliases[a] = key
        return obj

    def unregister(self, name: str) -> T:
        """Remove an entry (and its aliases) and return it."""
        key = self.canonical(name)
        obj = self._entries.pop(key)
        self._aliases = {a: k for a, k in self._aliases.items() if k != key}
        return obj

    # -- lookup -------------------------------------------------------------------------------
    def canonical(self, name: str) -> str:
        """The registered name that ``name`` (maybe an alias, any case, '-' or '_') stands for."""
        if not isinstance(name, str):
            raise InvalidTypeError(
                f"{self.kind} name must be a string, got {type(name).__name__} {name!r}"
            )
        key = _normalise(name)
        key = self._aliases.get(key, key)
        if key not in self._entries:
            load_plugins()
            key = self._aliases.get(key, key)
        if key not in self._entries:
            known = self.names()
            dashes = "-" in name
            # spelled as the user spells names: with '-' when they wrote one (both match)
            listed = [k.replace("_", "-") for k in known] if dashes else known
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}"
                f"{did_you_mean(key, known + sorted(self._aliases), dashes=dashes)}"
                f" Registered {_plural(self.kind)}: {', '.join(listed) or '(none)'}. If it comes from a "
                f"plugin, install the package that provides it (entry-point group {PLUGIN_GROUP!r})."
            )
        return key

    def get(self, name: str) -> T:
        """The builder registered as ``name`` (aliases and plugins included)."""
        return self._entries[self.canonical(name)]

    def build(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Look up ``name`` and call it with ``args`` and ``kwargs``, checking the keywords first.

        Positional arguments are for what a builder acts on (an optimizer's parameters, a
        scheduler's optimizer); a module's configuration is given by keyword, so that it can
        be recorded and saved.

        Example:
            >>> import torch
            >>> from autoencoders.registry import optimizers
            >>> opt = optimizers.build("sgd", [torch.nn.Parameter(torch.zeros(2))], lr=0.5)
            >>> type(opt).__name__, opt.param_groups[0]["lr"]
            ('SGD', 0.5)
        """
        key = self.canonical(name)
        builder = self._entries[key]
        check_kwargs(f"{self.kind} {key!r}", builder, kwargs)
        obj = builder(*args, **kwargs)
        # the one record of how to rebuild a module (see autoencoders.blocks.base.built_by): a
        # class that records its own arguments (a Block, defaults included) keeps its record;
        # a module a factory made, or of a class that records nothing, is remembered as this
        # call. Other objects (optimizers, schedulers, datasets) are left untouched: some of
        # them serialise their __dict__.
        if isinstance(obj, nn.Module) and (
            not inspect.isclass(builder) or BUILT_BY not in obj.__dict__
        ):
            obj.__dict__[BUILT_BY] = (builder, dict(kwargs))
        return obj

    def names(self, pattern: str | None = None, *, load: bool = True) -> list[str]:
        """Sorted registered names, optionally filtered by a shell-style ``pattern``.

        Args:
            pattern: a shell-style filter such as ``"*vae*"`` (case does not matter and
                ``-`` matches ``_``), or None for every name.
            load: load the entry-point plugins first.

        Raises:
            TypeError: ``pattern`` is neither a string nor None.
        """
        if pattern is not None and not isinstance(pattern, str):
            raise InvalidTypeError(
                f"pattern must be a str (a shell-style filter such as '*vae*') or None, "
                f"got {type(pattern).__name__} {pattern!r}"
            )
        if load:
            load_plugins()
        out = sorted(self._entries)
        if pattern is not None:
            out = [n for n in out if fnmatch.fnmatch(n, _normalise(pattern))]
        return out

    def name_of(self, builder: object) -> str | None:
        """The registered name of ``builder`` itself (compared by identity), or None.

        Only the very object that was registered counts: an unregistered subclass of a
        registered class has no name.

        Example:
            >>> reg = Registry("widget")
            >>> square = reg.register("square")(lambda side=2: side * side)
            >>> reg.name_of(square), reg.name_of(len)
            ('square', None)
        """
        for key, entry in self._entries.items():
            if entry is builder:
                return key
        return None

    def aliases(self) -> dict[str, str]:
        """Mapping of each alias to the name it stands for."""
        return dict(self._aliases)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.canonical(name)
        except UnknownNameError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


#: The encoders, each mapping ``(B, *input_shape)`` to ``(B, out_features)``.
encoders: Registry[Any] = Registry("encoder")
#: The bottlenecks, each mapping ``(B, F)`` to a ``BottleneckOutput`` (deterministic or Gaussian).
bottlenecks: Registry[Any] = Registry("bottleneck")
#: The decoders, each mapping ``(B, Z)`` to logits ``(B, *output_shape)``.
decoders: Registry[Any] = Registry("decoder")
#: The named architectures, functions returning a ready :class:`~autoencoders.Autoencoder`.
models: Registry[Any] = Registry("model")
#: The losses, callables ``loss(output, target) -> LossOutput``.
losses: Registry[Any] = Registry("loss")
#: The noise (corruption) transforms for denoising.
noise: Registry[Any] = Registry("noise transform")
#: Optimizer factories ``(params, **kwargs) -> torch.optim.Optimizer`` (adam, adamw, sgd, ...).
optimizers: Registry[Any] = Registry("optimizer")
#: LR-scheduler factories ``(optimizer, **kwargs) -> scheduler`` (step, cosine, plateau, ...).
schedulers: Registry[Any] = Registry("scheduler")
#: Datasets, each a loader returning train/validation/test splits (fashion_mnist, mnist, ...).
datasets: Registry[Any] = Registry("dataset")
#: Experiments: named sweeps with their comparison figures (the classic ones are in
#: :mod:`autoencoders.runs.recipes`), run through :mod:`autoencoders.runs`.
experiments: Registry[Any] = Registry("experiment")
#: Regularizers: penalties on what the model computes (its code, the encoder's Jacobian),
#: reported as named terms on the model output and added to the loss (sparse, contractive, MMD).
regularizers: Registry[Any] = Registry("regularizer")
#: Priors over the code: ``sample(n, z)`` and ``log_prob(z)`` (the standard normal, ...).
priors: Registry[Any] = Registry("prior")
#: Conditions: what a conditional model is given beside ``x`` (a class label, as a one-hot
#: vector or an embedding), seen by the bottleneck and the decoder.
conditions: Registry[Any] = Registry("condition")

_LIBRARY_REGISTRIES = {
    r.kind: r
    for r in (
        encoders,
        bottlenecks,
        decoders,
        models,
        losses,
        noise,
        optimizers,
        schedulers,
        datasets,
        experiments,
        regularizers,
        priors,
        conditions,
    )
}


def registry_for(kind: str) -> Registry[Any]:
    """The library's registry of ``kind`` (``"encoder"``, ``"noise transform"``, ...).

    Raises:
        ValueError: no registry of that kind.

    Example:
        >>> registry_for("encoder") is encoders
        True
    """
    try:
        return _LIBRARY_REGISTRIES[kind]
    except KeyError:
        raise InvalidValueError(
            f"no registry of kind {kind!r}; kinds: {', '.join(sorted(_LIBRARY_REGISTRIES))}"
        ) from None
