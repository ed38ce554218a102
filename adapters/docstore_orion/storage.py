"""``Docstore``: Orion's ``BaseStorageProtocol`` handed to :mod:`docstore.storage`.

::

    storage:
      type: docstore
      database:
        host: mongodb://user:pass@db1,db2/orion?replicaSet=rs   # or study.json, mongomock://name

The store is named by ``database.host`` because Orion's configuration (its files,
``ORION_DB_ADDRESS``, and what it passes to worker processes) keeps only ``type`` and
``database`` for a storage; ``uri=`` works too when the storage is built in Python.

Every call goes to :class:`docstore.storage.Storage` (opened with ``strict=False``:
Orion's rules), whose algorithm lock has a lease: a lock held by a worker that died is
taken over once the lease (``lock_lease`` seconds, 60 by default) has passed. Values
cross the boundary as Orion expects them: Orion's ``Trial`` and ``LockedAlgorithmState``
objects, naive UTC datetimes, Orion's exceptions. Where docstore's protocol means
something else than Orion's Legacy storage, this class keeps Orion's meaning (see
``docs/orion.md``): ``push_trial_results`` stores the whole trial, ``retrieve_result``
does not touch it, ``update_heartbeat`` returns 0 for a trial that is no longer reserved.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Iterator, Mapping
from typing import Any

import orion.core
from orion.core.io.database import DatabaseError
from orion.core.worker.trial import Trial as OrionTrial
from orion.storage.base import (
    BaseStorageProtocol,
    FailedUpdate,
    LockAcquisitionTimeout,
    LockedAlgorithmState,
    MissingArguments,
    get_uid,
)

import docstore
import docstore.storage
from docstore.uri import redact
from docstore_orion._convert import database_errors, naive_utc, to_docstore, to_orion
from docstore_orion.database import DEFAULT_HOST, DocstoreDB, store_uri

__all__ = ["Docstore"]

# Orion's Trial takes only its own fields as keyword arguments
_TRIAL_FIELDS = frozenset(
    {
        "_id",
        "id",
        "experiment",
        "status",
        "worker",
        "exp_working_dir",
        "heartbeat",
        "submit_time",
        "start_time",
        "end_time",
        "results",
        "params",
        "parent",
    }
)
_IDENTITY = ("_id", "id", "experiment")
# settings of Orion's `database` section that name the store, not options of the engine
_DATABASE_KEYS = ("type", "host", "name", "port", "username", "password")


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """Re-raise docstore's errors as the exceptions Orion's code catches.

    The storage protocol's own first; the rest as :func:`database_errors` does for the database.
    """
    with database_errors():
        try:
            yield
        except docstore.FailedUpdate as exc:
            raise FailedUpdate(str(exc)) from exc
        except docstore.LockAcquisitionTimeout as exc:
            if exc.lock.startswith("algo:"):
                raise LockAcquisitionTimeout(str(exc)) from exc
            raise  # not the algorithm lock: a DatabaseTimeout
        except docstore.MissingArguments as exc:
            raise MissingArguments(str(exc)) from exc


def to_orion_trial(trial: docstore.storage.Trial | Mapping[str, Any]) -> OrionTrial:
    document = trial.to_dict() if isinstance(trial, docstore.storage.Trial) else dict(trial)
    return OrionTrial(**{key: value for key, value in to_orion(document).items() if key in _TRIAL_FIELDS})


def _trial_document(trial: Any) -> Any:
    """Orion's Trial as a plain document docstore can store; anything else as it is."""
    if isinstance(trial, OrionTrial):
        return to_docstore(trial.to_dict())
    return trial


def _experiment(experiment: Any) -> Any:
    """The experiment's id, which is all docstore needs (Orion's Experiment reads ``_id`` lazily)."""
    return get_uid(experiment) if experiment is not None else None


