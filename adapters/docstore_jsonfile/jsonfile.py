"""The locked JSON file engine: a snapshot, a journal of effects, a lock.

A write: take the lock; catch up with what other processes appended to the journal since
this one last looked (or reload, if one of them compacted); plan the operation against
that state (if it fails, nothing changed); append one line; apply it in memory; release;
then ``fdatasync`` and acknowledge. Syncing after the release is *group commit*: one
``fdatasync`` makes every byte written before it durable, so writers in other processes
append while this one waits on the disk, and each acknowledgement still implies every
earlier line is durable. A read takes the lock only to catch up.

The last engine out, in any process, folds the journal into the snapshot: on ``close``,
and when its process exits without closing (``atexit``; in a ``multiprocessing`` worker,
its exit hooks), so that after a run ``study.json`` alone is the whole store.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl

from docstore.engine import Capabilities
from docstore.errors import (
    InvalidDocument,
    InvalidOperation,
    InvalidURI,
    LockAcquisitionTimeout,
    ReadOnlyError,
    StoreCorrupted,
    StoreFileError,
    StoreFileNotFound,
)
from docstore_jsonfile.check import check_store, compare_stores
from docstore_jsonfile.creation import create_store
from docstore_jsonfile.engine import StoreEngine
from docstore_jsonfile.files import Permissions, check_store_path, datasync, file_error, read_only_reason
from docstore_jsonfile.locks import Presence, StoreLock, legacy_lock
from docstore_jsonfile.options import Options, parse_options
from docstore_jsonfile.planner import Plan
from docstore_jsonfile.snapshot import META_TABLE
from docstore_jsonfile.state import FileState, compact, load, needs_upgrade, start_journal
from docstore_jsonfile.store import Store

if TYPE_CHECKING:
    from docstore.uri import ParsedURI

__all__ = ["JsonFileEngine"]

T = TypeVar("T")
log = logging.getLogger(__name__)
_open_engines: weakref.WeakSet[JsonFileEngine] = weakref.WeakSet()


_abandoned: set[str] = set()
"""Stores that an engine of this process wrote to, then dropped without closing: folded at exit."""
_hooked_pid = 0


def _after_fork_in_child() -> None:
    for engine in list(_open_engines):
        engine._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@atexit.register
def _close_at_exit() -> None:
    """Close what this process left open, so that the last process out folds the journal in."""
    for engine in list(_open_engines):
        try:
            engine.close()
        except Exception as exc:  # the journal keeps every change; the next process out may fold it
            log.warning("docstore: closing %s at exit failed: %s", engine.path, exc)
    still_open = {engine.path for engine in _open_engines}
    for path in sorted(_abandoned - still_open):
        _abandoned.discard(path)
        try:
            JsonFileEngine._fold_if_last(path)
        except Exception as exc:
            log.warning("docstore: could not fold the journal of %s at exit: %s", path, exc)


def _register_exit_hooks() -> None:
    """In a ``multiprocessing`` worker, which ends with ``os._exit`` (no ``atexit``): its own exit hooks too."""
    global _hooked_pid
    pid = os.getpid()
    if _hooked_pid == pid:
        return
    _hooked_pid = pid
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.Finalize(None, _close_at_exit, exitpriority=10)


def _remember_abandoned(path: str) -> None:
    _abandoned.add(path)


class JsonFileEngine(StoreEngine):
    """``study.json``, ``json:///abs/study.json``, ``json://relative/study.json``."""

    capabilities = Capabilities(
        persistent=True,
        multi_process=True,
        atomic_multi_update=True,
        description="a JSON snapshot (TinyDB format) plus an fdatasync'ed journal, under a file lock",
    )

    def __init__(self, path: str, *, uri: str | None = None, options: Options | None = None) -> None:
        self.options = options or Options()
        self.path = os.path.abspath(path)
        self.uri = uri or path
        exists = check_store_path(self.path)
        self.read_only_reason = read_only_reason(self.path, self.options.read_only)
        writable = self.read_only_reason is None
        if not exists:
            if not writable:
                raise StoreFileNotFound(
                    f"no store at {self.path} to open read-only ({self.read_only_reason})", path=self.path
                )
            permissions = Permissions.for_new_store(os.path.dirname(self.path), self.options.file_mode)
            create_store(self.path, permissions, self.options.lock_timeout)
        self._mutex = threading.RLock()
        self._lock = StoreLock(self.path, self.options.lock_timeout, writable=writable)
        self._presence: Presence | None = None
        self._wrote = self._saw_writes = False
        self._on_drop: weakref.finalize[[str], JsonFileEngine] | None = None
        self._compaction_failed_at = -(1 << 62)
        self._closed = False
        self._fork_pending = False
        self._state = FileState.unloaded(self.path)
        try:
            with self._locked():
                self._state = load(self.path, writable=writable)
        except BaseException:
            self._lock.close()
            raise
        if writable and self.options.compact_on_close and self._state.snapshot_fd is not None:
            self._presence = Presence(self.path + ".users", Permissions.of(self._state.snapshot_fd))
        _open_engines.add(self)
        _register_exit_hooks()

    @classmethod
    def from_uri(cls, parsed: ParsedURI, **options: Any) -> JsonFileEngine:
        uri = parsed.redacted
        path, from_uri = parsed.location, dict(parsed.options)
        if "://" not in parsed.raw and "?" in path:  # a plain path with options: study.json?durable=false
            path, _, query = path.partition("?")
            from_uri = dict(parse_qsl(query, keep_blank_values=True))
        if not path.strip():
            raise InvalidURI(f"the URI {uri!r} names no file: give a path such as study.json", uri=uri)
        return cls(path, uri=uri, options=parse_options(from_uri, options, uri=uri))

    # -- locking and catching up -------------------------------------------------------
    def _locked(self) -> _Held:
        """``with``: hold the store's lock; while another process holds it, catch up with its writes."""
        state = self._usable()  # after a fork, drop the parent's lock descriptor before locking anything
        state.prefetch()  # most of the catching up, before the lock
        return _Held(self._lock, state.prefetch)

    def _forked(self) -> None:
        self._mutex = threading.RLock()
        self._fork_pending = True

    def _usable(self) -> FileState:
        if self._closed:
            raise InvalidOperation(f"the store {self.path} is closed", operator="closed")
        if self._fork_pending:  # the parent's descriptors and lock are the parent's
            self._lock.reopen()
            if self._presence is not None:
                self._presence.reopen()
            self._state.close()
            self._state = FileState.unloaded(self.path)
            self._fork_pending = False
            _register_exit_hooks()
        return self._state

    def _catch_up(self) -> FileState:
        """Bring the state up to date with the files; the lock is held."""
        state = self._usable()
        try:
            if state.is_current():
                return state
            self._saw_writes = True
            fresh = state.follow(writable=self.read_only_reason is None)
        except OSError as exc:  # a folder whose permissions changed, a disk that fails
            raise file_error(exc, exc.filename if isinstance(exc.filename, str) else self.path, "read") from exc
        if fresh is not state:
            state.close()
            self._state = fresh
        return fresh

    def _read(self, query: Callable[[Store], T]) -> T:
        with self._mutex:
            with self._locked():
                state = self._catch_up()
            return query(state.store)

    def _write(self, change: Callable[[Store], Plan]) -> Plan:
        with self._mutex:
            if self.read_only_reason is not None:
                raise ReadOnlyError(
                    f"cannot write to the store {self.path}: it is read-only ({self.read_only_reason})", path=self.path
                )
            with self._locked():
                state = self._catch_up()
                plan = change(state.store)
                if not plan.effects:
                    return plan
                if needs_upgrade(state):
                    state = self._compact(state)  # never a line of ours in an older format
                if state.journal_fd is None or state.stale_journal:
                    state = self._state = start_journal(state)
                state.append(plan.effects)
                self._note_write()
                if self._compaction_due(state) and self._compact_quietly(state):
                    return plan  # the new snapshot was fsynced: the change is durable
            if self.options.durable and state.journal_fd is not None:
                try:
                    datasync(state.journal_fd)
                except OSError as exc:
                    # after a failed sync the kernel may have dropped the data: trust the files, not memory
                    state.snapshot_id = None
                    raise file_error(exc, state.journal_path, "sync (the write may not have reached the disk)") from exc
            return plan

    def _note_write(self) -> None:
        if not self._wrote:
            self._wrote = True
            if self._presence is not None:  # dropped without close: its process folds the journal at exit
                self._on_drop = weakref.finalize(self, _remember_abandoned, self.path)
                self._on_drop.atexit = False

    def _compact(self, state: FileState) -> FileState:
        """Compact (the lock is held); a store in an older format is upgraded under older docstores' lock too."""
        if needs_upgrade(state):
            with legacy_lock(self.path, self.options.lock_timeout):
                state = self._catch_up()  # what an older process wrote before we had its lock
                self._state = compact(state, self._lock)
        else:
            self._state = compact(state, self._lock)
        return self._state

    def _compaction_due(self, state: FileState) -> bool:
        journal = state.offset
        return (
            journal > self.options.compact_min_bytes
            and journal > self.options.compact_ratio * state.snapshot_size
            and journal > self._compaction_failed_at + self.options.compact_min_bytes
        )

    def _compact_quietly(self, state: FileState) -> bool:
        """Automatic compaction: the operation it follows is in the journal already, so a failure
        (a full disk) is logged, not raised, and not retried before the journal grows some more."""
        try:
            self._compact(state)
        except OSError as exc:
            self._compaction_failed_at = state.offset
            log.warning("docstore: could not compact %s (%s); its journal keeps every change", self.path, exc)
            return False
        self._compaction_failed_at = -(1 << 62)
        return True

    def _checked_name(self, collection: str) -> str:
        if collection == META_TABLE:
            raise InvalidDocument(f"{META_TABLE!r} is reserved for the store's own metadata", path=collection)
        return collection

    # -- maintenance -----------------------------------------------------------------
    def compact(self) -> None:
        """Fold the journal into a new snapshot now (the same steps as automatic compaction)."""
        with self._mutex:
            if self.read_only_reason is not None:
                raise ReadOnlyError(
                    f"cannot compact {self.path}: it is read-only ({self.read_only_reason})", path=self.path
                )
            with self._locked():
                self._compact(self._catch_up())

    def check(self) -> list[str]:
        """Findings about the in-memory state and the files (journal generation, equality). Repairs nothing."""
        with self._mutex:
            with self._locked():
                state = self._catch_up()
                findings = check_store(state.store)
                try:
                    on_disk = load(self.path, writable=False)
                except (StoreCorrupted, StoreFileError) as exc:
                    return [*findings, f"the files cannot be loaded: {exc}"]
                try:
                    findings.extend(on_disk.generation_findings(state))
                    findings.extend(compare_stores(state.store, on_disk.store))
                finally:
                    on_disk.close()
            return findings

    def close(self) -> None:
        with self._mutex:
            if self._closed:
                return
            try:
                alone = False
                if self._presence is not None and self._fork_pending:
                    self._presence.forget()
                elif self._presence is not None:
                    alone = self._presence.leave()
                others_wrote = self._saw_writes or self._state.prefetched
                if alone and not self._fork_pending and (self._wrote or others_wrote):
                    self._compact_on_close()  # the last engine out folds the journal in
            finally:
                self._closed = True
                if self._on_drop is not None:
                    self._on_drop.detach()
                self._state.close()
                self._state = FileState.unloaded(self.path)  # let the documents go, even if we are kept
                self._lock.close()
                _open_engines.discard(self)

    @classmethod
    def _fold_if_last(cls, path: str) -> None:
        """At exit, for a store an engine wrote then dropped unclosed: fold its journal if no one has it open."""
        if not os.path.exists(path):
            return
        engine = cls(path)
        engine._wrote = True
        engine.close()

    def _compact_on_close(self) -> None:
        try:
            with self._locked():
                state = self._catch_up()
                if state.has_operations():
                    self._compact(state)
        except (LockAcquisitionTimeout, OSError) as exc:  # the journal still holds everything
            log.warning("docstore: could not compact %s on close (%s); its journal keeps every change", self.path, exc)


class _Held:
    """``with``: hold the store's file lock (``waiting`` is called between polls for it)."""

    __slots__ = ("lock", "waiting")

    def __init__(self, lock: StoreLock, waiting: Callable[[], None]) -> None:
        self.lock = lock
        self.waiting = waiting

    def __enter__(self) -> None:
        self.lock.acquire(self.waiting)

    def __exit__(self, *exc: object) -> None:
        self.lock.release()
