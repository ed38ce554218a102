"""optuna-dashboard served over a docstore JSON file, in a subprocess on a loopback port."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("optuna", reason="Optuna is not installed (pip install -e '.[optuna]')")
pytest.importorskip("optuna_dashboard", reason="optuna-dashboard is not installed (pip install -e '.[dashboard]')")

import docstore_optuna
import optuna

SERVE = "import sys; from docstore_optuna.dashboard import serve; serve(sys.argv[1], port=int(sys.argv[2]))"


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as reply:
        assert reply.status == 200
        return json.loads(reply.read())


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_the_dashboard_serves_a_study_from_a_json_file(tmp_path: Path) -> None:
    uri = str(tmp_path / "study.json")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=docstore_optuna.storage(uri), study_name="dashboard-demo")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5)

    port = _free_loopback_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, uri, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"the dashboard exited: {server.communicate()[1]!r:.2000}"
            try:
                studies = _get_json(f"http://127.0.0.1:{port}/api/studies")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "the dashboard did not answer within 60 s"
                time.sleep(0.2)
        (summary,) = studies["study_summaries"]
        assert summary["study_name"] == "dashboard-demo"
        detail = _get_json(f"http://127.0.0.1:{port}/api/studies/{summary['study_id']}")
        assert len(detail["trials"]) == 5
    finally:
        server.kill()
        server.communicate(timeout=30)
