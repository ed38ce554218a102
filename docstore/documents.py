"""Canonical values: the same on every engine.

* ``_id`` values that docstore generates are 24-character hexadecimal strings, ordered
  by creation time like MongoDB ObjectIds, but plain strings on every engine.
* datetimes are timezone-aware UTC, truncated to milliseconds (BSON's precision); a
  naive datetime is taken to be UTC, as pymongo does.
* ``bytes`` round-trip (BSON binary, Extended JSON ``$binary``), and so do NaN and ±inf.
* tuples become lists; keys must be strings.

On disk (the JSON engine, ``docstore dump``), values that JSON lacks are written as
MongoDB Extended JSON in its relaxed form, so files can go to ``mongoimport`` and come
back from ``mongoexport``.
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import math
import os
import re
import threading
import time
from collections.abc import Mapping
from typing import Any, TypeVar

from docstore.errors import InvalidDocument

__all__ = ["canonical", "copy_tree", "from_ejson", "new_id", "now", "to_ejson", "utc_datetime"]

UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)

_id_lock = threading.Lock()
_id_counter = int.from_bytes(os.urandom(3), "big")
_id_random = os.urandom(5)
_id_pid = os.getpid()


def new_id() -> str:
    """A new unique id: 4 bytes of seconds, 5 random bytes per process, a 3-byte counter."""
    global _id_counter, _id_random, _id_pid
    with _id_lock:
        if os.getpid() != _id_pid:  # a forked child must not repeat its parent's ids
            _id_pid, _id_random = os.getpid(), os.urandom(5)
        _id_counter = (_id_counter + 1) & 0xFFFFFF
        counter = _id_counter
    raw = int(time.time()).to_bytes(4, "big") + _id_random + counter.to_bytes(3, "big")
    return raw.hex()


def utc_datetime(value: _dt.datetime) -> _dt.datetime:
    """``value`` as an aware UTC datetime truncated to milliseconds."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.utcoffset() != _dt.timedelta(0) or value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    micro = value.microsecond
    if micro % 1000:
        value = value.replace(microsecond=micro - micro % 1000)
    return value


def now() -> _dt.datetime:
    """The current time, canonical."""
    return utc_datetime(_dt.datetime.now(UTC))


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_SCALARS = (str, bool, float, type(None), bytes)


_IMMUTABLE = frozenset({str, int, float, bool, type(None), bytes, _dt.datetime, _dt.date, _dt.timedelta})


_T = TypeVar("_T")


def copy_tree(value: _T) -> _T:
    """A deep copy of a document tree: dicts, lists and tuples copied, immutable scalars shared.

    Several times faster than ``copy.deepcopy`` on documents (no memo, no ``__reduce__`` of
    datetimes); any other object is handed to ``copy.deepcopy``.
    """
    return _copy_tree(value)  # type: ignore[no-any-return]


def _copy_tree(value: Any) -> Any:
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is dict:
        return {key: item if type(item) in _IMMUTABLE else _copy_tree(item) for key, item in value.items()}
    if kind is list:
        return [item if type(item) in _IMMUTABLE else _copy_tree(item) for item in value]
    if kind is tuple:
        return tuple(_copy_tree(item) for item in value)
    return copy.deepcopy(value)


