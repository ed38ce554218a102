"""What ``docstore.run_worker`` costs per trial, next to the hand-written loop it replaced in the demo.

    python benchmarks/worker_loop.py [--trials N] [--rounds R]

One process, one worker, a function that returns at once (so only the loop is measured), on
``memory://`` and on a JSON file (``fdatasync`` per write, the default). The hand loop is the
demo's before it used the helper: ``reserve_trial``, ``update_heartbeat``,
``push_trial_results``, ``set_trial_status(..., was="reserved")``. ``run_worker`` reserves,
runs the function while its heartbeat thread holds the trial (the thread beats only after
``storage.heartbeat`` seconds: never, for trials this short), pushes the results, completes,
and looks for lost trials once per heartbeat period. Each round alternates the two loops on
fresh stores; the table gives the median per-trial time of R rounds and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable

import docstore
from docstore.storage import Storage


def _seed(storage: Storage, trials: int) -> str:
    experiment = storage.create_experiment({"name": "bench", "version": 1})
    for i in range(trials):
        storage.register_trial(docstore.Trial(experiment=experiment["_id"], params={"x": float(i)}))
    return str(experiment["_id"])


def hand_loop(storage: Storage, experiment: str) -> int:
    completed = 0
    while (trial := storage.reserve_trial(experiment)) is not None:
        storage.update_heartbeat(trial)
        trial.results = [{"name": "objective", "type": "objective", "value": trial.params["x"] ** 2}]
        storage.push_trial_results(trial)
        storage.set_trial_status(trial, "completed", was="reserved")
        completed += 1
    return completed


def helper_loop(storage: Storage, experiment: str) -> int:
    return docstore.run_worker(storage, experiment, lambda x: x**2).completed


def _per_trial(loop: Callable[[Storage, str], int], uri: str, trials: int) -> float:
    with docstore.setup_storage(uri) as storage:
        experiment = _seed(storage, trials)
        start = time.perf_counter()
        done = loop(storage, experiment)
        elapsed = time.perf_counter() - start
    if done != trials:
        raise RuntimeError(f"{loop.__name__} completed {done} of {trials} trials")
    return elapsed / trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{args.trials} trials per run, {args.rounds} rounds, load average {os.getloadavg()[0]:.2f}")
    print(f"{'store':<22} {'hand loop µs/trial':>20} {'run_worker µs/trial':>21} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as folder:
        for label in ("memory://", "JSON file (durable)"):
            times: dict[str, list[float]] = {"hand": [], "helper": []}
            for round_ in range(args.rounds):
                for name, loop in (("hand", hand_loop), ("helper", helper_loop)):
                    uri = "memory://" if label == "memory://" else os.path.join(folder, f"{name}{round_}.json")
                    times[name].append(_per_trial(loop, uri, args.trials))
            hand, helper = (statistics.median(times[k]) * 1e6 for k in ("hand", "helper"))
            print(f"{label:<22} {hand:>20.0f} {helper:>21.0f} {helper / hand:>7.2f}")


if __name__ == "__main__":
    main()
