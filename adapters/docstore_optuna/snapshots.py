"""Optuna's journal snapshots (opaque bytes) as documents, in chunks.

A snapshot of a long study outgrows one MongoDB document (16 MiB), so it is stored as
chunks of a *generation* plus one ``head`` document naming the current generation::

    {"_id": "head", "generation": "<id>", "chunks": 3, "size": 9437184, "sha256": "..."}
    {"_id": "<id>.000000", "data": b"..."}   {"_id": "<id>.000001", ...}   ...

Saving writes every chunk of a new generation first, then points ``head`` at it in one
atomic ``find_one_and_update`` and deletes the generation it replaced. A writer that dies
before moving ``head`` leaves the previous snapshot in force (and unreferenced chunks
behind, which no reader looks at); concurrent savers each delete only the generation
they themselves displaced, so a generation is deleted once, after ``head`` moved past it.
A reader that read ``head`` just before it moved may find chunks missing or a digest that
does not match: it reads ``head`` again. Snapshots are a speed-up (Optuna replays the
logs after the snapshot), so the last saved one wins, whatever its age.
"""

from __future__ import annotations

import hashlib
import time

from docstore import Collection, ReturnDocument, StoreCorrupted
from docstore.documents import new_id

__all__ = ["SnapshotStore"]

CHUNK_SIZE = 4 * 1024 * 1024  # well under MongoDB's 16 MiB document limit
_HEAD = "head"
_READ_ATTEMPTS = 20


def _chunk_id(generation: str, index: int) -> str:
    return f"{generation}.{index:06d}"


class SnapshotStore:
    """The latest snapshot of one journal, in one collection."""

    def __init__(self, collection: Collection, chunk_size: int = CHUNK_SIZE) -> None:
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be > 0, got {chunk_size}")
        self._collection = collection
        self._chunk_size = chunk_size

    def save(self, snapshot: bytes) -> None:
        data = bytes(snapshot)
        generation = new_id()
        parts = [data[i : i + self._chunk_size] for i in range(0, len(data), self._chunk_size)] or [b""]
        for index, part in enumerate(parts):
            self._collection.insert_one({"_id": _chunk_id(generation, index), "data": part})
        head = {"generation": generation, "chunks": len(parts), "size": len(data), "sha256": _digest(data)}
        replaced = self._collection.find_one_and_update(
            {"_id": _HEAD}, {"$set": head}, upsert=True, return_document=ReturnDocument.BEFORE
        )
        if replaced is not None:
            self._collection.delete_many({"_id": {"$in": _chunk_ids(replaced)}})

    def load(self) -> bytes | None:
        for attempt in range(_READ_ATTEMPTS):
            head = self._collection.find_one({"_id": _HEAD})
            if head is None:
                return None
            ids = _chunk_ids(head)
            chunks: dict[str, bytes] = {}
            for doc in self._collection.find({"_id": {"$in": ids}}):
                if isinstance(doc.get("data"), bytes):
                    chunks[doc["_id"]] = doc["data"]
            if len(chunks) == len(ids):
                data = b"".join(chunks[i] for i in ids)
                if len(data) == head.get("size") and _digest(data) == head.get("sha256"):
                    return data
            time.sleep(0.001 * (attempt + 1))  # a saver moved ``head`` while we read: read it again
        raise StoreCorrupted(
            f"the Optuna snapshot in collection {self._collection.name!r} stays incomplete or fails its "
            f"digest after {_READ_ATTEMPTS} reads; delete its 'head' document to fall back to the logs"
        )


def _chunk_ids(head: dict[str, object]) -> list[str]:
    generation, count = head.get("generation"), head.get("chunks")
    if not isinstance(generation, str) or type(count) is not int or count < 1:
        raise StoreCorrupted(f"bad Optuna snapshot head document: {head!r:.200}")
    return [_chunk_id(generation, i) for i in range(count)]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
