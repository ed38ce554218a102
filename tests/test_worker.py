"""``docstore.run_worker`` and ``Storage.get_or_create_experiment``: what a user's own study is built on.

On every engine: the loop completes every trial once, turns an exception into ``broken``
with the error recorded, Ctrl-C into ``interrupted``, stops at ``max_broken``. With real
processes on a JSON file: a worker killed with SIGKILL mid-trial leaves a lost trial that the
next worker puts back and runs; a function longer than the lost-trial threshold keeps its
trial because the heartbeat thread beats; processes racing to get-or-create one experiment
get the same one.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import docstore
from docstore.storage import ExperimentConflict, Storage, TooManyBroken, Trial, release_lost_trials, run_worker

_spawn = multiprocessing.get_context("spawn")


@pytest.fixture
def storage(db: docstore.Database) -> Iterator[Storage]:
    """A Storage on each engine, beating every 0.2 s: a trial is lost after 1 s of silence."""
    return docstore.setup_storage(db, heartbeat=0.2)


def _experiment(storage: Storage, points: int, **config: Any) -> dict[str, Any]:
    experiment = storage.get_or_create_experiment({"name": "w", "space": {"x": "uniform(0, 10)"}, **config})
    for i in range(points):
        storage.register_trial(Trial(experiment=experiment["_id"], params={"x": float(i)}))
    return experiment


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


# ---------------------------------------------------------------- get or create


def test_get_or_create_resumes_the_same_experiment(storage: Storage) -> None:
    config = {"name": "lr", "space": {"lr": "loguniform(1e-5, 1)"}, "max_trials": 10}
    first = storage.get_or_create_experiment(dict(config))
    again = storage.get_or_create_experiment(dict(config))
    assert again["_id"] == first["_id"]
    assert first["version"] == 1
    assert first["metadata"]["datetime"] is not None  # `docstore experiments` shows when it was created
    assert storage.fetch_experiments({"name": "lr"}) == [again]
    # fields the caller leaves out are not compared: a script that gives only the name resumes too
    assert storage.get_or_create_experiment({"name": "lr"})["_id"] == first["_id"]


def test_get_or_create_refuses_a_changed_config_or_branches(storage: Storage) -> None:
    first = storage.get_or_create_experiment({"name": "lr", "space": {"lr": "uniform(0, 1)"}, "max_trials": 10})
    with pytest.raises(ExperimentConflict) as conflict:
        storage.get_or_create_experiment({"name": "lr", "space": {"lr": "uniform(0, 2)"}, "max_trials": 10})
    assert conflict.value.fields == ("space",)
    assert conflict.value.version == 1
    assert isinstance(conflict.value, ValueError)
    assert len(storage.fetch_experiments({"name": "lr"})) == 1  # nothing was written
    second = storage.get_or_create_experiment(
        {"name": "lr", "space": {"lr": "uniform(0, 2)"}, "max_trials": 10}, if_differs="new_version"
    )
    assert second["version"] == 2
    assert second["refers"]["parent_id"] == first["_id"]
    assert second["refers"]["root_id"] == first["_id"]
    # the latest version is the one compared from now on
    assert storage.get_or_create_experiment({"name": "lr", "space": {"lr": "uniform(0, 2)"}})["_id"] == second["_id"]
    # a version asked for by number is compared with that version
    assert storage.get_or_create_experiment({"name": "lr", "version": 1, "max_trials": 10})["_id"] == first["_id"]
    with pytest.raises(ExperimentConflict):
        storage.get_or_create_experiment({"name": "lr", "version": 1, "max_trials": 11}, if_differs="new_version")


def test_get_or_create_compares_values_as_stored(storage: Storage) -> None:
    first = storage.get_or_create_experiment({"name": "v", "space": {"b": 1, "a": [1.0, (2, 3)]}, "flag": True})
    # key order, tuples and 1 == 1.0 do not make a configuration different; True != 1 does
    assert storage.get_or_create_experiment({"name": "v", "space": {"a": [1, [2, 3]], "b": 1.0}})["_id"] == first["_id"]
    with pytest.raises(ExperimentConflict):
        storage.get_or_create_experiment({"name": "v", "flag": 1})
    with pytest.raises(docstore.InvalidDocument):
        storage.get_or_create_experiment({"space": {}})


def _get_or_create_in_process(uri: str, barrier: Any, results: Any) -> None:
    with docstore.setup_storage(uri) as storage:
        barrier.wait()
        experiment = storage.get_or_create_experiment({"name": "race", "space": {"x": "uniform(0, 1)"}})
        results.put(experiment["_id"])


def test_processes_racing_get_the_same_experiment(tmp_path: Path) -> None:
    uri = str(tmp_path / "race.json")
    barrier, results = _spawn.Barrier(4), _spawn.SimpleQueue()
    processes = [_spawn.Process(target=_get_or_create_in_process, args=(uri, barrier, results)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    ids = {results.get() for _ in processes}
    assert len(ids) == 1
    with docstore.connect(uri) as db:
        assert db["experiments"].count_documents({"name": "race"}) == 1


# ---------------------------------------------------------------- the loop, on every engine


def test_run_worker_completes_every_trial_once(storage: Storage) -> None:
    experiment = _experiment(storage, 6)
    seen: list[Any] = []
    report = run_worker(storage, experiment, lambda x: x * x, on_hold=seen.append)
    assert (report.completed, report.broken, report.lost, report.stopped) == (6, 0, 0, "no pending trial")
    trials = storage.fetch_trials(experiment)
    assert {t.status for t in trials} == {"completed"}
    assert all(t.objective == t.params["x"] ** 2 for t in trials)
    assert [t is None for t in seen] == [False, True] * 6  # told which trial it holds, then that it holds none


def test_results_as_a_dict_or_a_list_and_the_trial_itself(storage: Storage) -> None:
    experiment = _experiment(storage, 2)
    run_worker(storage, experiment, lambda x: {"objective": x + 1, "seconds": 0.5}, max_trials=1)
    report = run_worker(
        storage,
        experiment,
        lambda trial: [{"name": "loss", "type": "objective", "value": trial.params["x"]}],
        pass_trial=True,
    )
    assert report.completed == 1
    first, second = storage.fetch_trials(experiment)
    assert first.objective == 1.0
    assert first.results["seconds"] == 0.5
    assert second.results.type_of("loss") == "objective"
    assert second.objective == 1.0


def test_an_exception_breaks_the_trial_with_the_error_recorded(storage: Storage) -> None:
    experiment = _experiment(storage, 3)

    def fragile(x: float) -> float:
        if x == 1.0:
            raise ValueError("x = 1 diverges")
        return x

    report = run_worker(storage, experiment, fragile)
    assert (report.completed, report.broken) == (2, 1)
    (broken,) = storage.fetch_trials_by_status(experiment, "broken")
    assert broken.params["x"] == 1.0
    error = broken.get("error")
    assert error["type"] == "ValueError"
    assert error["message"] == "x = 1 diverges"
    assert "fragile" in error["traceback"]
    assert broken.end_time is not None


@pytest.mark.parametrize(
    "returned", [None, "0.5", True, {"loss": 1.0}, [{"name": "a", "type": "statistic", "value": 1}]]
)
def test_a_result_without_an_objective_breaks_the_trial(storage: Storage, returned: Any) -> None:
    experiment = _experiment(storage, 1)
    report = run_worker(storage, experiment, lambda x: returned)
    assert report.broken == 1
    (trial,) = storage.fetch_trials(experiment)
    assert trial.status == "broken"
    assert "return the objective" in trial.get("error")["message"]


def test_too_many_broken_trials_stop_the_worker(storage: Storage) -> None:
    experiment = _experiment(storage, 10, max_broken=2)

    def always_fails(x: float) -> float:
        raise RuntimeError(f"bug at {x}")

    with pytest.raises(TooManyBroken) as stopped:
        run_worker(storage, experiment, always_fails)
    assert (stopped.value.broken, stopped.value.max_broken) == (2, 2)
    assert isinstance(stopped.value.__cause__, RuntimeError)
    assert storage.count_broken_trials(experiment) == 2
    assert len(storage.fetch_trials_by_status(experiment, "new")) == 8  # the rest is left for a fixed script


def test_ctrl_c_interrupts_the_trial_and_is_raised(storage: Storage) -> None:
    experiment = _experiment(storage, 3)

    def interrupted_at_the_second(x: float) -> float:
        if x == 1.0:
            raise KeyboardInterrupt
        return x

    with pytest.raises(KeyboardInterrupt):
        run_worker(storage, experiment, interrupted_at_the_second)
    statuses = [t.status for t in storage.fetch_trials(experiment)]
    assert statuses == ["completed", "interrupted", "new"]
    assert storage.fetch_trials_by_status(experiment, "reserved") == []
    # the next run takes the interrupted trial again (after the new one: both pending, oldest first)
    report = run_worker(storage, experiment, lambda x: x)
    assert report.completed == 2
    assert storage.count_completed_trials(experiment) == 3


def test_max_trials_and_stop(storage: Storage) -> None:
    experiment = _experiment(storage, 5)
    assert run_worker(storage, experiment, lambda x: x, max_trials=2).stopped == "max_trials"
    assert storage.count_completed_trials(experiment) == 2
    calls: list[float] = []

    def no_objective(x: float) -> None:
        calls.append(x)

    report = run_worker(storage, experiment, no_objective, stop=lambda: len(calls) >= 1, max_broken=10)
    assert report.stopped == "stop"
    assert report.broken == 1  # None is no objective
    assert len(storage.fetch_pending_trials(experiment)) == 2


def test_lost_trials_are_put_back_before_reserving(storage: Storage) -> None:
    experiment = _experiment(storage, 2)
    dead = storage.reserve_trial(experiment)  # a worker that will never come back
    assert dead is not None
    _wait_for(lambda: storage.fetch_lost_trials(experiment), 10, "the reserved trial to be lost")
    report = run_worker(storage, experiment, lambda x: x)
    assert (report.recovered, report.completed) == (1, 2)
    assert storage.get_trial(dead).status == "completed"


def test_a_trial_taken_from_the_worker_is_left_to_its_new_holder(storage: Storage) -> None:
    experiment = _experiment(storage, 1)

    def slow(x: float) -> float:
        # meanwhile the trial is found lost and put back, as if this worker had stalled
        (held,) = storage.fetch_trials_by_status(experiment, "reserved")
        storage.set_trial_status(held, "interrupted", was="reserved")
        return x

    report = run_worker(storage, experiment, slow, max_trials=1)
    assert (report.lost, report.completed) == (1, 0)
    (trial,) = storage.fetch_trials(experiment)
    assert trial.status == "interrupted"
    assert trial.results == {}


# ---------------------------------------------------------------- real processes


def _worker_process(uri: str, experiment_id: str, seconds: float, heartbeat: float, queue: Any) -> None:
    def train(x: float) -> float:
        time.sleep(seconds)
        return x * 2

    with docstore.setup_storage(uri, heartbeat=heartbeat) as storage:
        report = run_worker(storage, experiment_id, train)
        queue.put((storage.worker, report.completed, report.recovered))


def _reserved(uri: str, experiment_id: str) -> list[Trial]:
    with docstore.setup_storage(uri) as storage:
        return storage.fetch_trials_by_status(experiment_id, "reserved")


def test_a_worker_killed_mid_trial_leaves_a_lost_trial_the_next_worker_runs(tmp_path: Path) -> None:
    uri = str(tmp_path / "study.json")
    with docstore.setup_storage(uri) as storage:
        experiment_id = _experiment(storage, 3)["_id"]
    queue = _spawn.SimpleQueue()
    doomed = _spawn.Process(target=_worker_process, args=(uri, experiment_id, 600.0, 0.2, queue))
    doomed.start()
    try:
        _wait_for(lambda: len(_reserved(uri, experiment_id)) == 1, 60, "the first worker to reserve a trial")
    finally:
        os.kill(doomed.pid or 0, signal.SIGKILL)
        doomed.join()
    (held,) = _reserved(uri, experiment_id)
    with docstore.setup_storage(uri, heartbeat=0.2) as storage:
        _wait_for(lambda: storage.fetch_lost_trials(experiment_id), 30, "the killed worker's trial to be lost")
    survivor = _spawn.Process(target=_worker_process, args=(uri, experiment_id, 0.0, 0.2, queue))
    survivor.start()
    survivor.join(120)
    assert survivor.exitcode == 0
    worker, completed, recovered = queue.get()
    assert (completed, recovered) == (3, 1)
    with docstore.setup_storage(uri) as storage:
        trials = storage.fetch_trials(experiment_id)
        rerun = storage.get_trial(held)
    assert {t.status for t in trials} == {"completed"}
    assert rerun.worker == worker != held.worker
    assert rerun.objective == held.params["x"] * 2


def _watch_for_lost(uri: str, experiment_id: str, seconds: float, queue: Any) -> None:
    """Another worker's housekeeping: put back every lost trial, over and over, for ``seconds``."""
    released = 0
    deadline = time.monotonic() + seconds
    with docstore.setup_storage(uri, heartbeat=0.2) as storage:
        while time.monotonic() < deadline:
            released += release_lost_trials(storage, experiment_id)
            time.sleep(0.05)
    queue.put(released)


