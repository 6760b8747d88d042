"""The ``autoencoders`` command line: list models, train one into a run folder, evaluate, sweep.

::

    autoencoders list
    autoencoders train vae --set h=400 --set z=20 --epochs 10
    autoencoders evaluate runs/vae-20250101-120000
    autoencoders sweep vae --grid h=400,300 --grid z=5,10,20 --epochs 10

``python -m autoencoders`` is the same program. Every command is also a function here
(:func:`train_run`, :func:`evaluate_run`, :func:`run_sweep`, :func:`model_table`), and
:func:`main` takes an argument list, so it can be driven from Python::

    >>> from autoencoders.cli import main, parse_set
    >>> parse_set(["h=400", "hidden=[400, 100]", "noise=gaussian", "beta=0.5"])
    {'h': 400, 'hidden': [400, 100], 'noise': 'gaussian', 'beta': 0.5}
    >>> main(["list"])  # doctest: +ELLIPSIS
    name ...
    vae ...
    0

Errors a user can make (an unknown model or dataset, a bad ``--set`` key, missing data, bad
``--grid`` syntax) end the program with one line on stderr, ``autoencoders: error: ...``, and
exit status 2. ``--traceback`` shows the full traceback instead.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import math
import os
import re
import shlex
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import torch

__all__ = [
    "CLIError",
    "TrainSettings",
    "build_parser",
    "evaluate_run",
    "main",
    "model_table",
    "parse_grid",
    "parse_set",
    "parse_value",
    "run_sweep",
    "train_run",
]

logger = logging.getLogger("autoencoders.cli")

PROG = "autoencoders"
RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"


class CLIError(ValueError):
    """A usage error of the command line (bad ``--set``/``--grid`` syntax, a taken ``--out``)."""


# -- argument values -------------------------------------------------------------------------------
def parse_value(text: str) -> Any:
    """A ``--set``/``--grid`` value: JSON when it parses (numbers, lists, true/null), else the text.

    Example:
        >>> [parse_value(v) for v in ("20", "[400,100]", "gaussian", "null")]
        [20, [400, 100], 'gaussian', None]
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split at ``sep`` outside brackets/braces/quotes: ``"[1,2],[3]"`` -> ``["[1,2]", "[3]"]``."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def _key_value(item: str, option: str) -> tuple[str, str]:
    key, eq, value = item.partition("=")
    key = key.strip()
    if not eq or not key or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise CLIError(
            f"{option} expects key=value with a parameter name as key, got {item!r} "
            f"(e.g. {option} z=20)"
        )
    return key, value.strip()


def parse_set(items: Sequence[str] | None) -> dict[str, Any]:
    """``["key=value", ...]`` to a dict; values through :func:`parse_value`.

    Raises:
        CLIError: an item without ``=``, an empty or invalid key, or a key given twice.
    """
    out: dict[str, Any] = {}
    for item in items or ():
        key, value = _key_value(item, "--set")
        if key in out:
            raise CLIError(f"--set {key} given twice ({out[key]!r} and {value!r})")
        out[key] = parse_value(value)
    return out


def parse_grid(items: Sequence[str] | None) -> dict[str, list[Any]]:
    """``["h=400,300", "z=5,10"]`` to ``{"h": [400, 300], "z": [5, 10]}``.

    Commas inside brackets do not split, so lists work: ``hidden=[400],[400,100]``.

    Example:
        >>> parse_grid(["h=400,300", "hidden=[400],[400,100]"])
        {'h': [400, 300], 'hidden': [[400], [400, 100]]}

    Raises:
        CLIError: a missing ``=``, an empty value, unbalanced brackets, a key given twice.
    """
    grid: dict[str, list[Any]] = {}
    for item in items or ():
        key, text = _key_value(item, "--grid")
        if key in grid:
            raise CLIError(f"--grid {key} given twice; list all its values in one --grid")
        if text.count("[") != text.count("]") or text.count("{") != text.count("}"):
            raise CLIError(f"--grid {item!r} has unbalanced brackets")
        values = _split_top_level(text)
        if not text or any(not v.strip() for v in values):
            raise CLIError(
                f"--grid {item!r} has an empty value; expected key=v1,v2,... (e.g. --grid z=5,10)"
            )
        grid[key] = [parse_value(v.strip()) for v in values]
    return grid


