"""A read-only view of a :class:`Storage`: fetch, count, get and retrieve, nothing that writes."""

from __future__ import annotations

from typing import Any

from docstore.errors import UndefinedCall

__all__ = ["READ_METHODS", "ReadOnlyStorage"]

READ_METHODS = frozenset(
    {
        "count_broken_trials",
        "count_completed_trials",
        "fetch_benchmark",
        "fetch_experiments",
        "fetch_lost_trials",
        "fetch_noncompleted_trials",
        "fetch_pending_trials",
        "fetch_trials",
        "fetch_trials_by_status",
        "get_algorithm_lock_info",
        "get_trial",
        "retrieve_result",
    }
)
"""Orion's ``ReadOnlyStorageProtocol.valid_attributes``, plus benchmarks, lock info and retrieve_result."""


class ReadOnlyStorage:
    """Wraps a storage; every other attribute raises :class:`UndefinedCall` (an AttributeError)."""

    __slots__ = ("_storage",)

    def __init__(self, storage: Any) -> None:
        if isinstance(storage, ReadOnlyStorage):
            storage = storage._storage
        object.__setattr__(self, "_storage", storage)

    def __getattr__(self, name: str) -> Any:
        if name in READ_METHODS:
            return getattr(self._storage, name)
        storage = object.__getattribute__(self, "_storage")
        if callable(getattr(type(storage), name, None)) and not name.startswith("_"):
            reason = f"{name!r} writes to the store"
        else:
            reason = f"{name!r} is not one of its read methods"
        raise UndefinedCall(
            f"ReadOnlyStorage cannot call {name}: {reason}; it offers only {', '.join(sorted(READ_METHODS))}",
            name=name,
        )

    def __setattr__(self, name: str, value: Any) -> None:
        raise UndefinedCall(f"ReadOnlyStorage is read-only: cannot set {name!r}", name=name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (ReadOnlyStorage, (self._storage,))

    def __dir__(self) -> list[str]:
        return sorted(READ_METHODS)

    def __repr__(self) -> str:
        return f"ReadOnlyStorage({self._storage!r})"