def test_the_heartbeat_thread_keeps_a_trial_longer_than_the_lost_threshold(tmp_path: Path) -> None:
    uri = str(tmp_path / "study.json")
    with docstore.setup_storage(uri, heartbeat=0.2) as storage:
        experiment_id = _experiment(storage, 1)["_id"]
        # without beats, a reserved trial is lost after 5 x 0.2 s: what the thread must prevent
        silent = storage.reserve_trial(experiment_id)
        _wait_for(lambda: storage.fetch_lost_trials(experiment_id), 10, "a silent trial to be lost")
        storage.set_trial_status(silent, "new", was="reserved")
    queue = _spawn.SimpleQueue()
    worker = _spawn.Process(target=_worker_process, args=(uri, experiment_id, 4.0, 0.2, queue))  # 4 s > 1 s
    watcher = _spawn.Process(target=_watch_for_lost, args=(uri, experiment_id, 6.0, queue))
    worker.start()
    _wait_for(lambda: len(_reserved(uri, experiment_id)) == 1, 60, "the worker to reserve the trial")
    watcher.start()
    for process in (worker, watcher):
        process.join(120)
        assert process.exitcode == 0
    results = [queue.get(), queue.get()]
    released = next(r for r in results if isinstance(r, int))
    _, completed, _ = next(r for r in results if isinstance(r, tuple))
    assert released == 0
    assert completed == 1
    with docstore.setup_storage(uri) as storage:
        (trial,) = storage.fetch_trials(experiment_id)
    assert trial.status == "completed"
    assert (trial.end_time - trial.start_time).total_seconds() >= 4.0
