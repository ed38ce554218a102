"""Projections and sorts.

The dotted-path sort expectations are those of MongoDB's jstests/core/query/sort/sort_dotted_paths.js.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from docstore.errors import UnsupportedQuery
from docstore.query import compile_projection, compile_sort

UTC = dt.timezone.utc
DOC: dict[str, Any] = {
    "_id": 1,
    "a": 1,
    "b": {"c": 2, "d": 3},
    "e": [{"f": 1, "g": 2}, 5, {"g": 3}, [{"f": 4}]],
    "h": [1, 2, 3, 4],
}


def project(spec: dict[str, Any] | None, doc: dict[str, Any] = DOC) -> dict[str, Any]:
    return compile_projection(spec).apply(doc)


# ------------------------------------------------------------------ projections
def test_no_projection_copies_everything() -> None:
    out = project(None)
    assert out == DOC
    out["b"]["c"] = 99
    assert DOC["b"]["c"] == 2
    assert project({}) == DOC


def test_inclusion_keeps_id_unless_excluded() -> None:
    assert project({"a": 1}) == {"_id": 1, "a": 1}
    assert project({"a": True, "_id": 0}) == {"a": 1}
    assert project({"_id": 1}) == {"_id": 1}
    assert project({"missing": 1}) == {"_id": 1}


def test_inclusion_of_dotted_paths() -> None:
    assert project({"b.c": 1}) == {"_id": 1, "b": {"c": 2}}
    assert project({"b.x": 1}) == {"_id": 1, "b": {}}
    assert project({"a.x": 1}) == {"_id": 1}
    # arrays: embedded documents are projected, scalars dropped, nested arrays followed
    assert project({"e.f": 1}) == {"_id": 1, "e": [{"f": 1}, {}, [{"f": 4}]]}
    assert project({"b": {"d": 1}}) == {"_id": 1, "b": {"d": 3}}


def test_inclusion_keeps_document_order() -> None:
    assert list(project({"h": 1, "a": 1})) == ["_id", "a", "h"]


def test_exclusion() -> None:
    assert project({"a": 0, "h": 0}) == {"_id": 1, "b": {"c": 2, "d": 3}, "e": DOC["e"]}
    assert project({"_id": 0}) == {k: v for k, v in DOC.items() if k != "_id"}
    assert project({"b.c": 0, "e.g": 0, "_id": False})["b"] == {"d": 3}
    assert project({"e.g": 0})["e"] == [{"f": 1}, 5, {}, [{"f": 4}]]


def test_slice() -> None:
    assert project({"h": {"$slice": 2}}) == {**DOC, "h": [1, 2]}
    assert project({"h": {"$slice": -1}})["h"] == [4]
    assert project({"h": {"$slice": [1, 2]}})["h"] == [2, 3]
    assert project({"h": {"$slice": [-3, 2]}})["h"] == [2, 3]
    assert project({"h": {"$slice": [-9, 2]}})["h"] == [1, 2]
    assert project({"h": {"$slice": 9}})["h"] == [1, 2, 3, 4]
    assert project({"a": {"$slice": 1}})["a"] == 1
    assert project({"h": {"$slice": 1}, "a": 1}) == {"_id": 1, "a": 1, "h": [1]}
    assert project({"h": {"$slice": 1}, "a": 0}) == {"_id": 1, "b": DOC["b"], "e": DOC["e"], "h": [1]}


def test_elem_match_projection() -> None:
    doc = {"_id": 1, "games": [{"s": 8}, {"s": 5}, {"s": 9}], "joined": 1, "last": 2, "n": [1, 5, 7]}
    assert project({"games": {"$elemMatch": {"s": {"$gt": 5}}}}, doc) == {"_id": 1, "games": [{"s": 8}]}
    out = project({"games": {"$elemMatch": {"s": {"$lt": 6}}}, "joined": 1, "last": 1}, doc)
    assert list(out) == ["_id", "joined", "last", "games"]  # MongoDB 4.4+: after the other inclusions
    assert out["games"] == [{"s": 5}]
    assert project({"n": {"$elemMatch": {"$gt": 4}}, "_id": 0}, doc) == {"n": [5]}
    assert project({"n": {"$elemMatch": {"$gt": 9}}}, doc) == {"_id": 1}
    assert project({"joined": {"$elemMatch": {"$gt": 0}}}, doc) == {"_id": 1}


@pytest.mark.parametrize(
    ("spec", "operator"),
    [
        ({"a": 1, "b": 0}, "b"),
        ({"a": 0, "b": {"$elemMatch": {"x": 1}}}, "$elemMatch"),
        ({"a.$": 1}, "$"),
        ({"$a": 1}, "$a"),
        ({"a": {"$meta": "textScore"}}, "$meta"),
        ({"a": {"$slice": 1, "$elemMatch": {}}}, "$slice"),
        ({"a.b": {"$slice": 1}}, "$slice"),
        ({"a.b": {"$elemMatch": {"x": 1}}}, "$elemMatch"),
        ({"a": {"$slice": [1, 0]}}, "$slice"),
        ({"a": {"$slice": "x"}}, "$slice"),
        ({"a": {"$elemMatch": 1}}, "$elemMatch"),
        ({"a": "literal"}, "a"),
        ({"a": None}, "a"),
        ({"a": {}}, "a"),
        ({"a": 1, "a.b": 1}, "a.b"),
        ({"a.b": 1, "a": 1}, "a"),
        ({"b.c": 1, "b": {"$elemMatch": {}}}, "b"),
        ({"a..b": 1}, "a..b"),
    ],
)
def test_bad_projections(spec: dict[str, Any], operator: str) -> None:
    with pytest.raises(UnsupportedQuery) as info:
        compile_projection(spec)
    assert info.value.operator == operator


def test_projection_keeps_its_spec() -> None:
    assert compile_projection({"a": 1}).spec == {"a": 1}
    with pytest.raises(UnsupportedQuery):
        compile_projection([("a", 1)])  # type: ignore[arg-type]


# ------------------------------------------------------------------ sorts
def ids(spec: Any, docs: list[dict[str, Any]]) -> list[Any]:
    return [doc["_id"] for doc in compile_sort(spec).sort(docs)]


def test_sort_in_bson_order_across_types() -> None:
    d = dt.datetime(2020, 1, 1, tzinfo=UTC)
    docs = [{"_id": i, "v": v} for i, v in enumerate([d, True, b"x", [5], {"a": 1}, "s", 2.5, 2, None, False])]
    docs.append({"_id": 10})
    assert ids([("v", 1), ("_id", 1)], docs) == [8, 10, 7, 6, 3, 5, 4, 2, 9, 1, 0]
    assert ids({"v": -1, "_id": 1}, docs) == [0, 1, 9, 2, 4, 5, 3, 6, 7, 8, 10]


def test_sort_is_stable_and_multi_key() -> None:
    docs = [{"_id": i, "a": a, "b": b} for i, (a, b) in enumerate([(1, 2), (0, 1), (1, 1), (0, 1), (1, 2)])]
    assert ids([("a", 1), ("b", -1)], docs) == [1, 3, 0, 4, 2]
    assert ids([("a", -1)], docs) == [0, 2, 4, 1, 3]
    assert ids(None, docs) == [0, 1, 2, 3, 4]
    assert ids([], docs) == [0, 1, 2, 3, 4]


def test_arrays_sort_by_min_ascending_and_max_descending() -> None:
    docs = [{"_id": 2, "a": [2, 3]}, {"_id": 3, "a": [2, 4]}, {"_id": 4, "a": [2, 1]}, {"_id": 5, "a": 1.5}]
    assert ids([("a", 1), ("_id", 1)], docs) == [4, 5, 2, 3]
    assert ids([("a", -1), ("_id", 1)], docs) == [3, 2, 4, 5]


def test_missing_null_and_empty_arrays() -> None:
    docs = [
        {"_id": 1, "a": 1},
        {"_id": 3, "a": None},
        {"_id": 4, "a": {}},
        {"_id": 5, "a": []},
        {"_id": 6, "a": [1]},
        {"_id": 7, "a": [[1]]},
        {"_id": 8},
    ]
    assert ids([("a", 1), ("_id", 1)], docs) == [5, 3, 8, 1, 6, 4, 7]
    assert ids([("a", -1), ("_id", 1)], docs) == [7, 4, 1, 6, 3, 8, 5]
    assert ids([("a.0", 1), ("_id", 1)], docs) == [1, 3, 4, 5, 8, 6, 7]
    assert ids([("a.0", -1), ("_id", 1)], docs) == [7, 6, 1, 3, 4, 5, 8]


def test_dotted_sort_through_arrays() -> None:
    docs = [
        {"_id": 1, "a": {"b": 2}},
        {"_id": 2, "a": {"b": []}},
        {"_id": 3, "a": {"b": [2, 3]}},
        {"_id": 4, "a": {"c": 1}},
        {"_id": 5, "a": []},
        {"_id": 6, "a": [{"b": [5]}]},
        {"_id": 7, "a": [{"b": [4, 5]}, {"b": 7}]},
        {"_id": 8, "a": [{"b": [1, 3]}, {"b": [2, 5]}]},
        {"_id": 9, "a": [{"b": []}, {"b": [1, 3]}]},
    ]
    assert ids([("a.b", 1), ("_id", 1)], docs) == [2, 9, 4, 5, 8, 1, 3, 7, 6]
    assert ids([("a.b", 1), ("_id", -1)], docs) == [9, 2, 5, 4, 8, 3, 1, 7, 6]
    assert ids([("a.b", -1), ("_id", 1)], docs) == [7, 6, 8, 3, 9, 1, 4, 5, 2]
    assert ids([("a.b", -1), ("_id", -1)], docs) == [7, 8, 6, 9, 3, 1, 5, 4, 2]


def test_dotted_sort_three_levels_and_positional() -> None:
    docs = [
        {"_id": 1, "a": {"b": {"c": 2}}},
        {"_id": 2, "a": {"b": {"c": []}}},
        {"_id": 3, "a": [{"b": []}, {"b": {"c": []}}]},
        {"_id": 4, "a": [{"b": {"c": 1}}]},
        {"_id": 5, "a": {"b": [{"c": 3}, {"d": 1}]}},
        {"_id": 6, "a": {"b": [{"c": [5]}]}},
        {"_id": 7, "a": []},
        {"_id": 8, "a": {"b": [{"c": [1, 3]}, {"c": [2, 5]}]}},
        {"_id": 9, "a": [{"b": [{"c": []}, {"c": [1, 3]}]}]},
    ]
    assert ids([("a.b.c", 1), ("_id", 1)], docs) == [2, 3, 9, 5, 7, 4, 8, 1, 6]
    assert ids([("a.b.c", -1), ("_id", 1)], docs) == [6, 8, 5, 9, 1, 4, 3, 7, 2]
    positional = [
        {"_id": 1, "a": [{"b": [4, 1], "c": 1}, {"b": [1, 5], "c": 2}]},
        {"_id": 2, "a": [{"b": 2}, {"b": 4}]},
        {"_id": 3, "a": [{"b": [6, 4]}, {"b": [9, 7]}]},
        {"_id": 4, "a": [{"b": 4}, {"b": 5}]},
        {"_id": 5, "a": [{"b": [2, 3]}, {"b": [7, 6]}]},
        {"_id": 6, "a": [{"b": 5}, {"b": 3}]},
        {"_id": 7, "a": [{"b": []}, {"b": 2}]},
        {"_id": 8, "a": [{"b": 3}, {"b": 8}]},
        {"_id": 9, "a": [{"b": [8]}, {"b": [6]}]},
    ]
    assert ids([("a.0.b", 1), ("_id", 1)], positional) == [7, 1, 2, 5, 8, 3, 4, 6, 9]
    assert ids([("a.0.b", -1), ("_id", 1)], positional) == [9, 3, 6, 1, 4, 5, 8, 2, 7]


def test_key_orders_like_sort_and_works_with_min() -> None:
    docs = [{"_id": i, "a": a, "b": b} for i, (a, b) in enumerate([(1, "x"), (1, "y"), (0, "z"), (None, "a")])]
    sort = compile_sort([("a", -1), ("b", 1)])
    assert [d["_id"] for d in sorted(docs, key=sort.key)] == ids([("a", -1), ("b", 1)], docs) == [0, 1, 2, 3]
    assert min(docs, key=sort.key)["_id"] == 0
    assert sort.key(docs[0]) < sort.key(docs[1])
    assert sort.key(docs[1]) > sort.key(docs[0])
    assert sort.key(docs[0]) == sort.key({"a": 1.0, "b": "x"})
    assert sort.key(docs[0]) <= sort.key(docs[0])
    assert sort.key(docs[0]) >= sort.key(docs[0])
    assert sort.keys == [("a", -1), ("b", 1)]


@pytest.mark.parametrize(
    ("spec", "operator"),
    [
        ([("a", 2)], "a"),
        ([("a", 0)], "a"),
        ([("a", "up")], "a"),
        ([("a", True)], "a"),
        ({"a": {"$meta": "textScore"}}, "$meta"),
        ([("a",)], "sort"),
        (["a"], "sort"),
        ("a", "sort"),
        ([("", 1)], "sort"),
        ([("a..b", 1)], "sort"),
        ([("$natural", 1)], "$natural"),
        ([("a", 1), ("a", -1)], "a"),
    ],
)
def test_bad_sorts(spec: Any, operator: str) -> None:
    with pytest.raises(UnsupportedQuery) as info:
        compile_sort(spec)
    assert info.value.operator == operator
