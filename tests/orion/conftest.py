"""Fixtures for the Orion plug-ins: a clean working folder and Orion's global storage config restored.

The plug-ins reach Orion through the ``Database`` and ``BaseStorageProtocol`` entry-point
groups once docstore is installed with them; importing ``docstore_orion`` here registers
them for this session too (Orion's factories look at subclasses), so the tests do not
depend on how docstore was installed.
"""

from __future__ import annotations

import copy
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

ORION_MISSING = "Orion is not installed: uv pip install -e '.[orion]' (pip 26.3+ refuses Orion 0.2.7; docs/orion.md)"

# as Orion's own conftest does, before orion.testing is imported (else pytest warns, an error here)
pytest.register_assert_rewrite("orion.testing")
with warnings.catch_warnings():
    # Orion warns at import time about optional extras (profet needs torch); the tests do not use them
    warnings.simplefilter("ignore")
    try:
        import orion.core as orion_core
        import orion.testing  # noqa: F401
    except ImportError:
        orion_core = None
    else:
        import docstore_orion  # noqa: F401  (registers the plug-ins with Orion's factories)


class _SkippedModule(pytest.File):
    """A test module of this folder when Orion is absent: reported as skipped, never imported.

    (A module-level skip in this conftest would work under ``pytest``, but crash
    ``pytest tests/orion``, where this conftest is loaded before collection starts.)
    """

    def collect(self) -> list[pytest.Item]:
        pytest.skip(ORION_MISSING)


if orion_core is None:

    def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.File:
        return _SkippedModule.from_parent(parent, path=module_path)


@pytest.fixture(autouse=True)
def orion_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in ``tmp_path`` (Orion's tests write ``test.pkl`` in the current folder, OrionState
    makes temporary files) and give Orion's global storage config back afterwards."""
    assert orion_core is not None
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    saved = copy.deepcopy(orion_core.config.storage.to_dict())
    try:
        yield tmp_path
    finally:
        orion_core.config.storage.from_dict(saved)
