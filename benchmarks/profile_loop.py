"""Where a worker's time goes: docstore's benchmark loop in W processes, with CPU time and a profile.

    python benchmarks/profile_loop.py [--kind json|json-fast] [--size 2000] [--workers 1] [--trials N] [--profile N]

Runs the loop of ``python -m benchmarks`` (reserve -> heartbeat -> results -> complete) on a
fresh JSON store of ``--size`` trials with ``--workers`` spawned processes until nothing is
pending (or each has run ``--trials``), and prints trials/s, the CPU time per trial summed
over the workers (on Linux, ``fdatasync``'s kernel time counts as CPU), and the slowest
worker's first trial (which builds the indexes and sorted views that worker's reservations
use). ``--profile N`` runs every worker under cProfile and prints the N functions with the
most time of their own, over all workers (profiling roughly doubles the times; read the
proportions).
"""

from __future__ import annotations

import argparse
import glob
import multiprocessing
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for extra in (HERE.parent, HERE.parent / "adapters"):
    if str(extra) not in sys.path:
        sys.path.append(str(extra))

from benchmarks.contenders import Docstore  # noqa: E402


def _worker(
    contender: Docstore, state: dict[str, Any], start: Any, results: Any, profile_to: str | None, limit: int
) -> None:
    import cProfile

    handle = contender.open(state, 0)
    start.wait()
    profiler = cProfile.Profile() if profile_to else None
    began, cpu, done, first = time.perf_counter(), time.process_time(), 0, 0.0
    if profiler is not None:
        profiler.enable()
    while done < limit and contender.step(handle, state):
        done += 1
        if done == 1:
            first = time.perf_counter() - began
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(os.path.join(profile_to, f"worker-{os.getpid()}.prof"))
    results.put((done, time.perf_counter() - began, time.process_time() - cpu, first))
    contender.close(handle)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--kind", choices=("json", "json-fast"), default="json", help="durable, or durable=false")
    parser.add_argument("--size", type=int, default=2000, help="trials registered before the loop")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--trials", type=int, default=0, help="stop each worker after this many (0: none left)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="profile; print the N costliest functions")
    args = parser.parse_args(argv)
    contender = Docstore(f"docstore {args.kind}", args.kind)
    with tempfile.TemporaryDirectory(prefix="docstore-profile-") as folder:
        state = contender.prepare(folder, args.size)
        context = multiprocessing.get_context("spawn")
        start, results = context.Barrier(args.workers + 1), context.Queue()
        profile_to = folder if args.profile else None
        workers = [
            context.Process(target=_worker, args=(contender, state, start, results, profile_to, args.trials or 1 << 62))
            for _ in range(args.workers)
        ]
        for worker in workers:
            worker.start()
        start.wait(timeout=300)
        outcomes = [results.get(timeout=3600) for _ in workers]
        for worker in workers:
            worker.join(60)
        done = sum(o[0] for o in outcomes)
        wall = max(o[1] for o in outcomes)
        cpu = sum(o[2] for o in outcomes)
        print(
            f"docstore {args.kind}, {args.size} trials, {args.workers} worker(s): {done} trials in {wall:.2f} s = "
            f"{done / wall:.0f} trials/s; CPU {cpu:.2f} s = {cpu / max(done, 1) * 1e6:.0f} us per trial; "
            f"first trial {1000 * max(o[3] for o in outcomes):.0f} ms"
        )
        if args.profile:
            stats = pstats.Stats(*glob.glob(os.path.join(folder, "worker-*.prof")))
            stats.sort_stats("tottime").print_stats(args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
