"""``DocstoreDB``: an Orion ``Database`` on any docstore engine.

Orion's Legacy storage keeps experiments, trials and algorithm locks in a ``Database``
(``read``, ``write``, ``read_and_write``, ``count``, ``remove`` and indexes). This one
stores them with docstore, so Legacy runs on a locked JSON file, MongoDB or mongomock::

    storage:
      type: legacy
      database:
        type: docstoredb
        host: study.json          # or mongodb://..., mongomock://name, memory://

Orion finds the class by its lower-cased name through the ``Database`` entry-point group.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orion.core
from orion.core.io.database import Database, DatabaseError

import docstore
from docstore.uri import parse_uri, redact
from docstore_orion._convert import database_errors, to_docstore, to_orion

__all__ = ["DEFAULT_HOST", "DocstoreDB", "store_uri"]

DEFAULT_HOST = os.path.join(orion.core.DIRS.user_data_dir, "orion", "orion_db.json")
"""Where the store lives when ``host`` is not set: next to Orion's default ``orion_db.pkl``."""

_MONGODB_SCHEMES = ("mongodb", "mongodb+srv")
_STATE_KEYS = ("host", "name", "port", "username", "password", "options")


def store_uri(
    host: str | None,
    name: str | None = None,
    username: str | None = None,
    password: str | None = None,
) -> str:
    """The docstore URI for Orion's database settings.

    A path (``study.json``) is made absolute, so that workers that change directory
    open the same file. A MongoDB URI without a database gets ``name`` (Orion's
    default is ``orion``) and, when it has none, the ``username``/``password``.
    """
    host = host or DEFAULT_HOST
    parsed = parse_uri(host)
    if parsed.scheme == "json" and "://" not in host:
        return os.path.abspath(os.path.expanduser(host))
    if parsed.scheme not in _MONGODB_SCHEMES:
        return host
    head, sep, query = host.partition("?")
    scheme, rest = head.split("://", 1)
    if username and parsed.username is None:
        credentials = quote(username, safe="")
        if password:
            credentials += ":" + quote(password, safe="")
        rest = f"{credentials}@{rest}"
    if not parsed.database and name:
        rest = rest.rstrip("/") + "/" + name
    return f"{scheme}://{rest}{sep}{query}"


