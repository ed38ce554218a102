"""Damage is never silent: what a crash cannot leave is StoreCorrupted, the bytes untouched.

A complete last journal line whose checksum fails (item 4 of issue 15), a journal that is
missing, emptied, foreign, cut or lacks a line (item 5), a flipped bit anywhere in the
snapshot (item 6). What a crash *can* leave (a torn last line, a compaction stopped
between its two renames, a creation stopped half-way) still opens cleanly. Stores written
by the previous release open as they are and are upgraded by the first write.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import filelock
import orjson
import pytest
from docstore_jsonfile import state
from jsonfile_support import copy_legacy_store, framed, journal_lines, store_files, write_version_1_store

import docstore
from docstore.errors import StoreCorrupted


def _seed(path: str, count: int = 3) -> None:
    """A store whose journal holds ``count`` insert lines after its header."""
    with docstore.connect(path, compact_on_close=False) as db:
        for i in range(count):
            db["trials"].insert_one({"_id": f"t{i}", "status": "new", "n": i})


def _corrupted(path: str, *, file: str, line: int | None, match: str) -> StoreCorrupted:
    before = store_files(path)
    with pytest.raises(StoreCorrupted, match=match) as caught:
        docstore.connect(path)
    assert (caught.value.path, caught.value.line) == (file, line)
    assert store_files(path) == before  # nothing repaired, nothing rewritten, nothing created
    return caught.value


# ---------------------------------------------------------------- 4: a complete last line


def test_a_complete_last_line_with_a_bad_checksum_is_damage(path: str) -> None:
    _seed(path)
    lines = journal_lines(path)
    lines[-1] = lines[-1].replace(b'"n":2', b'"n":7')  # still JSON, newline intact: no crash does that
    Path(path + ".journal").write_bytes(b"".join(lines))
    _corrupted(path, file=path + ".journal", line=4, match="newline")


def test_a_complete_last_line_of_zeros_is_damage_but_a_torn_one_is_not(path: str) -> None:
    _seed(path)
    intact = Path(path + ".journal").read_bytes()
    Path(path + ".journal").write_bytes(intact + b"\0" * 64 + b"\n")
    _corrupted(path, file=path + ".journal", line=5, match="not an intact record")
    Path(path + ".journal").write_bytes(intact + b"\0" * 64)  # no newline: a crash in mid-append
    with docstore.connect(path, compact_on_close=False) as db:
        assert db["trials"].count_documents({}) == 3


def test_a_live_reader_reports_a_damaged_last_line_and_the_next_writer_does_not_cut_it(path: str) -> None:
    _seed(path)
    reader = docstore.connect(path, compact_on_close=False)
    try:
        assert reader["trials"].count_documents({}) == 3
        generation = orjson.loads(journal_lines(path)[0])["gen"]
        line = framed({"gen": generation, "n": 4, "ops": [["del", "trials", "t0"]]})
        with Path(path + ".journal").open("ab") as journal:
            journal.write(line[:30] + b"X" + line[31:])  # complete, checksum broken
        before = store_files(path)
        with pytest.raises(StoreCorrupted, match="line 5"):
            reader["trials"].count_documents({})
        with pytest.raises(StoreCorrupted):
            reader["trials"].insert_one({"_id": "new"})  # a writer does not cut it off as if torn
        assert store_files(path) == before
    finally:
        reader.close()


# ---------------------------------------------------------------- 5: continuity


def test_a_deleted_journal_is_damage_not_an_older_store(path: str) -> None:
    _seed(path)
    os.unlink(path + ".journal")
    _corrupted(path, file=path + ".journal", line=None, match="is missing")


def test_an_emptied_journal_is_damage(path: str) -> None:
    _seed(path)
    Path(path + ".journal").write_bytes(b"")
    _corrupted(path, file=path + ".journal", line=1, match="is empty")


def test_a_removed_middle_line_is_damage(path: str) -> None:
    _seed(path, 4)
    lines = journal_lines(path)
    del lines[2]  # every remaining line is intact: only the numbering shows the gap
    Path(path + ".journal").write_bytes(b"".join(lines))
    _corrupted(path, file=path + ".journal", line=3, match="operation 3 where 2 was due")


def test_a_repeated_line_is_damage(path: str) -> None:
    _seed(path)
    lines = journal_lines(path)
    Path(path + ".journal").write_bytes(b"".join([*lines, lines[-1]]))
    _corrupted(path, file=path + ".journal", line=5, match="a line is missing, repeated or moved")


def test_another_stores_journal_is_damage(path: str, tmp_path: Path) -> None:
    _seed(path)
    other = str(tmp_path / "other.json")
    _seed(other)  # same generation, same numbering, another id
    Path(path + ".journal").write_bytes(Path(other + ".journal").read_bytes())
    _corrupted(path, file=path + ".journal", line=1, match="expects its journal")


def test_a_journal_cut_under_a_live_reader_is_damage(path: str) -> None:
    _seed(path, 4)
    reader = docstore.connect(path, compact_on_close=False)
    try:
        assert reader["trials"].count_documents({}) == 4
        lines = journal_lines(path)
        cut = sum(map(len, lines[:3])) + len(lines[3]) // 2  # in the middle of the third operation
        os.truncate(path + ".journal", cut)
        with pytest.raises(StoreCorrupted, match="shrank"):
            reader["trials"].count_documents({})
    finally:
        reader.close()


def test_a_deleted_snapshot_is_damage_not_a_new_store(path: str) -> None:
    _seed(path)
    os.unlink(path)
    before = store_files(path)
    with pytest.raises(StoreCorrupted, match=r"snapshot .* is missing") as caught:
        docstore.connect(path)
    assert caught.value.path == path
    assert store_files(path) == before  # no new empty snapshot over the journal's writes


def test_a_snapshot_deleted_while_in_use_is_loud(path: str) -> None:
    _seed(path)
    with docstore.connect(path, compact_on_close=False) as db:
        os.unlink(path)
        with pytest.raises(StoreCorrupted, match="disappeared"):
            db["trials"].insert_one({"_id": "lost?"})


def test_a_creation_that_crashed_after_its_journal_is_finished_by_the_next_open(path: str) -> None:
    Path(path + ".journal").write_bytes(framed({"gen": 1, "id": "0123456789abcdef", "journal": "x"})[:20])
    with docstore.connect(path) as db:  # a header cut short and no snapshot: what a crashed creation leaves
        db["t"].insert_one({"_id": "a"})
    with docstore.connect(path) as db:
        assert db["t"].count_documents({}) == 1


def _crash_twice(path: str) -> None:
    """In a child: die between compaction's renames, twice in a row (the second on the stale journal)."""

    def crash(step: str) -> None:
        if step == "snapshot replaced":
            os._exit(17)

    state.crash_point = crash
    docstore.connect(path, compact_on_close=False).compact()


