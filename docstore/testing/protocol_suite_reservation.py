"""Protocol suites: trial status changes (compare-and-set, transitions) and reservation, also by racing threads."""

from __future__ import annotations

import datetime as _dt
import threading

import pytest

from docstore.documents import now
from docstore.errors import FailedUpdate
from docstore.storage import Experiment, InvalidTransition, Storage, Trial, UnknownExperiment, UnknownStatus
from docstore.testing.protocol_support import T0, add_trials, make_experiment, stored
from docstore.testing.support import snapshot

__all__ = ["ConcurrencySuite", "ReservationSuite", "StatusSuite"]


class StatusSuite:
    def test_compare_and_set(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        (trial,) = add_trials(storage, exp["_id"], ["reserved"])
        before = now()
        storage.set_trial_status(trial, "completed", was="reserved")
        found = stored(storage, trial)
        assert (trial.status, found.status) == ("completed", "completed")
        assert found.end_time is not None
        assert found.end_time >= before
        assert found.heartbeat == trial.heartbeat
        assert found.heartbeat >= before

    def test_failed_update_reports_expected_and_actual(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        (trial,) = add_trials(storage, exp["_id"], ["reserved"])
        stale = Trial(trial.to_dict())
        storage.set_trial_status(trial, "interrupted")
        before = snapshot(storage.db)
        with pytest.raises(FailedUpdate) as caught:
            storage.set_trial_status(stale, "completed")  # was defaults to stale.status, "reserved"
        assert (caught.value.expected, caught.value.actual) == ("reserved", "interrupted")
        assert snapshot(storage.db) == before
        assert stale.status == "reserved"
        storage.set_trial_status(stale, "reserved", was="interrupted")  # `was` wins over the trial's own
        assert stored(storage, trial).status == "reserved"

    def test_failed_update_on_a_deleted_trial(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        (trial,) = add_trials(storage, exp["_id"], ["reserved"])
        storage.delete_trials(exp)
        with pytest.raises(FailedUpdate) as caught:
            storage.set_trial_status(trial, "completed")
        assert (caught.value.expected, caught.value.actual) == ("reserved", None)

    def test_unknown_status_is_a_value_error(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        (trial,) = add_trials(storage, exp["_id"], ["new"])
        with pytest.raises(ValueError, match="Given status `moo` not one of"):
            storage.set_trial_status(trial, "moo")
        with pytest.raises(UnknownStatus):
            storage.set_trial_status(trial, "reserved", was="moo")
        assert stored(storage, trial).status == "new"

    def test_strict_transitions_and_orions_any(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        done, broken = add_trials(storage, exp["_id"], ["completed", "broken"])
        with pytest.raises(InvalidTransition) as caught:
            storage.set_trial_status(done, "reserved")
        assert (caught.value.was, caught.value.status) == ("completed", "reserved")
        storage.set_trial_status(broken, "new")  # a broken trial may be retried
        storage.set_trial_status(done, "completed")  # the same status: refreshes the heartbeat only
        assert stored(storage, done).end_time is None
        Storage(storage.db, strict=False).set_trial_status(done, "reserved")
        assert stored(storage, done).status == "reserved"

    def test_heartbeat_argument_is_stored(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        (trial,) = add_trials(storage, exp["_id"], ["new"])
        storage.set_trial_status(trial, "reserved", heartbeat=T0)
        assert stored(storage, trial).heartbeat == T0


class ReservationSuite:
    def test_reserves_the_oldest_pending_trial(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        trials = add_trials(storage, exp["_id"], ["completed", "reserved", "interrupted", "new", "suspended", "broken"])
        before = now()
        first = storage.reserve_trial(exp)
        assert first is not None
        assert first.id_override == trials[2].id_override
        assert (first.status, first.worker) == ("reserved", storage.worker)
        assert first.start_time >= before
        assert first.heartbeat >= before
        assert stored(storage, first) == first
        second = storage.reserve_trial(Experiment(exp), worker="w2")
        third = storage.reserve_trial(exp["_id"])
        assert second is not None
        assert third is not None
        assert (second.id_override, second.worker) == (trials[3].id_override, "w2")
        assert third.id_override == trials[4].id_override
        assert storage.reserve_trial(exp) is None

    def test_nothing_pending_and_unknown_experiment(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        assert storage.reserve_trial(exp) is None
        with pytest.raises(UnknownExperiment):
            storage.reserve_trial("nope")

    def test_heartbeat_only_while_reserved(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        add_trials(storage, exp["_id"], ["new"])
        trial = storage.reserve_trial(exp)
        assert trial is not None
        storage.update_trial(trial, heartbeat=T0)
        assert storage.update_heartbeat(trial) == 1
        assert stored(storage, trial).heartbeat > T0
        storage.set_trial_status(trial, "interrupted")
        with pytest.raises(FailedUpdate) as caught:
            storage.update_heartbeat(trial)
        assert (caught.value.expected, caught.value.actual) == ("reserved", "interrupted")

    def test_lost_trials_are_taken_back(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        add_trials(storage, exp["_id"], ["new", "new"])
        lost, alive = storage.reserve_trial(exp), storage.reserve_trial(exp)
        assert lost is not None
        assert alive is not None
        old = now() - _dt.timedelta(seconds=storage.heartbeat * 5 + 1)
        storage.update_trial(lost, heartbeat=old, start_time=old)  # reserved long ago, silent since
        lost.start_time = old
        storage.update_trial(alive, heartbeat=now() - _dt.timedelta(seconds=storage.heartbeat * 4))
        assert storage.fetch_lost_trials(exp) == [stored(storage, lost)]
        assert len(storage.fetch_lost_trials(exp, timeout=60)) == 2
        for trial in storage.fetch_lost_trials(exp):
            storage.set_trial_status(trial, "interrupted", was="reserved")
        with pytest.raises(FailedUpdate):
            storage.push_trial_results(lost)  # the worker that lost it learns it
        again = storage.reserve_trial(exp)
        assert again is not None
        assert again.id_override == lost.id_override
        for late in (storage.update_heartbeat, storage.push_trial_results):  # the first worker wakes up
            with pytest.raises(FailedUpdate, match="reserved again"):
                late(lost)
        with pytest.raises(FailedUpdate) as caught:
            storage.set_trial_status(lost, "completed", was="reserved")
        assert (caught.value.expected, caught.value.actual) == ("reserved", "reserved")
        assert stored(storage, again) == again  # the new reservation is untouched

    def test_push_results_only_while_reserved(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        (new,) = add_trials(storage, exp["_id"], ["new"])
        trial = storage.reserve_trial(exp)
        assert trial is not None
        trial.results = [{"name": "loss", "type": "objective", "value": 0.25}]
        assert storage.push_trial_results(trial) == 1
        assert stored(storage, trial).results.to_list() == [{"name": "loss", "type": "objective", "value": 0.25}]
        storage.set_trial_status(trial, "completed", was="reserved")
        trial.results = {"objective": 9.0}
        with pytest.raises(FailedUpdate):
            storage.push_trial_results(trial)
        assert stored(storage, trial).objective == 0.25
        assert new.id_override == trial.id_override


class ConcurrencySuite:
    def test_threads_reserve_each_trial_once(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        add_trials(storage, exp["_id"], ["new"] * 40)
        taken: list[str] = []
        guard = threading.Lock()

        def worker() -> None:
            while (trial := storage.reserve_trial(exp)) is not None:
                storage.set_trial_status(trial, "completed", was="reserved")
                with guard:
                    taken.append(str(trial.id_override))

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(taken) == len(set(taken)) == 40
        assert storage.count_completed_trials(exp) == 40
