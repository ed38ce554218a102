"""docstore's pytest plugin, used the way a user's project uses it: its fixtures and nothing else.

A temporary project holds one test file and no conftest; ``python -m pytest`` runs it in a
subprocess. Where docstore's installed metadata registers the ``pytest11`` entry point (CI
installs the project with ``pip install -e ".[dev]"``), pytest loads the plugin by itself, as
for any user; an older install of this checkout gets ``-p docstore.testing.plugin`` instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGIN = "docstore.testing.plugin"

USER_TESTS = """
import pytest

import docstore

previous = []


@pytest.mark.parametrize("docstore_engine", ["mongomock", "memory"])
def test_a_storage_and_its_database(docstore_storage, docstore_db, docstore_engine):
    assert docstore_db.list_collection_names() == []
    experiment = docstore_storage.get_or_create_experiment({"name": "e", "space": {"x": "uniform(0, 1)"}})
    docstore_storage.register_trial(docstore.Trial(experiment=experiment["_id"], params={"x": 0.5}))
    report = docstore.run_worker(docstore_storage, experiment, lambda x: x * 2)
    assert report.completed == 1
    assert docstore_db["trials"].find_one({})["status"] == "completed"
    assert docstore_db.uri.startswith(docstore_engine + "://")
    previous.append(docstore_db.uri)


@pytest.mark.parametrize("docstore_engine", ["mongomock", "memory"])
def test_each_test_gets_a_fresh_store(docstore_db, docstore_engine):
    assert docstore_db.list_collection_names() == []
    assert docstore_db.uri not in previous or docstore_engine == "memory"


def test_a_mongomock_store_is_emptied_after_its_test():
    mongomock_uris = [uri for uri in previous if uri.startswith("mongomock://")]
    assert mongomock_uris
    with docstore.connect(mongomock_uris[0]) as db:
        assert db.list_collection_names() == []


def test_the_default_engine_is_mongomock(docstore_engine, docstore_uri):
    assert docstore_engine == "mongomock"
    assert docstore_uri.startswith("mongomock://")


def test_mongomock_name_lives_for_the_process_memory_starts_empty(docstore_uri):
    with docstore.connect(docstore_uri) as first:
        first["c"].insert_one({"_id": 1})
    with docstore.connect(docstore_uri) as second:
        assert second["c"].count_documents({}) == 1
    with docstore.connect("memory://") as first:
        first["c"].insert_one({"_id": 1})
    with docstore.connect("memory://") as second:
        assert second["c"].count_documents({}) == 0


@pytest.mark.parametrize("docstore_engine", ["jsonfile"])
def test_a_json_file_in_tmp_path(docstore_uri, docstore_db, tmp_path):
    assert docstore_uri.startswith(str(tmp_path)) and docstore_uri.endswith(".json")
    docstore_db["c"].insert_one({"_id": 1})
    assert os.path.exists(docstore_uri)
"""


def _entry_point_installed() -> bool:
    return any(ep.value == PLUGIN for ep in metadata.entry_points(group="pytest11"))


def _run_user_project(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (folder / "test_user.py").write_text("import os\n" + USER_TESTS)
    paths = [str(REPO), str(REPO / "adapters"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    env.pop("PYTEST_ADDOPTS", None)
    plugin = [] if _entry_point_installed() else ["-p", PLUGIN]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *plugin, *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_pyproject_registers_the_plugin() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    section = re.search(r"^\[project\.entry-points\.pytest11\]\n((?:[^\[\n].*\n|\n)*)", text, re.MULTILINE)
    assert section is not None
    entries = [line for line in section.group(1).splitlines() if line.strip() and not line.startswith("#")]
    assert entries == [f'docstore = "{PLUGIN}"']


def test_a_project_without_conftest_uses_the_fixtures_on_mongomock_and_memory(tmp_path: Path) -> None:
    pytest.importorskip("mongomock", reason="mongomock is not installed")
    assert not list(tmp_path.glob("conftest.py"))
    done = _run_user_project(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "8 passed" in done.stdout, done.stdout
    if _entry_point_installed():  # loaded by the entry point alone, as for any user
        plugins = next(line for line in done.stdout.splitlines() if line.startswith("plugins:"))
        assert "docstore-" in plugins


def test_the_engine_for_a_whole_run(tmp_path: Path) -> None:
    (tmp_path / "test_engine.py").write_text(
        "def test_engine(docstore_engine, docstore_db):\n    print('ENGINE', docstore_engine, docstore_db.uri)\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\ndocstore_engine = memory\n")
    paths = [str(REPO), str(REPO / "adapters"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    plugin = [] if _entry_point_installed() else ["-p", PLUGIN]
    base = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-s", *plugin, "test_engine.py"]
    by_ini = subprocess.run(base, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert by_ini.returncode == 0, by_ini.stdout + by_ini.stderr
    assert "ENGINE memory memory://" in by_ini.stdout
    by_option = subprocess.run(
        [*base, "--docstore-engine=jsonfile"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert by_option.returncode == 0, by_option.stdout + by_option.stderr
    assert re.search(r"ENGINE jsonfile /\S+/test_engine0/docstore_test_\w+\.json", by_option.stdout), by_option.stdout


def test_without_mongomock_the_error_names_mongomock(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['mongomock'] = None\n")
    (tmp_path / "test_default.py").write_text("def test_default(docstore_db):\n    pass\n")
    paths = [str(tmp_path), str(REPO), str(REPO / "adapters"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    plugin = [] if _entry_point_installed() else ["-p", PLUGIN]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *plugin, "test_default.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "needs mongomock" in done.stdout
    assert "[mongomock]" in done.stdout  # with the command that installs it
    assert "bson" not in done.stdout
