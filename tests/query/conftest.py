"""A MongoDB-wire server for the differential tests of ``docstore.query``.

The server is the session's (``mongodb_server_uri`` in tests/conftest.py):
``$DOCSTORE_TEST_MONGODB_URI`` names a real MongoDB to use; otherwise secantusdb is
started in memory on a loopback port. Without either, the tests that need it skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def wire_uri(mongodb_server_uri: str) -> str:
    """The URI of the session's MongoDB-wire server (tests/conftest.py starts or names it)."""
    return mongodb_server_uri


@pytest.fixture(scope="session")
def wire_db(wire_uri: str) -> Iterator[Any]:
    """A pymongo database on the wire server, dropped at the end of the session."""
    pymongo = pytest.importorskip("pymongo")
    client = pymongo.MongoClient(wire_uri, tz_aware=True, serverSelectionTimeoutMS=10_000)
    name = f"docstore_query_{os.getpid()}"
    try:
        yield client[name]
    finally:
        client.drop_database(name)
        client.close()
