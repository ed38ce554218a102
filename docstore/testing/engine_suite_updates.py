"""Update conformance: every update operator, replacement documents and upserts.

Each case is a stored document, an update and the document MongoDB leaves, written out
by hand. Values are compared with their types (``1`` is not ``1.0`` is not ``True``).
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

import pytest

from docstore.database import Database, ReturnDocument
from docstore.testing.support import D2024, D2025, UTC, typed

__all__ = ["UpdateSuite", "UpsertSuite"]

_ID = re.compile(r"[0-9a-f]{24}")

OPERATOR_CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("set-replace", {"a": 1}, {"$set": {"a": 2}}, {"a": 2}),
    ("set-new-nested", {"a": 1}, {"$set": {"b.c": 1}}, {"a": 1, "b": {"c": 1}}),
    ("set-into-subdocument", {"a": {"x": 1}}, {"$set": {"a.y": 2}}, {"a": {"x": 1, "y": 2}}),
    ("set-array-index", {"a": [1, 2, 3]}, {"$set": {"a.1": 9}}, {"a": [1, 9, 3]}),
    ("set-array-index-pads-with-null", {"a": [1]}, {"$set": {"a.3": 4}}, {"a": [1, None, None, 4]}),
    ("set-field-of-array-element", {"a": [{"k": 1}, {"k": 2}]}, {"$set": {"a.1.k": 5}}, {"a": [{"k": 1}, {"k": 5}]}),
    ("set-document-value", {"a": 1}, {"$set": {"a": {"n": [1, {}]}}}, {"a": {"n": [1, {}]}}),
    ("set-keeps-int-type", {"a": 1.5}, {"$set": {"a": 2}}, {"a": 2}),
    ("unset", {"a": 1, "b": 2}, {"$unset": {"a": ""}}, {"b": 2}),
    ("unset-dotted", {"a": {"x": 1, "y": 2}}, {"$unset": {"a.x": 1}}, {"a": {"y": 2}}),
    ("unset-missing", {"a": 1}, {"$unset": {"zz": ""}}, {"a": 1}),
    ("unset-array-element-nulls-it", {"a": [1, 2]}, {"$unset": {"a.0": ""}}, {"a": [None, 2]}),
    ("inc-int", {"n": 1}, {"$inc": {"n": 2}}, {"n": 3}),
    ("inc-by-float", {"n": 1}, {"$inc": {"n": 0.5}}, {"n": 1.5}),
    ("inc-float-by-int", {"n": 1.5}, {"$inc": {"n": -1}}, {"n": 0.5}),
    ("inc-missing-creates", {}, {"$inc": {"n": 5}}, {"n": 5}),
    ("inc-dotted", {"d": {"n": 1}}, {"$inc": {"d.n": 1, "d.m": 2}}, {"d": {"n": 2, "m": 2}}),
    ("inc-large", {"n": 2**62}, {"$inc": {"n": 1}}, {"n": 2**62 + 1}),
    ("mul-int", {"n": 3}, {"$mul": {"n": 2}}, {"n": 6}),
    ("mul-by-float", {"n": 3}, {"$mul": {"n": 0.5}}, {"n": 1.5}),
    ("mul-missing-int-zero", {}, {"$mul": {"n": 2}}, {"n": 0}),
    ("mul-missing-float-zero", {}, {"$mul": {"n": 2.0}}, {"n": 0.0}),
    ("min-lower", {"n": 5}, {"$min": {"n": 3}}, {"n": 3}),
    ("min-higher-keeps", {"n": 5}, {"$min": {"n": 7}}, {"n": 5}),
    ("min-missing-sets", {}, {"$min": {"n": 1}}, {"n": 1}),
    ("min-null-is-lowest", {"n": 5}, {"$min": {"n": None}}, {"n": None}),
    ("max-higher", {"n": 5}, {"$max": {"n": 7}}, {"n": 7}),
    ("max-lower-keeps", {"n": 5}, {"$max": {"n": 4.5}}, {"n": 5}),
    ("max-string-beats-number", {"n": 5}, {"$max": {"n": "a"}}, {"n": "a"}),
    ("max-date", {"d": D2024}, {"$max": {"d": D2025}}, {"d": D2025}),
    ("push", {"a": [1]}, {"$push": {"a": 2}}, {"a": [1, 2]}),
    ("push-missing-creates", {}, {"$push": {"a": 1}}, {"a": [1]}),
    ("push-array-as-one-element", {"a": [1]}, {"$push": {"a": [2, 3]}}, {"a": [1, [2, 3]]}),
    ("push-each", {"a": [1]}, {"$push": {"a": {"$each": [2, 3]}}}, {"a": [1, 2, 3]}),
    ("push-each-slice-negative", {"a": [1, 2]}, {"$push": {"a": {"$each": [3, 4], "$slice": -3}}}, {"a": [2, 3, 4]}),
    ("push-each-slice-positive", {"a": [1, 2]}, {"$push": {"a": {"$each": [3], "$slice": 2}}}, {"a": [1, 2]}),
    ("push-slice-zero-empties", {"a": [1, 2]}, {"$push": {"a": {"$each": [], "$slice": 0}}}, {"a": []}),
    ("push-each-sort-asc", {"a": [3, 1]}, {"$push": {"a": {"$each": [2], "$sort": 1}}}, {"a": [1, 2, 3]}),
    (
        "push-each-sort-desc-slice",
        {"a": [3, 1]},
        {"$push": {"a": {"$each": [2], "$sort": -1, "$slice": 2}}},
        {"a": [3, 2]},
    ),
    (
        "push-each-sort-by-field",
        {"a": [{"s": 2}, {"s": 9}]},
        {"$push": {"a": {"$each": [{"s": 5}], "$sort": {"s": -1}}}},
        {"a": [{"s": 9}, {"s": 5}, {"s": 2}]},
    ),
    ("push-position-front", {"a": [1, 2]}, {"$push": {"a": {"$each": [0], "$position": 0}}}, {"a": [0, 1, 2]}),
    ("push-position-middle", {"a": [1, 2]}, {"$push": {"a": {"$each": [9], "$position": 1}}}, {"a": [1, 9, 2]}),
    ("push-position-negative", {"a": [1, 2]}, {"$push": {"a": {"$each": [9], "$position": -1}}}, {"a": [1, 9, 2]}),
    ("addtoset-present", {"a": [1, 2]}, {"$addToSet": {"a": 2}}, {"a": [1, 2]}),
    ("addtoset-absent", {"a": [1, 2]}, {"$addToSet": {"a": 3}}, {"a": [1, 2, 3]}),
    ("addtoset-each", {"a": [1]}, {"$addToSet": {"a": {"$each": [1, 2, 2, 3]}}}, {"a": [1, 2, 3]}),
    ("addtoset-missing-creates", {}, {"$addToSet": {"a": "x"}}, {"a": ["x"]}),
    ("addtoset-one-equals-one-point-zero", {"a": [1]}, {"$addToSet": {"a": 1.0}}, {"a": [1]}),
    ("addtoset-true-is-not-one", {"a": [1]}, {"$addToSet": {"a": True}}, {"a": [1, True]}),
    (
        "addtoset-document-key-order",
        {"a": [{"x": 1, "y": 2}]},
        {"$addToSet": {"a": {"y": 2, "x": 1}}},
        {"a": [{"x": 1, "y": 2}, {"y": 2, "x": 1}]},
    ),
    ("pull-value", {"a": [1, 2, 1, 3]}, {"$pull": {"a": 1}}, {"a": [2, 3]}),
    ("pull-condition", {"a": [1, 5, 8]}, {"$pull": {"a": {"$gte": 5}}}, {"a": [1]}),
    (
        "pull-document-by-query",
        {"a": [{"k": "x", "n": 1}, {"k": "y", "n": 2}]},
        {"$pull": {"a": {"k": "x"}}},
        {"a": [{"k": "y", "n": 2}]},
    ),
    (
        "pull-document-by-operator",
        {"a": [{"k": "x", "n": 1}, {"k": "y", "n": 2}]},
        {"$pull": {"a": {"n": {"$gt": 1}}}},
        {"a": [{"k": "x", "n": 1}]},
    ),
    ("pull-in", {"a": ["ab", "cd"]}, {"$pull": {"a": {"$in": ["cd", "zz"]}}}, {"a": ["ab"]}),
    ("pull-missing-field", {"a": [1]}, {"$pull": {"zz": 1}}, {"a": [1]}),
    ("pullall", {"a": [1, 2, 3, 1]}, {"$pullAll": {"a": [1, 3]}}, {"a": [2]}),
    ("pop-last", {"a": [1, 2, 3]}, {"$pop": {"a": 1}}, {"a": [1, 2]}),
    ("pop-first", {"a": [1, 2, 3]}, {"$pop": {"a": -1}}, {"a": [2, 3]}),
    ("pop-empty", {"a": []}, {"$pop": {"a": 1}}, {"a": []}),
    ("rename", {"a": 1, "b": 2}, {"$rename": {"a": "c"}}, {"b": 2, "c": 1}),
    ("rename-out-of-subdocument", {"d": {"x": 1}}, {"$rename": {"d.x": "y"}}, {"d": {}, "y": 1}),
    ("rename-missing", {"a": 1}, {"$rename": {"zz": "y"}}, {"a": 1}),
    ("rename-over-existing", {"a": 1, "b": 2}, {"$rename": {"a": "b"}}, {"b": 1}),
    (
        "several-operators",
        {"a": 1, "n": 1},
        {"$set": {"a": 2}, "$inc": {"n": 1}, "$unset": {"zz": ""}},
        {"a": 2, "n": 2},
    ),
]

NOOP_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("set-same", {"a": 1}, {"$set": {"a": 1}}),
    ("unset-missing", {"a": 1}, {"$unset": {"b": ""}}),
    ("min-not-lower", {"a": 1}, {"$min": {"a": 2}}),
    ("max-not-higher", {"a": 1}, {"$max": {"a": 0}}),
    ("addtoset-present", {"a": [1]}, {"$addToSet": {"a": 1}}),
    ("pull-absent", {"a": [1]}, {"$pull": {"a": 2}}),
    ("pop-empty", {"a": []}, {"$pop": {"a": 1}}),
    ("inc-zero", {"a": 1}, {"$inc": {"a": 0}}),
]


class UpdateSuite:
    """Update operators and replacements. Needs a ``db`` fixture: a fresh empty Database."""

    @pytest.mark.parametrize(
        ("case", "stored", "update", "expected"), OPERATOR_CASES, ids=[c[0] for c in OPERATOR_CASES]
    )
    def test_operator(
        self, db: Database, case: str, stored: dict[str, Any], update: dict[str, Any], expected: dict[str, Any]
    ) -> None:
        coll = db["u"]
        coll.insert_many([{"_id": "x", **stored}, {"_id": "other", **stored}])
        result = coll.update_one({"_id": "x"}, update)
        assert result.matched_count == 1
        assert typed(coll.find_one("x"), ordered=False) == typed({"_id": "x", **expected}, ordered=False)
        assert typed(coll.find_one("other")) == typed({"_id": "other", **stored}), "update_one changed another doc"

    @pytest.mark.parametrize(("case", "stored", "update"), NOOP_CASES, ids=[c[0] for c in NOOP_CASES])
    def test_noop_update_counts_matched_not_modified(
        self, db: Database, case: str, stored: dict[str, Any], update: dict[str, Any]
    ) -> None:
        coll = db["u"]
        coll.insert_one({"_id": "x", **stored})
        result = coll.update_one({"_id": "x"}, update)
        assert (result.matched_count, result.modified_count) == (1, 0)
        assert typed(coll.find_one("x")) == typed({"_id": "x", **stored})

    def test_set_appends_new_fields_in_lexicographic_order(self, db: Database) -> None:
        # MongoDB >= 5.0 applies an update's fields in lexicographic order (numeric names in
        # numeric order): existing fields keep their place, new ones are appended in that order
        db["u"].insert_one({"_id": "x", "b": 1, "a": 2, "m": {}})
        db["u"].update_one({"_id": "x"}, {"$set": {"a": 3, "z": 4, "c": 5, "m.10": 1, "m.2": 2}})
        found = db["u"].find_one("x") or {}
        assert list(found) == ["_id", "b", "a", "m", "c", "z"]
        assert list(found["m"]) == ["2", "10"]

    def test_update_many_counts(self, db: Database) -> None:
        coll = db["u"]
        coll.insert_many([{"_id": str(i), "n": i, "even": i % 2 == 0} for i in range(6)])
        result = coll.update_many({"even": True}, {"$inc": {"n": 10}})
        assert (result.matched_count, result.modified_count, result.upserted_id) == (3, 3, None)
        assert sorted(doc["n"] for doc in coll.find()) == [1, 3, 5, 10, 12, 14]
        result = coll.update_many({"n": {"$gt": 100}}, {"$set": {"big": True}})
        assert (result.matched_count, result.modified_count) == (0, 0)

    def test_update_one_changes_only_one(self, db: Database) -> None:
        coll = db["u"]
        coll.insert_many([{"_id": str(i), "s": "new"} for i in range(4)])
        result = coll.update_one({"s": "new"}, {"$set": {"s": "done"}})
        assert (result.matched_count, result.modified_count) == (1, 1)
        assert coll.count_documents({"s": "done"}) == 1
        assert coll.count_documents({"s": "new"}) == 3

    def test_current_date(self, db: Database) -> None:
        coll = db["u"]
        coll.insert_one({"_id": "x"})
        before = _dt.datetime.now(UTC).replace(microsecond=0)
        coll.update_one({"_id": "x"}, {"$currentDate": {"t": True, "u": {"$type": "date"}}})
        after = _dt.datetime.now(UTC) + _dt.timedelta(milliseconds=1)
        doc = coll.find_one("x") or {}
        for name in ("t", "u"):
            value = doc[name]
            assert isinstance(value, _dt.datetime)
            assert value.utcoffset() == _dt.timedelta(0)
            assert value.microsecond % 1000 == 0
            assert before <= value <= after
        assert coll.count_documents({"t": {"$type": "date"}}) == 1

    def test_replace_one(self, db: Database) -> None:
        coll = db["u"]
        coll.insert_many([{"_id": "x", "a": 1, "b": 2}, {"_id": "y", "a": 1}])
        result = coll.replace_one({"_id": "x"}, {"c": 3, "a": 0})
        assert (result.matched_count, result.modified_count, result.upserted_id) == (1, 1, None)
        assert typed(coll.find_one("x")) == typed({"_id": "x", "c": 3, "a": 0})
        assert typed(coll.find_one("y")) == typed({"_id": "y", "a": 1})

    def test_replace_with_same_id_is_allowed(self, db: Database) -> None:
        coll = db["u"]
        coll.insert_one({"_id": "x", "a": 1})
        coll.replace_one({"a": 1}, {"_id": "x", "a": 2})
        assert typed(coll.find_one("x")) == typed({"_id": "x", "a": 2})

    def test_find_one_and_replace(self, db: Database) -> None:
        coll = db["u"]
        coll.insert_one({"_id": "x", "a": 1})
        before = coll.find_one_and_replace({"a": 1}, {"a": 2})
        assert typed(before) == typed({"_id": "x", "a": 1})
        after = coll.find_one_and_replace({"a": 2}, {"a": 3, "b": 1}, return_document=ReturnDocument.AFTER)
        assert typed(after) == typed({"_id": "x", "a": 3, "b": 1})
        assert coll.find_one_and_replace({"a": 99}, {"a": 4}) is None
        assert typed(coll.find_one("x")) == typed({"_id": "x", "a": 3, "b": 1})


class UpsertSuite:
    """Upserts: equality seeding, generated string ``_id``, ``$setOnInsert``. Needs ``db``."""

    def test_upsert_seeds_equalities_and_generates_string_id(self, db: Database) -> None:
        coll = db["u"]
        result = coll.update_one({"status": "new", "n": 3}, {"$set": {"x": 1}}, upsert=True)
        assert (result.matched_count, result.modified_count) == (0, 0)
        assert isinstance(result.upserted_id, str)
        assert _ID.fullmatch(result.upserted_id)
        doc = coll.find_one(result.upserted_id)
        assert typed(doc, ordered=False) == typed(
            {"_id": result.upserted_id, "status": "new", "n": 3, "x": 1}, ordered=False
        )

    @pytest.mark.parametrize(
        ("filter_", "seeded"),
        [
            ({"a": {"$eq": 1}, "b": {"$gt": 1}}, {"a": 1}),
            ({"$and": [{"a": 1}, {"b": "two"}]}, {"a": 1, "b": "two"}),
            ({"d.x": 1}, {"d": {"x": 1}}),
            ({"$or": [{"a": 1}, {"b": 2}]}, {}),
            ({"a": {"$in": [1, 2]}, "c": None}, {"c": None}),
        ],
        ids=["eq-not-gt", "and", "dotted", "or-not-seeded", "in-not-seeded"],
    )
    def test_upsert_seeding(self, db: Database, filter_: dict[str, Any], seeded: dict[str, Any]) -> None:
        result = db["u"].update_one(filter_, {"$set": {"z": 0}}, upsert=True)
        assert result.upserted_id is not None
        doc = db["u"].find_one(result.upserted_id) or {}
        doc.pop("_id")
        assert typed(doc, ordered=False) == typed({**seeded, "z": 0}, ordered=False)

    def test_upsert_uses_id_from_filter(self, db: Database) -> None:
        result = db["u"].update_one({"_id": "given"}, {"$inc": {"n": 1}}, upsert=True)
        assert result.upserted_id == "given"
        assert typed(db["u"].find_one("given")) == typed({"_id": "given", "n": 1})

    def test_upsert_matching_updates_instead(self, db: Database) -> None:
        coll = db["u"]
        coll.insert_one({"_id": "x", "k": 1})
        result = coll.update_one({"k": 1}, {"$set": {"v": 2}}, upsert=True)
        assert (result.matched_count, result.modified_count, result.upserted_id) == (1, 1, None)
        assert coll.count_documents({}) == 1

    def test_set_on_insert(self, db: Database) -> None:
        coll = db["u"]
        update = {"$setOnInsert": {"created": 1}, "$inc": {"seen": 1}}
        first = coll.update_one({"k": "a"}, update, upsert=True)
        assert first.upserted_id is not None
        coll.update_one({"k": "a"}, {"$setOnInsert": {"created": 2}, "$inc": {"seen": 1}}, upsert=True)
        doc = coll.find_one({"k": "a"}) or {}
        assert (doc["created"], doc["seen"]) == (1, 2)
        assert coll.count_documents({}) == 1
        coll.insert_one({"_id": "plain", "k": "b"})
        coll.update_one({"k": "b"}, {"$setOnInsert": {"created": 3}})
        assert "created" not in (coll.find_one("plain") or {})

    def test_replace_upsert_does_not_seed_filter(self, db: Database) -> None:
        result = db["u"].replace_one({"k": 1}, {"z": 2}, upsert=True)
        assert isinstance(result.upserted_id, str)
        doc = db["u"].find_one(result.upserted_id) or {}
        assert typed(doc, ordered=False) == typed({"_id": result.upserted_id, "z": 2}, ordered=False)

    def test_update_many_upsert(self, db: Database) -> None:
        result = db["u"].update_many({"k": 7}, {"$set": {"v": 1}}, upsert=True)
        assert result.upserted_id is not None
        assert db["u"].count_documents({"k": 7, "v": 1}) == 1

    def test_find_one_and_update_upsert(self, db: Database) -> None:
        coll = db["u"]
        assert coll.find_one_and_update({"k": 1}, {"$set": {"v": 1}}, upsert=True) is None
        assert coll.count_documents({"k": 1, "v": 1}) == 1
        after = coll.find_one_and_update(
            {"k": 2}, {"$set": {"v": 2}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        assert after is not None
        assert _ID.fullmatch(after["_id"])
        assert (after["k"], after["v"]) == (2, 2)
        assert typed(coll.find_one(after["_id"])) == typed(after)
