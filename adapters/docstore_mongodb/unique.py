"""Unique indexes for the mongomock engine: MongoDB's rules, checked in time proportional to the change.

mongomock's own check compares with Python's ``==`` (so ``1`` clashes with ``true`` and
``{"a": 1, "b": 2}`` with ``{"b": 2, "a": 1}``) and ignores array elements; it also
scans the whole collection on every write. Here each unique index keeps a map from key
(:func:`docstore_mongodb.keys.index_keys`) to the store key of the document that owns
it, built from the stored documents on first use and kept in step with every write the
engine makes. The map is rebuilt whenever the collection's size differs from the size it
was built for, and a clash it reports is confirmed against the stored document, so a
stale map can cause neither a false clash nor go unnoticed for long.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable, Iterable
from typing import Any, NamedTuple

from docstore_mongodb.keys import index_keys, store_key

__all__ = ["Change", "Clash", "UniqueIndexes", "first_clash"]


class Change(NamedTuple):
    """One document write: ``old`` is None for an insert."""

    key: Hashable
    old: dict[str, Any] | None
    new: dict[str, Any]


class Clash(NamedTuple):
    """The first change (by position) that breaks unique index ``index_name``, and the key it repeats."""

    position: int
    index_name: str
    key: dict[str, Any]


class _Map:
    __slots__ = ("fields", "owners", "size")

    def __init__(self, fields: tuple[str, ...]) -> None:
        self.fields = fields
        self.owners: dict[tuple[Hashable, ...], Hashable] = {}
        self.size = 0


def first_clash(fields: tuple[str, ...], documents: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The first repeated key among ``documents`` for a unique index on ``fields``, if any."""
    owners: dict[tuple[Hashable, ...], Hashable] = {}
    for doc in documents:
        owner = store_key(doc["_id"])
        for key, values in index_keys(doc, fields).items():
            if owners.setdefault(key, owner) != owner:
                return dict(zip(fields, values, strict=True))
    return None


class UniqueIndexes:
    """The key -> owner maps of every unique index of every collection store the engine writes."""

    def __init__(self) -> None:
        self._maps: weakref.WeakKeyDictionary[Any, dict[str, _Map]] = weakref.WeakKeyDictionary()

    def _current(self, store: Any) -> list[tuple[str, _Map]]:
        maps = self._maps.setdefault(store, {})
        found = []
        size = len(store)
        for name, info in store.indexes.items():
            if not info.get("unique"):
                continue
            fields = tuple(str(field) for field, _ in info["key"])
            index_map = maps.get(name)
            if index_map is None or index_map.fields != fields or index_map.size != size:
                index_map = maps[name] = self._build(store, fields)
            found.append((name, index_map))
        for name in [name for name in maps if name not in store.indexes]:
            del maps[name]
        return found

    @staticmethod
    def _build(store: Any, fields: tuple[str, ...]) -> _Map:
        index_map = _Map(fields)
        for doc in list(store.documents):
            owner = store_key(doc["_id"])
            index_map.owners.update(dict.fromkeys(index_keys(doc, fields), owner))
            index_map.size += 1
        return index_map

    def first_conflict(self, store: Any, changes: list[Change]) -> Clash | None:
        """The first of ``changes`` that would repeat another document's key, if any.

        The changes are checked one after the other, each against the index as the
        changes before it left it, as MongoDB applies a multi-document write: so
        ``$inc`` on a unique field holding 1 and 2 clashes at the first document.
        """
        first: Clash | None = None
        for name, index_map in self._current(store) if changes else []:
            clash = self._first_in_index(store, name, index_map, changes[: first.position if first else None])
            if clash is not None:
                first = clash
        return first

    def _first_in_index(self, store: Any, name: str, index_map: _Map, changes: list[Change]) -> Clash | None:
        fields = index_map.fields
        overlay: dict[tuple[Hashable, ...], Hashable | None] = {}  # what earlier changes did; None: freed
        for position, change in enumerate(changes):
            new_keys = index_keys(change.new, fields)
            for key in index_keys(change.old, fields) if change.old is not None else ():
                owner = overlay[key] if key in overlay else index_map.owners.get(key)
                if key not in new_keys and owner == change.key:
                    overlay[key] = None
            for key, values in new_keys.items():
                if key in overlay:
                    owner, confirmed = overlay[key], True
                else:
                    owner = index_map.owners.get(key)
                    confirmed = owner not in (None, change.key) and self._owns(store, owner, key, fields)
                if owner is not None and owner != change.key and confirmed:
                    return Clash(position, name, dict(zip(fields, values, strict=True)))
                overlay[key] = change.key
        return None

    @staticmethod
    def _owns(store: Any, owner: Hashable, key: tuple[Hashable, ...], fields: tuple[str, ...]) -> bool:
        """Confirms a clash the map reports: the stored document still has ``key``."""
        return owner in store and key in index_keys(store[owner], fields)

    def record(self, store: Any, changes: list[Change]) -> None:
        """Bring the maps in step with ``changes``, which were just written to ``store``."""
        for _, index_map in self._current_without_rebuild(store):
            for change in changes:
                if change.old is not None:
                    self._release(index_map, change.key, change.old)
                else:
                    index_map.size += 1
            for change in changes:
                index_map.owners.update(dict.fromkeys(index_keys(change.new, index_map.fields), change.key))

    def forget(self, store: Any, removed: list[dict[str, Any]]) -> None:
        """Bring the maps in step with documents just deleted from ``store``."""
        for _, index_map in self._current_without_rebuild(store):
            for doc in removed:
                self._release(index_map, store_key(doc["_id"]), doc)
                index_map.size -= 1

    def _current_without_rebuild(self, store: Any) -> list[tuple[str, _Map]]:
        return list(self._maps.get(store, {}).items())

    @staticmethod
    def _release(index_map: _Map, owner: Hashable, doc: dict[str, Any]) -> None:
        for key in index_keys(doc, index_map.fields):
            if index_map.owners.get(key) == owner:
                del index_map.owners[key]

    def clear(self, store: Any) -> None:
        """Forget every map of ``store`` (after ``drop``)."""
        self._maps.pop(store, None)
