"""The conformance suite of ``docstore.testing`` on every engine (the ``db`` fixture of conftest.py)."""

from __future__ import annotations

from docstore.testing import (
    CompareAndSetSuite,
    CrudSuite,
    CursorSuite,
    IndexSuite,
    ProjectionSuite,
    QuerySuite,
    RejectionSuite,
    SortSuite,
    UpdateSuite,
    UpsertSuite,
    ValueSuite,
)


class TestCrud(CrudSuite):
    pass


class TestValues(ValueSuite):
    pass


class TestQueries(QuerySuite):
    pass


class TestUpdates(UpdateSuite):
    pass


class TestUpserts(UpsertSuite):
    pass


class TestProjections(ProjectionSuite):
    pass


class TestSorts(SortSuite):
    pass


class TestCursors(CursorSuite):
    pass


class TestIndexes(IndexSuite):
    pass


class TestCompareAndSet(CompareAndSetSuite):
    pass


class TestRejections(RejectionSuite):
    pass


def test_every_suite_of_docstore_testing_runs_here() -> None:
    """A suite added to docstore.testing but not subclassed above would silently never run."""
    from docstore import testing
    from docstore.testing.engine_suite import EngineSuite

    engine_suites = {
        obj
        for name in testing.__all__
        if isinstance(obj := getattr(testing, name), type)
        and name.endswith("Suite")
        and obj is not EngineSuite
        and obj.__module__.startswith("docstore.testing.engine_suite")
    }
    run_here = {
        base
        for cls in globals().values()
        if isinstance(cls, type) and cls.__name__.startswith("Test")
        for base in cls.__bases__
    }
    assert engine_suites, "docstore.testing exports no engine suite"
    assert engine_suites <= run_here, sorted(s.__name__ for s in engine_suites - run_here)
