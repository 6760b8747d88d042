"""The training state: everything a checkpoint holds, as one ``state_dict()``.

:class:`TrainingState` gathers the model, optimizer, scheduler, gradient scaler, callbacks,
history, counters (epoch, batch within the epoch, global step) and RNG states of a run behind
``state_dict()`` / ``load_state_dict()``, the way a module or an optimizer does;
:mod:`autoencoders.training.checkpoint` writes that dict to files and reads it back, and the
Trainer never sees the file layout.

The state is nested dicts and lists of numbers, strings and tensors, sometimes with integer keys
or tuples (optimizer states). :func:`split_state` replaces every tensor by a reference
``{"__tensor__": name}`` and collects the tensors in a flat dict (for safetensors); dicts whose
keys are not all strings and tuples are tagged so that :func:`join_state` rebuilds exactly the
same structure. Anything else (a function, an arbitrary object) is a :class:`TypeError` that
names where it was found: nothing is pickled.

Example:
    >>> import torch
    >>> state = {"state": {0: {"step": torch.tensor(3.0)}}, "groups": [{"betas": (0.9, 0.99)}]}
    >>> doc, tensors = split_state(state, "opt")
    >>> doc["groups"], list(tensors)
    ([{'betas': {'__tuple__': [0.9, 0.99]}}], ['opt.state.0.step'])
    >>> again = join_state(doc, tensors)
    >>> again["groups"][0]["betas"], float(again["state"][0]["step"])
    ((0.9, 0.99), 3.0)
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from autoencoders._utils import unwrap_model
from autoencoders.errors import InvalidTypeError, InvalidValueError, ResumeError
from autoencoders.training import distributed as dist_utils
from autoencoders.training.history import History
from autoencoders.training.meter import EpochMeter

__all__ = [
    "TrainingState",
    "dumps",
    "gather_rng",
    "join_state",
    "restore_rng",
    "seed_everything",
    "split_state",
]

logger = logging.getLogger(__name__)

#: What a mid-epoch resume must find unchanged (it replays the same batches).
RESUME_KEYS = ("batch_size", "seed", "world_size", "num_train_samples")

_TENSOR = "__tensor__"
_TUPLE = "__tuple__"
_ITEMS = "__items__"
_TAGS = (_TENSOR, _TUPLE, _ITEMS)


def split_state(obj: Any, prefix: str) -> tuple[Any, dict[str, torch.Tensor]]:
    """Split ``obj`` into a JSON-serialisable document and a flat dict of CPU tensors.

    Args:
        obj: nested dicts, lists and tuples of JSON scalars and tensors.
        prefix: prepended to the tensor names (``prefix.key.subkey``); also used in errors.

    Returns:
        ``(document, tensors)``.

    Raises:
        TypeError: a value that is neither a JSON scalar, a tensor nor a container of them;
            the message gives its path.
    """
    tensors: dict[str, torch.Tensor] = {}
    return _split(obj, prefix, tensors), tensors


def _split(obj: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        name = path
        while name in tensors:  # keys "a.b" and ("a", "b") could collide; keep both
            name += "_"
        tensors[name] = obj.detach().cpu().clone().contiguous()
        return {_TENSOR: name}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, tuple):
        return {_TUPLE: [_split(v, f"{path}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_split(v, f"{path}.{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        keys = list(obj)
        if all(isinstance(k, str) for k in keys) and not any(k in _TAGS for k in keys):
            return {k: _split(v, f"{path}.{k}", tensors) for k, v in obj.items()}
        for k in keys:
            if k is not None and not isinstance(k, (bool, int, float, str)):
                raise InvalidTypeError(
                    f"{path} has a key {k!r} of type {type(k).__name__}; checkpoint state "
                    "keys must be strings or numbers"
                )
        return {_ITEMS: [[k, _split(v, f"{path}.{k}", tensors)] for k, v in obj.items()]}
    raise InvalidTypeError(
        f"{path} is a {type(obj).__name__} ({obj!r:.60}); checkpoints hold only JSON values "
        "(numbers, strings, booleans, None, lists, dicts) and tensors, never pickled objects"
    )


def join_state(doc: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`split_state`.

    Raises:
        ValueError: a tensor reference with no tensor of that name.
    """
    if isinstance(doc, list):
        return [join_state(v, tensors) for v in doc]
    if isinstance(doc, dict):
        if len(doc) == 1:
            ((key, value),) = doc.items()
            if key == _TENSOR:
                if value not in tensors:
                    raise InvalidValueError(
                        f"checkpoint refers to tensor {value!r}, which its safetensors file "
                        "does not hold; the checkpoint is incomplete or corrupt"
                    )
                return tensors[value]
            if key == _TUPLE:
                return tuple(join_state(v, tensors) for v in value)
            if key == _ITEMS:
                return {k: join_state(v, tensors) for k, v in value}
        return {k: join_state(v, tensors) for k, v in doc.items()}
    return doc


