"""Optuna's journal as documents: one document per ``append_logs`` call.

A *batch* is the list of logs one ``append_logs`` call was given. It is stored as one
document::

    {"_id": "00000000000000000042",   # its first log number, zero-padded (sorts as a number)
     "end": 45,                        # first log number + number of logs
     "writer": "9f3c...",              # random token of this append, to recognise our own write
     "logs": "[{...},{...},{...}]"}    # the logs as json.dumps text

The logs are kept as the text :func:`json.dumps` makes and read back with
:func:`json.loads`, so every value round-trips exactly as stdlib ``json`` (and Optuna's
own ``JournalFileBackend``) would: NaN and infinities, integer dict keys turned into
strings, tuples into lists.

Why the log has no overlap and no hole, with any number of writers that may die at any
instant (the argument the code relies on):

* Invariant I: the stored batches, ordered by first log number, are ``[0, e1)``,
  ``[e1, e2)``, ... -- contiguous from 0, no overlap, no hole. Batches are never changed
  or deleted. Call every ``e_i`` (and 0) a *boundary*.
* A write is one ``insert_one`` of one document, so a batch is stored wholly or not at
  all; a writer that dies before or after it leaves I intact.
* A writer inserts ``[M, M + k)`` where ``M`` is a boundary it has seen: 0, or the end of
  a batch it read or wrote. Boundaries stay boundaries, since batches are never removed.
  When the insert runs, either ``M`` is still the largest end -- the insert extends the
  sequence and I holds -- or some batch ends after ``M``; then, by I, the batch right
  after boundary ``M`` starts at ``M``, its ``_id`` is taken, and the unique ``_id``
  index rejects the insert with DuplicateKeyError. The writer then reads forward from
  ``M`` to the current end (a larger boundary) and tries again. Each rejection means
  another writer's batch went in, so writers as a whole always make progress.
* A stale read (a lagging MongoDB secondary, a cursor that missed a concurrent insert)
  can only make a writer use a smaller boundary, which is rejected as above: it costs
  a retry, never a hole (a writer refused at ``M`` that cannot yet read the batch at
  ``M`` waits for it, and gives up with StoreCorrupted after a few seconds). Readers
  follow ``end`` -> next ``_id`` links and stop at the first missing link, so they only
  ever return a gap-free prefix.
* A driver that retries an insert whose reply was lost could see DuplicateKeyError for
  its *own* batch; the ``writer`` token tells that case apart, so no batch is written
  twice.

Reading: batches are immutable, so a process caches the text of every batch it has
read or written, keyed by first log number, and asks the store only for what lies past
its cache. Next batches are fetched by ``_id`` equality (``$in`` over a window of the
next possible first log numbers, served by the ``_id`` index on every engine). Optuna
appends one log per call, so a first window of 8 usually brings every new batch in one
query; a reader far behind widens its window. A range query on ``end`` is needed only
when a read starts inside a batch this process has not seen.
"""

from __future__ import annotations

import bisect
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from docstore import Collection, DuplicateKeyError, StoreCorrupted

__all__ = ["LogJournal", "batch_id"]

_ID_WIDTH = 20  # fits every int64 log number; zero-padding makes string order numeric order
_FIRST_WINDOW = 8  # first log numbers asked for by the first query of a read: usually all that is new
_MAX_WINDOW = 512  # a reader far behind widens its window up to this
_UNREADABLE_RETRIES = 50  # about 5 s of waiting for a lagging read to show a batch that refused an insert


def batch_id(first: int) -> str:
    """The ``_id`` of the batch whose first log number is ``first``."""
    return f"{first:0{_ID_WIDTH}d}"


@dataclass(frozen=True)
class _Batch:
    start: int
    end: int
    writer: str
    text: str

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> _Batch:
        try:
            start = int(doc["_id"])
            end = doc["end"]
            text = doc["logs"]
        except (KeyError, ValueError, TypeError) as exc:
            raise StoreCorrupted(f"not an Optuna log batch: {doc!r:.200}") from exc
        if type(end) is not int or end <= start or not isinstance(text, str):
            raise StoreCorrupted(f"not an Optuna log batch: {doc!r:.200}")
        return cls(start, end, str(doc.get("writer", "")), text)


