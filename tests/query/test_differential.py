"""Differential tests: random documents, filters, updates, sorts and projections give the
same results in ``docstore.query`` and on a MongoDB-wire server (see conftest.py).

The value space is what both sides store alike. Where the server used by default
(secantusdb) departs from MongoDB's documented behaviour, docstore follows MongoDB and
the strategies below leave that corner out, each with a comment naming the difference
(the unit tests cover MongoDB's behaviour there).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from typing import Any

import pytest

from docstore.errors import InvalidDocument, InvalidOperation, UnsupportedQuery
from docstore.query import compile_filter, compile_projection, compile_sort, compile_update

hypothesis = pytest.importorskip("hypothesis")
pymongo = pytest.importorskip("pymongo")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from pymongo.errors import OperationFailure  # noqa: E402

# $DOCSTORE_DIFF_EXAMPLES raises the count for a longer hunt; the default keeps the run short.
SETTINGS = settings(
    max_examples=int(os.environ.get("DOCSTORE_DIFF_EXAMPLES", "150")),
    derandomize=bool(os.environ.get("CI")),  # CI: a fixed set, so red means a change here
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
UTC = dt.timezone.utc
FIELDS = ("a", "b", "c")

# ------------------------------------------------------------------ values and documents
non_null_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([0.5, -1.5, 2.0, math.inf, math.nan]),
    st.sampled_from(["", "x", "y", "xy", "Xy"]),
    st.sampled_from([dt.datetime(2020, 1, 1, tzinfo=UTC), dt.datetime(2021, 6, 1, 12, 0, 0, 5000, tzinfo=UTC)]),
    st.sampled_from([b"", b"x"]),
)
scalars = st.one_of(st.none(), non_null_scalars)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["p", "q"]), inner, max_size=2)
    ),
    max_leaves=5,
)
small_docs = st.dictionaries(st.sampled_from(["p", "q"]), values, max_size=2)
# "a" is mostly an array (of scalars, documents or arrays), "b" mostly a document holding
# arrays, "c" anything: that is where the array-path rules are exercised. The stored field
# order is a, b, c (a fixed order makes the $elemMatch projection case below well defined).
documents = st.fixed_dictionaries(
    {},
    optional={
        "a": st.one_of(st.lists(st.one_of(scalars, small_docs, st.lists(scalars, max_size=2)), max_size=3), values),
        "b": st.one_of(
            st.dictionaries(st.sampled_from(["p", "q"]), st.one_of(st.lists(values, max_size=3), values), max_size=2),
            values,
        ),
        "c": values,
    },
).map(lambda d: {k: d[k] for k in FIELDS if k in d})
collections = st.lists(documents, min_size=2, max_size=8)

# ------------------------------------------------------------------ filters
PLAIN_PATHS = ["a", "b", "c", "a.p", "b.q", "a.p.q"]
# secantusdb departs from MongoDB on paths with a numeric component: MongoDB's matcher
# (src/mongo/db/matcher/path.cpp) reaches *nothing* for "a.5" on [1, 2] or "a.0.b" on [5],
# so {"a.5": null} does not match there; secantusdb treats those as missing (null matches).
# On such paths, conditions that can match a missing value (null, $exists) are left out.
NUMERIC_PATHS = ["a.0", "a.1", "a.0.p", "b.1.q"]


def field_conditions(nullable: bool) -> st.SearchStrategy[Any]:
    base = scalars if nullable else non_null_scalars
    comparable = st.one_of(base, st.lists(base, max_size=2), st.dictionaries(st.just("p"), base, max_size=1))
    options: list[st.SearchStrategy[Any]] = [
        comparable,
        st.builds(lambda op, v: {op: v}, st.sampled_from(["$eq", "$ne"]), comparable),
        st.builds(lambda op, v: {op: v}, st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), base),
        st.builds(lambda lo, hi: {"$gt": lo, "$lt": hi}, st.integers(-3, 3), st.integers(-3, 3)),
        st.builds(lambda op, vs: {op: vs}, st.sampled_from(["$in", "$nin"]), st.lists(comparable, max_size=3)),
        st.builds(lambda n: {"$size": n}, st.integers(min_value=0, max_value=3)),
        st.builds(
            lambda t: {"$type": t},
            st.sampled_from(
                ["string", "array", "object", "bool", "number", "int", "double", "date", "binData", 2, 4, 16]
            ),
        ),
        st.builds(lambda v: {"$elemMatch": {"$gte": v}}, st.integers(-3, 3)),
        st.builds(lambda v, w: {"$elemMatch": {"$gt": v, "$ne": w}}, st.integers(-3, 3), st.integers(-3, 3)),
        # Object-form $elemMatch on an element that is itself an array: MongoDB reads it as a
        # document {"0": ..., "1": ...}, secantusdb never matches it. Conditions on "p" with
        # non-null values cannot match such an element either way.
        st.builds(lambda v: {"$elemMatch": {"p": v}}, non_null_scalars),
        st.builds(lambda v: {"$elemMatch": {"p": {"$gte": v}}}, st.integers(-3, 3)),
        st.builds(lambda v: {"$not": {"$gt": v}}, st.integers(-3, 3)),
        # {"$all": [null]} is {"$and": [{"a": null}]} in MongoDB (2.6+), so it matches a missing
        # field; secantusdb does not. $all items are non-null here.
        st.builds(lambda vs: {"$all": vs}, st.lists(non_null_scalars, min_size=1, max_size=2)),
        st.builds(lambda r: {"$mod": [2, r]}, st.integers(-1, 1)),
        st.builds(
            lambda p, o: {"$regex": p, "$options": o}, st.sampled_from(["^x", "y$", "X"]), st.sampled_from(["", "i"])
        ),
        st.sampled_from([re.compile("^x"), re.compile("y", re.IGNORECASE)]),
        st.builds(lambda p: {"$not": p}, st.sampled_from([re.compile("^x"), re.compile("Y", re.IGNORECASE)])),
    ]
    if nullable:
        options.append(st.builds(lambda b: {"$exists": b}, st.booleans()))
        options.append(st.builds(lambda op: {op: None}, st.sampled_from(["$gte", "$lte", "$gt", "$lt"])))
    return st.one_of(*options)


clauses = st.one_of(
    st.dictionaries(st.sampled_from(PLAIN_PATHS), field_conditions(nullable=True), min_size=1, max_size=2),
    st.dictionaries(st.sampled_from(NUMERIC_PATHS), field_conditions(nullable=False), min_size=1, max_size=1),
)
filters = st.recursive(
    clauses,
    lambda inner: st.builds(
        lambda op, items: {op: items}, st.sampled_from(["$and", "$or", "$nor"]), st.lists(inner, min_size=1, max_size=2)
    ),
    max_leaves=3,
)


def strict(value: Any) -> Any:
    """A comparable form that tells types, key order and NaN apart (== on dicts ignores order)."""
    if isinstance(value, dict):
        return ("doc", [(k, strict(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("arr", [strict(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    return (type(value).__name__, value)


def load(coll: Any, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stored = [{"_id": i, **doc} for i, doc in enumerate(docs)]
    coll.delete_many({})
    coll.insert_many([dict(doc) for doc in stored])
    return stored


@pytest.fixture
def coll(wire_db: Any, request: pytest.FixtureRequest) -> Any:
    collection = wire_db[request.node.name.replace("[", "_").replace("]", "")[:60]]
    yield collection
    collection.drop()


# ------------------------------------------------------------------ the tests
@SETTINGS
@given(docs=collections, spec=filters)
def test_find_matches_the_same_documents(coll: Any, docs: list[dict[str, Any]], spec: dict[str, Any]) -> None:
    stored = load(coll, docs)
    compiled = compile_filter(spec)
    expected = sorted(doc["_id"] for doc in coll.find(spec, {"_id": 1}))
    assert [doc["_id"] for doc in stored if compiled.matches(doc)] == expected, spec


# secantusdb sorts an array of documents by "a.b" ignoring the documents that lack "b";
# MongoDB counts them as null (sort_dotted_paths.js). Sorts use top-level fields here.
sorts = st.builds(
    lambda field, direction: [(field, direction), ("_id", 1)], st.sampled_from(FIELDS), st.sampled_from([1, -1])
)


@SETTINGS
@given(docs=collections, spec=sorts)
def test_sort_gives_the_same_order(coll: Any, docs: list[dict[str, Any]], spec: list[tuple[str, int]]) -> None:
    stored = load(coll, docs)
    expected = [doc["_id"] for doc in coll.find({}, {"_id": 1}, sort=spec)]
    assert [doc["_id"] for doc in compile_sort(spec).sort(stored)] == expected, spec


UPDATE_PATHS = ["a", "a.p", "a.0", "a.1", "a.2.p", "b", "b.p", "b.p.q", "c"]
update_values = st.one_of(values, st.just(None))
numbers = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, -2.0]))
# neither a boolean nor a number equal to 0 or 1 (see $pull below)
bool_free_scalars = scalars.filter(lambda v: not isinstance(v, (bool, int, float)) or v not in (0, 1))
update_args: dict[str, st.SearchStrategy[Any]] = {
    "$set": update_values,
    "$unset": st.just(""),
    "$inc": numbers,
    "$mul": numbers,
    "$min": scalars,
    "$max": scalars,
    "$push": st.one_of(
        values,
        st.fixed_dictionaries(
            {"$each": st.lists(scalars, max_size=3)},
            optional={"$slice": st.integers(-2, 2), "$position": st.integers(-2, 2), "$sort": st.sampled_from([1, -1])},
        ),
    ),
    "$addToSet": st.one_of(values, st.builds(lambda items: {"$each": items}, st.lists(scalars, max_size=3))),
    # secantusdb's $pullAll takes false for 0 and true for 1 (Python's equality); in BSON a
    # boolean never equals a number. Values to pull are neither booleans nor 0 / 1.
    "$pull": st.one_of(
        bool_free_scalars,
        st.builds(lambda v: {"$gte": v}, st.integers(-3, 3)),
        st.builds(lambda vs: {"$in": vs}, st.lists(scalars, max_size=2)),
        st.builds(lambda v: {"p": v}, non_null_scalars),
    ),
    "$pullAll": st.lists(bool_free_scalars, max_size=2),
    "$pop": st.sampled_from([1, -1]),
}


@st.composite
def updates(draw: st.DrawFn) -> dict[str, Any]:
    # One operator per update, paths listed in MongoDB's application order: secantusdb
    # applies fields in the order they are listed, MongoDB 5.0+ in path order (which
    # decides where new fields appear); the unit tests cover MongoDB's order.
    op = draw(st.sampled_from(sorted(update_args)))
    paths = draw(st.lists(st.sampled_from(UPDATE_PATHS), min_size=1, max_size=2, unique=True))
    paths.sort(key=lambda p: [(0, int(c), "") if c.isdigit() else (1, 0, c) for c in p.split(".")])
    return {op: {path: draw(update_args[op]) for path in paths}}


def _server_update(coll: Any, doc: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any] | None:
    coll.delete_many({})
    coll.insert_one(dict(doc))
    try:
        coll.update_one({"_id": doc["_id"]}, spec)
    except OperationFailure:
        return None
    found: dict[str, Any] = coll.find_one({"_id": doc["_id"]})
    return found


@SETTINGS
@given(doc=documents, spec=updates())
def test_update_gives_the_same_document(coll: Any, doc: dict[str, Any], spec: dict[str, Any]) -> None:
    try:
        compiled = compile_update(spec)
    except (UnsupportedQuery, InvalidDocument):
        assume(False)
        raise
    stored = {"_id": 1, **doc}
    try:
        ours: dict[str, Any] | None = compiled.apply(stored)
    except InvalidOperation:
        ours = None
    theirs = _server_update(coll, stored, spec)
    assert (ours is None) == (theirs is None), (spec, ours, theirs)
    if ours is not None:
        assert strict(ours) == strict(theirs), spec


upsert_filters = st.dictionaries(
    st.sampled_from(["k", "m.n", "z"]),
    st.one_of(
        non_null_scalars,
        st.builds(lambda v: {"$eq": v}, non_null_scalars),
        st.builds(lambda v: {"$gt": v}, st.integers(-3, 3)),
    ),
    min_size=1,
    max_size=2,
)
upsert_updates = st.builds(
    lambda op, fields: {op: fields},
    st.sampled_from(["$set", "$setOnInsert", "$inc"]),
    st.dictionaries(st.sampled_from(["u", "w.x"]), st.integers(-3, 3), min_size=1, max_size=1),
)


@SETTINGS
@given(spec=upsert_filters, update=upsert_updates)
def test_upsert_inserts_the_same_document(coll: Any, spec: dict[str, Any], update: dict[str, Any]) -> None:
    coll.delete_many({})
    coll.update_one(spec, update, upsert=True)
    theirs = coll.find_one({}, {"_id": 0})
    ours = compile_update(update).apply_upsert(compile_filter(spec))
    assert strict(ours) == strict(theirs), (spec, update)


projection_paths = st.lists(st.sampled_from(["a", "b", "a.p", "b.q", "c.p"]), min_size=1, max_size=2, unique=True)


@st.composite
def projections(draw: st.DrawFn) -> dict[str, Any]:
    paths = draw(projection_paths)
    if any(p != q and q.startswith(p + ".") for p in paths for q in paths):
        paths = paths[:1]
    flag = draw(st.sampled_from([0, 1]))
    spec: dict[str, Any] = dict.fromkeys(paths, flag)
    if draw(st.booleans()):
        spec["_id"] = draw(st.sampled_from([0, 1]))
    extra = draw(st.sampled_from(["none", "slice", "elemMatch"]))
    if extra == "slice" and "c" not in "".join(paths):
        spec["c"] = {"$slice": draw(st.one_of(st.integers(-2, 2), st.just([1, 1]), st.just([-2, 1])))}
    elif extra == "elemMatch" and flag == 1 and "c" not in "".join(paths):
        # On the last stored field, so "after the other inclusions" (MongoDB 4.4+) and the
        # document order secantusdb uses agree.
        spec["c"] = {
            "$elemMatch": draw(
                st.one_of(
                    st.builds(lambda v: {"$gte": v}, st.integers(-3, 3)),
                    st.builds(lambda v: {"p": v}, non_null_scalars),
                )
            )
        }
    return spec


@SETTINGS
@given(docs=collections, spec=projections())
def test_projection_gives_the_same_fields(coll: Any, docs: list[dict[str, Any]], spec: dict[str, Any]) -> None:
    stored = load(coll, docs)
    projection = compile_projection(spec)
    theirs = list(coll.find({}, spec, sort=[("_id", 1)]))
    assert [strict(projection.apply(doc)) for doc in stored] == [strict(doc) for doc in theirs], spec
