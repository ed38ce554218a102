"""Sort documents in BSON order on several keys."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from docstore.errors import UnsupportedQuery

from .paths import resolve, split_path
from .values import MISSING, UNDEFINED, compare

__all__ = ["Sort", "compile_sort"]


def _sort_value(doc: Mapping[str, Any], parts: tuple[str, ...], direction: int) -> Any:
    """The value a document sorts by: arrays by their min (ascending) or max (descending) element."""
    if len(parts) == 1:
        value = doc.get(parts[0], MISSING)
        if type(value) is not list:
            return None if value is MISSING else value
        found = [value]
    else:
        found = resolve(doc, parts)
    flat: list[Any] = []
    for value in found:
        if type(value) is list:
            flat.extend(value if value else [UNDEFINED])
        else:
            flat.append(value)
    present = [v for v in flat if v is not MISSING]
    if not present:
        return None
    flat = present  # elements without the field do not pull an array's key down to null
    pick = min if direction == 1 else max
    return pick(flat, key=functools.cmp_to_key(compare))


class _Key:
    __slots__ = ("directions", "values")

    def __init__(self, values: tuple[Any, ...], directions: tuple[int, ...]) -> None:
        self.values = values
        self.directions = directions

    def __lt__(self, other: _Key) -> bool:
        for a, b, d in zip(self.values, other.values, self.directions, strict=False):
            c = compare(a, b)
            if c:
                return c * d < 0
        return False


class Sort:
    """A validated sort specification."""

    __slots__ = ("_directions", "_parts", "keys")

    def __init__(self, keys: list[tuple[str, int]]) -> None:
        self.keys = keys
        self._parts = [split_path(k, operator="sort") for k, _ in keys]
        self._directions = tuple(d for _, d in keys)

    def key(self, doc: Mapping[str, Any]) -> _Key:
        values = tuple(_sort_value(doc, p, d) for p, d in zip(self._parts, self._directions, strict=False))
        return _Key(values, self._directions)

    def sort(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self.keys:
            return list(docs)
        return sorted(docs, key=self.key)

    def __repr__(self) -> str:
        return f"Sort({self.keys!r})"


def compile_sort(spec: Sequence[tuple[str, int]] | Mapping[str, int] | None) -> Sort:
    if spec is None:
        return Sort([])
    items = list(spec.items()) if isinstance(spec, Mapping) else list(spec)
    keys: list[tuple[str, int]] = []
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise UnsupportedQuery(f"a sort key must be (field, 1|-1), got {item!r}", operator="sort")
        field, direction = item
        if isinstance(direction, bool) or direction not in (1, -1):
            raise UnsupportedQuery(
                f"sort direction for {field!r} must be 1 or -1, got {direction!r}", operator=str(field)
            )
        split_path(field, operator="sort")
        keys.append((field, int(direction)))
    return Sort(keys)
