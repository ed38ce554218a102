"""What every part of the protocol shares: the open database, its indexes, and how arguments name things.

Orion's methods take an object *or* an id (``experiment=`` / ``uid=``), a trial *or* a
trial id with its experiment's id; these helpers turn them into a filter, with Orion's
errors: nothing given is :class:`MissingArguments`, an object and an id that disagree is
:class:`ConflictingArguments` (an ``AssertionError``, as Orion's ``get_uid`` asserts).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Mapping, MutableMapping
from typing import Any, NoReturn

from docstore.database import Collection, Database
from docstore.documents import copy_tree
from docstore.errors import FailedUpdate, InvalidDocument, MissingArguments, ReadOnlyError, UnsupportedQuery
from docstore.storage.documents import Trial
from docstore.storage.errors import ConflictingArguments, UnknownExperiment

__all__ = [
    "ALGO",
    "BENCHMARKS",
    "EXPERIMENTS",
    "INDEXES",
    "TRIALS",
    "StorageBase",
    "as_trial",
    "experiment_uid",
    "process_token",
    "scoped",
    "write_back",
]

EXPERIMENTS, TRIALS, BENCHMARKS, ALGO = "experiments", "trials", "benchmarks", "algo"  # Orion's names

IndexKeys = tuple[tuple[str, int], ...]
INDEXES: dict[str, tuple[tuple[IndexKeys, bool], ...]] = {
    EXPERIMENTS: (((("name", 1), ("version", 1)), True), ((("metadata.datetime", 1),), False)),
    TRIALS: (
        ((("experiment", 1), ("id", 1)), True),
        ((("experiment", 1), ("status", 1)), False),
        ((("experiment", 1), ("submit_time", 1)), False),
    ),
    BENCHMARKS: (((("name", 1),), True),),
    ALGO: (((("experiment", 1),), True),),
}
"""Per collection: ``(keys, unique)``. Unique keys are Orion's, plus one lock per experiment."""

_token_lock = threading.Lock()
_token_pid = -1
_token = ""


def process_token() -> str:
    """``host:pid:random``, new in each process (a forked child gets its own)."""
    global _token_pid, _token
    with _token_lock:
        if _token_pid != os.getpid():
            _token_pid, _token = os.getpid(), f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        return _token


def _uid_of(item: Any) -> Any:
    if isinstance(item, (str, int)):
        return item
    if isinstance(item, Mapping):
        return item.get("_id")
    uid = getattr(item, "id", None)
    return getattr(item, "_id", None) if uid is None else uid


def experiment_uid(experiment: Any = None, uid: Any = None) -> Any:
    """The experiment's ``_id`` from an Experiment, a document, an object with ``.id``, or ``uid``."""
    if experiment is not None and uid is not None and _uid_of(experiment) != uid:
        raise ConflictingArguments(
            f"experiment {_uid_of(experiment)!r} and uid {uid!r} name different experiments",
            names=("experiment", "uid"),
        )
    if uid is None:
        if experiment is None:
            raise MissingArguments("Either `experiment` or `uid` should be set", names=("experiment", "uid"))
        uid = _uid_of(experiment)
        if uid is None:
            raise MissingArguments("the experiment has no _id: create it first", names=("experiment",))
    return uid


def as_trial(trial: Any) -> Trial:
    """A :class:`Trial` from a Trial, a trial document, or an object with ``to_dict()`` (Orion's Trial)."""
    if trial is None:
        raise MissingArguments("a trial is needed", names=("trial",))
    if isinstance(trial, Trial):
        return trial
    if isinstance(trial, Mapping):
        return Trial(trial)
    to_dict = getattr(trial, "to_dict", None)
    if callable(to_dict):
        document = to_dict()
        if isinstance(document, Mapping):
            return Trial(document)
    raise InvalidDocument(f"expected a Trial, a trial document or an object with to_dict(), not {type(trial).__name__}")


def write_back(target: Any, fields: Mapping[str, Any]) -> None:
    """Copy what the store now holds into the caller's trial (a Trial, a dict, or Orion's Trial)."""
    if isinstance(target, Trial):
        target._update(fields)
    elif isinstance(target, MutableMapping):
        target.update(copy_tree(dict(fields)))
    else:
        for key, value in fields.items():
            name = "id_override" if key == "_id" else key
            if hasattr(target, name):
                setattr(target, name, copy_tree(value))


