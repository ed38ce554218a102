"""The storage protocol on every engine (``store_uri`` of conftest.py), plus setup_storage and layering."""

from __future__ import annotations

import ast
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

import docstore
from docstore.errors import MissingDependency
from docstore.storage import ReadOnlyStorage, Storage, Trial, setup_storage
from docstore.testing.protocol_suite import ProtocolSuite, add_trials, make_experiment


@pytest.fixture
def storage(store_uri: str) -> Iterator[Storage]:
    """A fresh, strict Storage on an empty store, once per engine."""
    try:
        opened = setup_storage(store_uri)
    except MissingDependency as exc:
        pytest.skip(str(exc))
    try:
        yield opened
    finally:
        if store_uri.startswith("mongodb"):
            for name in opened.db.list_collection_names():
                opened.db.drop_collection(name)
        opened.close()


class TestProtocol(ProtocolSuite):
    pass


# ---------------------------------------------------------------- setup_storage


def test_setup_storage_uses_docstore_uri_then_the_default_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DOCSTORE_URI", raising=False)
    with setup_storage() as default:
        make_experiment(default)
    assert (tmp_path / "docstore.json").exists()
    monkeypatch.setenv("DOCSTORE_URI", str(tmp_path / "env.json"))
    with setup_storage() as from_env:
        assert from_env.fetch_experiments({}) == []
        make_experiment(from_env)
    assert (tmp_path / "env.json").exists()
    with setup_storage(tmp_path / "docstore.json") as again:
        assert [e["name"] for e in again.fetch_experiments({})] == ["exp"]


def test_setup_storage_debug_is_ephemeral(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCSTORE_URI", str(tmp_path / "never.json"))
    with setup_storage(debug=True) as first:
        make_experiment(first)
        assert first.db.capabilities.persistent is False
    with setup_storage(debug=True) as second:
        assert second.fetch_experiments({}) == []
    assert list(tmp_path.iterdir()) == []


def test_setup_storage_takes_an_open_database_and_options(tmp_path: Path) -> None:
    db = docstore.connect(str(tmp_path / "s.json"))
    storage = setup_storage(db, heartbeat=5, lock_lease=2, worker="w")
    assert isinstance(storage, docstore.Storage)
    assert (storage.db, storage.heartbeat, storage.lock_lease, storage.worker) == (db, 5.0, 2.0, "w")
    with pytest.raises(TypeError, match="setup_storage"):
        pickle.dumps(storage)
    with pytest.raises(ValueError, match="debug"):
        setup_storage(db, debug=True)
    with pytest.raises(TypeError):
        Storage("s.json")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lock_lease"):
        Storage(db, lock_lease=0)
    db.close()


def test_storage_pickles_by_uri(tmp_path: Path) -> None:
    with setup_storage(tmp_path / "p.json", lock_lease=3, strict=False) as storage:
        exp = make_experiment(storage)
        add_trials(storage, exp["_id"], ["new"])
        copied = pickle.loads(pickle.dumps(storage))
        view = pickle.loads(pickle.dumps(ReadOnlyStorage(storage)))
    try:
        assert (copied.lock_lease, copied.strict) == (3.0, False)
        assert copied.fetch_experiments({}) == [exp]
        assert len(view.fetch_trials(exp)) == 1
    finally:
        copied.close()


def test_top_level_exports() -> None:
    for name in ("setup_storage", "Storage", "ReadOnlyStorage", "Trial", "Experiment", "LockedAlgorithmState"):
        assert getattr(docstore, name) is getattr(docstore.storage, name)
        assert name in docstore.__all__


# ---------------------------------------------------------------- Orion's ids and layering


def test_trial_id_matches_orions() -> None:
    orion_trial = pytest.importorskip("orion.core.worker.trial", reason="Orion is not installed")
    params = [
        {"name": "/x", "type": "real", "value": 0.1},
        {"name": "/n", "type": "integer", "value": 3},
        {"name": "/c", "type": "categorical", "value": "relu"},
    ]
    results = [{"name": "lie", "type": "lie", "value": 2.5}]
    for extra in ({}, {"parent": "abc"}, {"results": results}):
        theirs = orion_trial.Trial(experiment="e", params=params, **extra)
        ours = Trial(experiment="e", params=params, **extra)
        assert ours.id == theirs.id, extra
        assert Trial(theirs.to_dict()).to_dict()["params"] == params


FORBIDDEN = ("docstore_", "pymongo", "mongomock", "filelock", "docstore.registry", "docstore.cli", "bson")


def test_storage_imports_no_engine() -> None:
    """The import-linter contract, checked here too: docstore.storage sees engines only through the facade."""
    package = Path(docstore.storage.__file__).parent
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"