def test_compactions_stopped_between_their_renames_open_cleanly(path: str) -> None:
    import multiprocessing

    _seed(path)
    for _ in range(2):
        child = multiprocessing.get_context("fork").Process(target=_crash_twice, args=(path,))
        child.start()
        child.join(30)
        assert child.exitcode == 17
        with docstore.connect(path, compact_on_close=False) as db:
            assert db["trials"].count_documents({}) == 3
            assert db.check() == []
    with docstore.connect(path) as db:
        db["trials"].insert_one({"_id": "after"})
    with docstore.connect(path) as db:
        assert db["trials"].count_documents({}) == 4


# ---------------------------------------------------------------- 6: the snapshot's checksum


def _compacted(path: str) -> bytes:
    with docstore.connect(path) as db:
        db["trials"].insert_many([{"_id": f"t{i}", "status": "new", "x": i / 3} for i in range(20)])
        db["trials"].create_index("status")
    assert len(journal_lines(path)) == 1  # all in the snapshot
    return Path(path).read_bytes()


def test_every_flipped_bit_in_the_snapshot_is_damage(path: str) -> None:
    data = _compacted(path)
    rng = random.Random(15)
    positions = rng.sample(range(len(data) - 1), 120)  # the final newline excepted: JSON ignores it
    for position in positions:
        flipped = bytearray(data)
        flipped[position] ^= 1 << rng.randrange(8)
        Path(path).write_bytes(bytes(flipped))
        with pytest.raises(StoreCorrupted) as caught:
            docstore.connect(path, read_only=True)
        assert caught.value.path == path, position
        assert Path(path).read_bytes() == bytes(flipped)
    Path(path).write_bytes(data)
    with docstore.connect(path) as db:
        assert db["trials"].count_documents({"status": "new"}) == 20


def test_a_changed_status_in_the_snapshot_is_damage(path: str) -> None:
    data = _compacted(path)
    Path(path).write_bytes(data.replace(b'"status":"new"', b'"status":"nev"', 1))
    error = _corrupted(path, file=path, line=1, match="checksum")
    assert "edited outside docstore" in str(error)


