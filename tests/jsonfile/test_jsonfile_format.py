"""The files of a JSON store: format, modes, damage, compaction and its crash points, read-only, lock."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import stat
import zlib
from pathlib import Path

import filelock
import orjson
import pytest
from docstore_jsonfile import JsonFileEngine, snapshot, state
from jsonfile_support import framed, journal_lines, store_files

import docstore
from docstore.errors import LockAcquisitionTimeout, ReadOnlyError, StoreCorrupted

UTC = dt.timezone.utc


def _engine(db: docstore.Database) -> JsonFileEngine:
    assert isinstance(db.engine, JsonFileEngine)
    return db.engine


def _seed(path: str, count: int = 3) -> None:
    """A store whose journal holds ``count`` insert lines after its header (not compacted on close)."""
    with docstore.connect(path, compact_on_close=False) as db:
        for i in range(count):
            db["trials"].insert_one({"_id": f"t{i}", "status": "new", "n": i})


# ---------------------------------------------------------------- format


def test_tinydb_reads_a_closed_store(path: str) -> None:
    from tinydb import TinyDB

    when = dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    with docstore.connect(path) as db:
        db["trials"].insert_many([{"_id": "a", "status": "new", "when": when}, {"_id": "b", "status": "done"}])
        db["trials"].update_one({"_id": "b"}, {"$set": {"score": 0.5}})
        db["experiments"].insert_one({"_id": "e", "name": "study"})
        db["trials"].create_index("status")
    tiny = TinyDB(path)
    try:
        assert set(tiny.tables()) == {"_docstore_meta", "trials", "experiments"}
        trials = tiny.table("trials").all()
        assert [doc["_id"] for doc in trials] == ["a", "b"]
        assert trials[0]["when"] == {"$date": "2024-01-02T03:04:05.678Z"}  # relaxed Extended JSON
        assert trials[1]["score"] == 0.5
        assert tiny.table("experiments").all() == [{"_id": "e", "name": "study"}]
        (meta,) = tiny.table("_docstore_meta").all()
        assert meta["format"] == "docstore-jsonfile"
        assert meta["collections"]["trials"]["indexes"] == [
            {"name": "status_1", "key": [["status", 1]], "unique": False}
        ]
    finally:
        tiny.close()
    assert len(journal_lines(path)) == 1  # the journal was folded in: only its header is left


def test_journal_lines_are_framed_json_effects(path: str) -> None:
    with docstore.connect(path, compact_on_close=False) as db:
        db["trials"].insert_one({"_id": "a", "n": 1})
        db["trials"].update_one({"_id": "a"}, {"$inc": {"n": 1}})
        db["trials"].delete_one({"_id": "a"})
    header, *lines = journal_lines(path)
    records = [orjson.loads(line) for line in (header, *lines)]
    for line, record in zip((header, *lines), records, strict=True):
        assert next(iter(record)) == "crc"
        assert int(record["crc"], 16) == zlib.crc32(line[len(b'{"crc":"xxxxxxxx",') : -1])
    assert records[0]["journal"] == "docstore-jsonfile"
    assert {record["gen"] for record in records} == {records[0]["gen"]}
    assert records[0]["version"] == 3
    assert records[0]["id"] == orjson.loads(Path(path).read_bytes())["_docstore_meta"]["1"]["journal"]
    assert [record["n"] for record in records[1:]] == [1, 2, 3]  # numbered: a missing line shows
    # effects, not commands: the $inc is logged as the value it produced (a stored document's
    # new version as the fields that changed)
    assert [record["ops"] for record in records[1:]] == [
        [["put", "trials", {"_id": "a", "n": 1}]],
        [["set", "trials", {"_id": "a", "n": 2}]],
        [["del", "trials", "a"]],
    ]


def test_files_are_created_0600(path: str) -> None:
    old = os.umask(0)
    try:
        with docstore.connect(path, compact_min_bytes=0, compact_ratio=0) as db:
            db["c"].insert_one({"x": 1})  # compacts at once: temporary files too
            db.compact()
    finally:
        os.umask(old)
    names = os.listdir(os.path.dirname(path))
    assert set(names) == {"study.json", "study.json.journal", "study.json.users"}  # no lock file, no temporaries
    for name in names:
        assert stat.S_IMODE(os.stat(os.path.join(os.path.dirname(path), name)).st_mode) == 0o600, name


# ---------------------------------------------------------------- damage


def _assert_corrupted(path: str, *, file: str, line: int | None) -> StoreCorrupted:
    before = store_files(path)
    with pytest.raises(StoreCorrupted) as caught:
        docstore.connect(path)
    assert caught.value.path == file
    assert caught.value.line == line
    assert file in str(caught.value)
    assert store_files(path) == before  # nothing repaired, nothing rewritten
    return caught.value


def test_torn_last_line_is_ignored_then_cut_by_the_next_writer(path: str) -> None:
    _seed(path)
    whole = Path(path + ".journal").read_bytes()
    last = journal_lines(path)[-1]
    Path(path + ".journal").write_bytes(whole[: -len(last)] + last[: len(last) // 2])  # crash mid-append
    torn = store_files(path)
    with docstore.connect(path, compact_on_close=False) as db:
        assert [doc["_id"] for doc in db["trials"].find()] == ["t0", "t1"]
        assert store_files(path) == torn  # readers leave it
        assert db.check() == []  # a torn tail is what a crash leaves: no finding
        db["trials"].insert_one({"_id": "t9"})
    lines = journal_lines(path)
    assert len(lines) == 4
    assert all(orjson.loads(line) for line in lines)  # the torn bytes are gone
    with docstore.connect(path) as db:
        assert [doc["_id"] for doc in db["trials"].find()] == ["t0", "t1", "t9"]
        assert db.check() == []


def test_torn_line_of_zeros_is_a_torn_tail(path: str) -> None:
    _seed(path)
    with Path(path + ".journal").open("ab") as journal:
        journal.write(b"\0" * 300)  # a power loss can leave zeros where data was due
    with docstore.connect(path, compact_on_close=False) as db:
        assert db["trials"].count_documents({}) == 3


def test_damaged_middle_line(path: str) -> None:
    _seed(path)
    lines = journal_lines(path)
    lines[2] = lines[2].replace(b'"n":1', b'"n":7')  # still JSON, but the checksum tells
    Path(path + ".journal").write_bytes(b"".join(lines))
    error = _assert_corrupted(path, file=path + ".journal", line=3)
    assert "checksum" in str(error)


def test_bad_json_in_a_middle_line(path: str) -> None:
    _seed(path)
    lines = journal_lines(path)
    lines.insert(2, b"this is not json\n")
    Path(path + ".journal").write_bytes(b"".join(lines))
    _assert_corrupted(path, file=path + ".journal", line=3)


def test_line_of_another_generation(path: str) -> None:
    _seed(path)
    generation = orjson.loads(journal_lines(path)[0])["gen"]
    intruder = framed({"gen": generation + 5, "ops": [["del", "trials", "t0"]]})
    with Path(path + ".journal").open("ab") as journal:
        journal.write(intruder)  # intact, so not a torn tail: a wrong generation is damage
    _assert_corrupted(path, file=path + ".journal", line=5)


def test_journal_header_of_another_generation(path: str) -> None:
    _seed(path)
    lines = journal_lines(path)
    lines[0] = framed({"gen": 42, "journal": "docstore-jsonfile", "version": 1})
    Path(path + ".journal").write_bytes(b"".join(lines))
    _assert_corrupted(path, file=path + ".journal", line=1)


def test_snapshot_that_is_not_json(path: str) -> None:
    _seed(path)
    Path(path).write_bytes(b'{"_docstore_meta": {"1": {"format": "docstore-jsonfile",\n oops')
    _assert_corrupted(path, file=path, line=2)


@pytest.mark.parametrize("version", [3, "1", None])
def test_unknown_format_version(path: str, version: object) -> None:
    _seed(path)
    data = orjson.loads(Path(path).read_bytes())
    data["_docstore_meta"]["1"]["version"] = version
    Path(path).write_bytes(orjson.dumps(data))
    error = _assert_corrupted(path, file=path, line=1)
    assert "version" in str(error)


def test_unknown_journal_version(path: str) -> None:
    _seed(path)
    lines = journal_lines(path)
    header = orjson.loads(lines[0])
    lines[0] = framed({"gen": header["gen"], "journal": "docstore-jsonfile", "version": 9})
    Path(path + ".journal").write_bytes(b"".join(lines))
    _assert_corrupted(path, file=path + ".journal", line=1)


def test_not_a_docstore_file(path: str) -> None:
    Path(path).write_bytes(b'{"_default": {"1": {"a": 1}}}')  # a TinyDB file of someone else's
    _assert_corrupted(path, file=path, line=1)


# ---------------------------------------------------------------- compaction


def _crash_in_compaction(path: str, step: str) -> None:
    """In a child process: compact, and die at ``step`` as ``kill -9`` would (no cleanup at all)."""

    def crash(name: str) -> None:
        if name == step:
            os._exit(17)

    state.crash_point = crash
    db = docstore.connect(path, compact_on_close=False)
    db["trials"].insert_one({"_id": "during", "status": "new"})
    db.compact()
    os._exit(0)


@pytest.mark.parametrize(
    "step", ["begin", "snapshot written", "snapshot replaced", "journal written", "journal replaced"]
)
def test_crash_at_each_compaction_step_leaves_a_complete_store(path: str, step: str) -> None:
    _seed(path)
    child = multiprocessing.get_context("fork").Process(target=_crash_in_compaction, args=(path, step))
    child.start()
    child.join(30)
    assert child.exitcode == 17
    expected = ["t0", "t1", "t2", "during"]
    with docstore.connect(path, compact_on_close=False) as db:
        assert [doc["_id"] for doc in db["trials"].find()] == expected
        assert db.check() == []
        db["trials"].insert_one({"_id": "after"})
    with docstore.connect(path) as db:
        assert [doc["_id"] for doc in db["trials"].find()] == [*expected, "after"]
        db.compact()
        assert db.check() == []
    with docstore.connect(path) as db:
        assert [doc["_id"] for doc in db["trials"].find()] == [*expected, "after"]


def test_automatic_compaction(path: str) -> None:
    with docstore.connect(path, compact_min_bytes=2000, compact_ratio=1.0) as db:
        engine = _engine(db)
        first = engine._state.generation
        for i in range(200):
            db["trials"].insert_one({"_id": f"t{i:03d}", "status": "new", "pad": "x" * 50})
        assert engine._state.generation > first + 2
        assert engine._state.offset < max(2000, engine._state.snapshot_size) + 200
        assert db["trials"].count_documents({"status": "new"}) == 200
    with docstore.connect(path) as db:
        assert db["trials"].count_documents({}) == 200


def test_failed_automatic_compaction_keeps_the_write(
    path: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def disk_full(step: str) -> None:
        if step == "snapshot written":
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(state, "crash_point", disk_full)
    with docstore.connect(path, compact_min_bytes=500, compact_ratio=0.1) as db:
        for i in range(10):
            db["trials"].insert_one({"_id": f"t{i}", "pad": "x" * 100})  # each would compact: none can
        assert "could not compact" in caplog.text
        assert db["trials"].count_documents({}) == 10
        monkeypatch.setattr(state, "crash_point", state._no_crash)
        db.compact()
    with docstore.connect(path) as db:
        assert db["trials"].count_documents({}) == 10
        assert db.check() == []


def test_other_processes_writes_are_read_incrementally(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    writer, reader = docstore.connect(path), docstore.connect(path)
    try:
        loads: list[str] = []
        real = snapshot.decode_snapshot
        monkeypatch.setattr(state, "decode_snapshot", lambda data, where: (loads.append(where), real(data, where))[1])
        for i in range(20):
            writer["trials"].insert_one({"_id": f"t{i}", "status": "new"})
            assert reader["trials"].count_documents({"status": "new"}) == i + 1
        assert loads == []  # only the new journal bytes were read
        writer.compact()
        writer["trials"].insert_one({"_id": "late", "status": "new"})
        assert reader["trials"].count_documents({"status": "new"}) == 21
        assert loads == [path]  # a compaction elsewhere means one reload
        assert reader.check() == []
    finally:
        writer.close()
        reader.close()


def test_leftover_temporary_files_are_harmless(path: str) -> None:
    _seed(path)
    Path(path + ".tmp").write_bytes(b"half a snapsh")
    Path(path + ".journal.tmp").write_bytes(b"garbage")
    with docstore.connect(path) as db:
        assert db["trials"].count_documents({}) == 3
        db.compact()
        db["trials"].insert_one({"_id": "x"})
    with docstore.connect(path) as db:
        assert db["trials"].count_documents({}) == 4


# ---------------------------------------------------------------- permissions and lock


def test_read_only_files_open_read_only(path: str) -> None:
    with docstore.connect(path) as db:
        db["trials"].insert_one({"_id": "a"})
    for name in (path, path + ".journal"):
        os.chmod(name, 0o444)
    before = store_files(path)
    with docstore.connect(path) as db:
        assert db["trials"].find_one("a") == {"_id": "a"}
        with pytest.raises(ReadOnlyError) as caught:
            db["trials"].insert_one({"_id": "b"})
        assert caught.value.path == path
        assert path in str(caught.value)
        assert "write permission" in str(caught.value)
        assert isinstance(caught.value, PermissionError)
    assert store_files(path) == before
    with docstore.connect(path, read_only=True) as db, pytest.raises(ReadOnlyError):
        db.compact()


def test_lock_timeout_names_the_locked_file(path: str) -> None:
    with docstore.connect(path) as db:
        db["trials"].insert_one({"_id": "a"})
        holder = os.open(path, os.O_RDONLY)  # the lock is the snapshot's flock, as filelock takes it
        try:
            assert filelock.lock_descriptor(holder, blocking=False)
            _engine(db)._lock.timeout = 0.2
            with pytest.raises(LockAcquisitionTimeout) as caught:
                db["trials"].insert_one({"_id": "b"})
            assert isinstance(caught.value, TimeoutError)
            assert caught.value.lock_file == path
            assert path in str(caught.value)
            with pytest.raises(TimeoutError):
                docstore.connect(path, lock_timeout=0.1)
        finally:
            os.close(holder)
        db["trials"].insert_one({"_id": "c"})  # released: works again
        assert db["trials"].count_documents({}) == 2
