"""BSON's total order and equality over canonical Python values."""

from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any

__all__ = ["MISSING", "UNDEFINED", "bracket", "compare", "type_numbers", "values_equal"]


class _Missing:
    """The value of a path that does not exist in a document."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class _Undefined:
    """What an empty array sorts as: below null (MongoDB's BSON "undefined")."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Any = _Undefined()

# Canonical type brackets in BSON's cross-type sort order.
NULL, NUMBER, STRING, OBJECT, ARRAY, BINARY, BOOL, DATE, REGEX, OTHER = 1, 2, 3, 4, 5, 6, 8, 9, 11, 99

_BRACKETS: dict[type, int] = {
    type(None): NULL,
    int: NUMBER,
    float: NUMBER,
    str: STRING,
    dict: OBJECT,
    list: ARRAY,
    bytes: BINARY,
    bool: BOOL,
    _dt.datetime: DATE,
    re.Pattern: REGEX,
}


def bracket(value: Any) -> int:
    """The canonical type bracket of ``value`` (missing counts as null)."""
    found = _BRACKETS.get(type(value))
    if found is not None:
        return found
    if value is MISSING:
        return NULL
    if value is UNDEFINED:
        return 0
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, float)):
        return NUMBER
    if isinstance(value, dict):
        return OBJECT
    if isinstance(value, list):
        return ARRAY  # includes paths.Whole
    if isinstance(value, _dt.datetime):
        return DATE
    return OTHER


def _cmp(a: Any, b: Any) -> int:
    return int(a > b) - int(a < b)


def _compare_numbers(a: float, b: float) -> int:
    # MongoDB orders NaN below every other number and equal to itself.
    a_nan = isinstance(a, float) and math.isnan(a)
    b_nan = isinstance(b, float) and math.isnan(b)
    if a_nan or b_nan:
        return 0 if a_nan and b_nan else (-1 if a_nan else 1)
    return _cmp(a, b)


def compare(a: Any, b: Any) -> int:
    """BSON total order: -1, 0 or 1."""
    ba, bb = bracket(a), bracket(b)
    if ba != bb:
        return -1 if ba < bb else 1
    if ba == NUMBER:
        return _compare_numbers(a, b)
    if ba in (STRING, DATE, BOOL):
        return _cmp(a, b)
    if ba in (NULL, 0):
        return 0
    if ba == OBJECT:
        return _compare_objects(a, b)
    if ba == ARRAY:
        for x, y in zip(a, b, strict=False):
            c = compare(x, y)
            if c:
                return c
        return _cmp(len(a), len(b))
    if ba == BINARY:
        return _cmp(len(a), len(b)) or _cmp(a, b)
    if ba == REGEX:
        return _cmp((a.pattern, a.flags), (b.pattern, b.flags))
    return _cmp(repr(a), repr(b))


def _compare_objects(a: dict[str, Any], b: dict[str, Any]) -> int:
    # Element by element: the value's type bracket, then the field name, then the value.
    for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=False):
        c = _cmp(bracket(va), bracket(vb)) or _cmp(ka, kb) or compare(va, vb)
        if c:
            return c
    return _cmp(len(a), len(b))


def values_equal(a: Any, b: Any) -> bool:
    """BSON equality: ``1 == 1.0``, ``True != 1``, documents equal only in the same key order."""
    ta, tb = type(a), type(b)
    if ta is tb and ta in (str, int, bool, type(None), bytes):
        return bool(a == b)
    return compare(a, b) == 0


_INT32 = 2**31


def type_numbers(value: Any) -> tuple[int, ...]:
    """The BSON type numbers (and -1 for the "number" alias) that ``value`` has."""
    b = bracket(value)
    if b == NUMBER:
        if isinstance(value, float):
            return (1, -1)
        return (16, -1) if -_INT32 <= value < _INT32 else (18, -1)
    return {
        NULL: (10,),
        STRING: (2,),
        OBJECT: (3,),
        ARRAY: (4,),
        BINARY: (5,),
        BOOL: (8,),
        DATE: (9,),
        REGEX: (11,),
    }.get(b, ())
