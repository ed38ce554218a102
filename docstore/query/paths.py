"""Dotted paths: which values a path reaches in a document, MongoDB's way.

Two readings exist, and MongoDB uses both:

* the **matcher** (:func:`path_test`) walks a path the way MongoDB's query matcher
  does: arrays met on the way are traversed implicitly (``a.b`` looks into every
  embedded document of the array ``a``), a numeric component indexes an array *and*
  names a field of its embedded documents, scalars inside a traversed array are
  skipped, and an array at the end of the path is tested whole and element by element;
* the **sort key** reading (:func:`sort_values`) follows index key generation: a
  numeric component only indexes, anything that is not found counts as null, and an
  empty array at the end of the path counts as ``undefined`` (below null).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from docstore.errors import UnsupportedQuery

from .values import MISSING, UNDEFINED

__all__ = ["path_test", "sort_values", "split_path"]

ValueTest = Callable[[Any], bool]
DocTest = Callable[[Mapping[str, Any]], bool]


def split_path(path: Any, *, operator: str = "") -> tuple[str, ...]:
    """``"a.b.0"`` -> ``("a", "b", "0")``; empty paths and empty components are rejected."""
    if not isinstance(path, str) or not path:
        raise UnsupportedQuery(f"a field path must be a non-empty string, got {path!r}", operator=operator or str(path))
    parts = tuple(path.split("."))
    if "" in parts:
        raise UnsupportedQuery(f"the field path {path!r} has an empty component", operator=operator or path)
    return parts


def path_test(parts: tuple[str, ...], leaf: ValueTest, whole: ValueTest) -> DocTest:
    """A document test that is true when ``leaf`` holds for some value the path reaches.

    ``leaf`` receives each value found at the end of the path (``MISSING`` where the
    path stops early at a missing field or a scalar); it is responsible for looking
    into an array it receives. ``whole`` receives values that MongoDB never expands:
    an element reached through a numeric component (``a.0`` on ``[[1, 2]]`` is the
    array ``[1, 2]``, not ``1`` or ``2``).
    """
    last = len(parts) - 1
    if last == 0:
        key = parts[0]

        def top_level(doc: Mapping[str, Any]) -> bool:
            return leaf(doc.get(key, MISSING))

        return top_level
    offsets = tuple(int(p) if p.isdigit() else -1 for p in parts)

    def from_object(node: Mapping[str, Any], i: int) -> bool:
        # MongoDB's getFieldDottedOrArray: descend through documents, stop at the first array.
        while True:
            value = node.get(parts[i], MISSING)
            if i == last:
                return leaf(value)
            kind = type(value)
            if kind is dict:
                node = value
                i += 1
            elif kind is list:
                return in_array(value, i + 1)
            else:
                return leaf(MISSING)

    def in_array(array: list[Any], j: int) -> bool:
        # The path continues with parts[j:] below ``array``.
        offset = offsets[j]
        for position, element in enumerate(array):
            kind = type(element)
            if kind is dict:
                if from_object(element, j):
                    return True
                if position == offset and (whole(element) if j == last else from_object(element, j + 1)):
                    return True
            elif position == offset:
                if j == last:
                    if whole(element):
                        return True
                elif kind is list and in_array(element, j + 1):
                    return True
        return False

    def nested(doc: Mapping[str, Any]) -> bool:
        return from_object(doc, 0)

    return nested


def sort_values(value: Any, parts: tuple[str, ...], i: int = 0) -> list[Any]:
    """The values a document offers as sort keys at ``parts`` (the minimum or maximum is used)."""
    out: list[Any] = []
    _sort_values(value, parts, i, out)
    return out


def _sort_values(value: Any, parts: tuple[str, ...], i: int, out: list[Any]) -> None:
    if i == len(parts):
        if type(value) is list:
            out.extend(value if value else (UNDEFINED,))
        else:
            out.append(value)
        return
    kind = type(value)
    key = parts[i]
    if kind is dict:
        found = value.get(key, MISSING)
        if found is MISSING:
            out.append(None)
        else:
            _sort_values(found, parts, i + 1, out)
    elif kind is list:
        if key.isdigit():
            index = int(key)
            if index < len(value):
                element = value[index]
                if i + 1 == len(parts):
                    out.append(element)  # an element reached by position is one key, even an array
                else:
                    _sort_values(element, parts, i + 1, out)
            else:
                out.append(None)
            return
        if not value:
            out.append(None)
        for element in value:
            if type(element) is dict:
                _sort_values(element, parts, i, out)
            else:
                out.append(None)
    else:
        out.append(None)
