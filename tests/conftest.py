"""Fixtures shared by the test modules."""

from __future__ import annotations

from pathlib import Path

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
