"""Fixtures for the JSON engine's own tests: the engine on a file and in memory, and where a file store goes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import docstore


@pytest.fixture(params=["memory", "jsonfile"])
def local_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of the JSON engine: in memory, and on a file."""
    return "memory://" if request.param == "memory" else str(tmp_path / "study.json")


@pytest.fixture
def local_db(local_uri: str) -> Iterator[docstore.Database]:
    database = docstore.connect(local_uri)
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def path(tmp_path: Path) -> str:
    """Where a file store goes."""
    return str(tmp_path / "study.json")
