"""Indexes change how candidates are found, never what is found: random operations, checked against full scans."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

import docstore
from docstore import query

VALUES: list[Any] = [1, 1.0, 2, True, False, "a", "b", "c", None, [1, "a"], ["b"], [], {"x": 1}]
FIELDS = ["status", "experiment", "k", "tag"]


def _document(rng: random.Random, n: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": f"d{n:03d}", "n": n}
    for field in FIELDS:
        if rng.random() < 0.85:
            doc[field] = rng.choice(VALUES)
    return doc


def _filter(rng: random.Random) -> dict[str, Any]:
    first, second = rng.sample(FIELDS, 2)
    value = rng.choice(VALUES)
    shape = rng.randrange(4)
    if shape == 0:
        return {first: value}
    if shape == 1:
        return {first: {"$in": rng.sample(VALUES, 3)}}
    if shape == 2:
        return {first: value, second: rng.choice(VALUES)}
    return {"experiment": rng.choice(VALUES), "status": {"$in": rng.sample(VALUES, 2)}}


def _scan(db: docstore.Database, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """What a filter must find: every document, in natural order, kept if it matches."""
    compiled = query.compile_filter(spec)
    return [doc for doc in db["c"].find() if compiled.matches(doc)]


def _first_by(candidates: list[dict[str, Any]], sort: list[tuple[str, int]]) -> dict[str, Any] | None:
    key = query.compile_sort(sort).key
    return sorted(candidates, key=key)[0] if candidates else None  # stable: ties in natural order


@pytest.mark.parametrize("seed", range(6))
def test_random_operations_find_what_a_full_scan_finds(local_uri: str, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    uri = local_uri if local_uri.startswith("memory") else str(tmp_path / f"s{seed}.json")
    with docstore.connect(uri, **({} if uri.startswith("memory") else {"durable": False})) as db:
        coll = db["c"]
        coll.create_index("k")
        coll.create_index([("status", 1), ("tag", 1)])
        coll.insert_many([_document(rng, n) for n in range(40)])
        serial = 40
        for step in range(120):
            spec = _filter(rng)
            expected = _scan(db, spec)
            assert coll.find(spec).to_list() == expected, (step, spec)
            assert coll.count_documents(spec) == len(expected), (step, spec)
            action = rng.randrange(5)
            field, value = rng.choice(FIELDS), rng.choice(VALUES)
            if action == 0:
                coll.insert_one(_document(rng, serial))
                serial += 1
            elif action == 1:
                coll.update_many(spec, {"$set": {field: value}})
            elif action == 2:
                coll.delete_one(spec)
            else:
                sort = [(rng.choice(FIELDS), rng.choice([1, -1])), ("n", rng.choice([1, -1]))]
                wanted = _first_by(expected, sort)
                got = coll.find_one_and_update(spec, {"$set": {field: value, "touched": step}}, sort=sort)
                assert (got or {}).get("_id") == (wanted or {}).get("_id"), (step, spec, sort)
        assert db.check() == []
        final = [doc["_id"] for doc in coll.find()]
    if not uri.startswith("memory"):
        with docstore.connect(uri) as db:  # the files replay to the same state, in the same order
            assert [doc["_id"] for doc in db["c"].find()] == final
            assert db.check() == []


def test_reservations_take_the_oldest_pending_as_trials_come_and_go(local_db: docstore.Database) -> None:
    """The sorted view behind reservations stays right while trials are reserved, freed and added."""
    trials = local_db["trials"]
    trials.insert_many([{"_id": f"t{i:02d}", "experiment": "e", "status": "new", "submit": 100 - i} for i in range(20)])
    pending = {"experiment": "e", "status": {"$in": ["new", "interrupted"]}}
    sort = [("submit", 1), ("_id", 1)]
    reserve = {"$set": {"status": "reserved"}}
    taken = [(trials.find_one_and_update(pending, reserve, sort=sort) or {})["_id"] for _ in range(3)]
    assert taken == ["t19", "t18", "t17"]
    trials.update_one({"_id": "t18"}, {"$set": {"status": "interrupted"}})  # back in the pool
    trials.insert_one({"_id": "late", "experiment": "e", "status": "new", "submit": 0})
    trials.update_one({"_id": "t16"}, {"$set": {"submit": 1000}})  # moves to the end while pending
    order = []
    while (doc := trials.find_one_and_update(pending, reserve, sort=sort)) is not None:
        order.append(doc["_id"])
    assert order == ["late", "t18", *[f"t{i:02d}" for i in range(15, -1, -1) if i != 16], "t16"]
    assert local_db.check() == []


def test_sorted_reservations_follow_bson_order_across_types_and_a_switch_to_full_comparisons(
    local_db: docstore.Database,
) -> None:
    """Plain sort keys (numbers, strings, dates, null, booleans) are compared as tuples; a value that is
    not plain (NaN, an array) makes the view compare in full from then on. Either way: BSON's order."""
    import datetime as dt

    when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    values: list[Any] = [3, 2.5, "b", "a", when, None, True, False, -1, 2**62, 2.5]
    trials = local_db["trials"]
    trials.insert_many([{"_id": f"t{i:02d}", "status": "new", "submit": v} for i, v in enumerate(values)])
    trials.insert_one({"_id": "t99", "status": "new"})  # missing sorts as null
    sort = [("submit", 1), ("_id", 1)]
    take = {"$set": {"status": "taken"}}
    order = []
    for step in range(len(values) + 1):
        if step == 4:  # from now on the view holds values tuples cannot compare in BSON's order
            trials.update_one({"_id": "t00"}, {"$set": {"submit": [7, 0]}})
            trials.update_one({"_id": "t10"}, {"$set": {"submit": float("nan")}})
        expected = _first_by(trials.find({"status": "new"}).to_list(), sort)
        doc = trials.find_one_and_update({"status": "new"}, take, sort=sort)
        assert doc is not None
        assert expected is not None
        assert doc["_id"] == expected["_id"], (step, order)
        order.append(doc["_id"])
    assert trials.find_one_and_update({"status": "new"}, take, sort=sort) is None
    assert order[:4] == ["t05", "t99", "t08", "t01"]  # null, null (missing), then -1 < 2.5 (t01 before t10)
    assert order[4:6] == ["t10", "t00"]  # NaN sorts below every number; an array by its smallest element
    assert local_db.check() == []
