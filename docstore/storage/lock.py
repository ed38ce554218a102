"""The algorithm lock: one document per experiment in ``algo``, taken and given back by compare-and-set.

Orion's lock document is ``{experiment, configuration, locked: 0|1, state, heartbeat}``
with ``state`` the pickled algorithm state (bytes). docstore adds a lease: ``owner``
(this process's token plus a counter, so no two acquisitions share it) and
``lease_until``. While the lock is held, a daemon thread pushes ``lease_until`` forward
every third of the lease; a process that dies stops renewing, and once its lease has
passed, the next ``acquire_algorithm_lock`` takes the lock over in the same single
``find_one_and_update`` that takes a free lock. (Orion leaves such a lock locked forever.)
A lock written without a lease (by Orion, or ``write_algorithm_lock(locked=1)``) never
expires, as in Orion.

Giving the lock back checks ``owner`` too, so a holder whose lease was taken over cannot
overwrite the new holder's state: it gets :class:`FailedUpdate` instead. Leases compare
clocks across processes (and machines, on MongoDB): keep them longer than the skew.

The state is unpickled when the lock is read: only share a store with code you trust,
as with Orion.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import itertools
import logging
import pickle
import threading
import time
from collections.abc import Iterator
from typing import Any

from docstore.database import Collection, ReturnDocument
from docstore.documents import now
from docstore.errors import DocstoreError, FailedUpdate, LockAcquisitionTimeout
from docstore.storage._base import ALGO, StorageBase, experiment_uid, process_token
from docstore.storage.errors import UnknownExperiment

__all__ = ["AlgorithmLockMixin", "LockedAlgorithmState"]

log = logging.getLogger(__name__)
_acquisitions = itertools.count(1)
_UNLOCKED = {"locked": 0, "owner": None, "lease_until": None}


class LockedAlgorithmState:
    """The algorithm's state and configuration as read from its lock (Orion's class, plus the lease)."""

    def __init__(
        self,
        state: Any,
        configuration: Any,
        locked: bool = True,
        heartbeat: _dt.datetime | None = None,
        *,
        owner: str | None = None,
        lease_until: _dt.datetime | None = None,
    ) -> None:
        self._original_state = state
        self._state = state
        self.configuration = configuration
        self.locked = locked
        self.heartbeat = heartbeat
        self.owner = owner
        self.lease_until = lease_until

    @property
    def state(self) -> Any:
        """The algorithm's state (unpickled)."""
        return self._state

    def set_state(self, state: Any) -> None:
        """The state to save when the lock is given back."""
        self._state = state

    def reset(self) -> None:
        """Go back to the state read when the lock was taken."""
        self._state = self._original_state

    def __repr__(self) -> str:
        return f"LockedAlgorithmState(locked={self.locked!r}, owner={self.owner!r}, lease_until={self.lease_until!r})"


def _from_document(document: dict[str, Any], **overrides: Any) -> LockedAlgorithmState:
    raw = document.get("state")
    fields: dict[str, Any] = {
        "state": None if raw is None else pickle.loads(raw),  # Orion's format; see the module doc
        "configuration": document.get("configuration"),
        "locked": bool(document.get("locked")),
        "heartbeat": document.get("heartbeat"),
        "owner": document.get("owner"),
        "lease_until": document.get("lease_until"),
    }
    fields.update(overrides)
    return LockedAlgorithmState(**fields)


