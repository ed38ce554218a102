"""Value tests for the leaf query operators, specialised at compile time.

Each builder returns a pair ``(one, leaf)``: ``one(value)`` is MongoDB's test of a
single element (``matchesSingleElement``), and ``leaf(value)`` the test of a value
found at the end of a path, which also looks into an array element by element. The
common cases (a string, a number, a date) get closures that test the type once and
use Python's own comparison; the rest fall back on BSON's order.
"""

from __future__ import annotations

import datetime as _dt
import math
import operator
import re
from collections.abc import Callable
from typing import Any

from docstore.errors import UnsupportedQuery

from .values import MISSING, NULL, NUMBER, NUMBER_ALIAS, bracket, compare, type_numbers, values_equal

__all__ = [
    "ValueTest",
    "equals",
    "exists",
    "expand",
    "is_operator_object",
    "make_regex",
    "membership",
    "modulo",
    "ordering",
    "regex_test",
    "size",
    "type_test",
]

ValueTest = Callable[[Any], bool]
Tests = tuple[ValueTest, ValueTest]

_DATETIME = _dt.datetime
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}
_TYPE_NAMES = {
    "double": 1,
    "string": 2,
    "object": 3,
    "array": 4,
    "binData": 5,
    "undefined": 6,
    "objectId": 7,
    "bool": 8,
    "date": 9,
    "null": 10,
    "regex": 11,
    "dbPointer": 12,
    "javascript": 13,
    "symbol": 14,
    "javascriptWithScope": 15,
    "int": 16,
    "timestamp": 17,
    "long": 18,
    "decimal": 19,
    "minKey": -1,
    "maxKey": 127,
    "number": NUMBER_ALIAS,
}
_TYPE_NUMBERS = frozenset(_TYPE_NAMES.values()) - {NUMBER_ALIAS}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def is_operator_object(value: Any) -> bool:
    """True for ``{"$gt": 1, ...}``: a dict whose first key starts with ``$``."""
    return type(value) is dict and bool(value) and str(next(iter(value))).startswith("$")


def expand(one: ValueTest) -> ValueTest:
    """The leaf test of ``one``: the value itself, or any element of an array value."""

    def leaf(value: Any) -> bool:
        if one(value):
            return True
        if type(value) is list:
            return any(one(element) for element in value)
        return False

    return leaf


# ------------------------------------------------------------------ equality
def equals(target: Any) -> Tests:
    """``{"$eq": target}`` (and implicit equality)."""
    kind = type(target)
    if target is None:
        return _equals_null()
    if kind is str:
        return _equals_str(target)
    if kind is bool:

        def one_bool(value: Any) -> bool:
            return value is target

        def leaf_bool(value: Any) -> bool:
            return value is target or (type(value) is list and any(e is target for e in value))

        return one_bool, leaf_bool
    if (kind is int or kind is float) and target == target:
        return _equals_number(target)
    if kind is _DATETIME:

        def one_date(value: Any) -> bool:
            return type(value) is _DATETIME and bool(value == target)

        return one_date, expand(one_date)
    if isinstance(target, re.Pattern):  # {"$eq": /re/} matches stored regexes only, never strings

        def one_regex(value: Any) -> bool:
            return isinstance(value, re.Pattern) and value.pattern == target.pattern and value.flags == target.flags

        return one_regex, expand(one_regex)

    def one_any(value: Any) -> bool:
        return value is not MISSING and values_equal(value, target)

    return one_any, expand(one_any)


def _equals_null() -> Tests:
    def one(value: Any) -> bool:
        return value is None or value is MISSING

    def leaf(value: Any) -> bool:
        if value is None or value is MISSING:
            return True
        return type(value) is list and None in value

    return one, leaf


