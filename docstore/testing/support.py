"""Helpers shared by the conformance suites: capability checks, snapshots, typed comparison.

Nothing here knows which engine it runs on: a test that an engine may not support asks
for a :class:`~docstore.engine.Capabilities` flag with :func:`require` and is skipped
with a reason when the engine does not declare it.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from docstore.database import Collection, Database

__all__ = [
    "D2024",
    "D2025",
    "MISSING",
    "UTC",
    "fill",
    "matched_ids",
    "require",
    "snapshot",
    "typed",
]

UTC = _dt.timezone.utc
D2024 = _dt.datetime(2024, 1, 1, tzinfo=UTC)
D2025 = _dt.datetime(2025, 1, 1, tzinfo=UTC)


class _Missing:
    """Marks a field left out of a seeded document (distinct from a stored ``None``)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def require(db: Database, capability: str) -> None:
    """Skip the calling test unless the engine declares ``capability`` (a Capabilities flag)."""
    caps = db.capabilities
    if not hasattr(caps, capability):
        raise AttributeError(f"Capabilities has no flag {capability!r}")
    if not getattr(caps, capability):
        described = caps.description or "no description"
        pytest.skip(f"the engine does not declare the {capability!r} capability ({described})")


def fill(collection: Collection, documents: Iterable[Mapping[str, Any]]) -> None:
    """Insert copies of ``documents`` (fields set to MISSING are left out)."""
    docs = [{k: v for k, v in doc.items() if v is not MISSING} for doc in documents]
    collection.insert_many(docs)


def matched_ids(collection: Collection, filter: Mapping[str, Any]) -> set[str]:
    """The ``_id`` of every document ``filter`` matches; checks that count_documents agrees."""
    found = [doc["_id"] for doc in collection.find(filter)]
    assert len(found) == len(set(found)), f"find returned a document twice: {found}"
    count = collection.count_documents(filter)
    assert count == len(found), f"count_documents({filter!r}) = {count} but find returned {len(found)}"
    return set(found)


def typed(value: Any, *, ordered: bool = True) -> Any:
    """``value`` with every scalar tagged by its type, for comparisons where ``1 != 1.0 != True``.

    With ``ordered`` the key order of documents counts (as it does in BSON); NaN equals NaN.
    """
    if isinstance(value, Mapping):
        items = [(key, typed(item, ordered=ordered)) for key, item in value.items()]
        return ("dict", tuple(items) if ordered else tuple(sorted(items, key=repr)))
    if isinstance(value, list):
        return ("list", tuple(typed(item, ordered=ordered) for item in value))
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    if isinstance(value, _dt.datetime):
        offset = value.utcoffset()
        return ("datetime", value.replace(tzinfo=None).isoformat(), None if offset is None else offset.total_seconds())
    return (type(value).__name__, value)


def snapshot(db: Database) -> str:
    """Everything the store holds (collections, documents in ``_id`` order, indexes) as one string.

    Two snapshots are equal only if every document is the same, value for value, type for
    type and in the same key order: "nothing changed" means exactly that.
    """
    parts = []
    for name in db.list_collection_names():
        collection = db[name]
        docs = sorted(collection.find(), key=lambda doc: repr(doc.get("_id")))
        indexes = sorted(collection.index_information().items())
        parts.append(repr((name, [typed(doc) for doc in docs], indexes)))
    return "\n".join(parts)
