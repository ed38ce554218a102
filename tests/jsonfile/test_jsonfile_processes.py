"""Real processes on one JSON store: racing reservations, kill -9 at random, compaction races, dead lock holders."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import filelock
import pytest

import docstore
from docstore.errors import LockAcquisitionTimeout

_fork = multiprocessing.get_context("fork")


def _start(target: Callable[..., None], *args: Any) -> multiprocessing.process.BaseProcess:
    process = _fork.Process(target=target, args=args, daemon=True)
    process.start()
    return process


# ---------------------------------------------------------------- (a) reservations


def _reserve_until_none(path: str, go: Any, results: Connection) -> None:
    with docstore.connect(path) as db:
        go.wait()
        mine = []
        update = {"$set": {"status": "reserved", "worker": os.getpid()}}
        while (doc := db["trials"].find_one_and_update({"status": "new"}, update)) is not None:
            mine.append(doc["_id"])
    results.send((os.getpid(), mine))


def test_processes_reserve_each_trial_exactly_once(path: str) -> None:
    total, workers = 2000, 8
    with docstore.connect(path) as db:
        db["trials"].insert_many([{"_id": f"t{i:04d}", "status": "new", "n": i} for i in range(total)])
    go = _fork.Event()
    receiver, sender = _fork.Pipe(duplex=False)
    processes = [_start(_reserve_until_none, path, go, sender) for _ in range(workers)]
    go.set()
    reports = dict(receiver.recv() for _ in processes)
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    reserved = [uid for ids in reports.values() for uid in ids]
    assert len(reserved) == total  # none reserved twice ...
    assert set(reserved) == {f"t{i:04d}" for i in range(total)}  # ... none lost
    assert sum(1 for ids in reports.values() if ids) > 1  # they did race
    with docstore.connect(path) as db:
        assert db.check() == []
        by_worker: dict[int, set[str]] = {}
        for doc in db["trials"].find():
            assert doc["status"] == "reserved"
            by_worker.setdefault(doc["worker"], set()).add(doc["_id"])
        assert by_worker == {pid: set(ids) for pid, ids in reports.items() if ids}


# ---------------------------------------------------------------- (b) kill -9 at random moments


def _write_until_killed(path: str, acks: int, seed: int) -> None:
    """Insert groups of 3, mark groups done (update_many), count; report each acknowledged write."""
    rng = random.Random(seed)
    db = docstore.connect(path, compact_min_bytes=4096, compact_ratio=0.5, compact_on_close=False)
    os.write(acks, b"ready\n")
    pid, n = os.getpid(), 0
    while True:
        group = f"{pid}-{n}"
        choice = rng.random()
        if choice < 0.5:
            db["t"].insert_many([{"_id": f"{group}-{k}", "group": group, "status": "new"} for k in range(3)])
            os.write(acks, f"insert {group}\n".encode())
        elif choice < 0.8:
            target = db["t"].find_one({"status": "new"})
            if target is not None:
                db["t"].update_many({"group": target["group"]}, {"$set": {"status": "done", "by": group}})
                os.write(acks, f"update {target['group']} {group}\n".encode())
        else:
            db["counter"].update_one({"_id": "c"}, {"$inc": {"n": 1}}, upsert=True)
            os.write(acks, b"count\n")
        n += 1


def _read_all(fd: int) -> list[str]:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    text = b"".join(chunks).decode()
    return text.split("\n")[:-1]  # a line cut by the kill has no newline: never acknowledged


def _verify(path: str, inserted: set[str], updated: dict[str, str], counted: int, kills: int) -> None:
    with docstore.connect(path) as db:
        docs = db["t"].find()
        groups: dict[str, list[dict[str, Any]]] = {}
        for doc in docs:
            groups.setdefault(doc["group"], []).append(doc)
        assert inserted <= set(groups)  # every acknowledged insert is there
        for members in groups.values():
            assert len(members) == 3  # and no insert_many is half-applied
            assert len({(doc["status"], doc.get("by")) for doc in members}) == 1  # nor any update_many
        for group, by in updated.items():
            assert {doc.get("by") for doc in groups[group]} == {by}
        counter = db["counter"].find_one("c")
        value = counter["n"] if counter else 0
        assert counted <= value <= counted + kills  # at most one unacknowledged increment per kill
        assert db.check() == []


def test_kill_at_random_moments_loses_no_acknowledged_write(tmp_path: Any, stress: bool) -> None:
    kills, per_store = (1000 if stress else 50), 25
    rng = random.Random(20240523)
    for round_start in range(0, kills, per_store):
        path = str(tmp_path / f"crash{round_start}.json")
        docstore.connect(path).close()
        inserted: set[str] = set()
        updated: dict[str, str] = {}
        counted = 0
        for cycle in range(min(per_store, kills - round_start)):
            readable, writable = os.pipe()
            child = _start(_write_until_killed, path, writable, rng.randrange(1 << 30))
            os.close(writable)
            if rng.random() < 0.9:  # mostly mid-work; sometimes while it opens the store
                os.read(readable, 6)
                time.sleep(rng.uniform(0, 0.03))
            os.kill(child.pid or 0, signal.SIGKILL)
            child.join(10)
            for line in _read_all(readable):
                kind, *rest = line.split()
                if kind == "insert":
                    inserted.add(rest[0])
                elif kind == "update":
                    updated[rest[0]] = rest[1]
                elif kind == "count":
                    counted += 1
            os.close(readable)
            _verify(path, inserted, updated, counted, cycle + 1)
        assert inserted  # the children did get work done between kills


# ---------------------------------------------------------------- (c) compaction racing with writers


def _insert_many_times(path: str, prefix: str, count: int, results: Connection) -> None:
    with docstore.connect(path, compact_on_close=False) as db:
        for i in range(count):
            db["t"].insert_one({"_id": f"{prefix}{i}", "status": "new"})
            if i % 7 == 0:
                db["t"].update_one({"_id": f"{prefix}{i}"}, {"$set": {"status": "seen"}})
    results.send(prefix)


def _compact_while(path: str, stop: Any, results: Connection) -> None:
    compactions = 0
    with docstore.connect(path) as db:
        while not stop.wait(0.01):  # racing, though not hogging the lock as no real compaction does
            db.compact()
            compactions += 1
    results.send(compactions)


def test_compaction_racing_with_writers_loses_nothing(path: str) -> None:
    docstore.connect(path).close()
    count, writers = 300, 3
    receiver, sender = _fork.Pipe(duplex=False)
    stop = _fork.Event()
    compactor = _start(_compact_while, path, stop, sender)
    processes = [_start(_insert_many_times, path, f"w{k}-", count, sender) for k in range(writers)]
    done = {receiver.recv() for _ in processes}
    stop.set()
    compactions = receiver.recv()
    for process in [*processes, compactor]:
        process.join(60)
        assert process.exitcode == 0
    assert done == {f"w{k}-" for k in range(writers)}
    assert compactions > 5
    with docstore.connect(path) as db:
        assert db["t"].count_documents({}) == count * writers
        assert db["t"].count_documents({"status": "seen"}) == writers * len(range(0, count, 7))
        assert db.check() == []


# ---------------------------------------------------------------- (d) a dead lock holder


def _hold_lock_forever(locked: str, ready: Any) -> None:
    fd = os.open(locked, os.O_RDONLY)
    filelock.lock_descriptor(fd)  # the store's lock: the snapshot's flock
    ready.set()
    time.sleep(600)


def test_lock_of_a_killed_process_blocks_no_one(path: str) -> None:
    docstore.connect(path).close()
    ready = _fork.Event()
    holder = _start(_hold_lock_forever, path, ready)
    assert ready.wait(30)
    with pytest.raises(LockAcquisitionTimeout):
        docstore.connect(path, lock_timeout=0.2)
    os.kill(holder.pid or 0, signal.SIGKILL)
    holder.join(10)
    started = time.monotonic()
    with docstore.connect(path, lock_timeout=5) as db:
        db["t"].insert_one({"_id": "after"})
    assert time.monotonic() - started < 2


# ---------------------------------------------------------------- an engine opened before fork


def _insert_from_child(db: docstore.Database) -> None:
    db["t"].insert_one({"_id": "child"})
    db.close()
    os._exit(0)


def test_an_engine_opened_before_fork_works_in_the_child(path: str) -> None:
    with docstore.connect(path, lock_timeout=5) as db:
        db["t"].insert_one({"_id": "parent"})
        started = time.monotonic()
        child = _start(_insert_from_child, db)
        child.join(30)
        assert child.exitcode == 0
        assert time.monotonic() - started < 4  # the child locked with a descriptor of its own
        db["t"].insert_one({"_id": "after"})  # the parent's lock and files still work
        assert sorted(doc["_id"] for doc in db["t"].find()) == ["after", "child", "parent"]
        assert db.check() == []
