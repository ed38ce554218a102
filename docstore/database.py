"""The pymongo-shaped facade: ``connect(uri) -> Database``, ``db["trials"] -> Collection``.

Every argument is validated and canonicalised here, once, before it reaches an engine,
so every engine accepts exactly the same language and rejects the rest with the same
error, and bad input never changes a store.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from docstore import query
from docstore.documents import canonical, new_id
from docstore.engine import Engine, IndexSpec
from docstore.errors import InvalidDocument, UnsupportedQuery
from docstore.registry import load_engine_class
from docstore.uri import parse_uri, redact

__all__ = [
    "Collection",
    "Cursor",
    "Database",
    "DeleteResult",
    "InsertManyResult",
    "InsertOneResult",
    "ReturnDocument",
    "UpdateResult",
    "connect",
]

SortSpec = Sequence[tuple[str, int]] | Mapping[str, int] | str | None


class ReturnDocument(enum.IntEnum):
    """Which version ``find_one_and_update`` returns (pymongo's values: BEFORE is False)."""

    BEFORE = 0
    AFTER = 1


@dataclass(frozen=True)
class InsertOneResult:
    inserted_id: str
    acknowledged: bool = True


@dataclass(frozen=True)
class InsertManyResult:
    inserted_ids: list[str]
    acknowledged: bool = True


@dataclass(frozen=True)
class UpdateResult:
    matched_count: int
    modified_count: int
    upserted_id: str | None = None
    acknowledged: bool = True


@dataclass(frozen=True)
class DeleteResult:
    deleted_count: int
    acknowledged: bool = True


def connect(uri: str, **options: Any) -> Database:
    """Open the store at ``uri``: a ``.json`` path, ``json://``, ``memory://``, ``mongodb://``, ...

    Keyword options are passed to the engine (for instance ``lock_timeout`` for the JSON
    engine, or pymongo client options for MongoDB).
    """
    parsed = parse_uri(uri)
    engine_class = load_engine_class(parsed.scheme)
    engine = engine_class.from_uri(parsed, **options)  # type: ignore[attr-defined]
    return Database(engine)


def _filter(spec: Mapping[str, Any] | None) -> query.Filter:
    if spec is not None and not isinstance(spec, Mapping):
        raise UnsupportedQuery(f"a filter must be a dict, not {type(spec).__name__}", operator="filter")
    return query.compile_filter(canonical(spec or {}, allow_regex=True))


def _update(spec: Mapping[str, Any], *, replacement: bool | None = None) -> query.Update:
    if not isinstance(spec, Mapping):
        raise UnsupportedQuery(f"an update must be a dict, not {type(spec).__name__}", operator="update")
    compiled = query.compile_update(canonical(spec))
    if replacement is True and not compiled.is_replacement:
        raise UnsupportedQuery("a replacement document must not contain update operators", operator="replacement")
    if replacement is False and compiled.is_replacement:
        raise UnsupportedQuery("an update needs operators such as $set; use replace_one to replace", operator="update")
    return compiled


def _sort(spec: SortSpec) -> query.Sort | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        spec = [(spec, 1)]
    return query.compile_sort(spec)


def _projection(spec: Mapping[str, Any] | Sequence[str] | None) -> query.Projection | None:
    if spec is None:
        return None
    if not isinstance(spec, Mapping):  # pymongo accepts a list of field names
        spec = dict.fromkeys(spec, 1)
    return query.compile_projection(spec)


def _index_keys(keys: str | Sequence[tuple[str, int]] | Sequence[str]) -> tuple[tuple[str, int], ...]:
    if isinstance(keys, str):
        return ((keys, 1),)
    out: list[tuple[str, int]] = []
    for item in keys:
        if isinstance(item, str):
            out.append((item, 1))
        else:
            name, direction = item
            if direction not in (1, -1):
                raise UnsupportedQuery(f"index direction must be 1 or -1, got {direction!r}", operator=name)
            out.append((name, int(direction)))
    if not out:
        raise UnsupportedQuery("an index needs at least one key", operator="create_index")
    return tuple(out)


class Cursor:
    """The result of :meth:`Collection.find`: iterate it; ``sort``/``skip``/``limit`` chain like pymongo's."""

    def __init__(self, collection: Collection, filter: query.Filter, projection: query.Projection | None) -> None:
        self._collection = collection
        self._filter = filter
        self._projection = projection
        self._sort: query.Sort | None = None
        self._skip = 0
        self._limit = 0
        self._results: list[dict[str, Any]] | None = None

    def sort(self, key_or_list: SortSpec, direction: int | None = None) -> Cursor:
        spec: SortSpec = key_or_list
        if isinstance(key_or_list, str):  # direction 0 must reach validation, not become 1
            spec = [(key_or_list, 1 if direction is None else direction)]
        self._sort = _sort(spec)
        return self

    def skip(self, count: int) -> Cursor:
        if count < 0:
            raise UnsupportedQuery(f"skip must be >= 0, got {count}", operator="skip")
        self._skip = count
        return self

    def limit(self, count: int) -> Cursor:
        if count < 0:
            raise UnsupportedQuery(f"limit must be >= 0, got {count}", operator="limit")
        self._limit = count
        return self

    def _run(self) -> list[dict[str, Any]]:
        if self._results is None:
            self._results = self._collection.database.engine.find(
                self._collection.name,
                self._filter,
                projection=self._projection,
                sort=self._sort,
                skip=self._skip,
                limit=self._limit,
            )
        return self._results

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._run())

    def to_list(self) -> list[dict[str, Any]]:
        return list(self._run())

    def __len__(self) -> int:
        return len(self._run())


