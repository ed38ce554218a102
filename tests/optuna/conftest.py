"""Fixtures for the Optuna adapter: journal backends on a fresh store, once per engine."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def open_backend(store_uri: str) -> Iterator[Callable[..., Any]]:
    """Opens DocstoreJournalBackends on this test's fresh store; empties and closes them afterwards."""
    pytest.importorskip("optuna", reason="Optuna is not installed (pip install -e '.[optuna]')")
    from docstore_optuna import DocstoreJournalBackend

    from docstore import MissingDependency

    opened: list[DocstoreJournalBackend] = []

    def open_one(*, like: DocstoreJournalBackend | None = None, **options: Any) -> DocstoreJournalBackend:
        """A new backend on the store; ``like=b``: a pickled copy of ``b`` (its own, empty cache)."""
        try:
            backend = pickle.loads(pickle.dumps(like)) if like else DocstoreJournalBackend(store_uri, **options)
        except MissingDependency as exc:
            pytest.skip(str(exc))
        opened.append(backend)
        return backend

    yield open_one
    if opened and store_uri.startswith("mongodb"):  # a MongoDB database outlives the test: empty it
        database = opened[0].database
        for name in database.list_collection_names():
            database.drop_collection(name)
    for backend in opened:
        backend.close()


@pytest.fixture
def backend(open_backend: Callable[..., Any]) -> Any:
    """A DocstoreJournalBackend on a fresh, empty store, once per engine."""
    return open_backend()
