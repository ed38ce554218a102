"""Hash indexes: the value at a path (or the values at several paths) -> the documents holding it.

A key held by one document maps straight to that document; a key held by several maps to
a :class:`Bucket`. Most keys of a high-cardinality field (an id, a timestamp) are held by
one document, and a dict per key would cost some 200 bytes per document.

Keys follow BSON equality (:func:`values.index_key`); an array gives its own key and
each of its elements'. A document missing one of the paths is in no bucket: an equality
never matches it (``null`` equalities, which also match missing fields, do not use hash
indexes).
"""

from __future__ import annotations

import datetime as _dt
import heapq
import itertools
from collections.abc import Hashable, Iterable, Iterator, Mapping
from typing import Any

from docstore.query.values import BOOL, DATE, NULL, NUMBER, STRING
from docstore_jsonfile.values import MISSING, PLAIN_KEYS, expand_keys, index_key, path_values

__all__ = ["Bucket", "HashIndex", "Ranked", "id_key_of"]

Document = dict[str, Any]


def id_key_of(document: Document) -> Hashable:
    """The key a document is stored under (its ``_id``'s index key)."""
    value = document["_id"]
    return value if type(value) is str else index_key(value)


class Bucket(dict[Hashable, Document]):
    """The documents that hold one key, by id, in the order they came to hold it.

    ``in_order`` stays true while that order is also the collection's natural (insertion)
    order, which spares sorting candidates by position.
    """

    __slots__ = ("in_order", "last_seq")

    def __init__(self) -> None:
        super().__init__()
        self.last_seq = -1
        self.in_order = True


class Ranked:
    """A document in a sorted view: ordered by the sort's key, then by natural position."""

    __slots__ = ("document", "id_key", "position", "rank")

    def __init__(self, rank: Any, position: int, id_key: Hashable, document: Document) -> None:
        self.rank, self.position, self.id_key, self.document = rank, position, id_key, document

    def __lt__(self, other: Ranked) -> bool:
        order = self.rank._compare(other.rank)  # one comparison of the sort keys, not two
        return order < 0 if order else self.position < other.position


_PLAIN = {type(None): NULL, int: NUMBER, float: NUMBER, str: STRING, bool: BOOL, _dt.datetime: DATE}
"""Types whose values Python orders as BSON does within one BSON type bracket (NaN aside), and that bracket."""


def _plain_fields(sort: Any) -> tuple[str, ...] | None:
    """The sort's fields if every one is a top-level field sorted ascending, else None."""
    if all(direction == 1 and "." not in name for name, direction in sort.keys):
        return tuple(name for name, _ in sort.keys)
    return None


def _plain_key(document: Document, fields: tuple[str, ...]) -> tuple[Any, ...] | None:
    """``(bracket, value, bracket, value, ...)``: a key tuples compare in BSON's order, or None.

    Python compares these tuples in C, which makes a heap of 100,000 of them some ten times
    cheaper to build than one of :class:`Ranked` entries comparing in Python; None when a value
    (an array, a document, NaN, ...) needs the full comparison.
    """
    out: list[Any] = []
    for name in fields:
        value = document.get(name)  # a missing field sorts as null
        kind = type(value)
        rank = _PLAIN.get(kind)
        if rank is None or (kind is float and value != value):
            return None
        out.append(rank)
        out.append(value)
    return tuple(out)


