"""How the JSON engine scales with the store's size, next to this machine's own limits.

    python benchmarks/jsonfile_scaling.py [--sizes 1000,10000,100000] [--ops 400] [--dir DIR]

For each size, a store of that many Orion-layout trials (about 500-700 bytes of JSON each,
four experiments, mostly completed, with the indexes ``docstore.storage`` creates) is
built, then timed one operation at a time, durable (``fdatasync`` before each
acknowledgement):

* insert: ``insert_one`` of a new trial;
* reserve: the protocol's reservation, ``find_one_and_update({"experiment": e, "status":
  {"$in": ["new", "suspended", "interrupted"]}}, {"$set": ...}, sort=[("submit_time", 1), ("_id", 1)])``;
* heartbeat: ``update_one({"_id": id, "status": "reserved"}, {"$set": {"heartbeat": t}})``;
* count: ``count_documents({"experiment": e, "status": "completed"})``;

and the same writes again with ``durable=false`` ("cpu"): what the engine itself costs.

Peers, measured in the same run: the machine's limit for a durable write (``flock`` +
append of a line of the same size + ``fdatasync`` + unlock, in the same folder), run
between the timed operations so both see the same disk; ``orjson.loads`` of the store's
file for the cold open. Cold open and memory (RSS growth) are measured in fresh
interpreters, median of three.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for extra in (HERE.parent, HERE.parent / "adapters"):
    if str(extra) not in sys.path:
        sys.path.append(str(extra))

import docstore_jsonfile  # noqa: E402

import docstore  # noqa: E402
from docstore.documents import new_id  # noqa: E402

UTC = dt.timezone.utc
PENDING = ["new", "suspended", "interrupted"]


def trial(experiment: str, when: dt.datetime, rng: random.Random, status: str) -> dict[str, Any]:
    """A trial as Orion's ``Trial.to_dict()`` lays it out."""
    return {
        "id": f"{rng.getrandbits(128):032x}",
        "experiment": experiment,
        "status": status,
        "worker": None,
        "submit_time": when,
        "start_time": when + dt.timedelta(seconds=1),
        "end_time": when + dt.timedelta(seconds=rng.randint(30, 300)),
        "heartbeat": when + dt.timedelta(seconds=29),
        "results": [{"name": "objective", "type": "objective", "value": rng.random()}],
        "params": [
            {"name": "/lr", "type": "real", "value": rng.uniform(1e-5, 1e-1)},
            {"name": "/layers", "type": "integer", "value": rng.randint(1, 8)},
            {"name": "/optimizer", "type": "categorical", "value": rng.choice(["adam", "sgd"])},
        ],
        "parent": None,
        "exp_working_dir": None,
    }


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    return tuple(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6 for q in (0.5, 0.9, 0.99))  # type: ignore[return-value]


def timed(operation: Callable[[int], object], count: int, peer: Callable[[], None] | None = None) -> list[float]:
    """Time ``operation(i)`` for each i; with ``peer``, run it before each operation (same disk weather)."""
    samples = []
    for i in range(count):
        if peer is not None:
            peer()
        started = time.perf_counter()
        operation(i)
        samples.append(time.perf_counter() - started)
    return samples


class MachineLimit:
    """flock + append a line + fdatasync + unlock: a durable append and nothing else, timed."""

    def __init__(self, folder: str, line_size: int) -> None:
        self.path = os.path.join(folder, "limit.journal")
        self.line = b"x" * (line_size - 1) + b"\n"
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.lock = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        self.samples: list[float] = []

    def __call__(self) -> None:
        started = time.perf_counter()
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        os.write(self.fd, self.line)
        os.fdatasync(self.fd)
        fcntl.flock(self.lock, fcntl.LOCK_UN)
        self.samples.append(time.perf_counter() - started)

    def close(self) -> None:
        os.close(self.fd)
        os.close(self.lock)
        os.unlink(self.path)
        os.unlink(self.path + ".lock")


def build(path: str, size: int, rng: random.Random) -> list[str]:
    """A store of ``size`` trials in four experiments; returns the experiment ids."""
    experiments = [new_id() for _ in range(4)]
    start = dt.datetime(2024, 1, 1, tzinfo=UTC)
    with docstore.connect(path, durable=False) as db:
        db["trials"].create_index([("experiment", 1), ("id", 1)], unique=True)  # as docstore.storage does
        db["trials"].create_index([("experiment", 1), ("status", 1)])
        db["trials"].create_index([("experiment", 1), ("submit_time", 1)])
        db["experiments"].insert_many([{"_id": e, "name": f"exp{i}", "version": 1} for i, e in enumerate(experiments)])
        batch = []
        for i in range(size):
            status = rng.choices(["completed", "broken", "reserved"], weights=[90, 5, 5])[0]
            batch.append(trial(experiments[i % 4], start + dt.timedelta(seconds=7 * i), rng, status))
            if len(batch) == 5000:
                db["trials"].insert_many(batch)
                batch = []
        if batch:
            db["trials"].insert_many(batch)
        db.compact()
    return experiments


