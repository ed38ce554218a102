"""Other users, for the tests of shared folders: created with ``useradd`` when running as root.

``run_as(user, function, *args)`` runs ``function`` in a forked process that has switched
to ``user`` (its groups included) and a umask: a real process of another user, not a
permission check mocked away. Everything ``function`` needs must be imported before (the
child may not read the interpreter's own folder). Its result, or the facts of the error it
raised, come back through a pipe.
"""

from __future__ import annotations

import grp
import multiprocessing
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

GROUP = "docstore-share"
MEMBERS = ("docstore-ann", "docstore-bob")
"""Two users in GROUP (a team sharing a folder)."""
OUTSIDER = "docstore-eve"
"""A user outside GROUP."""

ROOT_ONLY = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root, to create users with useradd and run processes as them (CI runs as root)",
)


def ensure_users() -> None:
    """GROUP, its two MEMBERS and the OUTSIDER, created once (they persist: tests run many times)."""
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        subprocess.run(["groupadd", "-f", GROUP], check=True, capture_output=True)
    for user in (*MEMBERS, OUTSIDER):
        try:
            pwd.getpwnam(user)
        except KeyError:
            extra = ["-G", GROUP] if user in MEMBERS else []
            command = ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", *extra, user]
            subprocess.run(command, check=True, capture_output=True)


def ids(user: str) -> tuple[int, int]:
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def group_id() -> int:
    return grp.getgrnam(GROUP).gr_gid


@contextmanager
def shared_folder(mode: int = 0o2770) -> Iterator[Path]:
    """A folder of GROUP's, setgid (new files get its group), outside root's private temporary folders."""
    ensure_users()
    folder = Path(tempfile.mkdtemp(prefix="docstore-shared-", dir="/tmp"))
    try:
        os.chown(folder, 0, group_id())
        os.chmod(folder, mode)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _as_user(user: str, umask: int, function: Callable[..., Any], args: tuple[Any, ...], results: Any) -> None:
    entry = pwd.getpwnam(user)
    groups = [g.gr_gid for g in grp.getgrall() if user in g.gr_mem]
    os.setgroups(groups)
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    os.umask(umask)
    try:
        results.send(("ok", function(*args)))
    except BaseException as exc:
        facts = {
            "type": type(exc).__name__,
            "message": str(exc),
            "path": getattr(exc, "path", None),
            "errno": getattr(exc, "errno", None),
            "classes": [cls.__name__ for cls in type(exc).__mro__],
        }
        results.send(("error", facts))


def run_as(user: str, function: Callable[..., Any], *args: Any, umask: int = 0o002) -> tuple[str, Any]:
    """``("ok", result)`` or ``("error", facts of the exception)`` of ``function(*args)`` run as ``user``."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_as_user, args=(user, umask, function, args, sender))
    process.start()
    try:
        assert receiver.poll(60), f"{function.__name__} as {user} did not answer"
        outcome: tuple[str, Any] = receiver.recv()
    finally:
        process.join(30)
    return outcome
