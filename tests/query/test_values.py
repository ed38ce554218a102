"""BSON order and equality (``compare``, ``values_equal``) and the stored-document rules."""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from typing import Any

import pytest

from docstore.errors import InvalidDocument
from docstore.query import compare, validate_document, values_equal

UTC = dt.timezone.utc
D1 = dt.datetime(2020, 1, 1, tzinfo=UTC)
D2 = dt.datetime(2021, 1, 1, tzinfo=UTC)
NAN = float("nan")

# One value per type bracket, in BSON's cross-type order.
ORDERED_BRACKETS: list[Any] = [None, -5, "", {}, [], b"", False, D1]


def test_cross_type_order_is_null_numbers_strings_objects_arrays_binary_bool_dates() -> None:
    for i, low in enumerate(ORDERED_BRACKETS):
        for high in ORDERED_BRACKETS[i + 1 :]:
            assert compare(low, high) == -1, (low, high)
            assert compare(high, low) == 1, (high, low)


@pytest.mark.parametrize(
    ("low", "high"),
    [
        (1, 2),
        (1, 1.5),
        (-math.inf, -1e308),
        (1e308, math.inf),
        (2**62, 2**62 + 1),
        (2**53, float(2**53) + 2),
        ("a", "b"),
        ("", "a"),
        ("Z", "a"),
        ("a", "ab"),
        ("é", "ü"),
        (False, True),
        (D1, D2),
        (b"z", b"aa"),
        (b"a", b"b"),  # binary: length first, then bytes
        ([1], [2]),
        ([1], [1, 0]),
        ([], [None]),
        ([1, "a"], [1, {}]),
        ({"a": 1}, {"a": 2}),
        ({"a": 1}, {"b": 0}),
        ({"a": 1}, {"a": 1, "b": 0}),
        ({"a": 5}, {"a": "x"}),
        (NAN, -math.inf),
        (NAN, 0),
    ],
)
def test_order_within_a_bracket(low: Any, high: Any) -> None:
    assert compare(low, high) == -1
    assert compare(high, low) == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (1, 1.0),
        (0, -0.0),
        (NAN, NAN),
        ("x", "x"),
        (None, None),
        ({"a": 1}, {"a": 1.0}),
        ([1, [2]], [1.0, [2.0]]),
        (b"ab", b"ab"),
        (D1, D1),
        (2**63 - 1, 2**63 - 1),
    ],
)
def test_equal_values(a: Any, b: Any) -> None:
    assert values_equal(a, b)
    assert compare(a, b) == 0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (True, 1),
        (False, 0),
        (1, "1"),
        (None, 0),
        (None, False),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        ([1, 2], [2, 1]),
        (NAN, 0.0),
        (b"a", "a"),
        (D1, D2),
        ({}, []),
        (2**63 - 1, float(2**63 - 1)),
    ],
)
def test_unequal_values(a: Any, b: Any) -> None:
    assert not values_equal(a, b)
    assert compare(a, b) != 0


def test_compare_is_a_total_order_usable_for_sorting() -> None:
    values: list[Any] = [D1, True, b"x", [1], {"a": 1}, "s", 2.5, 2, None, NAN, False, [], {}]
    ordered = sorted(values, key=functools.cmp_to_key(compare))
    assert ordered[:2] == [None, NAN] or (ordered[0] is None and math.isnan(ordered[1]))
    assert ordered[2:] == [2, 2.5, "s", {}, {"a": 1}, [], [1], b"x", False, True, D1]


def test_regex_values_order_by_pattern() -> None:
    assert compare(re.compile("a"), re.compile("b")) == -1
    assert values_equal(re.compile("a"), re.compile("a"))


# ------------------------------------------------------------------ validate_document
@pytest.mark.parametrize(
    "doc",
    [
        {},
        {
            "_id": "x",
            "a": None,
            "b": True,
            "c": 2**63 - 1,
            "d": -(2**63),
            "e": NAN,
            "f": math.inf,
            "g": "s",
            "h": b"\x00",
            "i": D1,
            "j": {"k": [1, {"l": []}]},
            "": 1,
            "a b": 2,
            "ü": 3,
        },
    ],
)
def test_valid_documents_pass(doc: dict[str, Any]) -> None:
    validate_document(doc)


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"$a": 1}, "$a"),
        ({"a": {"$b": 1}}, "a.$b"),
        ({"a.b": 1}, "a.b"),
        ({"a": [{"b.c": 1}]}, "a.0.b.c"),
        ({"a\0": 1}, "a\0"),
        ({1: "x"}, ""),
        ({"a": {2: "x"}}, "a"),
        ({"n": 2**63}, "n"),
        ({"n": -(2**63) - 1}, "n"),
        ({"l": [1, 2**64]}, "l.1"),
        ({"s": {1, 2}}, "s"),
        ({"t": (1, 2)}, "t"),
        ({"r": re.compile("x")}, "r"),
        ({"d": dt.datetime(2020, 1, 1)}, "d"),  # naive datetimes are ambiguous
        ({"_id": [1, 2]}, "_id"),
    ],
)
def test_invalid_documents_name_the_path(doc: dict[Any, Any], path: str) -> None:
    with pytest.raises(InvalidDocument) as info:
        validate_document(doc)
    assert info.value.path == path
    assert isinstance(info.value, ValueError)


def test_a_non_mapping_is_not_a_document() -> None:
    with pytest.raises(InvalidDocument):
        validate_document([("a", 1)])  # type: ignore[arg-type]