class _LeaseKeeper:
    """A daemon thread renewing a held lock's lease until stopped; notes when the lock was lost."""

    def __init__(self, collection: Collection, uid: Any, owner: str, lease: float) -> None:
        self._collection, self._uid, self._owner, self._lease = collection, uid, owner, lease
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._run, name=f"docstore-lease-{uid}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._lease / 3):
            stamp = now()
            try:
                renewed = self._collection.find_one_and_update(
                    {"experiment": self._uid, "locked": 1, "owner": self._owner},
                    {"$set": {"lease_until": stamp + _dt.timedelta(seconds=self._lease), "heartbeat": stamp}},
                    projection={"_id": 1},
                )
            except DocstoreError as exc:  # a busy file lock or a fail-over: the next tick tries again
                log.warning("could not renew the algorithm lock of experiment %r: %s", self._uid, exc)
                continue
            if renewed is None:
                self.lost = True
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class AlgorithmLockMixin(StorageBase):
    """Orion's algorithm-lock methods, with a lease."""

    def initialize_algorithm_lock(self, experiment_id: Any, algorithm_config: Any) -> str:
        """Create the experiment's unlocked lock with no state; returns the lock document's ``_id``."""
        return self.write_algorithm_lock(experiment_id, algorithm_config)

    def write_algorithm_lock(
        self,
        experiment_id: Any,
        algorithm_config: Any,
        locked: int = 0,
        state: Any = None,
        heartbeat: _dt.datetime | None = None,
    ) -> str:
        """Create the experiment's lock (DuplicateKeyError if it has one); ``state`` is pickled."""
        document = self._lock_document(experiment_id, algorithm_config, locked, state, heartbeat)
        self._require_experiment(experiment_id)
        return self._coll(ALGO).insert_one(document).inserted_id

    def _lock_document(
        self, experiment_id: Any, algorithm_config: Any, locked: int, state: Any, heartbeat: _dt.datetime | None
    ) -> dict[str, Any]:
        if experiment_id is None:
            raise UnknownExperiment("an algorithm lock needs an experiment id", uid=None)
        return {
            "experiment": experiment_id,
            "configuration": algorithm_config,
            "locked": 1 if locked else 0,
            "state": None if state is None else pickle.dumps(state),
            "heartbeat": now() if heartbeat is None else heartbeat,
            "owner": None,
            "lease_until": None,
        }

    def get_algorithm_lock_info(self, experiment: Any = None, uid: Any = None) -> LockedAlgorithmState | None:
        """The lock as stored now (not acquired: another process may take it at any moment), or None."""
        found = self._coll(ALGO).find_one({"experiment": experiment_uid(experiment, uid)})
        return None if found is None else _from_document(found)

    def delete_algorithm_lock(self, experiment: Any = None, uid: Any = None) -> int:
        return self._coll(ALGO).delete_many({"experiment": experiment_uid(experiment, uid)}).deleted_count

    def release_algorithm_lock(self, experiment: Any = None, uid: Any = None, new_state: Any = None) -> bool:
        """Unlock whoever holds the lock (Orion's meaning: a forced release); saves ``new_state`` if given."""
        fields: dict[str, Any] = {**_UNLOCKED, "heartbeat": now()}
        if new_state is not None:
            fields["state"] = pickle.dumps(new_state)
        found = self._coll(ALGO).find_one_and_update(
            {"experiment": experiment_uid(experiment, uid), "locked": 1}, {"$set": fields}, projection={"_id": 1}
        )
        return found is not None

    @contextlib.contextmanager
    def acquire_algorithm_lock(
        self,
        experiment: Any = None,
        uid: Any = None,
        timeout: float = 600,
        retry_interval: float = 1,
        *,
        lease: float | None = None,
    ) -> Iterator[LockedAlgorithmState]:
        """Hold the experiment's algorithm lock for the ``with`` block.

        Retries every ``retry_interval`` seconds for ``timeout`` seconds, then raises
        :class:`LockAcquisitionTimeout`. The state set with ``set_state`` is saved when the
        block ends; an exception discards it. ``lease`` overrides ``Storage.lock_lease``.
        """
        exp = experiment_uid(experiment, uid)
        lease = self.lock_lease if lease is None else float(lease)
        owner = f"{process_token()}:{next(_acquisitions)}"
        document = self._take_lock(exp, owner, lease, float(timeout), float(retry_interval))
        keeper = _LeaseKeeper(self.db[ALGO], exp, owner, lease)
        locked = _from_document(document, locked=True)
        try:
            yield locked
        except BaseException:
            locked.reset()
            keeper.stop()
            try:
                self._give_back(exp, owner, save=False, state=None)
            except FailedUpdate as lost:
                log.warning("%s (while handling the exception raised under it)", lost)
            raise
        keeper.stop()
        try:
            state = pickle.dumps(locked.state)
        except Exception:
            self._give_back(exp, owner, save=False, state=None)
            raise
        self._give_back(exp, owner, save=True, state=state)

    def _take_lock(self, exp: Any, owner: str, lease: float, timeout: float, retry_interval: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        checked = False
        while True:
            stamp = now()
            found = self._coll(ALGO).find_one_and_update(
                {"experiment": exp, "$or": [{"locked": 0}, {"lease_until": {"$lt": stamp}}]},
                {
                    "$set": {
                        "locked": 1,
                        "owner": owner,
                        "heartbeat": stamp,
                        "lease_until": stamp + _dt.timedelta(seconds=lease),
                    }
                },
                return_document=ReturnDocument.AFTER,
            )
            if found is not None:
                return found
            if not checked:
                checked = True
                if self._coll(ALGO).count_documents({"experiment": exp}) == 0:
                    self._require_experiment(exp)
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._timeout(exp, timeout)
            time.sleep(min(max(retry_interval, 0.0), left))

    def _timeout(self, exp: Any, timeout: float) -> LockAcquisitionTimeout:
        current = self._coll(ALGO).find_one({"experiment": exp}, projection={"owner": 1, "lease_until": 1})
        if current is None:
            why = "it has no algorithm lock (create_experiment or initialize_algorithm_lock makes one)"
        elif current.get("lease_until") is None:
            why = "it is locked without a lease (by Orion, or write_algorithm_lock): only a release frees it"
        else:
            why = f"{current.get('owner')} holds it, with a lease until {current['lease_until']}"
        return LockAcquisitionTimeout(
            f"could not lock the algorithm of experiment {exp!r} within {timeout:g} s: {why}",
            lock=f"algo:{exp}",
            timeout=timeout,
        )

    def _give_back(self, exp: Any, owner: str, *, save: bool, state: bytes | None) -> None:
        fields: dict[str, Any] = {**_UNLOCKED, "heartbeat": now()}
        if save:
            fields["state"] = state
        released = self._coll(ALGO).find_one_and_update(
            {"experiment": exp, "locked": 1, "owner": owner}, {"$set": fields}, projection={"_id": 1}
        )
        if released is None:
            current = self._coll(ALGO).find_one({"experiment": exp}, projection={"owner": 1})
            actual = None if current is None else current.get("owner")
            raise FailedUpdate(
                f"the algorithm lock of experiment {exp!r} was lost: its lease ran out and "
                f"{actual or 'nobody'} holds it now; the state computed under it was not saved",
                uid=str(exp),
                expected=owner,
                actual=actual,
            )
