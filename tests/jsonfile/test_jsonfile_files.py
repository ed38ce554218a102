"""Files in shared folders (items 1, 2 and 7 of issue 15): links, temporary names, modes, owners, OS errors.

The attacks and the second users are real: links planted by another user's process, a
group sharing a setgid folder, a user outside the group; a full disk is a small tmpfs.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docstore_jsonfile import files
from jsonfile_support import journal_lines
from users_support import MEMBERS, OUTSIDER, ROOT_ONLY, group_id, ids, run_as, shared_folder

import docstore
from docstore.cli import main
from docstore.errors import StoreCorrupted, StoreFileError, StoreIsADirectory, StorePermissionError

ANN, BOB = MEMBERS


def _mode(path: str | Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _write_and_close(path: str, name: str) -> list[str]:
    """In a process of some user: insert a document, close (the last one out compacts), list what is there."""
    with docstore.connect(path) as db:
        db["t"].insert_one({"_id": name})
        return sorted(doc["_id"] for doc in db["t"].find())


# ---------------------------------------------------------------- 1: links and temporary files


def _plant_links(folder: str, victim: str) -> None:
    for name in ("study.json.tmp", "study.json.journal.tmp", ".study.json.tmp", "study.json.lock"):
        os.symlink(victim, os.path.join(folder, name))


@ROOT_ONLY
def test_links_planted_by_another_user_are_never_written_through() -> None:
    with shared_folder() as folder:
        path = str(folder / "study.json")
        victim = folder / "ann-only" / "notes.txt"
        victim.parent.mkdir()
        os.chown(victim.parent, *ids(ANN))
        os.chmod(victim.parent, 0o700)
        assert run_as(ANN, _write_and_close, path, "first") == ("ok", ["first"])
        assert run_as(ANN, Path.write_text, victim, "precious") == ("ok", 8)
        assert run_as(BOB, _plant_links, str(folder), str(victim))[0] == "ok"  # the names compaction used to write
        assert run_as(ANN, _write_and_close, path, "second") == ("ok", ["first", "second"])  # compacts on close
        assert run_as(ANN, Path.read_text, victim) == ("ok", "precious")
        for name in ("study.json", "study.json.journal"):
            assert stat.S_ISREG(os.lstat(folder / name).st_mode), name
            assert os.lstat(folder / name).st_uid == ids(ANN)[0], name
        assert os.path.islink(folder / "study.json.tmp")  # left alone: not ours


def test_temporary_files_have_unpredictable_names_and_are_created_exclusively(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[tuple[str, int]] = []
    real_open = os.open

    def spy(name: Any, flags: int, *rest: Any, **keywords: Any) -> int:
        opened.append((os.fspath(name), flags))
        return real_open(name, flags, *rest, **keywords)

    with docstore.connect(path) as db:
        db["t"].insert_one({"_id": "a"})
        monkeypatch.setattr(os, "open", spy)
        db.compact()
        db.compact()
    temporaries = [(name, flags) for name, flags in opened if name.endswith(".tmp")]
    assert len(temporaries) == 4  # a snapshot and a journal per compaction
    assert len({name for name, _ in temporaries}) == 4  # never the same name twice
    for name, flags in temporaries:
        assert os.path.basename(name).startswith((".study.json.", ".study.json.journal."))
        assert flags & (os.O_EXCL | os.O_CREAT | os.O_NOFOLLOW) == os.O_EXCL | os.O_CREAT | os.O_NOFOLLOW, name
    for name, flags in opened:  # every file opened to be written, temporary or not, refuses a link
        if flags & (os.O_WRONLY | os.O_RDWR) and not os.path.isdir(name):
            assert flags & os.O_NOFOLLOW, name
    assert sorted(os.listdir(os.path.dirname(path))) == ["study.json", "study.json.journal", "study.json.users"]


def test_a_store_that_is_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    docstore.connect(str(real)).close()
    link = tmp_path / "study.json"
    link.symlink_to(real)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(StoreFileError) as caught:
        docstore.connect(str(link))
    assert caught.value.errno == errno.ELOOP
    assert caught.value.path == str(link)
    assert f"symbolic link (to {real})" in str(caught.value)
    assert f"open {real} itself" in str(caught.value)
    assert sorted(os.listdir(tmp_path)) == before  # no journal or lock made beside the link


def test_a_link_planted_as_a_new_stores_journal_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "study.json.journal").symlink_to(victim)
    with pytest.raises(StoreFileError, match="symbolic link") as caught:
        docstore.connect(str(tmp_path / "study.json"))
    assert caught.value.path == str(tmp_path / "study.json.journal")
    assert victim.read_text() == "precious"
    assert not (tmp_path / "study.json").exists()


def test_a_link_planted_as_the_presence_file_is_left_alone(path: str) -> None:
    victim = Path(path).with_name("victim.txt")
    victim.write_text("precious")
    os.symlink(victim, path + ".users")
    with docstore.connect(path) as db:
        db["t"].insert_one({"_id": "a"})
    assert victim.read_text() == "precious"
    with docstore.connect(path) as db:
        assert db["t"].count_documents({}) == 1


# ---------------------------------------------------------------- 2: modes, groups, owners


@ROOT_ONLY
def test_another_users_compaction_keeps_mode_and_group() -> None:
    with shared_folder() as folder:
        path = str(folder / "study.json")
        assert run_as(ANN, _write_and_close, path, "ann", umask=0o077) == ("ok", ["ann"])
        assert _mode(path) == 0o600  # a private umask wins, even in a shared folder
        for name in (path, path + ".journal", path + ".users"):
            assert run_as(ANN, os.chmod, name, 0o660)[0] == "ok"  # the team opens it up, as in the report
        assert run_as(BOB, _write_and_close, path, "bob", umask=0o077) == ("ok", ["ann", "bob"])
        assert len(journal_lines(path)) == 1  # bob was the last one out: he compacted
        for name in (path, path + ".journal"):
            found = os.stat(name)
            assert (stat.S_IMODE(found.st_mode), found.st_gid, found.st_uid) == (0o660, group_id(), ids(BOB)[0])
        assert run_as(ANN, _write_and_close, path, "ann2") == ("ok", ["ann", "ann2", "bob"])


@ROOT_ONLY
def test_a_new_store_in_a_setgid_folder_is_shared_with_the_group_as_the_umask_allows() -> None:
    with shared_folder() as folder:
        for umask, expected in ((0o002, 0o660), (0o022, 0o640), (0o077, 0o600)):
            path = str(folder / f"study{umask:o}.json")
            assert run_as(ANN, _write_and_close, path, "a", umask=umask)[0] == "ok"
            for name in (path, path + ".journal", path + ".users"):
                found = os.stat(name)
                assert (stat.S_IMODE(found.st_mode), found.st_gid) == (expected, group_id()), (name, umask)


def test_new_stores_are_private_unless_an_option_says_otherwise(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        docstore.connect(str(tmp_path / "private.json")).close()
        docstore.connect(str(tmp_path / "team.json"), file_mode="0640").close()
    finally:
        os.umask(old)
    for name in ("private.json", "private.json.journal", "private.json.users"):
        assert _mode(tmp_path / name) == 0o600, name
    for name in ("team.json", "team.json.journal", "team.json.users"):
        assert _mode(tmp_path / name) == 0o640, name


@ROOT_ONLY
def test_root_compacting_a_users_store_keeps_its_owner() -> None:
    with shared_folder() as folder:
        path = str(folder / "study.json")
        assert run_as(ANN, _write_and_close, path, "ann", umask=0o077)[0] == "ok"
        assert _write_and_close(path, "root") == ["ann", "root"]  # root writes and compacts
        for name in (path, path + ".journal"):
            assert (os.stat(name).st_uid, _mode(name)) == (ids(ANN)[0], 0o600), name
        assert run_as(ANN, _write_and_close, path, "ann2")[0] == "ok"  # ann can still use her store


def _open_and_count(path: str) -> int:
    with docstore.connect(path) as db:
        return db["t"].count_documents({})


@ROOT_ONLY
def test_a_user_without_permission_gets_an_error_naming_the_file() -> None:
    with shared_folder(mode=0o2775) as folder:
        path = str(folder / "study.json")
        assert run_as(ANN, _write_and_close, path, "ann")[0] == "ok"
        kind, facts = run_as(OUTSIDER, _open_and_count, path)
        assert kind == "error"
        assert {"StorePermissionError", "PermissionError"} <= set(facts["classes"])
        assert facts["path"] == path
        assert f"cannot open {path}: Permission denied" in facts["message"]
        assert "check the permissions" in facts["message"]


# ---------------------------------------------------------------- 7: OS errors, full disks, bad locations


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a disk that fills up for real."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mount = tmp_path / "small"
    mount.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)]
    done = subprocess.run(command, check=False, capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> None:
    with (folder / "filler").open("wb", buffering=0) as filler, pytest.raises(OSError, match="No space left"):
        while True:
            filler.write(b"x" * 4096)


def test_creating_a_store_on_a_full_disk_leaves_nothing(small_disk: Path) -> None:
    _fill(small_disk)
    with pytest.raises(StoreFileError) as caught:
        docstore.connect(str(small_disk / "study.json"))
    assert caught.value.errno == errno.ENOSPC
    assert str(small_disk / "study.json") in caught.value.path
    assert "the disk is full" in str(caught.value)
    assert sorted(os.listdir(small_disk)) == ["filler"]  # no journal, no snapshot, no lock, no temporary file


def test_a_write_on_a_full_disk_fails_naming_the_journal_and_loses_nothing(small_disk: Path) -> None:
    path = str(small_disk / "study.json")
    with docstore.connect(path, compact_on_close=False) as db:
        db["t"].insert_one({"_id": "kept"})
        _fill(small_disk)
        with pytest.raises(StoreFileError) as caught:
            db["t"].insert_one({"_id": "big", "pad": "x" * 20000})  # more than the journal's last page holds
        assert (caught.value.errno, caught.value.path) == (errno.ENOSPC, path + ".journal")
        assert f"cannot append to {path}.journal" in str(caught.value)
        with pytest.raises(StoreFileError, match="the disk is full"):
            db.compact()
        assert db["t"].count_documents({}) == 1
    assert all(line.endswith(b"\n") for line in journal_lines(path))  # no partial line left
    assert sorted(os.listdir(small_disk)) == ["filler", "study.json", "study.json.journal"]
    os.unlink(small_disk / "filler")
    with docstore.connect(path) as db:
        assert [doc["_id"] for doc in db["t"].find()] == ["kept"]
        db["t"].insert_one({"_id": "after"})
        assert db.check() == []


def test_a_dump_on_a_full_disk_leaves_no_file(
    small_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "study.json")
    with docstore.connect(store) as db:
        db["t"].insert_many([{"_id": f"d{i}", "pad": "x" * 1000} for i in range(100)])
    _fill(small_disk)
    target = small_disk / "backup.jsonl"
    assert main(["dump", "--uri", store, "-o", str(target)]) == 2
    error = capsys.readouterr().err
    assert f"cannot write the dump {target}" in error
    assert "No space left on device" in error
    assert sorted(os.listdir(small_disk)) == ["filler"]


def test_a_folder_given_as_the_store_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    assert main(["check", "--uri", str(folder)]) == 2
    assert f"the store {folder} is a folder" in capsys.readouterr().err
    with pytest.raises(StoreIsADirectory) as caught:
        docstore.connect(str(folder))
    assert isinstance(caught.value, IsADirectoryError)
    assert sorted(os.listdir(tmp_path)) == ["results"]  # no results.lock, no results.journal
    assert os.listdir(folder) == []


def test_an_empty_uri_is_an_error_not_the_default_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DOCSTORE_URI", raising=False)
    assert main(["demo", "--uri", "", "--trials", "1"]) == 2
    assert "--uri is empty" in capsys.readouterr().err
    with pytest.raises(docstore.InvalidURI, match="names no file"):
        docstore.connect("")
    assert os.listdir(tmp_path) == []


def test_a_folder_in_place_of_the_journal_is_named(path: str) -> None:
    os.mkdir(path + ".journal")
    with pytest.raises(StoreFileError) as caught:
        docstore.connect(path)
    assert caught.value.path == path + ".journal"
    assert path + ".journal" in str(caught.value)
    assert not os.path.exists(path)


@pytest.mark.parametrize(
    ("code", "kind", "advice"),
    [
        (errno.EACCES, StorePermissionError, "check the permissions"),
        (errno.ENOSPC, StoreFileError, "the disk is full"),
        (errno.EISDIR, StoreIsADirectory, "it is a folder"),
        (errno.ELOOP, StoreFileError, "symbolic link"),
        (errno.EROFS, StoreFileError, "read_only=true"),
    ],
)
def test_os_errors_name_the_file_the_operation_and_what_to_do(
    path: str, code: int, kind: type[StoreFileError], advice: str
) -> None:
    error = files.file_error(OSError(code, os.strerror(code)), path, "replace")
    assert type(error) is kind
    assert isinstance(error, OSError)
    assert (error.path, error.operation, error.errno) == (path, "replace", code)  # type: ignore[attr-defined]
    assert str(error).startswith(f"cannot replace {path}: {os.strerror(code)} (")
    assert advice in str(error)


def test_a_damaged_store_is_a_check_finding(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    with docstore.connect(path) as db:
        db["trials"].insert_one({"_id": "t", "status": "new"})
    damaged = Path(path).read_bytes().replace(b'"status":"new"', b'"status":"nev"')
    Path(path).write_bytes(damaged)
    assert main(["check", "--uri", path]) == 1
    out = capsys.readouterr().out
    assert "1 finding: the store cannot be opened" in out
    assert "checksum does not match" in out
    assert Path(path).read_bytes() == damaged  # untouched
    with pytest.raises(StoreCorrupted):
        docstore.connect(path)


def _create_at_once(path: str, name: str, go: Any) -> None:
    go.wait()
    with docstore.connect(path, compact_on_close=False) as db:
        db["t"].insert_one({"_id": name})


def test_processes_creating_the_same_store_at_once_make_one_store(tmp_path: Path) -> None:
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for attempt in range(5):
        path = str(tmp_path / f"new{attempt}.json")
        go = context.Event()
        creators = [context.Process(target=_create_at_once, args=(path, f"p{i}", go)) for i in range(6)]
        for creator in creators:
            creator.start()
        go.set()
        for creator in creators:
            creator.join(60)
            assert creator.exitcode == 0
        with docstore.connect(path) as db:
            assert sorted(doc["_id"] for doc in db["t"].find()) == [f"p{i}" for i in range(6)]
            assert db.check() == []


def test_temporary_files_left_by_a_killed_compaction_are_removed_once_old(path: str) -> None:
    docstore.connect(path).close()
    folder = Path(path).parent
    old, young = folder / ".study.json.00112233445566aa.tmp", folder / ".study.json.journal.77889900aabbccdd.tmp"
    for leftover in (old, young):
        leftover.write_bytes(b"half a snapshot")
    os.utime(old, (os.stat(old).st_atime, os.stat(old).st_mtime - 2 * 3600))
    with docstore.connect(path) as db:
        db["t"].insert_one({"_id": "a"})
        db.compact()
    assert not old.exists()  # two hours old: a killed process's
    assert young.exists()  # may be another process's compaction in progress
