"""Read conformance: projections, sorts (BSON order across types), cursors, count, distinct."""

from __future__ import annotations

from typing import Any

import pytest

from docstore.database import Database
from docstore.testing.support import D2024, D2025, fill, typed

__all__ = ["CursorSuite", "ProjectionSuite", "SortSuite"]

PROJECTED = {
    "_id": "x",
    "a": 1,
    "b": {"c": 2, "d": 3},
    "items": [{"k": 1, "v": "p"}, {"k": 2, "v": "q"}],
    "e": "e",
}

PROJECTION_CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("include", {"a": 1}, {"_id": "x", "a": 1}),
    ("include-true", {"a": True, "e": True}, {"_id": "x", "a": 1, "e": "e"}),
    ("include-list-form", ["a", "e"], {"_id": "x", "a": 1, "e": "e"}),
    ("include-without-id", {"a": 1, "_id": 0}, {"a": 1}),
    ("include-missing-field", {"zz": 1}, {"_id": "x"}),
    ("include-dotted", {"b.c": 1}, {"_id": "x", "b": {"c": 2}}),
    ("include-dotted-through-array", {"items.k": 1}, {"_id": "x", "items": [{"k": 1}, {"k": 2}]}),
    ("exclude", {"a": 0, "items": 0}, {"_id": "x", "b": {"c": 2, "d": 3}, "e": "e"}),
    ("exclude-false", {"a": False}, {"_id": "x", "b": {"c": 2, "d": 3}, "items": PROJECTED["items"], "e": "e"}),
    ("exclude-id-only", {"_id": 0}, {k: v for k, v in PROJECTED.items() if k != "_id"}),
    (
        "exclude-dotted",
        {"b.c": 0, "items.v": 0, "_id": 0},
        {"a": 1, "b": {"d": 3}, "items": [{"k": 1}, {"k": 2}], "e": "e"},
    ),
    ("only-id", {"_id": 1}, {"_id": "x"}),
]


SORTED_MIXED: list[tuple[str, Any]] = [
    # BSON order: null/missing < numbers < strings < objects < arrays < binary < bool < dates
    ("a-null", None),
    ("b-missing", ...),
    ("c-neg", -2.5),
    ("d-one", 1),
    ("e-onehalf", 1.5),
    ("f-big", 2**62),
    ("g-upper", "B"),
    ("h-lower", "a"),
    ("i-accent", "é"),
    ("j-obj", {"a": 1}),
    ("k-obj2", {"b": 0}),
    ("l-bin", b"\x00"),
    ("m-false", False),
    ("n-true", True),
    ("o-date", D2024),
    ("p-date2", D2025),
]


def _mixed_docs() -> list[dict[str, Any]]:
    # inserted in scrambled order so that insertion order cannot pass for sorted order
    docs = [{"_id": key} if value is ... else {"_id": key, "v": value} for key, value in SORTED_MIXED]
    return docs[7:] + docs[:7][::-1]


def _order(db: Database, sort: Any, **kwargs: Any) -> list[str]:
    return [doc["_id"] for doc in db["s"].find({}, sort=sort, **kwargs)]


class ProjectionSuite:
    """Projections: inclusion, exclusion, ``_id`` rules, dotted paths. Needs a ``db`` fixture."""

    @pytest.mark.parametrize(("case", "projection", "expected"), PROJECTION_CASES, ids=[c[0] for c in PROJECTION_CASES])
    def test_projection(self, db: Database, case: str, projection: Any, expected: dict[str, Any]) -> None:
        db["p"].insert_one(dict(PROJECTED))
        found = db["p"].find({}, projection).to_list()
        assert [typed(doc, ordered=False) for doc in found] == [typed(expected, ordered=False)]
        assert typed(db["p"].find_one({}, projection), ordered=False) == typed(expected, ordered=False)

    def test_inclusion_keeps_document_order(self, db: Database) -> None:
        db["p"].insert_one({"_id": "x", "a": 1, "b": 2, "c": 3})
        assert list(db["p"].find_one({}, {"c": 1, "a": 1}) or {}) == ["_id", "a", "c"]

    def test_projection_does_not_change_store(self, db: Database) -> None:
        db["p"].insert_one(dict(PROJECTED))
        db["p"].find_one({}, {"a": 1})
        assert typed(db["p"].find_one("x")) == typed(PROJECTED)


