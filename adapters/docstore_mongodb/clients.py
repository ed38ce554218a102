"""One ``MongoClient`` per process per URI, shared by every engine that opens that URI.

A MongoClient owns sockets and monitor threads; it is meant to be created once and
shared. The cache is keyed by the raw URI (and the client options), counts its users,
and closes a client when its last user closes (or at exit, if a user never did). A forked child never touches a client
its parent created (pymongo forbids it: the sockets are shared with the parent): the
child starts with an empty cache and opens its own clients. The parent's client objects
are kept referenced in the child, never closed nor garbage-collected there, because
closing or collecting them would talk over, or warn about, sockets the parent owns.
"""

from __future__ import annotations

import atexit
import datetime as _dt
import os
import threading
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from bson.codec_options import TypeDecoder, TypeRegistry
from bson.int64 import Int64
from pymongo import MongoClient

__all__ = ["acquire", "client_options", "locked", "open_clients", "release"]

DEFAULT_SERVER_SELECTION_TIMEOUT_MS = 5000


class _Int64AsInt(TypeDecoder):
    """BSON int64 values come back as plain ``int`` (docstore's canonical integers), not ``Int64``."""

    bson_type = Int64

    def transform_bson(self, value: Any) -> Any:
        return int(value)


CANONICAL_TYPES = TypeRegistry([_Int64AsInt()])  # one instance: client options are cache keys


@dataclass
class _Shared:
    client: MongoClient[dict[str, Any]]
    pid: int
    users: int = 0


_lock = threading.RLock()
_clients: dict[Hashable, _Shared] = {}
_inherited: list[MongoClient[dict[str, Any]]] = []  # see the module docstring


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.RLock()  # another thread may have held it at fork time
    _inherited.extend(shared.client for shared in _clients.values())
    _clients.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@atexit.register
def _close_at_exit() -> None:
    """Close this process's clients that callers left open, before the interpreter tears down."""
    with _lock:
        mine = [shared.client for shared in _clients.values() if shared.pid == os.getpid()]
        _clients.clear()
    for client in mine:
        client.close()


def _hashable(value: Any) -> Hashable:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _hashable(v)) for k, v in value.items()))
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return value  # type: ignore[no-any-return]


def cache_key(raw_uri: str, options: dict[str, Any]) -> Hashable:
    """The cache key: the raw URI plus the client options (listeners count by identity)."""
    return (raw_uri, _hashable(options))


def client_options(uri_options: dict[str, str], options: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments for ``MongoClient``: the caller's, plus docstore's canonical codec.

    Datetimes come back timezone-aware in ``datetime.timezone.utc`` and 64-bit integers as
    ``int`` (docstore's canonical forms; BSON already truncates datetimes to milliseconds).
    The server selection time-out defaults to 5 s unless the URI or the caller sets it.
    """
    merged = dict(options)
    merged["tz_aware"] = True
    merged["tzinfo"] = _dt.timezone.utc
    merged.setdefault("type_registry", CANONICAL_TYPES)
    given = {name.lower() for name in (*uri_options, *options)}
    if "serverselectiontimeoutms" not in given:
        merged["serverSelectionTimeoutMS"] = DEFAULT_SERVER_SELECTION_TIMEOUT_MS
    return merged


def acquire(raw_uri: str, options: dict[str, Any]) -> tuple[Hashable, MongoClient[dict[str, Any]]]:
    """This process's client for ``raw_uri`` (created on first use); the caller must :func:`release` it."""
    key = (os.getpid(), cache_key(raw_uri, options))
    with _lock:
        shared = _clients.get(key)
        if shared is None:
            client: MongoClient[dict[str, Any]] = MongoClient(raw_uri, **options)
            shared = _clients[key] = _Shared(client, os.getpid())
        shared.users += 1
        return key, shared.client


def locked() -> threading.RLock:
    """The cache's lock (re-entrant; a forked child gets a fresh one), for callers that check then acquire."""
    return _lock


def release(key: Hashable) -> None:
    """Give back a client from :func:`acquire`; the last user's release closes it."""
    with _lock:
        shared = _clients.get(key)
        if shared is None or shared.pid != os.getpid():
            return  # acquired before a fork: the parent owns that client
        shared.users -= 1
        if shared.users > 0:
            return
        del _clients[key]
    shared.client.close()


def open_clients() -> int:
    """How many clients this process has open (for tests and diagnostics)."""
    with _lock:
        return sum(1 for shared in _clients.values() if shared.pid == os.getpid())
