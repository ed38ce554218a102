"""Round trips per storage-protocol call on the MongoDB engine, counted on the wire.

    python benchmarks/roundtrips.py [--uri URI] [--repeat N]

For each protocol call a worker makes, the commands docstore's ``mongodb://`` engine sends
while making that call once are counted with a pymongo ``monitoring.CommandListener``
(``CommandStartedEvent``; the handshake, monitoring and authentication commands ``hello``,
``isMaster``, ``ping``, ``endSessions``, ``buildInfo``, ``sasl*`` are not counted), on a
store that already holds experiments and trials, after the ``Storage`` has created or
checked its indexes. Each call is then repeated (``--repeat``, default 50; fresh trials
where the call consumes one) and the median latency is reported.

The server is SecantusDB, a MongoDB-wire server started in this process
(``storage_path=":memory:"``), unless ``--uri`` or ``$DOCSTORE_BENCH_MONGODB_URI`` names a
real MongoDB: then its ``experiments``, ``trials``, ``algo`` and ``benchmarks`` collections
(in the URI's database) are dropped first and left filled afterwards, as ``python -m
benchmarks`` does. Round trips are a property of docstore's engine and protocol, not of
the server; latencies are the server's (SecantusDB is pure Python: compare its rows with
each other only).

``measure(uri=None)`` returns the rows as dicts: ``call``, ``round_trips``, ``commands``
(the command names, in order), ``p50_ms`` and ``note``. A single-document call that takes
other than one round trip says so in ``note``, with the reason.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for extra in (HERE.parent, HERE.parent / "adapters"):
    if str(extra) not in sys.path:
        sys.path.append(str(extra))

from pymongo import monitoring  # noqa: E402

import docstore  # noqa: E402
from docstore.documents import now  # noqa: E402

NOT_COUNTED = frozenset(
    {"hello", "ismaster", "ping", "endsessions", "buildinfo", "saslstart", "saslcontinue", "getnonce", "authenticate"}
)  # compared in lower case
"""Handshake, monitoring and authentication commands: not the protocol call's own round trips."""

COLLECTIONS = ("experiments", "trials", "algo", "benchmarks")
DATABASE = "roundtrips"  # the database used on the in-process SecantusDB
OBJECTIVE = [{"name": "objective", "type": "objective", "value": 0.5}]
MARK = "NOT 1 ROUND TRIP"


