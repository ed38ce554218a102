"""Orion's own storage test module, run against the docstore plug-ins.

``tests/unittests/storage/test_storage.py`` (and the fixtures it needs from Orion's
``tests/conftest.py``) ship in Orion's source distribution, not in its wheel. They are
downloaded once with ``pip download --no-binary :all: orion==0.2.7`` into
``$DOCSTORE_TEST_CACHE`` (default ``~/.cache/docstore-tests``), then executed here as
this module's code, unchanged except for one line: its list of storage backends
(``storage_backends = [None]``, Orion's default Legacy + PickledDB) becomes ours; and the
name ``OrionState`` it calls gives the native storage Orion's Legacy test state (see
:func:`_orion_state` for why). Nothing of Orion's code is kept in this repository.

Backends: Orion's Legacy storage over ``DocstoreDB`` and the native ``docstore`` storage,
each on a JSON file and on mongomock. ``${file}`` is Orion's placeholder for a fresh
temporary path per ``OrionState``.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
import tarfile
import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "orion.core",
    reason="Orion is not installed: uv pip install -e '.[orion]' (pip 26.3+ refuses Orion 0.2.7; docs/orion.md)",
)
pytest.importorskip("pytest_mock", reason="Orion's storage tests use the `mocker` fixture (pip install pytest-mock)")

ORION_VERSION = "0.2.7"
SUITE = "tests/unittests/storage/test_storage.py"
ORION_CONFTEST = "tests/conftest.py"
BACKENDS_LINE = re.compile(r"^storage_backends = \[None\].*$", re.MULTILINE)

_NO_MONGOMOCK = pytest.mark.skipif(importlib.util.find_spec("mongomock") is None, reason="mongomock is not installed")

DOCSTORE_BACKENDS = [
    pytest.param({"type": "legacy", "database": {"type": "docstoredb", "host": "${file}"}}, id="legacy-jsonfile"),
    pytest.param(
        {"type": "legacy", "database": {"type": "docstoredb", "host": "mongomock://${file}"}},
        id="legacy-mongomock",
        marks=_NO_MONGOMOCK,
    ),
    pytest.param({"type": "docstore", "database": {"host": "${file}"}}, id="docstore-jsonfile"),
    pytest.param(
        {"type": "docstore", "database": {"host": "mongomock://${file}"}}, id="docstore-mongomock", marks=_NO_MONGOMOCK
    ),
]


def _cache_dir() -> Path:
    return Path(os.environ.get("DOCSTORE_TEST_CACHE", Path.home() / ".cache" / "docstore-tests"))


def _download_sdist(cache: Path) -> Path:
    """Orion's sdist in ``cache``, downloaded with pip if it is not there yet."""
    sdist = cache / f"orion-{ORION_VERSION}.tar.gz"
    if sdist.is_file():
        return sdist
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        f"orion=={ORION_VERSION}",
        "-d",
        str(cache),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot download Orion {ORION_VERSION}'s source distribution: {exc!r}", allow_module_level=True)
    if done.returncode != 0 or not sdist.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        pytest.skip(
            f"cannot download Orion {ORION_VERSION}'s source distribution ({' '.join(command)}): {' / '.join(tail)}",
            allow_module_level=True,
        )
    return sdist


def orion_test_sources() -> dict[str, Path]:
    """The paths of Orion's test files we need, extracted from its sdist into the cache."""
    from filelock import FileLock

    cache = _cache_dir()
    root = cache / f"orion-{ORION_VERSION}-tests"
    wanted = {name: root / name for name in (SUITE, ORION_CONFTEST)}
    if all(path.is_file() for path in wanted.values()):
        return wanted
    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache / "orion-sdist.lock"), timeout=900):
        if all(path.is_file() for path in wanted.values()):
            return wanted
        with tarfile.open(_download_sdist(cache)) as archive:
            for name, path in wanted.items():
                member = archive.extractfile(f"orion-{ORION_VERSION}/{name}")
                if member is None:
                    raise FileNotFoundError(f"{name} is missing from Orion {ORION_VERSION}'s sdist")
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_suffix(".partial")
                partial.write_bytes(member.read())
                partial.replace(path)
    return wanted


def _exec_source(path: Path, source: str, namespace: dict[str, Any]) -> None:
    """Execute ``source`` in ``namespace`` with pytest's assertion messages, as if pytest imported it."""
    tree = ast.parse(source, filename=str(path))
    try:
        from _pytest.assertion.rewrite import rewrite_asserts
    except ImportError:  # pytest's private API moved: plain asserts still fail, with less detail
        pass
    else:
        rewrite_asserts(tree, source.encode(), str(path))
    exec(compile(tree, str(path), "exec"), namespace)


def _load_orion_suite(namespace: dict[str, Any]) -> None:
    sources = orion_test_sources()
    with warnings.catch_warnings():
        # Orion's conftest asks pytest to rewrite ``orion.testing``, already imported by now
        warnings.simplefilter("ignore", pytest.PytestAssertRewriteWarning)
        conftest = sources[ORION_CONFTEST]
        _exec_source(conftest, conftest.read_text(), namespace)
    suite = sources[SUITE]
    source, count = BACKENDS_LINE.subn("storage_backends = list(DOCSTORE_BACKENDS)", suite.read_text())
    if count != 1:
        raise RuntimeError(f"{suite} no longer has the line `storage_backends = [None]`; update this loader")
    _exec_source(suite, source, namespace)
    namespace["OrionState"] = _orion_state


def _orion_state(*args: Any, **kwargs: Any) -> Any:
    """Orion's ``OrionState``, with the native ``docstore`` storage set up like Legacy's.

    Orion 0.2.7's ``OrionState`` gives any storage type but ``legacy`` its generic state,
    which cannot host these tests: it numbers the experiments 0, 1, ... while the trials
    name their experiment ``"default_name"`` (only the Legacy state makes the two agree),
    so trial lookups find nothing. Orion's own Legacy storage, registered under another
    type name, fails the same 12 tests there. The native storage keeps Legacy's documents
    (and offers ``_db`` and ``initialize_algorithm_lock``, as the Legacy state needs), so
    it gets the Legacy state; every other storage gets Orion's choice.
    """
    from orion.testing import OrionState
    from orion.testing.state import LegacyOrionState

    storage = kwargs.get("storage")
    if storage and storage.get("type") == "docstore":
        return LegacyOrionState(*args, **kwargs)
    return OrionState(*args, **kwargs)


_load_orion_suite(globals())
