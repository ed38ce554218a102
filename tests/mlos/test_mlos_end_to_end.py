"""The real ``mlos_bench`` command line, run end to end on a DocstoreStorage JSON store.

mlos_bench 0.6.2 loads ``{"class": "docstore_mlos.DocstoreStorage", ...}`` from a ``--storage``
config (schema validation skipped: its schema lists SqlStorage only), runs its bundled mock
environment with a mock optimizer, and stores experiment, trials, configs and results in the
store; the test then reads the store back through ``DocstoreStorage``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

mlos_bench = pytest.importorskip("mlos_bench", reason="mlos_bench is not installed (pip install mlos-bench pytz)")

from docstore_mlos import DocstoreStorage  # noqa: E402
from mlos_bench.environments.status import Status  # noqa: E402
from mlos_support import subprocess_env  # noqa: E402

# mlos_bench's own kv_df_to_dict (TrialData.results_dict, tunable_config.config_dict) warns under pandas 3.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.rename is deprecated")

ADAPTERS = Path(__file__).resolve().parents[2] / "adapters"
BUNDLED_MOCK_ENV = Path(mlos_bench.__file__).parent / "config" / "environments" / "mock" / "mock_env.jsonc"
EXPERIMENT_ID = "docstore-e2e"
MAX_SUGGESTIONS = 5
METRIC = "score"  # the bundled mock environment's "mock_env_metrics"
METRIC_RANGE = (60.0, 120.0)  # ... and its "mock_env_range"


def _git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.com", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.slow
def test_mlos_bench_cli_runs_on_docstore(tmp_path: Path) -> None:
    # mlos_bench records the git origin and commit of the root environment config: give it a repo.
    repo = tmp_path / "bench"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "remote", "add", "origin", "https://example.invalid/x.git")
    shutil.copyfile(BUNDLED_MOCK_ENV, repo / "env.jsonc")  # its tunables are included from mlos_bench's config tree
    (repo / "optimizer.jsonc").write_text(
        json.dumps(
            {
                "class": "mlos_bench.optimizers.MockOptimizer",
                "config": {"optimization_targets": {METRIC: "min"}, "max_suggestions": MAX_SUGGESTIONS, "seed": 42},
            }
        )
    )
    uri = str(tmp_path / "study.json")
    (repo / "storage.jsonc").write_text(json.dumps({"class": "docstore_mlos.DocstoreStorage", "config": {"uri": uri}}))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "bench configs")
    commit = _git(repo, "rev-parse", "HEAD")

    command = [
        sys.executable,
        "-m",
        "mlos_bench.run",
        "--environment",
        str(repo / "env.jsonc"),
        "--optimizer",
        str(repo / "optimizer.jsonc"),
        "--storage",
        str(repo / "storage.jsonc"),
        "--trial-config-repeat-count",
        "1",
        "--experiment-id",
        EXPERIMENT_ID,
        "--log-level",
        "WARNING",
    ]
    env = subprocess_env(MLOS_BENCH_SKIP_SCHEMA_VALIDATION="true")
    assert str(ADAPTERS) in env["PYTHONPATH"].split(os.pathsep)
    start = time.perf_counter()
    run = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False)
    elapsed = time.perf_counter() - start
    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    assert Path(uri).exists()

    with DocstoreStorage({"uri": uri}) as storage:
        assert list(storage.experiments) == [EXPERIMENT_ID]
        experiment = storage.experiments[EXPERIMENT_ID]
        assert experiment.description == "Mock environment"  # the environment's name
        assert experiment.root_env_config == ("env.jsonc", "https://example.invalid/x.git", commit)
        assert experiment.objectives == {METRIC: "min"}

        trials = experiment.trials
        assert sorted(trials) == list(range(1, MAX_SUGGESTIONS + 1))
        scores = {}
        for trial_id, trial in trials.items():
            assert trial.status == Status.SUCCEEDED, trial
            assert trial.ts_end is not None
            assert trial.ts_start <= trial.ts_end
            assert set(trial.results_dict) == {METRIC}
            score = trial.results_dict[METRIC]
            assert isinstance(score, float)
            assert METRIC_RANGE[0] <= score <= METRIC_RANGE[1]
            scores[trial_id] = score
            assert trial.tunable_config.config_dict  # the mock environment's tunables were stored
        assert experiment.default_tunable_config_id == trials[1].tunable_config_id
        assert len(experiment.tunable_configs) == MAX_SUGGESTIONS  # seeded random configs: all distinct

        frame = experiment.results_df
        assert frame.shape[0] == MAX_SUGGESTIONS
        assert frame["trial_id"].tolist() == list(range(1, MAX_SUGGESTIONS + 1))
        assert set(frame["status"]) == {Status.SUCCEEDED.name}
        assert f"result.{METRIC}" in frame.columns
        assert [col for col in frame.columns if col.startswith("result.")] == [f"result.{METRIC}"]
        assert dict(zip(frame["trial_id"], frame[f"result.{METRIC}"], strict=True)) == pytest.approx(scores)
        assert any(col.startswith("config.") for col in frame.columns)
    print(f"mlos_bench CLI, {MAX_SUGGESTIONS} mock trials on a JSON store: {elapsed:.2f} s")
