"""The registered models as a run sees them: built with checks, their arguments, the listing."""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
from collections.abc import Mapping
from typing import Any

import torch

from autoencoders.model import Autoencoder
from autoencoders.registry import models
from autoencoders.zoo import build, list_models

__all__ = ["build_model", "describe_model", "model_arguments", "model_table"]

logger = logging.getLogger("autoencoders.runs")


def build_model(name: str, kwargs: Mapping[str, Any] | None = None) -> Autoencoder:
    """Build a registered model for a run: the name and every keyword checked first.

    ``noise`` and the noise transform's own keywords (``noise_factor``, ``p``, ...) may be among
    ``kwargs`` (see :func:`autoencoders.build`). The global RNG is seeded (0) first so the
    build is reproducible; the Trainer re-seeds before training.

    Example:
        >>> build_model("dae", {"h": 16, "z": 2, "noise_factor": 0.3}).noise.noise_factor
        0.3
    """
    torch.manual_seed(0)
    return build(name, **dict(kwargs or {}))


def model_arguments(name: str, kwargs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The builder's defaults updated with ``kwargs``: what the model was built with, as JSON.

    Example:
        >>> model_arguments("vae", {"z": 2})["z"], model_arguments("vae")["h"]
        (2, 400)
    """
    out: dict[str, Any] = {}
    with contextlib.suppress(TypeError, ValueError):
        sig = inspect.signature(models.get(name))
        for p in sig.parameters.values():
            if p.default is not inspect.Parameter.empty:
                out[p.name] = list(p.default) if isinstance(p.default, tuple) else p.default
    out.update(kwargs or {})
    return json.loads(json.dumps(out, default=str))


def describe_model(name: str) -> dict[str, str]:
    """One row of :func:`model_table`: kind, input shape, z and parameter count (defaults).

    The model is built on the meta device when it can be (no memory, no time); a model
    that cannot be built with its defaults is listed with ``?`` and a warning in the log.

    Example:
        >>> describe_model("dae")
        {'name': 'dae', 'kind': 'DAE', 'input': '1x28x28', 'z': '20', 'parameters': '644,804'}
    """
    try:
        with torch.device("meta"):
            model = build(name)
    except Exception:  # a model that cannot be built on the meta device: build it for real
        try:
            model = build(name)
        except Exception as exc:  # a broken plugin must not break the listing
            logger.warning("cannot build model %r with its defaults: %s", name, exc)
            return {"name": name, "kind": "?", "input": "?", "z": "?", "parameters": "?"}
    kind = "VAE" if model.is_variational else "AE"
    if model.noise is not None:
        kind = "D" + kind
    return {
        "name": name,
        "kind": kind,
        "input": "x".join(map(str, model.input_shape)),
        "z": str(model.z_dim),
        "parameters": f"{model.num_parameters():,}",
    }


def model_table(pattern: str | None = None) -> str:
    """The registered models as an aligned text table: kind, input shape, z, default
    parameter count and aliases.

    Args:
        pattern: optional shell-style filter on the names.

    Example:
        >>> print(model_table("vae"))  # doctest: +NORMALIZE_WHITESPACE
        name  kind  input    z   parameters  aliases
        vae   VAE   1x28x28  20     652,824  dense_vae, mlp_vae
    """
    aliases: dict[str, list[str]] = {}
    for alias, target in models.aliases().items():
        aliases.setdefault(target, []).append(alias)
    rows = []
    for name in list_models(pattern):
        row = describe_model(name)
        row["aliases"] = ", ".join(sorted(aliases.get(name, []))) or "-"
        rows.append(row)
    cols = ["name", "kind", "input", "z", "parameters", "aliases"]
    header = {c: c for c in cols}
    widths = {c: max(len(r[c]) for r in [header, *rows]) for c in cols}
    right = {"z", "parameters"}
    lines = []
    for r in [header, *rows]:
        cells = [
            r[c].rjust(widths[c]) if c in right and r is not header else r[c].ljust(widths[c])
            for c in cols
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
