"""pymongo's exceptions, translated into docstore's.

Every pymongo or bson exception that escapes a MongoDB call becomes a docstore error
carrying the facts (collection, index, key, server error code), with any password
scrubbed from the text, and chained (``raise ... from``) to the original for debugging.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bson.errors import BSONError
from bson.errors import InvalidDocument as BsonInvalidDocument
from pymongo import errors as pme

from docstore.errors import (
    DocstoreError,
    DuplicateKeyError,
    EngineUnavailable,
    InvalidDocument,
    InvalidOperation,
    InvalidURI,
)

__all__ = ["ErrorContext", "MongoError", "translate"]

#: server error codes meaning "this well-formed update cannot apply to that document"
#: (BadValue, FailedToParse, TypeMismatch, PathNotViable, ConflictingUpdateOperators,
#: DollarPrefixedFieldName, NotSingleValueField, InvalidIdField, EmptyFieldName,
#: DottedFieldName, ImmutableField, and the legacy "must be an array" code)
UPDATE_CANNOT_APPLY = frozenset({2, 9, 14, 28, 40, 52, 54, 55, 56, 57, 66, 16837})
#: IndexNotFound, IndexOptionsConflict, IndexKeySpecsConflict: a bad index request
INDEX_CONFLICT = frozenset({27, 85, 86})
DUPLICATE_KEY = frozenset({11000, 11001, 12582})
#: Unauthorized, AuthenticationFailed: the store cannot be used with these credentials
AUTH_FAILED = frozenset({13, 18})

_CAUSED_BY = re.compile(r"^.*:: caused by :: ")
_INDEX_NAME = re.compile(r"index: (\S+)")
_OPERATOR = re.compile(r"(\$[A-Za-z]+)")
_QUOTED = re.compile(r"'([^']+)'")


class MongoError(DocstoreError):
    """A failure pymongo reported that no more specific docstore error describes.

    ``code`` and ``code_name`` are the server's error code and name, when it sent them.
    """

    def __init__(self, message: str, *, code: int | None = None, code_name: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.code_name = code_name


@dataclass(frozen=True)
class ErrorContext:
    """What a message needs to say where the failure happened, without the password."""

    uri: str
    """the store's URI, password already redacted"""
    hosts: str
    database: str
    password: str | None = None


def scrub(text: str, password: str | None) -> str:
    """``text`` without ``password`` (plain or percent-encoded) in it.

    Passwords shorter than 3 characters are left alone: replacing them would garble the
    message (and the URIs in docstore's messages are redacted already).
    """
    if password and len(password) >= 3:
        for secret in {password, quote(password, safe="")}:
            text = text.replace(secret, "***")
    return text


def translate(
    exc: BaseException,
    ctx: ErrorContext,
    collection: str = "",
    verb: str = "",
    update: Mapping[str, Any] | None = None,
) -> DocstoreError:
    """The docstore error for ``exc``, raised by ``verb`` on ``collection`` (applying ``update``)."""
    if isinstance(exc, (pme.ServerSelectionTimeoutError, pme.ConnectionFailure)):
        return _unavailable(exc, ctx)
    if isinstance(exc, pme.BulkWriteError):
        return _bulk_write_error(exc, ctx, collection, verb, update)
    if isinstance(exc, pme.OperationFailure):
        details = exc.details or {}
        message = str(details.get("errmsg") or exc)
        return _server_error(exc.code, message, details, ctx, collection=collection, verb=verb, update=update)
    if isinstance(exc, pme.DocumentTooLarge):
        return InvalidDocument(scrub(f"document too large for MongoDB in {collection!r}: {exc}", ctx.password))
    if isinstance(exc, BsonInvalidDocument):
        return InvalidDocument(scrub(f"MongoDB cannot encode a value for {collection!r}: {exc}", ctx.password))
    if isinstance(exc, pme.ConfigurationError) and ("DNS" in str(exc) or "resolution lifetime" in str(exc)):
        return _unavailable(exc, ctx)  # mongodb+srv:// whose name does not resolve (now)
    if isinstance(exc, pme.ConfigurationError):
        return InvalidURI(scrub(f"bad MongoDB configuration for {ctx.uri}: {exc}", ctx.password), uri=ctx.uri)
    if isinstance(exc, BSONError):
        return MongoError(scrub(f"cannot decode a document of {collection!r} from {ctx.uri}: {exc}", ctx.password))
    return MongoError(scrub(f"MongoDB {verb or 'call'} on {collection!r} failed: {exc}", ctx.password))