def test_tinydb_opens_a_compacted_store_with_its_checksum(path: str) -> None:
    from tinydb import TinyDB

    _compacted(path)
    with TinyDB(path, access_mode="r") as tiny:
        assert len(tiny.table("trials")) == 20
        (meta,) = tiny.table("_docstore_meta").all()
        assert (meta["version"], len(meta["checksum"])) == (2, 8)


# ---------------------------------------------------------------- older stores


def test_a_store_of_the_previous_release_opens_untouched_then_is_upgraded(path: str) -> None:
    copy_legacy_store(path)
    before = store_files(path)
    with docstore.connect(path) as db:  # reading (even as the last one out) rewrites nothing
        trials = {doc["_id"]: doc for doc in db["trials"].find()}
        assert sorted(trials) == ["t0", "t1", "t2", "t4"]
        assert trials["t0"]["status"] == "reserved"
        assert trials["t1"]["results"][0]["value"] == 0.25
        assert trials["t4"]["blob"] == b"\x00\x01"
        assert db.check() == []
    after = store_files(path)
    assert after.pop("study.json.users") == b""  # an engine that may write says it is there (see locks.Presence)
    assert after == before
    with docstore.connect(path) as db:
        db["trials"].update_one({"_id": "t2"}, {"$set": {"status": "reserved"}})  # the first write upgrades
        assert not os.path.exists(path + ".lock")  # the older docstores' lock file is gone with the old format
    meta = orjson.loads(Path(path).read_bytes())["_docstore_meta"]["1"]
    assert (meta["version"], orjson.loads(journal_lines(path)[0])["version"]) == (2, 3)
    with docstore.connect(path) as db:
        assert db["trials"].count_documents({"status": "reserved"}) == 2
        assert db["trials"].find_one({"_id": "t4"})["blob"] == b"\x00\x01"
        assert db.check() == []


def test_a_version_1_store_without_journal_still_opens(path: str) -> None:
    write_version_1_store(path, [["put", "c", {"_id": "a"}]])
    snapshot = Path(path).read_bytes()
    os.unlink(path + ".journal")  # the first release created the snapshot first: a crash could leave it alone
    with docstore.connect(path) as db:
        assert db["c"].count_documents({}) == 0
        assert Path(path).read_bytes() == snapshot
        db["c"].insert_one({"_id": "b"})
    with docstore.connect(path) as db:
        assert [doc["_id"] for doc in db["c"].find()] == ["b"]


def _upgrade_stopped_between_renames(path: str) -> None:
    def crash(step: str) -> None:
        if step == "snapshot replaced":
            os._exit(17)

    state.crash_point = crash
    docstore.connect(path, compact_on_close=False)["trials"].insert_one({"_id": "t9"})


def test_an_upgrade_stopped_between_its_renames_opens_cleanly(path: str) -> None:
    import multiprocessing

    copy_legacy_store(path)
    child = multiprocessing.get_context("fork").Process(target=_upgrade_stopped_between_renames, args=(path,))
    child.start()
    child.join(30)
    assert child.exitcode == 17  # a new snapshot, and the old journal (version 2, no id) beside it
    assert orjson.loads(journal_lines(path)[0])["version"] == 2
    with docstore.connect(path) as db:
        assert sorted(doc["_id"] for doc in db["trials"].find()) == ["t0", "t1", "t2", "t4"]  # t9 never landed
        db["trials"].insert_one({"_id": "t9"})
    with docstore.connect(path) as db:
        assert db["trials"].count_documents({}) == 5
        assert db.check() == []


def _hold_the_old_lock(path: str, ready: Any, release: Any) -> None:
    lock = filelock.FileLock(path + ".lock")  # what a process of the previous release holds while it writes
    with lock:
        ready.set()
        release.wait(30)


def test_an_upgrade_waits_for_older_processes_holding_their_lock_file(path: str) -> None:
    import multiprocessing

    copy_legacy_store(path)
    context = multiprocessing.get_context("fork")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_the_old_lock, args=(path, ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        before = {name: data for name, data in store_files(path).items() if name != "study.json.users"}
        with docstore.connect(path, lock_timeout=0.3) as db:
            with pytest.raises(docstore.LockAcquisitionTimeout) as caught:
                db["trials"].insert_one({"_id": "t9"})  # the first write upgrades: not beside an older writer
            assert caught.value.lock_file == path + ".lock"
            assert {name: data for name, data in store_files(path).items() if name != "study.json.users"} == before
            release.set()
            holder.join(30)
            db["trials"].insert_one({"_id": "t9"})
        with docstore.connect(path) as db:
            assert db["trials"].count_documents({}) == 5
    finally:
        release.set()
        holder.join(30)
