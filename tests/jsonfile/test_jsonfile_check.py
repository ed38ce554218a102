"""``docstore check`` validates the protocol's documents and names each finding's ``_id`` (item 6 of issue 15)."""

from __future__ import annotations

import pytest

import docstore
from docstore.cli import main


def test_check_reports_each_unusable_document_by_its_id(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    objective = [{"name": "loss", "type": "objective", "value": 0.5}]
    with docstore.connect(path) as db:
        db["experiments"].insert_many([{"_id": "e1", "name": "x", "version": 1}, {"_id": "e2", "version": "one"}])
        db["trials"].insert_many(
            [
                {"_id": "ok", "id": "h0", "experiment": "e1", "status": "completed", "results": objective},
                {"_id": "typo", "id": "h1", "experiment": "e1", "status": "nev"},
                {"_id": "nostatus", "id": "h2", "experiment": "e1"},
                {"_id": "noid", "experiment": "e1", "status": "new"},
                {"_id": "badparam", "id": "h4", "experiment": "e1", "status": "new", "params": [{"name": "x"}]},
                {
                    "_id": "badtype",
                    "id": "h5",
                    "experiment": "e1",
                    "status": "new",
                    "params": [{"name": "x", "type": "float", "value": 1}],
                },
                {"_id": "notalist", "id": "h6", "experiment": "e1", "status": "new", "results": {"loss": 1}},
            ]
        )
    assert main(["check", "--uri", path]) == 1
    out = capsys.readouterr().out
    expected = [
        "experiments: experiment e2 has no name",
        "experiments: experiment e2 has no integer version",
        "trials: trial typo (id h1) has status 'nev', not one of new, reserved, suspended, completed, "
        "interrupted, broken",
        "trials: trial nostatus (id h2) has no status",
        "trials: trial noid has no id",
        "trials: trial badparam (id h4) its params[0] is not a {name, type, value}",
        "trials: trial badtype (id h5) its params[0] has type 'float', not one of integer, real, categorical, fidelity",
        "trials: trial notalist (id h6) its results is a dict, not a list of {name, type, value}",
    ]
    for finding in expected:
        assert f"  - {finding}\n" in out, finding
    assert f"{len(expected)} findings in " in out
    assert "trial ok" not in out


def test_check_of_a_sound_protocol_store_finds_nothing(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    storage = docstore.setup_storage(path)
    try:
        experiment = storage.create_experiment({"name": "sound", "version": 1, "space": {"x": "uniform(0, 1)"}})
        trial = docstore.Trial(experiment=experiment["_id"], params={"x": 0.5})
        storage.register_trial(trial)
        reserved = storage.reserve_trial(experiment["_id"])
        assert reserved is not None
        reserved.results = [{"name": "loss", "type": "objective", "value": 1.0}]
        storage.push_trial_results(reserved)
        storage.set_trial_status(reserved, "completed", was="reserved")
    finally:
        storage.close()
    assert main(["check", "--uri", path]) == 0
    assert "no finding" in capsys.readouterr().out
