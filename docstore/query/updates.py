"""Compile MongoDB update documents; apply them to copies of stored documents."""

from __future__ import annotations

import datetime as _dt
import itertools
from collections.abc import Callable, Mapping
from typing import Any

from docstore.errors import InvalidOperation, UnsupportedQuery

from .copying import deep_copy
from .filters import Filter, _operators, compile_filter
from .paths import split_path
from .validation import validate_value
from .values import MISSING, NUMBER, bracket, compare, values_equal

__all__ = ["Update", "compile_update"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_OPERATORS = ("$set", "$unset", "$inc", "$mul", "$min", "$max", "$push", "$addToSet", "$pull", "$pullAll",
              "$pop", "$rename", "$currentDate", "$setOnInsert")
Step = Callable[[dict[str, Any]], None]


def _now() -> _dt.datetime:
    now = _dt.datetime.now(_dt.timezone.utc)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


# ------------------------------------------------------------ path navigation
def _parent(doc: dict[str, Any], parts: tuple[str, ...], op: str, create: bool) -> Any:
    """The container holding the last component of ``parts`` (created when ``create``)."""
    node: Any = doc
    for i, key in enumerate(parts[:-1]):
        if type(node) is dict:
            child = node.get(key, MISSING)
        elif type(node) is list and key.isdigit():
            index = int(key)
            child = node[index] if index < len(node) else MISSING
        else:
            raise InvalidOperation(
                f"{op}: cannot use the part {key!r} of {'.'.join(parts)!r} to traverse {_kind(node)}",
                operator=op, path=".".join(parts))
        if child is MISSING:
            if not create:
                return MISSING
            child = {}
            _put(node, key, child, op, parts[: i + 1])
        node = child
    return node


def _kind(node: Any) -> str:
    return f"the element {node!r}" if not isinstance(node, (dict, list)) else type(node).__name__


def _get(container: Any, key: str) -> Any:
    if type(container) is dict:
        return container.get(key, MISSING)
    if type(container) is list and key.isdigit():
        index = int(key)
        return container[index] if index < len(container) else MISSING
    return MISSING


def _put(container: Any, key: str, value: Any, op: str, parts: tuple[str, ...]) -> None:
    if type(container) is dict:
        container[key] = value
        return
    if type(container) is list and key.isdigit():
        index = int(key)
        while len(container) <= index:  # MongoDB pads with nulls
            container.append(None)
        container[index] = value
        return
    raise InvalidOperation(f"{op}: cannot create field {key!r} in {_kind(container)} at {'.'.join(parts)!r}",
                           operator=op, path=".".join(parts))


# ------------------------------------------------------------ operators
def _numeric(value: Any) -> bool:
    return bracket(value) == NUMBER


def _check_int64(result: Any, op: str, path: str) -> Any:
    if type(result) is int and not _INT64_MIN <= result <= _INT64_MAX:
        raise InvalidOperation(f"{op} on {path!r} overflows a 64-bit integer", operator=op, path=path)
    return result


def _arith(op: str, parts: tuple[str, ...], amount: Any) -> Step:
    path = ".".join(parts)

    def step(doc: dict[str, Any]) -> None:
        parent = _parent(doc, parts, op, create=True)
        current = _get(parent, parts[-1])
        if current is MISSING:
            result = amount if op == "$inc" else amount * 0
        elif not _numeric(current):
            raise InvalidOperation(
                f"cannot apply {op} to a value of non-numeric type {type(current).__name__} at {path!r}",
                operator=op, path=path)
        else:
            result = current + amount if op == "$inc" else current * amount
        _put(parent, parts[-1], _check_int64(result, op, path), op, parts)
    return step


def _set(op: str, parts: tuple[str, ...], value: Any) -> Step:
    def step(doc: dict[str, Any]) -> None:
        parent = _parent(doc, parts, op, create=True)
        _put(parent, parts[-1], deep_copy(value), op, parts)
    return step


def _unset(parts: tuple[str, ...]) -> Step:
    def step(doc: dict[str, Any]) -> None:
        parent = _parent(doc, parts, "$unset", create=False)
        key = parts[-1]
        if type(parent) is dict:
            parent.pop(key, None)
        elif type(parent) is list and key.isdigit() and int(key) < len(parent):
            parent[int(key)] = None  # MongoDB leaves a null in the array
    return step


def _minmax(op: str, parts: tuple[str, ...], value: Any) -> Step:
    def step(doc: dict[str, Any]) -> None:
        parent = _parent(doc, parts, op, create=True)
        current = _get(parent, parts[-1])
        c = compare(value, current) if current is not MISSING else 0
        if current is MISSING or (c < 0 if op == "$min" else c > 0):
            _put(parent, parts[-1], deep_copy(value), op, parts)
    return step


def _array_at(doc: dict[str, Any], parts: tuple[str, ...], op: str, create: bool) -> tuple[Any, list[Any] | None]:
    parent = _parent(doc, parts, op, create=create)
    current = _get(parent, parts[-1]) if parent is not MISSING else MISSING
    if current is MISSING:
        return parent, None
    if type(current) is not list:
        raise InvalidOperation(f"{op} needs an array at {'.'.join(parts)!r}, found {type(current).__name__}",
                               operator=op, path=".".join(parts))
    return parent, current


def _push(parts: tuple[str, ...], spec: Any) -> Step:
    modifiers = isinstance(spec, Mapping) and "$each" in spec
    if modifiers:
        unknown = set(spec) - {"$each", "$slice", "$sort", "$position"}
        if unknown:
            raise UnsupportedQuery(f"unknown $push modifier {sorted(unknown)[0]}", operator=sorted(unknown)[0])
        items = spec["$each"]
        if not isinstance(items, list):
            raise UnsupportedQuery("$each needs an array", operator="$each")
        position, slice_, sort = spec.get("$position"), spec.get("$slice"), spec.get("$sort")
        for name, arg in (("$position", position), ("$slice", slice_)):
            if arg is not None and (isinstance(arg, bool) or not isinstance(arg, int)):
                raise UnsupportedQuery(f"{name} needs an integer", operator=name)
        sort_key = _push_sort(sort) if "$sort" in spec else None
    else:
        items, position, slice_, sort_key = [spec], None, None, None

    def step(doc: dict[str, Any]) -> None:
        parent, current = _array_at(doc, parts, "$push", create=True)
        array = list(current) if current is not None else []
        new = [deep_copy(v) for v in items]
        if position is None:
            array.extend(new)
        else:
            index = position if position >= 0 else max(len(array) + position, 0)
            array[index:index] = new
        if sort_key is not None:
            array = sort_key(array)
        if slice_ is not None:
            array = array[:slice_] if slice_ >= 0 else array[slice_:] if slice_ else []
        _put(parent, parts[-1], array, "$push", parts)
    return step


def _push_sort(spec: Any) -> Callable[[list[Any]], list[Any]]:
    from .sorting import compile_sort

    if spec in (1, -1):
        reverse = spec == -1
        import functools

        return lambda arr: sorted(arr, key=functools.cmp_to_key(compare), reverse=reverse)
    if isinstance(spec, Mapping) and spec:
        sorter = compile_sort(list(spec.items()))
        return lambda arr: sorter.sort([v if isinstance(v, dict) else {} for v in arr]) if all(
            isinstance(v, dict) for v in arr) else arr
    raise UnsupportedQuery("$sort in $push needs 1, -1 or a sort document", operator="$sort")


def _add_to_set(parts: tuple[str, ...], spec: Any) -> Step:
    if isinstance(spec, Mapping) and "$each" in spec:
        if set(spec) != {"$each"} or not isinstance(spec["$each"], list):
            raise UnsupportedQuery("$addToSet takes only $each with an array", operator="$each")
        items = spec["$each"]
    else:
        items = [spec]

    def step(doc: dict[str, Any]) -> None:
        parent, current = _array_at(doc, parts, "$addToSet", create=True)
        array = list(current) if current is not None else []
        for item in items:
            if not any(values_equal(item, e) for e in array):
                array.append(deep_copy(item))
        _put(parent, parts[-1], array, "$addToSet", parts)
    return step


def _pull(op: str, parts: tuple[str, ...], spec: Any) -> Step:
    test: Callable[[Any], bool]
    if op == "$pullAll":
        if not isinstance(spec, list):
            raise UnsupportedQuery("$pullAll needs an array", operator="$pullAll")
        test = lambda e: any(values_equal(e, v) for v in spec)  # noqa: E731
    elif isinstance(spec, Mapping) and spec and all(k.startswith("$") for k in spec):
        value_test = _operators(dict(spec))
        test = value_test
    elif isinstance(spec, Mapping) and spec:
        doc_filter = compile_filter(spec)
        test = lambda e: type(e) is dict and doc_filter.matches(e)  # noqa: E731
    else:
        test = lambda e: values_equal(e, spec)  # noqa: E731

    def step(doc: dict[str, Any]) -> None:
        parent, current = _array_at(doc, parts, op, create=False)
        if current is not None:
            _put(parent, parts[-1], [e for e in current if not test(e)], op, parts)
    return step


def _pop(parts: tuple[str, ...], spec: Any) -> Step:
    if spec not in (1, -1) or isinstance(spec, bool):
        raise UnsupportedQuery("$pop needs 1 or -1", operator="$pop")

    def step(doc: dict[str, Any]) -> None:
        parent, current = _array_at(doc, parts, "$pop", create=False)
        if current:
            _put(parent, parts[-1], current[:-1] if spec == 1 else current[1:], "$pop", parts)
    return step


def _rename(parts: tuple[str, ...], target: tuple[str, ...]) -> Step:
    def step(doc: dict[str, Any]) -> None:
        parent = _parent(doc, parts, "$rename", create=False)
        if type(parent) is not dict or parts[-1] not in parent:
            return
        value = parent.pop(parts[-1])
        dest = _parent(doc, target, "$rename", create=True)
        _put(dest, target[-1], value, "$rename", target)
    return step


def _current_date(parts: tuple[str, ...], spec: Any) -> Step:
    if not (spec is True or spec == {"$type": "date"}):
        raise UnsupportedQuery("$currentDate takes true or {'$type': 'date'}", operator="$currentDate")

    def step(doc: dict[str, Any]) -> None:
        parent = _parent(doc, parts, "$currentDate", create=True)
        _put(parent, parts[-1], _now(), "$currentDate", parts)
    return step


def _number(op: str, path: str, value: Any) -> Any:
    if not _numeric(value):
        raise UnsupportedQuery(f"{op} needs a number for {path!r}, got {value!r}", operator=op)
    return value


def _step(op: str, path: str, arg: Any) -> tuple[Step, list[tuple[str, ...]]]:
    parts = split_path(path, operator=op)
    for part in parts:
        if part.startswith("$"):
            what = "positional operators are" if part in ("$", "$[]") or part.startswith("$[") else "a field name is"
            raise UnsupportedQuery(f"{op} on {path!r}: {what} not supported ('{part}')", operator=part)
        if "\0" in part:
            raise UnsupportedQuery(f"{op} on {path!r}: field names must not contain NUL", operator=op)
    if op in ("$set", "$setOnInsert"):
        validate_value(arg, path)
        return _set(op, parts, arg), [parts]
    if op == "$unset":
        return _unset(parts), [parts]
    if op in ("$inc", "$mul"):
        return _arith(op, parts, _number(op, path, arg)), [parts]
    if op in ("$min", "$max"):
        validate_value(arg, path)
        return _minmax(op, parts, arg), [parts]
    if op == "$push":
        validate_value(arg if not (isinstance(arg, Mapping) and "$each" in arg) else arg["$each"], path)
        return _push(parts, arg), [parts]
    if op == "$addToSet":
        validate_value(arg if not (isinstance(arg, Mapping) and "$each" in arg) else arg["$each"], path)
        return _add_to_set(parts, arg), [parts]
    if op in ("$pull", "$pullAll"):
        return _pull(op, parts, arg), [parts]
    if op == "$pop":
        return _pop(parts, arg), [parts]
    if op == "$rename":
        if not isinstance(arg, str):
            raise UnsupportedQuery("$rename needs a string target", operator="$rename")
        target = split_path(arg, operator="$rename")
        if target == parts:
            raise UnsupportedQuery("$rename source and target must differ", operator="$rename")
        return _rename(parts, target), [parts, target]
    if op == "$currentDate":
        return _current_date(parts, arg), [parts]
    raise UnsupportedQuery(f"unknown update operator {op}", operator=op)


def _conflicts(paths: list[tuple[str, ...]]) -> None:
    ordered = sorted(paths)
    for a, b in itertools.pairwise(ordered):
        if b[: len(a)] == a:
            raise UnsupportedQuery(f"updating the path {'.'.join(b)!r} would create a conflict at "
                                   f"{'.'.join(a)!r}", operator=".".join(b))


class Update:
    """A validated update: operators, or a replacement document."""

    __slots__ = ("_insert_steps", "_steps", "is_replacement", "spec")

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self._steps: list[Step] = []
        self._insert_steps: list[Step] = []
        if not spec:
            raise UnsupportedQuery("update must not be empty", operator="update")
        operators = [k for k in spec if isinstance(k, str) and k.startswith("$")]
        self.is_replacement = not operators
        if self.is_replacement:
            from .validation import validate_document

            validate_document(spec)
            return
        if len(operators) != len(spec):
            raise UnsupportedQuery("an update cannot mix operators and plain fields",
                                   operator=next(k for k in spec if k not in operators))
        paths: list[tuple[str, ...]] = []
        for op, fields in spec.items():
            if op not in _OPERATORS:
                raise UnsupportedQuery(f"unknown update operator {op}", operator=op)
            if not isinstance(fields, Mapping):
                raise UnsupportedQuery(f"{op} needs an object of field paths", operator=op)
            for path, arg in fields.items():
                step, touched = _step(op, path, arg)
                (self._insert_steps if op == "$setOnInsert" else self._steps).append(step)
                paths.extend(touched)
        _conflicts(paths)
        if any(p[0] == "_id" for p in paths if p != ("_id",)) :
            raise UnsupportedQuery("cannot update a part of _id", operator="_id")

    def apply(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """The updated copy of ``doc``; ``doc`` itself is never changed."""
        if self.is_replacement:
            if "_id" in self.spec and "_id" in doc and not values_equal(self.spec["_id"], doc["_id"]):
                raise InvalidOperation("the replacement would change the immutable field '_id'",
                                       operator="replacement", path="_id")
            replaced: dict[str, Any] = {"_id": doc["_id"]} if "_id" in doc else {}
            replaced.update((k, deep_copy(v)) for k, v in self.spec.items() if k != "_id")
            return replaced
        new: dict[str, Any] = deep_copy(dict(doc))
        for step in self._steps:
            step(new)
        if "_id" in doc and ("_id" not in new or not values_equal(new["_id"], doc["_id"])):
            raise InvalidOperation("the update would change the immutable field '_id'", operator="$set", path="_id")
        return new

    def apply_upsert(self, filt: Filter) -> dict[str, Any]:
        """The document an upsert inserts: the filter's equalities, then the update."""
        seed: dict[str, Any] = {}
        for path, value in _seed_equalities(filt.spec):
            _set("upsert", split_path(path), value)(seed)
        if self.is_replacement:
            new = {"_id": seed["_id"]} if "_id" in seed else {}
            new.update(deep_copy(self.spec))
            return new
        for step in self._steps + self._insert_steps:
            step(seed)
        return seed

    def __repr__(self) -> str:
        return f"Update({self.spec!r})"


def _seed_equalities(spec: Mapping[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, cond in spec.items():
        if key == "$and":
            for item in cond:
                out.extend(_seed_equalities(item))
        elif key.startswith("$"):
            continue
        elif isinstance(cond, Mapping) and cond and next(iter(cond)).startswith("$"):
            if "$eq" in cond:
                out.append((key, cond["$eq"]))
        elif not hasattr(cond, "pattern"):
            out.append((key, cond))
    return out


def compile_update(spec: Mapping[str, Any]) -> Update:
    if not isinstance(spec, Mapping):
        raise UnsupportedQuery(f"an update must be a dict, not {type(spec).__name__}", operator="update")
    return Update(dict(spec))
