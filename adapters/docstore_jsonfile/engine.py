"""The Engine port over a :class:`~docstore_jsonfile.store.Store`, and the in-memory engine.

:class:`StoreEngine` implements every verb once, as a *read* (a function of the state) or
a *write* (a function of the state that returns a :class:`~docstore_jsonfile.planner.Plan`
of effects). Subclasses say how to read and write: :class:`MemoryEngine` under a thread
lock, :class:`~docstore_jsonfile.jsonfile.JsonFileEngine` under the file lock, through the
journal.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from docstore.engine import Capabilities, Engine, IndexSpec, UpdateOutcome
from docstore.errors import InvalidOperation, ReadOnlyError
from docstore_jsonfile.check import check_store
from docstore_jsonfile.options import Options, parse_options
from docstore_jsonfile.planner import (
    Plan,
    exact_equality,
    plan_create_index,
    plan_delete,
    plan_drop,
    plan_drop_index,
    plan_insert,
    plan_update,
    select,
)
from docstore_jsonfile.store import Document, Store
from docstore_jsonfile.values import copy_document

if TYPE_CHECKING:
    from docstore.query import Filter, Projection, Sort, Update
    from docstore.uri import ParsedURI

__all__ = ["MemoryEngine", "StoreEngine"]

T = TypeVar("T")


class StoreEngine(Engine):
    """Every verb, written once over a Store; subclasses provide ``_read`` and ``_write``."""

    @abc.abstractmethod
    def _read(self, query: Callable[[Store], T]) -> T:
        """``query(store)`` on a state at least as new as every write acknowledged so far."""

    @abc.abstractmethod
    def _write(self, change: Callable[[Store], Plan]) -> Plan:
        """Plan on the latest state, then make the plan's effects durable and apply them, atomically."""

    @staticmethod
    def _out(document: Document, projection: Projection | None) -> Document:
        if projection is not None:
            return copy_document(projection.apply(document))
        return copy_document(document)

    def _checked_name(self, collection: str) -> str:
        return collection

    # -- writes ----------------------------------------------------------------------
    def insert(self, collection: str, documents: list[dict[str, Any]]) -> None:
        name = self._checked_name(collection)
        copies = [copy_document(document) for document in documents]  # the caller keeps theirs
        self._write(lambda store: plan_insert(store, name, copies))

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
        name = self._checked_name(collection)
        plan = self._write(lambda store: plan_update(store, name, filter, update, sort=sort, upsert=upsert))
        document = plan.after if return_after else plan.before
        return None if document is None else self._out(document, projection)

    def update(
        self, collection: str, filter: Filter, update: Update, *, upsert: bool = False, multi: bool = False
    ) -> UpdateOutcome:
        name = self._checked_name(collection)
        plan = self._write(lambda store: plan_update(store, name, filter, update, upsert=upsert, multi=multi))
        return UpdateOutcome(plan.matched, plan.modified, plan.upserted_id)

    def delete(self, collection: str, filter: Filter, *, multi: bool = False) -> int:
        name = self._checked_name(collection)
        return self._write(lambda store: plan_delete(store, name, filter, multi=multi)).deleted

    def create_index(self, collection: str, index: IndexSpec) -> str:
        name = self._checked_name(collection)
        return self._write(lambda store: plan_create_index(store, name, index)).name

    def drop_index(self, collection: str, name: str) -> None:
        self._write(lambda store: plan_drop_index(store, collection, name))

    def drop(self, collection: str) -> None:
        self._write(lambda store: plan_drop(store, collection))

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
        def run(store: Store) -> list[dict[str, Any]]:
            found = select(store.get(collection), filter, sort, skip, limit)
            return [self._out(document, projection) for document in found]

        return self._read(run)

    def count(self, collection: str, filter: Filter) -> int:
        def run(store: Store) -> int:
            found = store.get(collection)
            if found is None:
                return 0
            candidates, _, path = found.candidates(filter.equalities())
            if exact_equality(filter, path):
                return len(candidates)
            matches = filter.matches
            return sum(1 for document in candidates.values() if matches(document))

        return self._read(run)

    def index_information(self, collection: str) -> dict[str, IndexSpec]:
        return self._read(lambda store: found.index_specs() if (found := store.get(collection)) else {})

    def list_collections(self) -> list[str]:
        return self._read(lambda store: list(store.collections))

    def check(self) -> list[str]:
        return self._read(check_store)


# ---------------------------------------------------------------- memory://

_shared_lock = threading.Lock()
_shared: dict[str, _Shared] = {}


class _Shared:
    """One named in-memory store and its lock, shared by every ``memory://NAME`` engine."""

    def __init__(self) -> None:
        self.store = Store()
        self.lock = threading.RLock()


class MemoryEngine(StoreEngine):
    """The JSON engine without files: ``memory://`` (private) or ``memory://NAME`` (shared by name).

    A named store lives as long as the process, like a database on a server: closing an
    engine does not empty it (drop its collections for that).
    """

    capabilities = Capabilities(
        persistent=False,
        multi_process=False,
        atomic_multi_update=True,
        description="in-process memory (the JSON engine without its files)",
    )

    def __init__(self, name: str = "", *, uri: str = "memory://", options: Options | None = None) -> None:
        self.uri = uri
        self.name = name
        self.options = options or Options()
        if name:
            with _shared_lock:
                shared = _shared.get(name)
                if shared is None:
                    shared = _shared[name] = _Shared()
        else:
            shared = _Shared()
        self._shared: _Shared | None = shared

    @classmethod
    def from_uri(cls, parsed: ParsedURI, **options: Any) -> MemoryEngine:
        uri = parsed.redacted
        return cls(parsed.location.strip("/"), uri=uri, options=parse_options(parsed.options, options, uri=uri))

    def _state(self) -> _Shared:
        if self._shared is None:
            raise InvalidOperation(f"the store {self.uri} is closed", operator="closed")
        return self._shared

    def _read(self, query: Callable[[Store], T]) -> T:
        shared = self._state()
        with shared.lock:
            return query(shared.store)

    def _write(self, change: Callable[[Store], Plan]) -> Plan:
        shared = self._state()
        if self.options.read_only:
            raise ReadOnlyError(f"cannot write to {self.uri}: it was opened with read_only=True", path=self.uri)
        with shared.lock:
            plan = change(shared.store)
            shared.store.apply(plan.effects)
            return plan

    def close(self) -> None:
        self._shared = None
