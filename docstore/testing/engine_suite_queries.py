"""Filter conformance: every operator and MongoDB's BSON matching rules, on fixed data sets.

Each case is a filter and the ``_id``s it must match, written out by hand from MongoDB's
documented behaviour (MongoDB is the reference), never computed by the code under test.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from docstore.database import Database
from docstore.testing.support import D2024, D2025, MISSING, fill, matched_ids

__all__ = ["QuerySuite"]

# One field ``v`` holding a value of every kind: comparisons must bracket by type.
SCALARS: list[dict[str, Any]] = [
    {"_id": "i1", "v": 1},
    {"_id": "f1", "v": 1.0},
    {"_id": "f15", "v": 1.5},
    {"_id": "i2", "v": 2},
    {"_id": "big", "v": 2**62},
    {"_id": "zero", "v": 0},
    {"_id": "neg", "v": -3},
    {"_id": "s1", "v": "1"},
    {"_id": "sb", "v": "b"},
    {"_id": "t", "v": True},
    {"_id": "fa", "v": False},
    {"_id": "nul", "v": None},
    {"_id": "mis", "v": MISSING},
    {"_id": "arr", "v": [1, 5]},
    {"_id": "earr", "v": []},
    {"_id": "obj", "v": {"a": 1}},
    {"_id": "date", "v": D2024},
    {"_id": "bin", "v": b"\x01"},
]
ALL = {doc["_id"] for doc in SCALARS}


def _but(*ids: str) -> set[str]:
    return ALL - set(ids)


SCALAR_CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    # equality: 1 == 1.0, true != 1, false != 0, arrays match element-wise and whole
    ("eq-int", {"v": 1}, {"i1", "f1", "arr"}),
    ("eq-float", {"v": 1.0}, {"i1", "f1", "arr"}),
    ("eq-op", {"v": {"$eq": 2}}, {"i2"}),
    ("eq-zero", {"v": 0}, {"zero"}),
    ("eq-true", {"v": True}, {"t"}),
    ("eq-false", {"v": False}, {"fa"}),
    ("eq-null-matches-missing", {"v": None}, {"nul", "mis"}),
    ("eq-string", {"v": "1"}, {"s1"}),
    ("eq-whole-array", {"v": [1, 5]}, {"arr"}),
    ("eq-array-order", {"v": [5, 1]}, set()),
    ("eq-empty-array", {"v": []}, {"earr"}),
    ("eq-document", {"v": {"a": 1}}, {"obj"}),
    ("eq-date", {"v": D2024}, {"date"}),
    ("eq-bytes", {"v": b"\x01"}, {"bin"}),
    ("eq-big-int-exact", {"v": 2**62 + 1}, set()),
    # comparisons stay within one BSON type bracket
    ("gt-number", {"v": {"$gt": 1}}, {"f15", "i2", "big", "arr"}),
    ("gte-number", {"v": {"$gte": 1}}, {"i1", "f1", "f15", "i2", "big", "arr"}),
    ("lt-number", {"v": {"$lt": 1}}, {"zero", "neg"}),
    ("lte-float", {"v": {"$lte": 1.0}}, {"i1", "f1", "zero", "neg", "arr"}),
    ("range-any-elements", {"v": {"$gt": 1, "$lt": 2}}, {"f15", "arr"}),
    ("gt-big-int-exact", {"v": {"$gt": 2**62 - 1}}, {"big"}),
    ("lt-big-int", {"v": {"$lt": 2**62}}, {"i1", "f1", "f15", "i2", "zero", "neg", "arr"}),
    ("gt-string", {"v": {"$gt": "a"}}, {"sb"}),
    ("lt-string", {"v": {"$lt": "a"}}, {"s1"}),
    ("gte-empty-string", {"v": {"$gte": ""}}, {"s1", "sb"}),
    ("gt-false", {"v": {"$gt": False}}, {"t"}),
    ("gte-false", {"v": {"$gte": False}}, {"t", "fa"}),
    ("lt-date", {"v": {"$lt": D2025}}, {"date"}),
    ("gt-date", {"v": {"$gt": D2025}}, set()),
    ("gte-null", {"v": {"$gte": None}}, {"nul", "mis"}),
    ("lte-null", {"v": {"$lte": None}}, {"nul", "mis"}),
    ("gt-null", {"v": {"$gt": None}}, set()),
    ("lt-null", {"v": {"$lt": None}}, set()),
    ("gt-empty-document", {"v": {"$gt": {}}}, {"obj"}),
    ("gte-bytes", {"v": {"$gte": b"\x00"}}, {"bin"}),
    # $ne / $in / $nin
    ("ne-int", {"v": {"$ne": 1}}, _but("i1", "f1", "arr")),
    ("ne-null", {"v": {"$ne": None}}, _but("nul", "mis")),
    ("ne-true", {"v": {"$ne": True}}, _but("t")),
    ("in-mixed", {"v": {"$in": [2, "b", None]}}, {"i2", "sb", "nul", "mis"}),
    ("in-empty", {"v": {"$in": []}}, set()),
    ("in-whole-values", {"v": {"$in": [[1, 5], {"a": 1}]}}, {"arr", "obj"}),
    ("in-regex", {"v": {"$in": [re.compile("^b")]}}, {"sb"}),
    ("in-false-not-zero", {"v": {"$in": [False]}}, {"fa"}),
    ("nin-mixed", {"v": {"$nin": [1, None, "b"]}}, _but("i1", "f1", "arr", "nul", "mis", "sb")),
    ("nin-empty", {"v": {"$nin": []}}, ALL),
    # $exists
    ("exists-true", {"v": {"$exists": True}}, _but("mis")),
    ("exists-false", {"v": {"$exists": False}}, {"mis"}),
    # $not
    ("not-gt", {"v": {"$not": {"$gt": 1}}}, _but("f15", "i2", "big", "arr")),
    ("not-eq-null", {"v": {"$not": {"$eq": None}}}, _but("nul", "mis")),
    ("not-regex", {"v": {"$not": re.compile("^b")}}, _but("sb")),
    ("not-in", {"v": {"$not": {"$in": [1, True]}}}, _but("i1", "f1", "arr", "t")),
    # logical operators
    ("and", {"$and": [{"v": {"$gte": 1}}, {"v": {"$lt": 2}}]}, {"i1", "f1", "f15", "arr"}),
    ("or", {"$or": [{"v": "b"}, {"v": True}]}, {"sb", "t"}),
    ("or-with-implicit-and", {"$or": [{"v": 2}], "_id": "i1"}, set()),
    ("nor", {"$nor": [{"v": {"$type": "number"}}, {"v": None}]}, {"s1", "sb", "t", "fa", "earr", "obj", "date", "bin"}),
    ("nested-logic", {"$and": [{"$or": [{"v": 1}, {"v": 2}]}, {"$nor": [{"_id": "arr"}]}]}, {"i1", "f1", "i2"}),
    ("empty-filter", {}, ALL),
    ("id-equality", {"_id": "sb"}, {"sb"}),
    ("id-in", {"_id": {"$in": ["sb", "t", "nope"]}}, {"sb", "t"}),
]

TYPE_CASES: list[tuple[Any, set[str]]] = [
    ("double", {"f1", "f15"}),
    ("string", {"s1", "sb"}),
    ("object", {"obj"}),
    ("array", {"arr", "earr"}),
    ("binData", {"bin"}),
    ("bool", {"t", "fa"}),
    ("date", {"date"}),
    ("null", {"nul"}),
    ("number", {"i1", "f1", "f15", "i2", "big", "zero", "neg", "arr"}),
    ("int", {"i1", "i2", "zero", "neg", "arr"}),
    ("long", {"big"}),
    (2, {"s1", "sb"}),
    (8, {"t", "fa"}),
    (["string", "bool"], {"s1", "sb", "t", "fa"}),
]

# MongoDB truncates a float dividend toward zero and keeps the dividend's sign (C's %).
MOD_CASES: list[tuple[str, list[int], set[str]]] = [
    ("even", [2, 0], {"i2", "big", "zero"}),
    ("odd", [2, 1], {"i1", "f1", "f15", "arr"}),
    ("negative-remainder", [2, -1], {"neg"}),
    ("none", [4, 3], set()),
    ("by-five", [5, 0], {"zero", "arr"}),
]

ARRAYS: list[dict[str, Any]] = [
    {"_id": "ab", "tags": ["a", "b"], "scores": [70, 90]},
    {"_id": "abc", "tags": ["a", "b", "c"], "scores": [82, 84]},
    {"_id": "c", "tags": ["c"], "scores": [85]},
    {"_id": "none", "tags": [], "scores": []},
    {"_id": "str", "tags": "a", "scores": 82},
    {"_id": "nested", "tags": [["a", "b"], "c"], "scores": "x"},
]

ARRAY_CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("element", {"tags": "a"}, {"ab", "abc", "str"}),
    ("whole-or-nested-element", {"tags": ["a", "b"]}, {"ab", "nested"}),
    ("all", {"tags": {"$all": ["a", "b"]}}, {"ab", "abc"}),
    ("all-one-matches-scalar", {"tags": {"$all": ["a"]}}, {"ab", "abc", "str"}),
    ("all-of-array", {"tags": {"$all": [["a", "b"]]}}, {"ab", "nested"}),
    ("all-empty", {"tags": {"$all": []}}, set()),
    ("size-2", {"tags": {"$size": 2}}, {"ab", "nested"}),
    ("size-1", {"tags": {"$size": 1}}, {"c"}),
    ("size-0", {"tags": {"$size": 0}}, {"none"}),
    ("elemmatch-range", {"scores": {"$elemMatch": {"$gte": 80, "$lt": 85}}}, {"abc"}),
    ("range-across-elements", {"scores": {"$gte": 80, "$lt": 85}}, {"ab", "abc", "str"}),
    ("elemmatch-gt", {"scores": {"$elemMatch": {"$gt": 85}}}, {"ab"}),
    ("elemmatch-eq", {"tags": {"$elemMatch": {"$eq": "c"}}}, {"abc", "c", "nested"}),
    ("in-elements", {"tags": {"$in": ["c"]}}, {"abc", "c", "nested"}),
    ("nin-elements", {"tags": {"$nin": ["a", "c"]}}, {"none"}),
    ("ne-element", {"tags": {"$ne": "a"}}, {"c", "none", "nested"}),
    ("index-0", {"tags.0": ["a", "b"]}, {"nested"}),
    ("index-2", {"tags.2": "c"}, {"abc"}),
    ("index-1", {"tags.1": "c"}, {"nested"}),
    ("index-exists", {"tags.2": {"$exists": True}}, {"abc"}),
    ("index-out-of-range", {"tags.5": {"$exists": True}}, set()),
    ("index-gt", {"scores.0": {"$gt": 80}}, {"abc", "c"}),
]

DOCS: list[dict[str, Any]] = [
    {"_id": "ab", "d": {"a": 1, "b": 2}},
    {"_id": "ba", "d": {"b": 2, "a": 1}},
    {"_id": "deep", "d": {"a": {"x": [1, 2]}}},
    {"_id": "list", "d": [{"a": 1, "b": 3}, {"a": 4, "b": 2}]},
    {"_id": "scalar", "d": 5},
]

DOC_CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("document-key-order", {"d": {"a": 1, "b": 2}}, {"ab"}),
    ("document-key-order-reversed", {"d": {"b": 2, "a": 1}}, {"ba"}),
    ("document-subset-is-not-equal", {"d": {"a": 1}}, set()),
    ("dotted", {"d.a": 1}, {"ab", "ba", "list"}),
    ("dotted-through-array", {"d.b": 2}, {"ab", "ba", "list"}),
    ("dotted-conditions-on-different-elements", {"d.a": 1, "d.b": 2}, {"ab", "ba", "list"}),
    ("elemmatch-same-element", {"d": {"$elemMatch": {"a": 1, "b": 2}}}, set()),
    ("elemmatch-document", {"d": {"$elemMatch": {"a": 4, "b": 2}}}, {"list"}),
    ("elemmatch-operator-in-document", {"d": {"$elemMatch": {"a": {"$gt": 3}}}}, {"list"}),
    ("deep-dotted-array-element", {"d.a.x": 2}, {"deep"}),
    ("deep-dotted-index", {"d.a.x.1": 2}, {"deep"}),
    ("array-index-then-field", {"d.0.a": 1}, {"list"}),
    ("array-index-then-field-miss", {"d.1.a": 1}, set()),
    ("dotted-null-matches-missing", {"d.a": None}, {"scalar"}),
    ("dotted-not-exists", {"d.a": {"$exists": False}}, {"scalar"}),
    ("type-object-in-array", {"d": {"$type": "object"}}, {"ab", "ba", "deep", "list"}),
    ("dotted-gt-through-array", {"d.a": {"$gt": 3}}, {"list"}),
]

STRINGS: list[dict[str, Any]] = [
    {"_id": "abc", "s": "abc"},
    {"_id": "ABD", "s": "ABD"},
    {"_id": "xab", "s": "xab"},
    {"_id": "multi", "s": "x\nabz"},
    {"_id": "arr", "s": ["zz", "abq"]},
    {"_id": "num", "s": 12},
    {"_id": "uni", "s": "été"},
]

REGEX_CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("anchored", {"s": {"$regex": "^ab"}}, {"abc", "arr"}),
    ("options-i", {"s": {"$regex": "^ab", "$options": "i"}}, {"abc", "ABD", "arr"}),
    ("options-m", {"s": {"$regex": "^ab", "$options": "m"}}, {"abc", "multi", "arr"}),
    ("compiled-ignorecase", {"s": re.compile("^ab", re.IGNORECASE)}, {"abc", "ABD", "arr"}),
    ("regex-of-compiled", {"s": {"$regex": re.compile("B")}}, {"ABD"}),
    ("unanchored", {"s": {"$regex": "ab"}}, {"abc", "xab", "multi", "arr"}),
    ("numbers-never-match", {"s": {"$regex": "1"}}, set()),
    ("unicode", {"s": {"$regex": "^ét"}}, {"uni"}),
    ("not-regex-operator", {"s": {"$not": {"$regex": "ab"}}}, {"ABD", "num", "uni"}),
    ("in-regexes-and-values", {"s": {"$in": [re.compile("^x"), "abc"]}}, {"xab", "multi", "abc"}),
    ("nin-regex", {"s": {"$nin": [re.compile("^x")]}}, {"abc", "ABD", "arr", "num", "uni"}),
]


def _ids(cases: list[tuple[str, dict[str, Any], set[str]]]) -> list[str]:
    return [case[0] for case in cases]


class QuerySuite:
    """Every filter operator and BSON matching rule. Needs a ``db`` fixture: a fresh empty Database."""

    @pytest.mark.parametrize(("case", "filter_", "expected"), SCALAR_CASES, ids=_ids(SCALAR_CASES))
    def test_scalar_filters(self, db: Database, case: str, filter_: dict[str, Any], expected: set[str]) -> None:
        fill(db["q"], SCALARS)
        assert matched_ids(db["q"], filter_) == expected

    @pytest.mark.parametrize(("type_", "expected"), TYPE_CASES, ids=[repr(t) for t, _ in TYPE_CASES])
    def test_type(self, db: Database, type_: Any, expected: set[str]) -> None:
        fill(db["q"], SCALARS)
        assert matched_ids(db["q"], {"v": {"$type": type_}}) == expected

    @pytest.mark.parametrize(("case", "args", "expected"), MOD_CASES, ids=[c[0] for c in MOD_CASES])
    def test_mod(self, db: Database, case: str, args: list[int], expected: set[str]) -> None:
        fill(db["q"], SCALARS)
        assert matched_ids(db["q"], {"v": {"$mod": args}}) == expected

    @pytest.mark.parametrize(("case", "filter_", "expected"), ARRAY_CASES, ids=_ids(ARRAY_CASES))
    def test_array_filters(self, db: Database, case: str, filter_: dict[str, Any], expected: set[str]) -> None:
        fill(db["q"], ARRAYS)
        assert matched_ids(db["q"], filter_) == expected

    @pytest.mark.parametrize(("case", "filter_", "expected"), DOC_CASES, ids=_ids(DOC_CASES))
    def test_document_filters(self, db: Database, case: str, filter_: dict[str, Any], expected: set[str]) -> None:
        fill(db["q"], DOCS)
        assert matched_ids(db["q"], filter_) == expected

    @pytest.mark.parametrize(("case", "filter_", "expected"), REGEX_CASES, ids=_ids(REGEX_CASES))
    def test_regex_filters(self, db: Database, case: str, filter_: dict[str, Any], expected: set[str]) -> None:
        fill(db["q"], STRINGS)
        assert matched_ids(db["q"], filter_) == expected

    def test_filter_on_missing_collection_matches_nothing(self, db: Database) -> None:
        assert matched_ids(db["nothing_here"], {}) == set()
        assert db["nothing_here"].find_one({"a": 1}) is None

    def test_nan_matches_nan_and_infinities_compare(self, db: Database) -> None:
        fill(
            db["q"],
            [
                {"_id": "nan", "x": float("nan")},
                {"_id": "inf", "x": float("inf")},
                {"_id": "ninf", "x": float("-inf")},
                {"_id": "one", "x": 1},
            ],
        )
        assert matched_ids(db["q"], {"x": float("nan")}) == {"nan"}
        assert matched_ids(db["q"], {"x": {"$gt": 1e308}}) == {"inf"}
        assert matched_ids(db["q"], {"x": {"$lt": -1e308}}) == {"ninf"}
        assert matched_ids(db["q"], {"x": float("inf")}) == {"inf"}

    def test_filter_is_not_mutated(self, db: Database) -> None:
        fill(db["q"], SCALARS)
        filter_ = {"v": {"$in": [1, 2]}, "$or": [{"_id": "i1"}, {"_id": "i2"}]}
        before = repr(filter_)
        assert matched_ids(db["q"], filter_) == {"i1", "i2"}
        assert repr(filter_) == before
