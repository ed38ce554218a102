"""The in-memory state: collections of documents with their indexes, and the one mutation path.

Every change, live or replayed from the journal, is a list of *effects* applied by
:meth:`Store.apply`: ``("put", collection, document)`` stores a document (new or a new
version), ``("patch", collection, (fields, removed))`` a new version given by the fields
that changed (replayed from the journal's ``set`` lines), ``("del", collection, id)``,
``("index", collection, IndexSpec)``,
``("unindex", collection, name)``, ``("drop", collection, None)``. Effects say what the
state becomes, not what a caller asked, so replaying them gives every process the same
state. They are checked (unique keys) before the journal line is written; applying them
cannot fail.

Indexes:

* the ``_id`` index is the ``docs`` dict itself, keyed by :func:`values.index_key`;
* a unique index maps a key tuple to the id that holds it (a missing field counts as
  null; an array field holds each of its elements);
* hash indexes (:mod:`.hashindex`) map each value found at a path, or each tuple of
  values at several paths, to the documents holding it. ``status``, ``experiment`` and
  the pair ``(experiment, status)`` always have one (the protocol's filters), and so do
  each field of a created index and the fields of a non-unique compound one together.

``Filter.equalities()`` picks the smallest set of candidates among ``_id``, unique keys
and hash-index buckets, so reserving a trial does not scan every trial, and counting
trials by status reads a bucket's size.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from docstore.engine import IndexSpec
from docstore_jsonfile.hashindex import HashIndex
from docstore_jsonfile.values import PLAIN_KEYS, expand_keys, index_key, path_values

__all__ = ["ALWAYS_HASHED", "ID_INDEX", "Collection", "Effect", "Store", "hashed_paths"]

Effect = tuple[str, str, Any]
Document = dict[str, Any]
ALWAYS_HASHED: tuple[tuple[str, ...], ...] = (("status",), ("experiment",), ("experiment", "status"))
ID_INDEX = IndexSpec("_id_", (("_id", 1),), unique=True)


class UniqueIndex:
    """Key tuple -> id of the one document that holds it."""

    __slots__ = ("fields", "owners", "paths", "simple", "spec")

    def __init__(self, spec: IndexSpec) -> None:
        self.spec = spec
        self.paths = tuple(name for name, _ in spec.keys)
        self.fields = tuple(tuple(name.split(".")) for name in self.paths)
        self.simple = all(len(parts) == 1 for parts in self.fields)
        self.owners: dict[tuple[Hashable, ...], Hashable] = {}

    def keys_of(self, document: Document) -> list[tuple[Hashable, ...]]:
        if self.simple:
            values = tuple(document.get(name) for name in self.paths)
            if all(type(value) in PLAIN_KEYS for value in values):
                return [values]  # plain values (a missing one reads as None) are their own keys
        per_field = []
        for parts in self.fields:
            keys = expand_keys(path_values(document, parts), whole_arrays=False) or [None]
            per_field.append(list(dict.fromkeys(keys)))
        if len(per_field) == 1:
            return [(key,) for key in per_field[0]]
        return list(itertools.product(*per_field))

    def build(self, docs: Mapping[Hashable, Document]) -> None:
        """Index documents of a snapshot (known to be unique: checked before they were stored)."""
        owners, slow, paths = self.owners, [], self.paths
        if not self.simple:
            slow = list(docs.items())
        elif len(paths) == 2:
            first, second = paths
            for id_key, document in docs.items():
                key = (document.get(first), document.get(second))
                if type(key[0]) in PLAIN_KEYS and type(key[1]) in PLAIN_KEYS:
                    owners[key] = id_key  # a plain value (or a missing one: None) is its own key
                else:
                    slow.append((id_key, document))
        else:
            for id_key, document in docs.items():
                values = tuple(document.get(name) for name in paths)
                if all(type(value) in PLAIN_KEYS for value in values):
                    owners[values] = id_key
                else:
                    slow.append((id_key, document))
        for id_key, document in slow:
            self.replace(id_key, None, document)

    def lookup(self, keys: list[list[Hashable]], docs: Mapping[Hashable, Document]) -> dict[Hashable, Document]:
        """The documents holding any combination of ``keys`` (one list of scalar keys per field)."""
        found: dict[Hashable, Document] = {}
        for combination in itertools.product(*keys):
            owner = self.owners.get(combination)
            if owner is not None:
                found[owner] = docs[owner]
        return found

    def key_document(self, document: Document) -> dict[str, Any]:
        """The indexed fields of ``document``, for error messages (missing shown as None)."""
        found = {}
        for (name, _), parts in zip(self.spec.keys, self.fields, strict=True):
            values = path_values(document, parts)
            found[name] = values[0] if values else None
        return found

    def replace(self, id_key: Hashable, old: Document | None, new: Document | None) -> None:
        owners = self.owners
        if old is not None:
            for key in self.keys_of(old):
                if owners.get(key) == id_key:
                    del owners[key]
        if new is not None:
            for key in self.keys_of(new):
                owners[key] = id_key


class Collection:
    """Documents by id (in insertion order, the natural order), positions, and indexes."""

    __slots__ = ("docs", "hashable", "hashed", "indexes", "name", "next_seq", "seq", "unique")

    def __init__(self, name: str) -> None:
        self.name = name
        self.docs: dict[Hashable, Document] = {}
        self.seq: dict[Hashable, int] = {}
        self.next_seq = 0
        self.indexes: dict[str, IndexSpec] = {}
        self.unique: dict[str, UniqueIndex] = {}
        self.hashable: list[tuple[str, ...]] = hashed_paths(())
        """The hash indexes this collection may have, widest first (see ``candidates``)."""
        self.hashed: dict[tuple[str, ...], HashIndex] = {}
        """Those built so far: a hash index is built when a query first needs it, then kept up to date."""

    def load(self, documents: list[Document]) -> None:
        """Fill an empty collection from a snapshot: ``put`` for each, at a fraction of the cost.

        Raises ValueError if two documents share an ``_id``.
        """
        ids = [key if type(key := document["_id"]) is str else index_key(key) for document in documents]
        self.docs = dict(zip(ids, documents, strict=True))
        if len(self.docs) != len(documents):
            raise ValueError("two documents share an _id")
        self.seq = dict(zip(ids, range(len(ids)), strict=True))
        self.next_seq = len(ids)

    # -- the mutations, called by Store.apply only ----------------------------------
    def put(self, document: Document) -> None:
        id_key = index_key(document["_id"])
        old = self.docs.get(id_key)
        self.docs[id_key] = document
        if old is None:
            self.seq[id_key] = self.next_seq
            self.next_seq += 1
        for hashed in self.hashed.values():
            hashed.replace(id_key, self.seq, old, document)
        for unique in self.unique.values():
            unique.replace(id_key, old, document)

    def patch(self, fields: Document, removed: tuple[str, ...]) -> None:
        """Store a new version of a stored document: ``fields`` (``_id`` first) changed or added, ``removed`` gone.

        Kept fields keep their place and added ones go last, as the writer's version has them.
        """
        old = self.docs.get(index_key(fields["_id"]))
        if old is None:
            raise ValueError(f"a patch of document {fields['_id']!r}, which {self.name!r} does not hold")
        new = {name: fields.get(name, value) for name, value in old.items() if name not in removed}
        if len(fields) > 1:
            new.update(fields)
        self.put(new)

    def delete(self, id_key: Hashable) -> None:
        old = self.docs.pop(id_key, None)
        if old is None:
            return
        for hashed in self.hashed.values():
            hashed.replace(id_key, self.seq, old, None)
        del self.seq[id_key]
        for unique in self.unique.values():
            unique.replace(id_key, old, None)

    def add_index(self, spec: IndexSpec) -> None:
        self.indexes[spec.name] = spec
        if spec.unique:
            self.unique[spec.name] = UniqueIndex(spec)
            self.unique[spec.name].build(self.docs)
        self._refresh_hashed()

    def remove_index(self, name: str) -> None:
        self.indexes.pop(name, None)
        self.unique.pop(name, None)
        self._refresh_hashed()

    def _refresh_hashed(self) -> None:
        self.hashable = hashed_paths(self.indexes.values())
        for paths in list(self.hashed):
            if paths not in self.hashable:
                del self.hashed[paths]

    def _hash_index(self, paths: tuple[str, ...]) -> HashIndex:
        hashed = self.hashed.get(paths)
        if hashed is None:
            hashed = self.hashed[paths] = HashIndex(paths)
            hashed.build(self.docs, self.seq)
        return hashed

    # -- reads -----------------------------------------------------------------------
    def index_specs(self) -> dict[str, IndexSpec]:
        return {ID_INDEX.name: ID_INDEX, **self.indexes}

    def candidates(
        self, hints: Mapping[str, list[Any]]
    ) -> tuple[Mapping[Hashable, Document], bool, tuple[str, ...] | None]:
        """Documents that may match a filter whose equality hints are ``hints``.

        Returns ``(id -> document, natural, paths)``: ``natural`` says the mapping is in
        natural order; ``paths`` names the hash index the candidates come from (None for
        ``_id`` and unique-key lookups and for full scans).
        """
        best: tuple[Mapping[Hashable, Document], bool, tuple[str, ...] | None] = (self.docs, True, None)
        keys_by_path: dict[str, list[Hashable]] = {}
        scalars: set[str] = set()
        for path, values in hints.items():
            try:
                keys = list(dict.fromkeys(index_key(value) for value in values))
            except TypeError:  # a regex or another value no index holds
                continue
            if None not in keys:  # null also matches a missing field, which no index entry holds
                keys_by_path[path] = keys
                if not any(type(value) in (dict, list) for value in values):
                    scalars.add(path)
        if "_id" in keys_by_path:
            found = {key: self.docs[key] for key in keys_by_path["_id"] if key in self.docs}
            best = (found, len(found) <= 1, None)
        for unique in self.unique.values():
            if len(best[0]) <= 1:
                return best
            if all(path in scalars for path in unique.paths):
                found = unique.lookup([keys_by_path[path] for path in unique.paths], self.docs)
                if len(found) < len(best[0]):
                    best = (found, len(found) <= 1, None)
        best_size = len(best[0])
        widest_built = False
        for paths in self.hashable:  # widest first: on a tie in size, it may answer the filter exactly
            if best_size <= 1:
                break
            if not all(path in keys_by_path for path in paths):
                continue
            hashed = self.hashed.get(paths)
            if hashed is None:
                if widest_built:
                    continue  # a narrower index is only used if some other query built it
                hashed = self._hash_index(paths)
            widest_built = True
            per_path = [keys_by_path[path] for path in paths]
            keys = per_path[0] if len(paths) == 1 else list(itertools.product(*per_path))
            size = sum(hashed.size(key) for key in keys)
            if size > best_size or (size == best_size and best[0] is not self.docs):
                continue  # on a tie with a full scan, the index still wins: it may answer exactly, and sorted
            best_size = size
            found_parts = [part for key in keys if (part := hashed.lookup(key))]
            if len(found_parts) == 1:
                best = (*found_parts[0], paths)
            else:
                merged: dict[Hashable, Document] = {}
                for documents, _ in found_parts:
                    merged.update(documents)
                best = (merged, len(merged) <= 1, paths)
        return best

    def first_sorted(
        self, paths: tuple[str, ...], hints: Mapping[str, list[Any]], sort: Any, sort_id: Hashable
    ) -> Document | None:
        """The first document by ``sort`` among the buckets of ``paths`` that ``hints`` name."""
        per_path = [list(dict.fromkeys(index_key(value) for value in hints[path])) for path in paths]
        keys = per_path[0] if len(paths) == 1 else list(itertools.product(*per_path))
        hashed = self.hashed[paths]
        tops = [top for key in keys if (top := hashed.first(key, sort, sort_id, self.seq)) is not None]
        return min(tops).document if tops else None

    def natural(self, found: Mapping[Hashable, Document], in_order: bool) -> Iterable[Document]:
        """The documents of ``found`` in natural order."""
        if in_order:
            return found.values()
        return [found[key] for key in sorted(found, key=self.seq.__getitem__)]


def hashed_paths(indexes: Iterable[IndexSpec]) -> list[tuple[str, ...]]:
    """The hash indexes a collection may keep, widest first: the always-on ones, each field of a
    created index, and the fields of a non-unique compound index together (a unique one
    answers by itself)."""
    wanted = list(ALWAYS_HASHED)
    for spec in indexes:
        fields = tuple(name for name, _ in spec.keys)
        compound = [fields] if len(fields) > 1 and not spec.unique else []
        for paths in [(name,) for name in fields] + compound:
            if paths not in wanted and paths != ("_id",):
                wanted.append(paths)
    return sorted(wanted, key=len, reverse=True)


class Store:
    """Every collection of one store. Mutated only through :meth:`apply`."""

    __slots__ = ("collections",)

    def __init__(self) -> None:
        self.collections: dict[str, Collection] = {}

    def get(self, name: str) -> Collection | None:
        return self.collections.get(name)

    def _create(self, name: str) -> Collection:
        collection = self.collections.get(name)
        if collection is None:
            collection = self.collections[name] = Collection(name)
        return collection

    def apply(self, effects: Iterable[Effect]) -> None:
        """Apply checked effects: the one path by which the state changes."""
        for kind, name, payload in effects:
            if kind == "put":
                self._create(name).put(payload)
            elif kind == "patch":
                self._create(name).patch(*payload)
            elif kind == "del":
                collection = self.collections.get(name)
                if collection is not None:
                    collection.delete(index_key(payload))
            elif kind == "index":
                self._create(name).add_index(payload)
            elif kind == "unindex":
                collection = self.collections.get(name)
                if collection is not None:
                    collection.remove_index(payload)
            elif kind == "drop":
                self.collections.pop(name, None)
            else:  # pragma: no cover - effects are built by this package only
                raise ValueError(f"unknown effect {kind!r}")