class LogJournal:
    """Append-only, totally ordered logs in one collection, with a per-process cache."""

    def __init__(self, collection: Collection) -> None:
        self._collection = collection
        self._lock = threading.Lock()
        self._starts: list[int] = []  # sorted first log numbers of the cached batches
        self._cached: dict[int, _Batch] = {}  # first log number -> batch
        self._boundaries: set[int] = {0}  # log numbers known to begin a batch (or the end)
        self._known_end = 0  # the largest boundary seen: where the next append is tried first

    def ensure_indexes(self) -> None:
        self._collection.create_index([("end", 1)])

    # ------------------------------------------------------------------ writing
    def append(self, logs: list[dict[str, Any]]) -> None:
        """Store ``logs`` as one batch after every log stored so far (see the module doc)."""
        if not logs:
            return
        text = json.dumps(logs, separators=(",", ":"))  # fails on a non-JSON value before any write
        writer = uuid.uuid4().hex
        with self._lock:
            start = self._known_end
            unreadable = 0
            while True:
                doc = {"_id": batch_id(start), "end": start + len(logs), "writer": writer, "logs": text}
                try:
                    self._collection.insert_one(doc)
                except DuplicateKeyError:
                    taken = self._read_forward(start)
                    if not taken:  # a read behind the write that refused us: give it time to catch up
                        unreadable += 1
                        if unreadable > _UNREADABLE_RETRIES:
                            raise StoreCorrupted(
                                f"log batch {start} is taken but cannot be read back after "
                                f"{_UNREADABLE_RETRIES} tries; are reads served by a lagging replica?"
                            ) from None
                        time.sleep(min(0.001 * 2**unreadable, 0.1))
                        continue
                    if taken[0].writer == writer:
                        return  # our own insert, reported as a duplicate after a driver retry
                    start = self._known_end
                    continue
                self._remember(_Batch(start, start + len(logs), writer, text))
                return

    # ------------------------------------------------------------------ reading
    def read(self, log_number_from: int) -> list[dict[str, Any]]:
        """Every log numbered ``log_number_from`` or more, in order."""
        if log_number_from < 0:
            raise ValueError(f"log_number_from must be >= 0, got {log_number_from}")
        with self._lock:
            batches = self._cached_from(log_number_from)
            position = batches[-1].end if batches else log_number_from
            batches.extend(self._read_forward(position))
        logs: list[dict[str, Any]] = []
        for batch in batches:
            decoded = json.loads(batch.text)
            logs.extend(decoded[max(0, log_number_from - batch.start) :])
        return logs

    def _cached_from(self, position: int) -> list[_Batch]:
        found: list[_Batch] = []
        index = bisect.bisect_right(self._starts, position) - 1
        while 0 <= index < len(self._starts):
            batch = self._cached[self._starts[index]]
            if not batch.start <= position < batch.end:
                break
            found.append(batch)
            position = batch.end
            index += 1
        return found

    def _read_forward(self, position: int) -> list[_Batch]:
        """The stored batches from the one holding log ``position`` on, gap-free; cached."""
        found: list[_Batch] = []
        if position not in self._boundaries:
            holding = self._batch_holding(position)
            if holding is None:
                return found  # past the end of the log
            if holding.start > position:
                raise StoreCorrupted(f"the Optuna log has a hole before log {holding.start}: {position} is missing")
            self._remember(holding)
            if holding.end > position:
                found.append(holding)
                position = holding.end
        window = _FIRST_WINDOW
        while True:
            window_start = position
            wanted = [batch_id(window_start + i) for i in range(window)]
            by_start = {b.start: b for b in map(_Batch.from_document, self._collection.find({"_id": {"$in": wanted}}))}
            while (batch := by_start.get(position)) is not None:
                self._remember(batch)
                found.append(batch)
                position = batch.end
            if position < window_start + window:
                return found  # the window was asked for ``position`` and it is not there: the end, for now
            window = min(4 * window, _MAX_WINDOW)

    def _batch_holding(self, position: int) -> _Batch | None:
        """The batch holding log ``position``, or ending right before it (None past the end)."""
        doc = self._collection.find_one({"end": {"$gte": position}}, sort=[("end", 1)])
        return None if doc is None else _Batch.from_document(doc)

    def _remember(self, batch: _Batch) -> None:
        known = self._cached.get(batch.start)
        if known is not None:
            if known.end != batch.end or known.text != batch.text:
                raise StoreCorrupted(f"log batch {batch.start} changed after it was read: logs are append-only")
            return
        self._cached[batch.start] = batch
        bisect.insort(self._starts, batch.start)
        self._boundaries.update((batch.start, batch.end))
        self._known_end = max(self._known_end, batch.end)
