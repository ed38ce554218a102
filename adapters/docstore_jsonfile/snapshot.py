"""The snapshot, ``study.json``: the whole store as of one generation, in TinyDB's format.

::

    {"trials": {"1": {"_id": "65f0c1...", "status": "new", "submit_time": {"$date": "..."}},
                "2": {...}},
     "experiments": {"1": {...}},
     "_docstore_meta": {"1": {"format": "docstore-jsonfile", "version": 2, "generation": 7,
                              "journal": "9f2c...", "folded": "41ab...",
                              "collections": {"trials": {"indexes": [{"name": "status_1",
                                                                      "key": [["status", 1]],
                                                                      "unique": false}],
                                                         "ejson_fields": ["heartbeat", "submit_time"]}},
                              "checksum": "1c291ca3"}}}

Each collection is a TinyDB table whose document ids are positions ("1", "2", ...); the
real ``_id`` is inside each document. The store's own facts live in a table of their own,
``_docstore_meta``, as one document, written last: ``generation`` and ``journal`` name the
journal that follows this snapshot (its generation and random id), ``folded`` the one it
folded in (which a compaction stopped between its two renames leaves behind),
``ejson_fields`` lists, per collection, the top-level fields where some document holds an
Extended JSON value, so loading decodes only those. ``checksum``, the last member, is the
CRC-32 of every byte of the file before its value: a flipped bit anywhere, or any edit
made outside docstore, is ``StoreCorrupted`` when the store is opened.

Version 1 (no ``journal``, ``folded`` nor ``checksum``; the metadata first) is still read,
and replaced by version 2 at the first write.
"""

from __future__ import annotations

import gc
import zlib
from collections.abc import Iterator
from typing import Any, NamedTuple

import orjson

from docstore.engine import IndexSpec
from docstore.errors import StoreCorrupted
from docstore_jsonfile.codec import decode_document, decode_hinted, encode_document, special_keys
from docstore_jsonfile.store import Collection, Store

__all__ = [
    "FORMAT",
    "META_TABLE",
    "VERSION",
    "Snapshot",
    "decode_snapshot",
    "encode_snapshot",
    "index_from_json",
    "index_to_json",
]

META_TABLE = "_docstore_meta"
FORMAT = "docstore-jsonfile"
VERSION = 2
_READABLE = (1, 2)
_CHECKSUM = b'"checksum":"'
_TAIL = b'"}}}\n'  # after the checksum's eight hex digits: the end of the metadata, its table, the file
_BATCH = 4096
_COLLECT_AFTER = 8 << 20  # bytes of snapshot


def index_to_json(spec: IndexSpec) -> dict[str, Any]:
    return {"name": spec.name, "key": [[name, direction] for name, direction in spec.keys], "unique": spec.unique}


def index_from_json(raw: Any) -> IndexSpec:
    """An index definition read from a file; ValueError if it is malformed."""
    if type(raw) is not dict or type(raw.get("name")) is not str or type(raw.get("key")) is not list:
        raise ValueError(f"bad index definition {raw!r}")
    keys = []
    for item in raw["key"]:
        if type(item) is not list or len(item) != 2 or type(item[0]) is not str or item[1] not in (1, -1):
            raise ValueError(f"bad index key {item!r}")
        keys.append((item[0], int(item[1])))
    if not keys or type(raw.get("unique", False)) is not bool:
        raise ValueError(f"bad index definition {raw!r}")
    return IndexSpec(raw["name"], tuple(keys), bool(raw.get("unique", False)))


class Snapshot(NamedTuple):
    store: Store
    generation: int
    version: int
    journal_id: str | None
    """The journal that follows this snapshot (None in a version-1 snapshot)."""
    folded_id: str | None
    """The journal this snapshot folded in (None if it had none, or none with an id)."""


def encode_snapshot(store: Store, generation: int, journal_id: str, folded_id: str | None) -> Iterator[bytes]:
    """The snapshot's bytes, in chunks; the last ones are the metadata and the checksum of all before it."""
    tables: list[tuple[str, list[bytes]]] = []
    collections: dict[str, Any] = {}
    for name, collection in store.collections.items():
        hinted: set[str] = set()
        entries = []
        for position, document in enumerate(collection.docs.values(), 1):
            hinted.update(special_keys(document))
            entries.append(b'"%d":%b' % (position, orjson.dumps(encode_document(document))))
        collections[name] = {
            "indexes": [index_to_json(spec) for spec in collection.indexes.values()],
            "ejson_fields": sorted(hinted),
        }
        tables.append((name, entries))
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "generation": generation,
        "journal": journal_id,
        "folded": folded_id,
        "collections": collections,
    }
    crc = 0
    separator = b"{"
    for name, entries in tables:
        chunk = b"%b%b:{" % (separator, orjson.dumps(name))
        crc = zlib.crc32(chunk, crc)
        yield chunk
        separator = b","
        for start in range(0, len(entries), _BATCH):
            chunk = (b"," if start else b"") + b",".join(entries[start : start + _BATCH])
            crc = zlib.crc32(chunk, crc)
            yield chunk
        crc = zlib.crc32(b"}", crc)
        yield b"}"
    last = b'%b"%b":{"1":%b,%b' % (separator, META_TABLE.encode(), orjson.dumps(meta)[:-1], _CHECKSUM)
    yield last + b"%08x" % zlib.crc32(last, crc) + _TAIL