class Docstore(BaseStorageProtocol):  # type: ignore[misc]  # Orion is untyped
    """Orion's storage protocol on a docstore store (see the module documentation)."""

    def __init__(
        self,
        uri: str | None = None,
        database: Mapping[str, Any] | None = None,
        setup: bool = True,
        lock_lease: float | None = None,
        **connect_options: Any,
    ) -> None:
        settings = dict(database or {})
        options = {key: value for key, value in settings.items() if key not in _DATABASE_KEYS}
        lock_lease = options.pop("lock_lease", lock_lease)
        self.uri = uri or store_uri(
            settings.get("host") or DEFAULT_HOST,
            settings.get("name"),
            settings.get("username"),
            settings.get("password"),
        )
        self.lock_lease = 60.0 if lock_lease is None else float(lock_lease)
        self.connect_options = {**options, **connect_options}
        self._db_view: DocstoreDB | None = None
        self._open()

    def _open(self) -> None:
        try:
            self._storage = docstore.storage.setup_storage(
                self.uri, strict=False, lock_lease=self.lock_lease, connect_options=self.connect_options or None
            )
        except docstore.DocstoreError as exc:
            raise DatabaseError(f"cannot open docstore {redact(self.uri)}: {exc}") from exc
        self._db_view = None

    def __getstate__(self) -> dict[str, Any]:
        return {"uri": self.uri, "lock_lease": self.lock_lease, "connect_options": self.connect_options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.uri, self.lock_lease, self.connect_options = state["uri"], state["lock_lease"], state["connect_options"]
        self._open()

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}(uri={redact(self.uri)!r})"

    @property
    def storage(self) -> docstore.storage.Storage:
        """The :class:`docstore.storage.Storage` every call goes to."""
        return self._storage

    @property
    def _db(self) -> DocstoreDB:
        """An Orion ``Database`` over the same store, for Orion code that reaches for ``storage._db``."""
        if self._db_view is None:
            self._db_view = DocstoreDB.from_database(self._storage.db, self.uri)
        return self._db_view

    # -- benchmarks -----------------------------------------------------------------
    def create_benchmark(self, config: dict[str, Any]) -> dict[str, Any]:
        document = to_docstore(config)
        with storage_errors():
            stored = self._storage.create_benchmark(document)
        config.setdefault("_id", document["_id"])
        return to_orion(stored)  # type: ignore[no-any-return]

    def fetch_benchmark(self, query: dict[str, Any], selection: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with storage_errors():
            return to_orion(self._storage.fetch_benchmark(to_docstore(query or {}), selection))  # type: ignore[no-any-return]

    def delete_benchmark(self, query: dict[str, Any]) -> int:
        with storage_errors():
            return self._storage.delete_benchmark(to_docstore(query or {}))

    # -- experiments ----------------------------------------------------------------
    def create_experiment(
        self,
        config: dict[str, Any],
        algo_locked: int = 0,
        algo_state: Any = None,
        algo_heartbeat: _dt.datetime | None = None,
    ) -> dict[str, Any]:
        """Store the experiment and its unlocked algorithm lock; ``config`` gets its ``_id``."""
        document = to_docstore(config)
        with storage_errors():
            stored = self._storage.create_experiment(document, algo_locked, algo_state, algo_heartbeat)
        config.setdefault("_id", document["_id"])
        return to_orion(stored)  # type: ignore[no-any-return]

    def delete_experiment(self, experiment: Any = None, uid: Any = None) -> int:
        with storage_errors():
            return self._storage.delete_experiment(uid=get_uid(experiment, uid))

    def update_experiment(
        self, experiment: Any = None, uid: Any = None, where: dict[str, Any] | None = None, **kwargs: Any
    ) -> bool:
        uid = get_uid(experiment, uid)
        if kwargs.get("_id", uid) == uid:  # Orion passes the whole configuration, its own _id included
            kwargs.pop("_id", None)
        if not kwargs:
            return bool(self.fetch_experiments({"_id": uid, **(where or {})}, {"_id": 1}))
        with storage_errors():
            return self._storage.update_experiment(uid=uid, where=to_docstore(where), **to_docstore(kwargs))

    def fetch_experiments(self, query: dict[str, Any], selection: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with storage_errors():
            return to_orion(self._storage.fetch_experiments(to_docstore(query or {}), selection))  # type: ignore[no-any-return]

    # -- trials -----------------------------------------------------------------------
    def register_trial(self, trial: OrionTrial) -> OrionTrial:
        """Store a new trial; it gets its ``_id`` (Orion's ``id_override``)."""
        document = _trial_document(trial)
        with storage_errors():
            self._storage.register_trial(document)
        if trial.id_override is not None and trial.id_override != document["_id"]:
            raise FailedUpdate(f"Trial id override not set properly: {trial.id_override} != {document['_id']}")
        trial.id_override = document["_id"]
        if trial.submit_time is None:
            trial.submit_time = naive_utc(document["submit_time"])
        return trial

    def delete_trials(self, experiment: Any = None, uid: Any = None, where: dict[str, Any] | None = None) -> int:
        with storage_errors():
            return self._storage.delete_trials(uid=get_uid(experiment, uid), where=to_docstore(where))

    def reserve_trial(self, experiment: Any) -> OrionTrial | None:
        with storage_errors():
            found = self._storage.reserve_trial(_experiment(experiment))
        return None if found is None else to_orion_trial(found)

    def fetch_trials(
        self, experiment: Any = None, uid: Any = None, where: dict[str, Any] | None = None
    ) -> list[OrionTrial]:
        with storage_errors():
            found = self._storage.fetch_trials(uid=get_uid(experiment, uid), where=to_docstore(where))
        return [to_orion_trial(trial) for trial in found]

    def update_trials(
        self, experiment: Any = None, uid: Any = None, where: dict[str, Any] | None = None, **kwargs: Any
    ) -> int:
        with storage_errors():
            return self._storage.update_trials(
                uid=get_uid(experiment, uid), where=to_docstore(where), **to_docstore(kwargs)
            )

    def update_trial(
        self,
        trial: Any = None,
        uid: Any = None,
        experiment_uid: Any = None,
        where: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> int:
        changes = {key: value for key, value in to_docstore(kwargs).items() if key not in _IDENTITY}
        if not changes:
            return 0
        with storage_errors():
            return self._storage.update_trial(
                _trial_document(trial), uid, experiment_uid, where=to_docstore(where), **changes
            )

    def get_trial(self, trial: Any = None, uid: Any = None, experiment_uid: Any = None) -> OrionTrial | None:
        with storage_errors():
            found = self._storage.get_trial(_trial_document(trial), uid, experiment_uid)
        return None if found is None else to_orion_trial(found)

    def fetch_lost_trials(self, experiment: Any) -> list[OrionTrial]:
        """Reserved trials whose heartbeat is older than 5 heartbeats (Orion's ``worker.heartbeat``)."""
        timeout = orion.core.config.worker.heartbeat * 5
        with storage_errors():
            found = self._storage.fetch_lost_trials(_experiment(experiment), timeout=timeout)
        return [to_orion_trial(trial) for trial in found]

    def retrieve_result(self, trial: OrionTrial, *args: Any, **kwargs: Any) -> OrionTrial:
        """The trial, untouched: its results are already in it (Orion's Legacy meaning)."""
        return trial

    def push_trial_results(self, trial: OrionTrial) -> int:
        """Store the whole trial (status, end time, results...) while it is still reserved by this reservation.

        Orion completes a trial this way: it sets ``status`` and ``end_time`` on its copy,
        then pushes it. A trial reserved again by someone else raises ``FailedUpdate``.
        """
        document = _trial_document(trial)
        where: dict[str, Any] = {"status": "reserved"}
        if document.get("start_time") is not None:
            where["start_time"] = document["start_time"]
        changes = {key: value for key, value in document.items() if key not in _IDENTITY}
        with storage_errors():
            matched = self._storage.update_trial(document, where=where, **changes)
        if not matched:
            raise FailedUpdate(f"trial {trial.id} is no longer reserved by this worker; its results were not stored")
        return matched

    def set_trial_status(self, trial: OrionTrial, status: str, heartbeat: Any = None, was: str | None = None) -> None:
        """Compare-and-set the status (``was`` defaults to the trial's); ``FailedUpdate`` if it changed."""
        if not isinstance(heartbeat, _dt.datetime):  # Orion's client passes its heartbeat *interval* here
            heartbeat = None
        document = _trial_document(trial)
        with storage_errors():
            self._storage.set_trial_status(document, status, heartbeat=heartbeat, was=was)
        trial.status = status
        trial.heartbeat = naive_utc(document["heartbeat"])
        if document.get("end_time") is not None:
            trial.end_time = naive_utc(document["end_time"])

    def fetch_pending_trials(self, experiment: Any) -> list[OrionTrial]:
        with storage_errors():
            return [to_orion_trial(t) for t in self._storage.fetch_pending_trials(_experiment(experiment))]

    def fetch_noncompleted_trials(self, experiment: Any) -> list[OrionTrial]:
        with storage_errors():
            return [to_orion_trial(t) for t in self._storage.fetch_noncompleted_trials(_experiment(experiment))]

    def fetch_trials_by_status(self, experiment: Any, status: str) -> list[OrionTrial]:
        with storage_errors():
            return [to_orion_trial(t) for t in self._storage.fetch_trials_by_status(_experiment(experiment), status)]

    def count_completed_trials(self, experiment: Any) -> int:
        with storage_errors():
            return self._storage.count_completed_trials(_experiment(experiment))

    def count_broken_trials(self, experiment: Any) -> int:
        with storage_errors():
            return self._storage.count_broken_trials(_experiment(experiment))

    def update_heartbeat(self, trial: OrionTrial) -> int:
        """1 if the heartbeat of the still reserved trial was refreshed, else 0 (Orion's pacemaker then stops)."""
        try:
            with storage_errors():
                return self._storage.update_heartbeat(_trial_document(trial))
        except FailedUpdate:
            return 0

    # -- algorithm lock ---------------------------------------------------------------
    def initialize_algorithm_lock(self, experiment_id: Any, algorithm_config: dict[str, Any]) -> Any:
        with storage_errors():
            return self._storage.initialize_algorithm_lock(to_docstore(experiment_id), to_docstore(algorithm_config))

    def write_algorithm_lock(
        self,
        experiment_id: Any,
        algorithm_config: dict[str, Any],
        locked: int = 0,
        state: Any = None,
        heartbeat: _dt.datetime | None = None,
    ) -> Any:
        with storage_errors():
            return self._storage.write_algorithm_lock(
                to_docstore(experiment_id), to_docstore(algorithm_config), locked, state, heartbeat
            )

    def release_algorithm_lock(self, experiment: Any = None, uid: Any = None, new_state: Any = None) -> None:
        with storage_errors():
            self._storage.release_algorithm_lock(uid=get_uid(experiment, uid), new_state=new_state)

    def get_algorithm_lock_info(self, experiment: Any = None, uid: Any = None) -> LockedAlgorithmState | None:
        with storage_errors():
            found = self._storage.get_algorithm_lock_info(uid=get_uid(experiment, uid))
        if found is None:
            return None
        return LockedAlgorithmState(state=found.state, configuration=to_orion(found.configuration), locked=found.locked)

    def delete_algorithm_lock(self, experiment: Any = None, uid: Any = None) -> int:
        with storage_errors():
            return self._storage.delete_algorithm_lock(uid=get_uid(experiment, uid))

    @contextlib.contextmanager
    def acquire_algorithm_lock(
        self, experiment: Any = None, uid: Any = None, timeout: float = 60, retry_interval: float = 1
    ) -> Iterator[LockedAlgorithmState]:
        """Hold the experiment's algorithm lock, with docstore's lease, for the ``with`` block.

        The state set on the yielded ``LockedAlgorithmState`` is saved when the block ends;
        an exception in the block discards it. ``LockAcquisitionTimeout`` after ``timeout``.
        """
        uid = get_uid(experiment, uid)
        with (
            storage_errors(),
            self._storage.acquire_algorithm_lock(uid=uid, timeout=timeout, retry_interval=retry_interval) as held,
        ):
            locked = LockedAlgorithmState(state=held.state, configuration=to_orion(held.configuration), locked=True)
            try:
                yield locked
            except BaseException:
                locked.reset()
                raise
            held.set_state(locked.state)