def _equals_str(target: str) -> Tests:
    def one(value: Any) -> bool:
        return type(value) is str and value == target

    def leaf(value: Any) -> bool:
        kind = type(value)
        if kind is str:
            return bool(value == target)
        if kind is list:
            return target in value  # list.__contains__ uses ==, and a str equals only a str
        return False

    return one, leaf


def _equals_number(target: float) -> Tests:
    def one(value: Any) -> bool:
        kind = type(value)
        return (kind is int or kind is float) and bool(value == target)

    def leaf(value: Any) -> bool:
        kind = type(value)
        if kind is int or kind is float:
            return bool(value == target)
        if kind is list:
            for element in value:
                kind = type(element)
                if (kind is int or kind is float) and element == target:
                    return True
        return False

    return one, leaf


# ------------------------------------------------------------------ $in
def membership(values: Any, op: str) -> Tests:
    """``{"$in": values}``: equality with any of them (regexes match strings)."""
    if not isinstance(values, list):
        raise UnsupportedQuery(f"{op} needs an array, got {type(values).__name__}", operator=op)
    strings: set[str] = set()
    numbers: set[float] = set()
    bools: set[bool] = set()
    dates: set[_dt.datetime] = set()
    patterns: list[re.Pattern[str]] = []
    others: list[Any] = []
    has_null = has_nan = False
    for value in values:
        kind = type(value)
        if is_operator_object(value):
            raise UnsupportedQuery(f"cannot nest $ under {op}", operator=op)
        if kind is str:
            strings.add(value)
        elif kind is bool:
            bools.add(value)
        elif kind is int or kind is float:
            if value != value:
                has_nan = True
            else:
                numbers.add(value)
        elif value is None:
            has_null = True
        elif kind is _DATETIME:
            dates.add(value)
        elif isinstance(value, re.Pattern):
            patterns.append(value)
        else:
            others.append(value)
    if len(strings) == len(values) and strings:
        return _in_strings(frozenset(strings))

    def one(value: Any) -> bool:
        kind = type(value)
        if kind is str:
            return value in strings or any(p.search(value) for p in patterns)
        if kind is int or kind is float:
            return value in numbers or (has_nan and value != value)
        if kind is bool:
            return value in bools
        if value is None or value is MISSING:
            return has_null
        if kind is _DATETIME:
            return value in dates
        return any(values_equal(value, other) for other in others)

    return one, expand(one)


def _in_strings(allowed: frozenset[str]) -> Tests:
    def one(value: Any) -> bool:
        return type(value) is str and value in allowed

    def leaf(value: Any) -> bool:
        kind = type(value)
        if kind is str:
            return value in allowed
        if kind is list:
            for element in value:
                if type(element) is str and element in allowed:
                    return True
        return False

    return one, leaf


# ------------------------------------------------------------------ $gt $gte $lt $lte
_NATIVE: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}


def ordering(op: str, target: Any) -> Tests:
    """``{"$gt": target}`` and friends: only values in the same type bracket ever match."""
    if isinstance(target, re.Pattern):
        raise UnsupportedQuery(f"a regex cannot be the argument of {op}", operator=op)
    native = _NATIVE[op]
    inclusive = op in ("$gte", "$lte")
    kind = type(target)
    tb = bracket(target)
    if tb == NULL:  # {"$gte": null} matches null and missing; {"$gt": null} nothing

        def one_null(value: Any) -> bool:
            return inclusive and (value is None or value is MISSING)

        return one_null, expand(one_null)
    if tb == NUMBER and target != target:

        def one_nan(value: Any) -> bool:
            return inclusive and type(value) is float and math.isnan(value)

        return one_nan, expand(one_nan)
    if tb == NUMBER:

        def one_number(value: Any) -> bool:
            kind = type(value)
            return (kind is int or kind is float) and native(value, target) and value == value

        return one_number, _expand_fast(one_number)
    if kind is str or kind is _DATETIME or kind is bool:

        def one_same(value: Any) -> bool:
            return type(value) is kind and native(value, target)

        return one_same, _expand_fast(one_same)

    def one_any(value: Any) -> bool:
        return bracket(value) == tb and native(compare(value, target), 0)

    return one_any, expand(one_any)


