"""Files: the store's lock, atomic replacement, and the syncs that make writes durable.

The lock is ``filelock``'s native OS lock (``flock`` on Unix, ``LockFileEx`` on Windows)
on ``study.json.lock``: the kernel drops it when its holder dies, even by ``kill -9``,
so a crashed process never blocks anyone. It is taken with
``filelock.lock_descriptor`` on a descriptor held open for the store's lifetime: the
same lock ``filelock.FileLock("study.json.lock")`` takes, so other tools interoperate,
at a few microseconds per acquisition instead of the ~90 us ``FileLock.acquire`` spends
reopening and re-checking the file every time (measured on this project's machine).
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable, Iterable

from docstore.errors import LockAcquisitionTimeout

try:
    from filelock import lock_descriptor, unlock_descriptor
except ImportError:  # pragma: no cover - filelock < 3.30: the same flock its UnixFileLock takes
    import fcntl

    def lock_descriptor(fd: int, *, blocking: bool = True, poll_interval: float = 0.05) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        return True

    def unlock_descriptor(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None  # type: ignore[assignment]

__all__ = [
    "FILE_MODE",
    "Presence",
    "StoreLock",
    "datasync",
    "fsync_dir",
    "read_all",
    "replace_atomically",
    "write_all",
]

FILE_MODE = 0o600
datasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync
_BINARY = getattr(os, "O_BINARY", 0)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte (``os.write`` may write fewer)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_all(fd: int, offset: int = 0) -> bytes:
    """Everything from ``offset`` to the end of the file, without moving the descriptor's position."""
    chunks: list[bytes] = []
    while True:
        chunk = os.pread(fd, 1 << 22, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


def fsync_dir(path: str) -> None:
    """Make a rename or a file creation in directory ``path`` durable (a no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


def replace_atomically(
    path: str, chunks: Iterable[bytes], *, append: bool = False, before_rename: Callable[[], None] | None = None
) -> int:
    """Write ``chunks`` to a temporary file next to ``path``, fsync it, rename it over ``path``.

    Returns a descriptor of the new file (read-write; appending if ``append``). A crash at
    any point leaves either the old file or the complete new one at ``path``; a leftover
    temporary file is overwritten by the next call. The caller holds the store's lock.
    """
    temporary = path + ".tmp"
    flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC | _BINARY | (os.O_APPEND if append else 0)
    fd = os.open(temporary, flags, FILE_MODE)
    try:
        for chunk in chunks:
            write_all(fd, chunk)
        os.fsync(fd)
        if before_rename is not None:
            before_rename()
        os.replace(temporary, path)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    fsync_dir(os.path.dirname(path) or ".")
    return fd


class StoreLock:
    """The store's inter-process lock, held open; ``acquire`` polls with a short back-off.

    Without write access to the lock file (a read-only store whose lock file is missing or
    not readable) there is nothing to lock: ``fd`` is None and readers go without, which is
    safe because journal lines are framed and a half-written one is never consumed.
    """

    def __init__(self, path: str, timeout: float | None, *, writable: bool) -> None:
        self.path = path
        self.timeout = timeout
        self.writable = writable
        self.fd: int | None = None
        self._open()

    def _open(self) -> None:
        flags = (os.O_RDWR | os.O_CREAT) if self.writable else os.O_RDONLY
        try:
            self.fd = os.open(self.path, flags, FILE_MODE)
        except OSError:
            if self.writable:
                raise
            self.fd = None

    def reopen(self) -> None:
        """After ``fork``: take a descriptor of our own (closing the inherited one keeps the parent's lock)."""
        if self.fd is not None:
            os.close(self.fd)
        self._open()

    def acquire(self, waiting: Callable[[], None] | None = None) -> None:
        """Take the lock, polling; ``waiting`` is called between polls (useful work while another holds it)."""
        if self.fd is None:
            return
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        delay = 0.0  # first just yield: the holder is usually about to release
        while self.fd is not None:
            if lock_descriptor(self.fd, blocking=False):
                if self._still_at_path():
                    return
                continue  # the file was removed or replaced: lock the one at the path now
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise LockAcquisitionTimeout(
                    f"could not lock {self.path} within {self.timeout} s: another process holds it "
                    "(raise lock_timeout, or find the process that keeps the store busy)",
                    lock=self.path,
                    timeout=self.timeout,
                )
            if waiting is not None:
                waiting()
            time.sleep(delay if deadline is None else min(delay, deadline - now))
            # short waits: a sleeping poller loses the lock to any process that takes it again at once
            delay = min(delay * 2 or 0.00005, 0.001)

    def _still_at_path(self) -> bool:
        """Whether our locked descriptor is still the file at the path (someone may have deleted it)."""
        assert self.fd is not None
        try:
            same = os.stat(self.path).st_ino == os.fstat(self.fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            unlock_descriptor(self.fd)
            os.close(self.fd)
            self._open()
        return same

    def release(self) -> None:
        if self.fd is not None:
            unlock_descriptor(self.fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class Presence:
    """Whether other engines have the store open: a shared ``flock`` on ``study.json.users``.

    Each engine that may write holds a shared lock on that file while it is open. Closing,
    it drops its own and tries an exclusive one without waiting, which succeeds only if no
    other engine, in any process, still holds the store open. So the last one out compacts
    the journal into the snapshot on close, and a worker that finishes early does not make
    the others wait for a compaction, then reload the new snapshot (seconds, at 100,000
    trials). Two engines closing at once both drop their shared lock before probing, so one
    of them sees itself alone. Where ``flock`` is missing (Windows) or the file cannot be
    opened, every engine counts as alone, as if the file were not there.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None
        self._enter()

    def _enter(self) -> None:
        if _fcntl is None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _BINARY, FILE_MODE)
        except OSError:
            return
        try:
            _fcntl.flock(fd, _fcntl.LOCK_SH)  # an exclusive holder is a closer probing, for microseconds
        except OSError:
            os.close(fd)
            return
        self.fd = fd

    def reopen(self) -> None:
        """After ``fork``: the inherited descriptor shares the parent's lock; take one of our own."""
        if self.fd is not None:
            os.close(self.fd)  # the parent's descriptor keeps the parent's shared lock
            self.fd = None
        self._enter()

    def forget(self) -> None:
        """In a forked child that never used the store: close the inherited descriptor, leave the lock to the parent."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def leave(self) -> bool:
        """Drop this engine's presence; True if no other engine has the store open now."""
        fd, self.fd = self.fd, None
        if fd is None or _fcntl is None:
            return True
        try:
            _fcntl.flock(fd, _fcntl.LOCK_UN)
            try:
                _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            _fcntl.flock(fd, _fcntl.LOCK_UN)
            return True
        finally:
            os.close(fd)
