"""The journal backend's own contract, on every engine: order, no holes, JSON values, snapshots, pickling."""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("optuna", reason="Optuna is not installed (pip install -e '.[optuna]')")

import optuna
from docstore_optuna import DocstoreJournalBackend
from docstore_optuna.journal import LogJournal, batch_id
from docstore_optuna.snapshots import SnapshotStore
from optuna.storages import JournalStorage

from docstore import DuplicateKeyError, EngineUnavailable, StoreCorrupted

Opener = Callable[..., DocstoreJournalBackend]


def _numbers(logs: Any) -> list[int]:
    return [log["n"] for log in logs]


def _batches(backend: DocstoreJournalBackend) -> list[dict[str, Any]]:
    return backend.database["optuna_logs"].find(sort=[("_id", 1)]).to_list()


def assert_gap_free(backend: DocstoreJournalBackend) -> int:
    """The stored batches are [0, e1), [e1, e2), ...; returns the number of logs."""
    end = 0
    for doc in _batches(backend):
        assert doc["_id"] == batch_id(end), f"hole or overlap at log {end}: next batch is {doc['_id']}"
        assert doc["end"] > end
        assert len(json.loads(doc["logs"])) == doc["end"] - end
        end = doc["end"]
    return end


# ---------------------------------------------------------------- order


def test_empty_journal_reads_nothing(backend: DocstoreJournalBackend) -> None:
    assert list(backend.read_logs(0)) == []
    assert list(backend.read_logs(5)) == []
    assert backend.load_snapshot() is None


def test_logs_are_numbered_from_zero_in_append_order(backend: DocstoreJournalBackend) -> None:
    backend.append_logs([{"n": 0}])
    backend.append_logs([{"n": 1}, {"n": 2}, {"n": 3}])
    backend.append_logs([])  # appends nothing
    backend.append_logs([{"n": 4}])
    assert _numbers(backend.read_logs(0)) == [0, 1, 2, 3, 4]
    assert _numbers(backend.read_logs(2)) == [2, 3, 4]  # from inside a batch
    assert _numbers(backend.read_logs(4)) == [4]
    assert list(backend.read_logs(5)) == []
    assert assert_gap_free(backend) == 5


def test_a_second_backend_reads_from_inside_a_batch_it_never_saw(open_backend: Opener) -> None:
    writer = open_backend()
    writer.append_logs([{"n": i} for i in range(3)])
    writer.append_logs([{"n": i} for i in range(3, 70)])  # one batch longer than a read window
    for i in range(70, 300):  # more batches than the widest read window
        writer.append_logs([{"n": i}])
    fresh = open_backend(like=writer)  # an empty cache on the same store
    assert _numbers(fresh.read_logs(5)) == list(range(5, 300))
    assert _numbers(fresh.read_logs(0)) == list(range(300))
    assert _numbers(fresh.read_logs(299)) == [299]
    assert list(fresh.read_logs(300)) == []
    assert list(open_backend(like=writer).read_logs(301)) == []  # past the end


def test_every_writer_sees_its_own_and_earlier_writes_at_once(open_backend: Opener) -> None:
    first = open_backend()
    second = open_backend(like=first)
    first.append_logs([{"n": 0}])
    second.append_logs([{"n": 1}])  # second's next position (0) is taken: it must land at 1
    first.append_logs([{"n": 2}, {"n": 3}])  # first's next position (1) is taken too
    for backend in (first, second):
        assert _numbers(backend.read_logs(0)) == [0, 1, 2, 3]
    assert assert_gap_free(first) == 4


