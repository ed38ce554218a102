"""Fixtures for the mlos_bench adapter: a DocstoreStorage on a JSON file and on mongomock."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("mlos_bench", reason="mlos_bench is not installed (pip install mlos-bench pytz)")

ADAPTERS = str(Path(__file__).resolve().parents[2] / "adapters")
try:  # an editable install made before docstore_mlos existed does not map it yet
    import docstore_mlos  # noqa: F401
except ImportError:
    sys.path.insert(0, ADAPTERS)

from docstore_mlos import DocstoreStorage  # noqa: E402
from mlos_bench.tunables.tunable_groups import TunableGroups  # noqa: E402
from mlos_support import TUNABLES  # noqa: E402


@pytest.fixture(scope="session")
def env_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throw-away git checkout with an ``origin`` remote: mlos_bench records it for each experiment."""
    repo = tmp_path_factory.mktemp("env-repo")
    (repo / "root.jsonc").write_text("{}\n")
    git = ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "remote", "add", "origin", "https://example.com/bench-env.git"], check=True)
    subprocess.run([*git, "add", "root.jsonc"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    return repo


@pytest.fixture
def root_env_config(env_repo: Path) -> str:
    return str(env_repo / "root.jsonc")


@pytest.fixture
def tunables() -> TunableGroups:
    return TunableGroups(TUNABLES)


@pytest.fixture(params=["jsonfile", "mongomock"])
def storage_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "mongomock":
        pytest.importorskip("mongomock", reason="mongomock is not installed")
        return f"mongomock://mlos{uuid.uuid4().hex[:10]}"
    return str(tmp_path / "study.json")


@pytest.fixture
def storage(storage_uri: str) -> Iterator[DocstoreStorage]:
    with DocstoreStorage({"uri": storage_uri}) as opened:
        yield opened
