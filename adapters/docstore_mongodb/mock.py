"""The mongomock engine (``mongomock://NAME[/db]``): mongomock's storage, MongoDB's answers.

mongomock departs from MongoDB in many places (``{"a": 1}`` matches ``true``, embedded
documents compare without key order, ``$size`` counts a sub-document's keys, a failed
update is half applied, unique indexes treat ``1`` and ``true`` alike, ...; see
``tests/test_mongomock_faithful.py``). So this engine keeps the documents in mongomock's
own store (``mongomock.store``: the objects behind every ``mongomock.MongoClient``) and
answers every query itself with :mod:`docstore.query`, the evaluator every docstore
engine shares, under one process-wide lock, because mongomock is not thread-safe:

* reads take the stored documents (all of a collection's, or the few an ``_id``
  equality names), match, sort, skip, limit and project them in Python, and return
  copies;
* writes compute every new document first (a failing update changes nothing), check
  ``_id`` and unique indexes with MongoDB's equality (:mod:`docstore_mongodb.keys`),
  then store whole new documents; stored documents are never changed in place.

Every engine opened on the same ``NAME`` in a process shares the data;
:attr:`MongomockEngine.mongomock_client` is a plain mongomock client over the same store.
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from docstore.documents import new_id
from docstore.engine import Capabilities, Engine, IndexSpec, UpdateOutcome
from docstore.errors import DuplicateKeyError, InvalidOperation, MissingDependency
from docstore.extras import install_command
from docstore.uri import ParsedURI
from docstore_mongodb.keys import id_keys, identical, store_key, value_key
from docstore_mongodb.unique import Change, UniqueIndexes, first_clash

if TYPE_CHECKING:
    from docstore.query import Filter, Projection, Sort, Update

__all__ = ["MongomockEngine"]

DEFAULT_DATABASE = "docstore"
_ID_INDEX = IndexSpec("_id_", (("_id", 1),), unique=True)

_LOCK = threading.RLock()
_SERVERS: dict[str, Any] = {}  # NAME -> mongomock.store.ServerStore, shared in the process
_UNIQUE = UniqueIndexes()  # every collection store's unique-key maps, guarded by _LOCK


def _before_fork() -> None:
    _LOCK.acquire()  # no thread may be half-way through a store change when the child copies it


def _after_fork_in_parent() -> None:
    _LOCK.release()


def _after_fork_in_child() -> None:
    global _LOCK
    _LOCK = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child)


class MongomockEngine(Engine):
    """mongomock as the store, docstore's evaluator for MongoDB's semantics, one lock for thread safety."""

    capabilities = Capabilities(
        persistent=False,
        multi_process=False,
        atomic_multi_update=False,
        description="mongomock, in process (queries answered by docstore.query under one lock)",
    )

    def __init__(self, name: str, database: str = DEFAULT_DATABASE, *, uri: str = "") -> None:
        try:
            from mongomock.store import ServerStore
        except ImportError as exc:
            install = install_command("mongomock")  # what works for how docstore was installed (a clone: -e .)
            raise MissingDependency(f"the mongomock:// engine needs mongomock: {install}", package=install) from exc
        self.uri = uri or f"mongomock://{name}/{database}"
        self.name = name
        self._database_name = database
        with _LOCK:
            server = _SERVERS.get(name)
            if server is None:
                server = _SERVERS[name] = ServerStore()  # type: ignore[no-untyped-call]
            self._db = server[database]

    @classmethod
    def from_uri(cls, parsed: ParsedURI, **options: Any) -> MongomockEngine:
        """``mongomock://NAME[/db]``; ``options`` (pymongo client options) are accepted and unused."""
        name = ",".join(f"{host}:{port}" if port else host for host, port in parsed.hosts)
        return cls(name, parsed.database or DEFAULT_DATABASE, uri=parsed.redacted)

    @property
    def mongomock_client(self) -> Any:
        """A plain ``mongomock.MongoClient`` over this store's data (mongomock's semantics, no lock)."""
        import mongomock

        return mongomock.MongoClient(_store=_SERVERS[self.name])

    def _store(self, collection: str) -> Any:
        return self._db[collection]

    # -- reads -----------------------------------------------------------------------
    def find(
        self,
        collection: str,
        filter: Filter,
        *,
        projection: Projection | None = None,
        sort: Sort | None = None,
        skip: int = 0,
        limit: int = 0,
    ) -> list[dict[str, Any]]:
        with _LOCK:
            store = self._store(collection)
            if sort is not None and sort.keys:
                found = list(sort.sort(self._matching(store, filter)))
                window = found[skip : skip + limit] if limit else found[skip:]
            else:
                window = self._matching(store, filter, stop_after=skip + limit if limit else 0)[skip:]
            return [_output(doc, projection) for doc in window]

    def count(self, collection: str, filter: Filter) -> int:
        with _LOCK:
            return len(self._matching(self._store(collection), filter))

    def _matching(self, store: Any, filter: Filter, *, stop_after: int = 0) -> list[dict[str, Any]]:
        found = []
        for doc in self._candidates(store, filter.spec):
            if filter.matches(doc):
                found.append(doc)
                if len(found) == stop_after:
                    break
        return found

    @staticmethod
    def _candidates(store: Any, spec: dict[str, Any]) -> list[dict[str, Any]]:
        """The stored documents that may match: those an ``_id`` equality names, else all."""
        keys = id_keys(spec)
        if keys is None:
            return list(store.documents)  # a list: the generator holds mongomock's read lock
        return [store[key] for key in keys if key in store]

    def _first(self, store: Any, filter: Filter, sort: Sort | None) -> dict[str, Any] | None:
        if sort is not None and sort.keys:
            found = self._matching(store, filter)
            return first_in_order(found, sort) if found else None
        found = self._matching(store, filter, stop_after=1)
        return found[0] if found else None

    # -- writes ----------------------------------------------------------------------
    def insert(self, collection: str, documents: list[dict[str, Any]]) -> None:
        with _LOCK:
            self._insert(collection, self._store(collection), [_clone(_id_first(doc)) for doc in documents])

    def _insert(self, collection: str, store: Any, documents: list[dict[str, Any]]) -> None:
        """Insert in order, stopping at the first duplicate as MongoDB's ordered insert does."""
        changes: list[Change] = []
        error: DuplicateKeyError | None = None
        batch: set[Hashable] = set()
        for doc in documents:
            key = store_key(doc["_id"])
            if key in batch or key in store:
                error = self._duplicate(collection, "_id_", {"_id": doc["_id"]})
                break
            batch.add(key)
            changes.append(Change(key, None, doc))
        clash = _UNIQUE.first_conflict(store, changes)
        if clash is not None:
            error = self._duplicate(collection, clash.index_name, clash.key)
            changes = changes[: clash.position]
        store.create()
        for change in changes:
            store[change.key] = change.new
        _UNIQUE.record(store, changes)
        if error is not None:
            raise error

    def find_one_and_update(
        self,
        collection: str,
        filter: Filter,
        update: Update,
        *,
        sort: Sort | None = None,
        projection: Projection | None = None,
        upsert: bool = False,
        return_after: bool = True,
    ) -> dict[str, Any] | None:
        with _LOCK:
            store = self._store(collection)
            old = self._first(store, filter, sort)
            if old is None:
                if not upsert:
                    return None
                doc = _upserted(filter, update)
                self._insert(collection, store, [doc])
                return _output(doc, projection) if return_after else None
            new = self._write(collection, store, [old], update)[0]
            return _output(new if return_after else old, projection)

    def update(
        self, collection: str, filter: Filter, update: Update, *, upsert: bool = False, multi: bool = False
    ) -> UpdateOutcome:
        with _LOCK:
            store = self._store(collection)
            targets = self._matching(store, filter, stop_after=0 if multi else 1)
            if not targets:
                if not upsert:
                    return UpdateOutcome()
                doc = _upserted(filter, update)
                self._insert(collection, store, [doc])
                return UpdateOutcome(upserted_id=doc["_id"])
            news = self._write(collection, store, targets, update)
            modified = sum(1 for old, new in zip(targets, news, strict=True) if not identical(old, new))
            return UpdateOutcome(len(targets), modified)

    def _write(self, collection: str, store: Any, olds: list[dict[str, Any]], update: Update) -> list[dict[str, Any]]:
        """Apply ``update`` to every document of ``olds``, then store them all, or none."""
        changes = [Change(store_key(old["_id"]), old, _applied(update, old)) for old in olds]
        clash = _UNIQUE.first_conflict(store, changes)
        if clash is not None:
            raise self._duplicate(collection, clash.index_name, clash.key)
        for change in changes:
            if change.old is None or not identical(change.old, change.new):
                store[change.key] = change.new
        _UNIQUE.record(store, changes)
        return [change.new for change in changes]

    def delete(self, collection: str, filter: Filter, *, multi: bool = False) -> int:
        with _LOCK:
            store = self._store(collection)
            targets = self._matching(store, filter, stop_after=0 if multi else 1)
            for doc in targets:
                del store[store_key(doc["_id"])]
            _UNIQUE.forget(store, targets)
            return len(targets)

    # -- unique indexes ------------------------------------------------------------
    def _duplicate(self, collection: str, index: str, key: dict[str, Any]) -> DuplicateKeyError:
        shown = ", ".join(f"{field}: {value!r}" for field, value in key.items())
        return DuplicateKeyError(
            f"E11000 duplicate key error collection: {self._database_name}.{collection} "
            f"index: {index} dup key: {{ {shown} }}",
            collection=collection,
            index=index,
            key=key,
        )

    # -- indexes and collections ---------------------------------------------------
    def create_index(self, collection: str, index: IndexSpec) -> str:
        with _LOCK:
            store = self._store(collection)
            existing = self._indexes(store)
            same_name = existing.get(index.name)
            if same_name is not None:
                if same_name.keys == index.keys and same_name.unique == index.unique:
                    return index.name
                raise InvalidOperation(
                    f"an index named {index.name!r} already exists on {collection!r} with keys "
                    f"{list(same_name.keys)} unique={same_name.unique} (IndexKeySpecsConflict)",
                    operator="create_index",
                )
            for other in existing.values():
                if other.keys == index.keys:
                    raise InvalidOperation(
                        f"index {list(index.keys)} already exists on {collection!r} with a different name: "
                        f"{other.name!r} (IndexOptionsConflict)",
                        operator="create_index",
                    )
            spec: dict[str, Any] = {"key": list(index.keys)}
            if index.unique:
                spec["unique"] = True
                clash = first_clash(tuple(field for field, _ in index.keys), list(store.documents))
                if clash is not None:
                    raise self._duplicate(collection, index.name, clash)
            store.create()
            store.create_index(index.name, spec)
            return index.name

    def index_information(self, collection: str) -> dict[str, IndexSpec]:
        with _LOCK:
            return self._indexes(self._store(collection))

    @staticmethod
    def _indexes(store: Any) -> dict[str, IndexSpec]:
        found = {"_id_": _ID_INDEX}
        for name, info in store.indexes.items():
            keys = tuple((str(field), int(direction)) for field, direction in info["key"])
            found[name] = IndexSpec(name, keys, unique=bool(info.get("unique", False)))
        return found

    def drop_index(self, collection: str, name: str) -> None:
        with _LOCK:
            store = self._store(collection)
            if name not in store.indexes:
                raise InvalidOperation(
                    f"index not found with name [{name}] in {collection!r} (IndexNotFound)", operator="drop_index"
                )
            store.drop_index(name)
            _UNIQUE.clear(store)

    def drop(self, collection: str) -> None:
        with _LOCK:
            store = self._store(collection)
            store.drop()
            _UNIQUE.clear(store)

    def list_collections(self) -> list[str]:
        with _LOCK:
            return list(self._db.list_created_collection_names())


