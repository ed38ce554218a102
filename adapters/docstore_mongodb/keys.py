"""Hashable keys that are equal exactly when MongoDB says two values are equal.

MongoDB's ``_id`` and unique indexes compare values the BSON way: ``1 == 1.0`` but
``True != 1``; embedded documents compare field by field *in order*; ``NaN`` equals
``NaN``; a missing field is indexed as ``null``; an array is indexed by each of its
elements (a "multikey" index), and an empty array as ``undefined``. Python's own ``==``
and ``hash`` get several of these wrong (``True == 1``, ``{"a": 1, "b": 2} == {"b": 2,
"a": 1}``, ``nan != nan``), so the mongomock engine keys its documents and checks its
unique indexes with :func:`value_key` and :func:`index_keys` instead.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import math
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from docstore.errors import InvalidDocument

__all__ = ["id_keys", "identical", "index_keys", "store_key", "value_key"]

# Type tags. Strings are their own key (the common case stays cheap); every other
# value becomes a tuple starting with a tag, so no two BSON types share a key.
_NULL = ("null",)
_UNDEFINED = ("undefined",)
_NAN = ("nan",)
_NUMBER, _BOOL, _DOC, _ARRAY, _BINARY, _DATE, _OTHER = range(7)


def value_key(value: Any) -> Hashable:
    """A hashable key: ``value_key(a) == value_key(b)`` iff MongoDB finds ``a`` equal to ``b``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):  # before int: bool is a subclass of int in Python only
        return (_BOOL, value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            return _NAN
        return (_NUMBER, value)  # 1 and 1.0 (and 0.0 and -0.0) hash and compare alike
    if value is None:
        return _NULL
    if isinstance(value, dict):
        return (_DOC, tuple((name, value_key(item)) for name, item in value.items()))
    if isinstance(value, list):
        return (_ARRAY, tuple(value_key(item) for item in value))
    if isinstance(value, bytes):
        return (_BINARY, value)
    if isinstance(value, _dt.datetime):
        return (_DATE, value)
    return (_OTHER, type(value).__name__, repr(value))


_Entry = tuple[Hashable, Any]  # (key, the value it was made from)


def _path_entries(value: Any, parts: Sequence[str]) -> list[_Entry]:
    """The index keys one field path produces in ``value`` (MongoDB's multikey rules)."""
    if not parts:
        if isinstance(value, list):
            return [(value_key(item), item) for item in value] if value else [(_UNDEFINED, [])]
        return [(value_key(value), value)]
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict):
        return _path_entries(value[head], rest) if head in value else [(_NULL, None)]
    if isinstance(value, list):
        if head.isdigit():  # "a.0": the array's element at that position
            index = int(head)
            return _path_entries(value[index], rest) if index < len(value) else [(_NULL, None)]
        found: list[_Entry] = []
        for item in value:  # "a.b" over an array of documents: each element's b
            if isinstance(item, dict):
                found.extend(_path_entries(item, parts))
        return found or [(_NULL, None)]
    return [(_NULL, None)]  # the path runs through a scalar: indexed as null


def index_keys(document: dict[str, Any], fields: Sequence[str]) -> dict[tuple[Hashable, ...], tuple[Any, ...]]:
    """Every key ``document`` has in an index on ``fields``, mapped to the values it came from.

    One key per combination of the fields' keys; a missing field counts as ``null``, an
    array field once per element.
    """
    values = []
    for name in fields:  # the common case first: top-level fields holding no array
        value = document.get(name) if "." not in name else _DOTTED
        if value is _DOTTED or isinstance(value, list):
            break
        values.append(value)
    else:
        return {tuple(value_key(value) for value in values): tuple(values)}
    per_field = [_path_entries(document, name.split(".")) for name in fields]
    keys: dict[tuple[Hashable, ...], tuple[Any, ...]] = {}
    for combination in itertools.product(*per_field):
        keys.setdefault(tuple(key for key, _ in combination), tuple(value for _, value in combination))
    return keys


_DOTTED = object()


def identical(a: Any, b: Any) -> bool:
    """True when ``a`` and ``b`` would be the same BSON bytes (type, value and key order).

    MongoDB counts a document as *modified* only when an update changed its bytes, so
    ``$set: {"n": 1.0}`` on an int ``1`` modifies it although ``1 == 1.0``.
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            ka == kb and identical(va, vb) for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True)
        )
    if isinstance(a, list):
        return len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return bool(a == b)


def store_key(id_value: Any) -> Hashable:
    """The key a document is stored under: equal for ``_id`` values MongoDB finds equal."""
    if isinstance(id_value, list):
        raise InvalidDocument(f"_id cannot be an array: {id_value!r}", path="_id")
    return value_key(id_value)


def id_keys(spec: dict[str, Any]) -> list[Hashable] | None:
    """The store keys an ``_id`` equality (or ``$in`` of plain values) limits a filter to, else None."""
    if "_id" not in spec:
        return None
    condition = spec["_id"]
    values: Iterable[Any]
    if isinstance(condition, dict) and condition and next(iter(condition)).startswith("$"):
        if set(condition) == {"$eq"}:
            values = [condition["$eq"]]
        elif set(condition) == {"$in"} and isinstance(condition["$in"], list):
            values = condition["$in"]
        else:
            return None
    else:
        values = [condition]
    keys: dict[Hashable, None] = {}
    for value in values:
        if not isinstance(value, (str, int, float, bytes, dict)):
            return None  # arrays, regexes, dates, null...: let the evaluator scan
        if isinstance(value, dict) and any(str(name).startswith("$") for name in value):
            return None
        keys[value_key(value)] = None
    return list(keys)
