"""Updates: every operator, path creation, MongoDB's field order, errors, replacement and upsert."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest

from docstore.errors import InvalidDocument, InvalidOperation, UnsupportedQuery
from docstore.query import compile_filter, compile_update

UTC = dt.timezone.utc
D1 = dt.datetime(2020, 1, 1, tzinfo=UTC)


def apply(update: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    return compile_update(update).apply(doc)


def test_apply_returns_a_new_document_and_never_mutates() -> None:
    doc = {"_id": 1, "a": {"b": [1]}, "c": 1}
    new = apply({"$push": {"a.b": 2}, "$set": {"c": 2}}, doc)
    assert new == {"_id": 1, "a": {"b": [1, 2]}, "c": 2}
    assert doc == {"_id": 1, "a": {"b": [1]}, "c": 1}
    new["a"]["b"].append(3)
    assert doc["a"]["b"] == [1]


def test_set_creates_documents_and_pads_arrays() -> None:
    assert apply({"$set": {"a.b.c": 1}}, {"_id": 1}) == {"_id": 1, "a": {"b": {"c": 1}}}
    assert apply({"$set": {"a.3": "x"}}, {"a": [0]}) == {"a": [0, None, None, "x"]}
    assert apply({"$set": {"a.1.b": 2}}, {"a": [{"b": 1}]}) == {"a": [{"b": 1}, {"b": 2}]}
    assert apply({"$set": {"a.0.b": 2}}, {"a": [{"b": 1, "c": 0}]}) == {"a": [{"b": 2, "c": 0}]}
    assert apply({"$set": {"a.0": 5}}, {"a": {}}) == {"a": {"0": 5}}
    assert apply({"$set": {"a": [1, {"b": 2}]}}, {"a": 1, "z": 0}) == {"a": [1, {"b": 2}], "z": 0}


def test_set_keeps_existing_fields_in_place_and_adds_new_ones_in_path_order() -> None:
    # MongoDB 5.0+: names in lexicographic order, numeric names in numeric order
    assert list(apply({"$set": {"b": 1, "a": 2}}, {"_id": 0})) == ["_id", "a", "b"]
    assert list(apply({"$set": {"z": 1, "m": 2}}, {"_id": 0, "z": 0})) == ["_id", "z", "m"]
    assert list(apply({"$set": {"m.10": 1, "m.9": 2}}, {"m": {}})["m"]) == ["9", "10"]
    assert list(apply({"$inc": {"y": 1}, "$set": {"x": 1}}, {})) == ["x", "y"]
    assert apply({"$set": {"a.2": 1, "a.10": 2}}, {"a": []})["a"][2] == 1


@pytest.mark.parametrize(
    ("update", "doc", "operator", "path"),
    [
        ({"$set": {"a.b": 1}}, {"a": 5}, "$set", "a.b"),
        ({"$set": {"a.b": 1}}, {"a": None}, "$set", "a.b"),
        ({"$set": {"a.b.c": 1}}, {"a": {"b": "x"}}, "$set", "a.b.c"),
        ({"$set": {"a.x": 1}}, {"a": [1]}, "$set", "a.x"),
        ({"$inc": {"a": 1}}, {"a": "1"}, "$inc", "a"),
        ({"$inc": {"a": 1}}, {"a": None}, "$inc", "a"),
        ({"$inc": {"a": 1}}, {"a": True}, "$inc", "a"),
        ({"$inc": {"a": 1}}, {"a": 2**63 - 1}, "$inc", "a"),
        ({"$mul": {"a": 2}}, {"a": -(2**62) - 1}, "$mul", "a"),
        ({"$mul": {"a": 2}}, {"a": [1]}, "$mul", "a"),
        ({"$push": {"a": 1}}, {"a": 1}, "$push", "a"),
        ({"$push": {"a.b": 1}}, {"a": {"b": {}}}, "$push", "a.b"),
        ({"$addToSet": {"a": 1}}, {"a": "x"}, "$addToSet", "a"),
        ({"$pull": {"a": 1}}, {"a": 1}, "$pull", "a"),
        ({"$pullAll": {"a": [1]}}, {"a": {}}, "$pullAll", "a"),
        ({"$pop": {"a": 1}}, {"a": "x"}, "$pop", "a"),
        ({"$rename": {"a.0": "b"}}, {"a": [1]}, "$rename", "a.0"),
        ({"$rename": {"a": "b.0"}}, {"a": 1, "b": [1]}, "$rename", "b.0"),
        ({"$set": {"_id": 2}}, {"_id": 1}, "$set", "_id"),
        ({"$unset": {"_id": 1}}, {"_id": 1}, "$unset", "_id"),
        ({"$inc": {"_id": 1}}, {"_id": 1}, "$inc", "_id"),
    ],
)
def test_updates_that_cannot_apply_raise_invalid_operation(
    update: dict[str, Any], doc: dict[str, Any], operator: str, path: str
) -> None:
    before = repr(doc)
    with pytest.raises(InvalidOperation) as info:
        apply(update, doc)
    assert (info.value.operator, info.value.path) == (operator, path)
    assert repr(doc) == before


def test_setting_id_to_its_own_value_is_allowed() -> None:
    assert apply({"$set": {"_id": 1, "a": 1}}, {"_id": 1}) == {"_id": 1, "a": 1}


def test_unset() -> None:
    doc = {"a": 1, "b": {"c": 1, "d": 2}, "e": [1, 2], "f": 5}
    assert apply({"$unset": {"a": "", "b.c": 1, "e.0": True, "f.g": 1, "zz": 1, "e.9": 1, "e.x": 1}}, doc) == {
        "b": {"d": 2},
        "e": [None, 2],
        "f": 5,
    }


def test_inc_and_mul() -> None:
    assert apply({"$inc": {"a": 1, "b": 1.5, "c": -2, "n.m": 1}}, {"a": 1, "b": 1}) == {
        "a": 2,
        "b": 2.5,
        "c": -2,
        "n": {"m": 1},
    }
    assert apply({"$mul": {"a": 3, "b": 0.5, "c": 2, "d": 2.5}}, {"a": 2, "b": 4}) == {
        "a": 6,
        "b": 2.0,
        "c": 0,
        "d": 0.0,
    }
    assert type(apply({"$mul": {"d": 2.5}}, {})["d"]) is float
    assert apply({"$inc": {"a": 1}}, {"a": 2**63 - 2}) == {"a": 2**63 - 1}
    assert math.isnan(apply({"$inc": {"a": 1}}, {"a": math.nan})["a"])


def test_min_and_max_use_bson_order() -> None:
    assert apply({"$min": {"a": 1, "b": 5, "c": 3}}, {"a": 2, "b": 1}) == {"a": 1, "b": 1, "c": 3}
    assert apply({"$max": {"a": 1, "b": 5}}, {"a": 2, "b": 1}) == {"a": 2, "b": 5}
    assert apply({"$max": {"a": "x"}}, {"a": 100}) == {"a": "x"}  # strings sort above numbers
    assert apply({"$min": {"a": None}}, {"a": 0}) == {"a": None}
    assert apply({"$max": {"a": D1}}, {"a": True}) == {"a": D1}


def test_push_and_its_modifiers() -> None:
    assert apply({"$push": {"a": 3}}, {"a": [1]}) == {"a": [1, 3]}
    assert apply({"$push": {"a": [3]}}, {}) == {"a": [[3]]}
    assert apply({"$push": {"a": {"$each": [3, 4]}}}, {"a": [1]}) == {"a": [1, 3, 4]}
    assert apply({"$push": {"a": {"$each": [3], "$position": 0}}}, {"a": [1, 2]}) == {"a": [3, 1, 2]}
    assert apply({"$push": {"a": {"$each": [3], "$position": -1}}}, {"a": [1, 2]}) == {"a": [1, 3, 2]}
    assert apply({"$push": {"a": {"$each": [3], "$position": -9}}}, {"a": [1, 2]}) == {"a": [3, 1, 2]}
    assert apply({"$push": {"a": {"$each": [3, 4], "$slice": 2}}}, {"a": [1]}) == {"a": [1, 3]}
    assert apply({"$push": {"a": {"$each": [3, 4], "$slice": -2}}}, {"a": [1]}) == {"a": [3, 4]}
    assert apply({"$push": {"a": {"$each": [], "$slice": 0}}}, {"a": [1]}) == {"a": []}
    assert apply({"$push": {"a": {"$each": [2, "x", None], "$sort": 1}}}, {"a": [3]}) == {"a": [None, 2, 3, "x"]}
    assert apply({"$push": {"a": {"$each": [2], "$sort": -1, "$slice": 2}}}, {"a": [3, 1]}) == {"a": [3, 2]}
    docs = [{"x": 2, "y": 1}, {"x": 1, "y": 2}, {"x": 1, "y": 1}]
    assert apply({"$push": {"a": {"$each": docs, "$sort": {"x": 1, "y": -1}}}}, {}) == {
        "a": [{"x": 1, "y": 2}, {"x": 1, "y": 1}, {"x": 2, "y": 1}]
    }
    assert apply({"$push": {"a": {"$each": [5, {"x": 0}], "$sort": {"x": 1}}}}, {}) == {"a": [5, {"x": 0}]}


def test_add_to_set_uses_bson_equality() -> None:
    assert apply({"$addToSet": {"a": 1}}, {"a": [1.0]}) == {"a": [1.0]}
    assert apply({"$addToSet": {"a": True}}, {"a": [1]}) == {"a": [1, True]}
    assert apply({"$addToSet": {"a": {"$each": [2, 2, 3]}}}, {"a": [1]}) == {"a": [1, 2, 3]}
    assert apply({"$addToSet": {"a": {"x": 1, "y": 2}}}, {"a": [{"y": 2, "x": 1}]}) == {
        "a": [{"y": 2, "x": 1}, {"x": 1, "y": 2}]
    }
    assert apply({"$addToSet": {"a.b": [1]}}, {}) == {"a": {"b": [[1]]}}


def test_pull_by_value_condition_and_document_filter() -> None:
    assert apply({"$pull": {"a": 1}}, {"a": [1, 1.0, 2, [1]]}) == {"a": [2, [1]]}
    assert apply({"$pull": {"a": [1]}}, {"a": [1, [1]]}) == {"a": [1]}
    assert apply({"$pull": {"a": {"$gte": 6}}}, {"a": [5, 6, 7, "x", [7]]}) == {"a": [5, "x"]}
    assert apply({"$pull": {"a": {"$in": ["x", 5]}}}, {"a": [5, 6, "x"]}) == {"a": [6]}
    assert apply({"$pull": {"a": {"b": 1}}}, {"a": [{"b": 1, "c": 2}, {"b": 2}, 1]}) == {"a": [{"b": 2}, 1]}
    assert apply({"$pull": {"a": {}}}, {"a": [{"b": 1}, 1, {}]}) == {"a": [1]}
    assert apply({"$pull": {"a": {"$or": [{"b": 1}, {"b": 2}]}}}, {"a": [{"b": 1}, {"b": 3}]}) == {"a": [{"b": 3}]}
    assert apply({"$pull": {"a": 1}}, {}) == {}


def test_pull_all_and_pop() -> None:
    assert apply({"$pullAll": {"a": [1, "x"]}}, {"a": [1, 2, "x", 1.0]}) == {"a": [2]}
    assert apply({"$pop": {"a": 1}}, {"a": [1, 2, 3]}) == {"a": [1, 2]}
    assert apply({"$pop": {"a": -1}}, {"a": [1, 2, 3]}) == {"a": [2, 3]}
    assert apply({"$pop": {"a": 1}}, {"a": []}) == {"a": []}
    assert apply({"$pop": {"a": 1}}, {}) == {}


def test_rename() -> None:
    assert apply({"$rename": {"a": "z"}}, {"a": 1, "b": 2}) == {"b": 2, "z": 1}
    assert apply({"$rename": {"a.b": "c.d"}}, {"a": {"b": 1, "x": 0}}) == {"a": {"x": 0}, "c": {"d": 1}}
    assert apply({"$rename": {"a": "b"}}, {"a": 1, "b": 2, "c": 3}) == {"b": 1, "c": 3}
    assert apply({"$rename": {"missing": "b"}}, {"a": 1}) == {"a": 1}


def test_current_date_is_utc_with_millisecond_precision() -> None:
    before = dt.datetime.now(UTC) - dt.timedelta(milliseconds=1)
    new = apply({"$currentDate": {"t": True, "u": {"$type": "date"}}}, {})
    after = dt.datetime.now(UTC)
    assert before <= new["t"] <= after
    assert new["t"].tzinfo is not None
    assert new["t"].microsecond % 1000 == 0
    assert isinstance(new["u"], dt.datetime)


def test_set_on_insert_is_ignored_by_apply() -> None:
    assert apply({"$setOnInsert": {"a": 1}, "$set": {"b": 1}}, {"_id": 1}) == {"_id": 1, "b": 1}


def test_empty_operator_documents_are_no_ops() -> None:
    assert apply({"$set": {}}, {"a": 1}) == {"a": 1}


# ------------------------------------------------------------------ replacement and upsert
def test_replacement_keeps_id_first() -> None:
    update = compile_update({"b": 1, "a": {"c": [1]}})
    assert update.is_replacement
    assert update.apply({"_id": "x", "z": 1}) == {"_id": "x", "b": 1, "a": {"c": [1]}}
    assert list(compile_update({"a": 1, "_id": "x"}).apply({"_id": "x", "z": 1})) == ["_id", "a"]
    with pytest.raises(InvalidOperation) as info:
        compile_update({"_id": "y", "a": 1}).apply({"_id": "x"})
    assert info.value.path == "_id"


def test_upsert_seeds_from_filter_equalities() -> None:
    filt = compile_filter(
        {
            "b": 1,
            "a.c": {"$eq": "x"},
            "$and": [{"d": 2}],
            "g": {"$gt": 1},
            "r": {"$in": [1]},
            "n": None,
            "$or": [{"o": 1}],
        }
    )
    update = compile_update({"$set": {"s": 1}, "$setOnInsert": {"i": 2}, "$inc": {"b": 1}})
    seeded = update.apply_upsert(filt)
    assert seeded == {"a": {"c": "x"}, "b": 2, "d": 2, "i": 2, "n": None, "o": 1, "s": 1}
    assert list(seeded) == ["a", "b", "d", "n", "o", "i", "s"]  # the filter's fields first, in path order


def test_upsert_puts_id_first_and_keeps_it() -> None:
    filt = compile_filter({"k": 1, "_id": "u"})
    assert list(compile_update({"$set": {"a": 1}}).apply_upsert(filt)) == ["_id", "k", "a"]
    with pytest.raises(InvalidOperation):
        compile_update({"$set": {"_id": "v"}}).apply_upsert(filt)
    assert compile_update({"$set": {"_id": "v"}}).apply_upsert(compile_filter({"k": 1})) == {"_id": "v", "k": 1}


def test_upsert_of_a_replacement_takes_only_the_id_from_the_filter() -> None:
    filt = compile_filter({"_id": "u", "k": 1})
    assert compile_update({"a": 1}).apply_upsert(filt) == {"_id": "u", "a": 1}
    assert compile_update({"a": 1}).apply_upsert(compile_filter({"k": 1})) == {"a": 1}


def test_upsert_with_conflicting_filter_paths_fails() -> None:
    with pytest.raises(InvalidOperation):
        compile_update({"$set": {"x": 1}}).apply_upsert(compile_filter({"a": 1, "a.b": 2}))


# ------------------------------------------------------------------ rejections
@pytest.mark.parametrize(
    ("spec", "operator"),
    [
        ({}, "update"),
        ({"$set": {"a": 1}, "b": 2}, "b"),
        ({"$foo": {"a": 1}}, "$foo"),
        ({"$bit": {"a": {"and": 1}}}, "$bit"),
        ({"$set": 1}, "$set"),
        ({"$inc": {"a": "1"}}, "$inc"),
        ({"$inc": {"a": True}}, "$inc"),
        ({"$mul": {"a": None}}, "$mul"),
        ({"$set": {"a": 1}, "$inc": {"a": 1}}, "a"),
        ({"$set": {"a": 1, "a.b": 2}}, "a.b"),
        ({"$set": {"a.b": 1}, "$unset": {"a": 1}}, "a.b"),
        ({"$set": {"a": 1}, "$setOnInsert": {"a": 2}}, "a"),
        ({"$rename": {"a": "a"}}, "$rename"),
        ({"$rename": {"a": "a.b"}}, "$rename"),
        ({"$rename": {"a": 1}}, "$rename"),
        ({"$rename": {"a": "b"}, "$set": {"b": 1}}, "b"),
        ({"$set": {"a.$": 1}}, "$"),
        ({"$set": {"a.$[].b": 1}}, "$[]"),
        ({"$set": {"a.$[x]": 1}}, "$[x]"),
        ({"$set": {"$a": 1}}, "$a"),
        ({"$set": {"a..b": 1}}, "$set"),
        ({"$set": {"": 1}}, "$set"),
        ({"$pop": {"a": 2}}, "$pop"),
        ({"$pullAll": {"a": 1}}, "$pullAll"),
        ({"$pull": {"a": {"$foo": 1}}}, "$foo"),
        ({"$push": {"a": {"$each": 1}}}, "$each"),
        ({"$push": {"a": {"$each": [1], "$bad": 1}}}, "$bad"),
        ({"$push": {"a": {"$slice": 1}}}, "$slice"),
        ({"$push": {"a": {"$each": [1], "$slice": "x"}}}, "$slice"),
        ({"$push": {"a": {"$each": [1], "$position": 1.5}}}, "$position"),
        ({"$push": {"a": {"$each": [1], "$sort": 2}}}, "$sort"),
        ({"$push": {"a": {"$each": [1], "$sort": {"x": 0}}}}, "$sort"),
        ({"$addToSet": {"a": {"$each": 1}}}, "$each"),
        ({"$currentDate": {"a": {"$type": "timestamp"}}}, "$currentDate"),
        ({"$where": {"a": 1}}, "$where"),
    ],
)
def test_bad_updates_are_rejected_at_compile_time(spec: dict[str, Any], operator: str) -> None:
    with pytest.raises(UnsupportedQuery) as info:
        compile_update(spec)
    assert info.value.operator == operator


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"$set": {"a": {"$x": 1}}}, "a.$x"),
        ({"$set": {"a": {"b.c": 1}}}, "a.b.c"),
        ({"$push": {"a": {"$each": [{1, 2}]}}}, "a.0"),
        ({"$set": {"n": 2**64}}, "n"),
        ({"a.b": 1}, "a.b"),
        ({"a": {"$b": 1}}, "a.$b"),
    ],
)
def test_unstorable_values_raise_invalid_document(spec: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidDocument) as info:
        compile_update(spec)
    assert info.value.path == path


def test_an_update_must_be_a_mapping() -> None:
    with pytest.raises(UnsupportedQuery):
        compile_update([("$set", {"a": 1})])  # type: ignore[arg-type]


def test_spec_and_repr() -> None:
    update = compile_update({"$set": {"a": 1}})
    assert update.spec == {"$set": {"a": 1}}
    assert not update.is_replacement
    assert "Update" in repr(update)


@pytest.mark.parametrize(
    ("update", "changed"),
    [
        ({"$set": {"a.x": 2}}, "a"),
        ({"$push": {"l": 4}}, "l"),
        ({"$pull": {"l": 1}}, "l"),
        ({"$unset": {"a.x": ""}}, "a"),
        ({"$rename": {"a.x": "b.z"}}, "a"),
    ],
)
def test_apply_copies_what_it_changes_and_never_the_input(update: dict[str, Any], changed: str) -> None:
    doc = {"_id": 1, "a": {"x": 1}, "b": {"y": 2}, "l": [1, 2, 3], "c": {"deep": [1]}}
    snapshot = {"_id": 1, "a": {"x": 1}, "b": {"y": 2}, "l": [1, 2, 3], "c": {"deep": [1]}}
    new = compile_update(update).apply(doc)
    assert doc == snapshot  # the input is never changed, even through shared parts
    assert new[changed] != snapshot[changed]
    assert new["c"] is doc["c"]  # untouched fields are shared (copy on write)
    if isinstance(new[changed], dict):
        new[changed]["scribble"] = 1
    else:
        new[changed].append(1)
    assert doc == snapshot
