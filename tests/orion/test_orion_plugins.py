"""The two Orion plug-ins beyond Orion's own storage tests: registration, values, errors, and the lease."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import multiprocessing
import os
import pickle
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from docstore_orion import Docstore, DocstoreDB
from docstore_orion.database import store_uri
from orion.core.io.database import Database, DatabaseError, database_factory
from orion.core.io.database import DuplicateKeyError as OrionDuplicateKeyError
from orion.core.worker.trial import Trial
from orion.storage.base import FailedUpdate, LockedAlgorithmState, setup_storage, storage_factory

import docstore

ENGINES = ["jsonfile", "mongomock"]


@pytest.fixture(params=ENGINES)
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "mongomock":
        pytest.importorskip("mongomock", reason="mongomock is not installed")
        return f"mongomock://orion-{tmp_path.name}"
    return str(tmp_path / "study.json")


def native(uri: str, **settings: Any) -> Any:
    return setup_storage({"type": "docstore", "database": {"host": uri, **settings}})


def a_trial(experiment: Any, x: float, **fields: Any) -> Trial:
    return Trial(experiment=experiment, params=[{"name": "/x", "type": "real", "value": x}], **fields)


# -- registration -----------------------------------------------------------------------


def test_orion_finds_both_plugins_by_type_name() -> None:
    assert database_factory.get_class("docstoredb") is DocstoreDB
    assert storage_factory.get_class("docstore") is Docstore


def test_the_entry_points_are_installed() -> None:
    """Orion imports plug-ins from these groups; without them a user's config names an unknown type."""
    try:
        dist = importlib.metadata.distribution("docstore")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("docstore is not installed as a distribution (running from a source tree)")
    found = {(ep.group, ep.name, ep.value) for ep in dist.entry_points}
    assert ("Database", "docstoredb", "docstore_orion.database:DocstoreDB") in found, (
        'add to pyproject.toml: [project.entry-points.Database] docstoredb = "docstore_orion.database:DocstoreDB"'
    )
    assert ("BaseStorageProtocol", "docstore", "docstore_orion.storage:Docstore") in found, (
        'add to pyproject.toml: [project.entry-points.BaseStorageProtocol] docstore = "docstore_orion.storage:Docstore"'
    )


# -- DocstoreDB ---------------------------------------------------------------------------


def test_store_uri_completes_orion_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert store_uri("study.json") == str(tmp_path / "study.json")
    assert store_uri("mongodb://h1:27017,h2", "orion") == "mongodb://h1:27017,h2/orion"
    assert store_uri("mongodb://h1/?replicaSet=rs", "orion", "u", "p@ss") == "mongodb://u:p%40ss@h1/orion?replicaSet=rs"
    assert store_uri("mongodb://a:b@h1/mine", "orion", "u", "p") == "mongodb://a:b@h1/mine"
    assert store_uri("mongomock://x", "orion") == "mongomock://x"


def test_values_cross_as_orion_expects(uri: str) -> None:
    db = DocstoreDB(host=uri)
    stamp = dt.datetime(2024, 5, 6, 7, 8, 9, 123456)
    doc = {"when": stamp, "x": np.float32(0.5), "n": np.int64(3), "arr": np.arange(2), "t": (1, 2)}
    assert db.write("things", doc) == 1
    assert isinstance(doc["_id"], str)  # written back, as pymongo does
    (stored,) = db.read("things", {"_id": doc["_id"]})
    assert stored["when"] == stamp.replace(microsecond=123000)
    assert stored["when"].tzinfo is None
    assert stored == {"_id": doc["_id"], "when": stored["when"], "x": 0.5, "n": 3, "arr": [0, 1], "t": [1, 2]}
    assert db.read("things", {"when": {"$lte": stamp}}) == [stored]


def test_write_returns_matches_and_keeps_id_immutable(uri: str) -> None:
    db = DocstoreDB(host=uri)
    db.write("trials", [{"_id": 1, "status": "new"}, {"_id": 2, "status": "new"}])
    assert db.write("trials", {"status": "new"}, query={"_id": 1}) == 1  # matched, nothing changed
    assert db.write("trials", {"_id": 1, "status": "reserved"}, query={"status": "new"}) == 1
    assert db.write("trials", {"_id": 3, "status": "x"}, query={"_id": 2}) == 0
    assert sorted((d["_id"], d["status"]) for d in db.read("trials")) == [(1, "reserved"), (2, "new")]
    after = db.read_and_write("trials", {"status": "new"}, {"status": "reserved"}, selection={"status": 1})
    assert after == {"_id": 2, "status": "reserved"}
    assert db.read_and_write("trials", {"status": "new"}, {"status": "reserved"}) is None
    assert db.count("trials", {"status": "reserved"}) == 2
    assert db.remove("trials", {"_id": {"$in": [1, 2]}}) == 2


def test_indexes_and_duplicates(uri: str) -> None:
    db = DocstoreDB(host=uri)
    db.ensure_index("experiments", [("name", Database.ASCENDING), ("version", Database.ASCENDING)], unique=True)
    db.ensure_index("trials", [("end_time", Database.DESCENDING)])
    assert db.index_information("experiments") == {"_id_": True, "name_1_version_1": True}
    assert db.index_information("trials") == {"_id_": True, "end_time_-1": False}
    db.write("experiments", {"name": "a", "version": 1})
    with pytest.raises(OrionDuplicateKeyError):
        db.write("experiments", {"name": "a", "version": 1})
    db.drop_index("experiments", "name_1_version_1")
    assert db.index_information("experiments") == {"_id_": True}
    with pytest.raises(DatabaseError, match="index not found with name"):
        db.drop_index("experiments", "name_1_version_1")


