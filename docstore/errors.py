"""One exception hierarchy for docstore.

Every class derives from :class:`DocstoreError`; where a builtin exception means the
same thing, the class derives from it too, so ``except TimeoutError`` or
``except ValueError`` keeps working for callers who do not know docstore. Each class
carries the facts of the failure as attributes and repeats them in its message.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DocstoreError",
    "DuplicateKeyError",
    "EngineUnavailable",
    "FailedUpdate",
    "InvalidDocument",
    "InvalidOperation",
    "InvalidURI",
    "LockAcquisitionTimeout",
    "MissingArguments",
    "MissingDependency",
    "ReadOnlyError",
    "StoreCorrupted",
    "StoreFileError",
    "StoreFileNotFound",
    "StoreIsADirectory",
    "StorePermissionError",
    "UndefinedCall",
    "UnknownScheme",
    "UnsupportedQuery",
]


class DocstoreError(Exception):
    """Base class of every error docstore raises on purpose."""


class InvalidDocument(DocstoreError, ValueError):
    """A document (or a value in it) cannot be stored: bad key, unsupported type, ...

    ``path`` is the dotted path of the offending key or value ("" for the document itself).
    """

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class UnsupportedQuery(DocstoreError, ValueError):
    """A filter, update, projection or sort that docstore does not accept on any engine.

    ``operator`` names the offending operator or field (``"$where"``, ``"$foo"``, ...).
    """

    def __init__(self, message: str, *, operator: str = "") -> None:
        super().__init__(message)
        self.operator = operator


class InvalidOperation(DocstoreError, ValueError):
    """A well-formed update that cannot apply to a stored document.

    For instance ``$inc`` on a string, or ``$push`` onto a non-array. MongoDB reports
    these as write errors; docstore raises this on every engine, and the document is
    left unchanged. ``operator`` and ``path`` say what failed where.
    """

    def __init__(self, message: str, *, operator: str = "", path: str = "") -> None:
        super().__init__(message)
        self.operator = operator
        self.path = path


class DuplicateKeyError(DocstoreError):
    """An insert or update would break a unique index (or reuse an ``_id``)."""

    def __init__(
        self,
        message: str,
        *,
        collection: str = "",
        index: str = "",
        key: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.collection = collection
        self.index = index
        self.key = key or {}


class FailedUpdate(DocstoreError):
    """A compare-and-set found a stored document different from what was expected.

    ``expected`` is what the caller said was stored (for instance a status given as
    ``was=``) and ``actual`` what is stored now (``None`` when the document is gone).
    """

    def __init__(
        self,
        message: str,
        *,
        uid: str | None = None,
        expected: Any = None,
        actual: Any = None,
    ) -> None:
        super().__init__(message)
        self.uid = uid
        self.expected = expected
        self.actual = actual


class LockAcquisitionTimeout(DocstoreError, TimeoutError):
    """A lock (a store's file lock, or an experiment's algorithm lock) was not acquired in time.

    ``lock`` names the lock (the lock file's path, or the experiment), ``timeout`` is
    the time waited, in seconds.
    """

    def __init__(self, message: str, *, lock: str = "", timeout: float | None = None) -> None:
        super().__init__(message)
        self.lock = lock
        self.lock_file = lock  # filelock's attribute name, for callers who know it
        self.timeout = timeout


class StoreCorrupted(DocstoreError):
    """A store's files are damaged. Nothing was repaired or rewritten.

    ``path`` is the damaged file, ``line`` the 1-based line number where known.
    """

    def __init__(self, message: str, *, path: str = "", line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class StoreFileError(DocstoreError, OSError):
    """The operating system refused an operation on one of a store's files.

    A full disk, a folder where a file was expected, a missing permission, a symbolic link
    where docstore creates or rewrites files: ``path`` is the file, ``operation`` what was
    being done to it (``"create"``, ``"write"``, ``"sync"``, ``"replace"``, ...), ``errno``
    and ``strerror`` the system's own error, and the message says what to do. Subclasses
    also derive from the matching builtin (``PermissionError``, ``FileNotFoundError``, ...).
    """

    def __init__(
        self, message: str, *, path: str = "", operation: str = "", errno: int | None = None, strerror: str = ""
    ) -> None:
        super().__init__(message)
        self.path = path
        self.filename = path
        self.operation = operation
        self.errno = errno
        self.strerror = strerror

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class StorePermissionError(StoreFileError, PermissionError):
    """A store's file or folder lacks a permission the operation needs."""


class StoreFileNotFound(StoreFileError, FileNotFoundError):
    """A store's file or folder does not exist."""


class StoreIsADirectory(StoreFileError, IsADirectoryError):
    """A folder where a store's file was expected (``--uri /some/folder``)."""


class ReadOnlyError(DocstoreError, PermissionError):
    """A write was attempted on a store opened read-only (file permissions, or by choice)."""

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class EngineUnavailable(DocstoreError, ConnectionError):
    """The engine cannot be reached (dead server, time-out). ``uri`` is redacted."""

    def __init__(self, message: str, *, uri: str = "") -> None:
        super().__init__(message)
        self.uri = uri


class UnknownScheme(DocstoreError, ValueError):
    """A URI names a scheme no engine is registered for. ``known`` lists those that are."""

    def __init__(self, message: str, *, scheme: str = "", known: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.scheme = scheme
        self.known = known


class InvalidURI(DocstoreError, ValueError):
    """A store URI that cannot be parsed or has a bad option. ``uri`` is redacted."""

    def __init__(self, message: str, *, uri: str = "") -> None:
        super().__init__(message)
        self.uri = uri


class MissingDependency(DocstoreError, ImportError):
    """An engine is known but its optional dependency is not installed.

    ``package`` is what to install (``pip install "docstore[mongodb]"``).
    """

    def __init__(self, message: str, *, package: str = "") -> None:
        super().__init__(message)
        self.package = package


class MissingArguments(DocstoreError, TypeError):
    """A call lacks the arguments it needs (``names`` lists them)."""

    def __init__(self, message: str, *, names: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.names = names


class UndefinedCall(DocstoreError, AttributeError):
    """A method that this object does not offer (for instance a write on a read-only view)."""

    def __init__(self, message: str, *, name: str = "") -> None:
        super().__init__(message)
        self.name = name
