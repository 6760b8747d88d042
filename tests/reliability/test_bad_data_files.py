"""Data files that must never reach an unpickler: the old ``processed/*.pt`` of torchvision's
MNIST classes."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoencoders.data import load_dataset
from autoencoders.errors import AutoencodersError, DatasetNotFoundError


@pytest.mark.parametrize(
    ("name", "folder"), [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")]
)
def test_legacy_processed_files_are_refused_before_torchvision(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, name: str, folder: str
) -> None:
    import torchvision.datasets

    calls = []

    class Fake:
        def __init__(self, *args, **kwargs) -> None:
            calls.append(args)

    monkeypatch.setattr(torchvision.datasets, folder, Fake)
    processed = isolated / "root" / folder / "processed"
    processed.mkdir(parents=True)
    (processed / "training.pt").write_bytes(b"a pickle would be here")
    with pytest.raises(
        DatasetNotFoundError, match=r"training.pt, an old torchvision format.*unpickling"
    ):
        load_dataset(name, root=isolated / "root", download=True)
    assert calls == []  # torchvision (and its torch.load) was never reached
    assert issubclass(DatasetNotFoundError, AutoencodersError)
