"""Compile MongoDB filters into fast predicates over documents.

A filter is validated completely and turned into closures once; matching a document
then only runs the closures. An operator expression becomes a small tree of nodes
(:class:`_Leaf`, :class:`_Not`, :class:`_And`) that is bound to its field path: a leaf
matches when its test holds for some value the path reaches, and ``$ne``, ``$nin``,
``$not`` and ``$exists: false`` are the negation of the positive test over the *whole*
path, as in MongoDB (``{"a": {"$ne": 1}}`` does not match ``{"a": [1, 2]}``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from docstore.errors import UnsupportedQuery

from . import operators as ops
from .paths import DocTest, path_test, split_path

__all__ = ["Filter", "compile_filter", "condition_test", "document_test", "elem_match_test"]

ValueTest = Callable[[Any], bool]

_LOGICAL = ("$and", "$or", "$nor")
_REJECTED = frozenset(
    {
        "$where",
        "$function",
        "$expr",
        "$accumulator",
        "$text",
        "$jsonSchema",
        "$near",
        "$nearSphere",
        "$geoWithin",
        "$geoIntersects",
        "$within",
        "$center",
        "$box",
        "$polygon",
        "$comment",
        "$sampleRate",
        "$bitsAllSet",
        "$bitsAnySet",
        "$bitsAllClear",
        "$bitsAnyClear",
        "$search",
        "$meta",
        "$natural",
        "$alwaysTrue",
        "$alwaysFalse",
    }
)


def _reject(op: str, where: str = "query") -> UnsupportedQuery:
    if op in _REJECTED:
        return UnsupportedQuery(f"{op} is not supported by docstore on any engine", operator=op)
    return UnsupportedQuery(f"unknown {where} operator {op}", operator=op)


# ------------------------------------------------------------------ nodes
class _Leaf:
    """A test of the values at a path. ``array_matching`` tests ($size, $elemMatch) see a leaf array whole."""

    __slots__ = ("array_matching", "leaf", "one")

    def __init__(self, tests: tuple[ValueTest, ValueTest], *, array_matching: bool = False) -> None:
        self.one, self.leaf = tests
        self.array_matching = array_matching


class _Not:
    __slots__ = ("children",)

    def __init__(self, children: list[_Node]) -> None:
        self.children = children


class _And:
    __slots__ = ("children",)

    def __init__(self, children: list[_Node]) -> None:
        self.children = children


_Node = _Leaf | _Not | _And


def _bind(node: _Node, parts: tuple[str, ...]) -> DocTest:
    """The document test of ``node`` applied at the path ``parts``."""
    if isinstance(node, _Leaf):
        return path_test(parts, node.one if node.array_matching else node.leaf, node.one)
    inner = _all_of([_bind(child, parts) for child in node.children])
    if isinstance(node, _And):
        return inner

    def negated(doc: Mapping[str, Any]) -> bool:
        return not inner(doc)

    return negated


def _single(node: _Node) -> ValueTest:
    """MongoDB's matchesSingleElement: ``node`` on one array element, never expanded."""
    if isinstance(node, _Leaf):
        return node.one
    tests = [_single(child) for child in node.children]
    if isinstance(node, _And):
        return lambda value: all(test(value) for test in tests)
    return lambda value: not all(test(value) for test in tests)


def _all_of(tests: list[DocTest]) -> DocTest:
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests

        def both(doc: Mapping[str, Any]) -> bool:
            return first(doc) and second(doc)

        return both
    chain = tuple(tests)

    def every(doc: Mapping[str, Any]) -> bool:
        for test in chain:  # noqa: SIM110 - a plain loop is faster than all() over a generator
            if not test(doc):
                return False
        return True

    return every


