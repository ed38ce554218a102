"""The Optuna journal backend over any docstore engine, and ``storage(uri)``."""

from __future__ import annotations

import os
import threading
import uuid
import weakref
from collections.abc import Iterable
from typing import Any

import docstore
from docstore import Database, EngineUnavailable
from docstore.uri import redact
from docstore_optuna.journal import LogJournal
from docstore_optuna.snapshots import SnapshotStore

try:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import BaseJournalBackend
    from optuna.storages.journal._base import BaseJournalSnapshot  # not re-exported by optuna
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise docstore.MissingDependency(
        'docstore_optuna needs Optuna: pip install "docstore[optuna]"', package="docstore[optuna]"
    ) from exc

__all__ = ["DocstoreJournalBackend", "storage"]

# Stores that live in one process's memory (memory://, mongomock://) cannot be reopened
# from a URI: an unpickled backend finds its store here, by token, in the same process.
_live_lock = threading.Lock()
_live_databases: weakref.WeakValueDictionary[str, Database] = weakref.WeakValueDictionary()


class DocstoreJournalBackend(BaseJournalBackend, BaseJournalSnapshot):
    """Optuna's journal (logs and snapshots) stored as documents in a docstore store.

    ``uri`` is any docstore URI: ``study.json``, ``mongodb://...``, ``memory://``,
    ``mongomock://NAME``. ``collection`` prefixes the two collections used
    (``<collection>_logs`` and ``<collection>_snapshot``), so one store can hold several
    independent journals. ``options`` go to :func:`docstore.connect`.

    The backend pickles (Optuna's multiprocessing and joblib workers need it) as its URI
    and options, and reconnects when unpickled. A store that lives in one process's
    memory (``memory://``, ``mongomock://``) can only be unpickled in that same process;
    in another one it raises :class:`docstore.EngineUnavailable`: use a JSON file or
    MongoDB to share a study between processes.
    """

    def __init__(self, uri: str, *, collection: str = "optuna", **options: Any) -> None:
        self._uri = uri
        self._prefix = collection
        self._options = options
        self._token = uuid.uuid4().hex
        self._pid = os.getpid()
        self._attach(docstore.connect(uri, **options))

    def _attach(self, database: Database) -> None:
        self._database = database
        self._shared = bool(database.capabilities.multi_process)
        if not self._shared:
            with _live_lock:
                _live_databases[self._token] = database
        self._journal = LogJournal(database[f"{self._prefix}_logs"])
        self._journal.ensure_indexes()
        self._snapshots = SnapshotStore(database[f"{self._prefix}_snapshot"])

    # -- Optuna's BaseJournalBackend -------------------------------------------------
    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        self._journal.append(logs)

    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        return self._journal.read(log_number_from)

    # -- Optuna's BaseJournalSnapshot ------------------------------------------------
    def save_snapshot(self, snapshot: bytes) -> None:
        self._snapshots.save(snapshot)

    def load_snapshot(self) -> bytes | None:
        return self._snapshots.load()

    # -- the rest --------------------------------------------------------------------
    @property
    def database(self) -> Database:
        return self._database

    def close(self) -> None:
        self._database.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact(self._uri)!r}, collection={self._prefix!r})"

    def __getstate__(self) -> dict[str, Any]:
        # The URI, not the connection: the unpickling process opens its own.
        return {
            "uri": self._uri,
            "collection": self._prefix,
            "options": self._options,
            "token": self._token,
            "pid": self._pid,
            "shared": self._shared,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._uri = state["uri"]
        self._prefix = state["collection"]
        self._options = state["options"]
        self._token = state["token"]
        self._pid = state["pid"]
        if state["shared"]:
            self._token = uuid.uuid4().hex
            self._pid = os.getpid()
            self._attach(docstore.connect(self._uri, **self._options))
            return
        with _live_lock:
            database = _live_databases.get(self._token) if self._pid == os.getpid() else None
        if database is None:
            raise EngineUnavailable(
                f"the Optuna journal at {redact(self._uri)} lives in the memory of process {self._pid} and cannot "
                f"be used from process {os.getpid()} (or it was closed); use a JSON file or MongoDB to share a "
                "study between processes",
                uri=redact(self._uri),
            )
        self._attach(database)


def storage(uri: str, *, collection: str = "optuna", **options: Any) -> JournalStorage:
    """An Optuna storage on the docstore store at ``uri``: ``optuna.create_study(storage=storage(uri))``."""
    return JournalStorage(DocstoreJournalBackend(uri, collection=collection, **options))