class CommandCounter(monitoring.CommandListener):
    """Records the name of every command the client starts (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name.lower() not in NOT_COUNTED:
            with self._lock:
                self._names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def take(self) -> list[str]:
        """The commands recorded since the last ``take``, and forget them."""
        with self._lock:
            names, self._names = self._names, []
        return names


@dataclass
class Case:
    """One protocol call: ``prepare`` (not counted, not timed) gives ``call`` its argument."""

    name: str
    call: Callable[[Any], Any]
    prepare: Callable[[], Any] = lambda: None
    single: bool = True  # a single-document call: one round trip is the target
    why: str = ""  # why it takes more than one round trip (shown when it does)
    info: Callable[[Any], str] | None = None  # a remark from the call's result
    repeat: int | None = None  # at most this many repetitions (None: the run's --repeat)


def _config(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": 1,
        "space": {"x": "uniform(0, 1)"},
        "algorithm": {"random": {"seed": 1}},
        "max_trials": 10**9,
        "metadata": {"user": "roundtrips", "datetime": now()},
    }


class _Fixture:
    """The store the calls run on: experiments with trials in every state a worker meets."""

    def __init__(self, storage: docstore.Storage, repeat: int) -> None:
        self.storage = storage
        self._values = itertools.count()
        # "work": a pool of new trials for reserve_trial / set_trial_status, and where new trials are registered
        self.work = storage.create_experiment(_config("rt-work"))
        self._insert(self.work, "new", 2 * repeat + 10)
        # "read": a small, fixed experiment for the reads: new, completed (with results), lost (stale heartbeat)
        self.read = storage.create_experiment(_config("rt-read"))
        self._insert(self.read, "new", 10)
        self._insert(self.read, "completed", 10)
        self._insert(self.read, "reserved", 5, heartbeat=now() - dt.timedelta(days=1))
        # "big": more completed trials than pymongo's first batch (101 documents)
        self.big = storage.create_experiment(_config("rt-big"))
        self._insert(self.big, "completed", 150)
        self.held = storage.reserve_trial(self.work)  # the trial heartbeats and results are sent for
        self.completed = self.reserve()
        storage.set_trial_status(self.completed, "completed", was="reserved")
        self.stored = storage.fetch_trials_by_status(self.read, "completed")[0]

    def trial(self, experiment: Any, **fields: Any) -> docstore.Trial:
        """A trial not stored yet, with params no other trial has."""
        params = [{"name": "x", "type": "real", "value": next(self._values) / 1e6}]
        return docstore.Trial(experiment=experiment["_id"], params=params, **fields)

    def _insert(self, experiment: Any, status: str, count: int, **fields: Any) -> None:
        stamp = now()
        extra: dict[str, Any] = {"submit_time": stamp, **fields}
        if status != "new":
            extra.update(start_time=stamp, worker="roundtrips", heartbeat=fields.get("heartbeat", stamp))
        if status == "completed":
            extra.update(end_time=stamp, results=OBJECTIVE)
        documents = [self.trial(experiment, status=status, **extra).to_dict() for _ in range(count)]
        self.storage.db["trials"].insert_many(documents)

    def reserve(self) -> docstore.Trial:
        trial = self.storage.reserve_trial(self.work)
        if trial is None:
            raise RuntimeError("the pool of new trials ran out: make it larger")
        return trial

    def stale(self) -> docstore.Trial:
        """A copy of a completed trial that still believes it is reserved."""
        return docstore.Trial({**self.completed.to_dict(), "status": "reserved"})


def _stale_update(storage: docstore.Storage, trial: docstore.Trial) -> str:
    try:
        storage.set_trial_status(trial, "completed", was="reserved")
    except docstore.FailedUpdate as exc:
        return f"FailedUpdate(expected={exc.expected!r}, actual={exc.actual!r})"
    raise AssertionError("set_trial_status with a stale `was` did not raise FailedUpdate")


def _hold_lock(storage: docstore.Storage, experiment: Any) -> None:
    with storage.acquire_algorithm_lock(experiment, timeout=5, retry_interval=0.01) as lock:
        lock.set_state({"seen": 1})


def _cases(
    st: docstore.Storage, loose: docstore.Storage, fx: _Fixture, uri: str, connect_options: dict[str, Any]
) -> list[Case]:
    names = itertools.count()
    not_found_check = (
        "an empty result is followed by a count of the experiment (strict mode's UnknownExperiment check, "
        "docstore/storage/trials.py _fetch/_count -> _require_experiment)"
    )

    def first_use(_: Any) -> Any:
        fresh = docstore.setup_storage(uri, connect_options=connect_options)  # shares the cached MongoClient
        try:
            return fresh.get_trial(fx.stored)
        finally:
            fresh.close()

    return [
        Case(
            "create_experiment",
            st.create_experiment,
            prepare=lambda: _config(f"rt-new-{next(names)}"),
            single=False,
            why="two documents: the experiment, then its algorithm lock in `algo` (one insert each)",
        ),
        Case(
            "register_trial",
            st.register_trial,
            prepare=lambda: fx.trial(fx.work),
            why="strict mode (the default) first counts the experiment (_require_experiment: count_documents -> "
            "aggregate) to refuse a trial of an unknown experiment, then inserts",
        ),
        Case("register_trial (strict=False)", loose.register_trial, prepare=lambda: fx.trial(fx.work)),
        Case("reserve_trial", lambda _: fx.reserve()),
        Case("update_heartbeat", lambda _: st.update_heartbeat(fx.held)),
        Case("push_trial_results", st.push_trial_results, prepare=lambda: _with_results(fx.held)),
        Case(
            "set_trial_status (was=reserved)",
            lambda trial: st.set_trial_status(trial, "completed", was="reserved"),
            prepare=fx.reserve,
        ),
        Case(
            "set_trial_status (stale was: FailedUpdate)",
            lambda trial: _stale_update(st, trial),
            prepare=fx.stale,
            why="expected: the compare-and-set matches nothing, then one find reads the stored status only to "
            "report it in FailedUpdate.actual",
            info=str,
        ),
        Case("get_trial", lambda _: st.get_trial(fx.stored)),
        Case(
            "get_trial (first call of a new Storage)",
            first_use,
            why="a Storage checks a collection's indexes (listIndexes; createIndexes if one is missing) the first "
            "time it uses it: once per collection per Storage, e.g. once per worker process",
        ),
        Case("fetch_trials_by_status", lambda _: st.fetch_trials_by_status(fx.read, "completed"), info=_returned),
        Case(
            "fetch_trials_by_status (150 results)",
            lambda _: st.fetch_trials_by_status(fx.big, "completed"),
            info=_returned,
            repeat=10,
            why="pymongo's first batch is 101 documents: a larger result adds getMore round trips",
        ),
        Case("fetch_pending_trials", lambda _: st.fetch_pending_trials(fx.read), info=_returned),
        Case("fetch_lost_trials (5 lost)", lambda _: st.fetch_lost_trials(fx.read), info=_returned),
        Case(
            "fetch_lost_trials (none lost)",
            lambda _: st.fetch_lost_trials(fx.work),
            info=_returned,
            why=not_found_check,
        ),
        Case("count_completed_trials", lambda _: st.count_completed_trials(fx.read), info=lambda n: f"count {n}"),
        Case(
            "count_broken_trials (none broken)",
            lambda _: st.count_broken_trials(fx.read),
            info=lambda n: f"count {n}",
            why=not_found_check,
        ),
        Case("fetch_experiments", lambda _: st.fetch_experiments({"name": "rt-read"}), info=_returned),
        Case(
            "update_experiment",
            lambda _: st.update_experiment(fx.read, max_trials=next(names) + 10**6),
            info=lambda matched: f"matched: {matched}",
        ),
        Case(
            "acquire_algorithm_lock (enter + exit)",
            lambda _: _hold_lock(st, fx.read),
            single=False,
            why="two compare-and-sets on the lock document: take it on entering, give it back with the state on "
            "exit (while held, a thread renews the lease every lock_lease/3 s: 20 s by default)",
        ),
        Case("retrieve_result", lambda _: st.retrieve_result(fx.stored)),
    ]


def _with_results(trial: docstore.Trial) -> docstore.Trial:
    trial.results = OBJECTIVE
    return trial


def _returned(found: Any) -> str:
    return f"returned {len(found)}"


def _run(case: Case, counter: CommandCounter, repeat: int) -> dict[str, Any]:
    seen: list[list[str]] = []
    times: list[float] = []
    remark = ""
    for _ in range(repeat if case.repeat is None else min(case.repeat, repeat)):
        argument = case.prepare()
        counter.take()  # what prepare sent is not the call's
        start = time.perf_counter()
        result = case.call(argument)
        times.append((time.perf_counter() - start) * 1000)
        seen.append(counter.take())
        if case.info is not None and not remark:
            remark = case.info(result)
    commands = seen[0]
    notes: list[str] = []
    if case.single and len(commands) != 1:
        notes.append(f"{MARK}: {case.why or 'not explained'}")
    elif len(commands) != 1 and case.why:
        notes.append(case.why)
    variants = sorted({" + ".join(names) for names in seen})
    if len(variants) > 1:
        notes.append(f"the commands varied over the repetitions: {' | '.join(variants)}")
    if remark:
        notes.append(remark)
    return {
        "call": case.name,
        "round_trips": len(commands),
        "commands": commands,
        "p50_ms": statistics.median(times),
        "note": "; ".join(notes),
    }


def measure(uri: str | None = None, *, repeat: int = 50) -> list[dict[str, Any]]:
    """Round trips and median latency of each protocol call (see the module doc); one dict per row.

    Without ``uri``: ``$DOCSTORE_BENCH_MONGODB_URI``, else SecantusDB started in this process.
    """
    uri = uri or os.environ.get("DOCSTORE_BENCH_MONGODB_URI") or None
    server = None
    if uri is None:
        from secantus import SecantusDBServer

        server = SecantusDBServer(storage_path=":memory:")
        server.start()
        uri = server.uri.rstrip("/") + "/" + DATABASE
    counter = CommandCounter()
    options: dict[str, Any] = {"event_listeners": [counter]}
    storage = docstore.setup_storage(uri, connect_options=options)
    try:
        for name in COLLECTIONS:
            storage.db.drop_collection(name)
        loose = docstore.setup_storage(uri, connect_options=options, strict=False)
        try:
            fixture = _Fixture(storage, repeat)
            # a Storage checks a collection's indexes on its first use of it (a row of its own below), not per
            # call: the fixture has made `storage` use experiments, algo and trials; `loose` uses only trials
            loose.get_trial(fixture.stored)
            return [_run(case, counter, repeat) for case in _cases(storage, loose, fixture, uri, options)]
        finally:
            loose.close()
    finally:
        storage.close()
        if server is not None:
            server.stop()


def format_table(rows: list[dict[str, Any]]) -> str:
    header = ("call", "round trips", "commands", "p50 ms", "note")
    lines = [
        (row["call"], str(row["round_trips"]), " + ".join(row["commands"]), f"{row['p50_ms']:.2f}", row["note"])
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(4)]

    def render(cells: tuple[str, ...]) -> str:
        call, trips, commands, p50, note = cells
        text = f"{call:<{widths[0]}}  {trips:>{widths[1]}}  {commands:<{widths[2]}}  {p50:>{widths[3]}}  {note}"
        return text.rstrip()

    rule = "  ".join("-" * width for width in widths) + "  ----"
    return "\n".join([render(header), rule, *(render(line) for line in lines)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--uri",
        help="a MongoDB to measure (default: $DOCSTORE_BENCH_MONGODB_URI, else SecantusDB in process); "
        "its experiments, trials, algo and benchmarks collections are dropped",
    )
    parser.add_argument("--repeat", type=int, default=50, help="repetitions per call for the latency (default 50)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    uri = args.uri or os.environ.get("DOCSTORE_BENCH_MONGODB_URI") or None
    if uri is None:
        server = "SecantusDB in this process (storage_path=':memory:')"
    else:
        from docstore.uri import parse_uri

        server = parse_uri(uri).redacted
    import pymongo

    print(
        f"docstore {docstore.__version__}, pymongo {pymongo.version}, python {sys.version.split()[0]}; server: "
        f"{server}; p50 over {args.repeat} calls (at most 10 for the 150-result fetch)"
    )
    print(format_table(measure(uri, repeat=args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
