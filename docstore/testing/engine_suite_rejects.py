"""Bad input is rejected with the same error on every engine, and leaves the store unchanged.

Each case runs one call on a seeded store, expects an error class (and, where docstore
promises them, its ``operator`` / ``path`` attributes), then compares a snapshot of the
whole store with the one taken before: not one byte may differ.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from typing import Any

import pytest

from docstore.database import Database
from docstore.errors import DocstoreError, DuplicateKeyError, InvalidDocument, InvalidOperation, UnsupportedQuery
from docstore.testing.support import require, snapshot

__all__ = ["RejectionSuite"]

Call = Callable[[Database], object]
_SET_X = {"$set": {"x": 1}}
_BAD_SORT: Any = [("n", "up")]
_FUNCTION = {"body": "function() { return true; }", "args": [], "lang": "js"}


def _find(filter_: Any, **kwargs: Any) -> Call:
    return lambda db: db["r"].find(filter_, **kwargs).to_list()


def _insert(document: Any) -> Call:
    return lambda db: db["r"].insert_one(document)


def _update(update: Any, filter_: Any = None) -> Call:
    return lambda db: db["r"].update_one({"_id": "a"} if filter_ is None else filter_, update)


# (case id, call, expected error, expected attributes)
OPERATOR_CASES: list[tuple[str, Call, str]] = [
    ("unknown-field-operator", _find({"a": {"$foo": 1}}), "$foo"),
    ("unknown-top-level-operator", lambda db: db["r"].count_documents({"$foo": [{"a": 1}]}), "$foo"),
    ("where-find", _find({"$where": "this.n == 1"}), "$where"),
    ("where-delete-many", lambda db: db["r"].delete_many({"$where": "true"}), "$where"),
    ("where-nested-in-or", lambda db: db["r"].delete_many({"$or": [{"n": 1}, {"$where": "true"}]}), "$where"),
    ("where-nested-in-and", lambda db: db["r"].update_many({"$and": [{"$where": "1"}]}, _SET_X), "$where"),
    ("expr-update-many", lambda db: db["r"].update_many({"$expr": {"$eq": ["$n", 1]}}, _SET_X), "$expr"),
    ("function-delete-one", lambda db: db["r"].delete_one({"$function": _FUNCTION}), "$function"),
    ("function-field", _find({"n": {"$function": _FUNCTION}}), "$function"),
    ("accumulator-cas", lambda db: db["r"].find_one_and_update({"$accumulator": {}}, _SET_X), "$accumulator"),
    ("text", _find({"$text": {"$search": "x"}}), "$text"),
    ("json-schema", _find({"$jsonSchema": {}}), "$jsonSchema"),
    ("where-in-elemmatch", _find({"arr": {"$elemMatch": {"$where": "1"}}}), "$where"),
    ("unknown-update-operator", _update({"$foo": {"n": 1}}), "$foo"),
    ("unsupported-update-operator", _update({"$bit": {"n": {"and": 1}}}), "$bit"),
    (
        "unknown-update-operator-upsert",
        lambda db: db["r"].update_one({"k": 9}, {"$foo": {"n": 1}}, upsert=True),
        "$foo",
    ),
    ("unknown-operator-in-pull", _update({"$pull": {"arr": {"$foo": 1}}}), "$foo"),
]

QUERY_CASES: list[tuple[str, Call]] = [
    ("empty-update", _update({})),
    ("empty-update-many", lambda db: db["r"].update_many({}, {})),
    ("mixed-update", _update({"$set": {"n": 5}, "name": "z"})),
    ("replacement-with-operators", lambda db: db["r"].replace_one({"_id": "a"}, {"$set": {"n": 5}})),
    ("cas-with-replacement", lambda db: db["r"].find_one_and_update({"_id": "a"}, {"n": 5})),
    ("set-not-a-document", _update({"$set": 1})),
    ("inc-by-string", _update({"$inc": {"n": "1"}})),
    ("conflicting-paths", _update({"$set": {"n": 1}, "$inc": {"n": 1}})),
    ("conflicting-parent-path", _update({"$set": {"sub": 1, "sub.k": 2}})),
    ("rename-onto-itself", _update({"$rename": {"n": "n"}})),
    ("and-not-a-list", lambda db: db["r"].delete_many({"$and": {"n": 1}})),
    ("or-empty", lambda db: db["r"].delete_many({"$or": []})),
    ("in-not-a-list", lambda db: db["r"].delete_many({"n": {"$in": 1}})),
    ("nin-not-a-list", lambda db: db["r"].delete_many({"n": {"$nin": "ab"}})),
    ("all-not-a-list", _find({"arr": {"$all": 1}})),
    ("size-negative", _find({"arr": {"$size": -1}})),
    ("size-string", _find({"arr": {"$size": "2"}})),
    ("mod-by-zero", lambda db: db["r"].delete_many({"n": {"$mod": [0, 1]}})),
    ("mod-one-argument", _find({"n": {"$mod": [2]}})),
    ("bad-regex", lambda db: db["r"].delete_many({"name": {"$regex": "("}})),
    ("options-without-regex", _find({"name": {"$options": "i"}})),
    ("unknown-type", _find({"n": {"$type": "nosuch"}})),
    ("not-with-plain-value", _find({"n": {"$not": 1}})),
    ("elemmatch-not-a-document", _find({"arr": {"$elemMatch": 1}})),
    ("filter-not-a-document", _find([("n", 1)])),
    ("sort-direction-2", _find({}, sort=[("n", 2)])),
    ("sort-direction-string", lambda db: db["r"].find_one_and_update({}, _SET_X, sort=_BAD_SORT)),
    ("sort-direction-zero-chained", lambda db: db["r"].find().sort("n", 0).to_list()),
    ("projection-mixed", _find({}, projection={"n": 1, "name": 0})),
    ("skip-negative", _find({}, skip=-1)),
    ("limit-negative", _find({}, limit=-1)),
]

DOCUMENT_CASES: list[tuple[str, Call, str]] = [
    ("dollar-key", _insert({"$a": 1}), "$a"),
    ("nested-dollar-key", _insert({"a": {"$b": 1}}), "a.$b"),
    ("dotted-key", _insert({"a.b": 1}), "a.b"),
    ("nul-key-in-list", _insert({"a": [{"b\0c": 1}]}), "a.0.b\0c"),
    ("non-string-key", _insert({1: "x"}), ""),
    ("nested-non-string-key", _insert({"a": {2: "x"}}), "a"),
    ("set-value", _insert({"s": {1, 2}}), "s"),
    ("decimal-value", _insert({"d": decimal.Decimal("1.5")}), "d"),
    ("int-beyond-64-bits", _insert({"n": 2**63}), "n"),
    ("int-below-64-bits", _insert({"n": -(2**63) - 1}), "n"),
    ("int-in-list", _insert({"l": [1, 2**64]}), "l.1"),
    ("insert-many-one-bad", lambda db: db["r"].insert_many([{"_id": "ok"}, {"x": {"$bad": 1}}]), "x.$bad"),
    ("replacement-dotted-key", lambda db: db["r"].replace_one({"_id": "a"}, {"a.b": 1}), "a.b"),
    ("nul-key", _insert({"a\0": 1}), "a\0"),
    ("upsert-replacement-bad-value", lambda db: db["r"].replace_one({"k": 1}, {"v": {1}}, upsert=True), "v"),
]

LOOSE_CASES: list[tuple[str, Call, tuple[type[DocstoreError], ...]]] = [
    ("insert-not-a-document", _insert([("a", 1)]), (InvalidDocument,)),
    ("set-decimal", _update({"$set": {"x": decimal.Decimal(1)}}), (InvalidDocument,)),
    ("push-a-set", _update({"$push": {"arr": {3}}}), (InvalidDocument,)),
    ("filter-with-set", lambda db: db["r"].delete_many({"n": {1, 2}}), (InvalidDocument,)),
    ("set-dollar-field", _update({"$set": {"$bad": 1}}), (InvalidDocument, UnsupportedQuery)),
    ("set-value-with-dollar-key", _update({"$set": {"x": {"$y": 1}}}), (InvalidDocument, UnsupportedQuery)),
    ("set-empty-field-name", _update({"$set": {"": 1}}), (InvalidDocument, UnsupportedQuery)),
    ("set-empty-path-segment", _update({"$set": {"a..b": 1}}), (InvalidDocument, UnsupportedQuery)),
    ("set-id", _update({"$set": {"_id": "z"}}), (InvalidOperation, UnsupportedQuery)),
    ("unset-id", _update({"$unset": {"_id": ""}}), (InvalidOperation, UnsupportedQuery)),
    (
        "replace-changes-id",
        lambda db: db["r"].replace_one({"_id": "a"}, {"_id": "z"}),
        (InvalidOperation, UnsupportedQuery),
    ),
]

APPLY_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("inc-string", {"$inc": {"name": 1}}, "$inc", "name"),
    ("mul-string", {"$mul": {"name": 2}}, "$mul", "name"),
    ("push-non-array", {"$push": {"n": 1}}, "$push", "n"),
    ("addtoset-non-array", {"$addToSet": {"sub": 1}}, "$addToSet", "sub"),
    ("pop-non-array", {"$pop": {"name": 1}}, "$pop", "name"),
    ("pull-non-array", {"$pull": {"n": 1}}, "$pull", "n"),
    ("set-through-scalar", {"$set": {"n.x": 1}}, "$set", "n.x"),
    ("inc-second-field-fails", {"$inc": {"n": 1, "name": 1}}, "$inc", "name"),
]


def _seed(db: Database) -> None:
    coll = db["r"]
    coll.create_index("name", unique=True)
    coll.insert_many(
        [
            {"_id": "a", "name": "x", "n": 1, "arr": [1, 2], "sub": {"k": 1}},
            {"_id": "b", "name": "y", "n": 2.5, "arr": [3], "sub": {"k": [1]}},
        ]
    )


def _rejected(db: Database, call: Call, errors: type[BaseException] | tuple[type[BaseException], ...]) -> Any:
    _seed(db)
    before = snapshot(db)
    with pytest.raises(errors) as info:
        call(db)
    assert snapshot(db) == before, "a rejected call changed the store"
    return info.value


class RejectionSuite:
    """Bad input raises the documented error and changes nothing. Needs a ``db`` fixture."""

    @pytest.mark.parametrize(("case", "call", "operator"), OPERATOR_CASES, ids=[c[0] for c in OPERATOR_CASES])
    def test_unsupported_operator(self, db: Database, case: str, call: Call, operator: str) -> None:
        error = _rejected(db, call, UnsupportedQuery)
        assert error.operator == operator
        assert operator in str(error)

    @pytest.mark.parametrize(("case", "call"), QUERY_CASES, ids=[c[0] for c in QUERY_CASES])
    def test_bad_query(self, db: Database, case: str, call: Call) -> None:
        _rejected(db, call, UnsupportedQuery)

    @pytest.mark.parametrize(("case", "call", "path"), DOCUMENT_CASES, ids=[c[0] for c in DOCUMENT_CASES])
    def test_invalid_document(self, db: Database, case: str, call: Call, path: str) -> None:
        error = _rejected(db, call, InvalidDocument)
        assert error.path == path

    @pytest.mark.parametrize(("case", "call", "errors"), LOOSE_CASES, ids=[c[0] for c in LOOSE_CASES])
    def test_rejected(self, db: Database, case: str, call: Call, errors: tuple[type[DocstoreError], ...]) -> None:
        _rejected(db, call, errors)

    @pytest.mark.parametrize(("case", "update", "operator", "path"), APPLY_CASES, ids=[c[0] for c in APPLY_CASES])
    def test_update_that_cannot_apply(
        self, db: Database, case: str, update: dict[str, Any], operator: str, path: str
    ) -> None:
        error = _rejected(db, lambda db: db["r"].update_one({"_id": "a"}, update), InvalidOperation)
        assert (error.operator, error.path) == (operator, path)

    def test_cas_that_cannot_apply(self, db: Database) -> None:
        error = _rejected(
            db, lambda db: db["r"].find_one_and_update({"_id": "a"}, {"$inc": {"name": 1}}), InvalidOperation
        )
        assert error.operator == "$inc"

    def test_update_many_that_fails_midway_changes_nothing(self, db: Database) -> None:
        db["m"].insert_many([{"_id": f"{i}", "v": i} for i in range(4)] + [{"_id": "9", "v": "text"}])
        db["m"].insert_many([{"_id": f"x{i}", "v": i} for i in range(4)])
        before = snapshot(db)
        with pytest.raises(InvalidOperation):
            db["m"].update_many({}, {"$inc": {"v": 1}})
        require(db, "atomic_multi_update")
        assert snapshot(db) == before

    def test_unique_clash_in_update_many_changes_nothing(self, db: Database) -> None:
        db["m"].create_index("k", unique=True)
        db["m"].insert_many([{"_id": "a", "k": 1, "g": 1}, {"_id": "b", "k": 2, "g": 1}])
        before = snapshot(db)
        with pytest.raises(DuplicateKeyError):
            db["m"].update_many({"g": 1}, {"$set": {"k": 7}})
        require(db, "atomic_multi_update")
        assert snapshot(db) == before
