"""Creating a store: its journal first, claimed and locked, then its snapshot.

The journal is created with ``O_EXCL`` and locked while the snapshot is written, so the
snapshot never exists without the journal it names, and two processes creating the same
store at once make one store (the second waits on the journal's lock, then finds the
snapshot). A journal without a snapshot is the leftover of a creation that crashed only
if it holds no operation: it is then reused. Otherwise the snapshot was deleted or moved,
which is ``StoreCorrupted``. A creation that fails (a full disk) removes what it made.
"""

from __future__ import annotations

import contextlib
import os

from docstore.errors import StoreCorrupted
from docstore_jsonfile.codec import unframe
from docstore_jsonfile.files import (
    NOFOLLOW,
    Permissions,
    file_error,
    fsync_dir,
    open_file,
    read_all,
    replace_atomically,
    write_all,
)
from docstore_jsonfile.journal import header_line, new_journal_id
from docstore_jsonfile.locks import lock_within
from docstore_jsonfile.snapshot import encode_snapshot
from docstore_jsonfile.store import Store

__all__ = ["create_store"]

_BINARY = getattr(os, "O_BINARY", 0)


def create_store(path: str, permissions: Permissions, timeout: float | None) -> None:
    """A new, empty store at ``path``, or nothing if another process created it meanwhile."""
    journal = path + ".journal"
    while True:
        created = True
        try:
            fd = os.open(journal, os.O_RDWR | os.O_CREAT | os.O_EXCL | NOFOLLOW | _BINARY, permissions.create_mode)
        except FileExistsError:
            created = False
            fd = open_file(journal, os.O_RDWR, "open")
        except OSError as exc:
            raise file_error(exc, journal, "create") from exc
        try:
            lock_within(fd, timeout, journal)
            if _is_at(fd, journal):
                if not os.path.lexists(path):
                    _write_new_store(path, fd, permissions, reuse=not created)
                return
        except BaseException:
            if created and _is_at(fd, journal):
                with contextlib.suppress(OSError):
                    os.unlink(journal)  # ours, and no snapshot names it
            raise
        finally:
            os.close(fd)  # and with it the lock
        # the journal we waited on was removed or replaced meanwhile: start again


def _is_at(fd: int, path: str) -> bool:
    try:
        found, held = os.lstat(path), os.fstat(fd)
    except OSError:
        return False
    return (found.st_dev, found.st_ino) == (held.st_dev, held.st_ino)


def _write_new_store(path: str, fd: int, permissions: Permissions, *, reuse: bool) -> None:
    journal = path + ".journal"
    try:
        if reuse and _may_hold_writes(read_all(fd)):
            raise StoreCorrupted(
                f"the snapshot {path} is missing, but its journal {journal} is there and may hold writes: the "
                "snapshot was deleted or moved (a crash cannot cause this); restore it from a backup. Nothing was "
                "touched",
                path=path,
            )
        if not reuse:
            permissions.apply(fd, journal)
        journal_id = new_journal_id()
        os.ftruncate(fd, 0)
        write_all(fd, header_line(1, journal_id))
        os.fsync(fd)
    except OSError as exc:
        raise file_error(exc, journal, "write") from exc
    fsync_dir(os.path.dirname(path) or ".")  # the journal is there before the snapshot that names it
    os.close(replace_atomically(path, encode_snapshot(Store(), 1, journal_id, None), permissions=permissions))


def _may_hold_writes(journal: bytes) -> bool:
    """False for what a crashed creation leaves: nothing, a header cut short, or generation 1's header alone."""
    end = journal.find(b"\n")
    if end < 0:
        return False
    if end + 1 < len(journal):
        return True
    header = unframe(journal[:end])
    return header is None or header.get("gen") != 1
