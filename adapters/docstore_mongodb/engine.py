"""The MongoDB engine (``mongodb://``, ``mongodb+srv://``): a thin translation onto pymongo.

The facade hands over validated, canonical filters, updates, projections and sorts; this
engine forwards their ``spec`` to the server unchanged, so MongoDB itself evaluates them.
Each single-document verb is one round trip (one command on the wire). The one exception
is an upserting *replacement* whose filter does not fix ``_id``: docstore's ids are
strings, and a replacement cannot say "this ``_id`` only if inserting", so such a call
first tries to replace (one round trip when a document matches) and inserts with a new
id only when nothing matched.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from bson.errors import BSONError
from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import OperationFailure, PyMongoError

from docstore.documents import new_id
from docstore.engine import Capabilities, Engine, IndexSpec, UpdateOutcome
from docstore.errors import InvalidOperation
from docstore.uri import ParsedURI
from docstore_mongodb import clients
from docstore_mongodb.errors import ErrorContext, translate

if TYPE_CHECKING:
    from pymongo import MongoClient

    from docstore.query import Filter, Projection, Sort, Update

__all__ = ["MongoEngine"]

DEFAULT_DATABASE = "docstore"
_REPLACE_ATTEMPTS = 5  # replace-or-insert loop bound (see _replace_upsert)
IMMUTABLE_FIELD = 66  # the server's code when a replacement would change a matched _id


class MongoEngine(Engine):
    """A MongoDB database through pymongo, one shared ``MongoClient`` per process and URI."""

    capabilities = Capabilities(
        persistent=True,
        multi_process=True,
        atomic_multi_update=False,
        description="MongoDB through pymongo",
    )

    def __init__(self, parsed: ParsedURI, **options: Any) -> None:
        self.uri = parsed.redacted
        self._raw_uri = parsed.raw
        self._options = clients.client_options(parsed.options, options)
        self._database_name = parsed.database or DEFAULT_DATABASE
        hosts = ",".join(f"{host}:{port}" if port else host for host, port in parsed.hosts) or "(default)"
        self._context = ErrorContext(self.uri, hosts, self._database_name, parsed.password)
        self._key: Hashable | None = None
        self._client: MongoClient[dict[str, Any]] | None = None
        self._pid = 0
        self._connect()

    @classmethod
    def from_uri(cls, parsed: ParsedURI, **options: Any) -> MongoEngine:
        """The registry's constructor; ``options`` go to ``MongoClient`` (e.g. ``event_listeners``)."""
        return cls(parsed, **options)

    # -- the shared client ---------------------------------------------------------
    def _connect(self) -> MongoClient[dict[str, Any]]:
        with self._errors("", "connect"):
            self._key, self._client = clients.acquire(self._raw_uri, self._options)
        self._pid = os.getpid()
        return self._client

    @property
    def client(self) -> MongoClient[dict[str, Any]]:
        """This process's shared ``MongoClient`` (a forked child, or a reopened engine, acquires one)."""
        client = self._client
        if client is not None and self._pid == os.getpid():
            return client
        with clients.locked():  # two threads must not both acquire (the count would leak)
            if self._client is None or self._pid != os.getpid():
                return self._connect()
            return self._client

    @property
    def database(self) -> Database[dict[str, Any]]:
        return self.client[self._database_name]

    def _collection(self, name: str) -> Collection[dict[str, Any]]:
        return self.client[self._database_name][name]

    def close(self) -> None:
        with clients.locked():
            if self._key is not None and self._pid == os.getpid():
                clients.release(self._key)
            self._key = self._client = None

    @contextmanager
    def _errors(self, collection: str, verb: str, update: Update | None = None) -> Iterator[None]:
        try:
            yield
        except (PyMongoError, BSONError) as exc:
            raise translate(exc, self._context, collection, verb, None if update is None else update.spec) from exc

    # -- writes ----------------------------------------------------------------------
    def insert(self, collection: str, documents: list[dict[str, Any]]) -> None:
        coll = self._collection(collection)
        with self._errors(collection, "insert"):
            if len(documents) == 1:
                coll.insert_one(documents[0])
            else:
                coll.insert_many(documents, ordered=True)

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
        coll = self._collection(collection)
        kwargs: dict[str, Any] = {
            "projection": _projection(projection),
            "sort": _sort(sort),
            "return_document": ReturnDocument.AFTER if return_after else ReturnDocument.BEFORE,
        }
        with self._errors(collection, "find_one_and_update", update):
            if not update.is_replacement:
                spec = _with_string_id(filter.spec, update.spec) if upsert else update.spec
                return coll.find_one_and_update(filter.spec, spec, upsert=upsert, **kwargs)
            if not upsert or _fixes_id(filter.spec, update.spec):
                return coll.find_one_and_replace(filter.spec, update.spec, upsert=upsert, **kwargs)
            for _ in range(_REPLACE_ATTEMPTS):
                found = coll.find_one_and_replace(filter.spec, update.spec, **kwargs)
                if found is not None:
                    return found
                seeded = {"_id": new_id(), **update.spec}
                try:
                    return coll.find_one_and_replace(filter.spec, seeded, upsert=True, **kwargs)
                except OperationFailure as exc:  # a match appeared in between: replace it instead
                    if exc.code != IMMUTABLE_FIELD:
                        raise
        raise InvalidOperation(f"upsert on {collection!r} kept racing with concurrent writers", operator="upsert")

    def update(
        self, collection: str, filter: Filter, update: Update, *, upsert: bool = False, multi: bool = False
    ) -> UpdateOutcome:
        coll = self._collection(collection)
        with self._errors(collection, "update", update):
            if update.is_replacement:
                if upsert and not _fixes_id(filter.spec, update.spec):
                    return self._replace_upsert(coll, filter.spec, update.spec)
                result = coll.replace_one(filter.spec, update.spec, upsert=upsert)
            elif multi:
                spec = _with_string_id(filter.spec, update.spec) if upsert else update.spec
                result = coll.update_many(filter.spec, spec, upsert=upsert)
            else:
                spec = _with_string_id(filter.spec, update.spec) if upsert else update.spec
                result = coll.update_one(filter.spec, spec, upsert=upsert)
        return UpdateOutcome(result.matched_count, result.modified_count, result.upserted_id)

    def _replace_upsert(
        self, coll: Collection[dict[str, Any]], filter_spec: dict[str, Any], replacement: dict[str, Any]
    ) -> UpdateOutcome:
        for _ in range(_REPLACE_ATTEMPTS):
            result = coll.replace_one(filter_spec, replacement)
            if result.matched_count:
                return UpdateOutcome(result.matched_count, result.modified_count)
            try:
                result = coll.replace_one(filter_spec, {"_id": new_id(), **replacement}, upsert=True)
            except OperationFailure as exc:  # a match appeared in between: replace it instead
                if exc.code != IMMUTABLE_FIELD:
                    raise
                continue
            return UpdateOutcome(result.matched_count, result.modified_count, result.upserted_id)
        raise InvalidOperation(f"upsert on {coll.name!r} kept racing with concurrent writers", operator="upsert")

    def delete(self, collection: str, filter: Filter, *, multi: bool = False) -> int:
        coll = self._collection(collection)
        with self._errors(collection, "delete"):
            result = coll.delete_many(filter.spec) if multi else coll.delete_one(filter.spec)
        return result.deleted_count

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
        coll = self._collection(collection)
        with self._errors(collection, "find"):
            cursor = coll.find(filter.spec, _projection(projection), skip=skip, limit=limit, sort=_sort(sort))
            return list(cursor)

    def count(self, collection: str, filter: Filter) -> int:
        with self._errors(collection, "count"):
            return self._collection(collection).count_documents(filter.spec)

    # -- indexes and collections ---------------------------------------------------
    def create_index(self, collection: str, index: IndexSpec) -> str:
        with self._errors(collection, "create_index"):
            return self._collection(collection).create_index(list(index.keys), name=index.name, unique=index.unique)

    def index_information(self, collection: str) -> dict[str, IndexSpec]:
        with self._errors(collection, "index_information"):
            info = self._collection(collection).index_information()
        found = {"_id_": IndexSpec("_id_", (("_id", 1),), unique=True)}
        for name, entry in info.items():
            if name == "_id_":
                continue
            keys = tuple((str(field), _direction(direction)) for field, direction in entry["key"])
            found[name] = IndexSpec(name, keys, unique=bool(entry.get("unique", False)))
        return found

    def drop_index(self, collection: str, name: str) -> None:
        with self._errors(collection, "drop_index"):
            self._collection(collection).drop_index(name)

    def drop(self, collection: str) -> None:
        with self._errors(collection, "drop"):
            self._collection(collection).drop()

    def list_collections(self) -> list[str]:
        with self._errors("", "list_collections"):
            names = self.database.list_collection_names()
        return [name for name in names if not name.startswith("system.")]


