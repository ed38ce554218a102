"""The commands that hand over to integration packages: ``dashboard`` and ``import-orion``."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from docstore.cli import main


def test_import_orion_of_a_missing_file_exits_2_with_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "orion_db.pkl"
    assert main(["import-orion", str(missing), str(tmp_path / "dst.json")]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err
    assert "Traceback" not in err
    assert not (tmp_path / "dst.json").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dashboard_serves_a_study_from_a_json_store(tmp_path: Path) -> None:
    optuna = pytest.importorskip("optuna")
    pytest.importorskip("optuna_dashboard")
    docstore_optuna = pytest.importorskip("docstore_optuna")
    store = tmp_path / "study.json"
    study = optuna.create_study(study_name="cli-dashboard", storage=docstore_optuna.storage(str(store)))
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1) ** 2, n_trials=3)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "docstore", "dashboard", str(store), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        body = b""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2) as reply:
                    body = reply.read()
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1].decode()
                time.sleep(0.3)
        assert b"cli-dashboard" in body
    finally:
        server.terminate()
        server.communicate(timeout=20)  # reaps the process and closes the pipe
