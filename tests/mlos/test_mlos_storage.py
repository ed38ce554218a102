"""DocstoreStorage behaves like mlos_bench's SqlStorage: lifecycle, scheduling, telemetry, data views."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta
from pathlib import Path

import pandas
import pytest
import pytz
from docstore_mlos import DocstoreStorage, ExperimentData, TrialData, TunableConfigData, TunableConfigTrialGroupData
from docstore_mlos._common import HAS_TRIAL_RUNNERS
from mlos_bench.environments.status import Status
from mlos_bench.storage.base_storage import Storage
from mlos_bench.tunables.tunable_groups import TunableGroups

# mlos_bench's own code (kv_df_to_dict) and SqlStorage's alembic warn under pandas 3 / alembic 1.16.
pytestmark = [
    pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.rename is deprecated"),
    pytest.mark.filterwarnings("ignore:No path_separator found in configuration:DeprecationWarning"),
]

T0 = datetime(2024, 6, 1, 12, 0, 0, 123456, tzinfo=pytz.UTC)


def _experiment(storage: Storage, root: str, tunables: TunableGroups, exp_id: str = "exp1", trial_id: int = 1):
    return storage.experiment(
        experiment_id=exp_id,
        trial_id=trial_id,
        root_env_config=root,
        description=f"test {exp_id}",
        tunables=tunables,
        opt_targets={"score": "min", "latency": "max"},
    )


def _run(exp: Storage.Experiment, tunables: TunableGroups, values: dict, score: float | None, at: datetime):
    """One trial: PENDING -> RUNNING -> SUCCEEDED (score) or FAILED (None)."""
    trial = exp.new_trial(tunables.copy().assign(values), at)
    trial.update(Status.RUNNING, at + timedelta(seconds=1))
    if score is None:
        trial.update(Status.FAILED, at + timedelta(seconds=2))
    else:
        trial.update(Status.SUCCEEDED, at + timedelta(seconds=2), {"score": score, "latency": 10})
    return trial


def test_experiment_lifecycle_and_resume(storage, root_env_config, tunables):
    with _experiment(storage, root_env_config, tunables) as exp:
        assert exp.trial_id == 1
        assert exp.load() == ([], [], [], [])
        first = exp.new_trial(tunables, T0, config={"is_defaults": True})
        second = exp.new_trial(tunables, T0)
        assert (first.trial_id, second.trial_id) == (1, 2)
        assert first.tunable_config_id == second.tunable_config_id  # same tunables, one config
        assert exp.trial_id == 3
        assert first.status == Status.PENDING
    data = storage.experiments["exp1"]
    assert isinstance(data, ExperimentData)
    root, repo, commit = data.root_env_config
    assert (root, repo) == ("root.jsonc", "https://example.com/bench-env.git")
    assert len(commit) == 40
    assert data.objectives == {"latency": "max", "score": "min"}
    assert data.description == "test exp1"
    # resuming continues after the last trial, whatever trial_id is passed
    with _experiment(storage, root_env_config, tunables, trial_id=1) as again:
        assert again.trial_id == 3
        assert again.new_trial(tunables, T0).trial_id == 3


def test_experiment_starts_at_given_trial_id(storage, root_env_config, tunables):
    with _experiment(storage, root_env_config, tunables, trial_id=7) as exp:
        assert exp.new_trial(tunables, T0).trial_id == 7


def test_trial_update_and_load(storage, root_env_config, tunables):
    with _experiment(storage, root_env_config, tunables) as exp:
        failed = _run(exp, tunables, {"x": 1}, None, T0)
        succeeded = _run(exp, tunables, {"x": 2, "kind": "b"}, 0.25, T0)
        pending = exp.new_trial(tunables.copy().assign({"x": 3}), T0)
        trial_ids, configs, scores, status = exp.load()
        assert trial_ids == [failed.trial_id, succeeded.trial_id]
        assert scores == [None, {"score": "0.25", "latency": "10"}]  # text, as SqlStorage gives
        assert status == [Status.FAILED, Status.SUCCEEDED]
        assert tunables.copy().assign(configs[1]).get_param_values() == succeeded.tunables.get_param_values()
        assert exp.load(last_trial_id=failed.trial_id)[0] == [succeeded.trial_id]
        assert exp.load_tunable_config(succeeded.tunable_config_id) == {"x": "2", "rate": "0.5", "kind": "b"}
        assert [t.trial_id for t in exp.pending_trials(T0 + timedelta(days=1), running=True)] == [pending.trial_id]
        # a completed trial cannot complete again
        with pytest.raises(RuntimeError):
            succeeded.update(Status.FAILED, T0 + timedelta(seconds=5))
        history = storage.db["mlos_trials"].find_one({"_id": f"exp1/{succeeded.trial_id}"})["status_history"]
        assert [h["status"] for h in history] == ["RUNNING", "SUCCEEDED"]


def test_timestamps_keep_microseconds(storage, root_env_config, tunables):
    with _experiment(storage, root_env_config, tunables) as exp:
        trial = exp.new_trial(tunables, T0)
        end = T0 + timedelta(seconds=3, microseconds=789)
        trial.update(Status.RUNNING, T0 + timedelta(microseconds=1))
        trial.update(Status.SUCCEEDED, end, {"score": 1.0})
        data = storage.experiments["exp1"].trials[trial.trial_id]
        assert data.ts_start == T0 + timedelta(microseconds=1)
        assert data.ts_end == end
        assert data.ts_end.tzinfo == pytz.UTC
        df = storage.experiments["exp1"].results_df
        assert df["ts_end"].iloc[0] == pandas.Timestamp(end)


def test_pending_trials_schedule(storage, root_env_config, tunables):
    with _experiment(storage, root_env_config, tunables) as exp:
        now = T0
        later = exp.new_trial(tunables.copy().assign({"x": 1}), now + timedelta(microseconds=500))
        soon = exp.new_trial(tunables.copy().assign({"x": 2}), now)
        running = exp.new_trial(tunables.copy().assign({"x": 3}), now)
        running.update(Status.RUNNING, now)

        def ids(at: datetime, running_too: bool) -> list[int]:
            return [t.trial_id for t in exp.pending_trials(at, running=running_too)]

        assert ids(now, False) == [soon.trial_id]  # microsecond precision: `later` is not due
        assert ids(now + timedelta(microseconds=500), False) == [later.trial_id, soon.trial_id]
        assert ids(now + timedelta(seconds=1), True) == [later.trial_id, soon.trial_id, running.trial_id]
        pending = next(iter(exp.pending_trials(now, running=False)))
        assert pending.tunables.get_param_values() == soon.tunables.get_param_values()
        assert pending.tunable_config_id == soon.tunable_config_id
        soon.update(Status.CANCELED, now + timedelta(seconds=1))
        assert ids(now + timedelta(seconds=1), True) == [later.trial_id, running.trial_id]


def test_trial_config_and_new_config_data(storage, root_env_config, tunables):
    with _experiment(storage, root_env_config, tunables) as exp:
        trial = exp.new_trial(tunables, T0, config={"repeat_i": 1, "note": "x.y"})
        config = trial.config({"global": 5})
        assert config["experiment_id"] == "exp1"
        assert config["trial_id"] == trial.trial_id
        assert config["global"] == 5
        trial.add_new_config_data({"vm.size": "large"})
        with pytest.raises(ValueError, match="already exists"):
            trial.add_new_config_data({"vm.size": "small"})
        pending = next(iter(exp.pending_trials(T0, running=False)))
        assert pending.config()["vm.size"] == "large"
        assert pending.config()["repeat_i"] == "1"  # text, as SqlStorage gives
        meta = storage.experiments["exp1"].trials[trial.trial_id].metadata_dict
        assert meta == {"note": "x.y", "repeat_i": 1, "vm.size": "large"}


def test_trial_runners(storage, root_env_config, tunables):
    with _experiment(storage, root_env_config, tunables) as exp:
        first = exp.new_trial(tunables.copy().assign({"x": 1}), T0)
        second = exp.new_trial(tunables.copy().assign({"x": 2}), T0)
        assert first.trial_runner_id is None
        assert first.set_trial_runner(3) == 3
        assert first.config()["trial_runner_id"] == 3

        def ids(**kwargs: object) -> list[int]:
            return [t.trial_id for t in exp.pending_trials(T0, running=True, **kwargs)]

        assert ids() == [first.trial_id, second.trial_id]
        assert ids(trial_runner_assigned=True) == [first.trial_id]
        assert ids(trial_runner_assigned=False) == [second.trial_id]
        loaded = next(iter(exp.pending_trials(T0, running=True, trial_runner_assigned=True)))
        assert loaded.trial_runner_id == 3
        first.update(Status.RUNNING, T0)
        assert first.set_trial_runner(4) == 3  # running: cannot move
        if HAS_TRIAL_RUNNERS:
            assert "trial_runner_id" in storage.experiments["exp1"].results_df.columns


def test_telemetry(storage, root_env_config, tunables):
    with _experiment(storage, root_env_config, tunables) as exp:
        trial = exp.new_trial(tunables, T0)
        metrics = [
            (T0 + timedelta(microseconds=2), "cpu.load", 0.5),
            (T0 + timedelta(microseconds=1), "mem", 100),
            (T0 + timedelta(microseconds=1), "cpu.load", None),
        ]
        trial.update_telemetry(Status.RUNNING, T0, metrics)
        trial.update_telemetry(Status.RUNNING, T0 + timedelta(seconds=1), metrics[:1])  # duplicates ignored
        expected = [
            (T0 + timedelta(microseconds=1), "cpu.load", None),
            (T0 + timedelta(microseconds=1), "mem", "100"),
            (T0 + timedelta(microseconds=2), "cpu.load", "0.5"),
        ]
        assert exp.load_telemetry(trial.trial_id) == expected
        df = storage.experiments["exp1"].trials[trial.trial_id].telemetry_df
        assert list(df.columns) == ["ts", "metric", "value"]
        assert list(df["metric"]) == ["cpu.load", "mem", "cpu.load"]
        assert df["ts"].iloc[2] == pandas.Timestamp(T0 + timedelta(microseconds=2))
        assert exp.load_telemetry(999) == []


def test_tunable_config_groups(storage, root_env_config, tunables):
    with _experiment(storage, root_env_config, tunables) as exp:
        a1 = _run(exp, tunables, {"x": 1}, 1.0, T0)
        b1 = _run(exp, tunables, {"x": 2}, 2.0, T0)
        a2 = _run(exp, tunables, {"x": 1}, 3.0, T0)
        data = storage.experiments["exp1"]
        assert a1.tunable_config_id == a2.tunable_config_id != b1.tunable_config_id
        groups = data.tunable_config_trial_groups
        assert set(groups) == {a1.tunable_config_id, b1.tunable_config_id}
        group = groups[a1.tunable_config_id]
        assert isinstance(group, TunableConfigTrialGroupData)
        assert group.tunable_config_trial_group_id == a1.trial_id
        assert sorted(group.trials) == [a1.trial_id, a2.trial_id]
        assert list(group.results_df["trial_id"]) == [a1.trial_id, a2.trial_id]
        assert group.tunable_config.config_dict == {"kind": "a", "rate": 0.5, "x": 1}
        trial = data.trials[a2.trial_id]
        assert isinstance(trial, TrialData)
        assert trial.tunable_config_trial_group == group
        assert trial.tunable_config_trial_group.tunable_config_trial_group_id == a1.trial_id
        assert trial.results_dict == {"latency": 10, "score": 3.0}
        configs = data.tunable_configs
        assert isinstance(configs[b1.tunable_config_id], TunableConfigData)
        assert configs[b1.tunable_config_id].config_dict["x"] == 2
        assert data.default_tunable_config_id == a1.tunable_config_id
    # configs are shared between experiments, deduplicated by hash
    with _experiment(storage, root_env_config, tunables, exp_id="exp2") as other:
        assert other.new_trial(tunables.copy().assign({"x": 2}), T0).tunable_config_id == b1.tunable_config_id


def test_default_config_id_prefers_is_defaults(storage, root_env_config, tunables):
    with _experiment(storage, root_env_config, tunables) as exp:
        assert storage.experiments["exp1"].default_tunable_config_id is None
        exp.new_trial(tunables.copy().assign({"x": 5}), T0)
        defaults = exp.new_trial(tunables, T0, config={"is_defaults": True})
        assert storage.experiments["exp1"].default_tunable_config_id == defaults.tunable_config_id


def _scripted(storage: Storage, root: str, tunables: TunableGroups) -> pandas.DataFrame:
    """The same trials on any storage (whole-second start times: SqlStorage truncates them)."""
    at = T0.replace(microsecond=0)
    with _experiment(storage, root, tunables) as exp:
        _run(exp, tunables, {"x": 1, "kind": "b"}, 0.5, at)
        _run(exp, tunables, {"x": 2}, None, at)
        _run(exp, tunables, {"x": 1, "kind": "b"}, 1.5, at)
        exp.new_trial(tunables.copy().assign({"x": 4}), at)
    return storage.experiments["exp1"].results_df


def test_results_df_matches_sqlstorage(storage, root_env_config, tunables, tmp_path: Path):
    from mlos_bench.storage.sql.storage import SqlStorage

    empty = storage.experiments  # no experiment yet
    assert empty == {}
    sql = SqlStorage({"drivername": "sqlite", "database": str(tmp_path / "mlos.sqlite")})
    expected = _scripted(sql, root_env_config, tunables)
    got = _scripted(storage, root_env_config, tunables)
    assert list(got.columns) == list(expected.columns)
    assert dict(got.dtypes) == dict(expected.dtypes)
    pandas.testing.assert_frame_equal(got, expected)
    for trial_id, trial in sql.experiments["exp1"].trials.items():
        ours = storage.experiments["exp1"].trials[trial_id]
        assert (ours.status, ours.ts_start, ours.ts_end, ours.tunable_config_id) == (
            trial.status,
            trial.ts_start,
            trial.ts_end,
            trial.tunable_config_id,
        )
        pandas.testing.assert_frame_equal(ours.results_df, trial.results_df)
        pandas.testing.assert_frame_equal(ours.metadata_df, trial.metadata_df)
        pandas.testing.assert_frame_equal(ours.tunable_config.config_df, trial.tunable_config.config_df)


def test_results_df_empty_experiment(storage, root_env_config, tunables):
    with _experiment(storage, root_env_config, tunables):
        df = storage.experiments["exp1"].results_df
    assert df.empty
    assert list(df.columns)[:6] == [
        "trial_id",
        "ts_start",
        "ts_end",
        "tunable_config_id",
        "tunable_config_trial_group_id",
        "status",
    ]


def test_merge(storage, root_env_config, tunables):
    with _experiment(storage, root_env_config, tunables, exp_id="old") as old:
        _run(old, tunables, {"x": 1}, 1.0, T0)
        _run(old, tunables, {"x": 2}, None, T0)
        old.new_trial(tunables, T0)  # pending: not merged
    with _experiment(storage, root_env_config, tunables, exp_id="new") as new:
        mine = _run(new, tunables, {"x": 3}, 3.0, T0)
        new.merge(["old"])
        new.merge(["old"])  # idempotent
        trial_ids, configs, scores, status = new.load()
        assert trial_ids == [mine.trial_id, 2, 3]
        assert status == [Status.SUCCEEDED, Status.SUCCEEDED, Status.FAILED]
        assert scores[1] == {"score": "1.0", "latency": "10"}
        assert configs[1]["x"] == "1"
        assert new.new_trial(tunables, T0).trial_id == 4
        with pytest.raises(ValueError, match="no experiment"):
            new.merge(["missing"])
    assert len(storage.experiments["old"].trials) == 3  # the source is unchanged


def test_pickling_keeps_uri_and_reconnects(storage, storage_uri, root_env_config, tunables):
    with _experiment(storage, root_env_config, tunables) as exp:
        trial = exp.new_trial(tunables, T0)
        copy = pickle.loads(pickle.dumps(storage))
        assert isinstance(copy, DocstoreStorage)
        assert copy._uri == storage_uri
        assert list(copy.experiments) == ["exp1"]
        trial_copy = pickle.loads(pickle.dumps(trial))
        trial_copy.update(Status.RUNNING, T0 + timedelta(seconds=1))
        exp_copy = pickle.loads(pickle.dumps(exp))
        assert [t.status for t in exp_copy.pending_trials(T0 + timedelta(seconds=2), running=True)] == [Status.RUNNING]
        copy.dispose()


def test_get_experiment_by_id(storage, root_env_config, tunables):
    assert storage.get_experiment_by_id("nope", tunables, {"score": "min"}) is None
    with _experiment(storage, root_env_config, tunables) as exp:
        exp.new_trial(tunables, T0)
    found = storage.get_experiment_by_id("exp1", tunables, {"score": "min"})
    assert found is not None
    with found as again:
        assert again.trial_id == 2
        assert [t.trial_id for t in again.pending_trials(T0, running=False)] == [1]
        if hasattr(again, "get_trial_by_id"):
            assert again.get_trial_by_id(1).trial_id == 1
            assert again.get_trial_by_id(5) is None


def test_dispose_repr_and_config(storage_uri, tmp_path):
    storage = DocstoreStorage({"uri": storage_uri})
    storage.dispose()
    assert storage.experiments == {}  # reconnects after dispose
    storage.update_schema()  # a no-op
    storage.dispose()
    secret = DocstoreStorage.__new__(DocstoreStorage)
    secret._uri = "mongodb://alice:s3cret@db.example.com:27017/mlos"
    assert "s3cret" not in repr(secret)
    assert "alice" in repr(secret)
    with pytest.raises(ValueError, match="uri"):
        DocstoreStorage({})
    with pytest.raises(ValueError, match="unknown"):
        DocstoreStorage({"uri": str(tmp_path / "x.json"), "drivername": "sqlite"})


def test_new_trial_outside_context_fails(storage, root_env_config, tunables):
    exp = _experiment(storage, root_env_config, tunables)
    with pytest.raises(RuntimeError, match="context manager"):
        exp.new_trial(tunables, T0)