def test_docstoredb_pickles_by_uri_and_reopens(tmp_path: Path) -> None:
    db = DocstoreDB(host=str(tmp_path / "study.json"))
    db.write("c", {"_id": "a"})
    copy = pickle.loads(pickle.dumps(db))
    assert copy.is_connected
    assert copy.read("c") == [{"_id": "a"}]
    copy.close_connection()
    assert not copy.is_connected
    assert copy.count("c") == 1  # opened again on use


# -- Docstore (native) ---------------------------------------------------------------------


def test_native_storage_round_trip_in_orion_types(uri: str) -> None:
    storage = native(uri)
    config: dict[str, Any] = {"name": "e", "version": 1, "algorithm": {"random": {"seed": 1}}}
    storage.create_experiment(config)
    trial = storage.register_trial(a_trial(config["_id"], 0.25))
    assert isinstance(trial.id_override, str)
    assert trial.submit_time is not None
    assert trial.submit_time.tzinfo is None

    reserved = storage.reserve_trial(type("Exp", (), {"id": config["_id"]})())
    assert isinstance(reserved, Trial)
    assert reserved.status == "reserved"
    assert reserved.start_time.tzinfo is None

    # Orion completes a trial by pushing its whole local copy
    reserved.status = "completed"
    reserved.end_time = dt.datetime.utcnow()
    reserved.results = [Trial.Result(name="objective", type="objective", value=1.5)]
    assert storage.retrieve_result(reserved) is reserved
    assert reserved.objective.value == 1.5
    storage.push_trial_results(reserved)
    (done,) = storage.fetch_trials(uid=config["_id"])
    assert (done.status, done.objective.value) == ("completed", 1.5)
    assert storage.count_completed_trials(type("Exp", (), {"id": config["_id"]})()) == 1
    assert storage.update_heartbeat(done) == 0  # no longer reserved: Orion's pacemaker stops


def test_native_push_fails_for_a_reservation_taken_over(uri: str) -> None:
    storage = native(uri)
    config: dict[str, Any] = {"name": "e", "version": 1, "algorithm": {}}
    storage.create_experiment(config)
    experiment = type("Exp", (), {"id": config["_id"]})()
    storage.register_trial(a_trial(config["_id"], 0.5))
    mine = storage.reserve_trial(experiment)
    storage.set_trial_status(mine, "interrupted", was="reserved")  # lost, then given to another worker
    time.sleep(0.002)
    assert storage.reserve_trial(experiment) is not None
    mine.status = "completed"
    with pytest.raises(FailedUpdate):
        storage.push_trial_results(mine)


def test_native_heartbeat_interval_is_not_stored_as_a_heartbeat(uri: str) -> None:
    storage = native(uri)
    config: dict[str, Any] = {"name": "e", "version": 1, "algorithm": {}}
    storage.create_experiment(config)
    trial = storage.register_trial(a_trial(config["_id"], 0.5))
    storage.set_trial_status(trial, "reserved", heartbeat=120)  # what Orion's client passes
    assert isinstance(storage.get_trial(trial).heartbeat, dt.datetime)
    assert isinstance(trial.heartbeat, dt.datetime)


def test_native_drops_fields_orion_does_not_know(uri: str) -> None:
    storage = native(uri)
    config: dict[str, Any] = {"name": "e", "version": 1, "algorithm": {}}
    storage.create_experiment(config)
    trial = storage.register_trial(a_trial(config["_id"], 0.5))
    with docstore.connect(uri) as db:
        db["trials"].update_one({"_id": trial.id_override}, {"$set": {"notes": "from another tool"}})
    assert storage.get_trial(trial).to_dict() == trial.to_dict()


def test_native_storage_pickles_by_uri(tmp_path: Path) -> None:
    storage = native(str(tmp_path / "study.json"), lock_lease=5)
    storage.create_experiment({"name": "e", "version": 1, "algorithm": {}})
    copy = pickle.loads(pickle.dumps(storage))
    assert copy.lock_lease == 5
    assert copy.fetch_experiments({}, {"name": 1, "_id": 0}) == [{"name": "e"}]
    assert isinstance(copy._db, DocstoreDB)
    assert copy._db.count("experiments") == 1


def _hold_lock_then_wait(uri: str, uid: Any, ready: Any) -> None:
    storage = native(uri, lock_lease=1)
    with storage.acquire_algorithm_lock(uid=uid, timeout=10) as locked:
        locked.set_state({"by": "the dead worker"})
        ready.set()
        time.sleep(60)  # killed long before


def test_native_lock_of_a_killed_worker_is_taken_over_after_its_lease(tmp_path: Path) -> None:
    uri = str(tmp_path / "study.json")
    storage = native(uri, lock_lease=1)
    config: dict[str, Any] = {"name": "e", "version": 1, "algorithm": {"random": {}}}
    storage.create_experiment(config)
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    worker = context.Process(target=_hold_lock_then_wait, args=(uri, config["_id"], ready))
    worker.start()
    try:
        assert ready.wait(60)
        assert storage.get_algorithm_lock_info(uid=config["_id"]).locked
        os.kill(worker.pid, signal.SIGKILL)  # type: ignore[arg-type]
        worker.join(10)
        started = time.monotonic()
        with storage.acquire_algorithm_lock(uid=config["_id"], timeout=10, retry_interval=0.1) as locked:
            assert isinstance(locked, LockedAlgorithmState)
            assert locked.state is None  # the dead worker's state was never saved
            locked.set_state({"by": "me"})
        assert time.monotonic() - started < 5
    finally:
        if worker.is_alive():
            worker.kill()
            worker.join()
    assert storage.get_algorithm_lock_info(uid=config["_id"]).state == {"by": "me"}
