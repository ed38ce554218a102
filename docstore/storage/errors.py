"""The errors only the storage protocol raises; each subclasses a docstore error and a builtin."""

from __future__ import annotations

from docstore.errors import DocstoreError, InvalidDocument

__all__ = ["ConflictingArguments", "InvalidTransition", "UnknownExperiment", "UnknownStatus"]


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
