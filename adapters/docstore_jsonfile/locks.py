"""The store's lock, and who has the store open.

**The lock is the snapshot itself** (``filelock.lock_descriptor``: ``flock`` on Unix, on
a descriptor held open). A lock on a separate ``study.json.lock`` does not survive an
operator deleting that file while workers run: a process arriving after the deletion
creates a new lock file and locks it while another still holds the deleted one, and two
writers go in at once (acknowledged writes lost, a trial reserved twice). The snapshot
cannot be deleted or replaced that way without the store itself being gone (a loud
``StoreCorrupted``), and the engine replaces it only by compaction, under the lock: the
new snapshot is locked before it is renamed into place (:meth:`StoreLock.lock_new`), so
whoever holds the lock always holds the file at the path. After every acquisition the
locked descriptor is compared (device, inode) with the file at the path; if another
process compacted meanwhile, the lock is taken again on the new file. The kernel drops a
``flock`` when its holder dies, even by ``kill -9``, so a crashed process blocks no one.

Windows locks are mandatory (a locked snapshot could not be read by others): there the
lock is the separate ``study.json.lock``, which Windows does not let anyone delete while
it is open.

**Presence** is a shared ``flock`` on ``study.json.users``: see :class:`Presence`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import time
from collections.abc import Callable, Iterator

from docstore.errors import LockAcquisitionTimeout, StoreCorrupted, StoreFileError
from docstore_jsonfile.files import NOFOLLOW, Permissions, file_error, open_file

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

__all__ = ["SIDECAR", "Presence", "StoreLock", "legacy_lock", "lock_within"]

SIDECAR = os.name != "posix"
"""Whether the lock is a file of its own (Windows), rather than the snapshot."""
log = logging.getLogger(__name__)


def _poll(attempt: Callable[[], bool], timeout: float | None, what: str, waiting: Callable[[], None] | None) -> None:
    """Call ``attempt`` until it succeeds, with a short back-off; LockAcquisitionTimeout after ``timeout``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.0  # first just yield: the holder is usually about to release
    while not attempt():
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            raise LockAcquisitionTimeout(
                f"could not lock {what} within {timeout} s: another process holds it "
                "(raise lock_timeout, or find the process that keeps the store busy)",
                lock=what,
                timeout=timeout,
            )
        if waiting is not None:
            waiting()
        time.sleep(delay if deadline is None else max(0.0, min(delay, deadline - now)))
        # short waits: a sleeping poller loses the lock to any process that takes it again at once
        delay = min(delay * 2 or 0.00005, 0.001)


def lock_within(fd: int, timeout: float | None, what: str) -> None:
    """Lock the file ``fd`` (``what`` names it), waiting up to ``timeout`` seconds."""
    _poll(lambda: lock_descriptor(fd, blocking=False), timeout, what, None)


