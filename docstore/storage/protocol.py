"""The storage protocol: :class:`Storage` and :func:`setup_storage`.

A superset of Orion's ``BaseStorageProtocol`` (same method names, arguments and
meanings), written once over :mod:`docstore.database`, so it behaves the same on every
engine. See ``docs/orion-compat.md`` for each method next to Orion's.
"""

from __future__ import annotations

import os
from typing import Any

from docstore.database import Database, connect
from docstore.storage.experiments import ExperimentsMixin
from docstore.storage.trials import TrialsMixin

__all__ = ["DEFAULT_URI", "Storage", "setup_storage"]

DEFAULT_URI = "docstore.json"
"""The store used when no URI is given and ``$DOCSTORE_URI`` is not set (in the current folder)."""


class Storage(ExperimentsMixin, TrialsMixin):
    """Experiments, trials, benchmarks and algorithm locks in a docstore :class:`Database`.

    ``heartbeat`` (seconds) is how often workers are expected to beat: a reserved trial
    is lost after five missed beats, as in Orion. ``lock_lease`` (seconds) is how long
    an algorithm lock outlives a holder that stopped renewing it. ``strict=False``
    follows Orion's Legacy storage to the letter: trials may name experiments that do not
    exist, and any status may follow any other. ``worker`` is the name recorded by
    ``reserve_trial`` (default: ``host:pid:random``, one per process).
    """

    _uri: str | None = None
    _connect_options: dict[str, Any] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled by URI, so a worker process opens its own connection to the same store
        # (an in-process store such as memory:// comes back empty in another process).
        if self._uri is None:
            raise TypeError(
                "this Storage was made from a Database object and cannot be pickled; "
                "open it with docstore.setup_storage(uri) to send it to other processes"
            )
        options = {
            "heartbeat": self.heartbeat,
            "lock_lease": self.lock_lease,
            "strict": self.strict,
            "worker": self._worker,
            "connect_options": self._connect_options,
        }
        return (_reopen, (self._uri, options))

    def close(self) -> None:
        """Close the underlying database."""
        self.db.close()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reopen(uri: str, options: dict[str, Any]) -> Storage:
    return setup_storage(uri, **options)


def setup_storage(
    uri: str | os.PathLike[str] | Database | None = None,
    debug: bool = False,
    *,
    connect_options: dict[str, Any] | None = None,
    **options: Any,
) -> Storage:
    """Open the storage protocol on a store.

    ``uri``: a store URI or ``.json`` path, or an open :class:`Database`. Without one,
    ``$DOCSTORE_URI``, else ``./docstore.json``. ``debug=True`` uses a throw-away
    ``memory://`` store instead, as Orion's ``debug`` uses an in-memory database.
    ``connect_options`` go to :func:`docstore.connect`; other keyword arguments to
    :class:`Storage` (``heartbeat``, ``lock_lease``, ``strict``, ``worker``).
    """
    if isinstance(uri, Database):
        if debug or connect_options:
            raise ValueError("debug and connect_options apply to a URI, not to an open Database")
        return Storage(uri, **options)
    if debug:
        text = "memory://"
    elif uri is None:
        text = os.environ.get("DOCSTORE_URI") or DEFAULT_URI
    else:
        text = os.fspath(uri)
    storage = Storage(connect(text, **(connect_options or {})), **options)
    storage._uri = text
    storage._connect_options = dict(connect_options) if connect_options else None
    return storage
