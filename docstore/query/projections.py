"""Projections: inclusion or exclusion of (dotted) fields, ``_id`` rules, ``$slice`` and ``$elemMatch``.

As in MongoDB 4.4 and later: ``_id`` is kept unless ``{"_id": 0}``; inclusion and
exclusion cannot be mixed (``_id`` aside); a dotted inclusion keeps the embedded
documents of an array and drops its scalars; ``{"a": {"$slice": n}}`` alone keeps
every other field; an ``$elemMatch`` field makes the projection an inclusion and
comes after the other included fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from docstore.errors import UnsupportedQuery

from .copying import deep_copy
from .filters import elem_match_test
from .paths import split_path

__all__ = ["Projection", "compile_projection"]

_Slice = tuple[int, int | None]  # (skip, limit): skip < 0 counts from the end; limit None = to the end


class _Tree(dict[str, Any]):
    """Path component -> True (the field itself), a _Tree (a sub-projection) or a _Slice."""


def _slice_spec(arg: Any) -> _Slice:
    def integer(value: Any) -> int:
        if type(value) not in (int, float) or value != value or value != int(value):
            raise UnsupportedQuery(f"$slice needs integers, got {value!r}", operator="$slice")
        return int(value)

    if isinstance(arg, list):
        if len(arg) != 2:
            raise UnsupportedQuery("$slice takes a number or [skip, limit]", operator="$slice")
        skip, limit = integer(arg[0]), integer(arg[1])
        if limit <= 0:
            raise UnsupportedQuery("$slice limit must be positive", operator="$slice")
        return skip, limit
    n = integer(arg)
    return (0, n) if n >= 0 else (n, None)


def _apply_slice(value: Any, spec: _Slice) -> Any:
    if type(value) is not list:
        return deep_copy(value)
    skip, limit = spec
    start = skip if skip >= 0 else max(len(value) + skip, 0)
    end = None if limit is None else start + limit
    return deep_copy(value[start:end])


class Projection:
    """A validated projection. ``apply(doc)`` returns a new document."""

    __slots__ = ("_elem_matches", "_include_id", "_inclusive", "_tree", "spec")

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self._include_id = True
        self._elem_matches: list[tuple[str, Callable[[Any], bool]]] = []
        includes: list[str] = []
        excludes: list[str] = []
        slices: list[tuple[str, _Slice]] = []
        for field, flag in _flatten(spec):
            if isinstance(flag, dict):
                op = next(iter(flag))
                if len(flag) != 1 or op not in ("$slice", "$elemMatch"):
                    raise UnsupportedQuery(f"projection operator {op} is not supported", operator=str(op))
                if "." in field:
                    raise UnsupportedQuery(f"{op} on the dotted path {field!r} is not supported", operator=op)
                if op == "$slice":
                    slices.append((field, _slice_spec(flag[op])))
                else:
                    if not isinstance(flag[op], dict):
                        raise UnsupportedQuery("$elemMatch needs an object", operator="$elemMatch")
                    self._elem_matches.append((field, elem_match_test(flag[op])))
            elif type(flag) in (bool, int, float):
                if field == "_id":
                    self._include_id = bool(flag)
                else:
                    (includes if flag else excludes).append(field)
            else:
                raise UnsupportedQuery(
                    f"the projection of {field!r} must be 0/1, true/false, $slice or $elemMatch "
                    f"(expressions are not supported), got {flag!r}",
                    operator=field,
                )
        if includes and excludes:
            raise UnsupportedQuery("cannot mix inclusion and exclusion in a projection", operator=excludes[0])
        if excludes and self._elem_matches:
            raise UnsupportedQuery("$elemMatch cannot be used in an exclusion projection", operator="$elemMatch")
        explicit_id_only = not includes and not excludes and not slices and bool(spec.get("_id", 0))
        self._inclusive = bool(includes) or bool(self._elem_matches) or explicit_id_only
        self._tree = _Tree()
        for field in includes or excludes:
            _insert(self._tree, field, True)
        for field, slice_spec in slices:
            _insert(self._tree, field, slice_spec)
        for field, _ in self._elem_matches:
            if field in self._tree or field == "_id":
                raise UnsupportedQuery(f"path collision at {field!r} in the projection", operator=field)

    def apply(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """The projected copy of ``doc``."""
        if self._inclusive:
            out: dict[str, Any] = {}
            if self._include_id and "_id" in doc:
                out["_id"] = deep_copy(doc["_id"])
            out.update(_include(doc, self._tree))
            for field, test in self._elem_matches:
                value = doc.get(field)
                if type(value) is list:
                    for element in value:
                        if test(element):
                            out[field] = [deep_copy(element)]
                            break
            return out
        out = _exclude(doc, self._tree)
        if not self._include_id:
            out.pop("_id", None)
        return out

    def __repr__(self) -> str:
        return f"Projection({self.spec!r})"


def _flatten(spec: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"a": {"b": 1}}`` is ``{"a.b": 1}``; operator objects stay as they are."""
    out: list[tuple[str, Any]] = []
    for field, flag in spec.items():
        if not isinstance(field, str):
            raise UnsupportedQuery(f"projection keys must be strings, got {field!r}", operator=str(field))
        if field.startswith("$"):
            raise UnsupportedQuery(f"projection operator {field} is not supported", operator=field)
        if field.endswith(".$") or ".$." in field or field == "$":
            raise UnsupportedQuery(f"the positional projection {field!r} is not supported", operator="$")
        split_path(field, operator=field)
        path = f"{prefix}{field}"
        if isinstance(flag, dict) and flag and not str(next(iter(flag))).startswith("$"):
            out.extend(_flatten(flag, path + "."))
        elif isinstance(flag, dict) and not flag:
            raise UnsupportedQuery(f"the projection of {path!r} cannot be an empty object", operator=path)
        else:
            out.append((path, flag))
    return out