def canonical(value: Any, path: str = "", *, allow_regex: bool = False) -> Any:
    """A canonical copy of ``value`` (documents, filters and updates alike).

    Raises :class:`InvalidDocument` naming the path of a value no engine can store.
    Key *names* are checked by ``docstore.query.validate_document``, not here, because
    filters and updates legitimately hold ``$`` keys.
    """
    kind = type(value)
    if kind in _PLAIN:  # the common cases first, by exact type
        return value
    if kind is dict:
        return _canonical_dict(value, path, allow_regex)
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise InvalidDocument(f"integer at {path or 'top level'!r} does not fit in 64 bits: {value}", path=path)
        return int(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                where = f"{path}.{key!r}" if path else repr(key)
                raise InvalidDocument(f"document keys must be strings, got {type(key).__name__} key {where}", path=path)
            out[key] = canonical(item, f"{path}.{key}" if path else key, allow_regex=allow_regex)
        return out
    if isinstance(value, (list, tuple)):
        return [
            canonical(item, f"{path}.{i}" if path else str(i), allow_regex=allow_regex) for i, item in enumerate(value)
        ]
    if isinstance(value, _dt.datetime):
        return utc_datetime(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if allow_regex and isinstance(value, re.Pattern):
        return value
    raise InvalidDocument(
        f"cannot store a value of type {type(value).__name__} at {path or 'top level'!r}; "
        "use None, bool, int, float, str, bytes, datetime, list or dict",
        path=path,
    )


_PLAIN = frozenset(_SCALARS)


def _canonical_dict(value: dict[Any, Any], path: str, allow_regex: bool) -> dict[str, Any]:
    """:func:`canonical` of a plain dict: plain scalars copied as they are, without building their paths."""
    out = {}
    for key, item in value.items():
        if type(key) is not str and not isinstance(key, str):
            where = f"{path}.{key!r}" if path else repr(key)
            raise InvalidDocument(f"document keys must be strings, got {type(key).__name__} key {where}", path=path)
        kind = type(item)
        if kind in _PLAIN or (kind is int and _INT64_MIN <= item <= _INT64_MAX):
            out[key] = item
        else:
            out[key] = canonical(item, f"{path}.{key}" if path else key, allow_regex=allow_regex)
    return out


# ---------------------------------------------------------------- Extended JSON


def _format_date(value: _dt.datetime) -> Any:
    if 1970 <= value.year <= 9999:  # relaxed mode: ISO-8601 within these years
        return {"$date": value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"}
    millis = (value - _EPOCH) // _dt.timedelta(milliseconds=1)
    return {"$date": {"$numberLong": str(millis)}}


def to_ejson(value: Any) -> Any:
    """``value`` as JSON-compatible data: relaxed MongoDB Extended JSON."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        text = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return {"$numberDouble": text}
    if isinstance(value, dict):
        return {key: to_ejson(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_ejson(item) for item in value]
    if isinstance(value, _dt.datetime):
        return _format_date(value)
    if isinstance(value, bytes):
        return {"$binary": {"base64": base64.b64encode(value).decode("ascii"), "subType": "00"}}
    return value


_DOUBLES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _parse_date(raw: Any) -> _dt.datetime:
    if isinstance(raw, Mapping):
        raw = int(raw["$numberLong"])
    if isinstance(raw, int):
        return _EPOCH + _dt.timedelta(milliseconds=raw)
    return utc_datetime(_dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00")))


def _decode_special(value: dict[str, Any]) -> Any:
    """Decode one Extended JSON wrapper, or return ``_MISSING`` when ``value`` is a plain document."""
    if len(value) > 2:
        return _MISSING
    key = next(iter(value))
    if key == "$date":
        return _parse_date(value[key])
    if key == "$binary":
        raw = value[key]
        b64 = raw["base64"] if isinstance(raw, Mapping) else raw  # canonical vs legacy form
        return base64.b64decode(b64)
    if key == "$numberDouble":
        text = value[key]
        return _DOUBLES[text] if text in _DOUBLES else float(text)
    if key in ("$numberLong", "$numberInt"):
        return int(value[key])
    if key == "$oid":  # documents from mongoexport: ids become docstore's hex strings
        return str(value[key])
    return _MISSING


_MISSING = object()


def from_ejson(value: Any) -> Any:
    """Decode relaxed (or canonical) Extended JSON produced by :func:`to_ejson` or mongoexport."""
    if isinstance(value, dict):
        if value and next(iter(value)).startswith("$"):
            special = _decode_special(value)
            if special is not _MISSING:
                return special
        return {key: from_ejson(item) if isinstance(item, (dict, list)) else item for key, item in value.items()}
    if isinstance(value, list):
        return [from_ejson(item) if isinstance(item, (dict, list)) else item for item in value]
    return value