_OPEN = """
import gc, json, os, sys, time
sys.path[:0] = {paths!r}
import docstore, docstore_jsonfile, orjson
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
gc.collect()
before = rss()
started = time.perf_counter()
db = docstore.connect({path!r})
opened = time.perf_counter() - started
gc.collect()
after = rss()
started = time.perf_counter()
assert db["trials"].count_documents({{"experiment": {experiment!r}, "status": "completed"}}) > 0
first = time.perf_counter() - started
gc.collect()
queried = rss()
db.close()
print(json.dumps({{"open": opened, "first_query": first, "rss": after - before, "rss_queried": queried - before}}))
"""

_ENGINE = """
import json, sys, time
sys.path[:0] = {paths!r}
import docstore_jsonfile
started = time.perf_counter()
docstore_jsonfile.JsonFileEngine({path!r}).close()
print(json.dumps({{"engine_open": time.perf_counter() - started}}))
"""

_LOADS = """
import gc, json, sys, time
import orjson
data = open({path!r}, "rb").read()
started = time.perf_counter()
orjson.loads(data)
with_gc = time.perf_counter() - started
gc.disable()
started = time.perf_counter()
orjson.loads(data)
without_gc = time.perf_counter() - started
print(json.dumps({{"loads": with_gc, "loads_nogc": without_gc}}))
"""


