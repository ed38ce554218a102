"""Basic writes and reads, value round trips, and :class:`EngineSuite`, which gathers every suite."""

from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any

from docstore.database import Database, ReturnDocument
from docstore.testing.engine_suite_indexes import CompareAndSetSuite, IndexSuite
from docstore.testing.engine_suite_queries import QuerySuite
from docstore.testing.engine_suite_reads import CursorSuite, ProjectionSuite, SortSuite
from docstore.testing.engine_suite_rejects import RejectionSuite
from docstore.testing.engine_suite_updates import UpdateSuite, UpsertSuite
from docstore.testing.support import UTC, typed

__all__ = ["CrudSuite", "EngineSuite", "ValueSuite"]

_ID = re.compile(r"[0-9a-f]{24}")


def _round_trip(db: Database, value: Any) -> Any:
    """Store ``value`` in a fresh document, read it back (by a filter on a plain field)."""
    db["v"].insert_one({"_id": "rt", "v": value})
    found = db["v"].find_one({"_id": "rt"})
    assert found is not None
    return found["v"]


class CrudSuite:
    """Insert, find, ids and capabilities. Needs a ``db`` fixture: a fresh empty Database."""

    def test_insert_one_and_find_one(self, db: Database) -> None:
        result = db["c"].insert_one({"_id": "a", "x": 1})
        assert result.inserted_id == "a"
        assert typed(db["c"].find_one({"x": 1})) == typed({"_id": "a", "x": 1})
        assert typed(db["c"].find_one("a")) == typed({"_id": "a", "x": 1})
        assert db["c"].find_one("b") is None
        assert db["c"].find_one({"x": 2}) is None

    def test_generated_ids_are_unique_strings_set_on_the_callers_documents(self, db: Database) -> None:
        one = {"x": 1}
        result = db["c"].insert_one(one)
        assert isinstance(one["_id"], str)
        assert _ID.fullmatch(one["_id"])
        assert result.inserted_id == one["_id"]
        many: list[dict[str, Any]] = [{"x": i} for i in range(5)]
        ids = db["c"].insert_many(many).inserted_ids
        assert ids == [doc["_id"] for doc in many]
        assert len(set(ids) | {one["_id"]}) == 6
        for doc in many:
            assert (db["c"].find_one(doc["_id"]) or {}).get("x") == doc["x"]

    def test_insert_many_keeps_given_ids_and_order(self, db: Database) -> None:
        ids = db["c"].insert_many([{"_id": "z"}, {"_id": "a"}, {"n": 1}]).inserted_ids
        assert ids[:2] == ["z", "a"]
        assert _ID.fullmatch(ids[2])
        assert db["c"].count_documents({}) == 3

    def test_stored_key_order_is_kept(self, db: Database) -> None:
        db["c"].insert_one({"_id": "k", "z": 1, "a": {"y": 1, "b": 2}, "m": 3})
        found = db["c"].find_one("k") or {}
        assert list(found) == ["_id", "z", "a", "m"]
        assert list(found["a"]) == ["y", "b"]

    def test_id_first_when_generated(self, db: Database) -> None:
        db["c"].insert_one({"z": 1, "a": 2})
        assert list(db["c"].find_one() or {}) == ["_id", "z", "a"]

    def test_capabilities_are_declared(self, db: Database) -> None:
        caps = db.capabilities
        for flag in ("persistent", "multi_process", "atomic_multi_update"):
            assert isinstance(getattr(caps, flag), bool), flag


