"""BSON's total order and equality over canonical Python values.

Canonical values are ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``,
``datetime.datetime`` (UTC), ``dict`` and ``list``; filters may also hold ``re.Pattern``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import re
from typing import Any

__all__ = [
    "BOOL",
    "DATE",
    "MISSING",
    "NULL",
    "NUMBER",
    "STRING",
    "NUMBER_ALIAS",
    "UNDEFINED",
    "bracket",
    "compare",
    "sort_key",
    "type_numbers",
    "values_equal",
]


class _Missing:
    """The value of a path that does not exist in a document (BSON's EOO)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class _Undefined:
    """What an empty array sorts as: below null, like BSON's ``undefined``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Any = _Undefined()

# Canonical type brackets, numbered in BSON's cross-type order.
UNDEF, NULL, NUMBER, STRING, OBJECT, ARRAY, BINARY, BOOL, DATE, REGEX, OTHER = 0, 1, 2, 3, 4, 5, 6, 8, 9, 11, 99

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
    _Missing: NULL,
    _Undefined: UNDEF,
}


def bracket(value: Any) -> int:
    """The canonical type bracket of ``value`` (a missing value counts as null)."""
    found = _BRACKETS.get(type(value))
    if found is not None:
        return found
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, float)):
        return NUMBER
    if isinstance(value, dict):
        return OBJECT
    if isinstance(value, list):
        return ARRAY
    if isinstance(value, _dt.datetime):
        return DATE
    return OTHER


def _cmp(a: Any, b: Any) -> int:
    return int(a > b) - int(a < b)


def _compare_numbers(a: float, b: float) -> int:
    # NaN sorts below every other number and equals itself. Python compares int with
    # float exactly, as MongoDB does for long/double.
    if a != a or b != b:
        a_nan, b_nan = a != a, b != b
        return 0 if a_nan and b_nan else (-1 if a_nan else 1)
    return _cmp(a, b)


def compare(a: Any, b: Any) -> int:
    """BSON's total order: -1, 0 or 1."""
    ba, bb = bracket(a), bracket(b)
    if ba != bb:
        return -1 if ba < bb else 1
    if ba == NUMBER:
        return _compare_numbers(a, b)
    if ba in (STRING, DATE, BOOL):
        return _cmp(a, b)  # str: code point order == UTF-8 byte order
    if ba in (NULL, UNDEF):
        return 0
    if ba == OBJECT:
        return _compare_objects(a, b)
    if ba == ARRAY:
        for x, y in zip(a, b):  # noqa: B905 - lengths differ on purpose
            c = compare(x, y)
            if c:
                return c
        return _cmp(len(a), len(b))
    if ba == BINARY:
        return _cmp(len(a), len(b)) or _cmp(a, b)  # BSON: length first, then bytes
    if ba == REGEX:
        return _cmp(a.pattern, b.pattern) or _cmp(a.flags, b.flags)
    return _cmp(repr(a), repr(b))


def _compare_objects(a: dict[str, Any], b: dict[str, Any]) -> int:
    # Field by field: the value's type bracket, then the field name, then the value.
    for (ka, va), (kb, vb) in zip(a.items(), b.items()):  # noqa: B905
        c = _cmp(bracket(va), bracket(vb)) or _cmp(ka, kb) or compare(va, vb)
        if c:
            return c
    return _cmp(len(a), len(b))


_EXACT = frozenset((str, bool, type(None), bytes, _dt.datetime))


def values_equal(a: Any, b: Any) -> bool:
    """BSON equality: ``1 == 1.0``, ``True != 1``, documents equal only in the same key order, NaN == NaN."""
    ta = type(a)
    if ta is type(b) and ta in _EXACT:
        return bool(a == b)
    return compare(a, b) == 0


sort_key = functools.cmp_to_key(compare)
"""A ``key=`` function ordering values in BSON order."""

_INT32 = 2**31
NUMBER_ALIAS = 1000  # $type "number": any numeric type (no BSON type has this number)
_TYPE_NUMBERS: dict[int, tuple[int, ...]] = {
    NULL: (10,),
    STRING: (2,),
    OBJECT: (3,),
    ARRAY: (4,),
    BINARY: (5,),
    BOOL: (8,),
    DATE: (9,),
    REGEX: (11,),
}


def type_numbers(value: Any) -> tuple[int, ...]:
    """The BSON type numbers ``value`` has (and NUMBER_ALIAS for numbers).

    Integers are int32 (16) when they fit, else int64 (18), as drivers encode them.
    A missing value has no type at all.
    """
    if value is MISSING:
        return ()
    b = bracket(value)
    if b == NUMBER:
        if isinstance(value, float):
            return (1, NUMBER_ALIAS)
        return (16, NUMBER_ALIAS) if -_INT32 <= value < _INT32 else (18, NUMBER_ALIAS)
    return _TYPE_NUMBERS.get(b, ())


def is_nan(value: Any) -> bool:
    return type(value) is float and math.isnan(value)
