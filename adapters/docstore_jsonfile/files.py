"""Files: opening without following links, atomic replacement, permissions, and OS errors named.

Stores often live in folders other users can write to (a group's shared folder). So every
file the engine creates or opens for writing is opened with ``O_NOFOLLOW`` (a planted
symbolic link is refused, never written through), and temporary files are created under
unpredictable names with ``O_EXCL`` (a planted file or link of that name cannot exist).
A file that replaces another keeps its mode and group (and its owner, when root writes),
so one user's compaction does not lock the group out of a shared store.

Every ``OSError`` leaves this package as a :class:`~docstore.errors.StoreFileError` that
names the file, the operation and what to do (``No space left on device`` alone does not
say which file, nor that nothing acknowledged was lost).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from docstore.errors import (
    DocstoreError,
    StoreFileError,
    StoreFileNotFound,
    StoreIsADirectory,
    StorePermissionError,
)

if TYPE_CHECKING:
    from docstore_jsonfile.locks import StoreLock

__all__ = [
    "FILE_MODE",
    "Permissions",
    "check_store_path",
    "datasync",
    "file_error",
    "fsync_dir",
    "open_file",
    "read_all",
    "read_only_reason",
    "remove_stale_temporaries",
    "replace_atomically",
    "write_all",
]

FILE_MODE = 0o600
GROUP_MODE = 0o660
datasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_TEMPORARY_SUFFIX = ".tmp"
_STALE_TEMPORARY_SECONDS = 3600.0
log = logging.getLogger(__name__)

_SPACE = "the disk is full: free some space, then retry (every acknowledged write is safe)"
_PERMISSION = (
    "check the permissions of the file and of its folder (ls -l); a store shared by a group needs "
    "group-writable files in a setgid folder (docs/jsonfile-format.md)"
)
_ADVICE = {
    errno.ENOSPC: _SPACE,
    errno.EDQUOT: "the disk quota is exhausted: free some space, then retry (every acknowledged write is safe)",
    errno.EFBIG: "the file would exceed this process's file size limit (ulimit -f)",
    errno.EACCES: _PERMISSION,
    errno.EPERM: _PERMISSION,
    errno.EROFS: "the file system is read-only: open the store with read_only=true",
    errno.EISDIR: "it is a folder: name a file, such as FOLDER/study.json",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.ELOOP: "it is a symbolic link, which docstore does not follow: use the path it points to",
    errno.ENOENT: "it does not exist",
    errno.EIO: "the disk reported an input/output error: check it before going on",
}


def file_error(exc: OSError, path: str, operation: str) -> OSError:
    """``exc`` as a StoreFileError naming ``path`` and ``operation``.

    A docstore error that is also an OSError (a lock's time-out, a read-only store, a
    StoreFileError named further down) is returned as it is.
    """
    if isinstance(exc, DocstoreError):
        return exc
    kind: type[StoreFileError] = StoreFileError
    if isinstance(exc, PermissionError):
        kind = StorePermissionError
    elif isinstance(exc, FileNotFoundError):
        kind = StoreFileNotFound
    elif isinstance(exc, IsADirectoryError):
        kind = StoreIsADirectory
    reason = exc.strerror or str(exc) or type(exc).__name__
    advice = _ADVICE.get(exc.errno or 0)
    message = f"cannot {operation} {path}: {reason}" + (f" ({advice})" if advice else "")
    return kind(message, path=path, operation=operation, errno=exc.errno, strerror=exc.strerror or "")


def open_file(path: str, flags: int, operation: str, mode: int = FILE_MODE) -> int:
    """``os.open`` that never follows a symbolic link at ``path`` and names the file in its errors."""
    try:
        return os.open(path, flags | NOFOLLOW | _BINARY, mode)
    except OSError as exc:
        raise file_error(exc, path, operation) from exc


def check_store_path(path: str) -> bool:
    """Whether a store exists at ``path``; raises if ``path`` cannot be one (a folder, a link, no folder)."""
    folder = os.path.dirname(path)
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        if not os.path.isdir(folder):
            raise StoreFileNotFound(
                f"cannot open the store {path}: the folder {folder} does not exist",
                path=path,
                operation="open",
                errno=errno.ENOENT,
            ) from None
        return False
    except OSError as exc:
        raise file_error(exc, path, "open the store") from exc
    if stat.S_ISLNK(found.st_mode):
        target = os.path.realpath(path)
        raise StoreFileError(
            f"the store {path} is a symbolic link (to {target}): docstore does not follow links, since it "
            f"rewrites a store's files and keeps its journal beside it; open {target} itself",
            path=path,
            operation="open",
            errno=errno.ELOOP,
        )
    if stat.S_ISDIR(found.st_mode):
        raise StoreIsADirectory(
            f"the store {path} is a folder: name a file in it, such as {os.path.join(path, 'study.json')}",
            path=path,
            operation="open",
            errno=errno.EISDIR,
        )
    if not stat.S_ISREG(found.st_mode):
        raise StoreFileError(f"the store {path} is not a regular file", path=path, operation="open")
    return True


def read_only_reason(path: str, requested: bool) -> str | None:
    """Why the store cannot be written, or None. Root ignores permissions: look at the mode bits too."""
    if requested:
        return "it was opened with read_only=True"
    for target in (path, path + ".journal"):
        if os.path.exists(target):
            mode = os.stat(target).st_mode
            if not mode & 0o222 or not os.access(target, os.W_OK):
                return f"{target} has no write permission"
    folder = os.path.dirname(path)
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"its folder {folder} is not writable"
    return None


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
            raise file_error(exc, path, "sync the folder") from exc
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Permissions:
    """The mode (and owner and group, where they can be kept) of a file the engine writes.

    ``exact``: set the mode as it is (a file being replaced, an explicit ``file_mode``);
    otherwise it is the mode asked of ``open``, which the process's umask narrows (a new
    store). ``uid``/``gid`` -1 mean "whatever the new file gets".
    """

    mode: int = FILE_MODE
    uid: int = -1
    gid: int = -1
    exact: bool = False

    @classmethod
    def of(cls, fd: int) -> Permissions:
        """Those of the open file ``fd``: what a file replacing it keeps."""
        found = os.fstat(fd)
        return cls(stat.S_IMODE(found.st_mode) & 0o777, found.st_uid, found.st_gid, exact=True)

    @classmethod
    def for_new_store(cls, folder: str, file_mode: int | None) -> Permissions:
        """A new store's: ``file_mode`` if given; group read-write in a setgid folder (a folder
        meant to be shared by its group, which new files inherit), narrowed by the umask; else 0600."""
        if file_mode is not None:
            return cls(file_mode, exact=True)
        try:
            shared = bool(os.stat(folder).st_mode & stat.S_ISGID)
        except OSError:
            shared = False
        return cls(GROUP_MODE if shared else FILE_MODE)

    @property
    def create_mode(self) -> int:
        """The mode to create a file with: never wider than the final one while it is being written."""
        return self.mode if not self.exact else self.mode & FILE_MODE

    def apply(self, fd: int, path: str) -> None:
        """Give the file ``fd`` (just created, at ``path``) these permissions."""
        if not self.exact:
            return
        mode = self.mode
        current = os.fstat(fd)
        gid = self.gid if self.gid not in (-1, current.st_gid) else -1
        uid = self.uid if self.uid not in (-1, current.st_uid) and _is_root() else -1  # only root gives files away
        if uid != -1 or gid != -1:
            try:
                os.fchown(fd, uid, gid)
            except PermissionError:
                # Not a member of the old file's group: the group's bits must not go to ours.
                mode = (mode & ~0o070) | ((mode & 0o007) << 3)
                log.warning(
                    "docstore: %s could not keep group %d (this user is not a member): group access narrowed",
                    path,
                    self.gid,
                )
        os.fchmod(fd, mode)


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _create_temporary(path: str, permissions: Permissions, append: bool) -> tuple[int, str]:
    """A new file next to ``path``, under a name nobody can guess, that did not exist before."""
    folder, name = os.path.split(path)
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | (os.O_APPEND if append else 0)
    for _ in range(16):
        temporary = os.path.join(folder, f".{name}.{os.urandom(8).hex()}{_TEMPORARY_SUFFIX}")
        try:
            return os.open(temporary, flags | NOFOLLOW | _BINARY, permissions.create_mode), temporary
        except FileExistsError:
            continue
        except OSError as exc:
            raise file_error(exc, path, "create a temporary file next to") from exc
    raise StoreFileError(f"cannot create a temporary file next to {path}: every name tried exists", path=path)


def replace_atomically(
    path: str,
    chunks: Iterable[bytes],
    *,
    permissions: Permissions,
    append: bool = False,
    before_rename: Callable[[], None] | None = None,
    lock: StoreLock | None = None,
) -> int:
    """Write ``chunks`` to a new temporary file next to ``path``, fsync it, rename it over ``path``.

    Returns a descriptor of the new file (read-write; appending if ``append``). A crash at
    any point leaves either the old file or the complete new one at ``path``; a failure
    leaves no temporary file behind. With ``lock``, the new file is locked before it
    appears at ``path`` and becomes the lock's file: the store's lock travels with it.
    """
    fd, temporary = _create_temporary(path, permissions, append)
    operation = "write"
    locked: int | None = None
    try:
        for chunk in chunks:
            write_all(fd, chunk)
        operation = "set the permissions of"
        permissions.apply(fd, path)
        operation = "sync"
        os.fsync(fd)
        if lock is not None:
            operation = "lock"
            locked = lock.lock_new(fd)
        if before_rename is not None:
            before_rename()
        operation = "replace"
        os.replace(temporary, path)
    except BaseException as exc:
        for descriptor in (fd, locked):
            if descriptor is not None:
                os.close(descriptor)
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise file_error(exc, path, operation) from exc
        raise
    if lock is not None and locked is not None:
        lock.hand_over(locked)
    try:
        fsync_dir(os.path.dirname(path) or ".")
    except BaseException:
        os.close(fd)
        raise
    return fd


def remove_stale_temporaries(path: str) -> None:
    """Remove this store's temporary files that a killed process left behind, an hour old or more.

    Only files this user owns, named as :func:`replace_atomically` names them; a younger one
    may be another process's work in progress.
    """
    folder, name = os.path.split(path)
    prefix = f".{name}."
    try:
        names = [entry for entry in os.listdir(folder or ".") if entry.startswith(prefix)]
    except OSError:
        return
    now = time.time()
    for entry in names:
        if not entry.endswith(_TEMPORARY_SUFFIX):
            continue
        where = os.path.join(folder, entry)
        with contextlib.suppress(OSError):
            found = os.lstat(where)
            mine = not hasattr(os, "geteuid") or found.st_uid == os.geteuid()
            if stat.S_ISREG(found.st_mode) and mine and now - found.st_mtime > _STALE_TEMPORARY_SECONDS:
                os.unlink(where)