def first_in_order(docs: list[dict[str, Any]], sort: Sort) -> dict[str, Any]:
    """``sort.sort(docs)[0]`` in one pass: ``min``/``max`` keep the first of equals, as a stable sort does.

    On one top-level field whose values are all numbers (no bool, no NaN), all strings or
    all datetimes, Python's own order is BSON's, so the values are compared directly (the
    reservation of the oldest trial, say); anything else goes through ``sort.key``.
    """
    (field, direction), *others = sort.keys
    pick = min if direction == 1 else max
    if not others and "." not in field:
        values: list[Any] = [doc.get(field) for doc in docs]
        kinds = {_NATIVE_KINDS.get(type(value)) for value in values}
        if len(kinds) == 1 and None not in kinds and all(value == value for value in values):  # no NaN
            return docs[pick(range(len(docs)), key=lambda position: values[position])]
    return min(docs, key=sort.key)


_NATIVE_KINDS = {int: "number", float: "number", str: "string", _dt.datetime: "date"}


def _clone(doc: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a document's containers (its scalars are immutable)."""
    return {name: _clone_value(item) for name, item in doc.items()}


def _clone_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: _clone_value(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_clone_value(item) for item in value]
    return value


def _id_first(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with ``_id`` as its first field, as MongoDB stores it (one is added if missing)."""
    if "_id" not in doc:
        return {"_id": new_id(), **doc}
    if next(iter(doc)) == "_id":
        return doc
    return {"_id": doc["_id"], **{name: value for name, value in doc.items() if name != "_id"}}


def _applied(update: Update, old: dict[str, Any]) -> dict[str, Any]:
    """``update`` applied to ``old`` (which it copies, never changes); ``_id`` is immutable, as in MongoDB."""
    new = update.apply(old)
    if "_id" not in new and update.is_replacement:
        return {"_id": old["_id"], **new}
    if "_id" not in new or value_key(new["_id"]) != value_key(old["_id"]):
        operator = "replacement"
        if not update.is_replacement:
            operator = next((op for op, fields in update.spec.items() if "_id" in fields), "$set")
        raise InvalidOperation(
            f"performing an update on the path '_id' would modify the immutable field '_id' "
            f"(was {old['_id']!r}, would be {new.get('_id', 'removed')!r})",
            operator=operator,
            path="_id",
        )
    return _id_first(new)


def _upserted(filter: Filter, update: Update) -> dict[str, Any]:
    """The document an upsert inserts, with a new docstore id unless the filter or update fixes one."""
    doc = _id_first(update.apply_upsert(filter))
    store_key(doc["_id"])
    return _clone(doc)


def _output(doc: dict[str, Any], projection: Projection | None) -> dict[str, Any]:
    return _clone(doc if projection is None else projection.apply(doc))
