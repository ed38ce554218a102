"""The pymongo-shaped facade on its own: argument validation, results, what reaches the engine.

A recording engine stands in for a real one, so these tests see exactly which verbs the
facade calls with which (validated, canonical) arguments, and that bad input never
reaches an engine at all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
from typing import Any

import pytest

import docstore
from docstore import Database, ReturnDocument
from docstore.engine import Capabilities, Engine, IndexSpec, UpdateOutcome
from docstore.errors import InvalidDocument, UnsupportedQuery
from docstore.testing import typed

UTC = dt.timezone.utc


class RecordingEngine(Engine):
    """Records every call; ``find`` answers with ``self.documents`` (copies)."""

    capabilities = Capabilities(persistent=False, multi_process=False, atomic_multi_update=True, description="rec")

    def __init__(self) -> None:
        self.uri = "rec://u:s3cret@host/db"
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.documents: list[dict[str, Any]] = []
        self.indexes: dict[str, IndexSpec] = {}
        self.outcome = UpdateOutcome(matched_count=2, modified_count=1, upserted_id=None)
        self.closed = 0

    def _record(self, verb: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((verb, args, kwargs))

    def verbs(self) -> list[str]:
        return [call[0] for call in self.calls]

    def insert(self, collection: str, documents: list[dict[str, Any]]) -> None:
        self._record("insert", collection, documents)

    def find(self, collection: str, filter: Any, **kwargs: Any) -> list[dict[str, Any]]:
        self._record("find", collection, filter, **kwargs)
        return [dict(doc) for doc in self.documents]

    def count(self, collection: str, filter: Any) -> int:
        self._record("count", collection, filter)
        return 7

    def find_one_and_update(self, collection: str, filter: Any, update: Any, **kwargs: Any) -> Any:
        self._record("find_one_and_update", collection, filter, update, **kwargs)
        return {"_id": "x"}

    def update(self, collection: str, filter: Any, update: Any, **kwargs: Any) -> UpdateOutcome:
        self._record("update", collection, filter, update, **kwargs)
        return self.outcome

    def delete(self, collection: str, filter: Any, **kwargs: Any) -> int:
        self._record("delete", collection, filter, **kwargs)
        return 3

    def create_index(self, collection: str, index: IndexSpec) -> str:
        self._record("create_index", collection, index)
        return index.name

    def index_information(self, collection: str) -> dict[str, IndexSpec]:
        return self.indexes

    def drop_index(self, collection: str, name: str) -> None:
        self._record("drop_index", collection, name)

    def drop(self, collection: str) -> None:
        self._record("drop", collection)

    def list_collections(self) -> list[str]:
        return ["b", "a", "c"]

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def engine() -> RecordingEngine:
    return RecordingEngine()


@pytest.fixture
def fdb(engine: RecordingEngine) -> Database:
    return Database(engine)


# ------------------------------------------------------------------ database


def test_database_basics(fdb: Database, engine: RecordingEngine) -> None:
    assert fdb.list_collection_names() == ["a", "b", "c"]
    assert fdb.capabilities.description == "rec"
    assert fdb["x"].name == fdb.get_collection("x").name == "x"
    fdb.drop_collection("old")
    fdb["older"].drop()
    assert [c for c in engine.calls if c[0] == "drop"] == [("drop", ("old",), {}), ("drop", ("older",), {})]
    assert "s3cret" not in repr(fdb)
    assert fdb.uri == "rec://u:***@host/db"


def test_context_manager_closes(fdb: Database, engine: RecordingEngine) -> None:
    with fdb as same:
        assert same is fdb
    assert engine.closed == 1


@pytest.mark.parametrize("name", ["", "$cmd", "a\0b", 5, None])
def test_bad_collection_names(fdb: Database, name: Any) -> None:
    with pytest.raises(InvalidDocument):
        fdb[name]


# -------------------------------------------------------------------- writes


def test_insert_one_sets_id_on_the_callers_dict(fdb: Database, engine: RecordingEngine) -> None:
    doc: dict[str, Any] = {"a": 1, "when": dt.datetime(2024, 1, 1, 12, 0, 0, 123456), "t": (1, 2)}
    result = fdb["c"].insert_one(doc)
    assert result.inserted_id == doc["_id"]
    assert result.acknowledged is True
    (sent,) = engine.calls[0][1][1]
    assert list(sent) == ["_id", "a", "when", "t"]
    assert typed(sent) == typed(
        {"_id": doc["_id"], "a": 1, "when": dt.datetime(2024, 1, 1, 12, 0, 0, 123000, tzinfo=UTC), "t": [1, 2]}
    )
    assert doc["when"].tzinfo is None  # the caller's values are not canonicalised in place
    assert doc["t"] == (1, 2)


def test_insert_one_keeps_a_given_id(fdb: Database, engine: RecordingEngine) -> None:
    doc = {"_id": "mine", "a": 1}
    assert fdb["c"].insert_one(doc).inserted_id == "mine"
    assert engine.calls[0][1][1][0]["_id"] == "mine"


def test_insert_one_with_a_read_only_mapping(fdb: Database, engine: RecordingEngine) -> None:
    result = fdb["c"].insert_one(types.MappingProxyType({"a": 1}))  # type: ignore[arg-type]
    assert engine.calls[0][1][1] == [{"_id": result.inserted_id, "a": 1}]


def test_insert_many_sets_ids_and_accepts_any_iterable(fdb: Database, engine: RecordingEngine) -> None:
    docs: list[dict[str, Any]] = [{"n": i} for i in range(3)]
    result = fdb["c"].insert_many(iter(docs))
    assert result.inserted_ids == [d["_id"] for d in docs]
    assert len(set(result.inserted_ids)) == 3
    assert [d["n"] for d in engine.calls[0][1][1]] == [0, 1, 2]


def test_bad_documents_never_reach_the_engine(fdb: Database, engine: RecordingEngine) -> None:
    with pytest.raises(InvalidDocument):
        fdb["c"].insert_one([("a", 1)])  # type: ignore[arg-type]
    with pytest.raises(InvalidDocument):
        fdb["c"].insert_many([])
    good: dict[str, Any] = {"a": 1}
    with pytest.raises(InvalidDocument):
        fdb["c"].insert_many([good, {"b": {1, 2}}])
    assert "_id" not in good
    assert engine.calls == []


def test_update_results(fdb: Database, engine: RecordingEngine) -> None:
    result = fdb["c"].update_many({"a": 1}, {"$set": {"b": 2}})
    assert (result.matched_count, result.modified_count, result.upserted_id, result.acknowledged) == (2, 1, None, True)
    engine.outcome = UpdateOutcome(matched_count=0, modified_count=0, upserted_id="new")
    assert fdb["c"].update_one({"a": 1}, {"$set": {"b": 2}}, upsert=True).upserted_id == "new"
    assert fdb["c"].replace_one({"a": 1}, {"b": 2}).upserted_id == "new"
    kinds = [(c[2]["multi"], c[2]["upsert"]) for c in engine.calls]
    assert kinds == [(True, False), (False, True), (False, False)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.matched_count = 5  # type: ignore[misc]


def test_delete_results(fdb: Database, engine: RecordingEngine) -> None:
    assert fdb["c"].delete_one({"a": 1}).deleted_count == 3
    assert fdb["c"].delete_many({}).acknowledged is True
    assert [c[2]["multi"] for c in engine.calls] == [False, True]


def test_update_validation_happens_before_the_engine(fdb: Database, engine: RecordingEngine) -> None:
    with pytest.raises(UnsupportedQuery) as info:
        fdb["c"].update_one({}, [("$set", {"a": 1})])  # type: ignore[arg-type]
    assert info.value.operator == "update"
    with pytest.raises(UnsupportedQuery) as info:
        fdb["c"].update_one({}, {"a": 1})
    assert info.value.operator == "update"
    with pytest.raises(UnsupportedQuery) as info:
        fdb["c"].replace_one({}, {"$set": {"a": 1}})
    assert info.value.operator == "replacement"
    with pytest.raises(UnsupportedQuery) as info:
        fdb["c"].find_one_and_update({}, {"a": 1})
    with pytest.raises(UnsupportedQuery) as info:
        fdb["c"].delete_many([("a", 1)])  # type: ignore[arg-type]
    assert info.value.operator == "filter"
    assert engine.calls == []


# -------------------------------------------------------- find_one_and_update


def test_return_document_values() -> None:
    assert ReturnDocument.BEFORE == 0
    assert ReturnDocument.BEFORE == False  # noqa: E712 - pymongo's values are the booleans
    assert ReturnDocument.AFTER == 1
    assert ReturnDocument.AFTER == True  # noqa: E712
    assert docstore.ReturnDocument is ReturnDocument


@pytest.mark.parametrize(
    ("kwargs", "after"),
    [
        ({}, False),
        ({"return_document": ReturnDocument.AFTER}, True),
        ({"return_document": True}, True),
        ({"return_document": ReturnDocument.BEFORE}, False),
    ],
    ids=["default-before", "after", "true", "before"],
)
def test_find_one_and_update_return_document(
    fdb: Database, engine: RecordingEngine, kwargs: dict[str, Any], after: bool
) -> None:
    fdb["c"].find_one_and_update({"s": "new"}, {"$set": {"s": "reserved"}}, **kwargs)
    fdb["c"].find_one_and_replace({"s": "new"}, {"s": "x"}, **kwargs)
    assert [c[2]["return_after"] for c in engine.calls] == [after, after]


def test_find_one_and_update_passes_sort_projection_upsert(fdb: Database, engine: RecordingEngine) -> None:
    found = fdb["c"].find_one_and_update({"s": 1}, {"$inc": {"n": 1}}, projection=["n"], sort=[("p", -1)], upsert=True)
    assert found == {"_id": "x"}
    _, args, kwargs = engine.calls[0]
    assert args[0] == "c"
    assert args[1].spec == {"s": 1}
    assert args[2].spec == {"$inc": {"n": 1}}
    assert list(kwargs["sort"].keys) == [("p", -1)]
    assert kwargs["projection"].spec == {"n": 1}
    assert kwargs["upsert"] is True


# --------------------------------------------------------------------- reads


def test_find_one_with_an_id(fdb: Database, engine: RecordingEngine) -> None:
    engine.documents = [{"_id": "abc", "a": 1}]
    assert fdb["c"].find_one("abc") == {"_id": "abc", "a": 1}
    _, args, kwargs = engine.calls[0]
    assert args[1].spec == {"_id": "abc"}
    assert kwargs["limit"] == 1
    engine.documents = []
    assert fdb["c"].find_one("zzz") is None


def test_find_arguments_reach_the_engine(fdb: Database, engine: RecordingEngine) -> None:
    engine.documents = [{"_id": "1"}, {"_id": "2"}]
    cursor = fdb["c"].find({"a": {"$gt": 1}}, ["a", "b"], sort="n", skip=2, limit=5)
    assert engine.calls == []  # lazy until iterated
    assert len(cursor) == 2
    assert [d["_id"] for d in cursor] == ["1", "2"]
    assert cursor.to_list() == engine.documents
    assert len(engine.calls) == 1  # the results are fetched once
    _, args, kwargs = engine.calls[0]
    assert args[1].spec == {"a": {"$gt": 1}}
    assert kwargs["projection"].spec == {"a": 1, "b": 1}
    assert list(kwargs["sort"].keys) == [("n", 1)]
    assert (kwargs["skip"], kwargs["limit"]) == (2, 5)


def test_cursor_chaining_returns_the_cursor(fdb: Database, engine: RecordingEngine) -> None:
    cursor = fdb["c"].find()
    assert cursor.sort("n", -1) is cursor
    assert cursor.skip(1) is cursor
    assert cursor.limit(2) is cursor
    cursor.to_list()
    kwargs = engine.calls[0][2]
    assert (list(kwargs["sort"].keys), kwargs["skip"], kwargs["limit"]) == ([("n", -1)], 1, 2)
    fdb["c"].find().sort([("a", 1), ("b", -1)]).to_list()
    assert list(engine.calls[1][2]["sort"].keys) == [("a", 1), ("b", -1)]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.find({}, skip=-1),
        lambda c: c.find({}).limit(-1),
        lambda c: c.find({}).sort("n", 0),
        lambda c: c.find({}, sort=[("n", 2)]),
        lambda c: c.find([("a", 1)]),
        lambda c: c.count_documents("abc"),
    ],
    ids=["skip", "limit", "sort-zero", "sort-two", "filter-list", "count-string"],
)
def test_bad_read_arguments(fdb: Database, engine: RecordingEngine, call: Any) -> None:
    with pytest.raises(UnsupportedQuery):
        call(fdb["c"])
    assert engine.calls == []


def test_count_documents(fdb: Database, engine: RecordingEngine) -> None:
    assert fdb["c"].count_documents() == 7
    assert engine.calls[0][1][1].spec == {}


def test_distinct_flattens_arrays_and_sorts_in_bson_order(fdb: Database, engine: RecordingEngine) -> None:
    engine.documents = [
        {"_id": "1", "v": "a"},
        {"_id": "2", "v": [2, True]},
        {"_id": "3", "v": 1.0},
        {"_id": "4"},
        {"_id": "5", "v": 2},
        {"_id": "6", "v": None},
    ]
    assert typed(fdb["c"].distinct("v")) == typed([None, 1.0, 2, "a", True])


# ------------------------------------------------------------------- indexes


@pytest.mark.parametrize(
    ("keys", "name", "spec"),
    [
        ("a", "a_1", (("a", 1),)),
        (["a", "b"], "a_1_b_1", (("a", 1), ("b", 1))),
        ([("a", -1), ("b", 1)], "a_-1_b_1", (("a", -1), ("b", 1))),
    ],
)
def test_create_index_keys_and_names(
    fdb: Database, engine: RecordingEngine, keys: Any, name: str, spec: tuple[tuple[str, int], ...]
) -> None:
    assert fdb["c"].create_index(keys, unique=True) == name
    assert engine.calls[-1] == ("create_index", ("c", IndexSpec(name, spec, True)), {})
    assert fdb["c"].create_index(keys, name="custom") == "custom"
    assert engine.calls[-1][1][1] == IndexSpec("custom", spec, False)


@pytest.mark.parametrize("keys", [[], [("a", 2)], [("a", "asc")], [("a", 0)]])
def test_create_index_rejects_bad_keys(fdb: Database, engine: RecordingEngine, keys: Any) -> None:
    with pytest.raises(UnsupportedQuery):
        fdb["c"].create_index(keys)
    assert engine.calls == []


def test_index_information_format(fdb: Database, engine: RecordingEngine) -> None:
    engine.indexes = {
        "_id_": IndexSpec("_id_", (("_id", 1),)),
        "k_1_j_-1": IndexSpec("k_1_j_-1", (("k", 1), ("j", -1)), True),
    }
    assert fdb["c"].index_information() == {
        "_id_": {"key": [("_id", 1)]},
        "k_1_j_-1": {"key": [("k", 1), ("j", -1)], "unique": True},
    }


def test_drop_index(fdb: Database, engine: RecordingEngine) -> None:
    with pytest.raises(UnsupportedQuery):
        fdb["c"].drop_index("_id_")
    assert engine.calls == []
    fdb["c"].drop_index("k_1")
    assert engine.calls == [("drop_index", ("c", "k_1"), {})]
