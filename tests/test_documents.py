"""Canonical values: ids, datetimes, canonical(), Extended JSON (ours and mongoexport's)."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import threading
from collections import OrderedDict
from decimal import Decimal
from typing import Any

import pytest

from docstore import documents
from docstore.documents import canonical, from_ejson, new_id, now, to_ejson, utc_datetime
from docstore.errors import InvalidDocument
from docstore.testing import typed

UTC = dt.timezone.utc
HEX24 = re.compile(r"[0-9a-f]{24}")


# ------------------------------------------------------------------------ new_id


def test_new_id_is_24_hex_and_unique() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert all(HEX24.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_new_id_starts_with_creation_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents.time, "time", lambda: 1_700_000_000.75)
    early = new_id()
    monkeypatch.setattr(documents.time, "time", lambda: 1_700_000_001.0)
    late = new_id()
    assert int(early[:8], 16) == 1_700_000_000
    assert int(late[:8], 16) == 1_700_000_001
    assert early < late  # later seconds sort later, whatever the counter does


def test_new_id_counter_increases_within_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents.time, "time", lambda: 1_700_000_000.0)
    monkeypatch.setattr(documents, "_id_counter", 10)
    ids = [new_id() for _ in range(5)]
    assert ids == sorted(ids)
    assert [int(i[18:], 16) for i in ids] == [11, 12, 13, 14, 15]
    assert len({i[8:18] for i in ids}) == 1  # one random part per process


def test_new_id_counter_wraps_at_three_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "_id_counter", 0xFFFFFF)
    assert new_id()[18:] == "000000"


def test_new_id_from_threads_is_unique() -> None:
    results: list[list[str]] = [[] for _ in range(8)]

    def work(slot: int) -> None:
        results[slot].extend(new_id() for _ in range(2000))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for ids in results for i in ids]
    assert len(set(every)) == len(every) == 16_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is not available on this platform")
def test_new_id_after_fork_does_not_repeat_the_parent() -> None:
    new_id()  # the parent's process state exists before the fork
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its ids and leave at once, without pytest's teardown
        try:
            os.close(read_end)
            payload = json.dumps([new_id() for _ in range(500)]).encode()
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
        finally:
            os._exit(0)
    os.close(write_end)
    parent_ids = [new_id() for _ in range(500)]
    with os.fdopen(read_end, "rb") as inp:
        child_ids = json.loads(inp.read())
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(child_ids) == 500
    assert not set(child_ids) & set(parent_ids)
    assert {i[8:18] for i in child_ids}.isdisjoint({i[8:18] for i in parent_ids})


# ------------------------------------------------------------------ datetimes


def test_utc_datetime_truncates_and_converts() -> None:
    plus5 = dt.timezone(dt.timedelta(hours=5, minutes=30))
    value = utc_datetime(dt.datetime(2024, 1, 1, 5, 30, 0, 999_999, tzinfo=plus5))
    assert typed(value) == typed(dt.datetime(2024, 1, 1, 0, 0, 0, 999_000, tzinfo=UTC))
    assert value.tzinfo is UTC
    naive = utc_datetime(dt.datetime(2024, 1, 1, 12, 0, 0, 1))
    assert typed(naive) == typed(dt.datetime(2024, 1, 1, 12, tzinfo=UTC))


def test_now_is_canonical() -> None:
    before = dt.datetime.now(UTC) - dt.timedelta(milliseconds=1)
    value = now()
    after = dt.datetime.now(UTC)
    assert value.utcoffset() == dt.timedelta(0)
    assert value.microsecond % 1000 == 0
    assert before <= value <= after


# ------------------------------------------------------------------ canonical


def test_canonical_converts_containers_and_copies() -> None:
    original: dict[str, Any] = {
        "t": (1, (2,)),
        "b": bytearray(b"ab"),
        "m": memoryview(b"cd"),
        "o": OrderedDict(x=1),
        "l": [{"k": [1]}],
    }
    result = canonical(original)
    assert typed(result) == typed({"t": [1, [2]], "b": b"ab", "m": b"cd", "o": {"x": 1}, "l": [{"k": [1]}]})
    result["l"][0]["k"].append(2)
    assert original["l"][0]["k"] == [1]
    assert type(result["o"]) is dict


def test_canonical_keeps_scalars_exactly() -> None:
    value = {"b": True, "i": 1, "f": 1.0, "n": None, "s": "x", "nan": math.nan, "max": 2**63 - 1, "min": -(2**63)}
    assert typed(canonical(value)) == typed(value)


def test_canonical_datetimes() -> None:
    value = canonical({"d": dt.datetime(2024, 2, 3, 4, 5, 6, 789_123)})
    assert typed(value["d"]) == typed(dt.datetime(2024, 2, 3, 4, 5, 6, 789_000, tzinfo=UTC))


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"a": {"b": {1, 2}}}, "a.b"),
        ({"a": [1, Decimal("2")]}, "a.1"),
        ({"n": 2**63}, "n"),
        ({"n": -(2**63) - 1}, "n"),
        ({"a": {3: "x"}}, "a"),
        ({"f": lambda: 1}, "f"),
        ({"c": 1 + 2j}, "c"),
    ],
    ids=["set", "decimal-in-list", "int-too-big", "int-too-small", "int-key", "function", "complex"],
)
def test_canonical_rejects_with_path(value: Any, path: str) -> None:
    with pytest.raises(InvalidDocument) as info:
        canonical(value)
    assert info.value.path == path
    assert isinstance(info.value, ValueError)


def test_canonical_regex_only_when_allowed() -> None:
    pattern = re.compile("^a")
    assert canonical({"r": pattern}, allow_regex=True)["r"] is pattern
    with pytest.raises(InvalidDocument):
        canonical({"r": pattern})


# ------------------------------------------------------------- Extended JSON

RICH: dict[str, Any] = {
    "date": dt.datetime(2024, 5, 6, 7, 8, 9, 123_000, tzinfo=UTC),
    "old": dt.datetime(1950, 1, 1, tzinfo=UTC),
    "bytes": bytes(range(256)),
    "empty_bytes": b"",
    "nan": math.nan,
    "inf": math.inf,
    "ninf": -math.inf,
    "nested": [[1, {"d": dt.datetime(2000, 1, 1, tzinfo=UTC)}], {"b": [b"x"]}],
    "plain": {"s": "x", "i": 2**62, "f": 0.5, "t": True, "n": None, "e": {}, "l": []},
}


def test_ejson_round_trip_through_json_text() -> None:
    text = json.dumps(to_ejson(RICH))
    assert typed(from_ejson(json.loads(text))) == typed(RICH)


def test_to_ejson_relaxed_forms() -> None:
    out = to_ejson(RICH)
    assert out["date"] == {"$date": "2024-05-06T07:08:09.123Z"}
    assert out["old"] == {"$date": {"$numberLong": "-631152000000"}}
    assert out["bytes"]["$binary"]["subType"] == "00"
    assert out["empty_bytes"] == {"$binary": {"base64": "", "subType": "00"}}
    assert (out["nan"], out["inf"], out["ninf"]) == (
        {"$numberDouble": "NaN"},
        {"$numberDouble": "Infinity"},
        {"$numberDouble": "-Infinity"},
    )
    assert out["plain"] == RICH["plain"]


@pytest.mark.parametrize(
    ("exported", "expected"),
    [
        ({"$date": {"$numberLong": "1704067200000"}}, dt.datetime(2024, 1, 1, tzinfo=UTC)),
        ({"$date": {"$numberLong": "-86400000"}}, dt.datetime(1969, 12, 31, tzinfo=UTC)),
        ({"$date": "2024-01-01T00:00:00Z"}, dt.datetime(2024, 1, 1, tzinfo=UTC)),
        ({"$date": "2024-01-01T01:00:00.5+01:00"}, dt.datetime(2024, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)),
        ({"$oid": "65a1b2c3d4e5f60718293a4b"}, "65a1b2c3d4e5f60718293a4b"),
        ({"$binary": "AQI=", "$type": "00"}, b"\x01\x02"),
        ({"$binary": {"base64": "/w==", "subType": "04"}}, b"\xff"),
        ({"$numberLong": "9223372036854775807"}, 2**63 - 1),
        ({"$numberInt": "-5"}, -5),
        ({"$numberDouble": "1.5"}, 1.5),
        ({"$numberDouble": "-Infinity"}, -math.inf),
    ],
    ids=[
        "date-numberlong",
        "date-before-1970",
        "date-iso-no-millis",
        "date-offset",
        "oid",
        "legacy-binary",
        "binary-subtype-4",
        "numberlong",
        "numberint",
        "numberdouble",
        "minus-infinity",
    ],
)
def test_from_ejson_mongoexport_forms(exported: dict[str, Any], expected: Any) -> None:
    document = {"_id": {"$oid": "65a1b2c3d4e5f60718293a4b"}, "v": exported, "l": [exported]}
    decoded = from_ejson(document)
    assert decoded["_id"] == "65a1b2c3d4e5f60718293a4b"
    assert typed(decoded["v"]) == typed(expected)
    assert typed(decoded["l"]) == typed([expected])


def test_from_ejson_leaves_plain_documents_alone() -> None:
    plain = {"a": {"b": [1, "x", None]}, "c": {"d": {}}}
    assert typed(from_ejson(plain)) == typed(plain)


def test_copy_tree_copies_containers_and_deep_copies_other_objects() -> None:
    from docstore.documents import copy_tree

    when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    marks = {1, 2}
    tree = {"a": [1, {"b": when}], "t": (1, [2]), "s": marks, "n": None}
    copied = copy_tree(tree)
    assert copied == tree
    assert copied is not tree
    assert copied["a"] is not tree["a"]
    assert copied["a"][1] is not tree["a"][1]
    assert copied["t"][1] is not tree["t"][1]
    assert copied["s"] is not marks  # anything else goes through copy.deepcopy
    assert copied["a"][1]["b"] is when  # immutable values are shared
    copied["a"][1]["b"] = None
    copied["s"].add(3)
    assert tree["a"][1]["b"] == when
    assert marks == {1, 2}


def test_canonical_turns_int_subclasses_into_int_and_keeps_str_subclasses() -> None:
    import enum

    class Level(enum.IntEnum):
        HIGH = 3

    class Name(str):
        pass

    result = canonical({"level": Level.HIGH, "deep": {"level": Level.HIGH}, Name("k"): Name("v")})
    assert type(result["level"]) is int
    assert type(result["deep"]["level"]) is int
    assert result["k"] == "v"
    assert isinstance(result["k"], str)
