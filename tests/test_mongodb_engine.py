"""The ``mongodb://`` engine against a real MongoDB-wire server (secantusdb on loopback, or
``$DOCSTORE_TEST_MONGODB_URI``): canonical values, error mapping, the shared client and
its fork safety, and one round trip per single-document verb."""

from __future__ import annotations

import datetime as _dt
import math
import os
import time
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import docstore
from docstore.errors import DuplicateKeyError, EngineUnavailable, InvalidOperation

pymongo = pytest.importorskip("pymongo", reason="pymongo is not installed")
from docstore_mongodb import MongoEngine, clients  # noqa: E402
from pymongo import monitoring  # noqa: E402

UTC = _dt.timezone.utc


def _fresh(base: str) -> str:
    scheme, rest = base.split("://", 1)
    hosts, _, query = rest.partition("?")
    hosts = hosts.split("/", 1)[0]
    return f"{scheme}://{hosts}/m{uuid.uuid4().hex[:12]}" + (f"?{query}" if query else "")


@pytest.fixture
def uri(mongodb_server_uri: str) -> str:
    return _fresh(mongodb_server_uri)


@pytest.fixture
def db(uri: str) -> Iterator[docstore.Database]:
    database = docstore.connect(uri)
    yield database
    database.engine.database.client.drop_database(database.engine.database.name)  # type: ignore[attr-defined]
    database.close()