def dumps(doc: Any) -> bytes:
    """JSON bytes of a document (``NaN``/``Infinity`` allowed, as Python's json reads them)."""
    return (json.dumps(doc, indent=1, allow_nan=True) + "\n").encode("utf-8")


# -- random number generators --------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    """Seed ``torch`` (CPU and CUDA) and Python's ``random`` with ``seed``.

    Example:
        >>> seed_everything(3); a = torch.rand(1)
        >>> seed_everything(3); torch.equal(a, torch.rand(1))
        True
    """
    torch.manual_seed(seed)
    random.seed(seed)


def gather_rng(device: torch.device) -> dict[str, Any]:
    """Every process's RNG states: torch CPU (and CUDA on a CUDA device), Python ``random``.

    Collective under torch.distributed: lists hold one tensor per rank, in rank order.

    Example:
        >>> rng = gather_rng(torch.device("cpu"))
        >>> sorted(rng), len(rng["torch"])
        (['python', 'python_gauss', 'python_version', 'torch'], 1)
    """
    py = random.getstate()
    py_ints = torch.tensor(py[1], dtype=torch.int64)
    py_gauss = torch.tensor([math.nan if py[2] is None else py[2]], dtype=torch.float64)
    ranks: dict[str, Any] = {
        "torch": dist_utils.all_gather_tensor(torch.get_rng_state()),
        "python": dist_utils.all_gather_tensor(py_ints),
        "python_gauss": dist_utils.all_gather_tensor(py_gauss),
        "python_version": py[0],
    }
    if device.type == "cuda":
        ranks["cuda"] = dist_utils.all_gather_tensor(torch.cuda.get_rng_state(device))
    return ranks


def restore_rng(
    rng: dict[str, Any], rank: int, world_size: int, device: torch.device, reseed: int | None
) -> None:
    """Restore this rank's states from :func:`gather_rng`'s dict.

    A dict saved by another number of processes cannot be restored: the generators are then
    seeded with ``reseed`` (plus the rank) when it is not None, with a warning.

    Example:
        >>> rng = gather_rng(torch.device("cpu")); a = torch.rand(1)
        >>> restore_rng(rng, 0, 1, torch.device("cpu"), reseed=None)
        >>> torch.equal(a, torch.rand(1))
        True
    """
    n = len(rng.get("torch", []))
    if n != world_size:
        logger.warning(
            "checkpoint holds RNG states of %d processes, this run has %d: reseeding instead",
            n,
            world_size,
        )
        if reseed is not None:
            torch.manual_seed(reseed + rank)
        return
    torch.set_rng_state(rng["torch"][rank].to(torch.uint8))
    if "cuda" in rng and device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"][rank].to(torch.uint8), device)
    gauss = float(rng["python_gauss"][rank][0])
    random.setstate(
        (
            int(rng["python_version"]),
            tuple(int(v) for v in rng["python"][rank].tolist()),
            None if math.isnan(gauss) else gauss,
        )
    )


def _model_config(model: nn.Module) -> Any:
    config = getattr(unwrap_model(model), "config", None)
    if not isinstance(config, dict):
        return None
    try:
        return json.loads(json.dumps(config))
    except (TypeError, ValueError):
        return None


def _match_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give each per-parameter state tensor (Adam's moments) its parameter's memory layout.

    Checkpoints hold contiguous tensors; a ``channels_last`` parameter's moments must be
    ``channels_last`` again, or the fused optimizers (which walk the parameter and its
    moments as flat memory) would pair the wrong elements.
    """
    for group in optimizer.param_groups:
        for p in group["params"]:
            for k, v in optimizer.state.get(p, {}).items():
                if isinstance(v, torch.Tensor) and v.shape == p.shape and v.stride() != p.stride():
                    optimizer.state[p][k] = torch.empty_like(p, dtype=v.dtype).copy_(v)


#: Keys of an optimizer's param group that are state or a scheduler's, not settings.
_NOT_SETTINGS = {"params", "initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"}


