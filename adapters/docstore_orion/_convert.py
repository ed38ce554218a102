"""Values and errors across the boundary between Orion and docstore.

Orion works with naive UTC datetimes, numpy scalars in parameters and, on MongoDB,
``bson.ObjectId`` ids; docstore stores timezone-aware UTC datetimes (milliseconds),
plain Python values and string ids. Everything that enters docstore from Orion goes
through :func:`to_docstore`, everything that goes back through :func:`to_orion`, and
every docstore error is re-raised as the Orion exception Orion's code catches.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
from orion.core.io.database import DatabaseError, DatabaseTimeout
from orion.core.io.database import DuplicateKeyError as OrionDuplicateKeyError

import docstore

__all__ = ["database_errors", "naive_utc", "to_docstore", "to_orion"]

_UTC = _dt.timezone.utc


def _is_object_id(value: Any) -> bool:
    # bson is pymongo's, an optional dependency: recognise its ObjectId without importing it
    cls = type(value)
    return cls.__name__ == "ObjectId" and cls.__module__.startswith("bson")


def to_docstore(value: Any) -> Any:
    """``value`` with numpy scalars and arrays made plain and ObjectIds made strings.

    Datetimes pass unchanged: docstore takes a naive datetime to be UTC, as Orion means it.
    """
    if isinstance(value, Mapping):
        return {key: to_docstore(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_docstore(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return to_docstore(value.tolist())
    if _is_object_id(value):
        return str(value)
    return value


def naive_utc(value: _dt.datetime) -> _dt.datetime:
    """An aware datetime as the naive UTC datetime Orion compares with ``utcnow()``."""
    if value.tzinfo is None:
        return value
    return value.astimezone(_UTC).replace(tzinfo=None)


def to_orion(value: Any) -> Any:
    """A document read from docstore, with its datetimes naive UTC (as Orion's other backends)."""
    if isinstance(value, dict):
        return {key: to_orion(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_orion(item) for item in value]
    if isinstance(value, _dt.datetime):
        return naive_utc(value)
    return value


@contextmanager
def database_errors() -> Iterator[None]:
    """Re-raise docstore's errors as the ``orion.core.io.database`` exceptions Orion catches."""
    try:
        yield
    except docstore.DuplicateKeyError as exc:
        raise OrionDuplicateKeyError(str(exc)) from exc
    except docstore.LockAcquisitionTimeout as exc:
        raise DatabaseTimeout(str(exc)) from exc
    except docstore.EngineUnavailable as exc:
        raise DatabaseError(str(exc)) from exc
