"""The Engine port: the few verbs every storage engine implements.

It is pymongo-shaped so that the MongoDB adapter is a thin translation. Everything
above it (the :mod:`docstore.database` facade and the :mod:`docstore.storage`
protocol) is written once against this class; nothing above it may depend on an
engine's quirks.

The facade validates and canonicalises every argument before calling an engine: an
engine receives compiled :class:`~docstore.query.Filter`, :class:`~docstore.query.Update`,
:class:`~docstore.query.Projection` and :class:`~docstore.query.Sort` objects (each
keeps its validated ``spec`` for engines that forward it), and documents that already
have a string ``_id`` and canonical values. Engines return documents the caller may
mutate freely (copies, never references to stored state).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from docstore.query import Filter, Projection, Sort, Update

__all__ = ["Capabilities", "Engine", "IndexSpec", "UpdateOutcome"]


@dataclass(frozen=True)
class Capabilities:
    """What an engine guarantees, so callers and the test suite can tell without asking its type."""

    persistent: bool
    """Data outlives the process."""
    multi_process: bool
    """Several processes may use the same store at once, safely."""
    atomic_multi_update: bool
    """``update(multi=True)`` / ``insert`` of many documents is all-or-nothing."""
    description: str = ""


@dataclass(frozen=True)
class IndexSpec:
    """An index: ``keys`` as ``[(field, 1|-1), ...]``."""

    name: str
    keys: tuple[tuple[str, int], ...]
    unique: bool = False


@dataclass
class UpdateOutcome:
    """What :meth:`Engine.update` did."""

    matched_count: int = 0
    modified_count: int = 0
    upserted_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Engine(abc.ABC):
    """A storage engine. One instance per opened store; every verb names its collection."""

    #: the store's URI with any password redacted, for messages and reprs
    uri: str = ""
    capabilities: Capabilities = Capabilities(persistent=False, multi_process=False, atomic_multi_update=False)

    @abc.abstractmethod
    def insert(self, collection: str, documents: list[dict[str, Any]]) -> None:
        """Insert documents (each with a string ``_id``). Raises DuplicateKeyError."""

    @abc.abstractmethod
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
        """The matching documents, sorted, then skipped, then limited (0 = no limit)."""

    @abc.abstractmethod
    def count(self, collection: str, filter: Filter) -> int:
        """How many documents match."""

    @abc.abstractmethod
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
        """Atomically update the first match: the compare-and-set everything builds on.

        An upserted document is ``update.apply_upsert(filter)``, given a
        ``docstore.documents.new_id()`` when that has no ``_id``. ``return_after=False``
        returns the document as it was (``None`` after an upsert).
        """

    @abc.abstractmethod
    def update(
        self, collection: str, filter: Filter, update: Update, *, upsert: bool = False, multi: bool = False
    ) -> UpdateOutcome:
        """Update the first match (or every match with ``multi``)."""

    @abc.abstractmethod
    def delete(self, collection: str, filter: Filter, *, multi: bool = False) -> int:
        """Delete the first match (or every match); returns how many were deleted."""

    @abc.abstractmethod
    def create_index(self, collection: str, index: IndexSpec) -> str:
        """Create an index if it does not exist yet; returns its name."""

    @abc.abstractmethod
    def index_information(self, collection: str) -> dict[str, IndexSpec]:
        """The collection's indexes by name (the implicit unique ``_id_`` index included)."""

    @abc.abstractmethod
    def drop_index(self, collection: str, name: str) -> None:
        """Remove an index by name."""

    @abc.abstractmethod
    def drop(self, collection: str) -> None:
        """Remove a collection and its indexes."""

    @abc.abstractmethod
    def list_collections(self) -> list[str]:
        """The names of the collections that exist."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files, sockets and locks. Idempotent."""

    def compact(self) -> None:  # noqa: B027 - optional hook
        """Reclaim space (the JSON engine rewrites its snapshot). A no-op elsewhere."""

    def check(self) -> list[str]:
        """Engine-level invariant findings (empty when all is well). Repairs nothing."""
        return []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.uri}>"
