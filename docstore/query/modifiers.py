"""The update operators, each compiled into a step that changes a (copied) document in place.

A step raises :class:`InvalidOperation` (with the operator and the full dotted path)
when the document it meets makes the operation impossible, as MongoDB reports a write
error: ``$inc`` on a string, ``$push`` onto a non-array, a path through a scalar...
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from collections.abc import Callable
from typing import Any

from docstore.errors import InvalidOperation, UnsupportedQuery

from .copying import deep_copy
from .filters import condition_test, document_test
from .operators import is_operator_object
from .paths import split_path
from .values import MISSING, NUMBER, bracket, compare, sort_key, values_equal

__all__ = ["Step", "build_step"]

Step = Callable[[dict[str, Any]], None]
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _now() -> _dt.datetime:
    now = _dt.datetime.now(_dt.timezone.utc)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


class _Path:
    """A compiled update path: its parts, how to reach its parent, and how to report errors."""

    __slots__ = ("dotted", "last", "op", "parts")

    def __init__(self, op: str, parts: tuple[str, ...]) -> None:
        self.op = op
        self.parts = parts
        self.last = parts[-1]
        self.dotted = ".".join(parts)

    def error(self, message: str) -> InvalidOperation:
        return InvalidOperation(f"{self.op} on {self.dotted!r}: {message}", operator=self.op, path=self.dotted)

    def parent(self, doc: dict[str, Any], *, create: bool, through_arrays: bool = True) -> Any:
        """The container of the last part; MISSING when absent and not ``create``.

        With ``create``, missing intermediate documents are created (and arrays padded
        with nulls, as MongoDB does for ``$set`` on ``a.5``).
        """
        node: Any = doc
        for i, key in enumerate(self.parts[:-1]):
            if type(node) is list and not through_arrays:
                raise self.error("the path cannot go through an array element")
            child = _child(node, key)
            if child is MISSING:
                if not create:
                    return MISSING
                if type(node) is not dict and not (type(node) is list and key.isdigit()):
                    raise self.error(f"cannot create field {key!r} in {_describe(node)}")
                child = {}
                self.put(node, key, child)
            elif type(child) not in (dict, list):
                if not create:
                    return MISSING
                raise self.error(f"cannot create field {self.parts[i + 1]!r} in {_describe(child)}")
            node = child
        if type(node) is list and not through_arrays:
            raise self.error("the path cannot go through an array element")
        return node

    def put(self, container: Any, key: str, value: Any) -> None:
        if type(container) is dict:
            container[key] = value
        elif type(container) is list and key.isdigit():
            index = int(key)
            if index >= len(container):
                container.extend([None] * (index + 1 - len(container)))
            container[index] = value
        else:
            raise self.error(f"cannot create field {key!r} in {_describe(container)}")

    def current(self, doc: dict[str, Any], *, create: bool) -> tuple[Any, Any]:
        """``(parent, value)`` at this path; value is MISSING where absent."""
        parent = self.parent(doc, create=create)
        if parent is MISSING:
            return MISSING, MISSING
        if create and type(parent) not in (dict, list):
            raise self.error(f"cannot create field {self.last!r} in {_describe(parent)}")
        return parent, _child(parent, self.last)


def _child(node: Any, key: str) -> Any:
    if type(node) is dict:
        return node.get(key, MISSING)
    if type(node) is list and key.isdigit():
        index = int(key)
        return node[index] if index < len(node) else MISSING
    return MISSING


def _describe(node: Any) -> str:
    if type(node) is list:
        return "an array"
    if type(node) is dict:
        return "a document"
    return f"the element {node!r}"


# ------------------------------------------------------------------ steps
def _set(path: _Path, value: Any) -> Step:
    def step(doc: dict[str, Any]) -> None:
        parent, _ = path.current(doc, create=True)
        path.put(parent, path.last, deep_copy(value))

    return step


def _unset(path: _Path) -> Step:
    def step(doc: dict[str, Any]) -> None:
        parent = path.parent(doc, create=False)
        if type(parent) is dict:
            parent.pop(path.last, None)
        elif type(parent) is list and path.last.isdigit() and int(path.last) < len(parent):
            parent[int(path.last)] = None  # MongoDB leaves a null in the array

    return step


def _arithmetic(path: _Path, amount: Any) -> Step:
    def step(doc: dict[str, Any]) -> None:
        parent, current = path.current(doc, create=True)
        if current is MISSING:
            result = amount if path.op == "$inc" else amount * 0
        elif bracket(current) != NUMBER:
            raise path.error(f"cannot apply {path.op} to a value of non-numeric type {_type_name(current)}")
        else:
            result = current + amount if path.op == "$inc" else current * amount
        if type(result) is int and not _INT64_MIN <= result <= _INT64_MAX:
            raise path.error(f"the result {result} overflows a 64-bit integer")
        path.put(parent, path.last, result)

    return step


def _type_name(value: Any) -> str:
    return (
        "null"
        if value is None
        else {"str": "string", "dict": "object", "list": "array"}.get(type(value).__name__, type(value).__name__)
    )


def _min_max(path: _Path, value: Any) -> Step:
    wanted = -1 if path.op == "$min" else 1

    def step(doc: dict[str, Any]) -> None:
        parent, current = path.current(doc, create=True)
        if current is MISSING or compare(value, current) == wanted:
            path.put(parent, path.last, deep_copy(value))

    return step


def _array(path: _Path, doc: dict[str, Any], *, create: bool) -> tuple[Any, list[Any] | None]:
    parent, current = path.current(doc, create=create)
    if current is MISSING:
        return parent, None
    if type(current) is not list:
        raise path.error(f"{path.op} needs an array, found a value of type {_type_name(current)}")
    return parent, current


def _integer(value: Any, name: str) -> int:
    if type(value) not in (int, float) or value != value or value != int(value):
        raise UnsupportedQuery(f"{name} needs an integer, got {value!r}", operator=name)
    return int(value)


def _push(path: _Path, spec: Any) -> Step:
    position: int | None = None
    slice_: int | None = None
    order: Callable[[list[Any]], list[Any]] | None = None
    if type(spec) is dict and "$each" in spec:
        for key in spec:
            if key not in ("$each", "$slice", "$sort", "$position"):
                raise UnsupportedQuery(f"unknown $push modifier {key}", operator=str(key))
        items = spec["$each"]
        if not isinstance(items, list):
            raise UnsupportedQuery("$each needs an array", operator="$each")
        if "$position" in spec:
            position = _integer(spec["$position"], "$position")
        if "$slice" in spec:
            slice_ = _integer(spec["$slice"], "$slice")
        if "$sort" in spec:
            order = _push_order(spec["$sort"])
    elif is_operator_object(spec):
        raise UnsupportedQuery("$push modifiers need $each", operator=str(next(iter(spec))))
    else:
        items = [spec]

    def step(doc: dict[str, Any]) -> None:
        parent, current = _array(path, doc, create=True)
        array = list(current) if current is not None else []
        new = [deep_copy(item) for item in items]
        if position is None:
            array.extend(new)
        else:
            index = position if position >= 0 else max(len(array) + position, 0)
            array[index:index] = new
        if order is not None:
            array = order(array)
        if slice_ is not None:
            array = array[:slice_] if slice_ >= 0 else array[slice_:]
        path.put(parent, path.last, array)

    return step


def _push_order(spec: Any) -> Callable[[list[Any]], list[Any]]:
    if type(spec) in (int, float) and spec in (1, -1):
        reverse = spec == -1
        return lambda array: sorted(array, key=sort_key, reverse=reverse)
    if type(spec) is dict and spec:
        fields: list[tuple[tuple[str, ...], int]] = []
        for field, direction in spec.items():
            if type(direction) not in (int, float) or direction not in (1, -1):
                raise UnsupportedQuery(f"$sort direction for {field!r} must be 1 or -1", operator="$sort")
            fields.append((split_path(field, operator="$sort"), int(direction)))
        return lambda array: _sort_by_fields(array, fields)
    raise UnsupportedQuery("$sort in $push needs 1, -1 or a document of fields", operator="$sort")


def _sort_by_fields(array: list[Any], fields: list[tuple[tuple[str, ...], int]]) -> list[Any]:
    def field_value(element: Any, parts: tuple[str, ...]) -> Any:
        for part in parts:  # getFieldDotted: through documents (and arrays by position) only
            element = _child(element, part)
            if element is MISSING:
                return None
        return element

    def cmp(a: Any, b: Any) -> int:
        for parts, direction in fields:
            c = compare(field_value(a, parts), field_value(b, parts))
            if c:
                return c * direction
        return 0

    return sorted(array, key=functools.cmp_to_key(cmp))


def _add_to_set(path: _Path, spec: Any) -> Step:
    if type(spec) is dict and "$each" in spec:
        if len(spec) != 1 or not isinstance(spec["$each"], list):
            raise UnsupportedQuery("$addToSet takes only {'$each': [...]}", operator="$each")
        items = spec["$each"]
    elif is_operator_object(spec):
        raise UnsupportedQuery("$addToSet takes a value or {'$each': [...]}", operator=str(next(iter(spec))))
    else:
        items = [spec]

    def step(doc: dict[str, Any]) -> None:
        parent, current = _array(path, doc, create=True)
        array = list(current) if current is not None else []
        for item in items:
            if not any(values_equal(item, element) for element in array):
                array.append(deep_copy(item))
        path.put(parent, path.last, array)

    return step


def _pull(path: _Path, spec: Any) -> Step:
    test: Callable[[Any], bool]
    if path.op == "$pullAll":
        if not isinstance(spec, list):
            raise UnsupportedQuery("$pullAll needs an array", operator="$pullAll")
        test = lambda element: any(values_equal(element, value) for value in spec)  # noqa: E731
    elif is_operator_object(spec) and next(iter(spec)) not in ("$and", "$or", "$nor"):
        test = condition_test(spec)  # {"$gte": 6}: on each element, arrays expanded
    elif type(spec) is dict:
        matches = document_test(spec)  # {"b": 1}: elements that are documents matching this filter
        test = lambda element: type(element) is dict and matches(element)  # noqa: E731
    elif isinstance(spec, re.Pattern):
        test = condition_test({"$regex": spec})
    else:
        test = lambda element: values_equal(element, spec)  # noqa: E731

    def step(doc: dict[str, Any]) -> None:
        parent, current = _array(path, doc, create=False)
        if current is not None:
            path.put(parent, path.last, [element for element in current if not test(element)])

    return step


def _pop(path: _Path, spec: Any) -> Step:
    if type(spec) not in (int, float) or spec not in (1, -1):
        raise UnsupportedQuery(f"$pop needs 1 or -1, got {spec!r}", operator="$pop")

    def step(doc: dict[str, Any]) -> None:
        parent, current = _array(path, doc, create=False)
        if current:
            path.put(parent, path.last, current[:-1] if spec == 1 else current[1:])

    return step


def _rename(source: _Path, target: _Path) -> Step:
    def step(doc: dict[str, Any]) -> None:
        parent = source.parent(doc, create=False, through_arrays=False)
        if type(parent) is not dict or source.last not in parent:
            return
        destination = target.parent(doc, create=True, through_arrays=False)
        if type(destination) is not dict:
            raise target.error(f"cannot create field {target.last!r} in {_describe(destination)}")
        value = parent.pop(source.last)
        destination[target.last] = value

    return step


def _current_date(path: _Path, spec: Any) -> Step:
    if not (spec is True or spec == {"$type": "date"}):
        raise UnsupportedQuery(
            "$currentDate takes true or {'$type': 'date'} (timestamps cannot be stored)", operator="$currentDate"
        )

    def step(doc: dict[str, Any]) -> None:
        parent, _ = path.current(doc, create=True)
        path.put(parent, path.last, _now())

    return step


def build_step(op: str, parts: tuple[str, ...], arg: Any) -> tuple[Step, list[tuple[str, ...]]]:
    """The step of ``{op: {path: arg}}`` and the paths it touches (for conflict checks)."""
    path = _Path(op, parts)
    if op in ("$set", "$setOnInsert"):
        return _set(path, arg), [parts]
    if op == "$unset":
        return _unset(path), [parts]
    if op in ("$inc", "$mul"):
        if bracket(arg) != NUMBER:
            raise UnsupportedQuery(f"{op} needs a number for {path.dotted!r}, got {arg!r}", operator=op)
        return _arithmetic(path, arg), [parts]
    if op in ("$min", "$max"):
        return _min_max(path, arg), [parts]
    if op == "$push":
        return _push(path, arg), [parts]
    if op == "$addToSet":
        return _add_to_set(path, arg), [parts]
    if op in ("$pull", "$pullAll"):
        return _pull(path, arg), [parts]
    if op == "$pop":
        return _pop(path, arg), [parts]
    if op == "$currentDate":
        return _current_date(path, arg), [parts]
    if op == "$rename":
        if not isinstance(arg, str):
            raise UnsupportedQuery(f"$rename needs a string target for {path.dotted!r}", operator="$rename")
        target = split_path(arg, operator="$rename")
        if target[: len(parts)] == parts or parts[: len(target)] == target:
            raise UnsupportedQuery(
                f"$rename source {path.dotted!r} and target {arg!r} must not be on the same path", operator="$rename"
            )
        return _rename(path, _Path(op, target)), [parts, target]
    raise UnsupportedQuery(f"unknown update operator {op}", operator=op)