def _slug(params: Mapping[str, Any]) -> str:
    """A folder name for a grid point: ``h=400_z=5``; lists as ``hidden=400-100``."""
    parts = []
    for key, value in params.items():
        text = "-".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{key}={re.sub(r'[^A-Za-z0-9.+-]+', '-', text).strip('-') or 'x'}")
    return "_".join(parts) or "default"


# -- list ------------------------------------------------------------------------------------------
def _describe(name: str) -> dict[str, Any]:
    import autoencoders

    try:
        with torch.device("meta"):
            model = autoencoders.build(name)
    except Exception:  # a model that cannot be built on the meta device: build it for real
        try:
            model = autoencoders.build(name)
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
    import autoencoders

    aliases: dict[str, list[str]] = {}
    for alias, target in autoencoders.models.aliases().items():
        aliases.setdefault(target, []).append(alias)
    rows = []
    for name in autoencoders.list_models(pattern):
        row = _describe(name)
        row["aliases"] = ", ".join(sorted(aliases.get(name, []))) or "-"
        rows.append(row)
    header = {
        "name": "name",
        "kind": "kind",
        "input": "input",
        "z": "z",
        "parameters": "parameters",
        "aliases": "aliases",
    }
    cols = list(header)
    widths = {c: max(len(str(r[c])) for r in [header, *rows]) for c in cols}
    right = {"z", "parameters"}
    lines = []
    for r in [header, *rows]:
        cells = [
            str(r[c]).rjust(widths[c])
            if c in right and r is not header
            else str(r[c]).ljust(widths[c])
            for c in cols
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# -- train -----------------------------------------------------------------------------------------
@dataclass
class TrainSettings:
    """Data and training options shared by ``train`` and ``sweep``.

    Attributes:
        data: dataset name (``fashion-mnist``, ``mnist``, ``celeba``) or a folder of images.
        data_root: where to look for the data first.
        download: let torchvision download a missing dataset.
        limit: use at most this many examples per split (quick runs).
        epochs: training epochs.
        batch_size: batch size.
        lr: learning rate (Adam).
        amp: mixed precision, ``"bf16"`` or ``"fp16"`` (None: full precision).
        compile: ``torch.compile`` the model.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        seed: seed of the initialisation, shuffling, noise and figures.
        progress: show progress bars.
        plots: draw the figures.
    """

    data: str = "fashion-mnist"
    data_root: str | None = None
    download: bool = False
    limit: int | None = None
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    amp: str | None = None
    compile: bool = False
    device: str = "auto"
    seed: int = 0
    progress: bool = True
    plots: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def _build_model(name: str, kwargs: Mapping[str, Any]) -> Any:
    import autoencoders

    kwargs = dict(kwargs)
    noise = kwargs.pop("noise", None)
    torch.manual_seed(0)  # the initialisation is re-seeded by the Trainer; keep build cheap
    return autoencoders.build(name, noise=noise, **kwargs)


def _effective_arguments(name: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The builder's defaults updated with ``kwargs`` (what the model was built with)."""
    import inspect

    import autoencoders

    out: dict[str, Any] = {}
    with contextlib.suppress(TypeError, ValueError):
        sig = inspect.signature(autoencoders.models.get(name))
        for p in sig.parameters.values():
            if p.default is not inspect.Parameter.empty:
                out[p.name] = list(p.default) if isinstance(p.default, tuple) else p.default
    out.update(kwargs)
    return json.loads(json.dumps(out, default=str))


def _dataset_name(data: str) -> str:
    """``--data``: a dataset name, ``folder:<path>``, or an existing folder of images."""
    if ":" not in data and Path(data).expanduser().is_dir():
        return f"folder:{Path(data).expanduser()}"
    return data


def _json_arg(value: Any) -> str:
    """``value`` as a ``--set`` value that needs no shell quoting: ``[1,28,28]``."""
    return json.dumps(value, separators=(",", ":"))


def _load_data(settings: TrainSettings, model: Any) -> Any:
    from autoencoders import data as data_module

    name = _dataset_name(settings.data)
    pixel_range = data_module.pixel_range_for(model)
    image_size, channels = None, None
    shape = tuple(model.input_shape)
    is_images = name.lower().startswith("folder:") or name.strip().lower() == "celeba"
    if is_images and len(shape) == 3:  # image files are read at the model's size and channels
        if shape[0] not in (1, 3):
            grey, rgb = (_json_arg([c, *shape[1:]]) for c in (1, 3))
            raise CLIError(
                f"model expects {shape[0]}-channel images (input shape {shape}) but image "
                "files are read with 1 (greyscale) or 3 (RGB) channels; pass --set "
                f"input_shape={grey} or {rgb} if the model takes it"
            )
        image_size = shape[1] if shape[1] == shape[2] else (shape[1], shape[2])
        channels = shape[0]
    logger.info("loading %s (pixel range %s)", name, list(pixel_range))
    splits = data_module.load_dataset(
        name,
        root=settings.data_root,
        pixel_range=pixel_range,
        image_size=image_size,
        channels=channels,
        limit=settings.limit,
        download=settings.download or None,
    )
    data_shape = tuple(splits.input_shape)
    if data_shape != shape:
        raise CLIError(
            f"model expects inputs of shape {shape} but {settings.data!r} has {data_shape}; "
            f"pass --set input_shape={_json_arg(list(data_shape))} if the model takes it, or "
            "pick another --data"
        )
    return splits


def _data_summary(splits: Any, settings: TrainSettings) -> dict[str, Any]:
    summary = dict(splits.summary()) if hasattr(splits, "summary") else {}
    summary.setdefault("name", settings.data)
    summary["root"] = settings.data_root
    summary["limit"] = settings.limit
    return summary


def _compute_metrics(model: Any, splits: Any, settings: TrainSettings) -> dict[str, Any]:
    from autoencoders import metrics as metrics_module

    logger.info("computing test metrics")
    result = metrics_module.evaluate_model(model, splits, seed=settings.seed)
    return json.loads(json.dumps(result, default=float))


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, default=str) + "\n", encoding="utf-8")


