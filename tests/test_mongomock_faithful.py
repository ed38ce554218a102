"""The ``mongomock://`` engine gives MongoDB's answers where mongomock itself does not.

Each case states MongoDB's answer and checks docstore's mongomock engine gives it. Tests
named ``test_raw_mongomock_*`` document the divergence: they assert that plain
mongomock (4.x) answers differently, so when a mongomock release fixes one, the test
says so and the workaround can be reviewed.
"""

from __future__ import annotations

import datetime as _dt
import math
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import docstore
from docstore.errors import DuplicateKeyError, InvalidOperation

mongomock = pytest.importorskip("mongomock", reason="mongomock is not installed")

UTC = _dt.timezone.utc
NAN = float("nan")
MISSING = object()


@pytest.fixture
def db() -> Iterator[docstore.Database]:
    database = docstore.connect(f"mongomock://faithful{uuid.uuid4().hex[:10]}")
    yield database
    database.close()


@pytest.fixture
def raw() -> Any:
    """A plain mongomock collection, for the documenting tests."""
    return mongomock.MongoClient()["raw"]["c"]


def _seed(db: docstore.Database, docs: list[dict[str, Any]]) -> docstore.Collection:
    coll = db["c"]
    coll.insert_many([dict(doc) for doc in docs])
    return coll


def _ids(coll: Any, filter: dict[str, Any]) -> list[str]:
    return sorted(doc["_id"] for doc in coll.find(filter))


# (case id, documents, filter, the ids MongoDB matches)
QUERIES: list[tuple[str, list[dict[str, Any]], dict[str, Any], list[Any]]] = [
    (
        "int-does-not-match-true",
        [{"_id": "i1", "a": 1}, {"_id": "i2", "a": True}, {"_id": "i3", "a": 1.0}],
        {"a": 1},
        ["i1", "i3"],
    ),
    ("true-does-not-match-int", [{"_id": "i1", "a": 1}, {"_id": "i2", "a": True}], {"a": True}, ["i2"]),
    (
        "embedded-documents-compare-in-key-order",
        [{"_id": "d1", "a": {"b": 1, "c": 2}}, {"_id": "d2", "a": {"c": 2, "b": 1}}],
        {"a": {"b": 1, "c": 2}},
        ["d1"],
    ),
    (
        "embedded-documents-compare-numbers-not-bools",
        [{"_id": "e1", "a": {"b": 1}}, {"_id": "e2", "a": {"b": 1.0}}, {"_id": "e3", "a": {"b": True}}],
        {"a": {"b": 1}},
        ["e1", "e2"],
    ),
    (
        "size-counts-array-elements-only",
        [{"_id": "s1", "a": {"x": 1, "y": 2}}, {"_id": "s2", "a": [1, 2]}],
        {"a": {"$size": 2}},
        ["s2"],
    ),
    ("in-matches-a-whole-array", [{"_id": "n1", "a": [1, 2]}, {"_id": "n2", "a": 1}], {"a": {"$in": [[1, 2]]}}, ["n1"]),
    ("in-true-is-not-in-1", [{"_id": "b1", "a": 1}, {"_id": "b2", "a": True}], {"a": {"$in": [True]}}, ["b2"]),
    ("in-0-is-not-in-false", [{"_id": "z1", "a": 0}, {"_id": "z2", "a": False}], {"a": {"$in": [0]}}, ["z1"]),
    (
        "lte-null-matches-missing",
        [{"_id": "l1", "a": 1}, {"_id": "l2", "a": None}, {"_id": "l3", "b": 1}],
        {"a": {"$lte": None}},
        ["l2", "l3"],
    ),
    (
        "gte-null-matches-missing",
        [{"_id": "g1", "a": 1}, {"_id": "g2", "a": None}, {"_id": "g3", "b": 1}],
        {"a": {"$gte": None}},
        ["g2", "g3"],
    ),
    ("type-null-is-not-missing", [{"_id": "t1", "a": None}, {"_id": "t2", "b": 1}], {"a": {"$type": "null"}}, ["t1"]),
    ("nan-equals-nan", [{"_id": "f1", "a": NAN}, {"_id": "f2", "a": 1}], {"a": NAN}, ["f1"]),
    # a NaN from elsewhere (the wire, a file): mongomock's $in only finds the very same object
    ("in-nan", [{"_id": "f1", "a": NAN}, {"_id": "f2", "a": 1}], {"a": {"$in": [float("nan")]}}, ["f1"]),
    ("all-empty-matches-nothing", [{"_id": "a1", "a": [1, 2]}, {"_id": "a2", "a": []}], {"a": {"$all": []}}, []),
    (
        "cross-type-range-stays-in-type",
        [{"_id": "c1", "a": 1}, {"_id": "c2", "a": "x"}, {"_id": "c3", "a": None}, {"_id": "c4", "a": True}],
        {"a": {"$gt": 0}},
        ["c1"],
    ),
    (
        "nan-is-not-greater-than-anything",
        [{"_id": "f1", "a": NAN}, {"_id": "f2", "a": 1}, {"_id": "f3", "a": -math.inf}],
        {"a": {"$gt": -math.inf}},
        ["f2"],
    ),
    (
        "id-equality-is-numeric-not-boolean",
        [{"_id": 1, "k": "int"}, {"_id": True, "k": "bool"}, {"_id": "1", "k": "str"}],
        {"_id": 1.0},
        [1],
    ),
    (
        "id-lookup-still-checks-the-rest-of-the-filter",
        [{"_id": "p", "v": 1}, {"_id": "q", "v": 2}, {"_id": "r", "v": 1}],
        {"_id": {"$in": ["p", "q", "zz"]}, "v": 1},
        ["p"],
    ),
]