class _SortedView:
    """One key's documents as a lazy min-heap by one sort: stale entries are dropped when they surface.

    Entries are ``(plain key, position, id(document), id, document)`` tuples while every
    document's sort values are plain (:func:`_plain_key`), else :class:`Ranked` entries; a
    document that is not plain turns the whole view into the second kind. A document's new
    version has the same position: ``id(document)`` (unique among the live documents the heap
    holds) keeps tuple comparison from ever reaching the documents themselves.
    """

    __slots__ = ("fields", "heap", "sort")

    def __init__(self, sort: Any, members: Mapping[Hashable, Document], seq: Mapping[Hashable, int]) -> None:
        self.sort = sort
        self.fields = _plain_fields(sort)
        self.heap: list[Any] = []
        if self.fields is not None:
            fields = self.fields
            for id_key, document in members.items():
                key = _plain_key(document, fields)
                if key is None:
                    self.fields = None
                    break
                self.heap.append((key, seq[id_key], id(document), id_key, document))
        if self.fields is None:
            self.heap = [Ranked(sort.key(doc), seq[id_key], id_key, doc) for id_key, doc in members.items()]
        heapq.heapify(self.heap)

    def push(self, id_key: Hashable, document: Document, seq: Mapping[Hashable, int]) -> None:
        if self.fields is not None:
            key = _plain_key(document, self.fields)
            if key is not None:
                heapq.heappush(self.heap, (key, seq[id_key], id(document), id_key, document))
                return
            self.fields = None  # from now on, full comparisons
            self.heap = [Ranked(self.sort.key(entry[4]), entry[1], entry[3], entry[4]) for entry in self.heap]
            heapq.heapify(self.heap)
        heapq.heappush(self.heap, Ranked(self.sort.key(document), seq[id_key], id_key, document))

    def first(self, members: Mapping[Hashable, Document]) -> Ranked | None:
        heap = self.heap
        plain = self.fields is not None
        while heap:
            top = heap[0]
            id_key, document = (top[3], top[4]) if plain else (top.id_key, top.document)
            stored = members.get(id_key)
            if stored is not None and stored is document:
                if plain:  # callers compare the firsts of several views: give them one kind
                    return Ranked(self.sort.key(stored), top[1], id_key, stored)
                return top  # type: ignore[no-any-return]
            heapq.heappop(heap)  # that document left, or changed since (its new version was pushed)
        return None


def _field_keys(document: Document, path: str, parts: tuple[str, ...]) -> list[Hashable]:
    if len(parts) == 1:
        value = document.get(path, MISSING)
        if value is MISSING:
            return []
        if type(value) is str:
            return [value]
        return expand_keys([value], whole_arrays=True)
    return expand_keys(path_values(document, parts), whole_arrays=True)


