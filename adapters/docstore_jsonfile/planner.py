"""Engine verbs -> effects, computed against the current state without changing it.

Everything that can fail (an update that cannot apply, a duplicate key) fails here,
before a journal line is written, so a failed operation changes nothing anywhere. A
multi-document operation is all-or-nothing: its effects go in one journal line.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from docstore.documents import new_id
from docstore.engine import IndexSpec
from docstore.errors import DuplicateKeyError, InvalidOperation
from docstore_jsonfile.store import ID_INDEX, Collection, Document, Effect, Store
from docstore_jsonfile.values import index_key, same_value

if TYPE_CHECKING:
    from docstore.query import Filter, Sort, Update

__all__ = [
    "Plan",
    "exact_equality",
    "matching",
    "plan_create_index",
    "plan_delete",
    "plan_drop",
    "plan_drop_index",
    "plan_insert",
    "plan_update",
]


@dataclass
class Plan:
    """The effects of one operation and what it reports."""

    effects: list[Effect] = field(default_factory=list)
    matched: int = 0
    modified: int = 0
    deleted: int = 0
    upserted_id: Any = None
    before: Document | None = None
    after: Document | None = None
    name: str = ""


# ---------------------------------------------------------------- selecting


def exact_equality(filter: Filter, paths: tuple[str, ...] | None) -> bool:
    """Whether every document in the buckets of the hash index on ``paths`` matches ``filter``.

    True when the filter is one equality per indexed path and nothing else:
    ``{path: scalar}``, ``{path: {"$eq": scalar}}`` or ``{path: {"$in": [scalars]}}`` on
    top-level fields. A bucket holds exactly the documents whose value equals its key or is
    an array containing it, which is MongoDB's equality.
    """
    spec = filter.spec
    if paths is None or len(spec) != len(paths) or any("." in path or path not in spec for path in paths):
        return False
    for path in paths:
        value = spec[path]
        if type(value) is dict and len(value) == 1:
            operator, operand = next(iter(value.items()))
            if operator == "$eq":
                value = operand
            elif operator == "$in" and type(operand) is list:
                if not all(_scalar(item) for item in operand):
                    return False
                continue
            else:
                return False
        if not _scalar(value):
            return False
    return True


def _scalar(value: Any) -> bool:
    return value is not None and type(value) not in (dict, list) and _indexable(value)


def _indexable(value: Any) -> bool:
    try:
        index_key(value)
    except TypeError:
        return False
    return True


def matching(collection: Collection | None, filter: Filter) -> list[Document]:
    """Every stored document matching ``filter``, in natural order (references, not copies)."""
    if collection is None:
        return []
    found, in_order, path = collection.candidates(filter.equalities())
    documents = collection.natural(found, in_order)
    if exact_equality(filter, path):
        return list(documents)
    matches = filter.matches
    return [document for document in documents if matches(document)]


def first_match(collection: Collection | None, filter: Filter, sort: Sort | None) -> Document | None:
    """The document a single-document operation acts on: the min by ``sort``, else the first."""
    if collection is None:
        return None
    hints = filter.equalities()
    found, in_order, path = collection.candidates(hints)
    exact = exact_equality(filter, path)
    matches = filter.matches
    if sort is None:
        if in_order:
            for document in found.values():
                if exact or matches(document):
                    return document
            return None
        # positions decide: the match with the lowest, without sorting every candidate
        position = collection.seq.__getitem__
        best = min((key for key, document in found.items() if exact or matches(document)), key=position, default=None)
        return None if best is None else found[best]
    sort_id = _sort_identity(sort)
    if exact and path is not None and sort_id is not None:  # every candidate matches: a sorted view answers
        return collection.first_sorted(path, hints, sort, sort_id)
    documents: Iterable[Document] = collection.natural(found, in_order)  # ties go to the natural order
    if not exact:
        documents = (document for document in documents if matches(document))
    return min(documents, key=sort.key, default=None)


def _sort_identity(sort: Sort) -> Hashable | None:
    """What makes two sorts the same (their keys), or None if that cannot be told."""
    try:
        identity = tuple((str(name), int(direction)) for name, direction in sort.keys)
    except (TypeError, ValueError):
        return None
    return identity


def select(collection: Collection | None, filter: Filter, sort: Sort | None, skip: int, limit: int) -> list[Document]:
    """The documents ``find`` returns, before projection and copying."""
    documents = matching(collection, filter)
    if sort is not None:
        if limit and skip + limit < len(documents) // 4:
            return heapq.nsmallest(skip + limit, documents, key=sort.key)[skip:]  # stable, like sorted()
        documents = sorted(documents, key=sort.key)
    if skip or limit:
        documents = documents[skip : skip + limit if limit else None]
    return documents


# ---------------------------------------------------------------- writing


def plan_insert(store: Store, name: str, documents: list[Document]) -> Plan:
    plan = Plan(effects=[("put", name, document) for document in documents])
    _check_unique(store, name, plan.effects, inserted=len(documents))
    return plan


def plan_update(
    store: Store,
    name: str,
    filter: Filter,
    update: Update,
    *,
    sort: Sort | None = None,
    upsert: bool = False,
    multi: bool = False,
) -> Plan:
    collection = store.get(name)
    if multi:
        targets = matching(collection, filter)
    else:
        target = first_match(collection, filter, sort)
        targets = [] if target is None else [target]
    plan = Plan(matched=len(targets))
    for old in targets:
        new = _keep_id(old, update.apply(old))
        if not same_value(old, new):
            plan.effects.append(("put", name, new))
            plan.modified += 1
        if not multi:
            plan.before, plan.after = old, new
    inserted = 0
    if not targets and upsert:
        inserted = 1
        seed = update.apply_upsert(filter)
        if "_id" not in seed:
            seed = {"_id": new_id(), **seed}
        plan.effects.append(("put", name, seed))
        plan.upserted_id, plan.after = seed["_id"], seed
    _check_unique(store, name, plan.effects, inserted=inserted)
    return plan


def _keep_id(old: Document, new: Document) -> Document:
    """``new`` with ``old``'s ``_id`` first; an update may not change an ``_id`` (MongoDB's rule)."""
    if "_id" not in new:
        return {"_id": old["_id"], **new}
    if not same_value(new["_id"], old["_id"]):
        raise InvalidOperation(
            f"an update may not change the immutable field '_id' (from {old['_id']!r} to {new['_id']!r})",
            operator="update",
            path="_id",
        )
    if next(iter(new)) != "_id":
        return {"_id": new["_id"], **{key: value for key, value in new.items() if key != "_id"}}
    return new


def plan_delete(store: Store, name: str, filter: Filter, *, multi: bool) -> Plan:
    collection = store.get(name)
    if multi:
        targets = matching(collection, filter)
    else:
        target = first_match(collection, filter, None)
        targets = [] if target is None else [target]
    return Plan(effects=[("del", name, document["_id"]) for document in targets], deleted=len(targets))


def plan_create_index(store: Store, name: str, spec: IndexSpec) -> Plan:
    if spec.keys == ID_INDEX.keys:
        return Plan(name=ID_INDEX.name)  # always there
    collection = store.get(name)
    for current in (collection.indexes if collection is not None else {}).values():
        same = current.keys == spec.keys and current.unique == spec.unique
        if current.name == spec.name and same:
            return Plan(name=current.name)
        if current.name == spec.name or current.keys == spec.keys:
            raise InvalidOperation(
                f"cannot create index {spec.name!r} {list(spec.keys)} (unique={spec.unique}) on {name!r}: "
                f"index {current.name!r} {list(current.keys)} (unique={current.unique}) conflicts with it",
                operator="create_index",
            )
    if spec.unique and collection is not None:
        _check_new_unique(collection, spec)
    return Plan(effects=[("index", name, spec)], name=spec.name)


def _check_new_unique(collection: Collection, spec: IndexSpec) -> None:
    from docstore_jsonfile.store import UniqueIndex

    probe = UniqueIndex(spec)
    for id_key, document in collection.docs.items():
        for key in probe.keys_of(document):
            if probe.owners.setdefault(key, id_key) != id_key:
                _raise_duplicate(collection.name, spec.name, probe.key_document(document))


def plan_drop_index(store: Store, name: str, index_name: str) -> Plan:
    collection = store.get(name)
    if collection is None or index_name not in collection.indexes:
        raise InvalidOperation(f"index not found with name {index_name!r} on {name!r}", operator="drop_index")
    return Plan(effects=[("unindex", name, index_name)])


def plan_drop(store: Store, name: str) -> Plan:
    return Plan(effects=[("drop", name, None)] if store.get(name) is not None else [])


# ---------------------------------------------------------------- unique keys


def _check_unique(store: Store, name: str, effects: list[Effect], inserted: int) -> None:
    """Raise DuplicateKeyError if applying ``effects`` would break a unique index.

    ``effects`` are puts; the last ``inserted`` of them are new documents, the others new
    versions of stored ones (whose ``_id`` cannot change).
    """
    collection = store.get(name)
    docs: Mapping[Hashable, Document] = collection.docs if collection is not None else {}
    puts = [(index_key(document["_id"]), document) for _, _, document in effects]
    new_ids: set[Hashable] = set()
    for id_key, document in puts[len(puts) - inserted :]:
        if id_key in docs or id_key in new_ids:
            _raise_duplicate(name, ID_INDEX.name, {"_id": document["_id"]})
        new_ids.add(id_key)
    if collection is None or not collection.unique:
        return
    touched = {id_key for id_key, _ in puts}
    for index_name, unique in collection.unique.items():
        pending: dict[tuple[Hashable, ...], Hashable] = {}
        for id_key, document in puts:
            for key in unique.keys_of(document):
                owner = pending.get(key)
                if owner is None:
                    owner = unique.owners.get(key)
                    if owner in touched:  # that document's own new version says which keys it keeps
                        owner = None
                if owner is not None and owner != id_key:
                    _raise_duplicate(name, index_name, unique.key_document(document))
                pending[key] = id_key


def _raise_duplicate(collection: str, index: str, key: dict[str, Any]) -> None:
    shown = ", ".join(f"{field}: {value!r}" for field, value in key.items())
    raise DuplicateKeyError(
        f"duplicate key in collection {collection!r}, index {index!r}: {{{shown}}}",
        collection=collection,
        index=index,
        key=key,
    )
