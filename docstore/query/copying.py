"""A fast deep copy for canonical values (JSON-like trees of dicts and lists)."""

from __future__ import annotations

from typing import Any

__all__ = ["deep_copy"]


def deep_copy(value: Any) -> Any:
    t = type(value)
    if t is dict:
        return {k: deep_copy(v) if type(v) in (dict, list) else v for k, v in value.items()}
    if t is list:
        return [deep_copy(v) if type(v) in (dict, list) else v for v in value]
    return value
