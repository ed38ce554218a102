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

from typing import Any

import pytest

from docstore.errors import DuplicateKeyError, InvalidDocument, MissingArguments
from docstore.storage import ConflictingArguments, Experiment, Storage, Trial, UnknownExperiment, UnknownStatus
from docstore.testing.protocol_suite_inputs import BadInputSuite, ReadOnlySuite
from docstore.testing.protocol_suite_lock import AlgorithmLockSuite
from docstore.testing.protocol_suite_reservation import ConcurrencySuite, ReservationSuite, StatusSuite
from docstore.testing.protocol_support import T0, add_trials, make_experiment, stored
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
    "add_trials",
    "make_experiment",
]


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
        locked = storage.create_experiment(
            {"name": "l", "version": 1, "algorithm": {}}, algo_locked=1, algo_state={"seen": [1, 2]}
        )
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
        for name, keys in (
            ("experiments", [("name", 1), ("version", 1)]),
            ("trials", [("experiment", 1), ("id", 1)]),
            ("algo", [("experiment", 1)]),
        ):
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
        assert set(document) == {
            "_id",
            "id",
            "experiment",
            "status",
            "worker",
            "submit_time",
            "start_time",
            "end_time",
            "heartbeat",
            "params",
            "results",
            "parent",
            "exp_working_dir",
        }
        assert document["params"] == [
            {"name": "x", "type": "real", "value": 1.5},
            {"name": "n", "type": "integer", "value": 3},
            {"name": "act", "type": "categorical", "value": "relu"},
        ]
        assert stored(storage, trial) == trial
        assert storage.get_trial(uid=trial.id, experiment_uid=exp["_id"]) == trial
        assert storage.get_trial(uid="nope", experiment_uid=exp["_id"]) is None
        assert storage.db["trials"].find_one({"_id": trial.id_override}) == document

    def test_register_a_dict_and_orion_lookups(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        registered = storage.register_trial(
            {"experiment": exp["_id"], "params": [{"name": "/x", "type": "real", "value": 0.5}]}
        )
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
        trial.results = [
            {"name": "loss", "type": "objective", "value": 0.5},
            {"name": "acc", "type": "statistic", "value": 0.9},
        ]
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


class ProtocolSuite(
    ExperimentSuite,
    TrialSuite,
    StatusSuite,
    ReservationSuite,
    AlgorithmLockSuite,
    ReadOnlySuite,
    BadInputSuite,
    ConcurrencySuite,
):
    """Every protocol suite: the two above and those of the ``protocol_suite_*`` modules."""