def fresh(code: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def cold(path: str, experiment: str, repeats: int = 3) -> dict[str, float]:
    paths = [str(Path(docstore.__file__).parent.parent), str(Path(docstore_jsonfile.__file__).parent.parent)]
    figures: dict[str, float] = {}
    for code in (
        _OPEN.format(paths=paths, path=path, experiment=experiment),
        _ENGINE.format(paths=paths, path=path),
        _LOADS.format(path=path),
    ):
        runs = [fresh(code) for _ in range(repeats)]
        figures.update({name: statistics.median(run[name] for run in runs) for name in runs[0]})
    return figures


def _protocol_ops(
    trials: Any, target: str, now: dt.datetime, rng: random.Random, *, ops: int, peer: Any
) -> dict[str, Any]:
    """insert, reserve, heartbeat: the protocol's writes, timed (``peer`` runs between them)."""
    figures: dict[str, Any] = {}
    fresh_trials = [trial(target, now + dt.timedelta(seconds=i), rng, "new") for i in range(ops)]
    figures["insert"] = timed(lambda i: trials.insert_one(fresh_trials[i]), ops, peer)
    reserved: list[str] = []

    def reserve(_: int) -> None:
        doc = trials.find_one_and_update(
            {"experiment": target, "status": {"$in": PENDING}},
            {"$set": {"status": "reserved", "worker": "w1", "start_time": now, "heartbeat": now}},
            sort=[("submit_time", 1), ("_id", 1)],
            return_document=True,
        )
        assert doc is not None
        reserved.append(doc["_id"])

    figures["reserve"] = timed(reserve, ops, peer)
    beats = [now + dt.timedelta(seconds=60 + i) for i in range(ops)]
    figures["heartbeat"] = timed(
        lambda i: trials.update_one({"_id": reserved[i], "status": "reserved"}, {"$set": {"heartbeat": beats[i]}}),
        ops,
        peer,
    )
    return figures


def measure(folder: str, size: int, ops: int) -> dict[str, Any]:
    rng = random.Random(size)
    path = os.path.join(folder, f"study{size}.json")
    experiments = build(path, size, rng)
    figures: dict[str, Any] = {"size": size, "file": os.path.getsize(path)}
    figures.update(cold(path, experiments[0]))
    os.sync()  # building wrote a lot: its writeback should not land on the syncs timed below
    target = experiments[0]
    limit = MachineLimit(folder, 690)  # about the length of a journal line for one trial
    with docstore.connect(path, compact_on_close=False) as db:
        durable = _protocol_ops(db["trials"], target, dt.datetime(2025, 1, 1, tzinfo=UTC), rng, ops=ops, peer=limit)
        journal = Path(path + ".journal").read_bytes().splitlines(keepends=True)
        figures["line"] = sum(len(line) for line in journal[1 : ops + 1]) // ops
        figures["count"] = timed(
            lambda i: db["trials"].count_documents({"experiment": target, "status": "completed"}), ops
        )
    figures.update(durable)
    figures["limit"] = limit.samples
    limit.close()
    with docstore.connect(path, durable=False, compact_on_close=False) as db:
        cpu = _protocol_ops(db["trials"], target, dt.datetime(2026, 1, 1, tzinfo=UTC), rng, ops=ops, peer=None)
    figures.update({f"{name} cpu": samples for name, samples in cpu.items()})
    os.unlink(path)
    return figures


def report(results: list[dict[str, Any]], command: str) -> None:
    print(f"\n$ {command}\n")
    print("durable (fdatasync before each acknowledgement), microseconds p50 / p90 / p99; 'limit' = flock +")
    print("append + fdatasync + unlock of a line of the same size, run just before each durable operation")
    print("(the disk is shared and its sync time swings 10x within seconds: compare each row with its limit)\n")
    durable = ["insert", "reserve", "heartbeat", "limit"]
    print(f"{'trials':>7} {'file MB':>7} | " + " | ".join(f"{name:>19}" for name in durable))
    for row in results:
        cells = " | ".join("{:>5.0f} {:>6.0f} {:>6.0f}".format(*percentiles(row[name])) for name in durable)
        print(f"{row['size']:>7} {row['file'] / 1e6:>7.1f} | {cells}")
    print("\nthe engine's own cost: the same operations with durable=false, and count; microseconds p50 / p90 / p99\n")
    cpu = ["insert cpu", "reserve cpu", "heartbeat cpu", "count"]
    print(f"{'trials':>7} {'':>7} | " + " | ".join(f"{name:>19}" for name in cpu))
    for row in results:
        cells = " | ".join("{:>5.0f} {:>6.0f} {:>6.0f}".format(*percentiles(row[name])) for name in cpu)
        print(f"{row['size']:>7} {'':>7} | {cells}")
    print(
        f"\n{'trials':>7} {'connect s':>9} {'engine s':>8} {'loads s':>7} {'no gc':>6} {'1st query s':>11}"
        f" {'RSS MB':>6} {'RSS/file':>8} {'after 1st query':>15} {'line B':>6}"
    )
    for row in results:
        print(
            f"{row['size']:>7} {row['open']:>9.3f} {row['engine_open']:>8.3f} {row['loads']:>7.3f}"
            f" {row['loads_nogc']:>6.3f} {row['first_query']:>11.3f} {row['rss'] / 1e6:>6.1f}"
            f" {row['rss'] / row['file']:>8.2f} {row['rss_queried'] / row['file']:>15.2f} {row['line']:>6}"
        )
    print("\ntargets:")
    for row in results:
        rates = {name: _paired_rate(row, name) for name in ("insert", "reserve", "heartbeat")}
        print(
            f"  {row['size']:>6} trials: durable writes at {rates['insert']:.0%} (insert), {rates['heartbeat']:.0%}"
            f" (heartbeat), {rates['reserve']:.0%} (reserve) of the machine's limit (target >= 50%)"
        )
        print(
            f"  {row['size']:>6} trials: cold open (engine) = {row['engine_open'] / row['loads']:.2f}x orjson.loads,"
            f" {row['engine_open'] / row['loads_nogc']:.2f}x with its gc off (target <= 2x);"
            f" memory = {row['rss'] / row['file']:.2f}x the file (target <= 3x)"
        )
    if len(results) > 1:
        small, large = results[0], results[-1]
        for name in ("insert", "reserve", "heartbeat"):
            factor = _paired_rate(small, name) / _paired_rate(large, name)
            print(
                f"  {name} (durable, per limit): at {large['size']} trials = {factor:.2f}x that at {small['size']}"
                " (target <= 1.5x)"
            )
        for name in cpu:
            factor = percentiles(large[name])[0] / percentiles(small[name])[0]
            print(f"  {name}: p50 at {large['size']} trials = {factor:.2f}x that at {small['size']} (target <= 1.5x)")
    print("\n(durable rates: median over operations of limit time / operation time, each operation paired with")
    print(" the limit append timed just before it, so both met the same disk)")


def _paired_rate(row: dict[str, Any], name: str) -> float:
    """Median of limit/operation over (limit sample, operation) pairs taken back to back."""
    ops = row[name]
    first = {"insert": 0, "reserve": 1, "heartbeat": 2}[name] * len(ops)
    pairs = zip(row["limit"][first : first + len(ops)], ops, strict=True)
    return statistics.median(limit / op for limit, op in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--ops", type=int, default=400, help="operations timed per kind and size")
    parser.add_argument("--dir", default=None, help="where to put the stores (default: a temporary folder)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="jsonfile-bench-", dir=args.dir)
    try:
        results = []
        for size in (int(text) for text in args.sizes.split(",")):
            started = time.perf_counter()
            results.append(measure(folder, size, args.ops))
            print(f"size {size}: measured in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        report(results, "python " + " ".join(["benchmarks/jsonfile_scaling.py", *sys.argv[1:]]))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
