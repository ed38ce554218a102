"""The query language, evaluated in pure Python with MongoDB's rules.

Every filter, update, projection and sort is validated here before it reaches any
engine, so every engine accepts exactly the same language and rejects the rest with
the same error (:class:`~docstore.errors.UnsupportedQuery`, naming the operator).
The JSON engine also evaluates them here. This package imports nothing else of
docstore but its errors.
"""

from __future__ import annotations

from .filters import Filter, compile_filter
from .projections import Projection, compile_projection
from .sorting import Sort, compile_sort
from .updates import Update, compile_update
from .validation import validate_document
from .values import compare, values_equal

__all__ = [
    "Filter",
    "Projection",
    "Sort",
    "Update",
    "compare",
    "compile_filter",
    "compile_projection",
    "compile_sort",
    "compile_update",
    "validate_document",
    "values_equal",
]