def _corrupted(path: str, data: bytes, problem: str, needle: bytes = b"") -> StoreCorrupted:
    at = data.find(needle) if needle else -1
    line = data.count(b"\n", 0, at) + 1 if at >= 0 else 1
    return StoreCorrupted(
        f"the snapshot {path} is damaged: {problem} (line {line}); it was left untouched",
        path=path,
        line=line,
    )


def decode_snapshot(data: bytes, path: str) -> Snapshot:
    """The store a snapshot holds, and what it says of its journal. Raises StoreCorrupted, touching nothing."""
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a million fresh objects would trigger collections all along, for nothing
    try:
        return _decode(data, path)
    finally:
        if gc_was_enabled:
            gc.enable()
            if len(data) > _COLLECT_AFTER:
                # One full pass now moves every new object to the oldest generation at once,
                # instead of three passes (young, middle, old) over them in the first operations.
                gc.collect()


def _decode(data: bytes, path: str) -> Snapshot:
    try:
        top = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise StoreCorrupted(
            f"the snapshot {path} is not valid JSON ({exc}); it was left untouched",
            path=path,
            line=exc.lineno,
        ) from None
    meta = _meta(top, data, path)
    if meta["version"] >= 2:
        _verify_checksum(data, path)
    generation = meta["generation"]
    described = meta.get("collections", {})
    if type(described) is not dict:
        raise _corrupted(path, data, "'collections' in its metadata is not an object", b'"collections"')
    store = Store()
    for name, table in top.items():
        if name == META_TABLE:
            continue
        needle = orjson.dumps(name)
        if type(table) is not dict:
            raise _corrupted(path, data, f"table {name!r} is not an object", needle)
        about = described.get(name, {})
        hinted = about.get("ejson_fields") if type(about) is dict else None
        documents = list(table.values())
        if not all(type(document) is dict and "_id" in document for document in documents):
            problem = f"table {name!r} holds an entry that is not a document with an _id"
            raise _corrupted(path, data, problem, needle)
        if type(hinted) is list and all(type(field) is str for field in hinted):
            decode_hinted(documents, tuple(hinted))
        else:
            documents = [decode_document(document) for document in documents]
        collection = store.collections[name] = Collection(name)
        try:
            collection.load(documents)
        except ValueError as exc:
            raise _corrupted(path, data, f"table {name!r}: {exc}", needle) from None
        try:
            specs = [index_from_json(raw) for raw in (about.get("indexes", []) if type(about) is dict else [])]
        except ValueError as exc:
            raise _corrupted(path, data, f"collection {name!r}: {exc}", b'"indexes"') from None
        for spec in specs:
            collection.add_index(spec)
    return Snapshot(store, generation, meta["version"], meta.get("journal"), meta.get("folded"))


def _verify_checksum(data: bytes, path: str) -> None:
    value = len(data) - len(_TAIL) - 8
    stated = data[value : value + 8]
    if not data.endswith(_TAIL) or data[value - len(_CHECKSUM) : value] != _CHECKSUM:
        raise _corrupted(path, data, "its checksum is not where docstore writes it (edited outside docstore?)")
    try:
        valid = int(stated, 16) == zlib.crc32(memoryview(data)[:value])
    except ValueError:
        valid = False
    if not valid:
        raise _corrupted(
            path, data, "its checksum does not match its bytes (damaged on disk, or edited outside docstore)"
        )


def _meta(top: Any, data: bytes, path: str) -> dict[str, Any]:
    if type(top) is not dict:
        raise _corrupted(path, data, "it is not a JSON object of tables")
    table = top.get(META_TABLE)
    meta = next(iter(table.values()), None) if type(table) is dict else None
    if type(meta) is not dict or meta.get("format") != FORMAT:
        raise _corrupted(
            path, data, f"it has no {META_TABLE!r} table naming the format {FORMAT!r}: not a docstore store"
        )
    version = meta.get("version")
    if type(version) is not int or version not in _READABLE:
        hint = " written by a newer docstore: upgrade docstore" if type(version) is int and version > VERSION else ""
        raise _corrupted(
            path, data, f"unknown format version {version!r}{hint}; this docstore reads {_READABLE}", b'"version"'
        )
    generation = meta.get("generation")
    if type(generation) is not int or generation < 1:
        raise _corrupted(path, data, f"bad generation {generation!r}", b'"generation"')
    if version >= 2 and (type(meta.get("journal")) is not str or type(meta.get("folded")) not in (str, type(None))):
        raise _corrupted(path, data, "bad journal ids in its metadata", b'"journal"')
    return meta