class Collection:
    """One collection of a :class:`Database`, with pymongo's verbs and argument names."""

    def __init__(self, database: Database, name: str) -> None:
        if not isinstance(name, str) or not name or name.startswith("$") or "\0" in name:
            raise InvalidDocument(f"bad collection name {name!r}", path=str(name))
        self.database = database
        self.name = name

    @property
    def _engine(self) -> Engine:
        return self.database.engine

    def __repr__(self) -> str:
        return f"Collection({self.database!r}, {self.name!r})"

    # -- writes ------------------------------------------------------------------
    def _prepare(self, document: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(document, Mapping):
            raise InvalidDocument(f"a document must be a dict, not {type(document).__name__}")
        doc: dict[str, Any] = canonical(document)
        if "_id" not in doc:
            doc = {"_id": new_id(), **doc}
        query.validate_document(doc)
        return doc

    def insert_one(self, document: dict[str, Any]) -> InsertOneResult:
        doc = self._prepare(document)
        self._engine.insert(self.name, [doc])
        if isinstance(document, dict):
            document.setdefault("_id", doc["_id"])  # as pymongo does
        return InsertOneResult(doc["_id"])

    def insert_many(self, documents: Iterable[dict[str, Any]]) -> InsertManyResult:
        documents = list(documents)  # a generator must survive being read twice
        docs = [self._prepare(d) for d in documents]
        if not docs:
            raise InvalidDocument("insert_many needs at least one document")
        self._engine.insert(self.name, docs)
        for original, doc in zip(documents, docs, strict=True):
            if isinstance(original, dict):
                original.setdefault("_id", doc["_id"])
        return InsertManyResult([d["_id"] for d in docs])

    def find_one_and_update(
        self,
        filter: Mapping[str, Any],
        update: Mapping[str, Any],
        projection: Mapping[str, Any] | Sequence[str] | None = None,
        sort: SortSpec = None,
        upsert: bool = False,
        return_document: bool | ReturnDocument = ReturnDocument.BEFORE,
    ) -> dict[str, Any] | None:
        """Atomically update the first match; pymongo's default returns the document BEFORE."""
        return self._find_one_and(filter, _update(update, replacement=False), projection, sort, upsert, return_document)

    def find_one_and_replace(
        self,
        filter: Mapping[str, Any],
        replacement: Mapping[str, Any],
        projection: Mapping[str, Any] | Sequence[str] | None = None,
        sort: SortSpec = None,
        upsert: bool = False,
        return_document: bool | ReturnDocument = ReturnDocument.BEFORE,
    ) -> dict[str, Any] | None:
        """Atomically replace the first match (``_id`` kept)."""
        return self._find_one_and(
            filter, _update(replacement, replacement=True), projection, sort, upsert, return_document
        )

    def _find_one_and(
        self,
        filter: Mapping[str, Any],
        update: query.Update,
        projection: Mapping[str, Any] | Sequence[str] | None,
        sort: SortSpec,
        upsert: bool,
        return_document: bool | ReturnDocument,
    ) -> dict[str, Any] | None:
        return self._engine.find_one_and_update(
            self.name,
            _filter(filter),
            update,
            sort=_sort(sort),
            projection=_projection(projection),
            upsert=upsert,
            return_after=bool(return_document),
        )

    def _update(self, filter: Mapping[str, Any], update: query.Update, upsert: bool, multi: bool) -> UpdateResult:
        outcome = self._engine.update(self.name, _filter(filter), update, upsert=upsert, multi=multi)
        return UpdateResult(outcome.matched_count, outcome.modified_count, outcome.upserted_id)

    def update_one(self, filter: Mapping[str, Any], update: Mapping[str, Any], upsert: bool = False) -> UpdateResult:
        return self._update(filter, _update(update, replacement=False), upsert, multi=False)

    def update_many(self, filter: Mapping[str, Any], update: Mapping[str, Any], upsert: bool = False) -> UpdateResult:
        return self._update(filter, _update(update, replacement=False), upsert, multi=True)

    def replace_one(
        self, filter: Mapping[str, Any], replacement: Mapping[str, Any], upsert: bool = False
    ) -> UpdateResult:
        return self._update(filter, _update(replacement, replacement=True), upsert, multi=False)

    def delete_one(self, filter: Mapping[str, Any]) -> DeleteResult:
        return DeleteResult(self._engine.delete(self.name, _filter(filter), multi=False))

    def delete_many(self, filter: Mapping[str, Any]) -> DeleteResult:
        return DeleteResult(self._engine.delete(self.name, _filter(filter), multi=True))

    # -- reads -------------------------------------------------------------------
    def find(
        self,
        filter: Mapping[str, Any] | None = None,
        projection: Mapping[str, Any] | Sequence[str] | None = None,
        sort: SortSpec = None,
        skip: int = 0,
        limit: int = 0,
    ) -> Cursor:
        cursor = Cursor(self, _filter(filter), _projection(projection))
        if sort is not None:
            cursor.sort(sort)
        return cursor.skip(skip).limit(limit)

    def find_one(
        self,
        filter: Mapping[str, Any] | str | None = None,
        projection: Mapping[str, Any] | Sequence[str] | None = None,
        sort: SortSpec = None,
    ) -> dict[str, Any] | None:
        if filter is not None and not isinstance(filter, Mapping):
            filter = {"_id": filter}  # pymongo: a non-dict filter is an _id
        found = self.find(filter, projection, sort=sort, limit=1).to_list()
        return found[0] if found else None

    def count_documents(self, filter: Mapping[str, Any] | None = None) -> int:
        return self._engine.count(self.name, _filter(filter))

    def distinct(self, key: str, filter: Mapping[str, Any] | None = None) -> list[Any]:
        """The distinct values of ``key`` (array elements counted one by one), in BSON order."""
        values: list[Any] = []
        for doc in self.find(filter, projection={key: 1, "_id": 1 if key == "_id" else 0}):
            for value in _values_at(doc, key.split(".")):
                if not any(query.values_equal(value, seen) for seen in values):
                    values.append(value)
        return sorted(values, key=_BsonKey)

    # -- indexes -----------------------------------------------------------------
    def create_index(
        self, keys: str | Sequence[tuple[str, int]] | Sequence[str], unique: bool = False, name: str | None = None
    ) -> str:
        spec = _index_keys(keys)
        index_name = name or "_".join(f"{field}_{direction}" for field, direction in spec)
        return self._engine.create_index(self.name, IndexSpec(index_name, spec, unique))

    def index_information(self) -> dict[str, dict[str, Any]]:
        info = self._engine.index_information(self.name)
        out: dict[str, dict[str, Any]] = {}
        for name, spec in info.items():
            entry: dict[str, Any] = {"key": list(spec.keys)}
            if spec.unique:
                entry["unique"] = True
            out[name] = entry
        return out

    def drop_index(self, name: str) -> None:
        if name == "_id_":
            raise UnsupportedQuery("cannot drop the _id index", operator="drop_index")
        self._engine.drop_index(self.name, name)

    def drop(self) -> None:
        self._engine.drop(self.name)


class _BsonKey:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _BsonKey) -> bool:
        return query.compare(self.value, other.value) < 0


def _values_at(doc: Any, parts: list[str]) -> list[Any]:
    if not parts:
        return list(doc) if isinstance(doc, list) else [doc]
    if isinstance(doc, dict):
        return _values_at(doc[parts[0]], parts[1:]) if parts[0] in doc else []
    if isinstance(doc, list):
        return [v for item in doc for v in _values_at(item, parts)]
    return []


class Database:
    """An open store. Use as a context manager, or call :meth:`close`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def uri(self) -> str:
        """The store's URI, password redacted."""
        return redact(self.engine.uri)

    def __getitem__(self, name: str) -> Collection:
        return Collection(self, name)

    def get_collection(self, name: str) -> Collection:
        return Collection(self, name)

    def list_collection_names(self) -> list[str]:
        return sorted(self.engine.list_collections())

    def drop_collection(self, name: str) -> None:
        self.engine.drop(name)

    def compact(self) -> None:
        self.engine.compact()

    def check(self) -> list[str]:
        return self.engine.check()

    @property
    def capabilities(self) -> Any:
        return self.engine.capabilities

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({self.uri!r})"