# ------------------------------------------------------------------ operator expressions
def _operators(spec: Mapping[str, Any]) -> list[_Node]:
    """``{"$gt": 1, "$lt": 5}`` -> one node per operator (they are ANDed)."""
    if "$options" in spec and "$regex" not in spec:
        raise UnsupportedQuery("$options needs a $regex", operator="$options")
    nodes: list[_Node] = []
    for op, arg in spec.items():
        if op == "$eq":
            nodes.append(_Leaf(ops.equals(arg)))
        elif op == "$ne":
            nodes.append(_Not([_Leaf(ops.equals(arg))]))
        elif op in ("$gt", "$gte", "$lt", "$lte"):
            nodes.append(_Leaf(ops.ordering(op, arg)))
        elif op == "$in":
            nodes.append(_Leaf(ops.membership(arg, op)))
        elif op == "$nin":
            nodes.append(_Not([_Leaf(ops.membership(arg, op))]))
        elif op == "$exists":
            exists = _Leaf(ops.exists())
            nodes.append(exists if arg else _Not([exists]))
        elif op == "$regex":
            nodes.append(_Leaf(ops.regex_test(ops.make_regex(arg, spec.get("$options")))))
        elif op == "$options":
            continue
        elif op == "$type":
            nodes.append(_Leaf(ops.type_test(arg)))
        elif op == "$mod":
            nodes.append(_Leaf(ops.modulo(arg)))
        elif op == "$size":
            nodes.append(_Leaf(ops.size(arg), array_matching=True))
        elif op == "$all":
            nodes.append(_all(arg))
        elif op == "$elemMatch":
            nodes.append(_elem_match(arg))
        elif op == "$not":
            nodes.append(_not(arg))
        elif isinstance(op, str) and op.startswith("$"):
            raise _reject(op)
        else:
            raise UnsupportedQuery(
                f"unknown operator {op!r}: an operator expression cannot hold a field name", operator=str(op)
            )
    return nodes


def _not(arg: Any) -> _Node:
    if isinstance(arg, re.Pattern):
        return _Not([_Leaf(ops.regex_test(arg))])
    if ops.is_operator_object(arg):
        return _Not(_operators(arg))
    if type(arg) is dict and not arg:
        raise UnsupportedQuery("$not cannot be empty", operator="$not")
    raise UnsupportedQuery("$not needs a regex or an operator expression such as {'$gt': 1}", operator="$not")


def _all(arg: Any) -> _Node:
    if not isinstance(arg, list):
        raise UnsupportedQuery("$all needs an array", operator="$all")
    if not arg:
        return _Leaf((_never, _never))  # MongoDB: an empty $all matches nothing
    elem_matches = [type(item) is dict and len(item) == 1 and "$elemMatch" in item for item in arg]
    if any(elem_matches):
        if not all(elem_matches):
            raise UnsupportedQuery("$all cannot mix $elemMatch and values", operator="$all")
        return _And([_elem_match(item["$elemMatch"]) for item in arg])
    children: list[_Node] = []
    for item in arg:
        if ops.is_operator_object(item):
            raise UnsupportedQuery("$all takes values, not $ expressions", operator="$all")
        children.append(_Leaf(ops.regex_test(item) if isinstance(item, re.Pattern) else ops.equals(item)))
    return _And(children)


def _never(value: Any) -> bool:
    return False


def elem_match_test(arg: Any) -> ValueTest:
    """The test ``{"$elemMatch": arg}`` applies to each element of an array."""
    if type(arg) is not dict:
        raise UnsupportedQuery("$elemMatch needs an object", operator="$elemMatch")
    first = next(iter(arg), "")
    if isinstance(first, str) and first.startswith("$") and first not in _LOGICAL:
        tests = [_single(node) for node in _operators(arg)]  # {"$elemMatch": {"$gt": 1}}: element values

        def value_form(element: Any) -> bool:
            return all(test(element) for test in tests)

        return value_form
    matches = _compile(arg)  # {"$elemMatch": {"b": 1}}: elements are documents (or arrays)

    def object_form(element: Any) -> bool:
        kind = type(element)
        if kind is dict:
            return matches(element)
        # MongoDB reads an array element as a document with keys "0", "1", ...
        return kind is list and matches({str(i): item for i, item in enumerate(element)})

    return object_form


def _elem_match(arg: Any) -> _Node:
    inner = elem_match_test(arg)

    def one(value: Any) -> bool:
        return type(value) is list and any(inner(element) for element in value)

    return _Leaf((one, one), array_matching=True)


