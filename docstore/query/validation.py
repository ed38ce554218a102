"""The rules every stored document follows, on every engine."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

from docstore.errors import InvalidDocument

__all__ = ["validate_document", "validate_value"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_SCALARS = (str, bool, float, type(None), bytes, _dt.datetime)


def validate_document(doc: Mapping[str, Any]) -> None:
    """Raise InvalidDocument (with the dotted path) unless ``doc`` can be stored."""
    if not isinstance(doc, Mapping):
        raise InvalidDocument(f"a document must be a dict, not {type(doc).__name__}")
    _check_mapping(doc, "")
    if type(doc.get("_id")) is list:
        raise InvalidDocument("_id cannot be an array", path="_id")


def validate_value(value: Any, path: str) -> None:
    """Raise InvalidDocument unless ``value`` may be stored at ``path``."""
    _check(value, path)


def _check_mapping(doc: Mapping[str, Any], path: str) -> None:
    for key, value in doc.items():
        where = f"{path}.{key}" if path else str(key)
        if not isinstance(key, str):
            raise InvalidDocument(f"document keys must be strings, got {key!r} at {path or 'top level'!r}", path=path)
        if key.startswith("$"):
            raise InvalidDocument(f"field names must not start with '$': {where!r}", path=where)
        if "." in key:
            raise InvalidDocument(f"field names must not contain '.': {where!r}", path=where)
        if "\0" in key:
            raise InvalidDocument(f"field names must not contain NUL: {where!r}", path=where)
        _check(value, where)


def _check(value: Any, path: str) -> None:
    t = type(value)
    if t is dict:
        _check_mapping(value, path)
    elif t is list:
        for i, item in enumerate(value):
            _check(item, f"{path}.{i}")
    elif t is int:
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise InvalidDocument(f"integer at {path!r} does not fit in 64 bits", path=path)
    elif not isinstance(value, _SCALARS):
        raise InvalidDocument(f"cannot store a value of type {t.__name__} at {path!r}", path=path)
    elif isinstance(value, _dt.datetime) and value.tzinfo is None:
        raise InvalidDocument(f"datetime at {path!r} must be timezone-aware", path=path)
