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

# as Orion's own conftest does, before orion.testing is imported (else pytest warns, an error here)
pytest.register_assert_rewrite("orion.testing")
with warnings.catch_warnings():
    # Orion warns at import time about optional extras (profet needs torch); the tests do not use them
    warnings.simplefilter("ignore")
    orion_core = pytest.importorskip(
        "orion.core",
        reason="Orion is not installed: uv pip install -e '.[orion]' (pip 26.3+ refuses Orion 0.2.7; docs/orion.md)",
    )
    pytest.importorskip("orion.testing")
    docstore_orion = pytest.importorskip("docstore_orion")


@pytest.fixture(autouse=True)
def orion_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in ``tmp_path`` (Orion's tests write ``test.pkl`` in the current folder, OrionState
    makes temporary files) and give Orion's global storage config back afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    saved = copy.deepcopy(orion_core.config.storage.to_dict())
    try:
        yield tmp_path
    finally:
        orion_core.config.storage.from_dict(saved)
