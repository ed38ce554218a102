"""The errors only the storage protocol raises; each subclasses a docstore error and a builtin."""

from __future__ import annotations

from docstore.errors import DocstoreError, InvalidDocument

__all__ = [
    "ConflictingArguments",
    "ExperimentConflict",
    "InvalidTransition",
    "TooManyBroken",
    "UnknownExperiment",
    "UnknownStatus",
]


class UnknownExperiment(DocstoreError, LookupError):
    """No experiment has this ``_id`` (``uid``). Raised by a strict :class:`Storage` only."""

    def __init__(self, message: str, *, uid: str | None = None) -> None:
        super().__init__(message)
        self.uid = uid


class UnknownStatus(InvalidDocument):
    """A trial status that is not one of Orion's six (``status`` is the offending value)."""

    def __init__(self, message: str, *, status: object = None) -> None:
        super().__init__(message, path="status")
        self.status = status


class InvalidTransition(InvalidDocument):
    """A status change a strict :class:`Storage` refuses, such as ``completed`` -> ``reserved``."""

    def __init__(self, message: str, *, was: str = "", status: str = "") -> None:
        super().__init__(message, path="status")
        self.was = was
        self.status = status


class ConflictingArguments(DocstoreError, AssertionError):
    """An object and an id were both given and name different things.

    Orion's ``get_uid`` asserts that they agree, so this is an ``AssertionError`` too
    (raised explicitly, so it survives ``python -O``). ``names`` lists the arguments.
    """

    def __init__(self, message: str, *, names: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.names = names


class ExperimentConflict(DocstoreError, ValueError):
    """``get_or_create_experiment``: the stored experiment is configured differently from the one given.

    ``name`` and ``version`` name the stored experiment; ``fields`` lists the top-level
    fields whose values differ (``space``, ``max_trials``, ...).
    """

    def __init__(
        self, message: str, *, name: str = "", version: int | None = None, fields: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.name = name
        self.version = version
        self.fields = fields


class TooManyBroken(DocstoreError, RuntimeError):
    """``run_worker`` stopped: the experiment has ``broken`` broken trials, its limit being ``max_broken``.

    The exception the user's function raised last is the ``__cause__``.
    """

    def __init__(self, message: str, *, broken: int = 0, max_broken: int = 0) -> None:
        super().__init__(message)
        self.broken = broken
        self.max_broken = max_broken
