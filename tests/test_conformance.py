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