# ------------------------------------------------------------------ documents
def _field(path: str, condition: Any) -> DocTest:
    parts = split_path(path)
    if ops.is_operator_object(condition):
        nodes = _operators(condition)
    elif isinstance(condition, re.Pattern):
        nodes = [_Leaf(ops.regex_test(condition))]
    else:
        nodes = [_Leaf(ops.equals(condition))]
    return _all_of([_bind(node, parts) for node in nodes])


def _logical(op: str, spec: Any) -> DocTest:
    if not isinstance(spec, list) or not spec:
        raise UnsupportedQuery(f"{op} needs a non-empty array of filters", operator=op)
    subs: list[DocTest] = []
    for item in spec:
        if not isinstance(item, Mapping):
            raise UnsupportedQuery(f"each item of {op} must be a filter object", operator=op)
        subs.append(_compile(item))
    if op == "$and":
        return _all_of(subs)
    if op == "$or":
        return lambda doc: any(test(doc) for test in subs)
    return lambda doc: not any(test(doc) for test in subs)


def _compile(spec: Mapping[str, Any]) -> DocTest:
    tests: list[DocTest] = []
    for key, condition in spec.items():
        if not isinstance(key, str):
            raise UnsupportedQuery(f"filter keys must be strings, got {key!r}", operator=str(key))
        if key.startswith("$"):
            if key not in _LOGICAL:
                raise _reject(key, "top-level query")
            tests.append(_logical(key, condition))
        else:
            tests.append(_field(key, condition))
    if not tests:
        return _always
    return _all_of(tests)


def _always(doc: Mapping[str, Any]) -> bool:
    return True


class Filter:
    """A validated, compiled filter."""

    __slots__ = ("_test", "spec")

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self._test = _compile(spec)

    def matches(self, doc: Mapping[str, Any]) -> bool:
        """Whether ``doc`` matches, by MongoDB's rules."""
        return self._test(doc)

    def equalities(self) -> dict[str, list[Any]]:
        """Index hints: path -> scalar values, one of which a matching document holds at that path.

        Only clauses ANDed at the top level count (implicit equality, ``$eq``, ``$in``,
        also inside a top-level ``$and``), and only when every value is a hashable
        scalar other than null (null also matches a missing field).
        """
        hints: dict[str, list[Any]] = {}
        _collect_equalities(self.spec, hints)
        return hints

    def __repr__(self) -> str:
        return f"Filter({self.spec!r})"


def _hint_scalar(value: Any) -> bool:
    kind = type(value)
    return kind is str or kind is bool or ((kind is int or kind is float) and value == value)


def _collect_equalities(spec: Mapping[str, Any], hints: dict[str, list[Any]]) -> None:
    for key, cond in spec.items():
        if key == "$and":
            for item in cond:
                _collect_equalities(item, hints)
            continue
        if key.startswith("$") or key in hints:
            continue
        if _hint_scalar(cond):
            hints[key] = [cond]
        elif ops.is_operator_object(cond):
            if "$eq" in cond and _hint_scalar(cond["$eq"]):
                hints[key] = [cond["$eq"]]
            elif "$in" in cond and cond["$in"] and all(_hint_scalar(v) for v in cond["$in"]):
                hints[key] = list(cond["$in"])


def compile_filter(spec: Mapping[str, Any] | None) -> Filter:
    """Validate and compile a filter; raises UnsupportedQuery naming the offending operator."""
    if spec is None:
        return Filter({})
    if not isinstance(spec, Mapping):
        raise UnsupportedQuery(f"a filter must be a dict, not {type(spec).__name__}", operator="filter")
    return Filter(dict(spec))


def condition_test(spec: Mapping[str, Any]) -> ValueTest:
    """A test of one value by an operator expression, arrays expanded (what ``$pull`` uses)."""
    test = _field("v", spec)
    return lambda value: test({"v": value})


def document_test(spec: Mapping[str, Any]) -> DocTest:
    """A compiled filter as a bare function (what ``$pull`` and ``$elemMatch`` projections use)."""
    return _compile(spec)