def _unavailable(exc: BaseException, ctx: ErrorContext) -> EngineUnavailable:
    reason = str(exc).split(", Timeout:", 1)[0].split(", Topology Description:", 1)[0]
    kind = "no server answered in time" if isinstance(exc, pme.ServerSelectionTimeoutError) else type(exc).__name__
    message = f"MongoDB unavailable at {ctx.uri} (hosts {ctx.hosts}): {kind}: {reason}"
    return EngineUnavailable(scrub(message, ctx.password), uri=ctx.uri)


def _bulk_write_error(
    exc: pme.BulkWriteError, ctx: ErrorContext, collection: str, verb: str, update: Mapping[str, Any] | None
) -> DocstoreError:
    details = exc.details or {}
    write_errors = details.get("writeErrors") or []
    if write_errors:
        first = write_errors[0]
        return _server_error(
            first.get("code"), str(first.get("errmsg", "")), first, ctx, collection=collection, verb=verb, update=update
        )
    concern = details.get("writeConcernErrors") or [{}]
    return MongoError(
        scrub(f"MongoDB {verb} on {collection!r}: write concern error: {concern[0].get('errmsg', exc)}", ctx.password),
        code=concern[0].get("code"),
    )


def _server_error(
    code: int | None,
    message: str,
    details: Mapping[str, Any],
    ctx: ErrorContext,
    *,
    collection: str,
    verb: str,
    update: Mapping[str, Any] | None = None,
) -> DocstoreError:
    reason = scrub(_CAUSED_BY.sub("", message), ctx.password)
    if code in DUPLICATE_KEY:
        match = _INDEX_NAME.search(message)
        index = match.group(1) if match else ""
        key = details.get("keyValue") if isinstance(details.get("keyValue"), dict) else {}
        return DuplicateKeyError(
            f"duplicate key in collection {collection!r}: index {index!r}, key {key!r} ({reason})",
            collection=collection,
            index=index,
            key=key,
        )
    if code in AUTH_FAILED:
        return EngineUnavailable(f"MongoDB at {ctx.uri} refused access: {reason}", uri=ctx.uri)
    if verb == "insert" and code is not None and code not in INDEX_CONFLICT:
        return InvalidDocument(f"MongoDB rejected a document for {collection!r}: {reason} (code {code})")
    if code in UPDATE_CANNOT_APPLY or code in INDEX_CONFLICT:
        operator, path = _locate(reason, update or {}, verb)
        return InvalidOperation(
            f"{verb or 'update'} cannot apply in collection {collection!r}: {reason} (code {code})",
            operator=operator,
            path=path,
        )
    code_name = str(details.get("codeName", ""))
    return MongoError(
        f"MongoDB {verb or 'call'} on {collection!r} failed: {reason} (code {code} {code_name})".rstrip(),
        code=code,
        code_name=code_name,
    )


def _locate(reason: str, update: Mapping[str, Any], verb: str) -> tuple[str, str]:
    """The (operator, field path) of ``update`` that the server's message is about.

    Server messages name the operator or the field, not always both, and sometimes only
    the last part of a dotted path ("Cannot create field 'x' in element {n: 1}" for
    ``$set: {"n.x": 1}``); the update itself fills in the rest.
    """
    named_operators = _OPERATOR.findall(reason)
    quoted = _QUOTED.findall(reason)
    pairs = [
        (operator, str(path))
        for operator, fields in update.items()
        if operator.startswith("$") and isinstance(fields, Mapping)
        for path in fields
    ]
    if named_operators and any(op in named_operators for op, _ in pairs):
        pairs = [(op, path) for op, path in pairs if op in named_operators]
    exact = [(op, path) for op, path in pairs if path in quoted]
    if exact:
        return exact[0]
    partial = [(op, path) for op, path in pairs if {path.rsplit(".", 1)[-1], path.split(".", 1)[0]} & set(quoted)]
    if partial:
        return partial[0]
    if len(pairs) == 1:
        return pairs[0]
    if named_operators:
        return named_operators[0], quoted[0] if quoted else ""
    if "_id" in quoted or "_id" in reason:
        return ("replacement" if update and not pairs else verb), "_id"
    return verb, quoted[0] if quoted else ""
