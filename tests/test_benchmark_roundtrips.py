"""``benchmarks/roundtrips.py``: each worker call on the MongoDB engine is one round trip, counted on the wire.

Runs ``measure()`` against SecantusDB (a MongoDB-wire server, started in this process) with a
pymongo ``CommandListener``; the target (issue 7) is one command per single-document call.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("secantus", reason="secantusdb (a MongoDB-wire server) is not installed: pip install -e '.[dev]'")
pytest.importorskip("pymongo")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import roundtrips  # noqa: E402

pytestmark = pytest.mark.timeout(120)

CALLS = [
    "create_experiment",
    "register_trial",
    "register_trial (strict=False)",
    "reserve_trial",
    "update_heartbeat",
    "push_trial_results",
    "set_trial_status (was=reserved)",
    "set_trial_status (stale was: FailedUpdate)",
    "get_trial",
    "get_trial (first call of a new Storage)",
    "fetch_trials_by_status",
    "fetch_trials_by_status (150 results)",
    "fetch_pending_trials",
    "fetch_lost_trials (5 lost)",
    "fetch_lost_trials (none lost)",
    "count_completed_trials",
    "count_broken_trials (none broken)",
    "fetch_experiments",
    "update_experiment",
    "acquire_algorithm_lock (enter + exit)",
    "retrieve_result",
]
ONE_ROUND_TRIP = {
    "reserve_trial": ["findAndModify"],
    "update_heartbeat": ["findAndModify"],
    "push_trial_results": ["findAndModify"],
    "set_trial_status (was=reserved)": ["findAndModify"],
    "get_trial": ["find"],
    "register_trial": ["insert"],
}


@pytest.fixture(scope="module")
def rows() -> dict[str, dict[str, Any]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("DOCSTORE_BENCH_MONGODB_URI", raising=False)  # always the in-process SecantusDB here
        measured = roundtrips.measure(repeat=5)
    return {row["call"]: row for row in measured}


def test_every_call_has_a_row(rows: dict[str, dict[str, Any]]) -> None:
    assert list(rows) == CALLS
    for row in rows.values():
        assert set(row) == {"call", "round_trips", "commands", "p50_ms", "note"}
        assert row["round_trips"] == len(row["commands"]) >= 1
        assert row["p50_ms"] > 0


@pytest.mark.parametrize("call", list(ONE_ROUND_TRIP))
def test_a_worker_call_is_one_round_trip(rows: dict[str, dict[str, Any]], call: str) -> None:
    row = rows[call]
    assert row["commands"] == ONE_ROUND_TRIP[call], row["note"]
    assert row["round_trips"] == 1


def test_a_lost_compare_and_set_reads_once_more_to_report(rows: dict[str, dict[str, Any]]) -> None:
    row = rows["set_trial_status (stale was: FailedUpdate)"]
    assert row["commands"] == ["findAndModify", "find"]
    assert row["round_trips"] == 2
    assert "actual='completed'" in row["note"]


def test_calls_that_are_not_one_round_trip_say_so(rows: dict[str, dict[str, Any]]) -> None:
    for row in rows.values():
        if row["round_trips"] != 1:
            assert row["note"], row