def _default_out(name: str, suffix: str = "") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path("runs") / f"{name}{suffix}-{stamp}"
    out, i = base, 1
    while out.exists():
        i += 1
        out = base.with_name(f"{base.name}-{i}")
    return out


def _check_out(
    out: str | os.PathLike[str] | None, name: str, overwrite: bool, suffix: str = ""
) -> Path:
    """The output folder (not yet created); an error if it already holds a run."""
    folder = Path(out) if out is not None else _default_out(name, suffix)
    if folder.exists() and not folder.is_dir():
        raise CLIError(f"--out {str(folder)!r} exists and is not a folder")
    taken = folder.is_dir() and any(
        (folder / f).exists() for f in ("model.safetensors", RUN_FILE, "comparison.csv")
    )
    if taken and not overwrite:
        raise CLIError(
            f"--out {str(folder)!r} already holds a run; choose another folder or pass --overwrite"
        )
    return folder


def _class_names(splits: Any) -> list[str] | None:
    names = getattr(splits, "class_names", None)
    return list(names) if names else None


def _fit(model: Any, splits: Any, settings: TrainSettings) -> tuple[Any, str]:
    from autoencoders.training import Trainer

    trainer = Trainer(
        model,
        lr=settings.lr,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        device=settings.device,
        amp=settings.amp,
        compile=settings.compile,
        seed=settings.seed,
        progress=settings.progress,
    )
    history = trainer.fit(splits.train, splits.val)
    return history, str(trainer.device)