def test_concurrent_writers_leave_no_hole_and_no_overlap(open_backend: Opener) -> None:
    first = open_backend()
    writers = [first] + [open_backend(like=first) for _ in range(3)]  # four caches, one store
    per_writer = 30

    def write(index: int, backend: DocstoreJournalBackend) -> None:
        for i in range(per_writer):
            backend.append_logs([{"w": index, "i": i}] * (1 + i % 3))

    threads = [threading.Thread(target=write, args=(k, w)) for k, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logs = list(writers[0].read_logs(0))
    assert len(logs) == 4 * sum(1 + i % 3 for i in range(per_writer)) == assert_gap_free(writers[0])
    for k in range(4):  # each writer's logs appear once, in its order
        mine = [log["i"] for log in logs if log["w"] == k]
        assert mine == [i for i in range(per_writer) for _ in range(1 + i % 3)]
    assert all(list(w.read_logs(0)) == logs for w in writers)


def test_an_insert_reported_as_duplicate_but_done_is_not_written_twice(backend: DocstoreJournalBackend) -> None:
    """A driver that retries an insert whose reply was lost sees DuplicateKeyError for its own batch."""
    collection = backend.database["optuna_logs"]

    class LostReply:
        name = collection.name

        def __init__(self) -> None:
            self.inserts = 0

        def insert_one(self, document: dict[str, Any]) -> Any:
            self.inserts += 1
            collection.insert_one(document)
            raise DuplicateKeyError("E11000 duplicate key (the retry of a write that went through)")

        def __getattr__(self, name: str) -> Any:
            return getattr(collection, name)

    lossy = LostReply()
    journal = LogJournal(lossy)  # type: ignore[arg-type]
    journal.append([{"n": 0}])
    journal.append([{"n": 1}])
    assert lossy.inserts == 2
    assert _numbers(journal.read(0)) == [0, 1]
    assert assert_gap_free(backend) == 2


def test_a_document_that_is_not_a_log_batch_is_reported_not_skipped(backend: DocstoreJournalBackend) -> None:
    backend.database["optuna_logs"].insert_one({"_id": batch_id(0), "end": "one", "logs": 1})
    with pytest.raises(StoreCorrupted, match="not an Optuna log batch"):
        backend.read_logs(0)


# ---------------------------------------------------------------- values


def test_values_round_trip_exactly_as_stdlib_json(open_backend: Opener) -> None:
    backend = open_backend()
    log = {
        "op_code": 6,
        "floats": [math.nan, math.inf, -math.inf, 0.1, -0.0, 1e308, 5e-324],
        "ints": [0, -1, 2**62, 10**30],
        "int_keys": {1: "one", 2: {3: [4]}},
        "tuple": (1, "a"),
        "text": 'é\u2603\x00\n"quoted"',
        "empty": {},
        "none": None,
        "bools": [True, False],
    }
    backend.append_logs([log])
    (got,) = backend.read_logs(0)
    (fresh,) = open_backend(like=backend).read_logs(0)
    expected = json.loads(json.dumps(log))
    for value in (got, fresh):
        assert json.dumps(value, sort_keys=True) == json.dumps(expected, sort_keys=True)
        assert value["int_keys"] == {"1": "one", "2": {"3": [4]}}
        assert math.isnan(value["floats"][0])
        assert value["floats"][1:3] == [math.inf, -math.inf]
        assert math.copysign(1, value["floats"][4]) == -1


def test_a_log_json_cannot_encode_is_refused_and_nothing_is_written(backend: DocstoreJournalBackend) -> None:
    with pytest.raises(TypeError):
        backend.append_logs([{"n": 0}, {"bad": object()}])
    assert list(backend.read_logs(0)) == []
    backend.append_logs([{"n": 0}])
    assert _numbers(backend.read_logs(0)) == [0]


# ---------------------------------------------------------------- snapshots


@pytest.mark.parametrize("size", [0, 1, 999, 1000, 4321])
def test_snapshots_round_trip_in_chunks(backend: DocstoreJournalBackend, size: int) -> None:
    collection = backend.database["snapshots"]
    store = SnapshotStore(collection, chunk_size=1000)
    data = os.urandom(size)
    store.save(b"older snapshot" * 200)
    store.save(data)
    assert store.load() == data
    # the displaced generation is gone: the head plus this snapshot's chunks remain
    assert collection.count_documents({}) == 1 + max(1, math.ceil(size / 1000))


def test_backend_snapshots_are_bytes_and_the_last_one_wins(open_backend: Opener) -> None:
    backend = open_backend()
    assert backend.load_snapshot() is None
    backend.save_snapshot(b"\x00\xff" * 50_000)
    backend.save_snapshot(b"\x80latest")
    assert backend.load_snapshot() == b"\x80latest"
    assert open_backend(like=backend).load_snapshot() == b"\x80latest"


def test_journal_storage_restores_from_a_snapshot_then_replays_the_rest(open_backend: Opener) -> None:
    backend = open_backend()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(backend)
    study = optuna.create_study(storage=storage, study_name="snap", sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=103)  # Optuna snapshots at trial id 100
    assert backend.load_snapshot() is not None

    other = open_backend(like=backend)
    reopened = optuna.load_study(study_name="snap", storage=JournalStorage(other))
    assert [t.number for t in reopened.trials] == list(range(103))
    assert [t.params for t in reopened.trials] == [t.params for t in study.trials]
    assert reopened.best_value == study.best_value


# ---------------------------------------------------------------- pickling


def test_the_backend_pickles_as_its_uri_and_reconnects(open_backend: Opener) -> None:
    backend = open_backend()
    backend.append_logs([{"n": 0}])
    state = backend.__getstate__()
    assert set(state) == {"uri", "collection", "options", "token", "pid", "shared"}
    clone = open_backend(like=backend)
    clone.append_logs([{"n": 1}])
    assert _numbers(backend.read_logs(0)) == [0, 1]
    assert _numbers(clone.read_logs(0)) == [0, 1]


def test_an_in_process_store_refuses_to_be_unpickled_in_another_process(
    backend: DocstoreJournalBackend, engine_name: str
) -> None:
    state = backend.__getstate__()
    state["pid"] = -1  # as if unpickled by another process
    clone = DocstoreJournalBackend.__new__(DocstoreJournalBackend)
    if state["shared"]:
        clone.__setstate__(state)  # a file or a server: any process reopens it from the URI
        assert list(clone.read_logs(0)) == []
        clone.close()
        return
    assert engine_name in ("memory", "mongomock")
    with pytest.raises(EngineUnavailable, match="memory of process -1"):
        clone.__setstate__(state)
