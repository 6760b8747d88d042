"""Per-epoch training records: :class:`History`."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, overload

from autoencoders._utils import flatten_mapping
from autoencoders.errors import InvalidTypeError, InvalidValueError
from autoencoders.io import atomic_write_bytes

__all__ = ["TRAIN_KEYS", "VAL_KEYS", "History"]

#: Keys read as the training loss, in order of preference (``History.series(TRAIN_KEYS)``).
TRAIN_KEYS = ("train_loss", "loss", "train")
#: Keys read as the validation loss, in order of preference.
VAL_KEYS = ("val_loss", "validation_loss", "val")
#: Columns of a record that are not loss parts.
_NOT_PARTS = frozenset(
    {"loss", "lr", "seconds", "samples_per_s", "samples_per_second", "epoch", "time"}
)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class History:
    """What :meth:`Trainer.fit <autoencoders.training.Trainer.fit>` returns: one record per epoch.

    Each record is a flat dict. The Trainer writes ``epoch`` (1-based), ``step`` (batches
    processed so far), ``train_loss`` and ``train_<part>`` for every loss part (e.g.
    ``train_recon``, ``train_kl``), the same with ``val_`` when there is validation data,
    ``lr`` (learning rate of the first parameter group during the epoch), ``seconds`` (wall
    time of the epoch, validation included), ``samples_per_s`` (training samples per second,
    all processes together) and ``skipped_steps`` (non-finite steps skipped).

    Example:
        >>> h = History([{"epoch": 1, "train_loss": 3.0, "val_loss": 2.5},
        ...              {"epoch": 2, "train_loss": 2.0, "val_loss": 2.6}])
        >>> len(h), h["val_loss"], h.best()["epoch"]
        (2, [2.5, 2.6], 1)
        >>> print(h.to_csv(), end="")
        epoch,train_loss,val_loss
        1,3.0,2.5
        2,2.0,2.6
        >>> History.from_json(h.to_json()).records == h.records
        True
    """

    def __init__(self, records: Iterable[Mapping[str, Any]] = ()) -> None:
        self.records: list[dict[str, Any]] = [dict(r) for r in records]

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one epoch's record."""
        self.records.append(dict(record))

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records)

    @overload
    def __getitem__(self, key: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, key: str) -> list[Any]: ...

    def __getitem__(self, key: int | str) -> dict[str, Any] | list[Any]:
        """``history[i]``: the i-th record; ``history["val_loss"]``: that column (None if absent)."""
        if isinstance(key, str):
            if not any(key in r for r in self.records):
                raise KeyError(f"no record has {key!r}; keys: {', '.join(self.keys) or 'none'}")
            return [r.get(key) for r in self.records]
        return self.records[key]

    @property
    def keys(self) -> list[str]:
        """Every key that appears in a record, in order of first appearance."""
        seen: dict[str, None] = {}
        for r in self.records:
            seen.update(dict.fromkeys(r))
        return list(seen)

    def to_dicts(self) -> list[dict[str, Any]]:
        """The records as a list of (copied) dicts."""
        return [dict(r) for r in self.records]

    def best(self, key: str | None = None, mode: str = "min") -> dict[str, Any]:
        """The record with the best finite value of ``key``.

        Args:
            key: the column to rank by; default ``val_loss`` when any record has it, else
                ``train_loss``.
            mode: ``"min"`` or ``"max"``.

        Raises:
            ValueError: unknown ``mode``, or no record has a finite value of ``key``.
        """
        return dict(self.records[self.best_index(key, mode)])

    # -- reading records the way plots and reports need them ------------------------------
    @classmethod
    def coerce(cls, history: Any) -> History:
        """A :class:`History` from what users hold: a History, records, or a file.

        Accepts a History (returned as is), a list of per-epoch records (dicts, possibly
        nested as ``{"train": {"loss": ...}}``, which are flattened to ``train_loss``; or
        dataclasses), ``{"records": [...]}``, or the path of a ``history.json``.

        Raises:
            TypeError: for anything else.

        Example:
            >>> History.coerce([{"epoch": 1, "train": {"loss": 2.0, "kl": 0.5}}]).records
            [{'epoch': 1, 'train_loss': 2.0, 'train_kl': 0.5}]
        """
        if isinstance(history, History):
            return history
        if isinstance(history, (str, os.PathLike)):
            history = cls.from_json(Path(history)).records  # flattened below, like a list
        elif isinstance(history, Mapping) and "records" in history:
            history = history["records"]
        elif isinstance(history, Mapping) and "epochs" in history:
            history = history["epochs"]
        elif hasattr(history, "records") and not isinstance(history, Mapping):
            history = history.records  # a History-like object
        elif hasattr(history, "to_dicts"):
            history = history.to_dicts()
        if not isinstance(history, Iterable) or isinstance(history, (str, bytes, Mapping)):
            raise InvalidTypeError(
                "history must be a History, a list of per-epoch records (dicts), or the path "
                f"of a history.json, got {type(history).__name__}"
            )
        records = []
        for rec in history:
            if is_dataclass(rec) and not isinstance(rec, type):
                rec = asdict(rec)
            elif not isinstance(rec, Mapping):
                raise InvalidTypeError(
                    f"a per-epoch record must be a dict or a dataclass, got {type(rec).__name__}"
                )
            records.append(flatten_mapping(rec, "_"))
        return cls(records)

    def series(self, keys: str | Sequence[str]) -> list[float] | None:
        """The first of ``keys`` that any record holds a number for, as floats (NaN where missing).

        Example:
            >>> History([{"val_loss": 2.0}, {}]).series(VAL_KEYS)
            [2.0, nan]
            >>> History([{"train_loss": 1.0}]).series("val_loss") is None
            True
        """
        for key in (keys,) if isinstance(keys, str) else keys:
            values = [r.get(key) for r in self.records]
            if any(_number(v) for v in values):
                return [float(v) if _number(v) else math.nan for v in values]
        return None

    def epochs(self) -> list[float]:
        """The ``epoch`` of each record (1, 2, ... when some record lacks one)."""
        values = [r.get("epoch") for r in self.records]
        if all(_number(e) for e in values):
            return [float(e) for e in values]  # type: ignore[arg-type]
        return [float(i + 1) for i in range(len(self.records))]

    def loss_parts(self) -> list[str]:
        """Names of the loss parts recorded as ``train_<part>`` / ``val_<part>`` (e.g. recon, kl).

        Example:
            >>> History([{"train_loss": 3, "train_recon": 2, "train_kl": 1, "lr": 0.1}]).loss_parts()
            ['recon', 'kl']
        """
        names: list[str] = []
        for rec in self.records:
            for key in rec:
                for split in ("train_", "val_"):
                    part = key[len(split) :] if key.startswith(split) else None
                    if part and part not in _NOT_PARTS and part not in names:
                        names.append(part)
        return names

    def monitor_key(self) -> str:
        """The key "best" is ranked by: ``val_loss`` when any record has it, else ``train_loss``."""
        return "val_loss" if any("val_loss" in r for r in self.records) else "train_loss"

    def best_index(self, key: str | None = None, mode: str = "min") -> int:
        """Position (0-based) of the :meth:`best` record.

        Example:
            >>> History([{"val_loss": 2.0}, {"val_loss": 1.0}, {"val_loss": 1.5}]).best_index()
            1
        """
        if mode not in ("min", "max"):
            raise InvalidValueError(f"mode must be 'min' or 'max', got {mode!r}")
        key = key or self.monitor_key()
        scored = [
            (float(r[key]), i)
            for i, r in enumerate(self.records)
            if _number(r.get(key)) and math.isfinite(r[key])
        ]
        if not scored:
            raise InvalidValueError(
                f"no record has a finite {key!r}; keys: {', '.join(self.keys) or 'none (empty)'}"
            )
        pick = min(scored) if mode == "min" else max(scored, key=lambda t: (t[0], -t[1]))
        return pick[1]

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The records as a JSON list; written atomically to ``path`` when given."""
        text = json.dumps(self.records, indent=1, allow_nan=True) + "\n"
        if path is not None:
            atomic_write_bytes(Path(path), text.encode("utf-8"))
        return text

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> History:
        """Read records from JSON text or a ``.json`` file written by :meth:`to_json`."""
        text = str(source)
        if not text.lstrip().startswith(("[", "{")):
            text = Path(source).read_text(encoding="utf-8")
        data = json.loads(text)
        if isinstance(data, Mapping):
            data = data.get("records", data.get("epochs"))
        if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
            raise InvalidValueError("history JSON must be a list of per-epoch records (objects)")
        return cls(data)

    def to_csv(self, path: str | os.PathLike[str] | None = None) -> str:
        """The records as CSV (one column per key); written atomically to ``path`` when given."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.records)
        text = buf.getvalue()
        if path is not None:
            atomic_write_bytes(Path(path), text.encode("utf-8"))
        return text

    def __repr__(self) -> str:
        last = self.records[-1] if self.records else {}
        shown = {k: last[k] for k in ("epoch", "train_loss", "val_loss") if k in last}
        return f"History(epochs={len(self)}, last={shown})"
