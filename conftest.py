"""Fixtures for every test and doctest of the repository (``src`` and ``tests``)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _image_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The image cache of every test and doctest is a folder of this session, never the user's."""
    monkeypatch.setenv("AUTOENCODERS_CACHE", str(tmp_path_factory.getbasetemp() / "image-cache"))
