"""The journal, ``study.json.journal``: the effects of every operation since the snapshot.

One CRC-framed JSON object per line (see :mod:`docstore_jsonfile.codec`)::

    {"crc":"…","gen":7,"id":"9f2c…","journal":"docstore-jsonfile","version":3}   <- line 1, the header
    {"crc":"…","gen":7,"n":1,"ops":[["put","trials",{"_id":"…","status":"reserved"}]]}
    {"crc":"…","gen":7,"n":2,"ops":[["del","trials","…"],["del","trials","…"]]}

``ops`` lists one operation's effects, applied all together or not at all:
``["put", collection, document]``, ``["set", collection, {"_id": id, field: value, ...}]``
or ``["set", collection, {"_id": id, ...}, [removed fields]]`` (a stored document's new
version as the top-level fields that changed; kept fields keep their place, new ones go
last, as MongoDB orders them), ``["del", collection, id]``,
``["index", collection, {"name", "key", "unique"}]``, ``["unindex", collection, name]``,
``["drop", collection]``. Values are relaxed Extended JSON.

Continuity (version 3). The header's ``id`` is a random name for this journal, which the
snapshot it follows records (``journal``); ``n`` numbers the operation lines from 1. So a
journal that is not the one its snapshot expects, or a line missing, repeated or out of
place, is ``StoreCorrupted``, not a store that silently lacks writes.

The generation rule. A journal of generation G holds the operations made after the
snapshot of generation G. Compaction writes snapshot G+1 (temporary file, fsync, rename,
fsync the directory), then replaces the journal by a fresh one of generation G+1 the same
way. So on opening, with a snapshot of generation S that expects journal J:

* journal header (S, J): replay its lines;
* header (S - 1, the journal the snapshot folded in): compaction stopped between the two
  renames; everything in this journal is already in the snapshot, so it is ignored, and
  the next writer replaces it;
* anything else (no journal, an empty one, another generation or id, a damaged line,
  a gap in ``n``): ``StoreCorrupted``. Only a torn last line (no newline: a crash in
  mid-append, never acknowledged) is not damage; readers ignore it and the next writer
  cuts it off. A complete last line whose checksum fails is damage.

Older journals (version 1: whole documents only; version 2: ``set`` lines; neither has
``id`` nor ``n``) are read as they are, and replaced by a version-3 one at the first write
(see :func:`docstore_jsonfile.state.needs_upgrade`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from docstore.errors import StoreCorrupted
from docstore_jsonfile.codec import decode_document, decode_value, encode_document, encode_value, frame, unframe
from docstore_jsonfile.snapshot import FORMAT, index_from_json, index_to_json
from docstore_jsonfile.store import Effect, Store
from docstore_jsonfile.values import index_key, same_value

__all__ = [
    "JOURNAL_VERSION",
    "Header",
    "encode_effects",
    "header_line",
    "new_journal_id",
    "operation_line",
    "read_header",
    "scan",
]

JOURNAL_VERSION = 3
"""Version 2 added ``set`` lines, version 3 the journal's ``id`` and the lines' ``n``."""
_READABLE = (1, 2, 3)


class Header(NamedTuple):
    generation: int
    size: int
    """The header line's length in bytes."""
    version: int
    journal_id: str | None
    """None in a journal older than version 3."""


def new_journal_id() -> str:
    return os.urandom(8).hex()


def header_line(generation: int, journal_id: str) -> bytes:
    return frame({"gen": generation, "id": journal_id, "journal": FORMAT, "version": JOURNAL_VERSION})


def operation_line(generation: int, number: int, effects: list[Effect], store: Store | None = None) -> bytes:
    """Operation line ``number`` (from 1); with ``store`` (the state before ``effects``), new versions are patches."""
    return frame({"gen": generation, "n": number, "ops": encode_effects(effects, store)})


def encode_effects(effects: list[Effect], store: Store | None = None) -> list[list[Any]]:
    encoded: list[list[Any]] = []
    for kind, name, payload in effects:
        if kind == "put":
            collection = None if store is None else store.get(name)
            old = None if collection is None else collection.docs.get(index_key(payload["_id"]))
            patch = None if old is None else _patch(old, payload)
            if patch is None:
                encoded.append([kind, name, encode_document(payload)])
            else:
                changed, removed = patch
                encoded.append(
                    ["set", name, encode_document(changed), removed]
                    if removed
                    else ["set", name, encode_document(changed)]
                )
        elif kind == "del":
            encoded.append([kind, name, encode_value(payload)])
        elif kind == "index":
            encoded.append([kind, name, index_to_json(payload)])
        elif kind == "unindex":
            encoded.append([kind, name, payload])
        else:
            encoded.append([kind, name])
    return encoded