@pytest.mark.parametrize(("docs", "filter", "expected"), [case[1:] for case in QUERIES], ids=[c[0] for c in QUERIES])
def test_query_gives_mongodb_answer(
    db: docstore.Database, docs: list[dict[str, Any]], filter: dict[str, Any], expected: list[Any]
) -> None:
    coll = _seed(db, docs)
    assert sorted(doc["_id"] for doc in coll.find(filter)) == expected
    assert coll.count_documents(filter) == len(expected)


RAW_DIVERGENT = [
    "int-does-not-match-true",
    "true-does-not-match-int",
    "embedded-documents-compare-in-key-order",
    "embedded-documents-compare-numbers-not-bools",
    "size-counts-array-elements-only",
    "in-matches-a-whole-array",
    "in-true-is-not-in-1",
    "in-0-is-not-in-false",
    "lte-null-matches-missing",
    "gte-null-matches-missing",
    "nan-equals-nan",
    "in-nan",
    "all-empty-matches-nothing",
]


@pytest.mark.parametrize("case", RAW_DIVERGENT)
def test_raw_mongomock_query_diverges(raw: Any, case: str) -> None:
    _, docs, filter, expected = next(c for c in QUERIES if c[0] == case)
    raw.insert_many([dict(doc) for doc in docs])
    assert _ids(raw, filter) != expected


def test_raw_mongomock_type_null_is_not_implemented(raw: Any) -> None:
    raw.insert_one({"a": None})
    with pytest.raises(NotImplementedError):
        list(raw.find({"a": {"$type": "null"}}))


# -- sort ---------------------------------------------------------------------------

SORTS: list[tuple[str, list[dict[str, Any]], list[tuple[str, int]], list[str]]] = [
    (
        "descending-array-sorts-by-its-max",
        [{"_id": "x0", "a": [3, 10]}, {"_id": "x1", "a": 5}, {"_id": "x2", "a": [1, 7]}],
        [("a", -1)],
        ["x0", "x2", "x1"],
    ),
    (
        "ascending-array-sorts-by-its-min",
        [{"_id": "x0", "a": [3, 10]}, {"_id": "x1", "a": 5}, {"_id": "x2", "a": [1, 7]}],
        [("a", 1)],
        ["x2", "x0", "x1"],
    ),
    (
        "nan-sorts-before-numbers",
        [{"_id": "n0", "a": 1}, {"_id": "n1", "a": NAN}, {"_id": "n2", "a": -5}],
        [("a", 1)],
        ["n1", "n2", "n0"],
    ),
    (
        "bson-type-order",
        [
            {"_id": "date", "a": _dt.datetime(2020, 1, 1, tzinfo=UTC)},
            {"_id": "bool", "a": True},
            {"_id": "bin", "a": b"b"},
            {"_id": "obj", "a": {"x": 1}},
            {"_id": "str", "a": "s"},
            {"_id": "num", "a": 2.5},
            {"_id": "null", "a": None},
        ],
        [("a", 1)],
        ["null", "num", "str", "obj", "bin", "bool", "date"],
    ),
]


