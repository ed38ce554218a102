"""The last engine to close a store compacts it; one that closes while others are open does not.

Compacting a large store takes seconds, and every other process must then reload the new
snapshot: a worker that finishes early must not do that to the others. Presence is a
shared ``flock`` on ``study.json.users`` (real processes here, killed ones included).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from typing import Any

import pytest
from jsonfile_support import journal_lines

import docstore

pytestmark = pytest.mark.skipif(os.name != "posix", reason="presence uses flock (POSIX)")

_fork = multiprocessing.get_context("fork")
_spawn = multiprocessing.get_context("spawn")


def _operations(path: str) -> int:
    """Operation lines in the journal (its header excepted)."""
    return len(journal_lines(path)) - 1


def _insert_and_close(path: str, name: str) -> None:
    with docstore.connect(path) as db:
        db["t"].insert_one({"_id": name})


def _insert_and_wait(path: str, ready: Any) -> None:
    db = docstore.connect(path)
    db["t"].insert_one({"_id": "sleeper"})
    ready.set()
    signal.pause()


def test_a_process_that_closes_while_another_has_the_store_open_does_not_compact(path: str) -> None:
    with docstore.connect(path) as first:
        first["t"].insert_one({"_id": "first"})
        child = _spawn.Process(target=_insert_and_close, args=(path, "child"))
        child.start()
        child.join(60)
        assert child.exitcode == 0
        assert _operations(path) == 2  # the child wrote and closed, but left the journal alone
        assert sorted(d["_id"] for d in first["t"].find()) == ["child", "first"]
    assert _operations(path) == 0  # the last one out folded everything into the snapshot
    pytest.importorskip("tinydb")
    from tinydb import TinyDB

    with TinyDB(path, access_mode="r") as tiny:
        assert sorted(d["_id"] for d in tiny.table("t").all()) == ["child", "first"]


def test_a_killed_process_does_not_count_as_present(path: str) -> None:
    ready = _fork.Event()
    sleeper = _fork.Process(target=_insert_and_wait, args=(path, ready), daemon=True)
    sleeper.start()
    try:
        assert ready.wait(30)
        with docstore.connect(path) as db:
            db["t"].insert_one({"_id": "mine"})
            os.kill(sleeper.pid or 0, signal.SIGKILL)
            sleeper.join(10)
        assert _operations(path) == 0  # the kernel dropped the dead process's shared lock
    finally:
        if sleeper.is_alive():
            sleeper.kill()


def _close_in_child(db: docstore.Database) -> None:
    db.close()  # never used here: the inherited presence belongs to the parent
    os._exit(0)


def test_a_forked_child_closing_its_copy_leaves_the_parent_present(path: str) -> None:
    parent = docstore.connect(path)
    try:
        parent["t"].insert_one({"_id": "parent"})
        child = _fork.Process(target=_close_in_child, args=(parent,))
        child.start()
        child.join(30)
        assert child.exitcode == 0
        with docstore.connect(path) as other:  # a second engine: not alone, the parent is still open
            other["t"].insert_one({"_id": "other"})
        assert _operations(path) == 2
    finally:
        parent.close()
    assert _operations(path) == 0


def test_compact_on_close_false_never_compacts_and_leaves_no_presence(path: str) -> None:
    with docstore.connect(path, compact_on_close=False) as db:
        db["t"].insert_one({"_id": "a"})
    assert _operations(path) == 1
    with docstore.connect(path) as db:  # alone: compacts on close
        db["t"].insert_one({"_id": "b"})
    assert _operations(path) == 0