def scoped(where: Mapping[str, Any] | None, **scope: Any) -> dict[str, Any]:
    """``where`` restricted to ``scope`` (``experiment=...``); a clashing key is ANDed, never replaced."""
    if where is None:
        return dict(scope)
    if not isinstance(where, Mapping):
        raise UnsupportedQuery(f"`where` must be a dict, not {type(where).__name__}", operator="where")
    if any(key in where for key in scope):
        return {"$and": [dict(where), dict(scope)]}
    return {**where, **scope}


def set_fields(fields: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``{"$set": fields}`` for an ``update_*(**kwargs)`` call; the ``_id`` never changes."""
    if not fields:
        raise MissingArguments(f"{what} needs at least one field to set, as keyword arguments", names=("**kwargs",))
    if "_id" in fields:
        raise InvalidDocument(f"{what} cannot change the _id of a stored document", path="_id")
    return {"$set": dict(fields)}


class StorageBase:
    """The open database, options, and lazily created indexes."""

    def __init__(
        self,
        db: Database,
        *,
        heartbeat: float = 120.0,
        lock_lease: float = 60.0,
        strict: bool = True,
        worker: str | None = None,
    ) -> None:
        if not isinstance(db, Database):
            raise TypeError(f"Storage needs a docstore.Database (docstore.connect(uri)), not {type(db).__name__}")
        if not heartbeat > 0 or not lock_lease > 0:
            raise ValueError(f"heartbeat and lock_lease must be > 0 seconds, got {heartbeat!r} and {lock_lease!r}")
        self.db = db
        self.heartbeat = float(heartbeat)
        """Seconds between a worker's heartbeats (Orion's ``worker.heartbeat``, 120 by default)."""
        self.lock_lease = float(lock_lease)
        """Seconds an algorithm lock stays valid without renewal; its holder renews it every third of that."""
        self.strict = strict
        """Refuse unknown experiments and impossible status changes (``False``: Orion's Legacy behaviour)."""
        self._worker = worker
        self._indexed: set[str] = set()
        self._known: set[Any] = set()
        """Experiment ids this Storage created or found: their trials need no second look (one round trip)."""

    @property
    def worker(self) -> str:
        """The name ``reserve_trial`` records in ``trial.worker`` (by default this process's token)."""
        return self._worker or process_token()

    def _coll(self, name: str) -> Collection:
        if name not in self._indexed:
            self._ensure_indexes(name)
        return self.db[name]

    def _ensure_indexes(self, name: str) -> None:
        collection = self.db[name]
        try:
            existing = {tuple((k, int(d)) for k, d in info["key"]) for info in collection.index_information().values()}
            for keys, unique in INDEXES[name]:
                if keys not in existing:  # an index Orion made on the same keys is kept as it is
                    collection.create_index(list(keys), unique=unique)
        except ReadOnlyError:
            pass  # a store opened read-only still answers reads, without new indexes
        self._indexed.add(name)

    def _require_experiment(self, uid: Any) -> None:
        """Raise :class:`UnknownExperiment` when strict and no experiment has this ``_id``.

        An experiment this Storage created or already found is not looked up again, so a
        worker's calls stay one round trip each; one deleted since by another process is
        then not noticed here (Orion never checks at all).
        """
        if not self.strict or self._is_known(uid):
            return
        if self._coll(EXPERIMENTS).count_documents({"_id": uid}) == 0:
            raise UnknownExperiment(f"no experiment has _id {uid!r}", uid=uid)
        self._remember(uid)

    def _is_known(self, uid: Any) -> bool:
        try:
            return uid in self._known
        except TypeError:  # an unhashable id: always looked up
            return False

    def _remember(self, uid: Any, *, known: bool = True) -> None:
        try:
            if known:
                self._known.add(uid)
            else:
                self._known.discard(uid)
        except TypeError:
            pass

    def _failed_trial_update(self, key: Mapping[str, Any], expected: Any, what: str) -> NoReturn:
        """Raise FailedUpdate after reading, once, the trial's stored status (only to report it)."""
        current = self._coll(TRIALS).find_one(dict(key), projection={"status": 1, "worker": 1, "start_time": 1})
        actual = None if current is None else current.get("status")
        uid = key.get("_id", key.get("id"))
        if current is None:
            state = "is gone from the store"
        elif actual == expected:  # the same status, but not the reservation the caller holds
            state = f"was reserved again, by {current.get('worker')!r} at {current.get('start_time')}"
        else:
            state = f"is {actual!r} in the store"
        raise FailedUpdate(
            f"{what}: trial {uid!r} {state}, expected {expected!r}",
            uid=None if uid is None else str(uid),
            expected=expected,
            actual=actual,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.db.uri!r})"