def _insert(tree: _Tree, field: str, leaf: Any) -> None:
    parts = field.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, _Tree())
        if not isinstance(child, _Tree):
            raise UnsupportedQuery(f"path collision at {field!r} in the projection", operator=field)
        node = child
    if parts[-1] in node:
        raise UnsupportedQuery(f"path collision at {field!r} in the projection", operator=field)
    node[parts[-1]] = leaf


_DROP: Any = object()


def _include(doc: Mapping[str, Any], tree: _Tree) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        sub = tree.get(key)
        if sub is None:
            continue
        if sub is True:
            out[key] = deep_copy(value)
        elif isinstance(sub, _Tree):
            projected = _include_value(value, sub)
            if projected is not _DROP:
                out[key] = projected
        else:
            out[key] = _apply_slice(value, sub)
    return out


def _include_value(value: Any, tree: _Tree) -> Any:
    if type(value) is dict:
        return _include(value, tree)
    if type(value) is list:
        return [p for p in (_include_value(item, tree) for item in value) if p is not _DROP]
    return _DROP  # a scalar has no sub-fields to include


def _exclude(doc: Mapping[str, Any], tree: _Tree) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        sub = tree.get(key)
        if sub is None:
            out[key] = deep_copy(value)
        elif isinstance(sub, _Tree):
            out[key] = _exclude_value(value, sub)
        elif sub is not True:
            out[key] = _apply_slice(value, sub)
    return out


def _exclude_value(value: Any, tree: _Tree) -> Any:
    if type(value) is dict:
        return _exclude(value, tree)
    if type(value) is list:
        return [_exclude_value(item, tree) for item in value]
    return value


def compile_projection(spec: Mapping[str, Any] | None) -> Projection:
    """Validate and compile a projection; ``None`` keeps every field."""
    if spec is None:
        return Projection({})
    if not isinstance(spec, Mapping):
        raise UnsupportedQuery("a projection must be a dict", operator="projection")
    return Projection(dict(spec))
