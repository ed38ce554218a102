"""Workers racing on one experiment: real processes on a JSON file, threads on mongomock.

Each worker loops reserve -> heartbeat -> push results -> complete (``was="reserved"``)
until the experiment has all its trials completed. Every trial must be completed exactly
once, and a worker may meet ``FailedUpdate`` only for a trial that was taken back from it
as lost. A worker killed with SIGKILL, holding a trial or the algorithm lock, must not
block the others for longer than its heartbeat threshold or its lease.

Sizes: 200 trials by default, 500 with ``--stress``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from docstore.errors import FailedUpdate, LockAcquisitionTimeout
from docstore.storage import Storage, setup_storage
from docstore.testing.protocol_suite import make_experiment

_fork = multiprocessing.get_context("fork")
WORKERS = 4


def _size(stress: bool) -> int:
    return 500 if stress else 200


def _seed(storage: Storage, trials: int) -> str:
    exp = make_experiment(storage, max_trials=trials)
    for i in range(trials):
        storage.register_trial({"experiment": exp["_id"], "params": {"x": float(i)}})
    return str(exp["_id"])


def work(storage: Storage, eid: str, trials: int, stall: float = 0.0) -> dict[str, Any]:
    """The worker loop; ``stall`` seconds of silence (no heartbeat) on the first trial simulate a hang."""
    done: list[str] = []
    failed: list[tuple[str, Any]] = []
    while True:
        trial = storage.reserve_trial(eid)
        if trial is None:
            if storage.count_completed_trials(eid) >= trials:
                return {"done": done, "failed": failed}
            time.sleep(0.02)  # a trial may come back from a lost worker
            continue
        if stall:
            time.sleep(stall)
            stall = 0.0
        try:
            storage.update_heartbeat(trial)
            trial.results = [{"name": "objective", "type": "objective", "value": trial.params["x"] ** 2}]
            storage.push_trial_results(trial)
            storage.set_trial_status(trial, "completed", was="reserved")
        except FailedUpdate as exc:
            failed.append((str(trial.id_override), exc.actual))
            continue
        done.append(str(trial.id_override))


def _check_all_completed_once(storage: Storage, eid: str, trials: int, done: list[str]) -> None:
    assert len(done) == len(set(done)) == trials, "a trial was completed twice, or never"
    stored = storage.fetch_trials(uid=eid)
    assert {t.id_override for t in stored} == set(done)
    assert all(t.status == "completed" and t.end_time is not None for t in stored)
    assert all(t.objective == t.params["x"] ** 2 for t in stored)


# ---------------------------------------------------------------- processes on a JSON file


def _process_worker(uri: str, eid: str, trials: int, results: Connection) -> None:
    with setup_storage(uri) as storage:
        results.send((os.getpid(), work(storage, eid, trials)))


def _run_processes(uri: str, eid: str, trials: int, count: int) -> dict[int, dict[str, Any]]:
    receiver, sender = _fork.Pipe(duplex=False)
    processes = [
        _fork.Process(target=_process_worker, args=(uri, eid, trials, sender), daemon=True) for _ in range(count)
    ]
    for process in processes:
        process.start()
    reports = {}
    for _ in processes:
        assert receiver.poll(60), "a worker did not report within 60 s"
        pid, report = receiver.recv()
        reports[pid] = report
    for process in processes:
        process.join(10)
        assert process.exitcode == 0
    return reports


@pytest.mark.timeout(90)
def test_processes_complete_every_trial_once_on_a_json_file(tmp_path: Path, stress: bool) -> None:
    uri, trials = str(tmp_path / "study.json"), _size(stress)
    with setup_storage(uri) as storage:
        eid = _seed(storage, trials)
        reports = _run_processes(uri, eid, trials, WORKERS)
        assert [r["failed"] for r in reports.values()] == [[]] * WORKERS  # nobody lost a trial: no FailedUpdate
        _check_all_completed_once(storage, eid, trials, [uid for r in reports.values() for uid in r["done"]])
        assert sum(1 for r in reports.values() if r["done"]) > 1  # they did share the work
        assert storage.db.check() == []


def _reserve_then_hang(uri: str, eid: str, held: Connection) -> None:
    with setup_storage(uri) as storage:
        trial = storage.reserve_trial(eid)
        held.send(None if trial is None else trial.id_override)
        time.sleep(600)  # killed long before


@contextlib.contextmanager
def _reaping(storage: Storage, eid: str, timeout: float, every: float) -> Iterator[list[Any]]:
    """Meanwhile, what a supervising worker does: lost trials go back to interrupted. Yields their ids."""
    stop = threading.Event()
    reaped: list[Any] = []

    def reaper() -> None:
        while not stop.wait(every):
            for lost in storage.fetch_lost_trials(eid, timeout=timeout):
                with contextlib.suppress(FailedUpdate):
                    storage.set_trial_status(lost, "interrupted", was="reserved")
                    reaped.append(lost.id_override)

    thread = threading.Thread(target=reaper, daemon=True)
    thread.start()
    try:
        yield reaped
    finally:
        stop.set()
        thread.join(10)


@pytest.mark.timeout(90)
def test_a_killed_workers_trial_is_taken_back_and_completed_once(tmp_path: Path) -> None:
    uri, trials = str(tmp_path / "study.json"), 60
    with setup_storage(uri) as storage:
        eid = _seed(storage, trials)
        receiver, sender = _fork.Pipe(duplex=False)
        victim = _fork.Process(target=_reserve_then_hang, args=(uri, eid, sender), daemon=True)
        victim.start()
        assert receiver.poll(30)
        held = receiver.recv()
        os.kill(victim.pid or 0, signal.SIGKILL)
        victim.join(10)
        with _reaping(storage, eid, timeout=2.0, every=0.1) as reaped:
            reports = _run_processes(uri, eid, trials, WORKERS - 1)
        assert reaped == [held]
        done = [uid for r in reports.values() for uid in r["done"]]
        assert held in done
        assert [r["failed"] for r in reports.values()] == [[]] * (WORKERS - 1)
        _check_all_completed_once(storage, eid, trials, done)


# ---------------------------------------------------------------- the algorithm lock and SIGKILL


def _hold_lock_then_hang(uri: str, eid: str, lease: float, held: Connection) -> None:
    with setup_storage(uri, lock_lease=lease) as storage, storage.acquire_algorithm_lock(uid=eid) as locked:
        locked.set_state({"count": -1000})  # never saved: this process dies under the lock
        held.send(locked.owner)
        time.sleep(600)


def _count_under_lock(uri: str, eid: str, lease: float, rounds: int, results: Connection) -> None:
    with setup_storage(uri, lock_lease=lease) as storage:
        for _ in range(rounds):
            with storage.acquire_algorithm_lock(uid=eid, timeout=20, retry_interval=0.01) as locked:
                locked.set_state({"count": locked.state["count"] + 1})
        results.send(os.getpid())


@pytest.mark.timeout(90)
def test_a_lock_held_by_a_killed_process_is_taken_over_after_its_lease(tmp_path: Path, stress: bool) -> None:
    uri, lease, rounds = str(tmp_path / "study.json"), 1.0, (50 if stress else 20)
    with setup_storage(uri, lock_lease=lease) as storage:
        eid = str(make_experiment(storage)["_id"])
        with storage.acquire_algorithm_lock(uid=eid) as locked:
            locked.set_state({"count": 0})
        receiver, sender = _fork.Pipe(duplex=False)
        holder = _fork.Process(target=_hold_lock_then_hang, args=(uri, eid, lease, sender), daemon=True)
        holder.start()
        assert receiver.poll(30)
        owner = receiver.recv()
        with pytest.raises(LockAcquisitionTimeout, match=owner):  # renewed: alive past its lease
            with storage.acquire_algorithm_lock(uid=eid, timeout=2.5 * lease, retry_interval=0.1):
                pass
        os.kill(holder.pid or 0, signal.SIGKILL)
        killed = time.monotonic()
        holder.join(10)
        with storage.acquire_algorithm_lock(uid=eid, timeout=10 * lease, retry_interval=0.02) as locked:
            blocked = time.monotonic() - killed
            assert locked.state == {"count": 0}  # the dead holder's state was never saved
        assert 0.3 * lease < blocked < lease + 0.5, blocked  # taken over once its last lease ran out
        counters = [
            _fork.Process(target=_count_under_lock, args=(uri, eid, lease, rounds, sender), daemon=True)
            for _ in range(WORKERS)
        ]
        for process in counters:
            process.start()
        for _ in counters:
            assert receiver.poll(60)
            receiver.recv()
        for process in counters:
            process.join(10)
            assert process.exitcode == 0
        info = storage.get_algorithm_lock_info(uid=eid)
        assert info is not None
        assert info.state == {"count": rounds * WORKERS}  # mutual exclusion: no increment lost
        assert not info.locked


# ---------------------------------------------------------------- threads on mongomock


@pytest.fixture
def mongomock_uri() -> str:
    pytest.importorskip("mongomock", reason="mongomock is not installed")
    return f"mongomock://workers{uuid.uuid4().hex[:8]}"


def _run_threads(storage: Storage, eid: str, trials: int, stalls: list[float]) -> list[dict[str, Any]]:
    reports: list[dict[str, Any]] = [{} for _ in stalls]

    def run(i: int) -> None:
        reports[i] = work(storage, eid, trials, stalls[i])

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(stalls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    return reports


@pytest.mark.timeout(60)
def test_threads_complete_every_trial_once_on_mongomock(mongomock_uri: str, stress: bool) -> None:
    trials = _size(stress)
    with setup_storage(mongomock_uri) as storage:
        eid = _seed(storage, trials)
        reports = _run_threads(storage, eid, trials, [0.0] * WORKERS)
        assert [r["failed"] for r in reports] == [[]] * WORKERS
        _check_all_completed_once(storage, eid, trials, [uid for r in reports for uid in r["done"]])


@pytest.mark.timeout(60)
def test_a_stalled_thread_meets_failed_update_only_for_its_taken_back_trial(mongomock_uri: str) -> None:
    trials = 80
    with setup_storage(mongomock_uri) as storage:
        eid = _seed(storage, trials)
        with _reaping(storage, eid, timeout=0.5, every=0.05) as reaped:
            reports = _run_threads(storage, eid, trials, [1.5] + [0.0] * (WORKERS - 1))
        stalled, others = reports[0], reports[1:]
        assert len(reaped) == 1
        assert [uid for uid, _ in stalled["failed"]] == reaped  # told, for that trial only
        assert [r["failed"] for r in others] == [[]] * (WORKERS - 1)
        _check_all_completed_once(storage, eid, trials, [uid for r in reports for uid in r["done"]])
