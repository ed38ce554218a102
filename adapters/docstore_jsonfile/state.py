"""One process's view of a store's files: what it loaded, and how far into the journal it has read.

Every function here runs with the store's lock held (or, for a store this process may not
lock, with framing as the only guard). Another process's compaction shows as a snapshot
or journal that is no longer the file this process holds open; holding them open also
keeps their inode numbers from being reused, so comparing identities is exact.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from docstore.errors import StoreCorrupted
from docstore_jsonfile.files import read_all, replace_atomically, write_all
from docstore_jsonfile.journal import JOURNAL_VERSION, header_line, operation_line, read_header, scan
from docstore_jsonfile.snapshot import decode_snapshot, encode_snapshot
from docstore_jsonfile.store import Effect, Store

__all__ = ["FileState", "compact", "load", "start_journal"]


def _no_crash(step: str) -> None:
    """Tests replace this to simulate a crash between the steps of compaction."""


crash_point: Callable[[str], None] = _no_crash


@dataclass(eq=False)
class FileState:
    path: str
    store: Store = field(default_factory=Store)
    generation: int = 0
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
    journal_version: int = 2
    """The journal's format version (a version-1 journal gets no ``set`` lines)."""
    stale_journal: bool = False
    """The journal is the previous generation's (compaction stopped between its two renames)."""

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
            return load(self.path, writable=writable, create=False)
        try:
            journal = os.stat(self.journal_path)
        except FileNotFoundError:
            raise StoreCorrupted(f"the journal {self.journal_path} has disappeared", path=self.journal_path) from None
        if journal.st_ino != self.journal_ino or journal.st_size < self.offset:
            return load(self.path, writable=writable, create=False)
        if self.stale_journal:
            return self
        data = read_all(self.journal_fd, self.offset)
        batches: list[list[Effect]] = []
        consumed, lines, torn = scan(
            data, path=self.journal_path, generation=self.generation, line=self.lines, apply=batches.append
        )
        self._apply(batches)
        self.offset += consumed
        self.lines, self.torn = lines, torn
        return self

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
            consumed, lines, _torn = scan(
                data[:end], path=self.journal_path, generation=self.generation, line=self.lines, apply=batches.append
            )
            self._apply(batches)
        except StoreCorrupted:
            return  # the locked catch-up (a reload, if memory was touched) finds the same damage and reports it
        self.offset += consumed
        self.lines = lines

    def append(self, effects: list[Effect]) -> None:
        """Append one operation's line and apply it in memory (the caller syncs)."""
        assert self.journal_fd is not None
        line = operation_line(self.generation, effects, self.store if self.journal_version >= 2 else None)
        if self.torn:
            os.ftruncate(self.journal_fd, self.offset)
            self.torn = False
        try:
            write_all(self.journal_fd, line)
        except BaseException:
            try:  # leave no partial line of ours behind
                os.ftruncate(self.journal_fd, self.offset)
            except OSError:
                self.snapshot_id = None  # whatever is there, reload before the next operation
            raise
        self.offset += len(line)
        self.lines += 1
        try:
            self.store.apply(effects)
        except BaseException:
            self.snapshot_id = None  # memory may be half-changed: reload from the files next time
            raise

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


def _identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _create(path: str) -> None:
    """A new, empty store: snapshot first, then its journal (a crash in between leaves a valid store)."""
    os.close(replace_atomically(path, encode_snapshot(Store(), 1)))
    os.close(replace_atomically(path + ".journal", [header_line(1)], append=True))


def load(path: str, *, writable: bool, create: bool) -> FileState:
    """Read the snapshot and replay its journal. Raises StoreCorrupted, touching nothing."""
    if create and writable and not os.path.exists(path):
        _create(path)
    state = FileState(path)
    try:
        state.snapshot_fd = os.open(path, os.O_RDONLY)
        snapshot = os.fstat(state.snapshot_fd)
        state.snapshot_id, state.snapshot_size = _identity(snapshot), snapshot.st_size
        state.store, state.generation = decode_snapshot(read_all(state.snapshot_fd), path)
        try:
            state.journal_fd = os.open(state.journal_path, (os.O_RDWR | os.O_APPEND) if writable else os.O_RDONLY)
        except FileNotFoundError:
            return state
        state.journal_ino = os.fstat(state.journal_fd).st_ino
        _replay(state, read_all(state.journal_fd))
    except BaseException:
        state.close()
        raise
    return state


def _replay(state: FileState, data: bytes) -> None:
    state.offset = len(data)
    if not data:
        state.stale_journal = True  # nothing in it, and no header: the next writer starts it afresh
        return
    generation, state.header_size, state.journal_version = read_header(data, state.journal_path)
    if generation == state.generation - 1:
        state.stale_journal = True
        return
    if generation != state.generation:
        raise StoreCorrupted(
            f"the journal {state.journal_path} is generation {generation} but the snapshot {state.path} is "
            f"generation {state.generation}: they do not belong together; both were left untouched",
            path=state.journal_path,
            line=1,
        )
    consumed, state.lines, state.torn = scan(
        data[state.header_size :],
        path=state.journal_path,
        generation=generation,
        line=1,
        apply=state.store.apply,
    )
    state.offset = state.header_size + consumed


def start_journal(state: FileState) -> FileState:
    """Replace the journal by an empty one of the snapshot's generation."""
    fd = replace_atomically(
        state.journal_path,
        [header_line(state.generation)],
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


def compact(state: FileState) -> FileState:
    """Write the state as snapshot generation+1, then start that generation's journal.

    A crash before the snapshot's rename leaves the old snapshot and journal; after it, the
    new snapshot with the old journal, which the generation rule ignores. Either is complete.
    """
    generation = state.generation + 1
    crash_point("begin")
    fd = replace_atomically(
        state.path, encode_snapshot(state.store, generation), before_rename=lambda: crash_point("snapshot written")
    )
    crash_point("snapshot replaced")
    if state.snapshot_fd is not None:
        os.close(state.snapshot_fd)
    snapshot = os.fstat(fd)
    state.snapshot_fd, state.snapshot_id, state.snapshot_size = fd, _identity(snapshot), snapshot.st_size
    state.generation, state.stale_journal = generation, True
    start_journal(state)
    crash_point("journal replaced")
    return state
