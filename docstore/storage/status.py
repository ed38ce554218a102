"""Trial statuses (Orion's six) and the changes between them that a strict storage allows."""

from __future__ import annotations

from typing import Any

from docstore.storage.errors import InvalidTransition, UnknownStatus

__all__ = [
    "ENDED",
    "PENDING",
    "STATUSES",
    "TRANSITIONS",
    "check_transition",
    "validate_status",
]

STATUSES = ("new", "reserved", "suspended", "completed", "interrupted", "broken")
"""Every status a trial may have, as Orion names them."""

PENDING = ("new", "suspended", "interrupted")
"""Statuses a worker may reserve."""

ENDED = ("completed", "broken")
"""Statuses that set ``end_time`` when a trial reaches them."""

# Which status may follow which one. Setting a status a trial already has is always allowed
# (it only refreshes the heartbeat). `completed` is final: results were pushed for it.
# A broken trial may be retried (back to new or interrupted), as `orion db set` lets users do.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"reserved", "suspended", "interrupted", "broken"}),
    "reserved": frozenset({"completed", "broken", "interrupted", "suspended", "new"}),
    "suspended": frozenset({"reserved", "new", "interrupted", "broken"}),
    "interrupted": frozenset({"reserved", "new", "suspended", "broken"}),
    "broken": frozenset({"new", "interrupted"}),
    "completed": frozenset(),
}


def validate_status(status: Any) -> str:
    """``status`` if it is one of :data:`STATUSES`, else :class:`UnknownStatus` (a ValueError)."""
    if not isinstance(status, str) or status not in STATUSES:
        # Orion's wording, so callers matching on it keep working.
        raise UnknownStatus(f"Given status `{status}` not one of: {STATUSES}", status=status)
    return status


def check_transition(was: str, status: str) -> None:
    """Raise :class:`InvalidTransition` unless a trial may go from ``was`` to ``status``."""
    if was != status and status not in TRANSITIONS[was]:
        allowed = ", ".join(sorted(TRANSITIONS[was])) or "none"
        raise InvalidTransition(
            f"a trial cannot go from {was!r} to {status!r} (allowed from {was!r}: {allowed}); "
            "open the storage with strict=False to allow any change, as Orion does",
            was=was,
            status=status,
        )
