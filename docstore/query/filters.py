"""Compile MongoDB filters into fast predicates over documents."""

from __future__ import annotations

import datetime as _dt
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from docstore.errors import UnsupportedQuery

from .paths import resolve, split_path
from .values import ARRAY, MISSING, NULL, NUMBER, bracket, compare, type_numbers, values_equal

__all__ = ["Filter", "compile_filter"]

Predicate = Callable[[Any], bool]
"""A test of ONE value found at a path (MISSING when absent)."""
DocTest = Callable[[Mapping[str, Any]], bool]

_REJECTED = {"$where", "$function", "$expr", "$accumulator", "$text", "$jsonSchema", "$near", "$nearSphere",
             "$geoWithin", "$geoIntersects", "$comment", "$sampleRate", "$bitsAllSet", "$bitsAnySet",
             "$bitsAllClear", "$bitsAnyClear"}
_TYPE_NAMES = {
    "double": 1, "string": 2, "object": 3, "array": 4, "binData": 5, "bool": 8, "date": 9, "null": 10,
    "regex": 11, "int": 16, "long": 18, "number": -1,
}
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


def _reject(op: str, why: str = "") -> UnsupportedQuery:
    if op in _REJECTED:
        return UnsupportedQuery(f"{op} is not supported by docstore on any engine", operator=op)
    return UnsupportedQuery(why or f"unknown query operator {op}", operator=op)


# ------------------------------------------------------------------ value tests
def _equals(target: Any) -> Predicate:
    """Equality with BSON rules; arrays match whole or by element."""
    if target is None:
        def eq_null(v: Any) -> bool:
            if v is None or v is MISSING:
                return True
            return type(v) is list and any(e is None for e in v)
        return eq_null
    t = type(target)
    if t is str or (t is int and not isinstance(target, bool)) or t is bool:
        def eq_scalar(v: Any) -> bool:
            tv = type(v)
            if tv is t:
                return bool(v == target)
            if tv is list:
                return any((type(e) is t and e == target) or (t is int and type(e) is float and e == target)
                           for e in v)
            if t is int and tv is float:
                return bool(v == target)
            return False
        return eq_scalar

    def eq_any(v: Any) -> bool:
        if v is MISSING:
            return False
        if values_equal(v, target):
            return True
        return type(v) is list and any(values_equal(e, target) for e in v)
    return eq_any


_NATIVE: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le,
}


def _ordering(op: str, target: Any) -> Predicate:
    tb = bracket(target)
    test: Callable[[int], bool] = {
        "$gt": lambda c: c > 0, "$gte": lambda c: c >= 0, "$lt": lambda c: c < 0, "$lte": lambda c: c <= 0,
    }[op]

    def one(v: Any) -> bool:
        if bracket(v) != tb:
            return False
        if tb == NULL:
            return op in ("$gte", "$lte")
        return test(compare(v, target))

    native = _NATIVE[op]
    tt = type(target)
    if tt in (str, _dt.datetime) or (tt is int or (tt is float and target == target)):
        same = (int, float) if tb == NUMBER else (tt,)

        def fast(v: Any) -> bool:
            tv = type(v)
            if tv in same:
                return native(v, target) if v == v else False  # NaN never matches a range
            if tv is list:
                return any(one(e) for e in v)
            return False
        return fast

    def ordered(v: Any) -> bool:
        if v is MISSING:
            return tb == NULL and op in ("$gte", "$lte")
        if one(v):
            return True
        return type(v) is list and tb != ARRAY and any(one(e) for e in v)
    return ordered


def _regex(pattern: re.Pattern[str]) -> Predicate:
    def one(v: Any) -> bool:
        return type(v) is str and pattern.search(v) is not None

    def rx(v: Any) -> bool:
        if one(v):
            return True
        if type(v) is list:
            return any(one(e) or (isinstance(e, re.Pattern) and e.pattern == pattern.pattern) for e in v)
        return isinstance(v, re.Pattern) and v.pattern == pattern.pattern
    return rx


def _make_regex(source: Any, options: Any, op: str = "$regex") -> re.Pattern[str]:
    if isinstance(source, re.Pattern):
        if options:
            raise UnsupportedQuery("$options cannot be combined with a compiled pattern", operator="$options")
        return source
    if not isinstance(source, str):
        raise UnsupportedQuery(f"{op} needs a string pattern, got {type(source).__name__}", operator=op)
    flags = 0
    for letter in options or "":
        if letter not in _FLAGS:
            raise UnsupportedQuery(f"unsupported regex option {letter!r}", operator="$options")
        flags |= _FLAGS[letter]
    try:
        return re.compile(source, flags)
    except re.error as exc:
        raise UnsupportedQuery(f"bad regular expression {source!r}: {exc}", operator=op) from exc


def _in(values: Any, op: str) -> Predicate:
    if not isinstance(values, list):
        raise UnsupportedQuery(f"{op} needs an array", operator=op)
    tests = [_regex(v) if isinstance(v, re.Pattern) else _equals(v) for v in values]
    hashable = [v for v in values if type(v) is str]
    if len(hashable) == len(values) and values:
        allowed = frozenset(hashable)

        def in_strings(v: Any) -> bool:
            if type(v) is str:
                return v in allowed
            if type(v) is list:
                return any(type(e) is str and e in allowed for e in v)
            return False
        return in_strings
    return lambda v: any(t(v) for t in tests)


