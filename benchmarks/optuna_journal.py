"""Optuna ask -> tell throughput: docstore's JSON file vs Optuna's JournalFileBackend vs SQLite.

Each run creates a fresh study in a temporary folder, starts P worker processes (spawned,
so each opens the storage itself, as separate Optuna workers do), releases them together
and times ``study.ask(fixed distributions)`` + ``study.tell(trial, value)`` until the
study holds N trials in all. The sampler is RandomSampler, so the figures measure the
storage, not the sampler. Per-trial latencies (ask + tell, in each worker) give p50/p99.

    python benchmarks/optuna_journal.py            # 1 and 4 processes, 1k and 10k trials
    python benchmarks/optuna_journal.py --quick    # 1 and 4 processes, 200 trials
    python benchmarks/optuna_journal.py --trials 2000 --procs 2 --backends docstore-json,journal-file
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import optuna
from optuna.distributions import FloatDistribution, IntDistribution

BACKENDS = ("docstore-json", "journal-file", "sqlite")


def open_storage(backend: str, folder: str) -> optuna.storages.BaseStorage:
    if backend == "docstore-json":
        import docstore_optuna

        return docstore_optuna.storage(os.path.join(folder, "study.json"))
    if backend == "journal-file":
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(os.path.join(folder, "journal.log")))
    if backend == "sqlite":
        return optuna.storages.RDBStorage(
            f"sqlite:///{os.path.join(folder, 'study.db')}", engine_kwargs={"connect_args": {"timeout": 600}}
        )
    raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")


DISTRIBUTIONS = {"x": FloatDistribution(-5.0, 5.0), "k": IntDistribution(0, 10)}


def worker(job: tuple[str, str, int, int], start: Any, results: Any) -> None:
    backend, folder, n_trials, seed = job
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(
        study_name="bench", storage=open_storage(backend, folder), sampler=optuna.samplers.RandomSampler(seed=seed)
    )
    start.wait()
    latencies: list[float] = []
    for _ in range(n_trials):
        began = time.perf_counter()
        trial = study.ask(DISTRIBUTIONS)
        study.tell(trial, (trial.params["x"] - 1) ** 2 + trial.params["k"])
        latencies.append(time.perf_counter() - began)
    results.put(latencies)


def run(backend: str, n_trials: int, n_procs: int) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="optuna-bench-") as folder:
        optuna.create_study(study_name="bench", storage=open_storage(backend, folder))
        start, results = context.Barrier(n_procs + 1), context.Queue()
        shares = [n_trials // n_procs + (1 if i < n_trials % n_procs else 0) for i in range(n_procs)]
        procs = [
            context.Process(target=worker, args=((backend, folder, share, seed), start, results))
            for seed, share in enumerate(shares)
        ]
        for proc in procs:
            proc.start()
        start.wait()  # every worker has imported Optuna and opened the study: start the clock
        began = time.perf_counter()
        latencies = [lat for _ in procs for lat in results.get(timeout=3600)]  # raises if a worker died
        elapsed = time.perf_counter() - began
        for proc in procs:
            proc.join()
            if proc.exitcode != 0:
                raise RuntimeError(f"a {backend} worker exited with {proc.exitcode}")
        study = optuna.load_study(study_name="bench", storage=open_storage(backend, folder))
        finished = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
        if finished != n_trials:
            raise RuntimeError(f"{backend}: {finished} finished trials, expected {n_trials}")
    latencies.sort()
    return {
        "trials_per_s": n_trials / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "seconds": elapsed,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="200 trials only")
    parser.add_argument("--trials", type=lambda s: [int(x) for x in s.split(",")], default=None)
    parser.add_argument("--procs", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4])
    parser.add_argument("--backends", type=lambda s: s.split(","), default=list(BACKENDS))
    args = parser.parse_args(argv)
    trial_counts = args.trials or ([200] if args.quick else [1000, 10000])
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    print(
        f"Optuna {optuna.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
        "ask+tell with RandomSampler; trials/s over the whole run, latency per trial in each worker"
    )
    header = f"{'trials':>7} {'procs':>5} | " + " | ".join(f"{b:^30}" for b in args.backends)
    print(header)
    print(f"{'':>7} {'':>5} | " + " | ".join(f"{'trials/s':>10} {'p50 ms':>9} {'p99 ms':>9}" for _ in args.backends))
    print("-" * len(header))
    for n_trials in trial_counts:
        for n_procs in args.procs:
            cells: list[str] = []
            for backend in args.backends:
                figures = run(backend, n_trials, n_procs)
                cells.append(f"{figures['trials_per_s']:>10.0f} {figures['p50_ms']:>9.2f} {figures['p99_ms']:>9.2f}")
            print(f"{n_trials:>7} {n_procs:>5} | " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
