"""Trials: register, reserve, heartbeat, report, and compare-and-set status changes.

Every change that depends on what is stored is ONE ``find_one_and_update`` whose filter
states what the caller expects (``status == was``, ``status == "reserved"``), so two
workers can never both win; the loser gets :class:`FailedUpdate`, whose ``actual`` comes
from one extra read made only to report it.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

from docstore.database import ReturnDocument
from docstore.documents import now
from docstore.errors import InvalidDocument, MissingArguments
from docstore.storage._base import (
    TRIALS,
    StorageBase,
    as_trial,
    experiment_uid,
    scoped,
    set_fields,
    write_back,
)
from docstore.storage.documents import Trial, Values
from docstore.storage.errors import ConflictingArguments
from docstore.storage.status import ENDED, PENDING, check_transition, validate_status

__all__ = ["TrialsMixin", "trial_key"]

_OLDEST_FIRST = [("submit_time", 1), ("_id", 1)]


def trial_key(trial: Any = None, uid: Any = None, experiment_uid: Any = None) -> dict[str, Any]:
    """The filter naming one trial: its ``_id`` once stored, else its experiment and ``id``."""
    if trial is None and experiment_uid is None:
        raise MissingArguments(
            "Either `trial` or (`uid` and `experiment_uid`) should be set", names=("trial", "uid", "experiment_uid")
        )
    if trial is None:
        if uid is None:
            raise MissingArguments("`uid` is needed with `experiment_uid`", names=("uid",))
        return {"experiment": experiment_uid, "id": uid}
    found = as_trial(trial)
    if experiment_uid is not None and found.experiment != experiment_uid:
        raise ConflictingArguments(
            f"the trial belongs to {found.experiment!r}, not {experiment_uid!r}", names=("trial", "experiment_uid")
        )
    if uid is not None and found.id != uid:
        raise ConflictingArguments(f"the trial's id is {found.id!r}, not {uid!r}", names=("trial", "uid"))
    if found.id_override is not None:
        return {"_id": found.id_override}
    return {"experiment": found.experiment, "id": found.id}


def _checked_changes(fields: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``{"$set": fields}`` with the same checks a Trial makes, so the stored layout stays Orion's."""
    update = set_fields(fields, what)
    changes = update["$set"]
    if "id" in changes:
        raise InvalidDocument(f"{what} cannot set `id`: it is derived from the params", path="id")
    if "status" in changes:
        validate_status(changes["status"])
    if "params" in changes:
        changes["params"] = Trial(params=changes["params"]).params.to_list()
    if "results" in changes:
        changes["results"] = Trial(results=changes["results"]).results.to_list()
    return update


def _reservation(trial: Trial) -> dict[str, Any]:
    """``status == "reserved"``, and the same reservation as the caller's copy when it knows which.

    A lost trial may be taken back and reserved again by another worker; its ``start_time``
    then differs, so the first worker's heartbeat, results or completion fail instead of
    landing on the second worker's reservation.
    """
    if trial.start_time is None:
        return {"status": "reserved"}
    return {"status": "reserved", "start_time": trial.start_time}