class StoreLock:
    """The store's inter-process lock: the snapshot's ``flock``, on a descriptor held open.

    ``acquire`` polls with a short back-off. A reader whose file system refuses the lock
    (an ``flock`` on a read-only descriptor over NFS) goes without: journal lines are
    framed, and a half-written one is never consumed.
    """

    def __init__(self, path: str, timeout: float | None, *, writable: bool) -> None:
        self.path = path + ".lock" if SIDECAR else path
        self.timeout = timeout
        self.writable = writable
        self.fd: int | None = None
        self._open()

    def _open(self) -> None:
        if SIDECAR:
            flags = (os.O_RDWR | os.O_CREAT) if self.writable else os.O_RDONLY
            try:
                self.fd = open_file(self.path, flags, "open the lock file")
            except OSError:
                if self.writable:
                    raise
                self.fd = None
            return
        self.fd = open_file(self.path, os.O_RDWR if self.writable else os.O_RDONLY, "open")

    def reopen(self) -> None:
        """After ``fork``: take a descriptor of our own (closing the inherited one keeps the parent's lock)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self._open()

    def acquire(self, waiting: Callable[[], None] | None = None) -> None:
        """Take the lock; ``waiting`` is called between polls (useful work while another holds it)."""
        if self.fd is None or (self._attempt() and self._still_at_path()):
            return
        _poll(lambda: self._attempt() and self._still_at_path(), self.timeout, self.path, waiting)

    def _attempt(self) -> bool:
        if self.fd is None:
            return True
        try:
            return lock_descriptor(self.fd, blocking=False)
        except OSError as exc:
            if self.writable:
                raise file_error(exc, self.path, "lock") from exc
            os.close(self.fd)  # a file system without locks for readers: framing is their guard
            self.fd = None
            return True

    def _still_at_path(self) -> bool:
        """Whether the file we locked is still the one at the path (another process may have compacted)."""
        if self.fd is None:
            return True
        try:
            found = os.lstat(self.path)
        except FileNotFoundError:
            found = None
        held = os.fstat(self.fd)
        if found is not None and found.st_ino == held.st_ino and found.st_dev == held.st_dev:
            return True
        unlock_descriptor(self.fd)
        if found is None and not SIDECAR:
            raise StoreCorrupted(
                f"the snapshot {self.path} has disappeared while the store was in use: restore it from a backup",
                path=self.path,
            )
        os.close(self.fd)
        self.fd = None
        self._open()
        return False

    def lock_new(self, fd: int) -> int | None:
        """Lock a new snapshot that nobody else can see yet (compaction, before its rename).

        Returns a descriptor of our own for it (the same open file, so the same lock), for
        :meth:`hand_over` once the file is at the path; the caller closes it if the rename fails.
        """
        if SIDECAR:
            return None
        if not lock_descriptor(fd, blocking=False):
            raise StoreFileError(f"cannot lock the new snapshot for {self.path}", path=self.path, operation="lock")
        return os.dup(fd)

    def hand_over(self, locked: int) -> None:
        """The new snapshot (``locked``, from :meth:`lock_new`) is at the path now: hold the lock through it."""
        old, self.fd = self.fd, locked
        if old is not None:
            unlock_descriptor(old)  # waiters on the old file find it replaced, and queue on the new one
            os.close(old)

    def release(self) -> None:
        if self.fd is not None:
            unlock_descriptor(self.fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __del__(self) -> None:  # an engine dropped without close: its lock's descriptor goes with it
        with contextlib.suppress(Exception):
            self.close()


@contextlib.contextmanager
def legacy_lock(path: str, timeout: float | None) -> Iterator[None]:
    """Hold the lock file older docstores use (``study.json.lock``) while their store is upgraded.

    An older process waits for it, then finds files in a format it does not read and stops
    with "upgrade docstore" instead of writing beside us. The file is removed before it is
    released: the upgraded store does not use it.
    """
    if SIDECAR:  # the store's own lock is that file already
        yield
        return
    lock_file = path + ".lock"
    fd = open_file(lock_file, os.O_RDWR | os.O_CREAT, "open the lock file of older docstores")
    try:
        lock_within(fd, timeout, lock_file)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.unlink(lock_file)
            unlock_descriptor(fd)
    finally:
        os.close(fd)


class Presence:
    """Whether other engines have the store open: a shared ``flock`` on ``study.json.users``.

    Each engine that may write holds a shared lock on that file while it is open. Closing,
    it drops its own and tries an exclusive one without waiting, which succeeds only if no
    other engine, in any process, still holds the store open. So the last one out compacts
    the journal into the snapshot on close, and a worker that finishes early does not make
    the others wait for a compaction, then reload the new snapshot (seconds, at 100,000
    trials). Two engines closing at once both drop their shared lock before probing, so one
    of them sees itself alone. Where ``flock`` is missing (Windows) or the file cannot be
    opened, every engine counts as alone, as if the file were not there: presence only
    decides when to compact, never whether a write is safe.
    """

    def __init__(self, path: str, permissions: Permissions) -> None:
        self.path = path
        self.permissions = permissions
        self.fd: int | None = None
        self._enter()

    def _open(self) -> int | None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | NOFOLLOW, self.permissions.create_mode)
        except FileExistsError:
            try:
                fd = os.open(self.path, os.O_RDWR | NOFOLLOW)
            except OSError as exc:  # a link planted there, or another user's file
                log.warning("docstore: %s", file_error(exc, self.path, "open"))
                return None
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                return None
            return fd
        except OSError:
            return None
        with contextlib.suppress(OSError):  # the file is ours and empty: its mode only decides who shares the count
            self.permissions.apply(fd, self.path)
        return fd

    def _enter(self) -> None:
        if _fcntl is None:
            return
        fd = self._open()
        if fd is None:
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

    def __del__(self) -> None:  # an engine dropped without close no longer counts as present
        with contextlib.suppress(Exception):
            self.forget()

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