class SortSuite:
    """Sorts: several keys, BSON order across types, arrays by min/max, missing as null. Needs ``db``."""

    def test_mixed_types_ascending(self, db: Database) -> None:
        fill(db["s"], _mixed_docs())
        assert _order(db, [("v", 1), ("_id", 1)]) == [key for key, _ in SORTED_MIXED]

    def test_mixed_types_descending(self, db: Database) -> None:
        fill(db["s"], _mixed_docs())
        expected = [key for key, _ in SORTED_MIXED][::-1]
        # null and missing tie: the _id tie-breaker (descending too) orders them
        assert _order(db, [("v", -1), ("_id", -1)]) == expected

    def test_missing_sorts_as_null(self, db: Database) -> None:
        fill(db["s"], [{"_id": "1", "v": 0}, {"_id": "2"}, {"_id": "3", "v": None}, {"_id": "4"}])
        assert _order(db, [("v", 1), ("_id", -1)]) == ["4", "3", "2", "1"]
        assert _order(db, [("v", -1), ("_id", 1)]) == ["1", "2", "3", "4"]

    def test_several_keys(self, db: Database) -> None:
        docs = [{"_id": f"{a}{b}", "a": a, "b": b} for a in (2, 1, 3) for b in ("y", "x", "z")]
        fill(db["s"], docs)
        assert _order(db, [("a", 1), ("b", -1)]) == ["1z", "1y", "1x", "2z", "2y", "2x", "3z", "3y", "3x"]
        assert _order(db, [("b", 1), ("a", -1)]) == ["3x", "2x", "1x", "3y", "2y", "1y", "3z", "2z", "1z"]

    def test_numbers_by_value_across_int_and_float(self, db: Database) -> None:
        fill(
            db["s"],
            [
                {"_id": "a", "v": 2},
                {"_id": "b", "v": 1.5},
                {"_id": "c", "v": -1},
                {"_id": "d", "v": 10},
                {"_id": "e", "v": 2.25},
            ],
        )
        assert _order(db, "v") == ["c", "b", "a", "e", "d"]

    def test_arrays_sort_by_min_ascending_and_max_descending(self, db: Database) -> None:
        fill(
            db["s"],
            [{"_id": "a", "v": [1, 10]}, {"_id": "b", "v": [5]}, {"_id": "c", "v": [3, 4]}, {"_id": "d", "v": 2}],
        )
        assert _order(db, [("v", 1)]) == ["a", "d", "c", "b"]
        assert _order(db, [("v", -1)]) == ["a", "b", "c", "d"]

    def test_empty_array_sorts_below_null(self, db: Database) -> None:
        fill(
            db["s"],
            [
                {"_id": "c", "v": 1},
                {"_id": "a", "v": []},
                {"_id": "b", "v": None},
                {"_id": "d", "v": [None, 2]},
                {"_id": "e"},
            ],
        )
        assert _order(db, [("v", 1), ("_id", 1)]) == ["a", "b", "d", "e", "c"]
        assert _order(db, [("v", -1), ("_id", 1)]) == ["d", "c", "b", "e", "a"]

    def test_dotted_sort_key(self, db: Database) -> None:
        fill(
            db["s"],
            [
                {"_id": "a", "d": {"n": 2}},
                {"_id": "b", "d": {"n": 1}},
                {"_id": "c", "d": {}},
                {"_id": "e", "d": {"n": 3}},
            ],
        )
        assert _order(db, [("d.n", -1)]) == ["e", "a", "b", "c"]

    def test_documents_compare_field_by_field(self, db: Database) -> None:
        fill(
            db["s"],
            [
                {"_id": "a", "v": {"x": 2}},
                {"_id": "b", "v": {"x": 1, "y": 5}},
                {"_id": "c", "v": {"x": 1}},
                {"_id": "d", "v": {"w": 9}},
            ],
        )
        assert _order(db, [("v", 1)]) == ["d", "c", "b", "a"]

    def test_sort_with_skip_and_limit_is_stable(self, db: Database) -> None:
        docs = [{"_id": f"{i:02d}", "g": i % 3} for i in range(12)]
        fill(db["s"], docs[::-1])
        full = _order(db, [("g", 1), ("_id", 1)])
        assert full == [d["_id"] for d in sorted(docs, key=lambda d: (d["g"], d["_id"]))]
        pages = [_order(db, [("g", 1), ("_id", 1)], skip=skip, limit=5) for skip in (0, 5, 10)]
        assert pages[0] + pages[1] + pages[2] == full
        assert [len(p) for p in pages] == [5, 5, 2]

    def test_strings_sort_by_code_point(self, db: Database) -> None:
        fill(db["s"], [{"_id": str(i), "v": v} for i, v in enumerate(["b", "B", "é", "a", "", "ab", "Z"])])
        found = db["s"].find({}, sort="v").to_list()
        assert [doc["v"] for doc in found] == ["", "B", "Z", "a", "ab", "b", "é"]