class ValueSuite:
    """Canonical values round-trip on every engine, and results are copies. Needs ``db``."""

    def test_aware_datetime_truncated_to_milliseconds(self, db: Database) -> None:
        stored = _round_trip(db, _dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC))
        assert stored == _dt.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
        assert stored.utcoffset() == _dt.timedelta(0)

    def test_other_timezone_converted_to_utc(self, db: Database) -> None:
        plus2 = _dt.timezone(_dt.timedelta(hours=2))
        stored = _round_trip(db, _dt.datetime(2024, 5, 6, 9, 8, 9, 999999, tzinfo=plus2))
        assert typed(stored) == typed(_dt.datetime(2024, 5, 6, 7, 8, 9, 999000, tzinfo=UTC))

    def test_naive_datetime_is_utc(self, db: Database) -> None:
        naive = _dt.datetime(2023, 12, 31, 23, 59, 59, 1500)
        stored = _round_trip(db, naive)
        assert typed(stored) == typed(_dt.datetime(2023, 12, 31, 23, 59, 59, 1000, tzinfo=UTC))
        assert db["v"].count_documents({"v": naive}) == 1
        assert db["v"].count_documents({"v": {"$gt": _dt.datetime(2023, 12, 31, 23, 59, 59)}}) == 1
        assert db["v"].count_documents({"v": {"$gt": naive.replace(tzinfo=UTC)}}) == 0

    def test_old_and_far_dates(self, db: Database) -> None:
        for i, when in enumerate([_dt.datetime(1900, 1, 1, tzinfo=UTC), _dt.datetime(9999, 12, 31, tzinfo=UTC)]):
            db["v"].insert_one({"_id": str(i), "t": when})
            assert typed((db["v"].find_one(str(i)) or {})["t"]) == typed(when)

    def test_bytes(self, db: Database) -> None:
        every = bytes(range(256))
        db["v"].insert_many(
            [{"_id": "all", "b": every}, {"_id": "empty", "b": b""}, {"_id": "ba", "b": bytearray(b"xy")}]
        )
        assert typed((db["v"].find_one("all") or {})["b"]) == typed(every)
        assert typed((db["v"].find_one("empty") or {})["b"]) == typed(b"")
        assert typed((db["v"].find_one("ba") or {})["b"]) == typed(b"xy")
        assert [d["_id"] for d in db["v"].find({"b": every})] == ["all"]

    def test_special_floats(self, db: Database) -> None:
        db["v"].insert_one(
            {
                "_id": "f",
                "nan": math.nan,
                "inf": math.inf,
                "ninf": -math.inf,
                "tiny": 5e-324,
                "max": 1.7976931348623157e308,
                "tenth": 0.1,
            }
        )
        doc = db["v"].find_one("f") or {}
        assert isinstance(doc["nan"], float)
        assert math.isnan(doc["nan"])
        assert (doc["inf"], doc["ninf"]) == (math.inf, -math.inf)
        assert (doc["tiny"], doc["max"], doc["tenth"]) == (5e-324, 1.7976931348623157e308, 0.1)

    def test_numbers_keep_their_type(self, db: Database) -> None:
        value = {
            "int": 1,
            "float": 1.0,
            "bool": True,
            "false": False,
            "none": None,
            "str": "1",
            "int64max": 2**63 - 1,
            "int64min": -(2**63),
            "int32edge": 2**31,
            "negint32": -(2**31) - 1,
        }
        assert typed(_round_trip(db, value)) == typed(value)

    def test_nested_structures(self, db: Database) -> None:
        value = {
            "empty_dict": {},
            "empty_list": [],
            "nested": [[1, [2, [3, []]]], {"a": [{}, {"b": []}]}],
            "tuple": (1, (2, 3)),
        }
        expected = {**value, "tuple": [1, [2, 3]]}
        assert typed(_round_trip(db, value)) == typed(expected)

    def test_unicode(self, db: Database) -> None:
        value = {"clé": "héllo ✓ 𝄞 日本語", "emoji 🎉": ["\u00e9", "e\u0301"]}
        assert typed(_round_trip(db, value)) == typed(value)
        assert db["v"].count_documents({"v.clé": "héllo ✓ 𝄞 日本語"}) == 1
        assert db["v"].count_documents({"v.emoji 🎉": "e\u0301"}) == 1
        assert db["v"].count_documents({"v.emoji 🎉": "\u00e9"}) == 1

    def test_results_are_copies(self, db: Database) -> None:
        coll = db["v"]
        original = {"_id": "c", "l": [1, {"x": 1}], "d": {"k": [1]}}
        coll.insert_one(original)
        original["l"].append(99)  # type: ignore[attr-defined]
        original["d"]["k"].append(99)  # type: ignore[index]
        found = coll.find_one("c") or {}
        found["l"][1]["x"] = 2
        found["d"]["new"] = 1
        found["extra"] = 1
        for doc in coll.find():
            doc["l"].append(3)
        returned = coll.find_one_and_update({"_id": "c"}, {"$set": {"s": 1}}) or {}
        returned["d"]["k"].append(5)
        after = coll.find_one_and_update({"_id": "c"}, {"$set": {"s": 2}}, return_document=ReturnDocument.AFTER)
        assert after is not None
        after["l"].clear()
        assert typed(coll.find_one("c")) == typed({"_id": "c", "l": [1, {"x": 1}], "d": {"k": [1]}, "s": 2})


class EngineSuite(
    CrudSuite,
    ValueSuite,
    QuerySuite,
    UpdateSuite,
    UpsertSuite,
    ProjectionSuite,
    SortSuite,
    CursorSuite,
    IndexSuite,
    CompareAndSetSuite,
    RejectionSuite,
):
    """Every conformance suite at once: ``class TestMyEngine(EngineSuite): pass`` with a ``db`` fixture."""