def train_run(
    model: str,
    model_kwargs: Mapping[str, Any] | None = None,
    settings: TrainSettings | None = None,
    *,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    splits: Any = None,
    command: str | None = None,
) -> dict[str, Any]:
    """Train a registered model and write a complete run folder.

    The folder gets ``run.json`` (what was run), ``config.json`` + ``model.safetensors``,
    ``history.json``/``history.csv``, ``metrics.json``, the figures and ``report.md``
    (see :mod:`autoencoders.report`).

    Args:
        model: registered model name.
        model_kwargs: its keyword arguments (``noise`` and noise parameters included).
        settings: data and training options.
        out: the run folder (default ``runs/<model>-<timestamp>``).
        overwrite: allow writing into a folder that already holds a run.
        splits: already loaded data (a sweep loads it once); default: load ``settings.data``.
        command: the command line, recorded in the report.

    Returns:
        A summary: ``dir``, ``num_parameters``, ``best_val_loss``, ``metrics``, ``history``.
    """
    import autoencoders
    from autoencoders import plots, report

    settings = settings or TrainSettings()
    kwargs = dict(model_kwargs or {})
    net = _build_model(model, kwargs)  # validates the name and keywords before anything else
    folder = _check_out(out, model, overwrite)
    if splits is None:
        splits = _load_data(settings, net)
    folder.mkdir(parents=True, exist_ok=True)
    name = net.name or model
    run: dict[str, Any] = {
        "model": name,
        "model_kwargs": kwargs,
        "model_arguments": _effective_arguments(name, kwargs),
        "num_parameters": net.num_parameters(),
        "variational": net.is_variational,
        "output_activation": net.output_activation,
        "noise": repr(net.noise) if net.noise is not None else None,
        "data": _data_summary(splits, settings),
        "training": {
            k: v
            for k, v in asdict(settings).items()
            if k not in ("data", "data_root", "download", "limit", "progress", "plots", "extra")
        },
        "command": command,
        "autoencoders_version": autoencoders.__version__,
        "torch_version": torch.__version__,
        "status": "training",
    }
    _write_json(folder / RUN_FILE, run)
    logger.info("training %s (%s parameters) -> %s", name, f"{run['num_parameters']:,}", folder)
    start = time.perf_counter()
    history, device = _fit(net, splits, settings)
    run["seconds"] = round(time.perf_counter() - start, 2)
    run["training"]["device"] = device
    autoencoders.save(net, folder)
    history.to_json(folder / "history.json")
    history.to_csv(folder / "history.csv")
    net.eval()
    metrics = _compute_metrics(net, splits, settings)
    _write_json(folder / METRICS_FILE, metrics)
    if settings.plots:
        logger.info("drawing figures")
        with _seeded(settings.seed):
            report.write_figures(
                net,
                splits.test,
                folder,
                history=history,
                class_names=_class_names(splits),
                seed=settings.seed,
            )
    records = plots._records(history)
    val = plots._series(records, plots._VAL_KEYS) or []
    finite = [v for v in val if math.isfinite(v)]
    run["best_val_loss"] = min(finite) if finite else None
    run["status"] = "done"
    _write_json(folder / RUN_FILE, run)
    report.write_report(folder, title=f"Run report: {name}")
    return {
        "dir": folder,
        "model": name,
        "num_parameters": run["num_parameters"],
        "variational": net.is_variational,
        "best_val_loss": run["best_val_loss"],
        "metrics": metrics,
        "history": history,
        "seconds": run["seconds"],
    }


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