def _type(spec: Any) -> Predicate:
    wanted_raw = spec if isinstance(spec, list) else [spec]
    wanted: set[int] = set()
    for item in wanted_raw:
        if isinstance(item, str) and item in _TYPE_NAMES:
            wanted.add(_TYPE_NAMES[item])
        elif isinstance(item, (int, float)) and not isinstance(item, bool) and int(item) in _TYPE_NAMES.values():
            wanted.add(int(item))
        else:
            raise UnsupportedQuery(f"unknown $type {item!r}", operator="$type")

    def one(v: Any) -> bool:
        return any(n in wanted for n in type_numbers(v))

    def typed(v: Any) -> bool:
        if v is MISSING:
            return False
        if one(v):
            return True
        return type(v) is list and any(one(e) for e in v)
    return typed


def _mod(spec: Any) -> Predicate:
    if (not isinstance(spec, list) or len(spec) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in spec)):
        raise UnsupportedQuery("$mod needs [divisor, remainder]", operator="$mod")
    divisor, remainder = int(spec[0]), int(spec[1])
    if divisor == 0:
        raise UnsupportedQuery("$mod divisor cannot be 0", operator="$mod")

    def one(v: Any) -> bool:
        if bracket(v) != NUMBER or v != v or v in (float("inf"), float("-inf")):
            return False
        n = int(v)
        r = abs(n) % abs(divisor)  # MongoDB truncates: the remainder takes the dividend's sign
        return (r if n >= 0 else -r) == remainder

    return lambda v: one(v) or (type(v) is list and any(one(e) for e in v))


def _size(spec: Any) -> Predicate:
    if isinstance(spec, bool) or not isinstance(spec, (int, float)) or spec != int(spec) or spec < 0:
        raise UnsupportedQuery(f"$size needs a non-negative integer, got {spec!r}", operator="$size")
    n = int(spec)
    return lambda v: isinstance(v, list) and len(v) == n


def _elem_match(spec: Any) -> Predicate:
    if not isinstance(spec, Mapping):
        raise UnsupportedQuery("$elemMatch needs an object", operator="$elemMatch")
    if spec and all(k.startswith("$") and k not in ("$and", "$or", "$nor") for k in spec):
        value_test = _operators(dict(spec))
        return lambda v: isinstance(v, list) and any(value_test(e) for e in v)
    doc_test = _compile_doc(spec)
    return lambda v: isinstance(v, list) and any(type(e) is dict and doc_test(e) for e in v)


def _all(spec: Any) -> Predicate:
    if not isinstance(spec, list):
        raise UnsupportedQuery("$all needs an array", operator="$all")
    if not spec:
        return lambda v: False
    tests: list[Predicate] = []
    for item in spec:
        if isinstance(item, Mapping) and len(item) == 1 and "$elemMatch" in item:
            tests.append(_elem_match(item["$elemMatch"]))
        else:
            tests.append(_regex(item) if isinstance(item, re.Pattern) else _equals(item))
    return lambda v: all(t(v) for t in tests)


def _not(spec: Any) -> Predicate:
    if isinstance(spec, re.Pattern):
        inner = _regex(spec)
    elif isinstance(spec, Mapping) and spec and all(k.startswith("$") for k in spec):
        inner = _operators(dict(spec))
    else:
        raise UnsupportedQuery("$not needs a regex or an operator expression", operator="$not")
    return lambda v: not inner(v)


def _exists(spec: Any) -> Predicate:
    want = bool(spec)
    return lambda v: (v is not MISSING) == want


def _negate(test: Predicate) -> Predicate:
    return lambda v: not test(v)


def _operators(spec: dict[str, Any]) -> Predicate:
    """An operator expression such as ``{"$gt": 1, "$lt": 5}`` as one value test."""
    tests: list[Predicate] = []
    options = spec.get("$options")
    if "$options" in spec and "$regex" not in spec:
        raise UnsupportedQuery("$options needs a $regex", operator="$options")
    for op, arg in spec.items():
        if op == "$eq":
            tests.append(_equals(arg) if not isinstance(arg, re.Pattern) else _equals_regex_value(arg))
        elif op == "$ne":
            tests.append(_negate(_equals(arg)))
        elif op in ("$gt", "$gte", "$lt", "$lte"):
            tests.append(_ordering(op, arg))
        elif op == "$in":
            tests.append(_in(arg, op))
        elif op == "$nin":
            tests.append(_negate(_in(arg, op)))
        elif op == "$exists":
            tests.append(_exists(arg))
        elif op == "$regex":
            tests.append(_regex(_make_regex(arg, options)))
        elif op == "$options":
            continue
        elif op == "$type":
            tests.append(_type(arg))
        elif op == "$mod":
            tests.append(_mod(arg))
        elif op == "$size":
            tests.append(_size(arg))
        elif op == "$all":
            tests.append(_all(arg))
        elif op == "$elemMatch":
            tests.append(_elem_match(arg))
        elif op == "$not":
            tests.append(_not(arg))
        else:
            raise _reject(op)
    if len(tests) == 1:
        return tests[0]
    return lambda v: all(t(v) for t in tests)


