"""``python -m benchmarks --quick`` runs end to end and prints a row for every contender it can import."""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(300)


def _importable(name: str) -> bool:
    # a submodule, not the top-level name: tests/orion and tests/optuna are on sys.path's
    # rootdir/tests and would pass for namespace packages "orion" and "optuna"
    return importlib.util.find_spec(name) is not None


# One contender of each kind: a docstore engine, Orion's store, Optuna's store, and the
# external-server row that is skipped without its URI. The other contenders share these code
# paths (benchmarks/contenders.py); every one of them runs in the full harness, a benchmark.
SMOKE = [
    "docstore json durable=false",
    "docstore $DOCSTORE_BENCH_MONGODB_URI",
    "orion 0.2.7 pickleddb",
    "optuna journal file",
]


def test_quick_run_prints_a_row_for_one_contender_of_each_kind(tmp_path: Path) -> None:
    pytest.importorskip("docstore_jsonfile")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("DOCSTORE_BENCH_MONGODB_URI", None)  # no shared server in the test
    command = [sys.executable, "-m", "benchmarks", "--quick", "--no-roundtrips", "--only", ",".join(SMOKE)]
    done = subprocess.run(
        [*command, "--out", str(tmp_path / "out")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = done.stdout.split("\ncontender ", 1)[1]  # the final table, after its header
    rows = [line for line in table.splitlines() if line and not line.startswith(("-", "machine", "wrote"))]
    expected = ["docstore json durable=false"]
    expected += ["orion 0.2.7 pickleddb"] if _importable("orion.core") else []
    expected += ["optuna journal file"] if _importable("optuna.study") else []
    for name in expected:
        measured = [line for line in rows if line.startswith(name) and " failed:" not in line]
        assert len(measured) == 2, f"{name!r}: expected a measured row for 1 and 2 workers in\n{table}"
    assert not any(line.startswith("docstore memory://") for line in rows), "--only let another contender run"
    assert any(line.startswith("docstore $DOCSTORE_BENCH_MONGODB_URI") and "skipped:" in line for line in rows)
    assert (tmp_path / "out" / "results.md").is_file()
    assert (tmp_path / "out" / "results.csv").is_file()


def test_a_contender_is_not_run_above_its_size_limit_and_the_table_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("docstore_jsonfile")
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import harness
        from benchmarks.contenders import Docstore
    finally:
        sys.path.remove(str(ROOT))
    small = Docstore("docstore memory:// (limited)", "memory")
    small.max_size, small.too_large = 30, "a reason given by the contender"
    monkeypatch.setattr(harness, "all_contenders", lambda: [small])
    monkeypatch.setattr(harness, "machine_limit", lambda folder, count: [0.001] * count)
    code = harness.main(
        ["--sizes", "20,40", "--workers", "1,2", "--budget", "5", "--no-roundtrips", "--out", str(tmp_path)]
    )
    assert code == 0
    with (tmp_path / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["size"], r["workers"], r["completed"]) for r in rows] == [
        ("20", "1", "20"),
        ("20", "2", "20"),
        ("40", "", ""),
    ]
    assert rows[2]["note"] == "not run above 30 trials: a reason given by the contender"
    assert "not run above 30 trials" in capsys.readouterr().out


def test_profile_loop_runs_and_reports_its_figures(tmp_path: Path) -> None:
    pytest.importorskip("docstore_jsonfile")
    options = ["--kind", "json-fast", "--size", "60", "--workers", "2", "--profile", "3"]
    done = subprocess.run(
        [sys.executable, "benchmarks/profile_loop.py", *options],
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = done.stdout.splitlines()[0]
    assert summary.startswith("docstore json-fast, 60 trials, 2 worker(s): 60 trials in "), summary
    assert "us per trial; first trial " in summary
    assert "Ordered by: internal time" in done.stdout  # the merged profile of both workers
