"""Deleting or replacing lock files while a store is in use never lets two writers in (item 3 of issue 15).

An operator "cleaning stale files" deleted ``study.json.lock`` while workers ran: a process
arriving afterwards created a new lock file and locked it while another still held the
deleted one, and the two wrote at once (acknowledged inserts lost, a trial reserved twice).
The lock is now the snapshot's own ``flock``, which travels with compaction. Here real
processes reserve and insert while another deletes and recreates every lock-like file in a
loop and a third compacts: every acknowledged insert must be there, and no trial reserved
twice.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from multiprocessing.connection import Connection
from typing import Any

import pytest

import docstore

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the lock is an flock on the snapshot (POSIX)")

_fork = multiprocessing.get_context("fork")


def _reserve(path: str, go: Any, results: Connection) -> None:
    mine = []
    with docstore.connect(path, compact_on_close=False) as db:
        go.wait()
        update = {"$set": {"status": "reserved", "worker": os.getpid()}}
        while (doc := db["trials"].find_one_and_update({"status": "new"}, update)) is not None:
            mine.append(doc["_id"])
    results.send(("reserved", mine))


def _insert(path: str, prefix: str, count: int, go: Any, results: Connection) -> None:
    acknowledged = []
    with docstore.connect(path, compact_on_close=False) as db:
        go.wait()
        for i in range(count):
            db["acks"].insert_one({"_id": f"{prefix}{i}"})
            acknowledged.append(f"{prefix}{i}")
    results.send(("inserted", acknowledged))


def _compact(path: str, go: Any, stop: Any, results: Connection) -> None:
    compactions = 0
    with docstore.connect(path, compact_on_close=False) as db:
        go.wait()
        while not stop.wait(0.005):
            db.compact()
            compactions += 1
    results.send(("compacted", compactions))


def _clean_up_stale_files(path: str, go: Any, stop: Any, results: Connection) -> None:
    """What an operator's clean-up script does: delete lock-like files, and a tool that recreates them."""
    deleted = 0
    go.wait()
    while not stop.is_set():
        for name in (path + ".lock", path + ".users"):
            try:
                os.unlink(name)
                deleted += 1
            except FileNotFoundError:
                pass
        with open(path + ".lock", "w"):  # and an older tool makes a fresh one, unlocked
            pass
        time.sleep(0.0005)
    results.send(("deleted", deleted))


def test_deleting_lock_files_in_a_loop_loses_no_write_and_reserves_no_trial_twice(path: str) -> None:
    total, inserts = 600, 250
    with docstore.connect(path) as db:
        db["trials"].insert_many([{"_id": f"t{i:04d}", "status": "new"} for i in range(total)])
    go, stop = _fork.Event(), _fork.Event()
    receiver, sender = _fork.Pipe(duplex=False)
    workers = [
        *(_fork.Process(target=_reserve, args=(path, go, sender)) for _ in range(3)),
        *(_fork.Process(target=_insert, args=(path, f"w{k}-", inserts, go, sender)) for k in range(2)),
    ]
    helpers = [
        _fork.Process(target=_compact, args=(path, go, stop, sender)),
        _fork.Process(target=_clean_up_stale_files, args=(path, go, stop, sender)),
    ]
    for process in [*workers, *helpers]:
        process.start()
    go.set()
    reports: dict[str, list[Any]] = {}
    for _ in workers:
        assert receiver.poll(120), "a worker did not finish"
        kind, value = receiver.recv()
        reports.setdefault(kind, []).append(value)
    stop.set()
    for _ in helpers:
        assert receiver.poll(60)
        kind, value = receiver.recv()
        reports[kind] = value
    for process in [*workers, *helpers]:
        process.join(30)
        assert process.exitcode == 0
    reserved = [uid for ids in reports["reserved"] for uid in ids]
    assert len(reserved) == len(set(reserved)), "a trial was reserved twice"
    assert set(reserved) == {f"t{i:04d}" for i in range(total)}
    assert reports["deleted"] > 50  # the files really were deleted under the workers
    assert reports["compacted"] > 5  # and the lock really travelled to new snapshots meanwhile
    acknowledged = {uid for ids in reports["inserted"] for uid in ids}
    assert len(acknowledged) == 2 * inserts
    with docstore.connect(path) as db:
        assert {doc["_id"] for doc in db["acks"].find()} == acknowledged
        assert db["trials"].count_documents({"status": "reserved"}) == total
        assert db.check() == []
