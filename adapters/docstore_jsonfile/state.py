"""One process's view of a store's files: what it loaded, and how far into the journal it has read.

Every function here runs with the store's lock held (or, for a store this process may not
lock, with framing as the only guard). Another process's compaction shows as a snapshot
or journal that is no longer the file this process holds open; holding them open also
keeps their inode numbers from being reused, so comparing identities is exact.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from docstore.errors import StoreCorrupted
from docstore_jsonfile.files import (
    Permissions,
    file_error,
    open_file,
    read_all,
    remove_stale_temporaries,
    replace_atomically,
    write_all,
)
from docstore_jsonfile.journal import (
    JOURNAL_VERSION,
    Header,
    header_line,
    new_journal_id,
    operation_line,
    read_header,
    scan,
)
from docstore_jsonfile.locks import StoreLock
from docstore_jsonfile.snapshot import VERSION, decode_snapshot, encode_snapshot
from docstore_jsonfile.store import Effect, Store

__all__ = ["FileState", "compact", "load", "needs_upgrade", "start_journal"]


def _no_crash(step: str) -> None:
    """Tests replace this to simulate a crash between the steps of compaction."""


crash_point: Callable[[str], None] = _no_crash


@dataclass(eq=False)
class FileState:
    path: str
    store: Store = field(default_factory=Store)
    generation: int = 0
    snapshot_version: int = VERSION
    journal_id: str | None = None
    """The journal's id: the one the snapshot expects (with a version-1 snapshot, the journal's own, if any)."""
    folded_id: str | None = None
    """The journal the snapshot folded in: the one a compaction stopped between its renames leaves."""
    snapshot_fd: int | None = None
    snapshot_id: tuple[int, int, int, int] | None = None
    snapshot_size: int = 0
    journal_fd: int | None = None
    journal_ino: int | None = None
    header_size: int = 0
    offset: int = 0
    """Bytes of intact journal lines read (the header included)."""
    lines: int = 0
    torn: bool = False
    """The bytes after ``offset`` are a torn last line: ignored, and cut off by the next writer."""
    journal_version: int = JOURNAL_VERSION
    stale_journal: bool = False
    """The journal is the previous generation's (compaction stopped between its two renames)."""
    prefetched: bool = False
    """Lines of other processes were applied by :meth:`prefetch` (the last one out folds them in)."""

    @classmethod
    def unloaded(cls, path: str) -> FileState:
        return cls(path)

    @property
    def journal_path(self) -> str:
        return self.path + ".journal"

    def is_current(self) -> bool:
        """Whether nothing changed on disk since this state was read (two ``stat`` calls)."""
        try:
            snapshot = os.stat(self.path)
        except FileNotFoundError:
            raise StoreCorrupted(f"the snapshot {self.path} has disappeared", path=self.path) from None
        if _identity(snapshot) != self.snapshot_id:
            return False
        try:
            journal = os.stat(self.journal_path)
        except FileNotFoundError:
            return self.journal_fd is None
        return journal.st_ino == self.journal_ino and journal.st_size == self.offset

    def follow(self, *, writable: bool) -> FileState:
        """This state caught up with the journal, or a freshly loaded one if the files were replaced."""
        if self.journal_fd is None or self.snapshot_id != _identity(os.stat(self.path)):
            return load(self.path, writable=writable)
        try:
            journal = os.stat(self.journal_path)
        except FileNotFoundError:
            raise StoreCorrupted(f"the journal {self.journal_path} has disappeared", path=self.journal_path) from None
        if journal.st_ino != self.journal_ino:
            return load(self.path, writable=writable)
        if journal.st_size < self.offset:  # only a torn tail, never read by anyone, is ever cut
            raise StoreCorrupted(
                f"the journal {self.journal_path} shrank to {journal.st_size} bytes, below the {self.offset} this "
                "process had read: it was cut outside docstore, and acknowledged writes are gone",
                path=self.journal_path,
            )
        if self.stale_journal:
            return self
        data = read_all(self.journal_fd, self.offset)
        batches: list[list[Effect]] = []
        consumed, lines, torn = self._scan(data, batches.append)
        self._apply(batches)
        self.offset += consumed
        self.lines, self.torn = lines, torn
        return self

    def _scan(self, data: bytes, apply: Callable[[list[Effect]], None]) -> tuple[int, int, bool]:
        numbered = self.journal_version >= 3
        return scan(
            data, path=self.journal_path, generation=self.generation, line=self.lines, numbered=numbered, apply=apply
        )

    def _apply(self, batches: list[list[Effect]]) -> None:
        """Apply caught-up lines; one that does not fit the state (a patch of a document it
        does not hold) means the files are damaged: reload them next time, and say so."""
        try:
            for effects in batches:
                self.store.apply(effects)
        except ValueError as exc:
            self.snapshot_id = None  # memory may be half-changed
            raise StoreCorrupted(
                f"the journal {self.journal_path} is damaged after line {self.lines}: {exc}", path=self.journal_path
            ) from None

    def prefetch(self) -> None:
        """Apply the intact journal lines other processes appended since, WITHOUT the lock.

        Decoding and applying other processes' operations is most of a write's work when
        several processes share a store; done here, before the lock is taken, it runs in
        parallel instead of inside the critical section, which then only catches up the
        lines appended meanwhile. Only whole lines whose checksum holds are taken; the
        first one that is not (a line being written right now, a torn or damaged one) ends
        the pass, and the locked catch-up (:meth:`follow`) reads it and decides: it alone
        may report damage or mark a torn line to cut. A compaction by another process
        leaves the journal this state holds open intact, so its lines are still right for
        this state; the locked catch-up then sees the new snapshot and reloads.
        """
        fd = self.journal_fd
        if fd is None or self.stale_journal or self.snapshot_id is None:
            return
        try:
            if os.fstat(fd).st_size <= self.offset:
                return
            data = read_all(fd, self.offset)
        except OSError:
            return
        end = data.rfind(b"\n") + 1
        if not end:
            return
        batches: list[list[Effect]] = []
        try:
            consumed, lines, _torn = self._scan(data[:end], batches.append)
            self._apply(batches)
        except StoreCorrupted:
            return  # the locked catch-up (a reload, if memory was touched) finds the same damage and reports it
        self.offset += consumed
        self.lines = lines
        self.prefetched = self.prefetched or consumed > 0

    def append(self, effects: list[Effect]) -> None:
        """Append one operation's line and apply it in memory (the caller syncs)."""
        assert self.journal_fd is not None
        line = operation_line(self.generation, self.lines, effects, self.store)
        try:
            if self.torn:
                os.ftruncate(self.journal_fd, self.offset)
                self.torn = False
            write_all(self.journal_fd, line)
        except BaseException as exc:
            self._undo_append(len(line))
            if isinstance(exc, OSError):
                raise file_error(exc, self.journal_path, "append to") from exc
            raise
        self.offset += len(line)
        self.lines += 1
        try:
            self.store.apply(effects)
        except BaseException:
            self.snapshot_id = None  # memory may be half-changed: reload from the files next time
            raise

    def _undo_append(self, length: int) -> None:
        """After a failed append: cut a partial line of ours; a whole one may have been read already, it stays."""
        assert self.journal_fd is not None
        try:
            if os.fstat(self.journal_fd).st_size != self.offset + length:
                os.ftruncate(self.journal_fd, self.offset)
                return
        except OSError:
            pass
        self.snapshot_id = None  # whatever is there, reload before the next operation

    def has_operations(self) -> bool:
        return self.journal_fd is not None and not self.stale_journal and self.offset > self.header_size

    def generation_findings(self, live: FileState) -> list[str]:
        """Check findings comparing a fresh load (self) with a process's live state.

        A torn last line is no finding: it is what a crash in mid-append leaves, readers
        ignore it and the next write cuts it off.
        """
        if self.generation != live.generation:
            return [f"generation on disk {self.generation} differs from the one in use {live.generation}"]
        return []

    def close(self) -> None:
        for fd in (self.snapshot_fd, self.journal_fd):
            if fd is not None:
                os.close(fd)
        self.snapshot_fd = self.journal_fd = None

    def __del__(self) -> None:  # an engine dropped without close: its files are closed with it
        with contextlib.suppress(Exception):
            self.close()