def _direction(direction: Any) -> int:
    """An index key's direction: 1 or -1, or (for a text, hashed, 2d... index made elsewhere) its kind as is."""
    if isinstance(direction, (int, float)):
        return int(direction)
    return direction  # type: ignore[no-any-return]


def _projection(projection: Projection | None) -> dict[str, Any] | None:
    return None if projection is None else projection.spec


def _sort(sort: Sort | None) -> list[tuple[str, int]] | None:
    return None if sort is None or not sort.keys else [(field, int(direction)) for field, direction in sort.keys]


def _is_equality(condition: Any) -> bool:
    """True when a filter condition fixes the value (implicit equality or ``$eq``)."""
    if isinstance(condition, Mapping) and condition and all(str(k).startswith("$") for k in condition):
        return "$eq" in condition
    return True


def _fixes_id(filter_spec: Mapping[str, Any], update_spec: Mapping[str, Any]) -> bool:
    """True when an upsert's inserted document gets its ``_id`` from the filter or the update.

    MongoDB seeds an upserted document from the filter's equalities (also inside
    ``$and``); an update may set ``_id`` with ``$set``/``$setOnInsert``, a replacement
    by containing it.
    """
    if "_id" in update_spec:
        return True
    for operator in ("$set", "$setOnInsert"):
        fields = update_spec.get(operator)
        if isinstance(fields, Mapping) and any(name == "_id" or name.startswith("_id.") for name in fields):
            return True
    for name, condition in filter_spec.items():
        if (name == "_id" or name.startswith("_id.")) and _is_equality(condition):
            return True
        if name == "$and" and any(_fixes_id(clause, {}) for clause in condition):
            return True
    return False


def _with_string_id(filter_spec: Mapping[str, Any], update_spec: dict[str, Any]) -> dict[str, Any]:
    """``update_spec`` plus ``$setOnInsert: {_id: new_id()}`` unless the insert's ``_id`` is already fixed."""
    if _fixes_id(filter_spec, update_spec):
        return update_spec
    on_insert = dict(update_spec.get("$setOnInsert") or {})
    on_insert["_id"] = new_id()
    return {**update_spec, "$setOnInsert": on_insert}