@pytest.mark.parametrize(("docs", "sort", "expected"), [c[1:] for c in SORTS], ids=[c[0] for c in SORTS])
def test_sort_gives_mongodb_order(
    db: docstore.Database, docs: list[dict[str, Any]], sort: list[tuple[str, int]], expected: list[str]
) -> None:
    coll = _seed(db, docs)
    assert [doc["_id"] for doc in coll.find(sort=sort)] == expected
    first = coll.find_one_and_update({}, {"$set": {"picked": True}}, sort=sort)
    assert first is not None
    assert first["_id"] == expected[0]


@pytest.mark.parametrize("case", ["descending-array-sorts-by-its-max", "nan-sorts-before-numbers"])
def test_raw_mongomock_sort_diverges(raw: Any, case: str) -> None:
    _, docs, sort, expected = next(c for c in SORTS if c[0] == case)
    raw.insert_many([dict(doc) for doc in docs])
    assert [doc["_id"] for doc in raw.find().sort(sort)] != expected


@pytest.mark.parametrize(
    "values",
    [
        [3, 1.5, 2, 1.5, 7],
        ["b", "a", "c", "a", "é", "Z"],
        [_dt.datetime(2024, 1, d, tzinfo=UTC) for d in (3, 1, 2, 1)],
        [2, 2, 2],
        [1, "a", None, True, 0.5],  # mixed types: the general path
        [NAN, 1, -5, NAN],
        [[3, 1], 2, [0, 9]],
        [1, True, 0],
        [4, MISSING, 2],
    ],
    ids=["numbers", "strings", "dates", "all-equal", "mixed", "nan", "arrays", "bool-beside-numbers", "missing"],
)
@pytest.mark.parametrize("direction", [1, -1])
def test_first_in_sort_order_is_the_head_of_the_sort(values: list[Any], direction: int) -> None:
    from docstore_mongodb.mock import first_in_order

    from docstore import query

    docs = [{"_id": f"d{i}", **({} if value is MISSING else {"v": value})} for i, value in enumerate(values)]
    sort = query.compile_sort([("v", direction)])
    assert first_in_order(docs, sort)["_id"] == sort.sort(docs)[0]["_id"]
    assert first_in_order(docs[1:], sort)["_id"] == sort.sort(docs[1:])[0]["_id"]


# -- updates ------------------------------------------------------------------------


def test_failed_update_many_changes_nothing(db: docstore.Database) -> None:
    coll = _seed(db, [{"_id": "u1", "a": 1}, {"_id": "u2", "a": "x"}, {"_id": "u3", "a": 2}])
    with pytest.raises(InvalidOperation):
        coll.update_many({}, {"$inc": {"a": 1}})
    assert [doc["a"] for doc in coll.find(sort=[("_id", 1)])] == [1, "x", 2]


def test_raw_mongomock_failed_update_many_is_half_applied(raw: Any) -> None:
    raw.insert_many([{"_id": "u1", "a": 1}, {"_id": "u2", "a": "x"}, {"_id": "u3", "a": 2}])
    with pytest.raises(TypeError):  # not even a pymongo error
        raw.update_many({}, {"$inc": {"a": 1}})
    assert [doc["a"] for doc in raw.find(sort=[("_id", 1)])] == [2, "x", 2]


def test_failed_single_update_changes_nothing(db: docstore.Database) -> None:
    coll = _seed(db, [{"_id": "u1", "a": "x", "b": 0}])
    with pytest.raises(InvalidOperation):
        coll.update_one({"_id": "u1"}, {"$set": {"b": 1}, "$inc": {"a": 1}})
    with pytest.raises(InvalidOperation):
        coll.find_one_and_update({"_id": "u1"}, {"$set": {"b": 2}, "$push": {"a": 1}})
    assert coll.find_one("u1") == {"_id": "u1", "a": "x", "b": 0}


def test_push_onto_a_non_array_is_an_invalid_operation(db: docstore.Database, raw: Any) -> None:
    coll = _seed(db, [{"_id": "p", "a": 1}])
    with pytest.raises(InvalidOperation):
        coll.update_one({"_id": "p"}, {"$push": {"a": 2}})
    raw.insert_one({"_id": "p", "a": 1})
    with pytest.raises(AttributeError):  # mongomock: a raw Python error
        raw.update_one({"_id": "p"}, {"$push": {"a": 2}})


