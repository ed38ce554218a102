"""Optuna's own storage test suite, imported from the installed Optuna, on every engine."""

from __future__ import annotations

import pytest

pytest.importorskip("optuna", reason="Optuna is not installed (pip install -e '.[optuna]')")
pytest.importorskip("optuna.testing.pytest_storages", reason="StorageTestCase ships with Optuna >= 5.0")

from docstore_optuna import DocstoreJournalBackend
from optuna.storages import JournalStorage
from optuna.testing.pytest_storages import StorageTestCase


@pytest.fixture
def storage(backend: DocstoreJournalBackend) -> JournalStorage:
    """Overrides Optuna's ``storage`` fixture: a JournalStorage on a fresh store, per engine."""
    return JournalStorage(backend)


class TestDocstoreJournalStorage(StorageTestCase):
    """Every test of ``optuna.testing.pytest_storages.StorageTestCase``, unchanged."""


def test_optunas_suite_brings_its_tests() -> None:
    """Guard: if a new Optuna renamed or emptied StorageTestCase, nothing above would run."""
    inherited = [name for name in dir(TestDocstoreJournalStorage) if name.startswith("test_")]
    assert len(inherited) >= 30, inherited
