"""Fixtures shared by the test modules."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from autoencoders import data


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every place datasets are looked for is an empty folder under ``tmp_path``; downloads off.

    ``AUTOENCODERS_DATA`` and ``AUTOENCODERS_DOWNLOAD`` are unset, the user cache is
    ``tmp_path/xdg`` and the Debian datasets folder is ``tmp_path/debian``.
    """
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.delenv(data.DOWNLOAD_ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(data.locate, "DEBIAN_DATASETS_DIR", tmp_path / "debian")
    return tmp_path


@pytest.fixture
def benchmark_script() -> Callable[[str], ModuleType]:
    """Load a script of ``benchmarks/`` as a module by its name, to test its functions."""

    def load(name: str) -> ModuleType:
        path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
