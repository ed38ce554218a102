"""Bytes on disk: relaxed Extended JSON values and CRC-framed journal lines.

Values JSON lacks (datetimes, bytes, NaN and infinities) are written as MongoDB relaxed
Extended JSON, exactly as :func:`docstore.documents.to_ejson` writes them; these
functions are faster equivalents for the shapes documents have, and defer to
``docstore.documents`` for the rare forms. No stored field name starts with ``$``
(``docstore.query.validate_document`` forbids it), so a ``$``-keyed object in a file is
always an Extended JSON wrapper.

A journal line is one JSON object whose first member is a CRC-32 of the rest of the line::

    {"crc":"1c291ca3","gen":4,"ops":[["put","trials",{"_id":"...","status":"new"}]]}

``crc`` is eight lowercase hex digits, the CRC-32 (``zlib.crc32``) of the bytes after
``{"crc":"xxxxxxxx",`` up to, not including, the newline. The line stays plain JSON for
``jq`` and friends, and a reader can tell a complete, intact record from anything else: a
line cut short by a crash, a block of zeros left by a power loss, a garbled edit that
happens to parse.
"""

from __future__ import annotations

import datetime as _dt
import math
import sys
import zlib
from typing import Any

import orjson

from docstore.documents import from_ejson, to_ejson

__all__ = [
    "decode_document",
    "decode_hinted",
    "decode_value",
    "encode_document",
    "encode_value",
    "frame",
    "special_keys",
    "unframe",
]

_fromisoformat = _dt.datetime.fromisoformat


def encode_value(value: Any) -> Any:
    """``value`` as JSON-compatible relaxed Extended JSON."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return encode_document(value)
    if kind is list:
        return [encode_value(item) for item in value]
    if kind is float:
        return value if math.isfinite(value) else to_ejson(value)
    if kind is _dt.datetime and 1970 <= value.year <= 9999 and value.utcoffset() == _ZERO:
        return {"$date": value.isoformat(timespec="milliseconds")[:-6] + "Z"}
    return to_ejson(value)


_ZERO = _dt.timedelta(0)


def encode_document(document: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, item in document.items():
        kind = type(item)
        out[name] = item if kind is str or kind is int or kind is bool or item is None else encode_value(item)
    return out


def _is_special(value: Any) -> bool:
    """Whether ``value`` holds anything that Extended JSON must wrap."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return False
    if kind is float:
        return not math.isfinite(value)
    if kind is dict:
        return any(_is_special(item) for item in value.values())
    if kind is list:
        return any(_is_special(item) for item in value)
    return True


def special_keys(document: dict[str, Any]) -> list[str]:
    """The top-level fields of ``document`` whose values hold Extended JSON once encoded."""
    return [name for name, value in document.items() if _is_special(value)]


def decode_value(value: Any) -> Any:
    """The stored value of relaxed (or canonical) Extended JSON."""
    kind = type(value)
    if kind is dict:
        if value and next(iter(value)).startswith("$"):
            return _decode_wrapper(value)
        return decode_document(value)
    if kind is list:
        return [decode_value(item) if type(item) in (dict, list) else item for item in value]
    return value


def decode_document(document: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, item in document.items():
        kind = type(item)
        out[name] = decode_value(item) if kind is dict or kind is list else item
    return out


def _decode_wrapper(value: dict[str, Any]) -> Any:
    date = value.get("$date")
    # The form this engine writes: "YYYY-MM-DDTHH:MM:SS.mmmZ", already canonical once parsed.
    if type(date) is str and len(value) == 1 and len(date) == 24 and date[-1] == "Z":
        return _parse_utc(date)
    return from_ejson(value)


def decode_hinted(documents: list[dict[str, Any]], hinted: tuple[str, ...]) -> None:
    """Decode, in place, only the fields a snapshot lists as holding Extended JSON.

    Cold open decodes 100,000 documents; walking every value of every document in Python
    costs several times the JSON parse itself, while the fields that hold datetimes are few
    and known when the snapshot is written. Dates in the form this engine writes take a
    fast path (one C call each).
    """
    parse = _parse_utc
    for name in hinted:
        for document in documents:
            value = document.get(name)
            if type(value) is dict:
                date = value.get("$date")
                if type(date) is str and len(date) == 24 and date[23] == "Z" and len(value) == 1:
                    document[name] = parse(date)
                else:
                    document[name] = decode_value(value)
            elif type(value) is list:
                document[name] = decode_value(value)


if sys.version_info >= (3, 11):
    _parse_utc = _fromisoformat  # reads "...Z" as UTC
else:  # pragma: no cover - Python 3.10

    def _parse_utc(text: str) -> _dt.datetime:
        return _fromisoformat(text[:-1] + "+00:00")


# ---------------------------------------------------------------- framing

_PREFIX = b'{"crc":"'
_CRC_END = 16  # len(b'{"crc":"') + 8 hex digits
_BODY = 18  # after b'",'


def frame(record: dict[str, Any]) -> bytes:
    """One journal line for ``record`` (a JSON object), newline included."""
    rest = orjson.dumps(record)[1:]  # drop the opening brace: the crc member goes first
    return b'{"crc":"%08x",' % zlib.crc32(rest) + rest + b"\n"


def unframe(line: bytes) -> dict[str, Any] | None:
    """The record of one line (without its newline), or None when it is not an intact record."""
    if len(line) <= _BODY or not line.startswith(_PREFIX) or line[_CRC_END:_BODY] != b'",':
        return None
    try:
        crc = int(line[len(_PREFIX) : _CRC_END], 16)
    except ValueError:
        return None
    if zlib.crc32(line[_BODY:]) != crc:
        return None
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return record if type(record) is dict else None
