"""Optimizers by name: the :data:`autoencoders.registry.optimizers` registry.

Each entry is a small factory ``factory(params, /, *, lr=..., ...) -> torch.optim.Optimizer``
with explicit keyword arguments, so a misspelt keyword is an
:class:`~autoencoders.errors.UnknownArgumentError` naming the accepted ones, and an unknown
name an :class:`~autoencoders.errors.UnknownNameError` (a ``ValueError``) with a close match.
Learning-rate schedulers are in :mod:`autoencoders.training.schedules`.

The defaults in a factory's signature apply when it is called without that keyword. The
:class:`~autoencoders.training.Trainer` always passes its own ``lr``, ``weight_decay`` and
``betas`` (``1e-3``, ``0.0``, ``(0.9, 0.999)`` unless given) to the factories that take them, so
through the Trainer ``"adamw"`` has no weight decay and ``"rmsprop"``/``"nadam"`` train at
``lr=1e-3`` unless asked otherwise; only their other keywords keep these defaults.

Register your own the same way (entry-point plugins work too)::

    >>> import torch
    >>> from autoencoders.registry import optimizers
    >>> @optimizers.register("my_sgd", override=True)
    ... def my_sgd(params, /, *, lr=0.1, momentum=0.9):
    ...     return torch.optim.SGD(params, lr=lr, momentum=momentum)
    >>> opt = build_optimizer("my_sgd", [torch.nn.Parameter(torch.zeros(2))], lr=0.5)
    >>> opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]
    (0.5, 0.9)
    >>> _ = optimizers.unregister("my_sgd")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch

from autoencoders.errors import InvalidTypeError
from autoencoders.registry import accepted_parameters, check_kwargs, optimizers

__all__ = ["adam", "adamw", "build_optimizer", "nadam", "radam", "rmsprop", "sgd"]

Betas = tuple[float, float]


# -- optimizers -----------------------------------------------------------------------------------
def _fused_if_possible(
    cls: type[torch.optim.Optimizer], params: Any, fused: bool | None, **kw: Any
) -> torch.optim.Optimizer:
    """``cls(params, fused=True)`` where the device has the fused kernel (``fused=None``)."""
    params = list(params)  # a generator would be used up by a failed first attempt
    if fused is None:
        try:
            return cls(params, fused=True, **kw)
        except (RuntimeError, ValueError, TypeError):
            return cls(params, **kw)
    return cls(params, fused=fused, **kw)


@optimizers.register("adam")
def adam(
    params: Iterable[Any],
    /,
    *,
    lr: float = 1e-3,
    betas: Betas = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    fused: bool | None = None,
) -> torch.optim.Optimizer:
    """:class:`torch.optim.Adam`; ``fused=None`` uses the fused kernel where the device has it.

    Example:
        >>> type(adam([torch.nn.Parameter(torch.zeros(2))], lr=0.01)).__name__
        'Adam'
    """
    kw = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
    return _fused_if_possible(torch.optim.Adam, params, fused, amsgrad=amsgrad, **kw)


@optimizers.register("adamw")
def adamw(
    params: Iterable[Any],
    /,
    *,
    lr: float = 1e-3,
    betas: Betas = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    fused: bool | None = None,
) -> torch.optim.Optimizer:
    """:class:`torch.optim.AdamW` (decoupled weight decay); fused where the device has it.

    ``weight_decay=1e-2`` is the default of a direct call; the Trainer passes its own
    ``weight_decay`` (0.0 unless given).

    Example:
        >>> adamw([torch.nn.Parameter(torch.zeros(2))]).param_groups[0]["weight_decay"]
        0.01
    """
    kw = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
    return _fused_if_possible(torch.optim.AdamW, params, fused, amsgrad=amsgrad, **kw)


@optimizers.register("sgd")
def sgd(
    params: Iterable[Any],
    /,
    *,
    lr: float = 1e-3,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> torch.optim.Optimizer:
    """:class:`torch.optim.SGD`, with optional (Nesterov) momentum.

    Example:
        >>> sgd([torch.nn.Parameter(torch.zeros(2))], momentum=0.9).param_groups[0]["momentum"]
        0.9
    """
    return torch.optim.SGD(
        list(params),
        lr=lr,
        momentum=momentum,
        dampening=dampening,
        weight_decay=weight_decay,
        nesterov=nesterov,
    )


@optimizers.register("rmsprop")
def rmsprop(
    params: Iterable[Any],
    /,
    *,
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
) -> torch.optim.Optimizer:
    """:class:`torch.optim.RMSprop`; ``lr=1e-2`` is the default of a direct call (the Trainer
    passes its own ``lr``, 1e-3 unless given).

    Example:
        >>> type(rmsprop([torch.nn.Parameter(torch.zeros(2))])).__name__
        'RMSprop'
    """
    return torch.optim.RMSprop(
        list(params),
        lr=lr,
        alpha=alpha,
        eps=eps,
        weight_decay=weight_decay,
        momentum=momentum,
        centered=centered,
    )


@optimizers.register("nadam")
def nadam(
    params: Iterable[Any],
    /,
    *,
    lr: float = 2e-3,
    betas: Betas = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
) -> torch.optim.Optimizer:
    """:class:`torch.optim.NAdam` (Adam with Nesterov momentum); ``lr=2e-3`` is the default of
    a direct call (the Trainer passes its own ``lr``, 1e-3 unless given).

    Example:
        >>> type(nadam([torch.nn.Parameter(torch.zeros(2))])).__name__
        'NAdam'
    """
    return torch.optim.NAdam(
        list(params),
        lr=lr,
        betas=tuple(betas),
        eps=eps,
        weight_decay=weight_decay,
        momentum_decay=momentum_decay,
    )


@optimizers.register("radam")
def radam(
    params: Iterable[Any],
    /,
    *,
    lr: float = 1e-3,
    betas: Betas = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """:class:`torch.optim.RAdam` (rectified Adam: no warm-up needed).

    Example:
        >>> type(radam([torch.nn.Parameter(torch.zeros(2))])).__name__
        'RAdam'
    """
    return torch.optim.RAdam(
        list(params), lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay
    )


def build_optimizer(
    spec: str | Callable[[list[Any]], torch.optim.Optimizer],
    params: Iterable[Any],
    *,
    lr: float | None = None,
    weight_decay: float | None = None,
    betas: Betas | None = None,
    kwargs: Mapping[str, Any] | None = None,
) -> torch.optim.Optimizer:
    """The optimizer ``spec`` names (or makes) over ``params``.

    Args:
        spec: a registered name (``"adam"``, ``"adamw"``, ``"sgd"``, ``"rmsprop"``, ...) or a
            callable ``params -> torch.optim.Optimizer``.
        params: the parameters (or parameter groups).
        lr: passed when not None and the factory takes it (so are ``weight_decay``, ``betas``),
            replacing the factory's default; None keeps it. The Trainer never passes None.
        weight_decay: see ``lr``.
        betas: see ``lr`` (Adam-family optimizers).
        kwargs: more keyword arguments of the factory; they win over ``lr`` and the others.

    Raises:
        UnknownNameError: an unknown name (a ``ValueError``) naming the registered ones.
        UnknownArgumentError: a keyword the factory does not take (a ``TypeError``).
        TypeError: ``kwargs`` with a callable, or a callable not returning an optimizer.

    Example:
        >>> opt = build_optimizer("sgd", [torch.nn.Parameter(torch.zeros(2))], lr=0.1,
        ...                       kwargs={"momentum": 0.5})
        >>> type(opt).__name__, opt.param_groups[0]["momentum"]
        ('SGD', 0.5)
    """
    params = list(params)
    if callable(spec) and not isinstance(spec, str):
        if kwargs:
            raise InvalidTypeError(
                f"optimizer_kwargs {dict(kwargs)!r} need a registered optimizer name "
                f"({', '.join(optimizers.names())}); a callable optimizer takes only params"
            )
        opt = spec(params)
        if not isinstance(opt, torch.optim.Optimizer):
            raise InvalidTypeError(
                "the optimizer callable must return a torch.optim.Optimizer, got "
                f"{type(opt).__name__}"
            )
        return opt
    if not isinstance(spec, str):
        raise InvalidTypeError(
            f"optimizer must be a registered name ({', '.join(optimizers.names())}) or a "
            f"callable params -> Optimizer, got {type(spec).__name__}"
        )
    name = optimizers.canonical(spec)
    factory = optimizers.get(name)
    accepted, takes_any = accepted_parameters(factory)
    kw = {
        k: v
        for k, v in (("lr", lr), ("weight_decay", weight_decay), ("betas", betas))
        if v is not None and (takes_any or k in accepted)
    }
    kw.update(kwargs or {})
    check_kwargs(f"optimizer {name!r}", factory, kw)
    try:
        opt = factory(params, **kw)
    except (TypeError, ValueError) as exc:  # torch's checks of the values: name the keywords
        shown = {k: v for k, v in kw.items() if k != "params"}
        kind = TypeError if isinstance(exc, TypeError) else ValueError
        raise kind(f"optimizer {name!r} refused its arguments {shown!r}: {exc}") from exc
    if not isinstance(opt, torch.optim.Optimizer):
        raise InvalidTypeError(
            f"optimizer {name!r} must build a torch.optim.Optimizer, got {type(opt).__name__}"
        )
    return opt