class Recorder(monitoring.CommandListener):
    """Every command the client sends, by name (the round trips)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def take(self) -> list[str]:
        names, self.names = self.names, []
        return names


# -- canonical values -----------------------------------------------------------------


def test_values_round_trip_canonically(db: docstore.Database) -> None:
    paris = _dt.timezone(_dt.timedelta(hours=2))
    doc = {
        "_id": "v",
        "aware": _dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=paris),
        "naive": _dt.datetime(2024, 5, 6, 7, 8, 9, 999999),
        "blob": b"\x00\xffbytes",
        "nan": math.nan,
        "inf": math.inf,
        "ninf": -math.inf,
        "nested": [[1, [2.5, "x"]], {"k": []}, []],
        "order": {"z": 1, "a": 2, "m": 3},
        "big": 2**62,
    }
    db["c"].insert_one(doc)
    back = db["c"].find_one("v")
    assert back is not None
    assert back["aware"] == _dt.datetime(2024, 5, 6, 5, 8, 9, 123000, tzinfo=UTC)
    assert back["aware"].tzinfo is UTC
    assert back["naive"] == _dt.datetime(2024, 5, 6, 7, 8, 9, 999000, tzinfo=UTC)  # naive means UTC
    assert back["blob"] == b"\x00\xffbytes"
    assert type(back["blob"]) is bytes
    assert math.isnan(back["nan"])
    assert back["inf"] == math.inf
    assert back["ninf"] == -math.inf
    assert back["nested"] == [[1, [2.5, "x"]], {"k": []}, []]
    assert list(back["order"]) == ["z", "a", "m"]
    assert back["big"] == 2**62
    assert list(back) == list(doc)


def test_datetime_filters_and_updates_return_utc(db: docstore.Database) -> None:
    db["c"].insert_one({"_id": "d", "at": _dt.datetime(2024, 1, 1, tzinfo=UTC)})
    later = _dt.datetime(2024, 1, 2, 3, 4, 5, 6789, tzinfo=UTC)
    after = db["c"].find_one_and_update(
        {"at": {"$lt": later}}, {"$set": {"at": later}}, return_document=docstore.ReturnDocument.AFTER
    )
    assert after is not None
    assert after["at"] == later.replace(microsecond=6000)
    assert after["at"].tzinfo is UTC


# -- errors -----------------------------------------------------------------------------


def test_duplicate_keys_become_docstore_errors(db: docstore.Database) -> None:
    coll = db["c"]
    assert coll.create_index("name", unique=True) == "name_1"
    coll.insert_one({"_id": "a", "name": "x"})
    with pytest.raises(DuplicateKeyError) as caught:
        coll.insert_one({"_id": "b", "name": "x"})
    assert caught.value.collection == "c"
    assert caught.value.index == "name_1"
    assert caught.value.key == {"name": "x"}
    assert isinstance(caught.value.__cause__, pymongo.errors.DuplicateKeyError)
    with pytest.raises(DuplicateKeyError) as caught:
        coll.insert_many([{"_id": "c", "name": "y"}, {"_id": "d", "name": "y"}])  # a BulkWriteError
    assert caught.value.index == "name_1"
    assert caught.value.key == {"name": "y"}
    with pytest.raises(DuplicateKeyError):
        coll.find_one_and_update({"_id": "c"}, {"$set": {"name": "x"}})
    with pytest.raises(DuplicateKeyError) as caught:
        coll.insert_one({"_id": "a", "name": "z"})
    assert caught.value.index == "_id_"


def test_update_that_cannot_apply_is_an_invalid_operation(db: docstore.Database) -> None:
    coll = db["c"]
    coll.insert_one({"_id": "s", "a": "text", "n": 1})
    with pytest.raises(InvalidOperation) as caught:
        coll.update_one({"_id": "s"}, {"$inc": {"a": 1}})
    assert caught.value.operator == "$inc"
    assert caught.value.path == "a"
    with pytest.raises(InvalidOperation):
        coll.find_one_and_update({"_id": "s"}, {"$push": {"n": 2}})
    with pytest.raises(InvalidOperation):
        coll.update_one({"_id": "s"}, {"$set": {"n.x": 2}})
    with pytest.raises(InvalidOperation):
        coll.replace_one({"_id": "s"}, {"_id": "other"})
    assert coll.find_one("s") == {"_id": "s", "a": "text", "n": 1}


def test_dead_server_is_unavailable_and_the_password_stays_secret() -> None:
    uri = "mongodb://user:s3cretpw@127.0.0.1:1/db?serverSelectionTimeoutMS=300"
    database = docstore.connect(uri)
    try:
        assert "s3cretpw" not in repr(database)
        assert "s3cretpw" not in repr(database.engine)
        assert "s3cretpw" not in database.uri
        started = time.monotonic()
        with pytest.raises(EngineUnavailable) as caught:
            database["c"].find_one({})
        assert time.monotonic() - started < 5
        error = caught.value
        for text in (str(error), repr(error), error.uri):
            assert "s3cretpw" not in text
        assert "127.0.0.1:1" in str(error)
        assert "***" in error.uri
        assert isinstance(error.__cause__, pymongo.errors.ServerSelectionTimeoutError)
        assert isinstance(error, ConnectionError)
    finally:
        database.close()


def test_default_server_selection_timeout_and_uri_override() -> None:
    assert clients.client_options({}, {})["serverSelectionTimeoutMS"] == clients.DEFAULT_SERVER_SELECTION_TIMEOUT_MS
    assert "serverSelectionTimeoutMS" not in clients.client_options({"serverselectiontimeoutms": "300"}, {})
    assert clients.client_options({}, {"serverSelectionTimeoutMS": 10})["serverSelectionTimeoutMS"] == 10


# -- one client per process -------------------------------------------------------------


def test_one_client_per_uri_shared_and_released(uri: str) -> None:
    before = clients.open_clients()
    first, second = docstore.connect(uri), docstore.connect(uri)
    engine_one, engine_two = first.engine, second.engine
    assert isinstance(engine_one, MongoEngine)
    assert isinstance(engine_two, MongoEngine)
    assert engine_one.client is engine_two.client
    assert clients.open_clients() == before + 1
    first["c"].insert_one({"_id": "x"})
    first.close()
    assert second["c"].find_one("x") == {"_id": "x"}  # the other user's client is still open
    second.engine.database.client.drop_database(second.engine.database.name)  # type: ignore[attr-defined]
    second.close()
    assert clients.open_clients() == before
    first.close()  # idempotent
    assert clients.open_clients() == before


def test_forked_child_opens_its_own_client(uri: str) -> None:
    database = docstore.connect(uri)
    engine = database.engine
    assert isinstance(engine, MongoEngine)
    database["c"].insert_one({"_id": "parent"})
    parent_client = engine.client
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork with threads
        pid = os.fork()
    if pid == 0:  # the child: report, never return into pytest
        outcome = "error"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # "MongoClient opened before fork" would fail here
                count = database["c"].count_documents({})
                database["c"].insert_one({"_id": "child"})
                fresh = engine.client is not parent_client
                outcome = f"count={count} fresh={fresh} clients={clients.open_clients()}"
        except BaseException as exc:  # reported to the parent
            outcome = f"error {exc!r}"
        finally:
            os.write(write_end, outcome.encode())
            os._exit(0)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read_end) as pipe:
        outcome = pipe.read()
    assert os.waitstatus_to_exitcode(status) == 0
    assert outcome == "count=1 fresh=True clients=1"
    assert engine.client is parent_client  # the parent keeps its client
    assert {doc["_id"] for doc in database["c"].find()} == {"parent", "child"}
    engine.database.client.drop_database(engine.database.name)
    database.close()


# -- round trips ----------------------------------------------------------------------------


def test_single_document_verbs_are_one_round_trip(uri: str) -> None:
    recorder = Recorder()
    database = docstore.connect(uri, event_listeners=[recorder])
    coll = database["c"]
    try:
        coll.insert_one({"_id": "a", "status": "new", "n": 1})
        assert recorder.take() == ["insert"]
        coll.insert_many([{"_id": "b", "status": "new"}, {"_id": "c", "status": "done"}])
        assert recorder.take() == ["insert"]
        assert coll.find_one({"_id": "a"}) is not None
        assert recorder.take() == ["find"]
        assert coll.find_one_and_update({"status": "new"}, {"$set": {"status": "reserved"}}, sort=[("_id", 1)])
        assert recorder.take() == ["findAndModify"]
        upserted = coll.find_one_and_update(
            {"status": "ghost"}, {"$set": {"n": 5}}, upsert=True, return_document=docstore.ReturnDocument.AFTER
        )
        assert recorder.take() == ["findAndModify"]
        assert upserted is not None
        assert isinstance(upserted["_id"], str)
        assert len(upserted["_id"]) == 24
        assert coll.update_one({"_id": "a"}, {"$inc": {"n": 1}}).modified_count == 1
        assert recorder.take() == ["update"]
        result = coll.update_one({"status": "other"}, {"$set": {"n": 1}}, upsert=True)
        assert recorder.take() == ["update"]
        assert isinstance(result.upserted_id, str)
        assert coll.replace_one({"_id": "b"}, {"status": "replaced"}).matched_count == 1
        assert recorder.take() == ["update"]
        assert coll.replace_one({"_id": "z"}, {"status": "fresh"}, upsert=True).upserted_id == "z"
        assert recorder.take() == ["update"]
        assert coll.count_documents({"status": "new"}) == 0
        assert recorder.take() == ["aggregate"]
        assert coll.delete_one({"_id": "c"}).deleted_count == 1
        assert recorder.take() == ["delete"]
    finally:
        database.engine.database.client.drop_database(database.engine.database.name)  # type: ignore[attr-defined]
        database.close()


def test_upserts_get_docstore_string_ids(db: docstore.Database) -> None:
    coll = db["c"]
    result = coll.update_one({"k": 1}, {"$set": {"v": 1}, "$setOnInsert": {"created": True}}, upsert=True)
    assert isinstance(result.upserted_id, str)
    assert coll.find_one(result.upserted_id) == {"_id": result.upserted_id, "k": 1, "v": 1, "created": True}
    fixed = coll.update_one({"_id": "mine"}, {"$set": {"v": 2}}, upsert=True)
    assert fixed.upserted_id == "mine"
    replaced = coll.replace_one({"k": 2}, {"k": 2, "v": 3}, upsert=True)  # no _id anywhere
    assert isinstance(replaced.upserted_id, str)
    assert coll.find_one({"k": 2}) == {"_id": replaced.upserted_id, "k": 2, "v": 3}
    again = coll.replace_one({"k": 2}, {"k": 2, "v": 4}, upsert=True)  # now it matches: replaced, same id
    assert (again.matched_count, again.upserted_id) == (1, None)
    assert coll.find_one({"k": 2}) == {"_id": replaced.upserted_id, "k": 2, "v": 4}
    found = coll.find_one_and_replace({"k": 3}, {"k": 3}, upsert=True, return_document=docstore.ReturnDocument.AFTER)
    assert found is not None
    assert isinstance(found["_id"], str)


def test_indexes_and_collections(db: docstore.Database) -> None:
    coll = db["c"]
    coll.insert_one({"_id": "a", "k": 1})
    assert coll.index_information() == {"_id_": {"key": [("_id", 1)], "unique": True}}
    assert coll.create_index([("k", 1), ("j", -1)], unique=True) == "k_1_j_-1"
    assert coll.index_information()["k_1_j_-1"] == {"key": [("k", 1), ("j", -1)], "unique": True}
    with pytest.raises(InvalidOperation):
        coll.drop_index("missing")
    coll.drop_index("k_1_j_-1")
    assert set(coll.index_information()) == {"_id_"}
    assert db.list_collection_names() == ["c"]
    coll.drop()
    assert db.list_collection_names() == []


# -- error translation, without a server -------------------------------------------------


def _context() -> Any:
    from docstore_mongodb.errors import ErrorContext

    return ErrorContext("mongodb://u:***@h:1/db", "h:1", "db", password="p@ss w0rd")


@pytest.mark.parametrize(
    ("exc", "expected", "facts"),
    [
        (
            pymongo.errors.WriteError(
                "Cannot apply $inc to a value of non-numeric type. {_id: 1} has the field 'a'", 14, {"code": 14}
            ),
            InvalidOperation,
            {"operator": "$inc", "path": "a"},
        ),
        (
            pymongo.errors.WriteError("Cannot create field 'x' in element {n: 1}", 28, {"code": 28}),
            InvalidOperation,
            {"operator": "$set", "path": "n.x"},
        ),
        (pymongo.errors.OperationFailure("Authentication failed.", 18, {"code": 18}), EngineUnavailable, {}),
        (pymongo.errors.OperationFailure("index not found with name [k]", 27, {"code": 27}), InvalidOperation, {}),
        (pymongo.errors.ConfigurationError("bad option"), docstore.InvalidURI, {}),
        (pymongo.errors.NetworkTimeout("h:1: timed out"), EngineUnavailable, {}),
        (
            pymongo.errors.OperationFailure("weird p@ss w0rd", 9999, {"code": 9999, "codeName": "Weird"}),
            docstore.DocstoreError,
            {"code": 9999, "code_name": "Weird"},
        ),
    ],
    ids=["inc-string", "path-not-viable", "auth", "index-not-found", "configuration", "network-timeout", "unknown"],
)
def test_translate(exc: BaseException, expected: type[BaseException], facts: dict[str, Any]) -> None:
    from docstore_mongodb.errors import translate

    error = translate(exc, _context(), "c", "update", {"$set": {"n.x": 1}, "$inc": {"a": 1}})
    assert isinstance(error, expected)
    for name, value in facts.items():
        assert getattr(error, name) == value
    assert "p@ss w0rd" not in str(error)
    assert "p%40ss%20w0rd" not in str(error)