class TrialsMixin(StorageBase):
    """Orion's trial methods, each a single round trip where it changes a trial."""

    # ---------------------------------------------------------------- writes
    def register_trial(self, trial: Any) -> Any:
        """Store a new trial; a second trial with the same experiment and ``id`` raises DuplicateKeyError.

        ``submit_time`` is set to now when missing. The trial given gets its ``_id`` (and
        ``submit_time``); a plain dict comes back as a :class:`Trial`.
        """
        found = as_trial(trial)
        document = found.to_dict()
        if document["experiment"] is None:
            raise InvalidDocument("the trial has no experiment", path="experiment")
        self._require_experiment(document["experiment"])
        if document["submit_time"] is None:
            document["submit_time"] = now()
        self._coll(TRIALS).insert_one(document)
        write_back(trial, {"_id": document["_id"], "submit_time": document["submit_time"]})
        return trial if not isinstance(trial, Mapping) else Trial(document)

    def reserve_trial(self, experiment: Any, worker: str | None = None) -> Trial | None:
        """Atomically take the oldest new / suspended / interrupted trial; ``None`` if none is pending."""
        uid = experiment_uid(experiment)
        stamp = now()
        found = self._coll(TRIALS).find_one_and_update(
            {"experiment": uid, "status": {"$in": list(PENDING)}},
            {"$set": {"status": "reserved", "start_time": stamp, "heartbeat": stamp, "worker": worker or self.worker}},
            sort=_OLDEST_FIRST,
            return_document=ReturnDocument.AFTER,
        )
        if found is None:
            self._require_experiment(uid)
            return None
        return Trial(found)

    def set_trial_status(
        self, trial: Any, status: str, heartbeat: _dt.datetime | None = None, was: str | None = None
    ) -> None:
        """Set the status if the stored one is ``was`` (default: the trial's own), else FailedUpdate.

        The heartbeat is set too (to ``heartbeat`` or now), and ``end_time`` when the trial
        becomes completed or broken. The trial given is updated to match the store.
        """
        found = as_trial(trial)
        validate_status(status)
        was = validate_status(found.status if was is None else was)
        if self.strict:
            check_transition(was, status)
        key = trial_key(found)
        stamp = now()
        fields: dict[str, Any] = {"status": status, "heartbeat": stamp if heartbeat is None else heartbeat}
        if status in ENDED and status != was:
            fields["end_time"] = stamp
        expected = _reservation(found) if was == "reserved" else {"status": was}
        after = self._coll(TRIALS).find_one_and_update(
            {**key, **expected}, {"$set": fields}, projection=list(fields), return_document=ReturnDocument.AFTER
        )
        if after is None:
            self._failed_trial_update(key, was, f"cannot set status {status!r}")
        write_back(trial, {name: after[name] for name in fields})

    def update_heartbeat(self, trial: Any) -> int:
        """Refresh the heartbeat of a reserved trial (FailedUpdate if it is no longer reserved, by this reservation)."""
        found = as_trial(trial)
        key = trial_key(found)
        after = self._coll(TRIALS).find_one_and_update(
            {**key, **_reservation(found)}, {"$set": {"heartbeat": now()}}, projection={"_id": 1}
        )
        if after is None:
            self._failed_trial_update(key, "reserved", "cannot update the heartbeat")
        return 1

    def push_trial_results(self, trial: Any) -> int:
        """Store the trial's results, if it is still reserved (else FailedUpdate)."""
        found = as_trial(trial)
        key = trial_key(found)
        after = self._coll(TRIALS).find_one_and_update(
            {**key, **_reservation(found)}, {"$set": {"results": found.results.to_list()}}, projection={"_id": 1}
        )
        if after is None:
            self._failed_trial_update(key, "reserved", "cannot push results")
        return 1

    def update_trial(
        self,
        trial: Any = None,
        uid: Any = None,
        experiment_uid: Any = None,
        where: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> int:
        """Set fields of one trial if it matches ``where``; returns how many matched (0 or 1)."""
        key = trial_key(trial, uid, experiment_uid)
        update = _checked_changes(kwargs, "update_trial")
        return self._coll(TRIALS).update_one(scoped(where, **key), update).matched_count

    def update_trials(
        self, experiment: Any = None, uid: Any = None, where: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> int:
        """Set fields of every trial of the experiment matching ``where``; returns how many matched."""
        exp = experiment_uid(experiment, uid)
        update = _checked_changes(kwargs, "update_trials")
        matched = self._coll(TRIALS).update_many(scoped(where, experiment=exp), update).matched_count
        if not matched:
            self._require_experiment(exp)
        return matched

    def delete_trials(self, experiment: Any = None, uid: Any = None, where: Mapping[str, Any] | None = None) -> int:
        """Delete the experiment's trials matching ``where``; returns how many."""
        exp = experiment_uid(experiment, uid)
        deleted = self._coll(TRIALS).delete_many(scoped(where, experiment=exp)).deleted_count
        if not deleted:
            self._require_experiment(exp)
        return deleted

    # ---------------------------------------------------------------- reads
    def get_trial(self, trial: Any = None, uid: Any = None, experiment_uid: Any = None) -> Trial | None:
        """The stored trial (from a trial, or its ``id`` with ``experiment_uid``), or ``None``."""
        found = self._coll(TRIALS).find_one(trial_key(trial, uid, experiment_uid))
        return None if found is None else Trial(found)

    def retrieve_result(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
        """Copy the stored results into ``trial`` and return it (unchanged if it is not stored)."""
        found = self._coll(TRIALS).find_one(trial_key(trial), projection={"results": 1})
        if found is not None:
            write_back(trial, {"results": Values(found.get("results") or []).to_list()})
        return trial

    def fetch_trials(
        self, experiment: Any = None, uid: Any = None, where: Mapping[str, Any] | None = None
    ) -> list[Trial]:
        """The experiment's trials matching ``where``, oldest ``submit_time`` first."""
        return self._fetch(experiment_uid(experiment, uid), where)

    def fetch_trials_by_status(self, experiment: Any, status: str) -> list[Trial]:
        return self._fetch(experiment_uid(experiment), {"status": validate_status(status)})

    def fetch_pending_trials(self, experiment: Any) -> list[Trial]:
        """New, suspended and interrupted trials: those a worker may reserve."""
        return self._fetch(experiment_uid(experiment), {"status": {"$in": list(PENDING)}})

    def fetch_noncompleted_trials(self, experiment: Any) -> list[Trial]:
        return self._fetch(experiment_uid(experiment), {"status": {"$ne": "completed"}})

    def fetch_lost_trials(self, experiment: Any, timeout: float | None = None) -> list[Trial]:
        """Reserved trials whose heartbeat is older than ``timeout`` seconds (default: 5 heartbeats)."""
        seconds = self.heartbeat * 5 if timeout is None else float(timeout)
        threshold = now() - _dt.timedelta(seconds=seconds)
        return self._fetch(experiment_uid(experiment), {"status": "reserved", "heartbeat": {"$lte": threshold}})

    def count_completed_trials(self, experiment: Any) -> int:
        return self._count(experiment_uid(experiment), "completed")

    def count_broken_trials(self, experiment: Any) -> int:
        return self._count(experiment_uid(experiment), "broken")

    def _fetch(self, exp: Any, where: Mapping[str, Any] | None) -> list[Trial]:
        found = self._coll(TRIALS).find(scoped(where, experiment=exp), sort=_OLDEST_FIRST).to_list()
        if not found:
            self._require_experiment(exp)
        return [Trial(document) for document in found]

    def _count(self, exp: Any, status: str) -> int:
        count = self._coll(TRIALS).count_documents({"experiment": exp, "status": status})
        if not count:
            self._require_experiment(exp)
        return count