def _identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def load(path: str, *, writable: bool) -> FileState:
    """Read the snapshot and replay its journal. Raises StoreCorrupted, touching nothing."""
    state = FileState(path)
    try:
        state.snapshot_fd = open_file(path, os.O_RDONLY, "open")
        snapshot = os.fstat(state.snapshot_fd)
        state.snapshot_id, state.snapshot_size = _identity(snapshot), snapshot.st_size
        try:
            data = read_all(state.snapshot_fd)
        except OSError as exc:
            raise file_error(exc, path, "read") from exc
        decoded = decode_snapshot(data, path)
        del data
        state.store, state.generation, state.snapshot_version = decoded.store, decoded.generation, decoded.version
        state.journal_id, state.folded_id = decoded.journal_id, decoded.folded_id
        flags = (os.O_RDWR | os.O_APPEND) if writable else os.O_RDONLY
        try:
            state.journal_fd = open_file(state.journal_path, flags, "open")
        except FileNotFoundError:
            if state.journal_id is not None:
                raise _mismatch(state, "is missing") from None
            return state  # a version-1 store: nothing since the snapshot
        state.journal_ino = os.fstat(state.journal_fd).st_ino
        try:
            journal = read_all(state.journal_fd)
        except OSError as exc:
            raise file_error(exc, state.journal_path, "read") from exc
        _replay(state, journal)
    except BaseException:
        state.close()
        raise
    return state


