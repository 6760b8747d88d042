"""Nested training state as JSON plus a flat dict of tensors: the checkpoint format, no pickle.

Optimizer, scheduler and callback states are nested dicts and lists of numbers, strings and
tensors, sometimes with integer keys or tuples. :func:`split_state` replaces every tensor by a
reference ``{"__tensor__": name}`` and collects the tensors in a flat dict (for safetensors);
dicts whose keys are not all strings and tuples are tagged so that :func:`join_state` rebuilds
exactly the same structure. Anything else (a function, an arbitrary object) is a
:class:`TypeError` that names where it was found.

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
from typing import Any

import torch

__all__ = ["dumps", "join_state", "split_state"]

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
                raise TypeError(
                    f"{path} has a key {k!r} of type {type(k).__name__}; checkpoint state "
                    "keys must be strings or numbers"
                )
        return {_ITEMS: [[k, _split(v, f"{path}.{k}", tensors)] for k, v in obj.items()]}
    raise TypeError(
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
                    raise ValueError(
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
