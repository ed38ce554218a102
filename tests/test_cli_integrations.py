"""The commands that hand over to integration packages: ``dashboard`` and ``import-orion``."""

from __future__ import annotations

import os
import pickle
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


def _environment() -> dict[str, str]:
    repo = Path(__file__).resolve().parents[1]
    paths = [str(repo), str(repo / "adapters"), os.environ.get("PYTHONPATH", "")]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    environment.pop("DOCSTORE_URI", None)
    return environment


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "docstore", *args],
        cwd=cwd,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_dashboard_refuses_a_missing_path_and_an_in_process_store(tmp_path: Path) -> None:
    pytest.importorskip("optuna_dashboard")
    missing = _run("dashboard", "nosuch.json", cwd=tmp_path)
    assert missing.returncode == 2
    assert "no store at" in missing.stderr
    assert "http://" not in missing.stdout
    assert list(tmp_path.iterdir()) == []  # nothing created
    memory = _run("dashboard", "memory://", cwd=tmp_path)
    assert memory.returncode == 2
    assert "empty store" in memory.stderr


def _optuna_study(path: Path, name: str) -> None:
    optuna = pytest.importorskip("optuna")
    docstore_optuna = pytest.importorskip("docstore_optuna")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = docstore_optuna.storage(str(path))
    optuna.create_study(study_name=name, storage=storage).optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    storage._backend.close()  # type: ignore[attr-defined]


def test_dashboard_checks_the_port_before_announcing_and_finds_the_optuna_store(tmp_path: Path) -> None:
    pytest.importorskip("optuna_dashboard")
    import docstore

    with docstore.setup_storage(str(tmp_path / "docstore.json")) as storage:  # the demo's store: no Optuna study
        storage.create_experiment({"name": "not-optuna", "version": 1})
    _optuna_study(tmp_path / "study.json", "found-me")
    (tmp_path / "package.json").write_text('{"name": "not a store"}')
    files = sorted(os.listdir(tmp_path))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _run("dashboard", "--port", str(port), cwd=tmp_path)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "http://" not in done.stdout  # nothing announced
    assert sorted(os.listdir(tmp_path)) == files  # a JSON file that is not a store is left as it is
    assert (tmp_path / "package.json").read_text() == '{"name": "not a store"}'
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "docstore", "dashboard", "--port", str(port)],
        cwd=tmp_path,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        announced = server.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in announced
        assert str(tmp_path / "study.json") in announced
        assert "1 Optuna study" in announced
    finally:
        server.terminate()
        server.communicate(timeout=20)


def test_dashboard_without_any_optuna_store_says_so(tmp_path: Path) -> None:
    pytest.importorskip("optuna_dashboard")
    import docstore

    with docstore.connect(str(tmp_path / "docstore.json")) as db:
        db["x"].insert_one({"a": 1})
    (tmp_path / "package.json").write_text("{}")
    done = _run("dashboard", cwd=tmp_path)
    assert done.returncode == 2
    assert "no store in this folder holds an Optuna study (looked at docstore.json, package.json)" in done.stderr


def test_import_orion_of_a_file_that_is_not_a_pickleddb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_pickle = tmp_path / "study.json"
    not_pickle.write_text('{"experiments": []}')
    assert main(["import-orion", str(not_pickle), str(tmp_path / "dst.json")]) == 2
    err = capsys.readouterr().err
    assert "is not an Orion PickledDB file" in err
    assert "UnpicklingError" not in err
    assert err.count("\n") == 1
    assert not (tmp_path / "dst.json").exists()
    pytest.importorskip("orion.core", reason="Orion is not installed (uv pip install -e '.[orion]')")
    other_pickle = tmp_path / "list.pkl"
    other_pickle.write_bytes(pickle.dumps([1, 2, 3]))
    assert main(["import-orion", str(other_pickle), str(tmp_path / "dst.json")]) == 2
    err = capsys.readouterr().err
    assert "is not an Orion PickledDB file" in err
    assert "nothing was imported" in err