# -- evaluate --------------------------------------------------------------------------------------
def evaluate_run(
    run_dir: str | os.PathLike[str],
    *,
    data: str | None = None,
    data_root: str | None = None,
    limit: int | None = None,
    device: str = "cpu",
    download: bool = False,
) -> dict[str, Any]:
    """Reload a run folder's model, recompute ``metrics.json`` (and ``report.md``) and return it.

    The data options default to those recorded in the run's ``run.json``.
    """
    import autoencoders
    from autoencoders import report

    folder = Path(run_dir)
    if not (folder / "config.json").is_file():
        raise CLIError(f"{str(folder)!r} is not a run folder (it has no config.json)")
    model = autoencoders.load(folder, device=_resolve_device(device))
    recorded: dict[str, Any] = {}
    run_seed = 0
    if (folder / RUN_FILE).is_file():
        run = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
        recorded = run.get("data") or {}
        run_seed = (run.get("training") or {}).get("seed", 0)
    settings = TrainSettings(
        data=data or recorded.get("name") or "fashion-mnist",
        seed=int(run_seed),
        data_root=data_root if data_root is not None else recorded.get("root"),
        limit=limit if limit is not None else recorded.get("limit"),
        download=download,
    )
    splits = _load_data(settings, model)
    metrics = _compute_metrics(model, splits, settings)
    _write_json(folder / METRICS_FILE, metrics)
    report.write_report(folder, title=f"Run report: {model.name or 'model'}")
    return metrics


def _resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


# -- sweep -----------------------------------------------------------------------------------------
_MSE_KEYS = ("test_mse", "mse", "mse_per_pixel")
_ELBO_KEYS = ("test_elbo", "elbo")
_PSNR_KEYS = ("test_psnr", "psnr")


def _metric(metrics: Mapping[str, Any], keys: Sequence[str]) -> float | None:
    for key in keys:
        value = metrics.get(key)
        if isinstance(value, Mapping):
            value = value.get("value")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def run_sweep(
    model: str,
    grid: Mapping[str, Sequence[Any]],
    model_kwargs: Mapping[str, Any] | None = None,
    settings: TrainSettings | None = None,
    *,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    command: str | None = None,
) -> dict[str, Any]:
    """Train one run per combination of ``grid`` values into subfolders and compare them.

    Writes ``comparison.md`` and ``comparison.csv`` (one row per run: the grid values,
    parameters, best validation loss, test MSE, PSNR and ELBO) and ``loss_curves.png``
    with every run's curves overlaid, in ``out`` (default ``runs/<model>-sweep-<timestamp>``).

    Returns:
        ``{"dir": the sweep folder, "rows": the table rows}``.
    """
    from autoencoders import plots, report

    if not grid:
        raise CLIError("sweep needs at least one --grid key=v1,v2,...")
    base = dict(model_kwargs or {})
    clash = sorted(set(base) & set(grid))
    if clash:
        raise CLIError(f"{', '.join(clash)} given both in --set and --grid; keep one")
    settings = settings or TrainSettings()
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    nets = [_build_model(model, {**base, **c}) for c in combos]  # validate every point first
    folder = _check_out(out, model, overwrite, suffix="-sweep")
    data_cache: dict[str, Any] = {}
    for net in nets:  # load the data (once per input shape / pixel range) before writing
        key = f"{tuple(net.input_shape)}|{net.output_activation}"
        if key not in data_cache:
            data_cache[key] = _load_data(settings, net)
    folder.mkdir(parents=True, exist_ok=True)
    rows, histories = [], {}
    for i, (combo, net) in enumerate(zip(combos, nets), 1):
        key = f"{tuple(net.input_shape)}|{net.output_activation}"
        slug = _slug(combo)
        logger.info("sweep run %d/%d: %s", i, len(combos), slug)
        summary = train_run(
            model,
            {**base, **combo},
            settings,
            out=folder / slug,
            overwrite=overwrite,
            splits=data_cache[key],
            command=command,
        )
        histories[slug] = summary["history"]
        metrics = summary["metrics"]
        row: dict[str, Any] = {"run": slug, **{k: _cell(v) for k, v in combo.items()}}
        row["params"] = summary["num_parameters"]
        row["best_val_loss"] = summary["best_val_loss"]
        row["test_mse"] = _metric(metrics, _MSE_KEYS)
        row["test_psnr"] = _metric(metrics, _PSNR_KEYS)
        row["test_elbo"] = _metric(metrics, _ELBO_KEYS) if summary["variational"] else None
        row["seconds"] = summary["seconds"]
        rows.append(row)
    title = f"Sweep of {model}: " + ", ".join(f"{k} in {v}" for k, v in grid.items())
    md, _ = report.write_comparison(rows, folder, title=title)
    if settings.plots:
        plots.plot_loss_curves(histories, title=f"{model} sweep", save=folder / "loss_curves.png")
        with md.open("a", encoding="utf-8") as fh:
            fh.write("\n![loss curves of every run](loss_curves.png)\n")
    return {"dir": folder, "rows": rows}


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value


