"""Saving, loading, checkpointing and resuming never pickle: the pickle entry points are
replaced by functions that record the call and raise, and everything must still work."""

from __future__ import annotations

import _pickle
import ast
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.serialization

import autoencoders

SHAPE = (1, 8, 8)
SRC = Path(autoencoders.__file__).parent


class PickleUsedError(AssertionError):
    pass


@pytest.fixture
def no_pickle(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Make every way into pickle (and ``torch.load``/``torch.save``) raise; yield the calls."""
    calls: list[str] = []

    def forbidden(name: str):
        def fail(*args: object, **kwargs: object) -> None:
            calls.append(name)
            raise PickleUsedError(f"{name} was called; autoencoders must not use pickle")

        return fail

    def forbidden_class(name: str) -> type:
        # a class, so ``class X(pickle.Unpickler)`` in third-party code still imports
        return type(name.rsplit(".", 1)[-1], (), {"__init__": forbidden(name)})

    for module in (pickle, _pickle):
        prefix = module.__name__
        for fn in ("load", "loads", "dump", "dumps"):
            monkeypatch.setattr(module, fn, forbidden(f"{prefix}.{fn}"))
        for cls in ("Unpickler", "Pickler"):
            monkeypatch.setattr(module, cls, forbidden_class(f"{prefix}.{cls}"))
    for module in (torch, torch.serialization):
        monkeypatch.setattr(module, "load", forbidden(f"{module.__name__}.load"))
        monkeypatch.setattr(module, "save", forbidden(f"{module.__name__}.save"))
    with pytest.raises(PickleUsedError):  # the patches are live
        pickle.loads(b"")
    calls.clear()
    yield calls
    assert calls == [], f"pickle was used (and the error swallowed): {calls}"


def _vae(seed: int) -> autoencoders.Autoencoder:
    torch.manual_seed(seed)
    return autoencoders.build("vae", h=16, z=3, input_shape=SHAPE, noise="masking", p=0.1)


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_save_and_load_without_pickle(no_pickle: list[str], tmp_path: Path) -> None:
    model = autoencoders.build("conv_vae", z=8, filters=(4, 8, 8)).eval()  # has BatchNorm buffers
    folder = autoencoders.save(model, tmp_path / "m")
    again = autoencoders.load(folder)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(again.reconstruct(x), model.reconstruct(x))
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]


def test_train_checkpoint_and_resume_without_pickle(no_pickle: list[str], tmp_path: Path) -> None:
    x = torch.rand(40, *SHAPE, generator=torch.Generator().manual_seed(1))
    kwargs = {"batch_size": 16, "progress": False, "device": "cpu", "scheduler": "exponential"}

    first = _vae(seed=0)
    autoencoders.Trainer(first, checkpoint_dir=tmp_path / "ckpt", epochs=1, **kwargs).fit(x)

    resumed = _vae(seed=99)  # other initial weights: everything must come from the checkpoint
    trainer = autoencoders.Trainer(resumed, checkpoint_dir=tmp_path / "ckpt", epochs=2, **kwargs)
    history = trainer.fit(x, resume=True)
    assert history["epoch"] == [1, 2]

    # the same as an uninterrupted two-epoch run, so the optimizer, scheduler and RNG states
    # all came back through the pickle-free format
    straight = _vae(seed=0)
    autoencoders.Trainer(straight, epochs=2, **kwargs).fit(x)
    expected, got = _weights(straight), _weights(resumed)
    assert got.keys() == expected.keys()
    for key in expected:
        assert torch.equal(got[key], expected[key]), key

    written = [p.suffix for p in (tmp_path / "ckpt").rglob("*") if p.is_file()]
    assert not {".pt", ".pth", ".pkl", ".pickle", ".bin"} & set(written), written


def _pickle_uses(tree: ast.AST) -> Iterator[tuple[int, str]]:
    banned = {"pickle", "_pickle", "cloudpickle", "dill", "joblib"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names if a.name in banned)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in banned:
            yield node.lineno, f"from {node.module}"
        elif isinstance(node, ast.ImportFrom) and node.module in ("torch", "torch.serialization"):
            names = [a.name for a in node.names if a.name in ("load", "save")]
            yield from ((node.lineno, f"from {node.module} import {n}") for n in names)
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in ("load", "save")
            and isinstance(node.value, ast.Name)
            and node.value.id == "torch"
        ):
            yield node.lineno, f"torch.{node.attr}"


def test_library_source_never_reaches_for_pickle() -> None:
    """A static backstop for the code paths that the tests above do not run."""
    offenders = [
        f"{path.relative_to(SRC)}:{line}: {what}"
        for path in sorted(SRC.rglob("*.py"))
        for line, what in _pickle_uses(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert offenders == []