def _patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]] | None:
    """``new`` as ``old`` plus (``_id`` and the changed or added fields, removed fields), or None.

    None when ``new`` does not keep ``old``'s remaining fields in their order, first (a
    replacement that reorders): that version is written whole.
    """
    removed = [name for name in old if name not in new]
    kept = len(old) - len(removed)
    names = list(new)
    if names[:kept] != [name for name in old if name in new]:
        return None
    changed: dict[str, Any] = {"_id": new["_id"]}
    for name in names[:kept]:
        value, before = new[name], old[name]
        if value is not before and not same_value(before, value):
            changed[name] = value
    for name in names[kept:]:
        changed[name] = new[name]
    return changed, removed


def _decode_effect(raw: Any) -> Effect:
    if type(raw) is not list or len(raw) not in (2, 3, 4) or type(raw[1]) is not str:
        raise ValueError(f"not an effect: {raw!r:.80}")
    kind, name, payload = raw[0], raw[1], raw[2] if len(raw) >= 3 else None
    if len(raw) == 4 and kind != "set":
        raise ValueError(f"not an effect: {raw!r:.80}")
    if kind == "put" and type(payload) is dict and "_id" in payload:
        return (kind, name, decode_document(payload))
    if kind == "set" and type(payload) is dict and "_id" in payload:
        removed = raw[3] if len(raw) == 4 else []
        if type(removed) is not list or not all(type(field) is str for field in removed):
            raise ValueError(f"not an effect: {raw!r:.80}")
        return ("patch", name, (decode_document(payload), tuple(removed)))
    if kind == "del" and len(raw) == 3:
        return (kind, name, decode_value(payload))
    if kind == "index":
        return (kind, name, index_from_json(payload))
    if kind == "unindex" and type(payload) is str:
        return (kind, name, payload)
    if kind == "drop" and len(raw) == 2:
        return (kind, name, None)
    raise ValueError(f"not an effect: {raw!r:.80}")


def _damaged(path: str, line: int, problem: str) -> StoreCorrupted:
    return StoreCorrupted(
        f"the journal {path} is damaged at line {line}: {problem}; it was left untouched", path=path, line=line
    )


def read_header(data: bytes, path: str) -> Header:
    """The header of a journal whose bytes ``data`` start with it. Raises StoreCorrupted."""
    end = data.find(b"\n")
    record = unframe(data[:end]) if end >= 0 else None
    if record is None or record.get("journal") != FORMAT:
        raise _damaged(path, 1, f"the first line is not an intact {FORMAT} journal header")
    version = record.get("version")
    if version not in _READABLE or type(version) is not int:
        newer = " (written by a newer docstore: upgrade docstore)" if type(version) is int and version > 3 else ""
        raise _damaged(path, 1, f"unknown journal format version {version!r}{newer}; this docstore reads {_READABLE}")
    generation = record.get("gen")
    if type(generation) is not int:
        raise _damaged(path, 1, f"bad generation {generation!r}")
    journal_id = record.get("id")
    if (version >= 3) != (type(journal_id) is str):
        raise _damaged(path, 1, f"bad journal id {journal_id!r} for version {version}")
    return Header(generation, end + 1, version, journal_id)


def scan(
    data: bytes, *, path: str, generation: int, line: int, numbered: bool, apply: Callable[[list[Effect]], None]
) -> tuple[int, int, bool]:
    """Apply the operation lines in ``data`` (journal bytes up to its end; ``line`` lines came before).

    ``numbered``: the lines carry ``n`` (version 3), which must follow on from ``line``.
    Returns ``(bytes consumed, lines consumed in all, torn)``, where ``torn`` says bytes
    after the consumed ones form a torn last line (no newline).
    """
    position, size = 0, len(data)
    while position < size:
        end = data.find(b"\n", position)
        if end < 0:
            return position, line, True
        record = unframe(data[position:end])
        if record is None:
            why = "lines follow it" if end + 1 < size else "it ends with its newline, which a crash cannot leave"
            raise _damaged(path, line + 1, f"the line is not an intact record (bad checksum or not JSON), and {why}")
        if record.get("gen") != generation:
            raise _damaged(
                path, line + 1, f"the line belongs to generation {record.get('gen')!r}, the journal to {generation}"
            )
        if numbered and record.get("n") != line:
            raise _damaged(
                path,
                line + 1,
                f"operation {record.get('n')!r} where {line} was due: a line is missing, repeated or moved",
            )
        operations = record.get("ops")
        if type(operations) is not list:
            raise _damaged(path, line + 1, "the line has no list of effects")
        try:
            effects = [_decode_effect(raw) for raw in operations]
        except (ValueError, KeyError, TypeError) as exc:
            raise _damaged(path, line + 1, str(exc)) from None
        try:
            apply(effects)
        except ValueError as exc:  # a set line for a document the state does not hold
            raise _damaged(path, line + 1, str(exc)) from None
        position = end + 1
        line += 1
    return position, line, False
