"""Projections: inclusion or exclusion of (dotted) fields, MongoDB's ``_id`` rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from docstore.errors import UnsupportedQuery

from .copying import deep_copy
from .paths import split_path

__all__ = ["Projection", "compile_projection"]

Tree = dict[str, Any]  # path component -> True (leaf) or a subtree


def _tree(paths: list[tuple[str, ...]]) -> Tree:
    root: Tree = {}
    for parts in paths:
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if child is True:
                break
            node = child
        else:
            node[parts[-1]] = True
    return root


def _include(value: Any, tree: Tree) -> Any:
    if type(value) is dict:
        out = {}
        for key, item in value.items():
            sub = tree.get(key)
            if sub is True:
                out[key] = deep_copy(item)
            elif sub is not None:
                projected = _include(item, sub)
                if projected is not _SKIP:
                    out[key] = projected
        return out
    if type(value) is list:
        return [p for p in (_include(v, tree) for v in value) if p is not _SKIP]
    return _SKIP


def _exclude(value: Any, tree: Tree) -> Any:
    if type(value) is dict:
        out = {}
        for key, item in value.items():
            sub = tree.get(key)
            if sub is True:
                continue
            out[key] = _exclude(item, sub) if sub is not None else deep_copy(item)
        return out
    if type(value) is list:
        return [_exclude(v, tree) for v in value]
    return value


_SKIP: Any = object()


class Projection:
    """A validated projection."""

    __slots__ = ("_include_id", "_inclusive", "_tree", "spec")

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        include: list[tuple[str, ...]] = []
        exclude: list[tuple[str, ...]] = []
        self._include_id = True
        for field, flag in spec.items():
            if (isinstance(field, str) and field.startswith("$")) or isinstance(flag, Mapping):
                name = field if isinstance(field, str) and field.startswith("$") else next(iter(flag), field)
                raise UnsupportedQuery(f"projection operator {name} is not supported", operator=str(name))
            if isinstance(field, str) and field.endswith(".$"):
                raise UnsupportedQuery("the positional projection '.$' is not supported", operator="$")
            if not isinstance(flag, (bool, int, float)):
                raise UnsupportedQuery(f"projection value for {field!r} must be 0/1 or true/false", operator=field)
            parts = split_path(field, operator="projection")
            if field == "_id":
                self._include_id = bool(flag)
                continue
            (include if flag else exclude).append(parts)
        if include and exclude:
            raise UnsupportedQuery("cannot mix inclusion and exclusion in a projection",
                                   operator=".".join(exclude[0]))
        # {"_id": 1} alone includes only _id; {"_id": 0} alone excludes only _id
        self._inclusive = bool(include) or (not exclude and bool(spec.get("_id", 0)))
        self._tree = _tree(include if self._inclusive else exclude)

    def apply(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        if self._inclusive:
            out = _include(dict(doc), self._tree)
            if self._include_id and "_id" in doc:
                out = {"_id": deep_copy(doc["_id"]), **out}
            return dict(out)
        out = _exclude(dict(doc), self._tree)
        if not self._include_id:
            out.pop("_id", None)
        return dict(out)

    def __repr__(self) -> str:
        return f"Projection({self.spec!r})"


def compile_projection(spec: Mapping[str, Any] | None) -> Projection | None:
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise UnsupportedQuery("a projection must be a dict", operator="projection")
    return Projection(dict(spec))
