"""Unique indexes, duplicate ``_id`` and ``find_one_and_update`` as compare-and-set."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from docstore.database import Database, ReturnDocument
from docstore.errors import DuplicateKeyError, UnsupportedQuery
from docstore.testing.support import require, snapshot, typed

__all__ = ["CompareAndSetSuite", "IndexSuite"]


class IndexSuite:
    """Unique indexes (single, compound, missing as null) and ``_id`` uniqueness. Needs ``db``."""

    def test_duplicate_id(self, db: Database) -> None:
        coll = db["i"]
        coll.insert_one({"_id": "a", "v": 1})
        before = snapshot(db)
        with pytest.raises(DuplicateKeyError):
            coll.insert_one({"_id": "a", "v": 2})
        assert snapshot(db) == before

    def test_duplicate_id_within_insert_many(self, db: Database) -> None:
        db["i"].insert_one({"_id": "keep"})
        before = snapshot(db)
        with pytest.raises(DuplicateKeyError):
            db["i"].insert_many([{"_id": "x"}, {"_id": "y"}, {"_id": "x"}])
        require(db, "atomic_multi_update")
        assert snapshot(db) == before

    def test_unique_index_rejects_insert(self, db: Database) -> None:
        coll = db["i"]
        assert coll.create_index("k", unique=True) == "k_1"
        coll.insert_one({"_id": "a", "k": 1})
        before = snapshot(db)
        with pytest.raises(DuplicateKeyError):
            coll.insert_one({"_id": "b", "k": 1.0})
        assert snapshot(db) == before
        coll.insert_one({"_id": "c", "k": True})  # true is not 1
        coll.insert_one({"_id": "d", "k": "1"})
        assert coll.count_documents({}) == 3

    def test_unique_index_rejects_update_and_upsert(self, db: Database) -> None:
        coll = db["i"]
        coll.create_index([("k", 1)], unique=True)
        coll.insert_many([{"_id": "a", "k": 1}, {"_id": "b", "k": 2}])
        before = snapshot(db)
        with pytest.raises(DuplicateKeyError):
            coll.update_one({"_id": "b"}, {"$set": {"k": 1}})
        with pytest.raises(DuplicateKeyError):
            coll.find_one_and_update({"_id": "b"}, {"$inc": {"k": -1}})
        with pytest.raises(DuplicateKeyError):
            coll.replace_one({"_id": "b"}, {"k": 1})
        with pytest.raises(DuplicateKeyError):
            coll.update_one({"k": 5, "other": 1}, {"$set": {"k": 2}}, upsert=True)
        assert snapshot(db) == before

    def test_compound_unique_index(self, db: Database) -> None:
        coll = db["i"]
        name = coll.create_index([("a", 1), ("b", -1)], unique=True)
        assert name == "a_1_b_-1"
        coll.insert_many([{"a": 1, "b": 1}, {"a": 1, "b": 2}, {"a": 2, "b": 1}])
        before = snapshot(db)
        with pytest.raises(DuplicateKeyError):
            coll.insert_one({"a": 1, "b": 2})
        assert snapshot(db) == before

    def test_unique_index_treats_missing_as_null(self, db: Database) -> None:
        coll = db["i"]
        coll.create_index("k", unique=True)
        coll.insert_one({"_id": "a"})
        before = snapshot(db)
        with pytest.raises(DuplicateKeyError):
            coll.insert_one({"_id": "b"})
        with pytest.raises(DuplicateKeyError):
            coll.insert_one({"_id": "c", "k": None})
        assert snapshot(db) == before

    def test_compound_unique_index_with_missing_field(self, db: Database) -> None:
        coll = db["i"]
        coll.create_index([("a", 1), ("b", 1)], unique=True)
        coll.insert_one({"a": 1})
        coll.insert_one({"a": 2})
        with pytest.raises(DuplicateKeyError):
            coll.insert_one({"a": 1, "b": None})
        assert coll.count_documents({}) == 2

    def test_create_unique_index_on_violating_data(self, db: Database) -> None:
        coll = db["i"]
        coll.insert_many([{"_id": "a", "k": 1}, {"_id": "b", "k": 1}])
        before = snapshot(db)
        with pytest.raises(DuplicateKeyError):
            coll.create_index("k", unique=True)
        assert "k_1" not in coll.index_information()
        assert snapshot(db) == before
        coll.insert_one({"_id": "c", "k": 1})  # no index was left behind
        assert coll.count_documents({"k": 1}) == 3

    def test_index_information_and_drop_index(self, db: Database) -> None:
        coll = db["i"]
        coll.insert_one({"a": 1})
        info = coll.index_information()
        assert info["_id_"] == {"key": [("_id", 1)], "unique": True}  # the implicit unique _id index
        assert set(info) == {"_id_"}
        assert coll.create_index([("a", 1), ("b", -1)]) == "a_1_b_-1"
        assert coll.create_index("c", unique=True, name="c_unique") == "c_unique"
        info = coll.index_information()
        assert set(info) == {"_id_", "a_1_b_-1", "c_unique"}
        assert info["a_1_b_-1"]["key"] == [("a", 1), ("b", -1)]
        assert not info["a_1_b_-1"].get("unique", False)
        assert info["c_unique"] == {"key": [("c", 1)], "unique": True}
        assert coll.create_index("c", unique=True, name="c_unique") == "c_unique"  # idempotent
        coll.drop_index("c_unique")
        assert set(coll.index_information()) == {"_id_", "a_1_b_-1"}
        coll.insert_many([{"c": 1}, {"c": 1}])
        with pytest.raises(UnsupportedQuery):
            coll.drop_index("_id_")

    def test_non_unique_index_allows_duplicates(self, db: Database) -> None:
        db["i"].create_index("k")
        db["i"].insert_many([{"k": 1}, {"k": 1}])
        assert db["i"].count_documents({"k": 1}) == 2


class CompareAndSetSuite:
    """``find_one_and_update`` as the compare-and-set everything atomic is built on. Needs ``db``."""

    def _seed_trials(self, db: Database) -> None:
        db["t"].insert_many(
            [
                {"_id": "t1", "status": "new", "priority": 1, "submit": 3},
                {"_id": "t2", "status": "new", "priority": 5, "submit": 2},
                {"_id": "t3", "status": "completed", "priority": 9, "submit": 1},
                {"_id": "t4", "status": "new", "priority": 3, "submit": 4},
            ]
        )

    def test_returns_before_by_default_and_second_cas_fails(self, db: Database) -> None:
        self._seed_trials(db)
        cas: dict[str, Any] = {"_id": "t1", "status": "new"}
        first = db["t"].find_one_and_update(cas, {"$set": {"status": "reserved"}})
        assert typed(first) == typed({"_id": "t1", "status": "new", "priority": 1, "submit": 3})
        assert (db["t"].find_one("t1") or {})["status"] == "reserved"
        before = snapshot(db)
        assert db["t"].find_one_and_update(cas, {"$set": {"status": "reserved"}}) is None
        assert snapshot(db) == before

    def test_return_after(self, db: Database) -> None:
        self._seed_trials(db)
        after = db["t"].find_one_and_update(
            {"_id": "t2", "status": "new"},
            {"$set": {"status": "reserved"}, "$inc": {"priority": 1}},
            return_document=ReturnDocument.AFTER,
        )
        assert typed(after) == typed({"_id": "t2", "status": "reserved", "priority": 6, "submit": 2})
        assert typed(db["t"].find_one("t2")) == typed(after)

    def test_return_document_accepts_pymongo_booleans(self, db: Database) -> None:
        self._seed_trials(db)
        after = db["t"].find_one_and_update({"_id": "t1"}, {"$set": {"x": 1}}, return_document=True)
        assert (after or {}).get("x") == 1
        before = db["t"].find_one_and_update({"_id": "t1"}, {"$set": {"x": 2}}, return_document=False)
        assert (before or {}).get("x") == 1

    @pytest.mark.parametrize(
        ("sort", "expected"),
        [([("priority", -1)], "t2"), ([("submit", 1)], "t2"), ([("submit", -1)], "t4"), ([("priority", 1)], "t1")],
        ids=["priority-desc", "submit-asc", "submit-desc", "priority-asc"],
    )
    def test_sort_picks_the_right_document(self, db: Database, sort: list[tuple[str, int]], expected: str) -> None:
        self._seed_trials(db)
        found = db["t"].find_one_and_update({"status": "new"}, {"$set": {"status": "reserved"}}, sort=sort)
        assert (found or {}).get("_id") == expected
        assert [doc["_id"] for doc in db["t"].find({"status": "reserved"})] == [expected]

    def test_projection(self, db: Database) -> None:
        self._seed_trials(db)
        found = db["t"].find_one_and_update(
            {"_id": "t1"}, {"$set": {"status": "x"}}, projection={"status": 1}, return_document=ReturnDocument.AFTER
        )
        assert found == {"_id": "t1", "status": "x"}
        found = db["t"].find_one_and_update(
            {"_id": "t1"}, {"$set": {"status": "y"}}, projection={"_id": 0, "priority": 1}
        )
        assert found == {"priority": 1}

    def test_no_match_changes_nothing(self, db: Database) -> None:
        self._seed_trials(db)
        before = snapshot(db)
        assert db["t"].find_one_and_update({"status": "broken"}, {"$set": {"status": "new"}}) is None
        assert snapshot(db) == before

    def test_drain_reserves_each_document_once(self, db: Database) -> None:
        self._seed_trials(db)
        reserved = []
        while (
            doc := db["t"].find_one_and_update(
                {"status": "new"}, {"$set": {"status": "reserved"}}, sort=[("submit", 1)]
            )
        ) is not None:
            reserved.append(doc["_id"])
        assert reserved == ["t2", "t1", "t4"]

    def test_threads_race_and_each_document_is_won_once(self, db: Database) -> None:
        count, workers = 30, 6
        db["t"].insert_many([{"_id": f"r{i:02d}", "status": "new"} for i in range(count)])
        won: list[list[str]] = [[] for _ in range(workers)]
        errors: list[BaseException] = []

        def work(slot: int) -> None:
            try:
                while (
                    doc := db["t"].find_one_and_update({"status": "new"}, {"$set": {"status": "reserved", "by": slot}})
                ) is not None:
                    won[slot].append(doc["_id"])
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(slot,)) for slot in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        all_won = [uid for ids in won for uid in ids]
        assert sorted(all_won) == [f"r{i:02d}" for i in range(count)]
        for slot, ids in enumerate(won):
            assert db["t"].count_documents({"by": slot}) == len(ids)
