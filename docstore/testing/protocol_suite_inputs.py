"""Protocol suites: a read-only view, and bad input that must raise and change nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from docstore.errors import FailedUpdate, InvalidDocument, MissingArguments, UndefinedCall, UnsupportedQuery
from docstore.storage import (
    ConflictingArguments,
    InvalidTransition,
    ReadOnlyStorage,
    Storage,
    Trial,
    UnknownExperiment,
    UnknownStatus,
)
from docstore.testing.protocol_support import add_trials, make_experiment
from docstore.testing.support import snapshot

__all__ = ["BadInputSuite", "ReadOnlySuite"]


class ReadOnlySuite:
    def test_reads_pass_writes_raise(self, storage: Storage) -> None:
        exp = make_experiment(storage)
        (trial,) = add_trials(storage, exp["_id"], ["new"])
        view = ReadOnlyStorage(storage)
        assert view.fetch_trials(exp) == [trial]
        assert view.count_completed_trials(exp) == 0
        assert view.get_trial(trial) == trial
        before = snapshot(storage.db)
        for name in (
            "register_trial",
            "reserve_trial",
            "set_trial_status",
            "update_experiment",
            "delete_trials",
            "acquire_algorithm_lock",
            "create_benchmark",
            "push_trial_results",
            "db",
        ):
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
    (
        "update_trials_op",
        lambda s, w: s.update_trials(uid=w["eid"], where={"$expr": {}}, status="new"),
        UnsupportedQuery,
    ),
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
    (
        "register_unknown_exp",
        lambda s, w: s.register_trial(Trial(experiment="nope", params={"z": 1})),
        UnknownExperiment,
    ),
    (
        "register_bad_params",
        lambda s, w: s.register_trial({"experiment": w["eid"], "params": {"x": {1}}}),
        InvalidDocument,
    ),
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
    (
        "create_exp_bad_key",
        lambda s, w: s.create_experiment({"name": "z", "$x": 1}),
        (InvalidDocument, UnsupportedQuery),
    ),
    ("init_lock_unknown", lambda s, w: s.initialize_algorithm_lock("nope", {}), UnknownExperiment),
    ("release_none", lambda s, w: s.release_algorithm_lock(), MissingArguments),
    ("lock_unknown", lambda s, w: _enter(s.acquire_algorithm_lock(uid="nope", timeout=0)), UnknownExperiment),
    ("benchmark_bad", lambda s, w: s.create_benchmark({"name": "b", "$x": 1}), (InvalidDocument, UnsupportedQuery)),
    ("conflicting", lambda s, w: s.fetch_trials(experiment=w["eid"], uid="nope"), ConflictingArguments),
]


class BadInputSuite:
    @pytest.mark.parametrize(("name", "call", "error"), BAD_CALLS, ids=[case[0] for case in BAD_CALLS])
    def test_bad_input_raises_and_changes_nothing(
        self, storage: Storage, name: str, call: BadCall, error: Raised
    ) -> None:
        exp = make_experiment(storage)
        new, done = add_trials(storage, exp["_id"], ["new", "completed"])
        storage.create_benchmark({"name": "b0"})
        before = snapshot(storage.db)
        with pytest.raises(error):
            call(storage, {"eid": exp["_id"], "new": new, "done": done})
        assert snapshot(storage.db) == before, name
