"""`orion hunt` end to end on three storages: Orion's PickledDB, Legacy over docstore, native docstore.

Each run is the real command line, ``orion hunt -n bench --config cfg.yaml --max-trials N
--n-workers W python trial.py -x~'uniform(0, 1)'``, in a fresh folder, timed from start
to exit (Orion's own start-up, about 2-3 s, is included and is the same for every row).
The trial script writes its result file itself, without importing Orion, so the time is
spent in Orion's worker loop and its storage, not in Python start-up of the trial.

    python benchmarks/orion_hunt.py              # 200 trials, 1 and 4 workers
    python benchmarks/orion_hunt.py --quick      # 20 trials
    python benchmarks/orion_hunt.py --uri mongodb://127.0.0.1:27017/bench   # docstore rows on MongoDB

Prints a table: storage, workers, completed trials, wall time and trials per second.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

TRIAL_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    x = float(sys.argv[sys.argv.index("-x") + 1])
    with open(os.environ["ORION_RESULTS_PATH"], "w") as f:
        json.dump([{"name": "objective", "type": "objective", "value": (x - 0.3) ** 2}], f)
    """
)

STORAGES = ("pickleddb", "legacy-docstore", "docstore")


def storage_config(kind: str, folder: Path, uri: str | None) -> dict[str, Any]:
    if kind == "pickleddb":
        return {"type": "legacy", "database": {"type": "pickleddb", "host": str(folder / "orion_db.pkl")}}
    host = uri or str(folder / "study.json")
    if kind == "legacy-docstore":
        return {"type": "legacy", "database": {"type": "docstoredb", "host": host}}
    if kind == "docstore":
        return {"type": "docstore", "database": {"host": host}}
    raise ValueError(kind)


def orion_command() -> list[str]:
    """The ``orion`` command; through a shim that imports docstore_orion when the entry points are missing."""
    groups = importlib.metadata.entry_points()
    registered = any(ep.name == "docstore" for ep in groups.select(group="BaseStorageProtocol"))
    if registered:
        return [str(Path(sys.executable).with_name("orion"))]
    shim = "import sys, docstore_orion; from orion.core.cli import main; sys.exit(main())"
    return [sys.executable, "-c", shim]


def count_completed(config: dict[str, Any]) -> int:
    import docstore_orion  # noqa: F401 - registers the plug-ins in this process
    from orion.core.io import experiment_builder
    from orion.storage.base import setup_storage

    storage = setup_storage(config)
    experiment = experiment_builder.load("bench", storage=storage)
    return len(experiment.fetch_trials_by_status("completed"))


def run_once(kind: str, workers: int, trials: int, uri: str | None) -> tuple[int, float]:
    with tempfile.TemporaryDirectory(prefix="orion-bench-") as tmp:
        folder = Path(tmp)
        (folder / "trial.py").write_text(TRIAL_SCRIPT)
        config = storage_config(kind, folder, uri)
        if uri and kind != "pickleddb":
            _drop_experiment(config)
        import yaml

        (folder / "cfg.yaml").write_text(yaml.safe_dump({"storage": config}))
        command = [
            *orion_command(),
            "hunt",
            "-n",
            "bench",
            "--config",
            "cfg.yaml",
            "--max-trials",
            str(trials),
            "--n-workers",
            str(workers),
            sys.executable,
            "trial.py",
            "-x~uniform(0, 1)",
        ]
        import docstore_orion  # the workers import it from where this process found it

        path = os.pathsep.join(
            filter(None, [str(Path(docstore_orion.__file__).parent.parent), os.environ.get("PYTHONPATH")])
        )
        env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": path}
        start = time.perf_counter()
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(
                f"orion hunt failed for {kind} with {workers} workers:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return count_completed(config), wall


def _drop_experiment(config: dict[str, Any]) -> None:
    """On a shared server, start from an empty experiment called ``bench``."""
    import docstore

    with docstore.connect(config["database"]["host"]) as db:
        for name in ("experiments", "trials", "algo", "benchmarks"):
            db.drop_collection(name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="20 trials instead of 200")
    parser.add_argument("--workers", default="1,4", help="comma-separated worker counts (default 1,4)")
    parser.add_argument("--storages", default=",".join(STORAGES), help=f"among {', '.join(STORAGES)}")
    parser.add_argument("--uri", help="run the docstore rows on this store instead of a JSON file (emptied first)")
    args = parser.parse_args(argv)
    trials = 20 if args.quick else args.trials
    workers = [int(w) for w in args.workers.split(",")]
    kinds = [k.strip() for k in args.storages.split(",")]
    unknown = set(kinds) - set(STORAGES)
    if unknown:
        parser.error(f"unknown storages {sorted(unknown)}; choose among {', '.join(STORAGES)}")

    print(
        f"orion {importlib.metadata.version('orion')}, python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
        f"{trials} trials, docstore on {args.uri or 'a JSON file'}"
    )
    header = f"{'storage':<17}{'workers':>8}{'completed':>11}{'wall s':>9}{'trials/s':>10}"
    print(header)
    print("-" * len(header))
    for n_workers in workers:
        for kind in kinds:
            completed, wall = run_once(kind, n_workers, trials, args.uri)
            print(f"{kind:<17}{n_workers:>8}{completed:>11}{wall:>9.1f}{completed / wall:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