def _settings(group: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in group.items() if k not in _NOT_SETTINGS}
    if "max_momentum" in group:  # a one-cycle schedule moves the momentum (or betas) itself
        out.pop("momentum", None)
        out.pop("betas", None)
    out["lr"] = group.get("initial_lr", group["lr"])  # the base, before any schedule
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return torch.is_tensor(a) and torch.is_tensor(b) and bool(torch.equal(a, b))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _keep_asked_settings(
    optimizer: torch.optim.Optimizer, scheduler: Any, asked: list[dict[str, Any]]
) -> list[str]:
    """Put this run's optimizer settings back after a checkpoint's were loaded; the changes."""
    changed: list[str] = []
    for i, (want, group) in enumerate(zip(asked, optimizer.param_groups)):
        have = _settings(group)
        if set(want) != set(have):
            raise ResumeError(
                f"the checkpoint's optimizer has the settings {sorted(have)}, this run's "
                f"{sorted(want)}: another kind of optimizer. Resume with the optimizer the run "
                "was trained with, or start afresh"
            )
        for key, value in want.items():
            if _same(value, have[key]):
                continue
            changed.append(f"{key} {have[key]!r} -> {value!r}" + (f" (group {i})" if i else ""))
            if key != "lr":
                group[key] = value
                continue
            old = float(have["lr"])
            group["lr"] = value if old == 0 else group["lr"] * (float(value) / old)
            if "initial_lr" in group:
                group["initial_lr"] = value
            base_lrs = getattr(scheduler, "base_lrs", None)
            if isinstance(base_lrs, list) and i < len(base_lrs):
                base_lrs[i] = value
    if changed:
        logger.warning(
            "resumed with other optimizer settings than the checkpoint's: %s; this run's "
            "values are used from here on",
            ", ".join(changed),
        )
    return changed


