"""The JSON engine's verbs and indexes, on a file and in memory (``local_db``)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pytest
from docstore_jsonfile import JsonFileEngine, MemoryEngine
from docstore_jsonfile.store import Collection

import docstore
from docstore import query
from docstore.errors import DuplicateKeyError, InvalidDocument, InvalidOperation, InvalidURI, ReadOnlyError

UTC = dt.timezone.utc


def _collection(db: docstore.Database, name: str) -> Collection:
    engine = db.engine
    store = engine._shared.store if isinstance(engine, MemoryEngine) else engine._state.store  # type: ignore[attr-defined]
    found = store.get(name)
    assert found is not None
    return found


def test_values_round_trip_and_persist(local_uri: str) -> None:
    doc = {
        "_id": "a",
        "when": dt.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC),
        "blob": b"\x00\xffbytes",
        "nan": math.nan,
        "inf": -math.inf,
        "nested": {"list": [1, 2.5, None, True, {"deep": dt.datetime(1960, 1, 1, tzinfo=UTC)}]},
        "big": 2**62,
    }
    with docstore.connect(local_uri) as db:
        db["c"].insert_one(dict(doc))
        found = db["c"].find_one("a")
    assert found is not None
    assert math.isnan(found.pop("nan"))
    expected = {key: value for key, value in doc.items() if key != "nan"}
    assert found == expected
    if local_uri.startswith("memory"):
        return
    with docstore.connect(local_uri) as db:  # from the snapshot written on close
        again = db["c"].find_one("a")
        assert again is not None
        assert math.isnan(again.pop("nan"))
        assert again == expected
        assert type(again["big"]) is int
        assert again["when"].tzinfo is not None


def test_returned_and_inserted_documents_are_copies(local_db: docstore.Database) -> None:
    original = {"_id": "a", "tags": ["x"], "sub": {"k": 1}}
    local_db["c"].insert_one(original)
    original["tags"].append("mutated")
    original["sub"]["k"] = 2
    first = local_db["c"].find_one("a")
    assert first == {"_id": "a", "tags": ["x"], "sub": {"k": 1}}
    assert first is not None
    first["tags"].append("again")
    first["sub"]["k"] = 3
    updated = local_db["c"].find_one_and_update({"_id": "a"}, {"$set": {"n": 1}}, return_document=True)
    assert updated is not None
    updated["sub"]["k"] = 4
    assert local_db["c"].find_one("a") == {"_id": "a", "tags": ["x"], "sub": {"k": 1}, "n": 1}


def test_insert_many_is_all_or_nothing(local_db: docstore.Database) -> None:
    local_db["c"].insert_one({"_id": "keep"})
    with pytest.raises(DuplicateKeyError) as caught:
        local_db["c"].insert_many([{"_id": "x"}, {"_id": "y"}, {"_id": "keep"}])
    assert caught.value.index == "_id_"
    assert [doc["_id"] for doc in local_db["c"].find()] == ["keep"]


def test_update_many_is_all_or_nothing(local_db: docstore.Database) -> None:
    coll = local_db["c"]
    coll.insert_many([{"_id": "a", "n": 1, "k": 1}, {"_id": "b", "n": "text", "k": 10}, {"_id": "c", "n": 3, "k": 20}])
    with pytest.raises(InvalidOperation):
        coll.update_many({}, {"$inc": {"n": 1}})
    assert [doc["n"] for doc in coll.find()] == [1, "text", 3]
    coll.create_index("k", unique=True)
    with pytest.raises(DuplicateKeyError):
        coll.update_many({"_id": {"$in": ["b", "c"]}}, {"$set": {"k": 2}})  # b and c would share k=2
    assert [doc["k"] for doc in coll.find()] == [1, 10, 20]


def test_unique_keys_follow_bson_equality(local_db: docstore.Database) -> None:
    coll = local_db["c"]
    coll.create_index("k", unique=True)
    coll.insert_one({"_id": "int", "k": 1})
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"_id": "float", "k": 1.0})  # 1 == 1.0
    coll.insert_one({"_id": "bool", "k": True})  # but true != 1
    coll.insert_one({"_id": "nan", "k": math.nan})
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"_id": "nan2", "k": math.nan})  # BSON: NaN equals NaN
    coll.insert_one({"_id": "array", "k": [7, 8]})
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"_id": "elem", "k": 8})  # array fields index each element
    coll.insert_one({"_id": "missing"})
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"_id": "null", "k": None})  # a missing field counts as null


def test_swapping_unique_keys_in_one_update_many(local_db: docstore.Database) -> None:
    coll = local_db["c"]
    coll.create_index([("a", 1), ("b", 1)], unique=True)
    coll.insert_many([{"_id": "x", "a": 1, "b": 1, "g": 1}, {"_id": "y", "a": 1, "b": 2, "g": 1}])
    coll.update_many({"g": 1}, {"$inc": {"b": 1}})  # (1,1)->(1,2) while (1,2)->(1,3): no clash after the batch
    assert sorted(doc["b"] for doc in coll.find()) == [2, 3]
    assert local_db.check() == []


def test_hash_index_keys_follow_bson_equality(local_db: docstore.Database) -> None:
    coll = local_db["trials"]
    coll.insert_many(
        [
            {"_id": "i", "status": 1},
            {"_id": "f", "status": 1.0},
            {"_id": "b", "status": True},
            {"_id": "arr", "status": ["new", 1]},
            {"_id": "s", "status": "new"},
            {"_id": "doc", "status": {"a": 1}},
        ]
    )
    assert sorted(doc["_id"] for doc in coll.find({"status": 1})) == ["arr", "f", "i"]
    assert [doc["_id"] for doc in coll.find({"status": True})] == ["b"]
    assert sorted(doc["_id"] for doc in coll.find({"status": "new"})) == ["arr", "s"]
    assert coll.count_documents({"status": {"$in": ["new", 1]}}) == 4  # "arr" counted once
    assert [doc["_id"] for doc in coll.find({"status": {"a": 1}})] == ["doc"]
    buckets = _collection(local_db, "trials")._hash_index(("status",)).buckets
    assert len(buckets[1]) == 3  # one bucket for 1, 1.0 and the array holding 1
    assert local_db.check() == []


class _CountingFilter:
    """A compiled filter that records the documents it is asked about."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.compiled = query.compile_filter(spec)
        self.spec = self.compiled.spec
        self.seen: list[dict[str, Any]] = []

    def equalities(self) -> dict[str, list[Any]]:
        return self.compiled.equalities()

    def matches(self, doc: dict[str, Any]) -> bool:
        self.seen.append(doc)
        return self.compiled.matches(doc)