def _mismatch(state: FileState, problem: str, line: int | None = None) -> StoreCorrupted:
    expected = f"generation {state.generation}, id {state.journal_id}"
    return StoreCorrupted(
        f"the journal {state.journal_path} {problem}, but the snapshot {state.path} expects its journal "
        f"({expected}): writes since the last compaction would be lost, and a crash cannot cause this; "
        "restore the journal from a backup. Both files were left untouched",
        path=state.journal_path,
        line=line,
    )


def _replay(state: FileState, data: bytes) -> None:
    state.offset = len(data)
    if not data:
        if state.journal_id is not None:
            raise _mismatch(state, "is empty", line=1)
        state.stale_journal = True  # a version-1 store: nothing in it, the next writer starts it afresh
        return
    header = read_header(data, state.journal_path)
    state.header_size, state.journal_version = header.size, header.version
    if _is_folded(state, header):
        state.stale_journal = True
        return
    if header.generation != state.generation or header.journal_id != state.journal_id:
        if state.journal_id is not None:
            raise _mismatch(state, f"is generation {header.generation}, id {header.journal_id}", line=1)
        if header.generation != state.generation:
            raise StoreCorrupted(
                f"the journal {state.journal_path} is generation {header.generation} but the snapshot {state.path} "
                f"is generation {state.generation}: they do not belong together; both were left untouched",
                path=state.journal_path,
                line=1,
            )
    state.journal_id = header.journal_id  # the same, unless the snapshot is version 1 (it names none)
    consumed, state.lines, state.torn = scan(
        data[header.size :],
        path=state.journal_path,
        generation=header.generation,
        line=1,
        numbered=header.version >= 3,
        apply=state.store.apply,
    )
    state.offset = header.size + consumed


def _is_folded(state: FileState, header: Header) -> bool:
    """Whether the journal is the one the snapshot folded in (a compaction stopped between its renames)."""
    if header.generation != state.generation - 1:
        return False
    if state.journal_id is None:  # a version-1 snapshot: the generation is all there is to compare
        return True
    return header.journal_id == state.folded_id


def needs_upgrade(state: FileState) -> bool:
    """Whether the files are in an older format, which the first write replaces (by a compaction)."""
    older_journal = state.journal_fd is not None and not state.stale_journal and state.journal_version < JOURNAL_VERSION
    return state.snapshot_version < VERSION or older_journal


def start_journal(state: FileState) -> FileState:
    """Replace the journal by an empty one, the one the snapshot expects."""
    assert state.journal_id is not None, "a version-1 snapshot is upgraded by a compaction, not a new journal"
    like = state.journal_fd if state.journal_fd is not None else state.snapshot_fd
    fd = replace_atomically(
        state.journal_path,
        [header_line(state.generation, state.journal_id)],
        permissions=Permissions.of(like) if like is not None else Permissions(),
        append=True,
        before_rename=lambda: crash_point("journal written"),
    )
    if state.journal_fd is not None:
        os.close(state.journal_fd)
    state.journal_fd, state.journal_ino = fd, os.fstat(fd).st_ino
    state.header_size = state.offset = os.fstat(fd).st_size
    state.lines, state.torn, state.stale_journal = 1, False, False
    state.journal_version = JOURNAL_VERSION
    return state


def compact(state: FileState, lock: StoreLock | None) -> FileState:
    """Write the state as snapshot generation+1, then start that generation's journal.

    A crash before the snapshot's rename leaves the old snapshot and journal; after it, the
    new snapshot with the old journal, which it names as the one it folded in, so opening
    ignores it. Either is complete. ``lock`` (held) moves to the new snapshot.
    """
    if state.journal_fd is None or state.stale_journal:  # so that the journal on disk is one the new snapshot can name
        if state.journal_id is None:  # a version-1 snapshot names none
            state.journal_id = new_journal_id()
        start_journal(state)
    generation, journal_id = state.generation + 1, new_journal_id()
    folded = state.journal_id if state.journal_fd is not None and not state.stale_journal else None
    crash_point("begin")
    remove_stale_temporaries(state.path)
    fd = replace_atomically(
        state.path,
        encode_snapshot(state.store, generation, journal_id, folded),
        permissions=Permissions.of(state.snapshot_fd) if state.snapshot_fd is not None else Permissions(),
        before_rename=lambda: crash_point("snapshot written"),
        lock=lock,
    )
    crash_point("snapshot replaced")
    if state.snapshot_fd is not None:
        os.close(state.snapshot_fd)
    snapshot = os.fstat(fd)
    state.snapshot_fd, state.snapshot_id, state.snapshot_size = fd, _identity(snapshot), snapshot.st_size
    state.generation, state.snapshot_version, state.stale_journal = generation, VERSION, True
    state.journal_id, state.folded_id = journal_id, folded
    start_journal(state)
    crash_point("journal replaced")
    return state
