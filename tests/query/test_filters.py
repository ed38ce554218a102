"""Filters: every operator, MongoDB's BSON and array rules, and every rejection.

Expected results of the null and dotted-path cases come from MongoDB's own test suite
(jstests/core/null_query_semantics.js, null2.js) and from its matcher's path rules.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import pytest

from docstore.errors import UnsupportedQuery
from docstore.query import compile_filter

UTC = dt.timezone.utc
D1 = dt.datetime(2020, 1, 1, tzinfo=UTC)
D2 = dt.datetime(2021, 1, 1, tzinfo=UTC)
NAN = float("nan")


def matching(spec: dict[str, Any] | None, docs: list[dict[str, Any]]) -> list[int]:
    compiled = compile_filter(spec)
    return [i for i, doc in enumerate(docs) if compiled.matches(doc)]


def test_empty_and_none_filters_match_everything() -> None:
    docs = [{}, {"a": 1}]
    assert matching(None, docs) == [0, 1]
    assert matching({}, docs) == [0, 1]


# ------------------------------------------------------------------ equality
def test_implicit_equality_and_eq() -> None:
    docs = [{"a": 1}, {"a": 1.0}, {"a": True}, {"a": "1"}, {"a": [2, 1]}, {"a": [[1]]}, {}, {"a": None}]
    assert matching({"a": 1}, docs) == [0, 1, 4]
    assert matching({"a": {"$eq": 1}}, docs) == [0, 1, 4]
    assert matching({"a": True}, docs) == [2]
    assert matching({"a": "1"}, docs) == [3]


def test_equality_with_floats_dates_bytes_and_nan() -> None:
    docs = [{"a": 0.5}, {"a": D1}, {"a": b"ab"}, {"a": NAN}, {"a": [NAN]}, {"a": 2**62}]
    assert matching({"a": 0.5}, docs) == [0]
    assert matching({"a": D1}, docs) == [1]
    assert matching({"a": b"ab"}, docs) == [2]
    assert matching({"a": NAN}, docs) == [3, 4]  # MongoDB matches NaN with NaN
    assert matching({"a": 2**62}, docs) == [5]
    assert matching({"a": float(2**62) + 1}, docs) == [5]  # the float is exactly 2**62


def test_null_matches_missing_null_and_arrays_holding_null() -> None:
    docs = [{"a": None}, {}, {"a": [1, None]}, {"a": []}, {"a": [[None]]}, {"a": 0}, {"a": {}}, {"a": False}]
    assert matching({"a": None}, docs) == [0, 1, 2]
    assert matching({"a": {"$eq": None}}, docs) == [0, 1, 2]
    assert matching({"a": {"$ne": None}}, docs) == [3, 4, 5, 6, 7]


def test_array_matches_whole_or_by_element() -> None:
    docs = [{"a": [1, 2]}, {"a": [[1, 2], 3]}, {"a": [2, 1]}, {"a": 1}, {"a": [[[1, 2]]]}]
    assert matching({"a": [1, 2]}, docs) == [0, 1]
    assert matching({"a": 2}, docs) == [0, 2]


def test_embedded_document_equality_is_exact_and_ordered() -> None:
    docs = [
        {"a": {"b": 1, "c": 2}},
        {"a": {"c": 2, "b": 1}},
        {"a": {"b": 1, "c": 2, "d": 3}},
        {"a": {"b": 1.0, "c": 2}},
        {"a": [{"b": 1, "c": 2}]},
    ]
    assert matching({"a": {"b": 1, "c": 2}}, docs) == [0, 3, 4]


def test_ne_negates_the_whole_array() -> None:
    docs = [{"a": [1, 2]}, {"a": [2, 3]}, {"a": 1}, {}, {"a": "1"}]
    assert matching({"a": {"$ne": 1}}, docs) == [1, 3, 4]


# ------------------------------------------------------------------ comparisons
def test_comparisons_stay_within_the_type_bracket() -> None:
    docs = [{"a": 1}, {"a": 2.5}, {"a": "x"}, {"a": None}, {}, {"a": True}, {"a": D1}, {"a": [0, 5]}, {"a": [3]}]
    assert matching({"a": {"$gt": 1}}, docs) == [1, 7, 8]
    assert matching({"a": {"$gte": 1}}, docs) == [0, 1, 7, 8]
    assert matching({"a": {"$lt": 2.5}}, docs) == [0, 7]
    assert matching({"a": {"$lte": 2.5}}, docs) == [0, 1, 7]
    assert matching({"a": {"$gt": "a"}}, docs) == [2]
    assert matching({"a": {"$lt": D2}}, docs) == [6]
    assert matching({"a": {"$gte": False}}, docs) == [5]


def test_comparisons_with_null() -> None:
    docs = [{"a": None}, {}, {"a": 0}, {"a": [None, 1]}]
    assert matching({"a": {"$gte": None}}, docs) == [0, 1, 3]
    assert matching({"a": {"$lte": None}}, docs) == [0, 1, 3]
    assert matching({"a": {"$gt": None}}, docs) == []
    assert matching({"a": {"$lt": None}}, docs) == []
    assert matching({"a": {"$not": {"$gte": None}}}, docs) == [2]


def test_nan_never_matches_a_range_but_nan_bounds_include_nan() -> None:
    docs = [{"a": NAN}, {"a": 1}, {"a": -math.inf}]
    assert matching({"a": {"$lt": 5}}, docs) == [1, 2]
    assert matching({"a": {"$gt": NAN}}, docs) == []
    assert matching({"a": {"$gte": NAN}}, docs) == [0]
    assert matching({"a": {"$lte": NAN}}, docs) == [0]


def test_several_operators_on_an_array_may_match_different_elements() -> None:
    docs = [{"a": [0, 10]}, {"a": [3]}, {"a": [0, 0]}]
    assert matching({"a": {"$gt": 1, "$lt": 5}}, docs) == [0, 1]
    assert matching({"a": {"$elemMatch": {"$gt": 1, "$lt": 5}}}, docs) == [1]


def test_comparisons_of_documents_and_arrays() -> None:
    docs = [{"a": {"x": 2}}, {"a": {"x": 0}}, {"a": [1, 2]}, {"a": [[1, 3]]}, {"a": 5}]
    assert matching({"a": {"$gt": {"x": 1}}}, docs) == [0]
    assert matching({"a": {"$gt": [1, 2]}}, docs) == [3]
    assert matching({"a": {"$gte": [1, 2]}}, docs) == [2, 3]


# ------------------------------------------------------------------ $in / $nin
def test_in_and_nin() -> None:
    docs = [
        {"a": "x"},
        {"a": 1.0},
        {"a": True},
        {"a": ["z", "y"]},
        {},
        {"a": None},
        {"a": [1, 2]},
        {"a": "xyz"},
        {"a": NAN},
    ]
    assert matching({"a": {"$in": ["x", "y"]}}, docs) == [0, 3]
    assert matching({"a": {"$in": [1]}}, docs) == [1, 6]
    assert matching({"a": {"$in": [True]}}, docs) == [2]
    assert matching({"a": {"$in": [None]}}, docs) == [4, 5]
    assert matching({"a": {"$in": [[1, 2]]}}, docs) == [6]
    assert matching({"a": {"$in": [re.compile("^xy")]}}, docs) == [7]
    assert matching({"a": {"$in": [NAN, "x"]}}, docs) == [0, 8]
    assert matching({"a": {"$in": []}}, docs) == []
    assert matching({"a": {"$nin": ["x", None]}}, docs) == [1, 2, 3, 6, 7, 8]
    assert matching({"a": {"$nin": []}}, docs) == list(range(len(docs)))


# ------------------------------------------------------------------ $exists, $type, $size, $mod, $regex
def test_exists() -> None:
    docs = [{"a": None}, {}, {"a": []}, {"b": 1}]
    assert matching({"a": {"$exists": True}}, docs) == [0, 2]
    assert matching({"a": {"$exists": False}}, docs) == [1, 3]
    assert matching({"a": {"$exists": 0}}, docs) == [1, 3]


def test_type_by_name_and_number() -> None:
    docs = [
        {"a": 1},
        {"a": 2**40},
        {"a": 1.5},
        {"a": "s"},
        {"a": {}},
        {"a": [1]},
        {"a": b""},
        {"a": True},
        {"a": D1},
        {"a": None},
        {},
        {"a": []},
    ]
    assert matching({"a": {"$type": "int"}}, docs) == [0, 5]
    assert matching({"a": {"$type": 18}}, docs) == [1]
    assert matching({"a": {"$type": "long"}}, docs) == [1]
    assert matching({"a": {"$type": "double"}}, docs) == [2]
    assert matching({"a": {"$type": 1.0}}, docs) == [2]
    assert matching({"a": {"$type": "number"}}, docs) == [0, 1, 2, 5]
    assert matching({"a": {"$type": "string"}}, docs) == [3]
    assert matching({"a": {"$type": 3}}, docs) == [4]
    assert matching({"a": {"$type": "array"}}, docs) == [5, 11]
    assert matching({"a": {"$type": "binData"}}, docs) == [6]
    assert matching({"a": {"$type": "bool"}}, docs) == [7]
    assert matching({"a": {"$type": "date"}}, docs) == [8]
    assert matching({"a": {"$type": "null"}}, docs) == [9]
    assert matching({"a": {"$type": ["string", "bool"]}}, docs) == [3, 7]
    assert matching({"a": {"$type": "objectId"}}, docs) == []


def test_size_counts_only_arrays_and_does_not_look_into_nested_arrays() -> None:
    docs = [{"a": [1, 2]}, {"a": [[1, 2]]}, {"a": "ab"}, {"a": []}, {}, {"a": {"x": 1, "y": 2}}]
    assert matching({"a": {"$size": 2}}, docs) == [0]
    assert matching({"a": {"$size": 1}}, docs) == [1]
    assert matching({"a": {"$size": 0}}, docs) == [3]
    assert matching({"a": {"$size": 2.0}}, docs) == [0]


def test_mod_truncates_like_c() -> None:
    docs = [{"a": 4}, {"a": 5}, {"a": -5}, {"a": 5.9}, {"a": "5"}, {"a": [7, 9]}, {"a": NAN}, {"a": math.inf}]
    assert matching({"a": {"$mod": [2, 0]}}, docs) == [0]
    assert matching({"a": {"$mod": [2, 1]}}, docs) == [1, 3, 5]
    assert matching({"a": {"$mod": [2, -1]}}, docs) == [2]
    assert matching({"a": {"$mod": [3.7, 2]}}, docs) == [1, 3]


def test_regex_forms_and_options() -> None:
    docs = [{"a": "Hello"}, {"a": "hello"}, {"a": ["x", "help"]}, {"a": 5}, {"a": "a\nhe"}, {}]
    assert matching({"a": re.compile("^he")}, docs) == [1, 2]
    assert matching({"a": {"$regex": "^he"}}, docs) == [1, 2]
    assert matching({"a": {"$regex": "^he", "$options": "i"}}, docs) == [0, 1, 2]
    assert matching({"a": {"$regex": re.compile("^he", re.I)}}, docs) == [0, 1, 2]
    assert matching({"a": {"$regex": "^he", "$options": "m"}}, docs) == [1, 2, 4]
    assert matching({"a": {"$regex": "a.he", "$options": "s"}}, docs) == [4]
    assert matching({"a": {"$regex": "h e l", "$options": "x"}}, docs) == [1, 2]
    assert matching({"a": {"$not": re.compile("^he")}}, docs) == [0, 3, 4, 5]


def test_eq_with_a_regex_compares_stored_regexes_not_strings() -> None:
    assert matching({"a": {"$eq": re.compile("x")}}, [{"a": "x"}]) == []


# ------------------------------------------------------------------ $all, $elemMatch, $not
def test_all() -> None:
    docs = [{"a": [1, 2, 3]}, {"a": [1]}, {"a": 1}, {"a": [[1, 2]]}, {"a": [1, 2]}]
    assert matching({"a": {"$all": [1, 2]}}, docs) == [0, 4]
    assert matching({"a": {"$all": [1]}}, docs) == [0, 1, 2, 4]
    assert matching({"a": {"$all": [[1, 2]]}}, docs) == [3, 4]
    assert matching({"a": {"$all": []}}, docs) == []


def test_all_with_elem_match() -> None:
    docs = [{"a": [{"x": 1, "y": 2}, {"x": 3}]}, {"a": [{"x": 1}, {"y": 2}]}]
    spec = {"a": {"$all": [{"$elemMatch": {"x": 1, "y": 2}}, {"$elemMatch": {"x": 3}}]}}
    assert matching(spec, docs) == [0]


def test_elem_match_value_and_object_forms() -> None:
    docs = [
        {"a": [1, 5, 9]},
        {"a": [[5]]},
        {"a": 5},
        {"a": [{"b": 1, "c": 2}, {"b": 2}]},
        {"a": [{"b": 1}, {"c": 2}]},
        {"a": []},
    ]
    assert matching({"a": {"$elemMatch": {"$gt": 4, "$lt": 6}}}, docs) == [0]
    assert matching({"a": {"$elemMatch": {"$size": 1}}}, docs) == [1]
    assert matching({"a": {"$elemMatch": {"b": 1, "c": 2}}}, docs) == [3]
    assert matching({"a": {"$elemMatch": {"$or": [{"b": 2}, {"c": 2}]}}}, docs) == [3, 4]
    assert matching({"a": {"$elemMatch": {"$ne": 1}}}, docs) == [0, 1, 3, 4]


def test_elem_match_reads_array_elements_as_documents() -> None:
    assert matching({"a": {"$elemMatch": {"0": 5}}}, [{"a": [[5]]}, {"a": [[6]]}]) == [0]
    assert matching({"a": {"$elemMatch": {"b": None}}}, [{"a": [[1]]}, {"a": [1]}]) == [0]


def test_not() -> None:
    docs = [{"a": 1}, {"a": 5}, {}, {"a": [1, 5]}, {"a": "x"}]
    assert matching({"a": {"$not": {"$gt": 2}}}, docs) == [0, 2, 4]
    assert matching({"a": {"$not": {"$gt": 0, "$lt": 3}}}, docs) == [1, 2, 4]
    assert matching({"a": {"$not": {"$in": [1]}}}, docs) == [1, 2, 4]


# ------------------------------------------------------------------ logical operators
def test_and_or_nor() -> None:
    docs = [{"a": 1, "b": 1}, {"a": 1, "b": 2}, {"a": 2, "b": 2}, {}]
    assert matching({"$and": [{"a": 1}, {"b": 2}]}, docs) == [1]
    assert matching({"$or": [{"a": 2}, {"b": 1}]}, docs) == [0, 2]
    assert matching({"$nor": [{"a": 1}, {"b": 2}]}, docs) == [3]
    assert matching({"a": 1, "$or": [{"b": 1}, {"b": 3}]}, docs) == [0]
    assert matching({"$and": [{"$or": [{"a": 1}, {"a": 2}]}, {"$nor": [{"b": 1}]}]}, docs) == [1, 2]


# ------------------------------------------------------------------ dotted paths
def test_dotted_paths_into_documents_and_arrays() -> None:
    docs = [
        {"a": {"b": 1}},
        {"a": [{"b": 1}, {"b": 2}]},
        {"a": [{"b": [0, 1]}]},
        {"a": {"b": {"c": 1}}},
        {"a": 1},
        {"a": [[{"b": 1}]]},
    ]
    assert matching({"a.b": 1}, docs) == [0, 1, 2]
    assert matching({"a.b.c": 1}, docs) == [3]
    assert matching({"a.b": {"$gt": 1}}, docs) == [1]


def test_numeric_components_index_arrays_and_name_fields() -> None:
    docs = [
        {"a": [5, 6]},
        {"a": [[5, 6]]},
        {"a": {"0": 5}},
        {"a": [{"b": 7}, {"b": 8}]},
        {"a": [{"0": 5}]},
        {"a": [[{"b": 7}]]},
    ]
    assert matching({"a.0": 5}, docs) == [0, 2, 4]
    assert matching({"a.1": 6}, docs) == [0]
    assert matching({"a.0": [5, 6]}, docs) == [1]  # the element reached by position is compared whole
    assert matching({"a.0.b": 7}, docs) == [3, 5]
    assert matching({"a.1.b": 7}, docs) == []
    assert matching({"a.0.0": 5}, docs) == [1, 4]


def test_null_on_dotted_paths_follows_mongodb() -> None:
    # jstests/core/null2.js and null_query_semantics.js
    docs = [
        {"a": [{"b": 5}]},
        {"a": [{}]},
        {"a": []},
        {"a": [{}, {"b": 5}]},
        {"a": [5, {"b": 5}]},
        {"a": 4},
        {"a": {}},
        {},
        {"a": [1, 2]},
        {"a": None},
    ]
    assert matching({"a.b": None}, docs) == [1, 3, 5, 6, 7, 9]
    assert matching({"a.b": {"$in": [None]}}, docs) == [1, 3, 5, 6, 7, 9]
    assert matching({"a.b": {"$ne": None}}, docs) == [0, 2, 4, 8]
    assert matching({"a.b": {"$exists": False}}, docs) == [1, 2, 5, 6, 7, 8, 9]


def test_positions_past_the_end_or_on_scalars_reach_nothing() -> None:
    docs = [{"a": [1, 2]}, {"a": [{"x": 1}]}, {"a": [5]}, {"a": [{"b": 1}]}]
    # a scalar element has no fields, but "5" is also a (missing) field of each embedded document
    assert matching({"a.5": None}, docs) == [1, 3]
    assert matching({"a.5": {"$exists": False}}, docs) == [0, 1, 2, 3]
    assert matching({"a.0.b": None}, docs) == [1, 3]  # {"b": 1} has no field "0"
    assert matching({"a.0.b": {"$exists": True}}, docs) == [3]


def test_elem_match_and_size_through_arrays_of_documents() -> None:
    docs = [{"a": [{"b": [1]}, {"b": [1, 2]}]}, {"a": {"b": [3, 4, 5]}}]
    assert matching({"a.b": {"$size": 2}}, docs) == [0]
    assert matching({"a.b": {"$elemMatch": {"$gt": 4}}}, docs) == [1]


# ------------------------------------------------------------------ rejections
@pytest.mark.parametrize(
    ("spec", "operator"),
    [
        ({"$where": "true"}, "$where"),
        ({"$expr": {"$eq": ["$a", 1]}}, "$expr"),
        ({"$text": {"$search": "x"}}, "$text"),
        ({"$jsonSchema": {}}, "$jsonSchema"),
        ({"$comment": "x"}, "$comment"),
        ({"$foo": [{"a": 1}]}, "$foo"),
        ({"a": {"$function": {}}}, "$function"),
        ({"a": {"$accumulator": {}}}, "$accumulator"),
        ({"a": {"$near": [0, 0]}}, "$near"),
        ({"a": {"$foo": 1}}, "$foo"),
        ({"$or": [{"a": 1}, {"$where": "1"}]}, "$where"),
        ({"$and": [{"a": {"$elemMatch": {"$where": "1"}}}]}, "$where"),
        ({"a": {"$not": {"$bar": 1}}}, "$bar"),
        ({"a": {"$gt": 1, "b": 2}}, "b"),
        ({"a": {"$options": "i"}}, "$options"),
        ({"a": {"$regex": "x", "$options": "q"}}, "$options"),
        ({"a": {"$regex": re.compile("x", re.I), "$options": "m"}}, "$options"),
        ({"a": {"$in": 1}}, "$in"),
        ({"a": {"$nin": "ab"}}, "$nin"),
        ({"a": {"$in": [{"$gt": 1}]}}, "$in"),
        ({"a": {"$all": 1}}, "$all"),
        ({"a": {"$all": [1, {"$elemMatch": {"b": 1}}]}}, "$all"),
        ({"a": {"$all": [{"$gt": 1}]}}, "$all"),
        ({"a": {"$size": -1}}, "$size"),
        ({"a": {"$size": 1.5}}, "$size"),
        ({"a": {"$size": "2"}}, "$size"),
        ({"a": {"$mod": [0, 1]}}, "$mod"),
        ({"a": {"$mod": [2]}}, "$mod"),
        ({"a": {"$mod": "x"}}, "$mod"),
        ({"a": {"$regex": "("}}, "$regex"),
        ({"a": {"$regex": 5}}, "$regex"),
        ({"a": {"$type": "nosuch"}}, "$type"),
        ({"a": {"$type": 99}}, "$type"),
        ({"a": {"$type": []}}, "$type"),
        ({"a": {"$not": 1}}, "$not"),
        ({"a": {"$not": {}}}, "$not"),
        ({"a": {"$not": {"b": 1}}}, "$not"),
        ({"a": {"$elemMatch": 1}}, "$elemMatch"),
        ({"a": {"$gt": re.compile("x")}}, "$gt"),
        ({"$and": {"a": 1}}, "$and"),
        ({"$or": []}, "$or"),
        ({"$nor": [1]}, "$nor"),
        ({"a..b": 1}, "a..b"),
        ({"": 1}, ""),
    ],
)
def test_rejections_name_the_operator_at_compile_time(spec: dict[str, Any], operator: str) -> None:
    with pytest.raises(UnsupportedQuery) as info:
        compile_filter(spec)
    assert info.value.operator == operator


def test_a_filter_must_be_a_mapping() -> None:
    with pytest.raises(UnsupportedQuery):
        compile_filter([("a", 1)])  # type: ignore[arg-type]


def test_rejected_operators_are_found_even_where_no_document_would_reach_them() -> None:
    with pytest.raises(UnsupportedQuery):
        compile_filter({"a": 1, "$or": [{"b": 1}, {"c": {"$where": "x"}}]})


# ------------------------------------------------------------------ equalities (index hints)
def test_equalities_collect_top_level_scalar_equalities() -> None:
    spec = {
        "experiment": "e1",
        "status": {"$in": ["new", "suspended"]},
        "n": {"$eq": 2},
        "f": 0.5,
        "ok": True,
        "$and": [{"w": "x"}, {"v": {"$in": [1, 2.5]}}],
        "none": None,
        "doc": {"a": 1},
        "arr": [1],
        "rx": re.compile("x"),
        "nan": NAN,
        "gt": {"$gt": 1},
        "mixed": {"$in": ["a", None]},
        "empty": {"$in": []},
        "$or": [{"o": 1}],
        "b": b"x",
        "d": D1,
    }
    assert compile_filter(spec).equalities() == {
        "experiment": ["e1"],
        "status": ["new", "suspended"],
        "n": [2],
        "f": [0.5],
        "ok": [True],
        "w": ["x"],
        "v": [1, 2.5],
    }


def test_equalities_are_necessary_conditions() -> None:
    docs = [{"a": "x"}, {"a": ["y", "x"]}, {"a": "z"}, {"b": 1}]
    compiled = compile_filter({"a": {"$in": ["x", "y"]}, "$and": [{"a": {"$ne": "y"}}]})
    hints = compiled.equalities()
    for doc in docs:
        if compiled.matches(doc):
            value = doc["a"]
            assert any(v in (value if isinstance(value, list) else [value]) for v in hints["a"])


def test_spec_is_kept() -> None:
    spec = {"a": {"$gt": 1}}
    assert compile_filter(spec).spec == spec
    assert "Filter" in repr(compile_filter(spec))