def test_index_narrows_candidates(local_db: docstore.Database) -> None:
    """Reserving by status looks at the "new" bucket only, not at every trial."""
    coll = local_db["trials"]
    coll.insert_many([{"status": "completed", "n": i} for i in range(300)] + [{"status": "new", "n": 300}])
    engine = local_db.engine
    spy = _CountingFilter({"status": "new", "n": {"$gte": 0}})
    found = engine.find_one_and_update("trials", spy, query.compile_update({"$set": {"status": "reserved"}}))  # type: ignore[arg-type]
    assert found is not None
    assert found["n"] == 300
    assert len(spy.seen) <= 1
    spy = _CountingFilter({"status": "completed", "n": {"$lt": 10}})
    assert engine.count("trials", spy) == 10  # type: ignore[arg-type]
    assert len(spy.seen) == 300  # the bucket, not the collection


def test_find_one_and_update_sort_upsert_and_return(local_db: docstore.Database) -> None:
    coll = local_db["t"]
    coll.insert_many([{"_id": f"t{i}", "status": "new", "submit": (i * 7) % 5} for i in range(5)])
    first = coll.find_one_and_update({"status": "new"}, {"$set": {"status": "reserved"}}, sort=[("submit", 1)])
    assert first is not None
    assert (first["_id"], first["status"]) == ("t0", "new")  # returns the document before, by default
    last = coll.find_one_and_update(
        {"status": "new"}, {"$set": {"status": "reserved"}}, sort=[("submit", -1)], return_document=True
    )
    assert last is not None
    assert (last["_id"], last["status"]) == ("t2", "reserved")
    assert coll.find_one_and_update({"_id": "nope"}, {"$set": {"x": 1}}, upsert=True) is None
    upserted = coll.find_one_and_update({"_id": "nope2"}, {"$set": {"x": 1}}, upsert=True, return_document=True)
    assert upserted == {"_id": "nope2", "x": 1}
    assert coll.count_documents({"x": 1}) == 2


def test_update_with_no_change_is_not_modified(local_db: docstore.Database) -> None:
    coll = local_db["c"]
    coll.insert_one({"_id": "a", "n": 1})
    assert coll.update_one({"_id": "a"}, {"$set": {"n": 1}}).modified_count == 0
    assert coll.update_one({"_id": "a"}, {"$set": {"n": 1.0}}).modified_count == 1  # int -> double is a change
    assert type((coll.find_one("a") or {})["n"]) is float


def test_update_may_not_change_id(local_db: docstore.Database) -> None:
    coll = local_db["c"]
    coll.insert_one({"_id": "a", "n": 1})
    with pytest.raises(InvalidOperation):
        coll.replace_one({"_id": "a"}, {"_id": "b", "n": 2})
    coll.replace_one({"_id": "a"}, {"n": 3})
    assert coll.find_one("a") == {"_id": "a", "n": 3}


