"""Stored values as the JSON engine handles them: index keys, copies, strict equality, paths.

Stored documents are canonical (``docstore.documents.canonical``): dicts with string keys,
lists, str, int, float, bool, None, bytes and aware UTC datetimes. They are immutable by
convention inside the engine: every change builds a new document, and callers only ever
get copies (:func:`copy_document`).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Hashable, Iterable
from typing import Any

__all__ = [
    "MISSING",
    "PLAIN_KEYS",
    "copy_document",
    "copy_value",
    "expand_keys",
    "index_key",
    "path_values",
    "same_value",
]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""A field that is absent (distinct from a stored ``None``)."""


class _NaN:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NaN"


_NAN_KEY = _NaN()
# Tags for the keys of values whose Python equality differs from BSON's. No stored value is
# ever a tuple (canonical values turn tuples into lists), so a tagged tuple cannot collide
# with the key of a plain value.
_BOOL, _DOCUMENT, _ARRAY, _EMPTY_ARRAY = 1, 2, 3, 4
_PLAIN = (str, int, type(None), bytes, _dt.datetime)
PLAIN_KEYS = frozenset(_PLAIN)
"""Types whose values are their own index key (exact types: ``bool`` is not among them)."""


def index_key(value: Any) -> Hashable:
    """A hashable key that is equal for two values exactly when BSON says they are equal.

    Python's ``==`` already agrees with BSON for strings, numbers across int/float
    (``1 == 1.0``), None, bytes and UTC datetimes, so those are their own key. It disagrees
    for booleans (``True == 1`` in Python, not in BSON) and NaN (BSON matches NaN to NaN),
    and dicts and lists are not hashable: those get a tagged tuple. Raises TypeError for
    a value that cannot be stored (a compiled regex in a filter, for instance).
    """
    kind = type(value)
    if kind is str or kind is int or value is None:
        return value  # type: ignore[no-any-return]
    if kind is float:
        return _NAN_KEY if math.isnan(value) else value
    if kind is bool:
        return (_BOOL, value)
    if kind is dict:
        return (_DOCUMENT, tuple((name, index_key(item)) for name, item in value.items()))
    if kind is list:
        return (_ARRAY, tuple(index_key(item) for item in value))
    if isinstance(value, _PLAIN):
        return value
    raise TypeError(f"cannot index a value of type {kind.__name__}")


def path_values(document: dict[str, Any], parts: tuple[str, ...]) -> list[Any]:
    """The values found at a dotted path, MongoDB-style: arrays met on the way are traversed.

    ``a.b`` on ``{"a": [{"b": 1}, {"b": 2}]}`` gives ``[1, 2]``; a numeric part also
    indexes an array (``a.0.b``). A missing path gives ``[]``.
    """
    current: list[Any] = [document]
    for part in parts:
        found: list[Any] = []
        for value in current:
            if type(value) is dict:
                if part in value:
                    found.append(value[part])
            elif type(value) is list:
                if part.isdigit() and int(part) < len(value):
                    found.append(value[int(part)])
                found.extend(item[part] for item in value if type(item) is dict and part in item)
        current = found
    return current


def expand_keys(values: Iterable[Any], *, whole_arrays: bool) -> list[Hashable]:
    """The index keys of values found at a path: an array contributes each of its elements.

    With ``whole_arrays`` (hash indexes) an array also contributes its own key, so an
    equality on the whole array finds it; unique indexes key on elements only, and key an
    empty array as one value of its own, as MongoDB does.
    """
    keys: list[Hashable] = []
    for value in values:
        if type(value) is list:
            if whole_arrays:
                keys.append(index_key(value))
            elif not value:
                keys.append((_EMPTY_ARRAY,))
            keys.extend(index_key(item) for item in value)
        else:
            keys.append(index_key(value))
    return keys


def copy_value(value: Any) -> Any:
    """A copy of ``value`` deep enough for the caller to mutate (scalars are immutable)."""
    kind = type(value)
    if kind is dict:
        return copy_document(value)
    if kind is list:
        return _copy_list(value)
    return value


def copy_document(document: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a stored document (about 10x faster than ``copy.deepcopy``)."""
    out: dict[str, Any] = {}
    for name, item in document.items():
        kind = type(item)
        if kind is dict:
            out[name] = copy_document(item)
        elif kind is list:
            out[name] = _copy_list(item)
        else:
            out[name] = item
    return out


def _copy_list(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in values:
        kind = type(item)
        if kind is dict:
            out.append(copy_document(item))
        elif kind is list:
            out.append(_copy_list(item))
        else:
            out.append(item)
    return out


def same_value(left: Any, right: Any) -> bool:
    """Whether two values would be stored as the same BSON bytes (an update that changes nothing).

    Stricter than ``==``: types must match (``1`` vs ``1.0``, ``True`` vs ``1``), key order
    counts, the sign of zero counts, and NaN is the same as NaN.
    """
    if left is right:
        return True
    kind = type(left)
    if kind is not type(right):
        return False
    if kind is dict:
        return (
            len(left) == len(right)
            and list(left) == list(right)
            and all(same_value(item, right[name]) for name, item in left.items())
        )
    if kind is list:
        return len(left) == len(right) and all(same_value(a, b) for a, b in zip(left, right, strict=True))
    if kind is float:
        if math.isnan(left):
            return math.isnan(right)
        return bool(left == right and math.copysign(1.0, left) == math.copysign(1.0, right))
    return bool(left == right)