class HashIndex:
    """Values at ``paths`` -> a document, or a :class:`Bucket` of them."""

    __slots__ = ("buckets", "parts", "paths", "views")

    def __init__(self, paths: tuple[str, ...]) -> None:
        self.paths = paths
        self.parts = tuple(tuple(path.split(".")) for path in paths)
        self.buckets: dict[Hashable, Bucket | Document] = {}
        self.views: dict[Hashable, dict[Hashable, _SortedView]] = {}
        """Per key, sorted views made for sorted single-document operations, kept up to date."""

    def keys_of(self, document: Document) -> list[Hashable]:
        if len(self.paths) == 1:
            return _field_keys(document, self.paths[0], self.parts[0])
        per_path = []
        for path, parts in zip(self.paths, self.parts, strict=True):
            keys = _field_keys(document, path, parts)
            if not keys:
                return []
            per_path.append(keys if len(keys) == 1 else list(dict.fromkeys(keys)))
        return list(itertools.product(*per_path))

    # -- reads ---------------------------------------------------------------------------
    def lookup(self, key: Hashable) -> tuple[Mapping[Hashable, Document], bool] | None:
        """The documents holding ``key`` (id -> document) and whether that is natural order."""
        entry = self.buckets.get(key)
        if entry is None:
            return None
        if isinstance(entry, Bucket):
            return entry, entry.in_order
        return {id_key_of(entry): entry}, True

    def size(self, key: Hashable) -> int:
        entry = self.buckets.get(key)
        return 0 if entry is None else len(entry) if isinstance(entry, Bucket) else 1

    def first(self, key: Hashable, sort: Any, sort_id: Hashable, seq: Mapping[Hashable, int]) -> Ranked | None:
        """The first of ``key``'s documents by ``sort`` (then natural order), in O(log n) amortized.

        The first call for a key and sort builds a heap of its documents; later changes
        push onto it, and entries that went stale are dropped as they reach the top.
        """
        found = self.lookup(key)
        if found is None:
            return None
        members = found[0]
        views = self.views.setdefault(key, {})
        view = views.get(sort_id)
        if view is None or len(view.heap) > 2 * len(members) + 16:
            view = views[sort_id] = _SortedView(sort, members, seq)
        return view.first(members)

    def entries(self) -> Iterator[tuple[Hashable, Mapping[Hashable, Document], bool]]:
        """``(key, id -> document, in_order)`` for every key (for checks)."""
        for key in self.buckets:
            found = self.lookup(key)
            assert found is not None
            yield key, *found

    # -- changes ---------------------------------------------------------------------------
    def _add(self, key: Hashable, id_key: Hashable, document: Document, seq: Mapping[Hashable, int]) -> None:
        buckets = self.buckets
        entry = buckets.get(key)
        if entry is None:
            buckets[key] = document
            self._push(key, id_key, document, seq)
            return
        if not isinstance(entry, Bucket):
            other = id_key_of(entry)
            if other == id_key:
                buckets[key] = document
                self._push(key, id_key, document, seq)
                return
            bucket = buckets[key] = Bucket()
            bucket[other] = entry
            bucket.last_seq = seq[other]
            entry = bucket
        if id_key not in entry:
            position = seq[id_key]
            if position < entry.last_seq:
                entry.in_order = False
            else:
                entry.last_seq = position
        entry[id_key] = document
        self._push(key, id_key, document, seq)

    def _push(self, key: Hashable, id_key: Hashable, document: Document, seq: Mapping[Hashable, int]) -> None:
        views = self.views.get(key)
        if views:
            for sort_id, view in list(views.items()):
                view.push(id_key, document, seq)
                if len(view.heap) > 2 * self.size(key) + 16:  # mostly stale: rebuild when next needed
                    del views[sort_id]

    def _remove(self, key: Hashable, id_key: Hashable) -> None:
        entry = self.buckets.get(key)
        if entry is None:
            return
        if isinstance(entry, Bucket):
            if entry.pop(id_key, None) is not None and not entry:
                del self.buckets[key]
                self.views.pop(key, None)
        elif id_key_of(entry) == id_key:
            del self.buckets[key]
            self.views.pop(key, None)

    def replace(
        self, id_key: Hashable, seq: Mapping[Hashable, int], old: Document | None, new: Document | None
    ) -> None:
        """Reindex one document (``old`` -> ``new``; either may be None)."""
        old_keys = self.keys_of(old) if old is not None else []
        new_keys = self.keys_of(new) if new is not None else []
        for key in old_keys:
            if key not in new_keys:
                self._remove(key, id_key)
        if new is not None:
            for key in new_keys:
                self._add(key, id_key, new, seq)

    def build(self, docs: Mapping[Hashable, Document], seq: Mapping[Hashable, int]) -> None:
        """Index documents given in natural order (a snapshot's), fast for plain top-level values."""
        if not all(len(parts) == 1 for parts in self.parts):
            self._build_any(docs.items(), seq)
            return
        if self.buckets:
            raise ValueError("build fills an empty index")
        buckets, slow = self.buckets, []
        single = len(self.paths) == 1
        path, second = self.paths[0], self.paths[-1]
        for id_key, document in docs.items():
            key = document.get(path, MISSING)
            if single:
                if type(key) not in PLAIN_KEYS:
                    if key is not MISSING:
                        slow.append((id_key, document))
                    continue
            elif len(self.paths) == 2:
                other = document.get(second, MISSING)
                if type(key) not in PLAIN_KEYS or type(other) not in PLAIN_KEYS:
                    if key is not MISSING and other is not MISSING:
                        slow.append((id_key, document))
                    continue
                key = (key, other)
            else:
                slow.append((id_key, document))
                continue
            entry = buckets.get(key)
            if entry is None:
                buckets[key] = document
                continue
            if not isinstance(entry, Bucket):
                bucket = buckets[key] = Bucket()
                bucket[id_key_of(entry)] = entry
                entry = bucket
            holder = next(iter(entry.values()))
            for name in self.paths:  # one string object for every document holding it: less memory
                if type(value := document[name]) is str and value is not (common := holder[name]):
                    document[name] = common
            entry[id_key] = document  # natural order: the bucket stays in order
        for entry in buckets.values():
            if isinstance(entry, Bucket):
                entry.last_seq = seq[next(reversed(entry))]
        self._build_any(slow, seq)

    def _build_any(self, items: Iterable[tuple[Hashable, Document]], seq: Mapping[Hashable, int]) -> None:
        for id_key, document in items:
            for key in self.keys_of(document):
                self._add(key, id_key, document, seq)
