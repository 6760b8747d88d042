"""Learning-rate schedulers by name: the :data:`autoencoders.registry.schedulers` registry.

A scheduler factory is ``factory(optimizer, /, *, epochs, ...) -> scheduler`` with explicit
keyword arguments (checked, with a close match for a misspelt one). The
:class:`~autoencoders.training.Trainer` passes ``epochs``, and ``steps_per_epoch`` to a factory
that takes it; keyword arguments given by the user win over those. A factory that takes
``steps_per_epoch`` makes a **per-step** schedule, stepped after every batch; the others are
stepped once per epoch, and a :class:`~torch.optim.lr_scheduler.ReduceLROnPlateau` is given the
monitored loss (``val_loss``, else ``train_loss``).

Example:
    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> sched = build_scheduler("step", opt, epochs=6, kwargs={"gamma": 0.5})
    >>> for _ in range(4):  # an epoch each
    ...     opt.step()
    ...     step_scheduler(sched)
    >>> opt.param_groups[0]["lr"]
    0.25
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch.optim import lr_scheduler as lrs

from autoencoders.errors import InvalidTypeError, InvalidValueError, ResumeError
from autoencoders.registry import accepted_parameters, check_kwargs, schedulers

__all__ = [
    "build_scheduler",
    "check_scheduler",
    "cosine",
    "exponential",
    "is_per_step",
    "multistep",
    "onecycle",
    "plateau",
    "step_decay",
    "step_scheduler",
    "warmup_cosine",
    "Schedule",
]


@schedulers.register("step")
def step_decay(
    optimizer: torch.optim.Optimizer,
    /,
    *,
    epochs: int,
    step_size: int | None = None,
    gamma: float = 0.1,
) -> lrs.LRScheduler:
    """x ``gamma`` every ``step_size`` epochs (default ``max(1, epochs // 3)``).

    Example:
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> step_decay(opt, epochs=9).step_size
        3
    """
    return lrs.StepLR(optimizer, step_size=step_size or max(1, epochs // 3), gamma=gamma)


@schedulers.register("multistep")
def multistep(
    optimizer: torch.optim.Optimizer,
    /,
    *,
    epochs: int,
    milestones: Iterable[int] | None = None,
    gamma: float = 0.1,
) -> lrs.LRScheduler:
    """x ``gamma`` at each epoch in ``milestones`` (default: half and three quarters of the run).

    Example:
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> sorted(multistep(opt, epochs=8).milestones)
        [4, 6]
    """
    if milestones is None:
        milestones = sorted({max(1, epochs // 2), max(1, 3 * epochs // 4)})
    return lrs.MultiStepLR(optimizer, milestones=list(milestones), gamma=gamma)


@schedulers.register("exponential")
def exponential(
    optimizer: torch.optim.Optimizer, /, *, epochs: int, gamma: float = 0.95
) -> lrs.LRScheduler:
    """x ``gamma`` every epoch (``epochs`` is not used).

    Example:
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> exponential(opt, epochs=3).gamma
        0.95
    """
    return lrs.ExponentialLR(optimizer, gamma=gamma)


@schedulers.register("cosine")
def cosine(
    optimizer: torch.optim.Optimizer,
    /,
    *,
    epochs: int,
    t_max: int | None = None,
    eta_min: float = 0.0,
) -> lrs.LRScheduler:
    """Cosine annealing to ``eta_min`` over ``t_max`` epochs (default: the whole run).

    Example:
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> cosine(opt, epochs=10).T_max
        10
    """
    return lrs.CosineAnnealingLR(optimizer, T_max=t_max or epochs, eta_min=eta_min)


@schedulers.register("plateau")
def plateau(
    optimizer: torch.optim.Optimizer,
    /,
    *,
    epochs: int,
    mode: str = "min",
    factor: float = 0.5,
    patience: int = 2,
    threshold: float = 1e-4,
    cooldown: int = 0,
    min_lr: float = 0.0,
) -> lrs.ReduceLROnPlateau:
    """x ``factor`` after ``patience`` epochs without improvement of the monitored loss.

    The Trainer steps it with ``val_loss`` (``train_loss`` without validation data).

    Example:
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> plateau(opt, epochs=5).patience
        2
    """
    return lrs.ReduceLROnPlateau(
        optimizer,
        mode=mode,
        factor=factor,
        patience=patience,
        threshold=threshold,
        cooldown=cooldown,
        min_lr=min_lr,
    )


@schedulers.register("onecycle")
def onecycle(
    optimizer: torch.optim.Optimizer,
    /,
    *,
    epochs: int,
    steps_per_epoch: int,
    max_lr: float | None = None,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> lrs.LRScheduler:
    """The one-cycle policy, stepped per batch; ``max_lr`` defaults to the optimizer's lr.

    Example:
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> onecycle(opt, epochs=2, steps_per_epoch=5).total_steps
        10
    """
    peak = max_lr if max_lr is not None else [g["lr"] for g in optimizer.param_groups]
    return lrs.OneCycleLR(
        optimizer,
        max_lr=peak,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        pct_start=pct_start,
        anneal_strategy=anneal_strategy,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
        three_phase=three_phase,
    )


@schedulers.register("warmup_cosine")
def warmup_cosine(
    optimizer: torch.optim.Optimizer,
    /,
    *,
    epochs: int,
    steps_per_epoch: int,
    warmup_steps: int | None = None,
    min_factor: float = 0.0,
) -> lrs.LRScheduler:
    """Linear warm-up for ``warmup_steps`` batches (default 5 % of the run), then cosine decay
    to ``min_factor`` times the lr, stepped per batch.

    Example:
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> s = warmup_cosine(opt, epochs=1, steps_per_epoch=100, warmup_steps=10)
        >>> round(opt.param_groups[0]["lr"], 3)
        0.1
    """
    total = max(1, epochs * steps_per_epoch)
    warm = max(0, int(0.05 * total) if warmup_steps is None else warmup_steps)

    def factor(i: int) -> float:
        if i < warm:
            return (i + 1) / warm
        progress = min(1.0, (i - warm) / max(1, total - warm))
        cos = 0.5 * (1.0 + math.cos(math.pi * progress))
        return min_factor + (1.0 - min_factor) * cos

    return lrs.LambdaLR(optimizer, factor)


def _scheduler_factory(spec: str) -> tuple[str, Callable[..., Any]]:
    name = schedulers.canonical(spec)
    return name, schedulers.get(name)


def is_per_step(spec: Any) -> bool:
    """Whether ``spec`` names a per-step schedule (its factory takes ``steps_per_epoch``).

    Example:
        >>> is_per_step("onecycle"), is_per_step("cosine"), is_per_step(None)
        (True, False, False)
    """
    if not isinstance(spec, str):
        return False
    accepted, _ = accepted_parameters(_scheduler_factory(spec)[1])
    return "steps_per_epoch" in accepted


def _scheduler_kwargs(
    name: str, factory: Callable[..., Any], context: dict[str, Any], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    accepted, takes_any = accepted_parameters(factory)
    kw = {k: v for k, v in context.items() if takes_any or k in accepted}
    kw.update(kwargs)
    check_kwargs(f"scheduler {name!r}", factory, kw)
    return kw


def check_scheduler(spec: Any, kwargs: Mapping[str, Any] | None = None) -> None:
    """Check a scheduler spec and its keyword arguments without building it.

    Raises:
        UnknownNameError: an unknown name; UnknownArgumentError: a keyword it does not take.
        TypeError: neither None, a name nor a callable, or ``kwargs`` with a callable.

    Example:
        >>> check_scheduler("cosine", {"eta_min": 1e-5})
        >>> check_scheduler("cosine", {"eta_mn": 1e-5})
        Traceback (most recent call last):
          ...
        autoencoders.errors.UnknownArgumentError: scheduler 'cosine' got unexpected keyword ...
    """
    if spec is None or (callable(spec) and not isinstance(spec, str)):
        if kwargs:
            raise InvalidTypeError(
                f"scheduler_kwargs {dict(kwargs)!r} need a registered scheduler name "
                f"({', '.join(schedulers.names())})"
            )
        return
    if not isinstance(spec, str):
        raise InvalidTypeError(
            f"scheduler must be None, a registered name ({', '.join(schedulers.names())}) or a "
            f"callable optimizer -> scheduler, got {type(spec).__name__}"
        )
    name, factory = _scheduler_factory(spec)
    _scheduler_kwargs(name, factory, {"epochs": 1, "steps_per_epoch": 1}, kwargs or {})


def build_scheduler(
    spec: Any,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    steps_per_epoch: int | None = None,
    kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """The LR scheduler ``spec`` names (or makes) for ``optimizer``; None for None.

    Args:
        spec: None, a registered name (see the table in the training guide) or a callable
            ``optimizer -> scheduler`` (stepped once per epoch).
        optimizer: the optimizer it drives.
        epochs: the run's length, passed to factories that take it.
        steps_per_epoch: batches per epoch, passed to per-step factories (required by them).
        kwargs: the factory's keyword arguments; they win over ``epochs``/``steps_per_epoch``.

    Raises:
        UnknownNameError, UnknownArgumentError: as :func:`check_scheduler`.
        ValueError: a per-step schedule without ``steps_per_epoch``.
        TypeError: a callable that does not return a scheduler.

    Example:
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> type(build_scheduler("cosine", opt, epochs=4)).__name__
        'CosineAnnealingLR'
    """
    check_scheduler(spec, kwargs)
    if spec is None:
        return None
    if callable(spec) and not isinstance(spec, str):
        sched = spec(optimizer)
        what = "the scheduler callable"
    else:
        name, factory = _scheduler_factory(spec)
        context: dict[str, Any] = {"epochs": epochs}
        if steps_per_epoch is not None:
            context["steps_per_epoch"] = steps_per_epoch
        kw = _scheduler_kwargs(name, factory, context, kwargs or {})
        if "steps_per_epoch" in accepted_parameters(factory)[0] and "steps_per_epoch" not in kw:
            raise InvalidValueError(
                f"scheduler {name!r} steps per batch and needs the number of batches per epoch, "
                "which this data does not tell (a loader without len()); pass "
                "scheduler_kwargs={'steps_per_epoch': ...}"
            )
        sched = factory(optimizer, **kw)
        what = f"scheduler {name!r}"
    if not (hasattr(sched, "step") and hasattr(sched, "state_dict")):
        raise InvalidTypeError(
            f"{what} must return an LR scheduler (with step and state_dict), got "
            f"{type(sched).__name__}"
        )
    return sched


def step_scheduler(scheduler: Any, monitored: float | None = None) -> None:
    """Step ``scheduler``; a ReduceLROnPlateau gets the ``monitored`` value.

    Example:
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> s = plateau(opt, epochs=1, patience=0)
        >>> step_scheduler(s, 1.0); step_scheduler(s, 2.0)
        >>> opt.param_groups[0]["lr"]
        0.5
    """
    if isinstance(scheduler, lrs.ReduceLROnPlateau):
        scheduler.step(monitored)
    else:
        scheduler.step()


class Schedule:
    """A scheduler spec, checked at once and built when the run's length is known.

    A per-epoch schedule is built at once (:meth:`build` with ``epochs``); a per-step one needs
    the batches per epoch, so the Trainer builds it when ``fit`` knows them.

    Args:
        spec: None, a registered name or a callable ``optimizer -> scheduler``.
        kwargs: the factory's keyword arguments (checked now).

    Example:
        >>> Schedule("onecycle").per_step, Schedule("cosine", {"eta_min": 0.1}).per_step
        (True, False)
    """

    def __init__(self, spec: Any, kwargs: Mapping[str, Any] | None = None) -> None:
        check_scheduler(spec, kwargs)
        self.spec, self.kwargs, self.per_step = spec, dict(kwargs or {}), is_per_step(spec)

    def build(
        self, optimizer: torch.optim.Optimizer, epochs: int, steps_per_epoch: int | None = None
    ) -> Any:
        """The scheduler (None for None); see :func:`build_scheduler`."""
        return build_scheduler(
            self.spec, optimizer, epochs=epochs, steps_per_epoch=steps_per_epoch, kwargs=self.kwargs
        )

    def check_resume(self, saved_epochs: int | None, epochs: int, where: str) -> None:
        """Refuse to resume a per-step schedule with more ``epochs`` than it was saved with.

        A per-step schedule's length (``epochs * steps_per_epoch`` batches) is fixed when it is
        built, and its restored state keeps the saved one: ``"onecycle"`` would fail mid-run
        and ``"warmup_cosine"`` would jump. Per-epoch schedules, and a per-step one given its
        own ``epochs`` in ``scheduler_kwargs``, are not checked.

        Args:
            saved_epochs: the ``epochs`` of the run that wrote the checkpoint (None: unknown).
            epochs: the ``epochs`` of the resumed run.
            where: the checkpoint, for the message.

        Raises:
            ResumeError: ``epochs`` larger than ``saved_epochs`` for a per-step schedule.

        Example:
            >>> Schedule("cosine").check_resume(2, 4, "ckpt")  # per-epoch: continues
            >>> Schedule("onecycle").check_resume(2, 4, "ckpt")
            Traceback (most recent call last):
              ...
            autoencoders.errors.ResumeError: checkpoint 'ckpt' was saved by a run with epochs=2 and the per-step ...
        """
        if not self.per_step or "epochs" in self.kwargs or saved_epochs is None:
            return
        if epochs <= int(saved_epochs):
            return
        name = _scheduler_factory(self.spec)[0]
        raise ResumeError(
            f"checkpoint {where!r} was saved by a run with epochs={saved_epochs} and the "
            f"per-step scheduler {name!r}, whose length (epochs x batches per epoch) is fixed "
            f"when it is built: it cannot be resumed with epochs={epochs}. Resume with "
            f"epochs={saved_epochs}, or start a new run (resume=False, a new checkpoint_dir) "
            f"with epochs={epochs}, or use a length-free per-epoch scheduler such as "
            "'exponential' or 'step' to extend a run"
        )
