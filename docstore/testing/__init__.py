"""The engine conformance suite, shipped in the wheel so every engine runs the same tests.

Each class here is a mixin of pytest test methods that take a ``db`` fixture: a fresh,
empty :class:`docstore.Database`. docstore's own ``tests/test_conformance.py`` subclasses
them and its ``db`` fixture is parametrised over every built-in engine (``memory://``,
a JSON file, ``mongomock://``, a MongoDB-wire server), so the same test code checks that
every engine gives the same answers. The expected results are written out by hand from
MongoDB's documented behaviour, which is the reference.

Testing a third-party engine (registered with ``docstore.registry.register`` or the
``docstore.engines`` entry-point group) takes one file in its own test folder::

    # tests/test_docstore_conformance.py
    from collections.abc import Iterator

    import pytest

    import docstore
    from docstore.testing import EngineSuite


    @pytest.fixture
    def db(tmp_path) -> Iterator[docstore.Database]:
        database = docstore.connect(f"myscheme://{tmp_path}/store")  # fresh and empty
        yield database
        database.close()


    class TestMyEngine(EngineSuite):
        pass

or pick suites one by one (``class TestQueries(QuerySuite): pass``). The classes are not
collected by themselves: their names do not start with ``Test``. The suite needs pytest.

Testing code that *uses* docstore (a study, a worker) needs none of this: the pytest plugin
:mod:`docstore.testing.plugin`, registered when docstore is installed, gives every test the
fixtures ``docstore_db``, ``docstore_storage`` and ``docstore_uri`` (docs/own-study.md).

An engine that cannot guarantee something says so in code, not by being named in a test:
it declares :class:`docstore.engine.Capabilities` flags (``atomic_multi_update``, ...), and
a test that needs a flag calls :func:`require`, which skips it with a reason when the
engine does not declare it. Any other failure is a divergence from MongoDB's semantics.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from docstore.testing.engine_suite import CrudSuite, EngineSuite, ValueSuite
    from docstore.testing.engine_suite_indexes import CompareAndSetSuite, IndexSuite
    from docstore.testing.engine_suite_queries import QuerySuite
    from docstore.testing.engine_suite_reads import CursorSuite, ProjectionSuite, SortSuite
    from docstore.testing.engine_suite_rejects import RejectionSuite
    from docstore.testing.engine_suite_updates import UpdateSuite, UpsertSuite
    from docstore.testing.protocol_suite import (
        AlgorithmLockSuite,
        BadInputSuite,
        ConcurrencySuite,
        ExperimentSuite,
        ProtocolSuite,
        ReadOnlySuite,
        ReservationSuite,
        StatusSuite,
        TrialSuite,
    )
    from docstore.testing.support import require, snapshot, typed

# The suites are imported on first use: pytest loads docstore's plugin (docstore.testing.plugin)
# in every project that has docstore installed, and must not pay for the suites there.
_MODULES = {
    "CrudSuite": "engine_suite",
    "EngineSuite": "engine_suite",
    "ValueSuite": "engine_suite",
    "CompareAndSetSuite": "engine_suite_indexes",
    "IndexSuite": "engine_suite_indexes",
    "QuerySuite": "engine_suite_queries",
    "CursorSuite": "engine_suite_reads",
    "ProjectionSuite": "engine_suite_reads",
    "SortSuite": "engine_suite_reads",
    "RejectionSuite": "engine_suite_rejects",
    "UpdateSuite": "engine_suite_updates",
    "UpsertSuite": "engine_suite_updates",
    "AlgorithmLockSuite": "protocol_suite",
    "BadInputSuite": "protocol_suite",
    "ConcurrencySuite": "protocol_suite",
    "ExperimentSuite": "protocol_suite",
    "ProtocolSuite": "protocol_suite",
    "ReadOnlySuite": "protocol_suite",
    "ReservationSuite": "protocol_suite",
    "StatusSuite": "protocol_suite",
    "TrialSuite": "protocol_suite",
    "require": "support",
    "snapshot": "support",
    "typed": "support",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_MODULES])


__all__ = [
    "AlgorithmLockSuite",
    "BadInputSuite",
    "CompareAndSetSuite",
    "ConcurrencySuite",
    "ExperimentSuite",
    "ProtocolSuite",
    "ReadOnlySuite",
    "ReservationSuite",
    "StatusSuite",
    "TrialSuite",
    "CrudSuite",
    "CursorSuite",
    "EngineSuite",
    "IndexSuite",
    "ProjectionSuite",
    "QuerySuite",
    "RejectionSuite",
    "SortSuite",
    "UpdateSuite",
    "UpsertSuite",
    "ValueSuite",
    "require",
    "snapshot",
    "typed",
]