def _expand_fast(one: ValueTest) -> ValueTest:
    # Arrays can never be in the bracket of a scalar target: only their elements count.
    def leaf(value: Any) -> bool:
        if type(value) is list:
            for element in value:  # noqa: SIM110 - a plain loop is faster than any() over a generator
                if one(element):
                    return True
            return False
        return one(value)

    return leaf


# ------------------------------------------------------------------ the others
def exists() -> Tests:
    def one(value: Any) -> bool:
        return value is not MISSING

    return one, one


def make_regex(source: Any, options: Any, op: str = "$regex") -> re.Pattern[str]:
    if isinstance(source, re.Pattern):
        if options and source.flags & ~re.UNICODE:
            raise UnsupportedQuery("regex options set in both $regex and $options", operator="$options")
        if not options:
            return source
        source = source.pattern
    if not isinstance(source, str):
        raise UnsupportedQuery(f"{op} needs a string or a regex, got {type(source).__name__}", operator=op)
    if options is not None and not isinstance(options, str):
        raise UnsupportedQuery("$options needs a string", operator="$options")
    flags = 0
    for letter in options or "":
        if letter not in _FLAGS:
            raise UnsupportedQuery(f"unsupported regex option {letter!r}", operator="$options")
        flags |= _FLAGS[letter]
    try:
        return re.compile(source, flags)
    except re.error as exc:
        raise UnsupportedQuery(f"bad regular expression {source!r}: {exc}", operator=op) from exc


def regex_test(pattern: re.Pattern[str]) -> Tests:
    search = pattern.search

    def one(value: Any) -> bool:
        return type(value) is str and search(value) is not None

    return one, _expand_fast(one)


def type_test(spec: Any) -> Tests:
    items = spec if isinstance(spec, list) else [spec]
    if not items:
        raise UnsupportedQuery("$type needs at least one type", operator="$type")
    wanted: set[int] = set()
    for item in items:
        if isinstance(item, str) and item in _TYPE_NAMES:
            wanted.add(_TYPE_NAMES[item])
        elif (type(item) is int or type(item) is float) and item == int(item) and int(item) in _TYPE_NUMBERS:
            wanted.add(int(item))
        else:
            raise UnsupportedQuery(f"unknown $type {item!r}", operator="$type")

    def one(value: Any) -> bool:
        return any(number in wanted for number in type_numbers(value))

    return one, expand(one)


def _whole_number(value: Any, op: str) -> int:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise UnsupportedQuery(f"{op} needs finite numbers, got {value!r}", operator=op)
    return int(value)


def modulo(spec: Any) -> Tests:
    if not isinstance(spec, list) or len(spec) != 2:
        raise UnsupportedQuery("$mod needs an array [divisor, remainder]", operator="$mod")
    divisor, remainder = _whole_number(spec[0], "$mod"), _whole_number(spec[1], "$mod")
    if divisor == 0:
        raise UnsupportedQuery("$mod divisor cannot be 0", operator="$mod")

    def one(value: Any) -> bool:
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                return False
            value = min(max(int(value), _INT64_MIN), _INT64_MAX)  # truncated, like a cast to long
        elif kind is not int:
            return False
        rest: int = abs(value) % abs(divisor)  # C's %: the remainder takes the dividend's sign
        return (rest if value >= 0 else -rest) == remainder

    return one, _expand_fast(one)


def size(spec: Any) -> Tests:
    if type(spec) not in (int, float) or spec != spec or spec < 0 or spec != int(spec):
        raise UnsupportedQuery(f"$size needs a non-negative whole number, got {spec!r}", operator="$size")
    n = int(spec)

    def one(value: Any) -> bool:
        return type(value) is list and len(value) == n

    return one, one