def _equals_regex_value(pattern: re.Pattern[str]) -> Predicate:
    # {"$eq": /re/} compares against stored regex values, never matches strings
    return lambda v: isinstance(v, re.Pattern) and v.pattern == pattern.pattern and v.flags == pattern.flags


def _field(path: str, condition: Any) -> DocTest:
    parts = split_path(path)
    if isinstance(condition, Mapping) and condition and next(iter(condition)).startswith("$"):
        if not all(k.startswith("$") for k in condition):
            raise UnsupportedQuery(f"cannot mix operators and fields in the condition on {path!r}",
                                   operator=next(k for k in condition if not k.startswith("$")))
        test = _operators(dict(condition))
        negative = any(k in ("$ne", "$nin", "$not") for k in condition) or (
            condition.get("$exists", True) is False if "$exists" in condition else False)
    elif isinstance(condition, re.Pattern):
        test, negative = _regex(condition), False
    else:
        test, negative = _equals(condition), False
    return _bind(parts, test, negative)


def _bind(parts: tuple[str, ...], test: Predicate, negative: bool) -> DocTest:
    """Apply a value test to the values a path resolves to.

    A positive test matches if ANY value found matches; a negated one ($ne, $nin,
    $not, $exists: false) must hold for ALL of them (it is the negation of a positive).
    """
    combine = all if negative else any
    if len(parts) == 1:
        key = parts[0]

        def top(doc: Mapping[str, Any]) -> bool:
            return test(doc.get(key, MISSING))
        return top

    def nested(doc: Mapping[str, Any]) -> bool:
        return combine(test(v) for v in resolve(doc, parts))
    return nested


def _logical(op: str, spec: Any) -> DocTest:
    if not isinstance(spec, list) or not spec:
        raise UnsupportedQuery(f"{op} needs a non-empty array of filters", operator=op)
    subs: list[DocTest] = []
    for item in spec:
        if not isinstance(item, Mapping):
            raise UnsupportedQuery(f"each item of {op} must be a filter object", operator=op)
        subs.append(_compile_doc(item))
    if op == "$and":
        return lambda doc: all(t(doc) for t in subs)
    if op == "$or":
        return lambda doc: any(t(doc) for t in subs)
    return lambda doc: not any(t(doc) for t in subs)


def _compile_doc(spec: Mapping[str, Any]) -> DocTest:
    tests: list[DocTest] = []
    for key, condition in spec.items():
        if not isinstance(key, str):
            raise UnsupportedQuery(f"filter keys must be strings, got {key!r}", operator=str(key))
        if key.startswith("$"):
            if key in ("$and", "$or", "$nor"):
                tests.append(_logical(key, condition))
            else:
                raise _reject(key, f"unknown top-level query operator {key}")
        else:
            tests.append(_field(key, condition))
    if not tests:
        return lambda doc: True
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda doc: a(doc) and b(doc)
    return lambda doc: all(t(doc) for t in tests)


class Filter:
    """A validated, compiled filter. ``matches(doc)`` runs in a few microseconds."""

    __slots__ = ("_test", "spec")

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self._test = _compile_doc(spec)

    def matches(self, doc: Mapping[str, Any]) -> bool:
        return self._test(doc)

    def equalities(self) -> dict[str, list[Any]]:
        """Index hints: path -> scalar values one of which a matching document must hold there."""
        hints: dict[str, list[Any]] = {}
        _collect_equalities(self.spec, hints)
        return hints

    def __repr__(self) -> str:
        return f"Filter({self.spec!r})"


def _hint_scalar(value: Any) -> bool:
    return type(value) in (str, int, float, bool) and value == value  # no NaN


def _collect_equalities(spec: Mapping[str, Any], hints: dict[str, list[Any]]) -> None:
    for key, cond in spec.items():
        if key == "$and":
            for item in cond:
                _collect_equalities(item, hints)
            continue
        if key.startswith("$"):
            continue
        values: list[Any] | None = None
        if _hint_scalar(cond):
            values = [cond]
        elif isinstance(cond, Mapping) and cond:
            if "$eq" in cond and _hint_scalar(cond["$eq"]):
                values = [cond["$eq"]]
            elif "$in" in cond and isinstance(cond["$in"], list) and cond["$in"] and all(
                    _hint_scalar(v) for v in cond["$in"]):
                values = list(cond["$in"])
        if values is not None and key not in hints:
            hints[key] = values


def compile_filter(spec: Mapping[str, Any] | None) -> Filter:
    """Validate and compile ``spec``; raises UnsupportedQuery naming the operator."""
    if spec is None:
        return Filter({})
    if not isinstance(spec, Mapping):
        raise UnsupportedQuery(f"a filter must be a dict, not {type(spec).__name__}", operator="filter")
    return Filter(dict(spec))