class CursorSuite:
    """Cursor chaining, count_documents, distinct, delete and collection management. Needs ``db``."""

    def _seed_cursor(self, db: Database) -> None:
        fill(db["c"], [{"_id": f"d{i}", "n": i, "odd": bool(i % 2), "tags": ["t", f"t{i % 3}"]} for i in range(7)])

    def test_chaining(self, db: Database) -> None:
        self._seed_cursor(db)
        found = db["c"].find({"odd": False}).sort("n", -1).skip(1).limit(2).to_list()
        assert [doc["n"] for doc in found] == [4, 2]
        chained = db["c"].find().sort([("odd", 1), ("n", -1)]).limit(3).to_list()
        assert [doc["n"] for doc in chained] == [6, 4, 2]
        assert [d["n"] for d in db["c"].find({}, sort="n", skip=5)] == [5, 6]

    def test_limit_zero_is_no_limit_and_skip_past_end_is_empty(self, db: Database) -> None:
        self._seed_cursor(db)
        assert len(db["c"].find({}, limit=0).to_list()) == 7
        assert db["c"].find({}, skip=7).to_list() == []
        assert len(db["c"].find({}).limit(100).to_list()) == 7

    def test_count_documents(self, db: Database) -> None:
        self._seed_cursor(db)
        assert db["c"].count_documents({}) == 7
        assert db["c"].count_documents({"odd": True}) == 3
        assert db["c"].count_documents({"tags": "t1"}) == 2
        assert db["c"].count_documents({"n": {"$gte": 100}}) == 0
        assert db["never_created"].count_documents({}) == 0

    def test_distinct(self, db: Database) -> None:
        self._seed_cursor(db)
        assert db["c"].distinct("odd") == [False, True]
        assert db["c"].distinct("tags") == ["t", "t0", "t1", "t2"]
        assert db["c"].distinct("n", {"n": {"$lt": 3}}) == [0, 1, 2]
        assert db["never_created"].distinct("n") == []

    def test_distinct_bson_equality_and_order(self, db: Database) -> None:
        fill(
            db["c"], [{"v": 1}, {"v": 1.0}, {"v": True}, {"v": "1"}, {"v": None}, {"v": {"x": 2}}, {"v": {"x": 1}}, {}]
        )
        values = db["c"].distinct("v")
        # 1 and 1.0 are one value (which one is kept is not specified); True is not 1
        assert len(values) == 6
        assert values[0] is None
        assert values[1] == 1
        assert type(values[1]) in (int, float)
        assert values[2:] == ["1", {"x": 1}, {"x": 2}, True]
        assert db["c"].distinct("v.x") == [1, 2]
        assert db["c"].distinct("v.d.x") == []

    def test_delete(self, db: Database) -> None:
        self._seed_cursor(db)
        assert db["c"].delete_one({"odd": True}).deleted_count == 1
        assert db["c"].count_documents({"odd": True}) == 2
        assert db["c"].delete_many({"odd": False}).deleted_count == 4
        assert sorted(d["odd"] for d in db["c"].find()) == [True, True]
        assert db["c"].delete_many({"n": 100}).deleted_count == 0
        assert db["c"].delete_many({}).deleted_count == 2
        assert db["c"].find_one() is None

    def test_collections(self, db: Database) -> None:
        assert db.list_collection_names() == []
        db["b"].insert_one({"x": 1})
        db["a"].insert_one({"x": 1})
        assert db.list_collection_names() == ["a", "b"]
        db["b"].drop()
        assert db.list_collection_names() == ["a"]
        assert db["b"].find_one() is None
        db.drop_collection("a")
        assert db.list_collection_names() == []
        db["a"].insert_one({"y": 2})
        assert [doc["y"] for doc in db["a"].find()] == [2]

    def test_drop_removes_indexes(self, db: Database) -> None:
        db["a"].create_index("k", unique=True)
        db["a"].insert_one({"k": 1})
        db["a"].drop()
        assert "k_1" not in db["a"].index_information()
        db["a"].insert_many([{"k": 1}, {"k": 1}])
        assert db["a"].count_documents({"k": 1}) == 2
