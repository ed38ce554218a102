"""End to end: the real ``orion hunt`` and ``orion status`` commands on a docstore JSON file.

``orion hunt`` runs 20 trials with 2 workers (Orion's default PoolExecutor: separate
processes sharing the store), then the store is read back three ways: raw documents with
docstore, Orion's experiment API through the plug-in, and ``orion status``.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

import docstore

pytestmark = pytest.mark.slow

MAX_TRIALS = 20
N_WORKERS = 2

# The trial writes Orion's result file itself (what orion.client.report_objective does),
# so each trial costs a bare Python start-up rather than an import of Orion.
TRIAL_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    x = float(sys.argv[sys.argv.index("-x") + 1])
    with open(os.environ["ORION_RESULTS_PATH"], "w") as f:
        json.dump([{"name": "objective", "type": "objective", "value": (x - 0.3) ** 2}], f)
    """
)

STORAGES = {
    "legacy": lambda host: {"type": "legacy", "database": {"type": "docstoredb", "host": host}},
    "docstore": lambda host: {"type": "docstore", "database": {"host": host}},
}


def orion_command() -> list[str]:
    """``orion`` itself when docstore's entry points are installed, else Orion's main behind an import."""
    registered = {ep.name for ep in importlib.metadata.entry_points(group="BaseStorageProtocol")}
    script = Path(sys.executable).with_name("orion")
    found = str(script) if script.exists() else shutil.which("orion")  # a venv may reuse the system's
    if "docstore" in registered and found:
        return [found]
    return [sys.executable, "-c", "import sys, docstore_orion; from orion.core.cli import main; sys.exit(main())"]


def run_orion(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    # the workers import docstore_orion from where this process found it (a source tree too)
    import docstore_orion

    path = os.pathsep.join(
        filter(None, [str(Path(docstore_orion.__file__).parent.parent), os.environ.get("PYTHONPATH")])
    )
    environment = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": path, **(env or {})}
    done = subprocess.run(
        [*orion_command(), *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"orion {args[0]} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.mark.parametrize("kind", sorted(STORAGES))
def test_orion_hunt_and_status_on_a_json_store(kind: str, tmp_path: Path) -> None:
    store = tmp_path / "study.json"
    config: dict[str, Any] = {"storage": STORAGES[kind](str(store))}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "script.py").write_text(TRIAL_SCRIPT)

    run_orion(
        [
            "hunt",
            "-n",
            "exp",
            "--config",
            "cfg.yaml",
            "--exp-max-trials",
            str(MAX_TRIALS),
            "--n-workers",
            str(N_WORKERS),
            sys.executable,
            "script.py",
            "-x~uniform(0, 1)",
        ],
        cwd=tmp_path,
    )

    # Orion stops when `max_trials` are completed; a worker busy at that moment finishes its trial
    with docstore.connect(str(store)) as db:
        (experiment,) = db["experiments"].find({"name": "exp"})
        completed = db["trials"].count_documents({"experiment": experiment["_id"], "status": "completed"})
        broken = db["trials"].count_documents({"experiment": experiment["_id"], "status": "broken"})
    assert MAX_TRIALS <= completed <= MAX_TRIALS + N_WORKERS - 1
    assert broken == 0

    from orion.core.io import experiment_builder
    from orion.storage.base import setup_storage

    loaded = experiment_builder.load("exp", storage=setup_storage(config["storage"]))
    trials = loaded.fetch_trials_by_status("completed")
    assert len(trials) == completed
    assert all(
        0 <= t.params["/x"] <= 1 and t.objective.value == pytest.approx((t.params["/x"] - 0.3) ** 2) for t in trials
    )
    assert len({t.id for t in trials}) == completed

    # `orion status` loads experiments from the global configuration only (Orion 0.2.7 ignores
    # --config there), so the store is given through Orion's environment variables
    env = {
        "ORION_STORAGE_TYPE": config["storage"]["type"],
        "ORION_DB_TYPE": "docstoredb",
        "ORION_DB_ADDRESS": str(store),
    }
    status = run_orion(["status"], cwd=tmp_path, env=env)
    assert "exp-v1" in status
    assert re.search(rf"^completed\s+{completed}\s", status, re.MULTILINE), status