def test_set_through_a_scalar_is_an_invalid_operation(db: docstore.Database, raw: Any) -> None:
    coll = _seed(db, [{"_id": "p", "a": 1}])
    with pytest.raises(InvalidOperation):
        coll.update_one({"_id": "p"}, {"$set": {"a.b": 2}})
    raw.insert_one({"_id": "p", "a": 1})
    assert raw.update_one({"_id": "p"}, {"$set": {"a.b": 2}}).matched_count == 1  # silently ignored


# (case id, stored value of "a", update, MongoDB's value of "a" afterwards)
UPDATES: list[tuple[str, Any, dict[str, Any], Any]] = [
    ("max-across-types-uses-bson-order", 5, {"$max": {"a": "s"}}, "s"),
    ("min-with-null", 5, {"$min": {"a": None}}, None),
    ("max-over-nan", NAN, {"$max": {"a": 1}}, 1),
    ("add-to-set-true-beside-1", [1], {"$addToSet": {"a": True}}, [1, True]),
    (
        "add-to-set-reordered-document",
        [{"x": 1, "y": 2}],
        {"$addToSet": {"a": {"y": 2, "x": 1}}},
        [{"x": 1, "y": 2}, {"y": 2, "x": 1}],
    ),
    ("add-to-set-1.0-beside-1", [1], {"$addToSet": {"a": 1.0}}, [1]),
    ("pull-1-keeps-true", [1, True, 1.0], {"$pull": {"a": 1}}, [True]),
    ("mul-missing-field-is-zero", None, {"$mul": {"m": 3}}, None),
]


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        return ("dict", tuple((k, _typed(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(_typed(v) for v in value))
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    return (type(value).__name__, value)


@pytest.mark.parametrize(("stored", "update", "expected"), [c[1:] for c in UPDATES], ids=[c[0] for c in UPDATES])
def test_update_gives_mongodb_result(db: docstore.Database, stored: Any, update: dict[str, Any], expected: Any) -> None:
    coll = _seed(db, [{"_id": "u", "a": stored}])
    result = coll.update_one({"_id": "u"}, update)
    assert result.matched_count == 1
    doc = coll.find_one("u")
    assert doc is not None
    assert _typed(doc["a"]) == _typed(expected)
    if "$mul" in update:
        assert _typed(doc["m"]) == _typed(0)


@pytest.mark.parametrize(
    "case", ["max-over-nan", "add-to-set-true-beside-1", "add-to-set-reordered-document", "pull-1-keeps-true"]
)
def test_raw_mongomock_update_diverges(raw: Any, case: str) -> None:
    _, stored, update, expected = next(c for c in UPDATES if c[0] == case)
    raw.insert_one({"_id": "u", "a": stored})
    raw.update_one({"_id": "u"}, update)
    assert _typed(raw.find_one("u")["a"]) != _typed(expected)


def test_modified_count_sees_a_type_change(db: docstore.Database, raw: Any) -> None:
    coll = _seed(db, [{"_id": "m", "a": 1}])
    assert coll.update_one({"_id": "m"}, {"$set": {"a": 1}}).modified_count == 0
    assert coll.update_one({"_id": "m"}, {"$set": {"a": 1.0}}).modified_count == 1
    raw.insert_one({"_id": "m", "a": 1})
    assert raw.update_one({"_id": "m"}, {"$set": {"a": 1.0}}).modified_count == 0


def test_upsert_seeds_from_and_clauses(db: docstore.Database, raw: Any) -> None:
    coll = db["c"]
    result = coll.update_one({"$and": [{"a": 7}, {"b": 8}]}, {"$set": {"x": 1}}, upsert=True)
    assert isinstance(result.upserted_id, str)
    doc = coll.find_one(result.upserted_id)
    assert doc == {"_id": result.upserted_id, "a": 7, "b": 8, "x": 1}
    raw.update_one({"$and": [{"a": 7}, {"b": 8}]}, {"$set": {"x": 1}}, upsert=True)
    assert "a" not in raw.find_one()


def test_datetimes_come_back_aware_utc(db: docstore.Database, raw: Any) -> None:
    when = _dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=_dt.timezone(_dt.timedelta(hours=2)))
    coll = _seed(db, [{"_id": "d", "when": when}])
    stored = (coll.find_one("d") or {})["when"]
    assert stored == _dt.datetime(2024, 5, 6, 5, 8, 9, 123000, tzinfo=UTC)
    assert stored.tzinfo is not None
    assert stored.utcoffset() == _dt.timedelta(0)
    assert coll.count_documents({"when": {"$gt": _dt.datetime(2024, 5, 6, 5, tzinfo=UTC)}}) == 1
    raw.insert_one({"_id": "d", "when": when})
    assert raw.find_one("d")["when"].tzinfo is None


# -- unique indexes -----------------------------------------------------------------

# (case id, documents inserted in order, index field, True if MongoDB rejects the second)
UNIQUE: list[tuple[str, list[dict[str, Any]], str, bool]] = [
    ("1-and-true-differ", [{"a": 1}, {"a": True}], "a", False),
    ("1-and-1.0-clash", [{"a": 1}, {"a": 1.0}], "a", True),
    ("reordered-documents-differ", [{"a": {"x": 1, "y": 2}}, {"a": {"y": 2, "x": 1}}], "a", False),
    ("arrays-sharing-an-element-clash", [{"a": [1, 2]}, {"a": [2, 3]}], "a", True),
    ("array-repeating-its-own-element-is-fine", [{"a": [1, 1]}, {"a": 3}], "a", False),
    ("nan-twice-clashes", [{"a": NAN}, {"a": NAN}], "a", True),
    ("null-and-array-of-null-clash", [{"a": None}, {"a": [None]}], "a", True),
    ("missing-twice-clashes", [{"b": 1}, {"b": 2}], "a", True),
    ("dotted-path-through-array-clashes", [{"a": [{"b": 1}]}, {"a": {"b": 1}}], "a.b", True),
]


@pytest.mark.parametrize(("docs", "field", "clash"), [c[1:] for c in UNIQUE], ids=[c[0] for c in UNIQUE])
def test_unique_index_follows_mongodb(
    db: docstore.Database, docs: list[dict[str, Any]], field: str, clash: bool
) -> None:
    coll = db["c"]
    name = coll.create_index(field, unique=True)
    coll.insert_one(dict(docs[0]))
    if clash:
        with pytest.raises(DuplicateKeyError) as caught:
            coll.insert_one(dict(docs[1]))
        assert caught.value.index == name
        assert caught.value.collection == "c"
        assert coll.count_documents({}) == 1
    else:
        coll.insert_one(dict(docs[1]))
        assert coll.count_documents({}) == 2


@pytest.mark.parametrize(
    "case",
    [
        "1-and-true-differ",
        "reordered-documents-differ",
        "arrays-sharing-an-element-clash",
        "nan-twice-clashes",
        "null-and-array-of-null-clash",
    ],
)
def test_raw_mongomock_unique_index_diverges(raw: Any, case: str) -> None:
    _, docs, field, clash = next(c for c in UNIQUE if c[0] == case)
    raw.create_index(field, unique=True)
    raw.insert_one(dict(docs[0]))
    try:
        raw.insert_one(dict(docs[1]))
        raw_clash = False
    except mongomock.DuplicateKeyError:
        raw_clash = True
    assert raw_clash != clash


def test_duplicate_key_error_names_index_and_key(db: docstore.Database) -> None:
    coll = db["c"]
    coll.create_index([("exp", 1), ("n", 1)], unique=True, name="exp_n")
    coll.insert_one({"_id": "a", "exp": "e", "n": 1})
    assert coll.update_one({"_id": "a"}, {"$set": {"x": 1}}).modified_count == 1  # no clash with itself
    with pytest.raises(DuplicateKeyError) as caught:
        coll.insert_one({"_id": "b", "exp": "e", "n": 1.0})
    assert caught.value.index == "exp_n"
    assert caught.value.key == {"exp": "e", "n": 1.0}
    with pytest.raises(DuplicateKeyError) as caught:
        coll.insert_one({"_id": "a"})
    assert caught.value.index == "_id_"
    assert caught.value.key == {"_id": "a"}


def test_ordered_insert_many_stops_at_the_first_duplicate(db: docstore.Database) -> None:
    coll = db["c"]
    coll.create_index("k", unique=True)
    with pytest.raises(DuplicateKeyError):
        coll.insert_many([{"_id": "1", "k": 1}, {"_id": "2", "k": 2}, {"_id": "3", "k": 1}, {"_id": "4", "k": 4}])
    assert _ids(coll, {}) == ["1", "2"]  # as MongoDB's ordered insert: those before the clash stay


def test_unique_index_is_checked_document_by_document(db: docstore.Database) -> None:
    coll = _seed(db, [{"_id": "a", "k": 1}, {"_id": "b", "k": 2}])
    coll.create_index("k", unique=True)
    with pytest.raises(DuplicateKeyError):  # MongoDB: the first document's new 2 clashes with b's 2
        coll.update_many({}, {"$inc": {"k": 1}})
    assert [doc["k"] for doc in coll.find(sort=[("_id", 1)])] == [1, 2]
    assert coll.update_many({}, {"$inc": {"k": 10}}).modified_count == 2  # 11 and 12 clash with nothing
    coll.update_one({"_id": "a"}, {"$set": {"k": 3}})
    coll.update_one({"_id": "b"}, {"$set": {"k": 11}})  # a's old key is free again
    coll.delete_one({"_id": "b"})
    coll.insert_one({"_id": "c", "k": 11})  # and so is a deleted document's
    with pytest.raises(DuplicateKeyError):
        coll.find_one_and_update({"_id": "c"}, {"$set": {"k": 3}})
    with pytest.raises(DuplicateKeyError):
        coll.update_one({"k": 99}, {"$set": {"x": 1}, "$setOnInsert": {"k": 3}}, upsert=True)
    assert sorted((doc["_id"], doc["k"]) for doc in coll.find()) == [("a", 3), ("c", 11)]


def test_unique_index_sees_documents_written_by_raw_mongomock(db: docstore.Database) -> None:
    coll = _seed(db, [{"_id": "a", "k": 1}])
    coll.create_index("k", unique=True)
    coll.insert_one({"_id": "b", "k": 2})
    raw_coll = db.engine.mongomock_client[db.engine._database_name]["c"]  # type: ignore[attr-defined]
    raw_coll.insert_one({"_id": "raw", "k": 5})
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"_id": "c", "k": 5})


