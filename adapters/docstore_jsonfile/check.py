"""Invariant checks: findings, never repairs (diskcache's ``check``, without the fixing)."""

from __future__ import annotations

from collections.abc import Hashable

from docstore_jsonfile.store import Collection, Store, hashed_paths
from docstore_jsonfile.values import index_key, same_value

__all__ = ["check_store", "compare_stores"]


def check_store(store: Store) -> list[str]:
    """Whether ids, unique keys and every index agree with the documents. Empty when all is well."""
    findings: list[str] = []
    for name, collection in store.collections.items():
        findings.extend(_check_ids(name, collection))
        findings.extend(_check_unique(name, collection))
        findings.extend(_check_hashed(name, collection))
    return findings


def _check_ids(name: str, collection: Collection) -> list[str]:
    findings = []
    for id_key, document in collection.docs.items():
        if "_id" not in document or index_key(document["_id"]) != id_key:
            findings.append(f"{name}: document stored under id {id_key!r} has _id {document.get('_id')!r}")
    if collection.seq.keys() != collection.docs.keys():
        findings.append(f"{name}: the positions of documents disagree with the documents")
    elif list(collection.seq.values()) != sorted(collection.seq.values()):
        findings.append(f"{name}: document positions are not in natural order")
    return findings


def _check_unique(name: str, collection: Collection) -> list[str]:
    findings = []
    for index_name, unique in collection.unique.items():
        expected: dict[tuple[Hashable, ...], Hashable] = {}
        for id_key, document in collection.docs.items():
            for key in unique.keys_of(document):
                owner = expected.setdefault(key, id_key)
                if owner != id_key:
                    findings.append(
                        f"{name}: unique index {index_name!r} is broken: documents {owner!r} and {id_key!r} "
                        f"share the key {unique.key_document(document)}"
                    )
        if expected != unique.owners:
            findings.append(f"{name}: unique index {index_name!r} disagrees with the documents")
    for spec in collection.indexes.values():
        if spec.unique and spec.name not in collection.unique:
            findings.append(f"{name}: unique index {spec.name!r} is not maintained")
    return findings


def _check_hashed(name: str, collection: Collection) -> list[str]:
    findings = []
    wanted = set(hashed_paths(collection.indexes.values()))
    if set(collection.hashable) != wanted or not set(collection.hashed) <= wanted:
        findings.append(f"{name}: hash indexes on {sorted(collection.hashed)}, expected some of {sorted(wanted)}")
    for paths, hashed in collection.hashed.items():
        expected: dict[Hashable, set[Hashable]] = {}
        for id_key, document in collection.docs.items():
            for key in hashed.keys_of(document):
                expected.setdefault(key, set()).add(id_key)
        entries = list(hashed.entries())
        if {key: set(found) for key, found, _ in entries} != expected:
            findings.append(f"{name}: the hash index on {paths} disagrees with the documents")
            continue
        for key, found, in_order in entries:
            if any(document is not collection.docs[id_key] for id_key, document in found.items()):
                findings.append(f"{name}: the hash index on {paths} holds a stale document under {key!r}")
            positions = [collection.seq[id_key] for id_key in found]
            if in_order and positions != sorted(positions):
                findings.append(f"{name}: the hash index on {paths} under {key!r} claims an order it lacks")
    return findings


def compare_stores(in_memory: Store, on_disk: Store) -> list[str]:
    """Differences between this process's state and what the files hold."""
    findings = []
    if list(in_memory.collections) != list(on_disk.collections):
        findings.append(
            f"collections in memory {sorted(in_memory.collections)} "
            f"differ from those on disk {sorted(on_disk.collections)}"
        )
    for name, collection in in_memory.collections.items():
        other = on_disk.collections.get(name)
        if other is None:
            continue
        if collection.indexes != other.indexes:
            findings.append(f"{name}: indexes in memory differ from those on disk")
        if list(collection.docs) != list(other.docs):
            findings.append(f"{name}: the documents in memory (or their order) differ from those on disk")
            continue
        for id_key, document in collection.docs.items():
            if not same_value(document, other.docs[id_key]):
                findings.append(f"{name}: document {id_key!r} in memory differs from the one on disk")
    return findings
