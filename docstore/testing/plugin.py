"""docstore's pytest plugin: a fresh, isolated store per test, with no conftest to write.

Installing docstore registers it (the ``pytest11`` entry point ``docstore``), so any test can
take these fixtures:

* ``docstore_db``: a :class:`docstore.Database`, empty, closed after the test;
* ``docstore_storage``: a :class:`docstore.Storage` over that same database;
* ``docstore_uri``: the URI of a fresh store, for code under test that opens it itself;
* ``docstore_engine``: which engine they use (``"mongomock"`` by default).

Engines: ``mongomock`` (needs mongomock: ``pip install -e ".[mongomock]"`` from a clone),
``memory``, ``jsonfile`` (a file in the test's ``tmp_path``) and ``mongodb`` (a database with
a unique name on the server of ``$DOCSTORE_TEST_MONGODB_URI``, dropped after the test; the
test is skipped when that variable is not set). Pick one for a whole run with
``--docstore-engine=memory`` or the ini option ``docstore_engine = memory``, or for some tests
by parametrising the fixture::

    @pytest.mark.parametrize("docstore_engine", ["mongomock", "memory"])
    def test_something(docstore_storage): ...

How long data lives: every ``mongomock://NAME`` opened in one process shares its data for
the life of the process (a second ``connect`` sees what the first wrote), so each test gets a
new NAME, emptied after it. ``memory://`` is a new, empty store on every ``connect``: code
that connects twice to ``docstore_uri`` sees two different stores; give it ``docstore_db``
(or ``docstore_storage``) instead. Only ``jsonfile`` and ``mongodb`` stores can be shared
with other processes (``setup_storage(docstore_uri)`` in each).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported by the fixtures, on use: pytest loads this plugin in every project docstore is in
    import docstore

__all__ = [
    "ENGINES",
    "docstore_db",
    "docstore_engine",
    "docstore_storage",
    "docstore_uri",
    "fresh_uri",
]

ENGINES = ("mongomock", "memory", "jsonfile", "mongodb")
DEFAULT_ENGINE = "mongomock"
MONGODB_URI_ENV = "DOCSTORE_TEST_MONGODB_URI"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("docstore", "docstore fixtures (docstore_db, docstore_storage, docstore_uri)")
    group.addoption(
        "--docstore-engine",
        choices=ENGINES,
        default=None,
        help=f"engine of the docstore fixtures (default: the ini option docstore_engine, else {DEFAULT_ENGINE})",
    )
    parser.addini("docstore_engine", f"engine of the docstore fixtures: one of {', '.join(ENGINES)}", default="")


def _mongodb_uri(name: str) -> str:
    base = os.environ.get(MONGODB_URI_ENV, "").strip()
    if not base:
        pytest.skip(f"the mongodb engine needs a server: set ${MONGODB_URI_ENV} (e.g. mongodb://localhost:27017)")
    scheme, _, rest = base.partition("://")
    hosts, _, query = rest.partition("?")
    return f"{scheme}://{hosts.split('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


def fresh_uri(engine: str, folder: Path) -> str:
    """The URI of a new, empty store of ``engine`` (a JSON file goes in ``folder``)."""
    name = f"docstore_test_{uuid.uuid4().hex[:12]}"
    if engine == "mongomock":
        return f"mongomock://{name}"
    if engine == "memory":
        return "memory://"
    if engine == "jsonfile":
        return str(folder / f"{name}.json")
    if engine == "mongodb":
        return _mongodb_uri(name)
    raise ValueError(f"unknown docstore engine {engine!r}; engines: {', '.join(ENGINES)}")


def _empty(uri: str) -> None:
    """Drop what a test left in a store that outlives it (mongomock's process-wide data, a server)."""
    import docstore

    with docstore.connect(uri) as db:
        for name in db.list_collection_names():
            db.drop_collection(name)


@pytest.fixture
def docstore_engine(request: pytest.FixtureRequest) -> str:
    """The engine of the other docstore fixtures: --docstore-engine, else the ini option, else mongomock."""
    chosen = request.config.getoption("--docstore-engine", None) or request.config.getini("docstore_engine")
    return str(chosen or DEFAULT_ENGINE)


@pytest.fixture
def docstore_uri(docstore_engine: str, tmp_path: Path) -> Iterator[str]:
    """The URI of a fresh, empty store of ``docstore_engine``, emptied after the test."""
    if docstore_engine not in ENGINES:
        raise pytest.UsageError(f"unknown docstore engine {docstore_engine!r}; engines: {', '.join(ENGINES)}")
    from docstore.errors import MissingDependency

    uri = fresh_uri(docstore_engine, tmp_path)
    yield uri
    if docstore_engine in ("mongomock", "mongodb"):
        with contextlib.suppress(MissingDependency):  # already reported by the test's own connect
            _empty(uri)


@pytest.fixture
def docstore_db(docstore_uri: str) -> Iterator[docstore.Database]:
    """A fresh, empty :class:`docstore.Database` (``docstore.connect(docstore_uri)``), closed after the test."""
    import docstore

    database = docstore.connect(docstore_uri)
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def docstore_storage(docstore_db: docstore.Database) -> docstore.Storage:
    """The experiment/trial protocol over ``docstore_db`` (the same data)."""
    import docstore

    return docstore.setup_storage(docstore_db)
