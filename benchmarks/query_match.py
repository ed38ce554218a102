"""Per-document cost of matching a compiled 5-clause filter, beside mongomock's matcher.

    python benchmarks/query_match.py [--number 200000]

The filter is the one a worker's lost-trial sweep uses, on a ~550-byte Orion trial.
Both matchers run in the same process on the same document; compare the ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import timeit

from docstore.query import compile_filter

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc)
TRIAL = {
    "_id": "6b03edcbc31121be0e1795d1",
    "id": "9fa7225f041b16db92b945ddd11b2fa7",
    "experiment": "e1",
    "status": "suspended",
    "worker": "host-1:4242",
    "submit_time": NOW - dt.timedelta(minutes=30),
    "start_time": NOW - dt.timedelta(minutes=10),
    "end_time": None,
    "heartbeat": NOW - dt.timedelta(minutes=5),
    "params": [
        {"name": "/x", "type": "real", "value": 0.7},
        {"name": "/y", "type": "real", "value": 0.2},
        {"name": "/lr", "type": "real", "value": 0.001},
    ],
    "results": [],
    "parent": None,
    "exp_working_dir": "/tmp/experiments/e1",
}
FILTER = {
    "experiment": "e1",
    "status": {"$in": ["new", "suspended", "interrupted"]},
    "heartbeat": {"$lt": NOW},
    "params.0.value": {"$gte": 0.5},
    "worker": {"$ne": None},
}


def per_call_us(func: object, number: int) -> float:
    best = min(timeit.repeat(func, number=number, repeat=5))  # type: ignore[arg-type]
    return best / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--number", type=int, default=200_000)
    args = parser.parse_args()
    compiled = compile_filter(FILTER)
    assert compiled.matches(TRIAL)
    rows = [("docstore.query (compiled)", per_call_us(lambda: compiled.matches(TRIAL), args.number))]
    rows.append(
        (
            "docstore.query (compile + match)",
            per_call_us(lambda: compile_filter(FILTER).matches(TRIAL), args.number // 10),
        )
    )
    try:
        from mongomock.filtering import filter_applies
    except ImportError:
        pass
    else:
        assert filter_applies(FILTER, TRIAL)
        rows.append(("mongomock filter_applies", per_call_us(lambda: filter_applies(FILTER, TRIAL), args.number // 10)))
    base = rows[0][1]
    print(f"{'matcher':36} {'us/doc':>8} {'ratio':>7}")
    for name, cost in rows:
        print(f"{name:36} {cost:8.2f} {cost / base:7.1f}x")


if __name__ == "__main__":
    main()