def test_natural_order_with_and_without_index(local_db: docstore.Database) -> None:
    coll = local_db["t"]
    coll.insert_many([{"_id": f"d{i}", "status": "new", "other": "new"} for i in range(6)])
    coll.update_one({"_id": "d1"}, {"$set": {"status": "reserved", "other": "reserved"}})
    coll.update_one({"_id": "d1"}, {"$set": {"status": "new", "other": "new"}})  # back, out of bucket order
    by_index = [doc["_id"] for doc in coll.find({"status": "new"})]
    by_scan = [doc["_id"] for doc in coll.find({"other": "new"})]
    assert by_index == by_scan == [f"d{i}" for i in range(6)]
    first = coll.find_one_and_update({"status": "new"}, {"$set": {"status": "x"}})
    assert first is not None
    assert first["_id"] == "d0"
    assert local_db.check() == []


def test_indexes_collections_and_drop(local_db: docstore.Database) -> None:
    coll = local_db["c"]
    assert coll.index_information() == {}
    assert coll.create_index("status") == "status_1"
    assert coll.create_index([("a", 1), ("b", -1)], unique=True) == "a_1_b_-1"
    assert coll.create_index([("a", 1), ("b", -1)], unique=True) == "a_1_b_-1"
    with pytest.raises(InvalidOperation):
        coll.create_index([("a", 1), ("b", -1)], name="other")
    assert set(coll.index_information()) == {"_id_", "status_1", "a_1_b_-1"}
    coll.drop_index("a_1_b_-1")
    with pytest.raises(InvalidOperation):
        coll.drop_index("a_1_b_-1")
    assert local_db.list_collection_names() == ["c"]
    coll.drop()
    assert local_db.list_collection_names() == []
    coll.drop()  # dropping what is not there is fine


def test_reserved_collection_name(path: str) -> None:
    with docstore.connect(path) as db:
        with pytest.raises(InvalidDocument):
            db["_docstore_meta"].insert_one({"x": 1})


def test_memory_stores_are_shared_by_name_only() -> None:
    first, second, private = docstore.connect("memory://shared-x"), docstore.connect("memory://shared-x"), None
    try:
        first["c"].insert_one({"_id": "a"})
        assert second["c"].find_one("a") == {"_id": "a"}
        private = docstore.connect("memory://")
        assert private["c"].find_one("a") is None
        assert docstore.connect("memory://").list_collection_names() == []
    finally:
        for db in (first, second, private):
            if db is not None:
                db.close()


def test_capabilities(path: str) -> None:
    with docstore.connect(path) as db:
        caps = db.capabilities
        assert (caps.persistent, caps.multi_process, caps.atomic_multi_update) == (True, True, True)
        assert isinstance(db.engine, JsonFileEngine)
    with docstore.connect("memory://") as db:
        caps = db.capabilities
        assert (caps.persistent, caps.multi_process, caps.atomic_multi_update) == (False, False, True)


def test_options_from_uri_and_keywords(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with docstore.connect("study.json?durable=false") as db:  # a plain path, with options too
        assert db.engine.path == str(tmp_path / "study.json")  # type: ignore[attr-defined]
        assert db.engine.options.durable is False  # type: ignore[attr-defined]
    with docstore.connect("json://rel.json?durable=false&lock_timeout=2.5") as db:
        engine = db.engine
        assert isinstance(engine, JsonFileEngine)
        assert engine.path == str(tmp_path / "rel.json")
        assert (engine.options.durable, engine.options.lock_timeout) == (False, 2.5)
    absolute = tmp_path / "abs.json"
    with docstore.connect(f"json://{absolute}", durable=False, lock_timeout=None) as db:
        assert db.engine.path == str(absolute)  # type: ignore[attr-defined]
        assert db.engine.options.lock_timeout is None  # type: ignore[attr-defined]
    with pytest.raises(InvalidURI, match="durabel"):
        docstore.connect("study.json?durabel=false")
    with pytest.raises(InvalidURI):
        docstore.connect(str(tmp_path / "x.json"), durable="maybe")
    with docstore.connect("memory://?read_only=true") as db:
        with pytest.raises(ReadOnlyError):
            db["c"].insert_one({})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        docstore.connect(str(tmp_path / "no" / "such" / "folder.json"))


def test_closed_store_refuses_work(local_uri: str) -> None:
    db = docstore.connect(local_uri)
    db.close()
    db.close()  # idempotent
    with pytest.raises(InvalidOperation, match="closed"):
        db["c"].find_one()
