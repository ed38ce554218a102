"""Copy an Orion PickledDB (``orion_db.pkl``) into a docstore store.

``docstore import-orion ORION_DB.pkl DST_URI`` calls :func:`import_pickleddb`. Every
collection of the pickle is copied document for document: experiments (with their EVC
references), trials, benchmarks and the algorithm locks with their pickled algorithm
state, so Orion resumes the experiments from the docstore store with either plug-in.
Ids are kept as they are (PickledDB numbers them 1, 2, ...), so every reference between
documents stays valid; the unique indexes of the pickle are created too.

Nothing is written when the destination already holds a document with one of the same
ids, or an experiment with the same name and version: the import raises
:class:`docstore.DuplicateKeyError` naming them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from orion.core.io.database.pickleddb import PickledDB

import docstore
from docstore_orion._convert import to_docstore

__all__ = ["ImportReport", "import_pickleddb"]

# experiments first: a reader that looks at the store during the import finds an
# experiment before its trials and its algorithm lock
_ORDER = ("experiments", "algo", "benchmarks", "trials")


@dataclass
class ImportReport:
    """What :func:`import_pickleddb` copied: documents per collection, and the indexes created."""

    source: str
    destination: str
    documents: dict[str, int] = field(default_factory=dict)
    indexes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.documents.values())

    def __str__(self) -> str:
        counts = ", ".join(f"{name} {count}" for name, count in self.documents.items())
        return f"imported {self.total} documents from {self.source} into {self.destination}: {counts}"


def _read_pickleddb(path: str, timeout: float) -> dict[str, tuple[list[dict[str, Any]], list[tuple[str, ...]]]]:
    """``{collection: (documents, unique index keys)}``, read under PickledDB's own file lock."""
    source = PickledDB(host=path, timeout=timeout)
    content: dict[str, tuple[list[dict[str, Any]], list[tuple[str, ...]]]] = {}
    with source.locked_database(write=False) as ephemeral:
        for name, collection in ephemeral._db.items():
            documents = [to_docstore(doc) for doc in collection.find()]
            unique = [tuple(keys) for keys, _ in collection._indexes.values() if tuple(keys) != ("_id",)]
            content[name] = (documents, unique)
    return content


def _conflicts(db: docstore.Database, name: str, documents: list[dict[str, Any]]) -> list[str]:
    ids = [doc["_id"] for doc in documents if "_id" in doc]
    clashes = [f"{name} _id {doc['_id']!r}" for doc in db[name].find({"_id": {"$in": ids}}, {"_id": 1})] if ids else []
    if name == "experiments":
        for doc in documents:
            key = {"name": doc.get("name"), "version": doc.get("version")}
            if db[name].count_documents(key):
                clashes.append(f"experiment {key['name']!r} version {key['version']!r}")
    return clashes


def import_pickleddb(pkl_path: str | os.PathLike[str], dst_uri: str, *, timeout: float = 60) -> ImportReport:
    """Copy the PickledDB at ``pkl_path`` into the docstore store at ``dst_uri``.

    ``timeout`` is how long to wait for the PickledDB's lock (Orion workers may hold it).
    Raises ``FileNotFoundError`` if there is no pickle, and :class:`docstore.DuplicateKeyError`
    (having written nothing) if the destination already has any of its documents.
    """
    path = os.path.abspath(os.fspath(pkl_path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no Orion PickledDB at {path}")
    content = _read_pickleddb(path, timeout)
    names = [n for n in _ORDER if n in content] + sorted(set(content) - set(_ORDER))
    with docstore.connect(dst_uri) as db:
        report = ImportReport(source=path, destination=db.uri)
        clashes = [clash for name in names for clash in _conflicts(db, name, content[name][0])]
        if clashes:
            shown = ", ".join(clashes[:5]) + (f" and {len(clashes) - 5} more" if len(clashes) > 5 else "")
            raise docstore.DuplicateKeyError(
                f"{db.uri} already holds documents of {path}: {shown}; nothing was imported",
                collection=clashes[0].split()[0],
            )
        for name in names:
            documents, unique_indexes = content[name]
            report.indexes[name] = [
                db[name].create_index([(key, 1) for key in keys], unique=True) for keys in unique_indexes
            ]
            if documents:
                db[name].insert_many(documents)
            report.documents[name] = len(documents)
    return report