def _index_keys(keys: str | Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """Orion's index keys (``Database.ASCENDING`` is 0, ``DESCENDING`` 1) as pymongo's (1, -1)."""
    if isinstance(keys, str):
        return [(keys, 1)]
    converted = []
    for key, order in keys:
        if order not in (Database.ASCENDING, Database.DESCENDING):
            raise DatabaseError(f"invalid index sort order {order!r} for key {key!r}")
        converted.append((key, 1 if order == Database.ASCENDING else -1))
    return converted


def _split_id(query: Mapping[str, Any] | None, data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Move ``_id`` from a ``$set`` into the filter: ``_id`` is immutable, setting it to
    its own value (Legacy's ``push_trial_results`` does) is a match on it."""
    where: dict[str, Any] = to_docstore(dict(query or {}))
    changes: dict[str, Any] = to_docstore(dict(data))
    if "_id" in changes:
        uid = changes.pop("_id")
        where = {"$and": [where, {"_id": uid}]} if where else {"_id": uid}
    return where, changes


class DocstoreDB(Database):  # type: ignore[misc]  # Orion is untyped
    """Orion's ``Database`` API over a docstore store.

    ``host`` is a docstore URI or a path to a JSON file; ``name``, ``username`` and
    ``password`` complete a MongoDB URI that lacks them; ``port`` is ignored (put it in
    the URI). Other keyword options go to :func:`docstore.connect`.
    """

    _db: docstore.Database | None
    _conn: docstore.Database | None

    def __init__(
        self,
        host: str | None = None,
        name: str | None = None,
        port: int | str | None = None,
        username: str | None = None,
        password: str | None = None,
        **options: Any,
    ) -> None:
        self.uri = store_uri(host or DEFAULT_HOST, name, username, password)
        self._database: docstore.Database | None = None
        self._borrowed = False
        super().__init__(host or DEFAULT_HOST, name, port, username, password, **options)

    @classmethod
    def from_database(cls, database: docstore.Database, uri: str) -> DocstoreDB:
        """A ``DocstoreDB`` over an already open store (sharing it, so ``memory://`` stays one store)."""
        self = cls.__new__(cls)
        self.host, self.name, self.port, self.username, self.password, self.options = uri, None, None, None, None, {}
        self.uri = uri
        self._database = self._db = self._conn = database
        self._borrowed = True  # its owner closes it
        return self

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}(host={redact(self.uri)})"

    # -- connection ---------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        return self._database is not None

    def initiate_connection(self) -> None:
        """Open the store, unless it is open. Raises Orion's ``DatabaseError`` if it cannot."""
        if self._database is not None:
            return
        try:
            self._database = docstore.connect(self.uri, **self.options)
        except docstore.DocstoreError as exc:
            raise DatabaseError(f"cannot open docstore {redact(self.uri)}: {exc}") from exc
        self._db = self._conn = self._database

    def close_connection(self) -> None:
        """Close the store. The next operation opens it again, as Orion's MongoDB does."""
        if self._database is not None and not self._borrowed:
            self._database.close()
        self._database = self._db = self._conn = None
        self._borrowed = False

    @property
    def database(self) -> docstore.Database:
        """The open :class:`docstore.Database` (opened again after ``close_connection``)."""
        if self._database is None:
            self.initiate_connection()
        assert self._database is not None
        return self._database

    def __getstate__(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in _STATE_KEYS} | {"uri": self.uri}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key in _STATE_KEYS:
            setattr(self, key, state[key])
        self.uri = state["uri"]
        self._database = self._db = self._conn = None
        self._borrowed = False
        self.initiate_connection()

    # -- indexes ------------------------------------------------------------------
    def ensure_index(self, collection_name: str, keys: str | Sequence[tuple[str, int]], unique: bool = False) -> None:
        with database_errors():
            self.database[collection_name].create_index(_index_keys(keys), unique=unique)

    def index_information(self, collection_name: str) -> dict[str, bool]:
        """``{index name: unique}``, ``_id_`` included, as Orion's MongoDB backend gives."""
        with database_errors():
            info = self.database[collection_name].index_information()
        return {name: bool(spec.get("unique")) or name == "_id_" for name, spec in info.items()}

    def drop_index(self, collection_name: str, name: str) -> None:
        if name not in self.index_information(collection_name):
            raise DatabaseError(f"index not found with name {name}")
        with database_errors():
            self.database[collection_name].drop_index(name)

    # -- documents ----------------------------------------------------------------
    def write(
        self,
        collection_name: str,
        data: dict[str, Any] | Sequence[dict[str, Any]],
        query: dict[str, Any] | None = None,
    ) -> int:
        """Insert ``data`` (giving each dict its new ``_id``), or ``$set`` it on every match.

        Returns how many documents were inserted, or how many matched the update: a
        compare-and-set whose filter matched succeeded, even if no value changed.
        """
        collection = self.database[collection_name]
        if query is None:
            documents = [data] if isinstance(data, dict) else list(data)
            with database_errors():
                ids = collection.insert_many([to_docstore(doc) for doc in documents]).inserted_ids
            for document, new_id in zip(documents, ids, strict=True):
                document.setdefault("_id", new_id)  # as pymongo does, Legacy reads it back
            return len(ids)
        assert isinstance(data, Mapping)
        where, changes = _split_id(query, data)
        with database_errors():
            if not changes:
                return collection.count_documents(where)
            return collection.update_many(where, {"$set": changes}).matched_count

    def read(
        self, collection_name: str, query: dict[str, Any] | None = None, selection: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        with database_errors():
            found = self.database[collection_name].find(to_docstore(query or {}), selection or None)
            return [to_orion(doc) for doc in found]

    def read_and_write(
        self,
        collection_name: str,
        query: dict[str, Any],
        data: dict[str, Any],
        selection: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Atomically ``$set`` ``data`` on the first match; the document after, or None."""
        collection = self.database[collection_name]
        where, changes = _split_id(query, data)
        with database_errors():
            if not changes:
                found = collection.find_one(where, selection or None)
            else:
                found = collection.find_one_and_update(
                    where,
                    {"$set": changes},
                    projection=selection or None,
                    return_document=docstore.ReturnDocument.AFTER,
                )
        return None if found is None else to_orion(found)

    def count(self, collection_name: str, query: dict[str, Any] | None = None) -> int:
        with database_errors():
            return self.database[collection_name].count_documents(to_docstore(query or {}))

    def remove(self, collection_name: str, query: dict[str, Any]) -> int:
        with database_errors():
            return self.database[collection_name].delete_many(to_docstore(query or {})).deleted_count

    @classmethod
    def get_defaults(cls) -> dict[str, Any]:
        return {"host": DEFAULT_HOST}
