"""A ``run.json`` that is damaged or hand-edited: every reader names the field or refuses the
file as a :class:`~autoencoders.errors.RunError`, the report is still written, and a resumed
experiment trains the run afresh instead of crashing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autoencoders import cli, report, runs
from autoencoders.data import from_tensors
from autoencoders.runs.folder import finished_run, same_run

pytest.importorskip("matplotlib")

QUICK = runs.RunSettings(epochs=1, batch_size=16, progress=False, plots=False)
KWARGS = {"h": 8, "z": 2}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    data = from_tensors(torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    runs.train_run("ae", KWARGS, QUICK, out=folder, splits=data)
    return folder


@pytest.fixture
def edited(run_dir: Path, tmp_path: Path):
    """A copy of the run folder whose ``run.json`` the test writes."""
    folder = tmp_path / "copy"
    folder.mkdir()
    for p in run_dir.iterdir():
        if p.is_file():
            (folder / p.name).write_bytes(p.read_bytes())
    good = json.loads((run_dir / "run.json").read_text())

    def write(record) -> Path:
        text = record if isinstance(record, str) else json.dumps(record)
        (folder / "run.json").write_text(text)
        return folder

    return good, write


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("model_kwargs", [1], "'model_kwargs' is a list ([1]); a run records an object there"),
        ("training", "fast", "'training' is a string ('fast'); a run records an object there"),
        ("data", 3, "'data' is an integer (3); a run records an object or null there"),
        ("num_parameters", "12", "'num_parameters' is a string ('12'); a run records an integer"),
        ("num_parameters", True, "'num_parameters' is true or false (True)"),
        ("seconds", None, "'seconds' is null (None); a run records a number there"),
        ("model", 7, "'model' is an integer (7); a run records a string there"),
        ("training.seed", "abc", "'training.seed' is a string ('abc'); a run records an integer"),
        ("training.seed", None, "'training.seed' is null (None)"),
        ("training.optimizer_kwargs", [1], "'training.optimizer_kwargs' is a list ([1])"),
        ("data.name", 5, "'data.name' is an integer (5); a run records a string there"),
    ],
)
def test_a_wrongly_typed_field_is_named(edited, field, value, message) -> None:
    good, write = edited
    record = json.loads(json.dumps(good))
    *outer, key = field.split(".")
    (record[outer[0]] if outer else record)[key] = value
    folder = write(record)
    for read in (runs.run_spec, runs.evaluate_run):
        with pytest.raises(runs.RunError, match="run.json") as info:
            read(folder)
        assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [("{not json", "is not valid JSON"), ("[1, 2]", "holds a list; a run writes an object")],
)
def test_a_run_json_that_is_no_record_is_refused(edited, text, message) -> None:
    _, write = edited
    folder = write(text)
    with pytest.raises(runs.RunError, match=message):
        runs.run_spec(folder)
    assert cli.main(["-q", "train", "--from", str(folder), "--out", str(folder / "again")]) == 2


def test_a_resumed_experiment_does_not_reuse_a_damaged_record(edited, caplog) -> None:
    good, write = edited
    assert finished_run(write(good), "ae", KWARGS, QUICK) is not None  # the intact one is reused
    folder = write({**good, "training": []})
    assert not same_run(folder, "ae", KWARGS, QUICK)
    assert finished_run(folder, "ae", KWARGS, QUICK) is None
    assert "not reusing the run" in caplog.text and "'training' is a list" in caplog.text


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_edit_of_a_field_is_read_or_refused_clearly(edited, data) -> None:
    """Any JSON value in any field: the readers return or raise a RunError (or, for the
    settings, the library's own refusal of the value); the report is always written."""
    good, write = edited
    record = json.loads(json.dumps(good))
    where = data.draw(st.sampled_from(sorted(good) + ["training." + k for k in good["training"]]))
    value = data.draw(JSON)
    if where.startswith("training."):
        record["training"][where.split(".", 1)[1]] = value
    else:
        record[where] = value
    folder = write(record)
    try:
        model, kwargs, again = runs.run_spec(folder)
    except runs.RunError:
        pass
    else:
        assert isinstance(model, str) and isinstance(kwargs, dict)
        try:
            again.check()
        except (ValueError, TypeError) as exc:
            assert type(exc).__module__.startswith("autoencoders"), repr(exc)
    assert isinstance(same_run(folder, "ae", KWARGS, QUICK), bool)
    assert report.write_report(folder).is_file()


@pytest.mark.parametrize("field", ["num_parameters", "variational", "model"])
def test_a_record_missing_a_field_is_not_reused(edited, field, caplog) -> None:
    good, write = edited
    folder = write({k: v for k, v in good.items() if k != field})
    assert finished_run(folder, "ae", KWARGS, QUICK) is None  # trained again, no KeyError
