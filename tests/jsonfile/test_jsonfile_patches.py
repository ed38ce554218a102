"""Journal ``set`` lines: a stored document's new version as the fields that changed.

Another process replays them onto its own copy; it must end with exactly the writer's
document (values, types, field order), and a store whose journal predates them (version
1) must still be read, then upgraded by the first write.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from pathlib import Path

import orjson
import pytest
from jsonfile_support import framed, journal_lines, write_version_1_store

import docstore
from docstore.errors import StoreCorrupted


def ops(path: str) -> list[list[object]]:
    return [orjson.loads(line)["ops"] for line in journal_lines(path)[1:]]


def open_store(path: str) -> docstore.Database:
    return docstore.connect(path, compact_on_close=False)


def test_updates_are_logged_as_changed_fields_and_replayed_in_order(path: str) -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc)
    with open_store(path) as writer, open_store(path) as reader:
        trials = writer["trials"]
        trials.insert_one({"_id": "t", "a": 1, "b": {"c": [1, 2]}, "z": "last"})
        reader["trials"].find_one({"_id": "t"})  # the reader holds the first version
        trials.update_one({"_id": "t"}, {"$set": {"b.c.1": 3.0, "new": when}, "$unset": {"a": ""}})
        trials.update_one({"_id": "t"}, {"$set": {"z": "last"}})  # no change: no line
        trials.update_one({"_id": "t"}, {"$inc": {"new2": 1}})
        expected = trials.find_one({"_id": "t"})
        seen = reader["trials"].find_one({"_id": "t"})
    assert list(expected) == ["_id", "b", "z", "new", "new2"]
    assert seen == expected
    assert list(seen) == list(expected)
    assert type(seen["b"]["c"][1]) is float
    assert seen["new"] == when
    assert ops(path)[1:] == [
        [["set", "trials", {"_id": "t", "b": {"c": [1, 3.0]}, "new": {"$date": "2026-01-02T03:04:05.678Z"}}, ["a"]]],
        [["set", "trials", {"_id": "t", "new2": 1}]],
    ]
    with open_store(path) as fresh:  # a cold open replays the same lines
        assert list(fresh["trials"].find_one({"_id": "t"}).items()) == list(expected.items())


def test_a_type_change_of_an_equal_value_is_logged(path: str) -> None:
    with open_store(path) as writer, open_store(path) as reader:
        writer["c"].insert_one({"_id": 1, "v": 1, "w": True})
        reader["c"].find_one({"_id": 1})
        writer["c"].update_one({"_id": 1}, {"$set": {"v": 1.0, "w": 1}})
        seen = reader["c"].find_one({"_id": 1})
    assert type(seen["v"]) is float
    assert type(seen["w"]) is int
    assert ops(path)[-1] == [["set", "c", {"_id": 1, "v": 1.0, "w": 1}]]


def test_a_replacement_that_reorders_fields_is_logged_whole(path: str) -> None:
    with open_store(path) as writer, open_store(path) as reader:
        writer["c"].insert_one({"_id": "r", "a": 1, "b": 2})
        reader["c"].find_one({"_id": "r"})
        writer["c"].replace_one({"_id": "r"}, {"b": 2, "a": 1})
        seen = reader["c"].find_one({"_id": "r"})
    assert list(seen) == ["_id", "b", "a"]
    assert ops(path)[-1] == [["put", "c", {"_id": "r", "b": 2, "a": 1}]]


def test_many_updates_in_one_operation_replay_together(path: str) -> None:
    with open_store(path) as writer, open_store(path) as reader:
        writer["c"].insert_many([{"_id": i, "s": "new", "k": i} for i in range(5)])
        reader["c"].count_documents({})
        writer["c"].update_many({"k": {"$gte": 2}}, {"$set": {"s": "done"}})
        assert reader["c"].count_documents({"s": "done"}) == 3
        assert reader["c"].find(sort=[("_id", 1)]).to_list() == writer["c"].find(sort=[("_id", 1)]).to_list()
    (line,) = ops(path)[-1:]
    assert [effect[0] for effect in line] == ["set", "set", "set"]


def _version_1_store(path: str) -> None:
    """A store as the first release wrote it: a version-1 journal header, whole documents only."""
    write_version_1_store(path, [["put", "c", {"_id": "seed"}], ["put", "c", {"_id": "old", "n": 1}]])


def test_a_version_1_journal_is_read_then_upgraded_by_the_first_write(path: str) -> None:
    _version_1_store(path)
    with open_store(path) as db:
        assert db["c"].find_one({"_id": "old"}) == {"_id": "old", "n": 1}
        assert orjson.loads(journal_lines(path)[0])["version"] == 1  # reading changes nothing
        db["c"].update_one({"_id": "old"}, {"$inc": {"n": 1}})
    header = orjson.loads(journal_lines(path)[0])
    assert (header["version"], header["gen"]) == (3, 4)  # the old journal was folded into a new snapshot first
    assert ops(path) == [[["set", "c", {"_id": "old", "n": 2}]]]
    with open_store(path) as db:
        assert db["c"].find({}, sort=[("_id", 1)]).to_list() == [{"_id": "old", "n": 2}, {"_id": "seed"}]


@pytest.mark.parametrize("version", [0, 4, "2"])
def test_an_unknown_journal_version_is_refused_untouched(path: str, version: object) -> None:
    _version_1_store(path)
    lines = journal_lines(path)
    header = orjson.loads(lines[0])
    header["version"] = version
    header.pop("crc")
    Path(path + ".journal").write_bytes(framed(header) + b"".join(lines[1:]))
    before = Path(path + ".journal").read_bytes()
    with pytest.raises(StoreCorrupted, match="unknown journal format version") as caught:
        docstore.connect(path)["c"].find_one({})
    if version == 4:
        assert "newer docstore" in str(caught.value)
    assert Path(path + ".journal").read_bytes() == before


@pytest.mark.parametrize(
    "effect",
    [
        ["set", "c", {"_id": "seed", "n": 1}, "a"],  # removed fields must be a list of names
        ["set", "c", {"_id": "seed"}, [1]],
        ["set", "c", {"n": 1}],  # no _id
        ["put", "c", {"_id": "x"}, ["a"]],  # only set takes a fourth member
    ],
)
def test_a_malformed_set_line_is_damage(path: str, effect: list[object]) -> None:
    with docstore.connect(path) as db:
        db["c"].insert_one({"_id": "seed"})
    generation = orjson.loads(journal_lines(path)[0])["gen"]
    with Path(path + ".journal").open("ab") as f:
        f.write(framed({"gen": generation, "n": 1, "ops": [effect]}) + framed({"gen": generation, "n": 2, "ops": []}))
    with pytest.raises(StoreCorrupted, match="damaged at line 2: not an effect"):
        docstore.connect(path)["c"].find_one({})


def test_framing_of_set_lines_matches_the_documented_crc(path: str) -> None:
    with open_store(path) as db:
        db["c"].insert_one({"_id": "a", "n": 1})
        db["c"].update_one({"_id": "a"}, {"$set": {"n": 2}})
    line = journal_lines(path)[-1]
    assert int(json.loads(line)["crc"], 16) == zlib.crc32(line[len(b'{"crc":"xxxxxxxx",') : -1])


def test_a_set_line_for_a_missing_document_is_damage_for_open_and_live_readers(path: str) -> None:
    with docstore.connect(path) as db:
        db["c"].insert_one({"_id": "seed"})
    live = open_store(path)
    try:
        assert live["c"].count_documents({}) == 1
        generation = orjson.loads(journal_lines(path)[0])["gen"]
        with Path(path + ".journal").open("ab") as f:
            f.write(framed({"gen": generation, "n": 1, "ops": [["set", "c", {"_id": "ghost", "n": 1}]]}))
        before = Path(path + ".journal").read_bytes()
        with pytest.raises(StoreCorrupted, match="ghost"):
            live["c"].count_documents({})
        with pytest.raises(StoreCorrupted, match="damaged at line"):
            docstore.connect(path)["c"].find_one({})
        assert Path(path + ".journal").read_bytes() == before
    finally:
        live.close()
