"""``import_pickleddb``: an Orion PickledDB made by Orion, imported, then used by Orion from docstore."""

from __future__ import annotations

import datetime
import importlib.util
import pickle
import uuid
from pathlib import Path
from typing import Any

import pytest
from docstore_orion import import_pickleddb

import docstore

SPACE = {"x": "uniform(0, 1)"}
ALGORITHM = {"random": {"seed": 3}}
BENCHMARK = {"name": "bench1", "algorithms": ["random"], "targets": [{"assess": {}, "task": {}}]}


def pickled_storage(path: Path) -> dict[str, Any]:
    return {"type": "legacy", "database": {"type": "pickleddb", "host": str(path)}}


def docstore_storage(kind: str, uri: str) -> dict[str, Any]:
    if kind == "legacy":
        return {"type": "legacy", "database": {"type": "docstoredb", "host": uri}}
    return {"type": "docstore", "database": {"host": uri}}


def build_orion_pickleddb(path: Path) -> None:
    """An experiment with 4 completed trials and 1 reserved, a child version, and a benchmark."""
    from orion.client import build_experiment
    from orion.storage.base import setup_storage

    client = build_experiment("mig", space=SPACE, algorithm=ALGORITHM, storage=pickled_storage(path), max_trials=10)
    for _ in range(4):
        trial = client.suggest()
        client.observe(trial, [{"name": "objective", "type": "objective", "value": trial.params["x"]}])
    running = client.suggest()  # left reserved, as by a worker that is still running...
    client.release(running, status="reserved")  # ...but without this client's heartbeat thread
    child_space = {**SPACE, "y": "uniform(0, 1, default_value=0.5)"}
    build_experiment(
        "mig", space=child_space, algorithm=ALGORITHM, storage=pickled_storage(path), branching={"enable": True}
    )
    setup_storage(pickled_storage(path)).create_benchmark(dict(BENCHMARK))


def snapshot(storage_config: dict[str, Any]) -> dict[str, Any]:
    """What Orion sees of the store: experiments, trials, algorithm state, benchmark."""
    from orion.core.io import experiment_builder
    from orion.storage.base import setup_storage

    storage = setup_storage(storage_config)
    root = experiment_builder.load("mig", version=1, storage=storage)
    child = experiment_builder.load("mig", version=2, storage=storage)
    lock = storage.get_algorithm_lock_info(uid=root.id)
    return {
        "versions": (root.version, child.version),
        "child_refers": (child.refers["root_id"] == root.id, child.refers["parent_id"] == root.id),
        "trials": sorted(
            (t.id, t.status, t.params["x"], t.objective.value if t.objective else None, _ms(t.submit_time))
            for t in root.fetch_trials()
        ),
        "child_trials_with_evc": len(child.fetch_trials(with_evc_tree=True)),
        "algorithm": (lock.configuration, pickle.dumps(lock.state)),
        "benchmarks": [b["name"] for b in storage.fetch_benchmark({})],
    }


def _ms(value: datetime.datetime) -> datetime.datetime:
    """docstore keeps datetimes to the millisecond, as MongoDB does; PickledDB to the microsecond."""
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def _uri(engine: str, tmp_path: Path) -> str:
    if engine == "jsonfile":
        return str(tmp_path / "study.json")
    if importlib.util.find_spec("mongomock") is None:
        pytest.skip("mongomock is not installed")
    return f"mongomock://mig{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize("engine", ["jsonfile", "mongomock"])
@pytest.mark.parametrize("kind", ["legacy", "docstore"])
def test_import_pickleddb_then_orion_reads_and_resumes_it(kind: str, engine: str, tmp_path: Path) -> None:
    pkl = tmp_path / "orion_db.pkl"
    build_orion_pickleddb(pkl)
    before = snapshot(pickled_storage(pkl))
    assert len(before["trials"]) == 5
    assert pickle.loads(before["algorithm"][1]) is not None

    uri = _uri(engine, tmp_path)
    report = import_pickleddb(pkl, uri)
    assert report.documents == {"experiments": 2, "algo": 2, "benchmarks": 1, "trials": 5}
    assert snapshot(docstore_storage(kind, uri)) == before

    # Orion resumes the experiment from docstore: its algorithm continues from the imported state
    from orion.client import build_experiment

    client = build_experiment("mig", version=1, storage=docstore_storage(kind, uri))
    trial = client.suggest()
    client.observe(trial, [{"name": "objective", "type": "objective", "value": 0.5}])
    assert len(client.fetch_trials_by_status("completed")) == 5


def test_import_refuses_a_destination_that_has_the_documents(tmp_path: Path) -> None:
    pkl = tmp_path / "orion_db.pkl"
    build_orion_pickleddb(pkl)
    uri = str(tmp_path / "study.json")
    import_pickleddb(pkl, uri)
    with docstore.connect(uri) as db:
        counts = {name: db[name].count_documents({}) for name in ("experiments", "trials", "algo", "benchmarks")}

    with pytest.raises(docstore.DuplicateKeyError, match="nothing was imported"):
        import_pickleddb(pkl, uri)
    with docstore.connect(uri) as db:
        assert {name: db[name].count_documents({}) for name in counts} == counts


def test_import_keeps_the_pickled_algorithm_state_bytes(tmp_path: Path) -> None:
    pkl = tmp_path / "orion_db.pkl"
    build_orion_pickleddb(pkl)
    with pkl.open("rb") as f:
        source = pickle.load(f)
    expected = {doc["experiment"]: doc["state"] for doc in source._db["algo"].find()}
    uri = str(tmp_path / "study.json")
    import_pickleddb(pkl, uri)
    with docstore.connect(uri) as db:
        assert {doc["experiment"]: doc["state"] for doc in db["algo"].find()} == expected


def test_import_of_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        import_pickleddb(tmp_path / "nope.pkl", str(tmp_path / "study.json"))
    assert not (tmp_path / "study.json").exists()


def test_docstore_import_orion_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from docstore.cli import main

    pkl = tmp_path / "orion_db.pkl"
    build_orion_pickleddb(pkl)
    uri = str(tmp_path / "study.json")
    assert main(["import-orion", str(pkl), uri]) == 0
    assert "imported 10 documents" in capsys.readouterr().out
    with docstore.connect(uri) as db:
        assert db["trials"].count_documents({"status": "completed"}) == 4