def test_create_unique_index_on_clashing_documents_fails_cleanly(db: docstore.Database) -> None:
    coll = _seed(db, [{"_id": "a", "k": [1, 2]}, {"_id": "b", "k": 2}])
    with pytest.raises(DuplicateKeyError) as caught:
        coll.create_index("k", unique=True)
    assert caught.value.key == {"k": 2}
    assert set(coll.index_information()) == {"_id_"}
    coll.insert_one({"_id": "c", "k": 2})


# -- storage, sharing, threads --------------------------------------------------------


def test_documents_live_in_mongomock(db: docstore.Database) -> None:
    db["c"].insert_one({"_id": "x", "v": 1})
    client = db.engine.mongomock_client  # type: ignore[attr-defined]
    assert client[db.engine._database_name]["c"].find_one({"_id": "x"}) == {"_id": "x", "v": 1}  # type: ignore[attr-defined]


def test_connections_to_one_name_share_data_and_others_do_not() -> None:
    name = f"share{uuid.uuid4().hex[:8]}"
    first, second = docstore.connect(f"mongomock://{name}"), docstore.connect(f"mongomock://{name}")
    other = docstore.connect(f"mongomock://{name}x")
    first["c"].insert_one({"_id": "x"})
    assert second["c"].find_one("x") == {"_id": "x"}
    assert other["c"].find_one("x") is None
    assert first.capabilities.persistent is False
    assert first.capabilities.multi_process is False
    for database in (first, second, other):
        database.close()


def _in_threads(count: int, work: Callable[[], None]) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def test_eight_threads_reserve_each_document_exactly_once(db: docstore.Database) -> None:
    coll = db["trials"]
    coll.insert_many([{"_id": f"t{i:04d}", "status": "new"} for i in range(1000)])
    reserved: list[str] = []
    lock = threading.Lock()

    def reserve_all() -> None:
        while (doc := coll.find_one_and_update({"status": "new"}, {"$set": {"status": "reserved"}})) is not None:
            with lock:
                reserved.append(doc["_id"])

    _in_threads(8, reserve_all)
    assert len(reserved) == 1000
    assert len(set(reserved)) == 1000
    assert coll.count_documents({"status": "reserved"}) == 1000
