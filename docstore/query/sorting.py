"""Sort documents in BSON order on one or several keys.

A document's key for a field is the value there; where the path reaches several
values (arrays), the smallest for an ascending key and the largest for a descending
one. Missing fields sort as null, and an empty array as ``undefined`` (below null).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from docstore.errors import UnsupportedQuery

from .paths import sort_values, split_path
from .values import MISSING, compare, sort_key

__all__ = ["Sort", "compile_sort"]


def _field_key(doc: Mapping[str, Any], parts: tuple[str, ...], direction: int) -> Any:
    if len(parts) == 1:
        value = doc.get(parts[0], MISSING)
        if value is MISSING:
            return None
        if type(value) is not list:
            return value
    values = sort_values(doc, parts)
    if len(values) == 1:
        return values[0]
    return (min if direction == 1 else max)(values, key=sort_key)


class SortKey:
    """A document's sort key: ``<`` follows the sort's directions, so ``sorted()`` and ``min()`` work."""

    __slots__ = ("directions", "values")

    def __init__(self, values: tuple[Any, ...], directions: tuple[int, ...]) -> None:
        self.values = values
        self.directions = directions

    def _compare(self, other: SortKey) -> int:
        for a, b, direction in zip(self.values, other.values, self.directions):  # noqa: B905
            c = compare(a, b)
            if c:
                return c * direction
        return 0

    def __lt__(self, other: SortKey) -> bool:
        return self._compare(other) < 0

    def __le__(self, other: SortKey) -> bool:
        return self._compare(other) <= 0

    def __gt__(self, other: SortKey) -> bool:
        return self._compare(other) > 0

    def __ge__(self, other: SortKey) -> bool:
        return self._compare(other) >= 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SortKey) and self._compare(other) == 0

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SortKey({self.values!r}, {self.directions!r})"


class Sort:
    """A validated sort specification."""

    __slots__ = ("_fields", "keys")

    def __init__(self, keys: list[tuple[str, int]]) -> None:
        self.keys = keys
        self._fields = [(split_path(field, operator=field), direction) for field, direction in keys]

    def key(self, doc: Mapping[str, Any]) -> SortKey:
        """The sort key of ``doc``."""
        values = tuple(_field_key(doc, parts, direction) for parts, direction in self._fields)
        return SortKey(values, tuple(direction for _, direction in self._fields))

    def sort(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A new list of ``docs`` in this order; equal keys keep their order (the sort is stable)."""
        if not self.keys:
            return list(docs)
        return sorted(docs, key=self.key)

    def __repr__(self) -> str:
        return f"Sort({self.keys!r})"


def compile_sort(spec: Sequence[tuple[str, int]] | Mapping[str, int] | None) -> Sort:
    """Validate a sort given as ``[(field, 1 | -1), ...]`` or ``{field: 1 | -1}``."""
    if spec is None:
        return Sort([])
    if isinstance(spec, str) or not isinstance(spec, (Mapping, Sequence)):
        raise UnsupportedQuery(f"a sort must be a list of (field, direction) pairs, got {spec!r}", operator="sort")
    items = list(spec.items()) if isinstance(spec, Mapping) else list(spec)
    keys: list[tuple[str, int]] = []
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise UnsupportedQuery(f"a sort key must be a (field, 1 | -1) pair, got {item!r}", operator="sort")
        field, direction = item
        if isinstance(field, str) and field.startswith("$"):
            raise UnsupportedQuery(f"cannot sort on {field!r}", operator=field)
        split_path(field, operator="sort")
        if isinstance(direction, Mapping):
            name = str(next(iter(direction), "sort"))
            raise UnsupportedQuery(f"sort by {name} is not supported", operator=name)
        if type(direction) not in (int, float) or direction not in (1, -1):
            raise UnsupportedQuery(
                f"the sort direction of {field!r} must be 1 or -1, got {direction!r}", operator=str(field)
            )
        if any(field == known for known, _ in keys):
            raise UnsupportedQuery(f"the sort names {field!r} twice", operator=str(field))
        keys.append((field, int(direction)))
    return Sort(keys)