# -- argument parsing ------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _add_data_options(p: argparse.ArgumentParser, defaults: bool = True) -> None:
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        default="fashion-mnist" if defaults else None,
        help="dataset name (fashion-mnist, mnist, celeba) or a folder of images"
        + (" (default: fashion-mnist)" if defaults else " (default: the run's)"),
    )
    g.add_argument("--data-root", metavar="DIR", help="where to look for the data first")
    g.add_argument(
        "--download", action="store_true", help="download the dataset when it is not found locally"
    )
    g.add_argument(
        "--limit",
        type=_positive_int,
        metavar="N",
        help="use at most N examples per split (quick runs)",
    )


def _add_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a model argument, e.g. --set z=20 --set hidden=[400,100] "
        "--set noise=gaussian (values are JSON when they parse)",
    )
    _add_data_options(p)
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=_positive_int, default=10, help="default: 10")
    g.add_argument("--batch-size", type=_positive_int, default=128, help="default: 128")
    g.add_argument("--lr", type=_positive_float, default=1e-3, help="Adam learning rate (1e-3)")
    g.add_argument(
        "--amp", choices=("bf16", "fp16"), default=None, help="mixed precision (default: off)"
    )
    g.add_argument("--compile", action="store_true", help="torch.compile the model")
    g.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1, mps")
    g.add_argument("--seed", type=int, default=0, help="default: 0")
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="DIR", help="output folder (default: runs/<model>-<time>)")
    o.add_argument(
        "--overwrite", action="store_true", help="write into --out even if it already holds a run"
    )
    o.add_argument("--no-plots", dest="plots", action="store_false", help="skip the figures")
    o.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars (default: when stderr is a terminal)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``autoencoders`` program."""
    parser = _Parser(
        prog=PROG,
        description="Build, train, evaluate and compare autoencoders.",
        epilog="Run 'autoencoders COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    parser.add_argument(
        "--traceback", action="store_true", help="show the full traceback on errors"
    )
    # -q and --traceback also work after the command; SUPPRESS keeps the top-level value
    common = _Parser(add_help=False)
    common.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="log warnings only"
    )
    common.add_argument(
        "--traceback",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback on errors",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser(
        "list",
        parents=[common],
        help="list the registered models",
        description="List the registered models with their default sizes.",
    )
    p.add_argument("pattern", nargs="?", help="shell-style filter, e.g. '*vae*'")

    p = sub.add_parser(
        "train",
        parents=[common],
        help="train a model into a run folder",
        description="Train a model and write a run folder: weights, history, "
        "metrics, figures and report.md.",
    )
    p.add_argument("model", help="a registered model name (see 'autoencoders list')")
    _add_train_options(p)

    p = sub.add_parser(
        "evaluate",
        parents=[common],
        help="recompute a run's metrics",
        description="Reload a run's model and recompute its metrics.json.",
    )
    p.add_argument("run_dir", help="a folder written by 'autoencoders train'")
    _add_data_options(p, defaults=False)
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, ...")

    p = sub.add_parser(
        "sweep",
        parents=[common],
        help="train one run per grid point and compare them",
        description="Train one run per combination of --grid values and write "
        "comparison.md/.csv and overlaid loss curves.",
    )
    p.add_argument("model", help="a registered model name")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="values of one model argument, e.g. --grid h=400,300 --grid z=5,10,20",
    )
    _add_train_options(p)
    return parser


def _version() -> str:
    from autoencoders import __version__

    return __version__


def _settings(args: argparse.Namespace) -> TrainSettings:
    progress = args.progress if args.progress is not None else sys.stderr.isatty()
    return TrainSettings(
        data=args.data,
        data_root=args.data_root,
        download=args.download,
        limit=args.limit,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        amp=args.amp,
        compile=args.compile,
        device=args.device,
        seed=args.seed,
        progress=progress,
        plots=args.plots,
    )


def _print_metrics(metrics: Mapping[str, Any]) -> None:
    from autoencoders.report import METRIC_LABELS, _flat_metrics, format_value

    flat = _flat_metrics(metrics)
    labels = {k: METRIC_LABELS.get(k, k) for k in flat}
    width = max((len(v) for v in labels.values()), default=0)
    for key, value in flat.items():
        print(f"{labels[key].ljust(width)}  {format_value(value)}")


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    command = " ".join([PROG, *map(shlex.quote, argv)])
    if args.command == "list":
        print(model_table(args.pattern))
        return 0
    if args.command == "train":
        summary = train_run(
            args.model,
            parse_set(args.set),
            _settings(args),
            out=args.out,
            overwrite=args.overwrite,
            command=command,
        )
        _print_metrics(summary["metrics"])
        print(f"run folder: {summary['dir']}  (report: {summary['dir'] / 'report.md'})")
        return 0
    if args.command == "evaluate":
        metrics = evaluate_run(
            args.run_dir,
            data=args.data,
            data_root=args.data_root,
            limit=args.limit,
            device=args.device,
            download=args.download,
        )
        _print_metrics(metrics)
        return 0
    if args.command == "sweep":
        result = run_sweep(
            args.model,
            parse_grid(args.grid),
            parse_set(args.set),
            _settings(args),
            out=args.out,
            overwrite=args.overwrite,
            command=command,
        )
        folder = result["dir"]
        print((folder / "comparison.md").read_text(encoding="utf-8").split("\n", 2)[2].strip())
        n = len(result["rows"])
        print(f"sweep folder: {folder}  ({n} runs; comparison.md, comparison.csv)")
        return 0
    raise CLIError(f"unknown command {args.command!r}")  # pragma: no cover - argparse checks


def _expected_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [ValueError, TypeError, OSError, ImportError]
    with contextlib.suppress(ImportError):
        from autoencoders.data import DatasetNotFoundError

        errors.insert(0, DatasetNotFoundError)
    return tuple(errors)


def _error_message(exc: BaseException) -> str:
    """One line for an expected error; a missing dataset's hint names this program's options."""
    from autoencoders.data import DatasetNotFoundError

    if isinstance(exc, DatasetNotFoundError):
        text = exc.describe(
            root_option="--data-root DIR", download_option="--download", one_line=True
        )
    else:
        text = str(exc)
    return " ".join(text.split()) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``autoencoders`` program on ``argv`` (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 on a usage or data error (one line on stderr).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    package_logger = logging.getLogger("autoencoders")
    old_level = package_logger.level
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.WARNING if args.quiet else logging.INFO)
    try:
        return _run(args, argv)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except _expected_errors() as exc:
        if args.traceback:
            raise
        print(f"{PROG}: error: {_error_message(exc)}", file=sys.stderr)
        return 2
    finally:
        package_logger.removeHandler(handler)
        package_logger.setLevel(old_level)
