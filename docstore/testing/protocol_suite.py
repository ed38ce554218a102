"""The storage-protocol conformance suite: every :class:`docstore.Storage` method, on any engine.

Each class is a mixin of pytest tests taking a ``storage`` fixture: a fresh, strict
:class:`docstore.Storage` on an empty store. docstore's ``tests/test_protocol.py`` runs
them on every built-in engine with the same code; a third-party engine runs them with::

    @pytest.fixture
    def storage(tmp_path):
        with docstore.setup_storage(f"myscheme://{tmp_path}/store") as opened:
            yield opened

    class TestProtocol(ProtocolSuite):
        pass
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from docstore.documents import now
from docstore.errors import (
    DuplicateKeyError,
    FailedUpdate,
    InvalidDocument,
    LockAcquisitionTimeout,
    MissingArguments,
    UndefinedCall,
    UnsupportedQuery,
)
from docstore.storage import (
    ConflictingArguments,
    Experiment,
    InvalidTransition,
    ReadOnlyStorage,
    Storage,
    Trial,
    UnknownExperiment,
    UnknownStatus,
)
from docstore.testing.support import snapshot

__all__ = [
    "AlgorithmLockSuite",
    "BadInputSuite",
    "ConcurrencySuite",
    "ExperimentSuite",
    "ProtocolSuite",
    "ReadOnlySuite",
    "ReservationSuite",
    "StatusSuite",
    "TrialSuite",
]

T0 = _dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc)


def make_experiment(storage: Storage, name: str = "exp", version: int = 1, **fields: Any) -> dict[str, Any]:
    config = {"name": name, "version": version, "space": {"x": "uniform(0, 10)"},
              "algorithm": {"random": {"seed": 1}}, "metadata": {"user": "me", "datetime": T0},
              "refers": {"parent_id": None, "root_id": None, "adapter": []}, "max_trials": 10, "max_broken": 3,
              "working_dir": "/tmp/w", **fields}  # fmt: skip
    return storage.create_experiment(config)


def add_trials(storage: Storage, uid: str, statuses: list[str], start: int = 0) -> list[Trial]:
    """One trial per status, params ``x = start + i``, submitted one minute apart (oldest first)."""
    out = []
    for i, status in enumerate(statuses, start):
        trial = Trial(experiment=uid, status=status, params={"x": float(i)}, submit_time=T0 + _dt.timedelta(minutes=i))
        out.append(storage.register_trial(trial))
    return out


def stored(storage: Storage, trial: Trial) -> Trial:
    found = storage.get_trial(trial)
    assert found is not None
    return found


class ExperimentSuite:
    def test_create_then_fetch_in_orions_layout(self, storage: Storage) -> None:
        config = {"name": "e", "version": 1, "algorithm": {"random": {}}, "metadata": {"user": "u"}}
        created = storage.create_experiment(config)
        assert isinstance(config["_id"], str)
        assert created == config
        assert storage.fetch_experiments({}) == [config]
        assert storage.fetch_experiments({"metadata.user": "u"}, selection={"name": 1}) == [
            {"_id": config["_id"], "name": "e"}
        ]
        assert storage.fetch_experiments({"name": "other"}) == []
        assert set(storage.db.list_collection_names()) >= {"algo", "experiments"}

    def test_same_name_and_version_is_a_duplicate(self, storage: Storage) -> None:
        make_experiment(storage, "e", 1)
        before = snapshot(storage.db)
        with pytest.raises(DuplicateKeyError):
            make_experiment(storage, "e", 1)
        assert snapshot(storage.db) == before
        make_experiment(storage, "e", 2)
        assert len(storage.fetch_experiments({"name": "e"})) == 2

    def test_create_makes_the_algorithm_lock(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        info = storage.get_algorithm_lock_info(uid=exp["_id"])
        assert info is not None
        assert (info.locked, info.state, info.configuration) == (False, None, {"random": {"seed": 1}})
        locked = storage.create_experiment({"name": "l", "version": 1, "algorithm": {}}, algo_locked=1,
                                           algo_state={"seen": [1, 2]})  # fmt: skip
        info = storage.get_algorithm_lock_info(uid=locked["_id"])
        assert info is not None
        assert (info.locked, info.state) == (True, {"seen": [1, 2]})

    def test_create_is_undone_when_the_lock_cannot_be_written(self, storage: Storage) -> None:
        exp = make_experiment(storage, "e", 1)
        storage.delete_experiment(uid=exp["_id"])  # its lock stays, as in Orion
        with pytest.raises(DuplicateKeyError):
            storage.create_experiment({"_id": exp["_id"], "name": "e", "version": 1})
        assert storage.fetch_experiments({}) == []

    def test_update_experiment(self, storage: Storage) -> None:
        exp, other = make_experiment(storage, "a"), make_experiment(storage, "b")
        assert storage.update_experiment(Experiment(exp), max_trials=50) is True
        assert storage.update_experiment(uid=exp["_id"], where={"max_trials": 1}, max_trials=7) is False
        dotted: dict[str, Any] = {"metadata.user": "you"}
        assert storage.update_experiment(uid=exp["_id"], **dotted) is True
        found = storage.fetch_experiments({"_id": exp["_id"]})[0]
        assert (found["max_trials"], found["metadata"]) == (50, {"user": "you", "datetime": T0})
        assert storage.fetch_experiments({"_id": other["_id"]})[0]["max_trials"] == 10
        with pytest.raises(ConflictingArguments):
            storage.update_experiment(experiment=exp, uid=other["_id"], max_trials=1)
        with pytest.raises(AssertionError):  # Orion's get_uid asserts
            storage.update_experiment(experiment=exp, uid=other["_id"], max_trials=1)

    def test_delete_experiment(self, storage: Storage) -> None:
        exp, other = make_experiment(storage, "a"), make_experiment(storage, "b")
        add_trials(storage, exp["_id"], ["new"])
        assert storage.delete_experiment(uid=exp["_id"]) == 1
        assert [e["_id"] for e in storage.fetch_experiments({})] == [other["_id"]]
        assert storage.delete_experiment(Experiment(other)) == 1
        assert storage.db["trials"].count_documents({}) == 1  # trials are deleted with delete_trials

    def test_benchmarks(self, storage: Storage) -> None:
        config = {"name": "bench", "targets": [{"assess": {}, "task": {}}]}
        storage.create_benchmark(config)
        assert storage.fetch_benchmark({"name": "bench"}) == [config]
        assert storage.fetch_benchmark({}, selection={"name": 1, "_id": 0}) == [{"name": "bench"}]
        with pytest.raises(DuplicateKeyError):
            storage.create_benchmark({"name": "bench"})
        assert storage.delete_benchmark({"name": "bench"}) == 1
        assert storage.fetch_benchmark({}) == []

    def test_unique_indexes_exist_after_first_use(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        add_trials(storage, exp["_id"], ["new"])
        for name, keys in (("experiments", [("name", 1), ("version", 1)]), ("trials", [("experiment", 1), ("id", 1)]),
                           ("algo", [("experiment", 1)])):  # fmt: skip
            info = storage.db[name].index_information().values()
            assert any(i["key"] == keys and i.get("unique") for i in info), (name, list(info))

    def test_experiment_wrapper(self, storage: Storage) -> None:
        exp = Experiment(make_experiment(storage, "w", 3))
        assert (exp.name, exp.version, exp["name"], exp.max_trials) == ("w", 3, "w", 10)
        assert exp.id == exp._id == exp["_id"]
        assert Experiment.from_dict(exp.to_dict()) == exp
        assert storage.fetch_trials(exp) == []


class TrialSuite:
    def test_register_and_get(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        trial = Trial(experiment=exp["_id"], params={"x": 1.5, "n": 3, "act": "relu"})
        assert storage.register_trial(trial) is trial
        assert isinstance(trial.id_override, str)
        assert trial.submit_time is not None
        document = trial.to_dict()
        assert set(document) == {"_id", "id", "experiment", "status", "worker", "submit_time", "start_time",
                                 "end_time", "heartbeat", "params", "results", "parent", "exp_working_dir"}  # fmt: skip
        assert document["params"] == [{"name": "x", "type": "real", "value": 1.5},
                                      {"name": "n", "type": "integer", "value": 3},
                                      {"name": "act", "type": "categorical", "value": "relu"}]  # fmt: skip
        assert stored(storage, trial) == trial
        assert storage.get_trial(uid=trial.id, experiment_uid=exp["_id"]) == trial
        assert storage.get_trial(uid="nope", experiment_uid=exp["_id"]) is None
        assert storage.db["trials"].find_one({"_id": trial.id_override}) == document

    def test_register_a_dict_and_orion_lookups(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        registered = storage.register_trial({"experiment": exp["_id"], "params": [
            {"name": "/x", "type": "real", "value": 0.5}]})  # fmt: skip
        assert isinstance(registered, Trial)
        assert registered.params["/x"] == 0.5
        with pytest.raises(MissingArguments):
            storage.get_trial()
        with pytest.raises(MissingArguments):
            storage.get_trial(uid=registered.id)  # Orion needs the experiment too
        with pytest.raises(ConflictingArguments):
            storage.get_trial(trial=registered, uid="123")

    def test_register_twice_is_a_duplicate(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        add_trials(storage, exp["_id"], ["new"])
        before = snapshot(storage.db)
        with pytest.raises(DuplicateKeyError):
            storage.register_trial(Trial(experiment=exp["_id"], params={"x": 0.0}))
        assert snapshot(storage.db) == before

    def test_trial_id_is_a_hash_of_params_lie_and_parent(self) -> None:
        one = Trial(experiment="e", params={"x": 1.0, "y": "a"})
        assert one.id == Trial(experiment="other", params={"x": 1.0, "y": "a"}).id  # not the experiment
        assert len(one.id) == 32
        assert one.id != Trial(experiment="e", params={"x": 2.0, "y": "a"}).id
        assert one.id != Trial(experiment="e", params={"x": 1.0, "y": "a"}, parent="p").id
        lie = [{"name": "lie", "type": "lie", "value": 3.0}]
        assert one.id != Trial(experiment="e", params={"x": 1.0, "y": "a"}, results=lie).id
        assert one.id == Trial(one.to_dict() | {"id": "ignored"}).id

    def test_params_and_results_read_like_dicts(self) -> None:
        trial = Trial(params=[{"name": "lr", "type": "real", "value": 0.1}])
        trial.results = [{"name": "loss", "type": "objective", "value": 0.5},
                         {"name": "acc", "type": "statistic", "value": 0.9}]  # fmt: skip
        assert (trial.params["lr"], dict(trial.results), trial.objective) == (0.1, {"loss": 0.5, "acc": 0.9}, 0.5)
        assert trial.results.type_of("acc") == "statistic"
        assert trial.results.of_type("objective") == {"loss": 0.5}
        with pytest.raises(KeyError):
            trial.params["nope"]
        with pytest.raises(InvalidDocument):
            trial.params = [{"name": "lr", "type": "float", "value": 1}]
        with pytest.raises(InvalidDocument):
            trial.results = [{"name": "a", "type": "objective", "value": 1}, {"name": "a", "type": "lie", "value": 2}]
        with pytest.raises(UnknownStatus):
            trial.status = "done"

    def test_fetch_trials_oldest_first_with_where(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        trials = add_trials(storage, exp["_id"], ["completed", "reserved", "reserved", "new"])
        other = make_experiment(storage, "other")
        add_trials(storage, other["_id"], ["reserved"])
        assert storage.fetch_trials(Experiment(exp)) == trials
        assert storage.fetch_trials(uid=exp["_id"], where={"status": "reserved"}) == trials[1:3]
        assert storage.fetch_trials(exp, where={"params.value": {"$gte": 2.0}}) == trials[2:]
        assert storage.fetch_trials(exp, where={"experiment": other["_id"]}) == []  # scoped, never replaced
        with pytest.raises(MissingArguments):
            storage.fetch_trials()
        with pytest.raises(UnknownExperiment):
            storage.fetch_trials(uid="nope")

    def test_fetch_by_status_pending_noncompleted_and_counts(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        statuses = ["completed", "broken", "reserved", "interrupted", "suspended", "new", "completed"]
        trials = add_trials(storage, exp["_id"], statuses)
        assert storage.fetch_trials_by_status(exp, "completed") == [trials[0], trials[6]]
        assert storage.fetch_pending_trials(exp) == trials[3:6]
        assert storage.fetch_noncompleted_trials(exp) == trials[1:6]
        assert (storage.count_completed_trials(exp), storage.count_broken_trials(exp)) == (2, 1)
        empty = make_experiment(storage, "empty")
        assert (storage.count_completed_trials(empty), storage.fetch_pending_trials(empty)) == (0, [])

    def test_update_trial_and_trials(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        trials = add_trials(storage, exp["_id"], ["completed", "reserved", "reserved"])
        assert storage.update_trial(trials[0], worker="w1") == 1
        assert storage.update_trial(trials[0], where={"status": "new"}, worker="w2") == 0
        assert stored(storage, trials[0]).worker == "w1"
        assert storage.update_trials(exp, where={"status": "reserved"}, status="interrupted") == 2
        assert [t.status for t in storage.fetch_trials(exp)] == ["completed", "interrupted", "interrupted"]
        assert storage.update_trial(uid=trials[1].id, experiment_uid=exp["_id"], status="new") == 1
        assert stored(storage, trials[1]).status == "new"

    def test_delete_trials(self, storage: Storage) -> None:
        exp, other = make_experiment(storage, "a"), make_experiment(storage, "b")
        add_trials(storage, exp["_id"], ["new", "completed", "new"])
        add_trials(storage, other["_id"], ["new"])
        assert storage.delete_trials(exp, where={"status": "new"}) == 2
        assert [t.status for t in storage.fetch_trials(exp)] == ["completed"]
        assert storage.delete_trials(uid=exp["_id"]) == 1
        assert storage.fetch_trials(exp) == []
        assert len(storage.fetch_trials(other)) == 1

    def test_retrieve_result_reads_the_stored_results(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        (trial,) = add_trials(storage, exp["_id"], ["reserved"])
        trial.results = {"objective": 1.25}
        storage.push_trial_results(trial)
        fresh = Trial(trial.to_dict() | {"results": []})
        assert storage.retrieve_result(fresh) is fresh
        assert fresh.objective == 1.25


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


def _hold_lock(storage: Storage, uid: str, **kwargs: Any) -> Any:
    manager = storage.acquire_algorithm_lock(uid=uid, **kwargs)
    manager.__enter__()
    return manager


class AlgorithmLockSuite:
    def test_state_saved_on_exit_and_bytes_round_trip(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        with storage.acquire_algorithm_lock(Experiment(exp), timeout=1) as locked:
            assert (locked.state, locked.configuration, locked.locked) == (None, {"random": {"seed": 1}}, True)
            locked.set_state({"rng": b"\x00\xff" * 8, "seen": [0.5]})
        info = storage.get_algorithm_lock_info(uid=exp["_id"])
        assert info is not None
        assert not info.locked
        assert info.owner is None
        assert info.state == {"rng": b"\x00\xff" * 8, "seen": [0.5]}
        raw = storage.db["algo"].find_one({"experiment": exp["_id"]}, ["state"])
        assert raw is not None
        assert isinstance(raw["state"], bytes)

    def test_state_discarded_on_exception_and_lock_released(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        with storage.acquire_algorithm_lock(uid=exp["_id"]) as locked:
            locked.set_state("kept")

        def fail_under_the_lock() -> None:
            with storage.acquire_algorithm_lock(uid=exp["_id"]) as locked:
                locked.set_state("lost")
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            fail_under_the_lock()
        with storage.acquire_algorithm_lock(uid=exp["_id"], timeout=0) as locked:
            assert locked.state == "kept"

    def test_timeout_while_held(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        with storage.acquire_algorithm_lock(uid=exp["_id"]) as held:
            started = time.monotonic()
            with pytest.raises(LockAcquisitionTimeout) as caught, \
                    storage.acquire_algorithm_lock(uid=exp["_id"], timeout=0.2, retry_interval=0.05):  # fmt: skip
                pass
            assert time.monotonic() - started >= 0.2
            assert isinstance(caught.value, TimeoutError)
            assert caught.value.timeout == 0.2
            assert str(held.owner) in str(caught.value)

    def test_lease_is_renewed_while_held(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        with storage.acquire_algorithm_lock(uid=exp["_id"], lease=0.3) as locked:
            time.sleep(1.0)  # more than three leases
            with pytest.raises(LockAcquisitionTimeout):
                _hold_lock(storage, exp["_id"], timeout=0)
            locked.set_state(1)
            info = storage.get_algorithm_lock_info(uid=exp["_id"])
            assert info is not None
            assert info.lease_until is not None
            assert info.lease_until > now()
        assert storage.get_algorithm_lock_info(uid=exp["_id"]).state == 1  # type: ignore[union-attr]

    def test_expired_lease_is_taken_over(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        past = now() - _dt.timedelta(seconds=1)
        storage.db["algo"].update_one({"experiment": exp["_id"]},  # a holder that died
                                      {"$set": {"locked": 1, "owner": "dead", "lease_until": past}})  # fmt: skip
        with storage.acquire_algorithm_lock(uid=exp["_id"], timeout=0) as locked:
            assert locked.owner != "dead"

    def test_holder_whose_lock_was_taken_cannot_save(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        manager = storage.acquire_algorithm_lock(uid=exp["_id"])
        first = manager.__enter__()
        first.set_state("stale")
        assert storage.release_algorithm_lock(uid=exp["_id"]) is True  # forced, as Orion's is
        with storage.acquire_algorithm_lock(uid=exp["_id"], timeout=0) as second:
            second.set_state("fresh")
        with pytest.raises(FailedUpdate) as caught:
            manager.__exit__(None, None, None)
        assert caught.value.expected == first.owner
        assert storage.get_algorithm_lock_info(uid=exp["_id"]).state == "fresh"  # type: ignore[union-attr]

    def test_forced_release_info_and_delete(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        assert storage.release_algorithm_lock(uid=exp["_id"]) is False
        manager = _hold_lock(storage, exp["_id"], lease=0.3)
        assert storage.release_algorithm_lock(uid=exp["_id"], new_state={"a": 1}) is True
        with pytest.raises(FailedUpdate):
            manager.__exit__(None, None, None)
        assert storage.get_algorithm_lock_info(uid=exp["_id"]).state == {"a": 1}  # type: ignore[union-attr]
        assert storage.delete_algorithm_lock(uid=exp["_id"]) == 1
        assert storage.get_algorithm_lock_info(uid=exp["_id"]) is None
        with pytest.raises(LockAcquisitionTimeout, match="no algorithm lock"):
            _hold_lock(storage, exp["_id"], timeout=0)
        assert storage.initialize_algorithm_lock(exp["_id"], {"grid": {}})
        with pytest.raises(DuplicateKeyError):
            storage.initialize_algorithm_lock(exp["_id"], {"grid": {}})

    def test_lock_without_a_lease_never_expires(self, storage: Storage) -> None:
        exp = storage.create_experiment({"name": "o", "version": 1}, algo_locked=1, algo_heartbeat=T0)
        with pytest.raises(LockAcquisitionTimeout, match="without a lease"):
            _hold_lock(storage, exp["_id"], timeout=0)

    def test_unknown_experiment(self, storage: Storage) -> None:
        with pytest.raises(UnknownExperiment):
            _hold_lock(storage, "nope", timeout=5)
        with pytest.raises(LockAcquisitionTimeout):
            _hold_lock(Storage(storage.db, strict=False), "nope", timeout=0)


class ReadOnlySuite:
    def test_reads_pass_writes_raise(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        (trial,) = add_trials(storage, exp["_id"], ["new"])
        view = ReadOnlyStorage(storage)
        assert view.fetch_trials(exp) == [trial]
        assert view.count_completed_trials(exp) == 0
        assert view.get_trial(trial) == trial
        before = snapshot(storage.db)
        for name in ("register_trial", "reserve_trial", "set_trial_status", "update_experiment", "delete_trials",
                     "acquire_algorithm_lock", "create_benchmark", "push_trial_results", "db"):  # fmt: skip
            with pytest.raises(UndefinedCall, match=name):
                getattr(view, name)
        with pytest.raises(AttributeError):
            view.reserve_trial(exp)
        with pytest.raises(UndefinedCall):
            view._storage = storage
        assert snapshot(storage.db) == before
        assert ReadOnlyStorage(view).fetch_experiments({}) == [exp]


BadCall = Callable[[Storage, dict[str, Any]], Any]


def _enter(manager: Any) -> Any:
    with manager:
        return None


Raised = type[Exception] | tuple[type[Exception], ...]
BAD_CALLS: list[tuple[str, BadCall, Raised]] = [
    ("fetch_where", lambda s, w: s.fetch_trials(uid=w["eid"], where={"$where": "1"}), UnsupportedQuery),
    ("fetch_experiments_op", lambda s, w: s.fetch_experiments({"name": {"$foo": 1}}), UnsupportedQuery),
    ("update_trials_op", lambda s, w: s.update_trials(uid=w["eid"], where={"$expr": {}}, status="new"),
     UnsupportedQuery),
    ("update_trial_status", lambda s, w: s.update_trial(w["new"], status="moo"), UnknownStatus),
    ("update_trial_id", lambda s, w: s.update_trial(w["new"], _id="x"), InvalidDocument),
    ("update_trial_params", lambda s, w: s.update_trial(w["new"], params=[{"name": 1}]), InvalidDocument),
    ("update_trial_nothing", lambda s, w: s.update_trial(w["new"]), MissingArguments),
    ("set_status", lambda s, w: s.set_trial_status(w["new"], "moo"), UnknownStatus),
    ("set_status_was", lambda s, w: s.set_trial_status(w["new"], "reserved", was="moo"), UnknownStatus),
    ("set_status_transition", lambda s, w: s.set_trial_status(w["done"], "new"), InvalidTransition),
    ("set_status_stale", lambda s, w: s.set_trial_status(w["new"], "completed", was="reserved"), FailedUpdate),
    ("push_not_reserved", lambda s, w: s.push_trial_results(w["new"]), FailedUpdate),
    ("heartbeat_not_reserved", lambda s, w: s.update_heartbeat(w["done"]), FailedUpdate),
    ("register_unknown_exp", lambda s, w: s.register_trial(Trial(experiment="nope", params={"z": 1})),
     UnknownExperiment),
    ("register_bad_params", lambda s, w: s.register_trial({"experiment": w["eid"], "params": {"x": {1}}}),
     InvalidDocument),
    ("register_none", lambda s, w: s.register_trial(None), MissingArguments),
    ("reserve_unknown", lambda s, w: s.reserve_trial("nope"), UnknownExperiment),
    ("reserve_none", lambda s, w: s.reserve_trial(None), MissingArguments),
    ("fetch_status", lambda s, w: s.fetch_trials_by_status(w["eid"], "moo"), UnknownStatus),
    ("count_unknown", lambda s, w: s.count_completed_trials("nope"), UnknownExperiment),
    ("lost_unknown", lambda s, w: s.fetch_lost_trials("nope"), UnknownExperiment),
    ("get_trial_none", lambda s, w: s.get_trial(), MissingArguments),
    ("delete_trials_none", lambda s, w: s.delete_trials(), MissingArguments),
    ("delete_trials_unknown", lambda s, w: s.delete_trials(uid="nope"), UnknownExperiment),
    ("update_trials_unknown", lambda s, w: s.update_trials(uid="nope", status="new"), UnknownExperiment),
    ("update_exp_none", lambda s, w: s.update_experiment(max_trials=1), MissingArguments),
    ("update_exp_nothing", lambda s, w: s.update_experiment(uid=w["eid"]), MissingArguments),
    ("update_exp_unknown", lambda s, w: s.update_experiment(uid="nope", max_trials=1), UnknownExperiment),
    ("update_exp_id", lambda s, w: s.update_experiment(uid=w["eid"], _id="x"), InvalidDocument),
    ("delete_exp_unknown", lambda s, w: s.delete_experiment(uid="nope"), UnknownExperiment),
    ("create_exp_nameless", lambda s, w: s.create_experiment({"version": 1}), InvalidDocument),
    ("create_exp_bad_value", lambda s, w: s.create_experiment({"name": "z", "f": {1, 2}}), InvalidDocument),
    ("create_exp_bad_key", lambda s, w: s.create_experiment({"name": "z", "$x": 1}),
     (InvalidDocument, UnsupportedQuery)),
    ("init_lock_unknown", lambda s, w: s.initialize_algorithm_lock("nope", {}), UnknownExperiment),
    ("release_none", lambda s, w: s.release_algorithm_lock(), MissingArguments),
    ("lock_unknown", lambda s, w: _enter(s.acquire_algorithm_lock(uid="nope", timeout=0)), UnknownExperiment),
    ("benchmark_bad", lambda s, w: s.create_benchmark({"name": "b", "$x": 1}), (InvalidDocument, UnsupportedQuery)),
    ("conflicting", lambda s, w: s.fetch_trials(experiment=w["eid"], uid="nope"), ConflictingArguments),
]


class BadInputSuite:
    @pytest.mark.parametrize(("name", "call", "error"), BAD_CALLS, ids=[case[0] for case in BAD_CALLS])
    def test_bad_input_raises_and_changes_nothing(self, storage: Storage, name: str, call: BadCall,
                                                  error: Raised) -> None:  # fmt: skip
        exp = make_experiment(storage)
        new, done = add_trials(storage, exp["_id"], ["new", "completed"])
        storage.create_benchmark({"name": "b0"})
        before = snapshot(storage.db)
        with pytest.raises(error):
            call(storage, {"eid": exp["_id"], "new": new, "done": done})
        assert snapshot(storage.db) == before, name


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


class ProtocolSuite(ExperimentSuite, TrialSuite, StatusSuite, ReservationSuite, AlgorithmLockSuite, ReadOnlySuite,
                    BadInputSuite, ConcurrencySuite):  # fmt: skip
    """Every protocol suite above."""
