"""Dotted paths: resolve them in documents the way MongoDB's matcher does."""

from __future__ import annotations

from typing import Any

from docstore.errors import UnsupportedQuery

from .values import MISSING

__all__ = ["Whole", "resolve", "split_path"]


def split_path(path: str, *, operator: str = "") -> tuple[str, ...]:
    """``"a.b.0"`` -> ``("a", "b", "0")``; empty components are rejected."""
    if not isinstance(path, str) or not path:
        raise UnsupportedQuery(f"field path must be a non-empty string, got {path!r}", operator=operator or str(path))
    parts = tuple(path.split("."))
    if any(not part for part in parts):
        raise UnsupportedQuery(f"field path {path!r} has an empty component", operator=operator or path)
    return parts


class Whole(list):  # type: ignore[type-arg]
    """An array value that matches as a whole, never element by element."""

    __slots__ = ()


def resolve(value: Any, parts: tuple[str, ...], start: int = 0) -> list[Any]:
    """The values found at ``parts`` below ``value``: several when the path crosses arrays.

    ``MISSING`` stands for a branch where the path does not exist. Arrays are
    traversed implicitly (``a.b`` looks into each document of the array ``a``), and a
    numeric component also indexes the array.
    """
    out: list[Any] = []
    _resolve(value, parts, start, out)
    return out


def _resolve(value: Any, parts: tuple[str, ...], i: int, out: list[Any]) -> None:
    if i == len(parts):
        out.append(value)
        return
    key = parts[i]
    if type(value) is dict:
        if key in value:
            _resolve(value[key], parts, i + 1, out)
        else:
            out.append(MISSING)
        return
    if type(value) is list:
        # A numeric component indexes the array (missing past its end); besides, the path
        # continues into every embedded document. Scalars and nested arrays contribute
        # nothing, so ``{"a.b": null}`` does not match ``{"a": [1, 2]}`` (MongoDB's rule).
        if key.isdigit():
            index = int(key)
            if index < len(value):
                item = value[index]
                if i + 1 == len(parts) and type(item) is list:
                    out.append(Whole(item))  # an array reached by index is not expanded
                else:
                    _resolve(item, parts, i + 1, out)
            else:
                out.append(MISSING)
        for element in value:
            if type(element) is dict:
                _resolve(element, parts, i, out)
        return
    out.append(MISSING)