# -- the state of a run --------------------------------------------------------------------------
class TrainingState:
    """Everything a resumable checkpoint holds, behind ``state_dict()`` / ``load_state_dict()``.

    Args:
        model: the model (a ``torch.compile``/DDP wrapper is looked through: its weights are
            saved and loaded under the plain module's names).
        optimizer: its optimizer.
        scheduler: the LR scheduler, if any (may be set later, before the first epoch).
        scaler: the fp16 gradient scaler, if any.
        callbacks: objects with ``state_dict()``/``load_state_dict()``, matched by class name.
        epochs: the run's length.
        batch_size: the global batch size.
        seed: the run's seed (None: RNGs left alone on a fresh start).
        device: the training device.

    Attributes:
        history: the :class:`~autoencoders.training.History` so far.
        epoch: epochs completed (the 0-based index of the epoch in progress).
        batch_in_epoch: batches done in the epoch in progress.
        batches_in_epoch: batches in the epoch in progress (None when unknown).
        global_step: batches processed over the whole run.
        should_stop: set (by early stopping, say) to end training after this epoch.
        part_names: ``["loss", <part>, ...]``: the loss columns, once known.
        meter: the :class:`~autoencoders.training.meter.EpochMeter` of the epoch in progress.
        num_train_samples: size of the training set (None when unknown).
        rank, world_size: this process under torch.distributed (0, 1 otherwise).

    Example:
        >>> import autoencoders
        >>> model = autoencoders.build("ae", h=8, z=2)
        >>> opt = torch.optim.Adam(model.parameters())
        >>> state = TrainingState(model, opt, epochs=3, batch_size=16, seed=0)
        >>> state.global_step = 7
        >>> again = TrainingState(model, opt, epochs=3, batch_size=16, seed=0)
        >>> again.load_state_dict(state.state_dict()); again.global_step
        7
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any = None,
        scaler: Any = None,
        callbacks: Sequence[Any] = (),
        *,
        epochs: int,
        batch_size: int,
        seed: int | None,
        device: torch.device | None = None,
    ) -> None:
        self.model, self.optimizer, self.scheduler, self.scaler = (
            model,
            optimizer,
            scheduler,
            scaler,
        )
        self.callbacks = callbacks if isinstance(callbacks, list) else list(callbacks)  # shared
        self.epochs, self.batch_size, self.seed = epochs, batch_size, seed
        self.device = device or torch.device("cpu")
        self.rank, self.world_size = 0, 1
        self.num_train_samples: int | None = None
        self.part_names: list[str] | None = None
        self.meter: EpochMeter | None = None
        self.batches_in_epoch: int | None = None
        self.loaded_info: dict[str, Any] = {}
        self.changed_settings: list[str] = []
        self.reset()

    def reset(self) -> None:
        """Start a fresh run: empty history, counters at zero (the weights are not touched)."""
        self.history = History()
        self.epoch = self.batch_in_epoch = self.global_step = 0
        self.should_stop = False
        self.partial: dict[str, Any] | None = None  # totals of a mid-epoch checkpoint

    def start_epoch(self, *, check: bool) -> EpochMeter:
        """A fresh meter for the epoch in progress (carrying a resumed epoch's totals)."""
        self.meter = EpochMeter(
            self.part_names,
            first_step=self.global_step + 1,
            first_batch=self.batch_in_epoch,
            device=self.device,
            restored=self.partial,
            check=check,
            epoch=self.epoch,
        )
        self.partial = None
        return self.meter

    def end_epoch(self, record: dict[str, Any]) -> None:
        """Append the epoch's record and move the counters to the next epoch."""
        self.meter = None
        self.history.append(record)
        self.epoch += 1
        self.batch_in_epoch = 0

    def run_info(self) -> dict[str, Any]:
        """What a mid-epoch resume must find unchanged (it replays the same batches)."""
        now = {"batch_size": self.batch_size, "seed": self.seed, "world_size": self.world_size}
        return {**now, "num_train_samples": self.num_train_samples}

    def check_resumable(self, where: str) -> None:
        """After :meth:`load_state_dict`: a mid-epoch state saved with another batch size,
        seed, number of processes or data size is a ResumeError naming the difference."""
        if not self.batch_in_epoch:
            return
        for key, now in self.run_info().items():
            then = self.loaded_info.get(key)
            if then != now:
                raise ResumeError(
                    f"checkpoint {where!r} was taken mid-epoch with {key}={then!r}, but this "
                    f"run has {key}={now!r}; a mid-epoch resume replays the same batches and "
                    "needs the same value"
                )

    def state_dict(self) -> dict[str, Any] | None:
        """The whole state as nested dicts of JSON values and tensors (``"model"``: weights).

        Collective under torch.distributed (every rank's RNG states and epoch totals are
        gathered); returns None on ranks other than 0. Raises
        :class:`~autoencoders.errors.NonFiniteLossError` before anything else when a
        step of the epoch in progress had a non-finite loss.
        """
        lr = float(self.optimizer.param_groups[0]["lr"])
        partial = None if self.meter is None else self.meter.totals(lr)
        rng = gather_rng(self.device)
        if self.rank != 0:
            return None
        return {
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "global_step": self.global_step,
            "epochs": self.epochs,
            "should_stop": self.should_stop,
            **self.run_info(),
            "part_names": self.part_names,
            "partial": partial,
            "history": self.history.records,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "scaler": None if self.scaler is None else self.scaler.state_dict(),
            "callbacks": [
                {"class": type(cb).__qualname__, "state": cb.state_dict()} for cb in self.callbacks
            ],
            "rng": rng,
            "model_config": _model_config(self.model),
            "model": {
                k: v.detach().cpu().clone().contiguous()
                for k, v in unwrap_model(self.model).state_dict().items()
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (RNG states included).

        The optimizer's settings of this run win over the checkpoint's: a learning rate,
        betas or weight decay given differently from the run that wrote the checkpoint is
        used from here on (a scheduled learning rate keeps its place in the schedule, scaled
        to the new base), and the change is logged and kept in :attr:`changed_settings`. An
        optimizer of another kind (other settings altogether) is a
        :class:`~autoencoders.errors.ResumeError`.
        """
        unwrap_model(self.model).load_state_dict(state["model"], strict=True)
        asked = [_settings(g) for g in self.optimizer.param_groups]  # this run's arguments
        self.optimizer.load_state_dict(state["optimizer"])
        _match_layouts(self.optimizer)
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.changed_settings = _keep_asked_settings(self.optimizer, self.scheduler, asked)
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        saved = list(state.get("callbacks") or [])
        for cb in self.callbacks:
            name = type(cb).__qualname__
            for j, entry in enumerate(saved):
                if entry.get("class") == name:
                    cb.load_state_dict(entry["state"])
                    del saved[j]
                    break
        self.history = History(state.get("history") or [])
        self.epoch = int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.global_step = int(state["global_step"])
        self.should_stop = bool(state.get("should_stop", False))
        if state.get("part_names"):
            self.part_names = list(state["part_names"])
        self.partial = state.get("partial") if self.batch_in_epoch else None
        self.loaded_info = {k: state.get(k) for k in (*RESUME_KEYS, "epochs")}
        reseed = None if self.seed is None else self.seed + self.global_step
        restore_rng(state["rng"], self.rank, self.world_size, self.device, reseed)
