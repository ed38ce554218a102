"""Compile MongoDB update documents; apply them to copies of stored documents.

Like MongoDB (5.0 and later), the fields of an update are applied in path order, not in
the order the update lists them: string names lexicographically, numeric names
numerically. New fields therefore appear in that order, and ``{"$set": {"b": 1, "a":
2}}`` on ``{}`` gives ``{"a": 2, "b": 1}``.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Mapping
from typing import Any

from docstore.errors import InvalidOperation, UnsupportedQuery

from .copying import deep_copy
from .filters import Filter
from .modifiers import Step, build_step
from .operators import is_operator_object
from .paths import split_path
from .validation import validate_document, validate_value
from .values import values_equal

__all__ = ["Update", "compile_update"]

_OPERATORS = frozenset(
    {
        "$set",
        "$unset",
        "$inc",
        "$mul",
        "$min",
        "$max",
        "$push",
        "$addToSet",
        "$pull",
        "$pullAll",
        "$pop",
        "$rename",
        "$currentDate",
        "$setOnInsert",
    }
)
_REJECTED = frozenset({"$bit", "$where", "$function", "$expr", "$accumulator"})
_VALUE_OPERATORS = frozenset({"$set", "$setOnInsert", "$min", "$max"})


def _compare_parts(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    for x, y in zip(a, b):  # noqa: B905 - a prefix sorts first
        if x == y:
            continue
        if x.isdigit() and y.isdigit() and int(x) != int(y):
            return -1 if int(x) < int(y) else 1
        return -1 if x < y else 1
    return (len(a) > len(b)) - (len(a) < len(b))


_path_order = functools.cmp_to_key(_compare_parts)


def _update_path(op: str, path: Any) -> tuple[str, ...]:
    parts = split_path(path, operator=op)
    for part in parts:
        if part.startswith("$"):
            if part == "$" or part.startswith("$["):
                raise UnsupportedQuery(
                    f"{op} on {path!r}: positional operators ('{part}') are not supported", operator=part
                )
            raise UnsupportedQuery(f"{op} on {path!r}: field names cannot start with '$'", operator=part)
        if "\0" in part:
            raise UnsupportedQuery(f"{op} on {path!r}: field names cannot contain NUL", operator=op)
    return parts


def _check_value(op: str, path: str, arg: Any) -> None:
    """Values an update would store must be storable (InvalidDocument otherwise)."""
    if op in _VALUE_OPERATORS:
        validate_value(arg, path)
    elif op in ("$push", "$addToSet"):
        validate_value(arg["$each"] if type(arg) is dict and "$each" in arg else arg, path)


def _conflicts(paths: list[tuple[str, ...]]) -> None:
    ordered = sorted(paths)
    for a, b in itertools.pairwise(ordered):
        if b[: len(a)] == a:
            raise UnsupportedQuery(
                f"updating the path {'.'.join(b)!r} would create a conflict at {'.'.join(a)!r}", operator=".".join(b)
            )


class Update:
    """A validated update: operators, or a replacement document."""

    __slots__ = ("_roots", "_steps", "is_replacement", "spec")

    def __init__(self, spec: dict[str, Any]) -> None:
        if not spec:
            raise UnsupportedQuery("update must not be empty", operator="update")
        self.spec = spec
        self._steps: list[tuple[str, bool, Step]] = []  # (operator, $setOnInsert only, step) in path order
        self._roots: tuple[str, ...] = ()  # the top-level fields the steps may change
        operators = [key for key in spec if isinstance(key, str) and key.startswith("$")]
        self.is_replacement = not operators
        if self.is_replacement:
            validate_document(spec)
            return
        if len(operators) != len(spec):
            raise UnsupportedQuery(
                "an update cannot mix operators and plain fields",
                operator=str(next(key for key in spec if key not in operators)),
            )
        entries: list[tuple[tuple[str, ...], str, Step]] = []
        touched: list[tuple[str, ...]] = []
        for op, fields in spec.items():
            if op not in _OPERATORS:
                verb = "is not supported by docstore" if op in _REJECTED else "is an unknown update operator"
                raise UnsupportedQuery(f"{op} {verb}", operator=op)
            if not isinstance(fields, Mapping):
                raise UnsupportedQuery(
                    f"{op} needs a document of field paths, got {type(fields).__name__}", operator=op
                )
            for path, arg in fields.items():
                parts = _update_path(op, path)
                step, paths = build_step(op, parts, arg)
                _check_value(op, path, arg)
                entries.append((paths[-1], op, step))  # $rename sits at its target, as in MongoDB
                touched.extend(paths)
        _conflicts(touched)
        entries.sort(key=lambda entry: _path_order(entry[0]))
        self._steps = [(op, op == "$setOnInsert", step) for _, op, step in entries]
        self._roots = tuple(dict.fromkeys(parts[0] for parts in touched))

    def apply(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """The updated copy of ``doc`` (``doc`` itself is never changed); ``$setOnInsert`` is ignored."""
        if self.is_replacement:
            if "_id" in self.spec and "_id" in doc and not values_equal(self.spec["_id"], doc["_id"]):
                raise InvalidOperation(
                    "the replacement would modify the immutable field '_id'", operator="replacement", path="_id"
                )
            replaced: dict[str, Any] = {"_id": doc["_id"]} if "_id" in doc else {}
            replaced.update((key, deep_copy(value)) for key, value in self.spec.items() if key != "_id")
            return replaced
        # copy on write: the fields no step touches are shared with ``doc`` (stored documents
        # are never changed in place), the ones a step may change are copied first
        new: dict[str, Any] = dict(doc)
        for root in self._roots:
            value = new.get(root)
            if type(value) is dict or type(value) is list:
                new[root] = deep_copy(value)
        for _, insert_only, step in self._steps:
            if not insert_only:
                step(new)
        self._check_id(doc, new)
        return new

    def apply_upsert(self, filt: Filter) -> dict[str, Any]:
        """The document an upsert inserts: the filter's equalities, then the update (with ``$setOnInsert``)."""
        seed: dict[str, Any] = {}
        for parts, value in _seed_equalities(filt.spec):
            build_step("$set", parts, value)[0](seed)
        if self.is_replacement:
            if "_id" in self.spec and "_id" in seed and not values_equal(self.spec["_id"], seed["_id"]):
                raise InvalidOperation(
                    "the replacement's _id differs from the filter's", operator="replacement", path="_id"
                )
            new: dict[str, Any] = {"_id": seed["_id"]} if "_id" in seed else {}
            new.update((key, deep_copy(value)) for key, value in self.spec.items())
            return new
        before = dict(seed)
        for _, _, step in self._steps:
            step(seed)
        self._check_id(before, seed)
        if "_id" in seed:
            seed = {"_id": seed.pop("_id"), **seed}
        return seed

    def _check_id(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        if "_id" in old and ("_id" not in new or not values_equal(new["_id"], old["_id"])):
            op = next((op for op, _, _ in self._steps if "_id" in self.spec.get(op, {})), "$set")
            raise InvalidOperation(
                f"{op}: performing an update on the path '_id' would modify the immutable field '_id'",
                operator=op,
                path="_id",
            )

    def __repr__(self) -> str:
        return f"Update({self.spec!r})"


def _seed_equalities(spec: Mapping[str, Any]) -> list[tuple[tuple[str, ...], Any]]:
    """The ``(path, value)`` equalities of a filter an upsert starts from, in MongoDB's (path) order."""
    found: dict[str, Any] = {}
    _collect_seed(spec, found)
    paths = sorted(found)
    for a, b in itertools.pairwise(paths):
        if b.startswith(a + "."):
            raise InvalidOperation(
                f"cannot infer the upserted document: the filter sets both {a!r} and {b!r}", operator="upsert", path=b
            )
    return [(tuple(path.split(".")), found[path]) for path in paths]


def _collect_seed(spec: Mapping[str, Any], found: dict[str, Any]) -> None:
    for key, cond in spec.items():
        if key == "$and" or (key == "$or" and len(cond) == 1):  # a one-clause $or is its clause
            for item in cond:
                _collect_seed(item, found)
            continue
        if key.startswith("$"):
            continue
        value = cond
        if is_operator_object(cond):
            if "$eq" not in cond:
                continue
            value = cond["$eq"]
        if isinstance(value, re.Pattern):
            continue
        if key in found and not values_equal(found[key], value):
            raise InvalidOperation(
                f"cannot infer the upserted document: the filter sets {key!r} twice", operator="upsert", path=key
            )
        found[key] = value


def compile_update(spec: Mapping[str, Any]) -> Update:
    """Validate and compile an update (operators, or a replacement document)."""
    if not isinstance(spec, Mapping):
        raise UnsupportedQuery(f"an update must be a dict, not {type(spec).__name__}", operator="update")
    return Update(dict(spec))
