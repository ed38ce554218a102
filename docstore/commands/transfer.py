"""``docstore dump``, ``docstore load`` and ``docstore copy``: whole stores, between any engines.

Dump layout (documented in docs/cli.md), one document per line in MongoDB Extended JSON
(relaxed), each collection sorted by ``_id``:

* ``-o DIR``: a directory with ``COLLECTION.json`` per collection, exactly what
  ``mongoexport`` writes and ``mongoimport --collection COLLECTION --file COLLECTION.json``
  reads, plus ``COLLECTION.metadata.json`` (``{"collectionName", "count", "indexes"}``,
  like ``mongodump``'s) so that ``docstore load`` recreates the indexes too;
* no ``-o`` (stdout) or ``-o FILE.jsonl``: one stream, each collection introduced by a
  header line ``{"$collection": NAME, "count": N, "indexes": [...]}`` (no stored document
  can have a ``$`` key, so a header is never mistaken for a document).

``load`` reads either, and a single ``mongoexport`` file with ``--collection NAME``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

import docstore
from docstore.documents import from_ejson, to_ejson
from docstore.errors import DuplicateKeyError, StoreFileError

from .common import CliError, describe_uri, ejson_line, make_console, open_store, resolve_uri

__all__ = ["Section", "cmd_copy", "cmd_dump", "cmd_load", "read_dump", "read_store", "write_sections"]

BATCH = 500
METADATA_SUFFIX = ".metadata.json"


@dataclass
class Section:
    """One collection: its name, its indexes (``_id_`` excluded) and its documents."""

    name: str
    indexes: list[dict[str, Any]] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    declared_count: int | None = None


# ---------------------------------------------------------------- reading a store


def _indexes(db: docstore.Database, name: str) -> list[dict[str, Any]]:
    out = []
    for index_name, info in sorted(db[name].index_information().items()):
        if index_name == "_id_":
            continue
        entry: dict[str, Any] = {"name": index_name, "key": dict(info["key"])}
        if info.get("unique"):
            entry["unique"] = True
        out.append(entry)
    return out


def read_store(db: docstore.Database) -> list[Section]:
    """Every collection of ``db``, its indexes and its documents sorted by ``_id``."""
    return [
        Section(name, _indexes(db, name), db[name].find({}, sort=[("_id", 1)]).to_list())
        for name in db.list_collection_names()
    ]


# ---------------------------------------------------------------- dump


def _header(section: Section) -> bytes:
    return orjson.dumps({"$collection": section.name, "count": len(section.documents), "indexes": section.indexes})


def _stream(sections: list[Section]) -> Iterator[bytes]:
    for section in sections:
        yield _header(section) + b"\n"
        yield from _lines_of(section.documents)


def _lines_of(documents: list[dict[str, Any]]) -> Iterator[bytes]:
    return (ejson_line(document) + b"\n" for document in documents)


def _write_stream(sections: list[Section], out: IO[bytes]) -> None:
    out.writelines(_stream(sections))
    out.flush()


def _write_file(target: str, chunks: Iterable[bytes]) -> None:
    """Write ``target`` through a temporary file renamed at the end: a failure (a full disk) leaves no partial file.

    The temporary file has an unpredictable name and mode 0600 (``tempfile.mkstemp``), and so has the dump.
    """
    temporary = ""
    try:
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=os.path.dirname(os.path.abspath(target))
        )
        with os.fdopen(descriptor, "wb") as out:
            out.writelines(chunks)
        os.replace(temporary, target)
    except BaseException as exc:
        if temporary:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        if isinstance(exc, OSError):
            raise StoreFileError(
                f"cannot write the dump {target}: {exc.strerror or exc} (nothing was left behind)",
                path=target,
                operation="write the dump",
                errno=exc.errno,
                strerror=exc.strerror or "",
            ) from exc
        raise


def _write_directory(sections: list[Section], folder: str) -> None:
    if os.path.isdir(folder) and os.listdir(folder):
        raise CliError(f"{folder} is not empty; dump into a new or empty directory")
    os.makedirs(folder, exist_ok=True)
    for section in sections:
        _write_file(os.path.join(folder, section.name + ".json"), _lines_of(section.documents))
        metadata = {"collectionName": section.name, "count": len(section.documents), "indexes": section.indexes}
        _write_file(os.path.join(folder, section.name + METADATA_SUFFIX), [orjson.dumps(metadata) + b"\n"])


def cmd_dump(args: argparse.Namespace) -> int:
    uri = resolve_uri(args.uri)
    with open_store(uri) as db:
        sections = read_store(db)
    target = args.output
    if target in (None, "-"):
        _write_stream(sections, sys.stdout.buffer)
        target = "stdout"
    elif target.endswith(".jsonl"):
        _write_file(target, _stream(sections))
    else:
        _write_directory(sections, target)
    total = sum(len(s.documents) for s in sections)
    summary = ", ".join(f"{len(s.documents)} {s.name}" for s in sections) or "nothing"
    print(f"dumped {total} documents ({summary}) from {describe_uri(uri)} to {target}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- load


def _lines(stream: Iterable[bytes], where: str) -> Iterator[tuple[int, Any]]:
    for number, raw in enumerate(stream, 1):
        if not raw.strip():
            continue
        try:
            yield number, orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise CliError(f"{where}:{number}: not valid JSON ({exc})") from exc


def _document(value: Any, where: str, number: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CliError(f"{where}:{number}: expected a JSON object (one document per line)")
    document: dict[str, Any] = from_ejson(value)
    return document


def _index_list(value: Any) -> list[dict[str, Any]]:
    """Indexes from a header or a metadata file (mongodump's too: ``v`` and ``ns`` are ignored)."""
    out = []
    for index in from_ejson(value or []):
        if isinstance(index, dict) and index.get("name") != "_id_" and isinstance(index.get("key"), dict):
            out.append({"name": index.get("name"), "key": index["key"], "unique": bool(index.get("unique"))})
    return out


def _read_stream(stream: Iterable[bytes], where: str, collection: str | None) -> list[Section]:
    sections: list[Section] = [Section(collection)] if collection else []
    for number, value in _lines(stream, where):
        if isinstance(value, dict) and "$collection" in value:
            if collection:
                raise CliError(f"{where}:{number}: a docstore dump header; load the file without --collection")
            sections.append(
                Section(str(value["$collection"]), _index_list(value.get("indexes")), declared_count=value.get("count"))
            )
            continue
        if not sections:
            raise CliError(
                f'{where}:{number}: not a docstore dump (no {{"$collection": ...}} header line); '
                "to load one mongoexport file, pass --collection NAME"
            )
        sections[-1].documents.append(_document(value, where, number))
    return sections


def _read_directory(folder: str) -> list[Section]:
    sections = []
    names = sorted(n for n in os.listdir(folder) if n.endswith(".json") and not n.endswith(METADATA_SUFFIX))
    if not names:
        raise CliError(f"{folder} holds no COLLECTION.json file")
    for name in names:
        collection = name[: -len(".json")]
        path = os.path.join(folder, name)
        with open(path, "rb") as stream:
            section = _read_stream(stream, path, collection)[0]
        metadata_path = os.path.join(folder, collection + METADATA_SUFFIX)
        if os.path.exists(metadata_path):
            with open(metadata_path, "rb") as stream:
                metadata: Any = next((v for _, v in _lines(stream, metadata_path)), {})
            if not isinstance(metadata, dict):
                raise CliError(f"{metadata_path}: expected a JSON object")
            section.indexes = _index_list(metadata.get("indexes"))
            section.declared_count = metadata.get("count")
        sections.append(section)
    return sections


def read_dump(path: str, collection: str | None = None) -> list[Section]:
    """The collections in a dump: a directory, a stream file, or ``-`` for stdin."""
    if path == "-":
        return _read_stream(sys.stdin.buffer, "<stdin>", collection)
    if os.path.isdir(path):
        if collection:
            raise CliError("--collection is for one mongoexport file, not a directory")
        return _read_directory(path)
    try:
        with open(path, "rb") as stream:
            sections = _read_stream(stream, path, collection)
    except FileNotFoundError as exc:
        raise CliError(f"no such file or directory: {path}") from exc
    for section in sections:
        if section.declared_count is not None and section.declared_count != len(section.documents):
            raise CliError(
                f"{path}: collection {section.name!r} declares {section.declared_count} documents but has "
                f"{len(section.documents)}; the dump is truncated or edited"
            )
    return sections


# ---------------------------------------------------------------- writing into a store


def _refuse_non_empty(db: docstore.Database, what: str) -> None:
    filled = {name: db[name].count_documents({}) for name in db.list_collection_names()}
    filled = {name: count for name, count in filled.items() if count}
    if filled:
        detail = ", ".join(f"{name}: {count}" for name, count in sorted(filled.items()))
        raise CliError(f"{what} {describe_uri(db.uri)} is not empty ({detail} documents); pass --merge to add to it")


def _insert(db: docstore.Database, section: Section, merge: bool) -> int:
    """Insert the section's documents; with ``merge``, skip identical ones and refuse different ones."""
    collection = db[section.name]
    inserted = 0
    for start in range(0, len(section.documents), BATCH):
        batch = section.documents[start : start + BATCH]
        if merge:
            existing = {d["_id"]: d for d in collection.find({"_id": {"$in": [d["_id"] for d in batch]}})}
            for document in batch:
                stored = existing.get(document["_id"])
                if stored is not None and ejson_line(stored) != ejson_line(document):
                    raise DuplicateKeyError(
                        f"{section.name}: a different document with _id {document['_id']!r} is already stored "
                        f"in {describe_uri(db.uri)}; nothing of this batch was written",
                        collection=section.name,
                        index="_id_",
                        key={"_id": document["_id"]},
                    )
            batch = [d for d in batch if d["_id"] not in existing]
        if batch:
            collection.insert_many(batch)
            inserted += len(batch)
    return inserted


def write_sections(db: docstore.Database, sections: list[Section], *, merge: bool, what: str) -> int:
    """Create each collection's indexes, then insert its documents; returns how many were inserted."""
    if not merge:
        _refuse_non_empty(db, what)
    inserted = 0
    for section in sections:
        for index in section.indexes:
            db[section.name].create_index(
                list(index["key"].items()), unique=bool(index.get("unique")), name=index.get("name")
            )
        inserted += _insert(db, section, merge)
    return inserted


def verify(db: docstore.Database, sections: list[Section], *, exact_count: bool) -> list[str]:
    """Differences between ``sections`` and what ``db`` holds now (empty when the copy is faithful)."""
    problems = []
    for section in sections:
        collection = db[section.name]
        if exact_count and collection.count_documents({}) != len(section.documents):
            problems.append(
                f"{section.name}: {collection.count_documents({})} documents, expected {len(section.documents)}"
            )
        for start in range(0, len(section.documents), BATCH):
            batch = section.documents[start : start + BATCH]
            stored = {d["_id"]: d for d in collection.find({"_id": {"$in": [d["_id"] for d in batch]}})}
            for document in batch:
                found = stored.get(document["_id"])
                if found is None:
                    problems.append(f"{section.name}: _id {document['_id']!r} is missing")
                elif ejson_line(found) != ejson_line(document):
                    problems.append(f"{section.name}: _id {document['_id']!r} differs: {_diff(document, found)}")
        names = {i["name"] for i in _indexes(db, section.name)}
        missing = [i["name"] for i in section.indexes if i["name"] not in names]
        problems.extend(f"{section.name}: index {name!r} is missing" for name in missing)
    return problems


def _diff(expected: dict[str, Any], found: dict[str, Any]) -> str:
    keys = [k for k in {**expected, **found} if to_ejson(expected.get(k)) != to_ejson(found.get(k))]
    if not keys and list(expected) != list(found):
        return f"key order {list(found)} instead of {list(expected)}"
    return "fields " + ", ".join(keys)


def _report(console_line: str, problems: list[str]) -> int:
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        print("docstore: error: verification failed after writing:\n  " + "\n  ".join(shown), file=sys.stderr)
        return 1
    make_console().print(console_line)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    uri = resolve_uri(args.uri)
    sections = read_dump(args.path, args.collection)
    with open_store(uri, must_exist=False) as db:
        inserted = write_sections(db, sections, merge=args.merge, what="destination")
        problems = verify(db, sections, exact_count=not args.merge)
    total = sum(len(s.documents) for s in sections)
    summary = ", ".join(f"{len(s.documents)} {s.name}" for s in sections)
    line = f"loaded {inserted} of {total} documents ({summary}) into {describe_uri(uri)}; verified"
    return _report(line, problems)


def cmd_copy(args: argparse.Namespace) -> int:
    if args.source == args.destination:
        raise CliError("source and destination are the same store")
    with open_store(args.source) as src:
        sections = read_store(src)
    with open_store(args.destination, must_exist=False) as dst:
        inserted = write_sections(dst, sections, merge=args.merge, what="destination")
        problems = verify(dst, sections, exact_count=not args.merge)
    total = sum(len(s.documents) for s in sections)
    indexes = sum(len(s.indexes) for s in sections)
    summary = ", ".join(f"{len(s.documents)} {s.name}" for s in sections) or "nothing"
    line = (
        f"copied {inserted} of {total} documents ({summary}) and {indexes} indexes from "
        f"{describe_uri(args.source)} to {describe_uri(args.destination)}; verified: every document identical"
    )
    return _report(line, problems)
