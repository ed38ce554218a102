"""Processes sharing one JSON store never collide: trial ids come from a compare-and-set counter."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from docstore_mlos import DocstoreStorage
from mlos_support import TUNABLES, subprocess_env

WORKER = """
import sys
from datetime import datetime, timezone
from mlos_bench.tunables.tunable_groups import TunableGroups
from docstore_mlos import DocstoreStorage

uri, root, worker, count, tunables = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), eval(sys.argv[5])
groups = TunableGroups(tunables)
storage = DocstoreStorage({"uri": uri, "options": {"lock_timeout": 120}})
with storage.experiment(experiment_id="shared", trial_id=1, root_env_config=root, description="4 processes",
                        tunables=groups, opt_targets={"score": "min"}) as exp:
    for i in range(count):
        trial = exp.new_trial(groups.copy().assign({"x": i % 7}), datetime.now(timezone.utc),
                              config={"worker": worker, "i": i})
        print(trial.trial_id, flush=True)
storage.dispose()
"""


@pytest.mark.slow
def test_four_processes_fifty_trials_each(tmp_path: Path, root_env_config: str) -> None:
    uri = str(tmp_path / "study.json")
    start = time.perf_counter()
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, uri, root_env_config, str(n), "50", repr(TUNABLES)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=subprocess_env(),
        )
        for n in range(4)
    ]
    outputs = [worker.communicate(timeout=240) for worker in workers]
    elapsed = time.perf_counter() - start
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    reported = [int(line) for out, _err in outputs for line in out.split()]
    assert sorted(reported) == list(range(1, 201))
    with DocstoreStorage({"uri": uri}) as storage:
        trials = storage.experiments["shared"].trials
        assert sorted(trials) == list(range(1, 201))
        assert len(storage.experiments["shared"].tunable_configs) == 7  # deduplicated across processes
        per_worker = storage.experiments["shared"].results_df.shape[0]
        assert per_worker == 200
    print(f"4 processes x 50 trials on one JSON file: {elapsed:.2f} s")


LOADER = """
import json, sys
from mlos_bench.storage.storage_factory import from_config
storage = from_config(json.dumps({"class": "docstore_mlos.DocstoreStorage", "config": {"uri": sys.argv[1]}}))
print(type(storage).__name__, repr(storage), sorted(storage.experiments))
"""


def test_loaded_from_mlos_bench_json_config(tmp_path: Path) -> None:
    uri = str(tmp_path / "study.json")
    refused = subprocess.run(
        [sys.executable, "-c", LOADER, uri],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=120,
        check=False,
    )
    assert refused.returncode != 0  # mlos_bench's storage schema lists SqlStorage only
    assert "ValidationError" in refused.stderr
    loaded = subprocess.run(
        [sys.executable, "-c", LOADER, uri],
        capture_output=True,
        text=True,
        env=subprocess_env(MLOS_BENCH_SKIP_SCHEMA_VALIDATION="true"),
        timeout=120,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == ["DocstoreStorage", f"docstore:{uri}", "[]"]
