"""The engine's options, from the URI query (``study.json?durable=false``) and keyword arguments."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from docstore.errors import InvalidURI

__all__ = ["Options", "parse_options"]


@dataclass(frozen=True)
class Options:
    durable: bool = True
    """fdatasync the journal before acknowledging a write (false: flush to the OS only)."""
    lock_timeout: float | None = 30.0
    """Seconds to wait for the store's lock (None: forever)."""
    read_only: bool = False
    compact_ratio: float = 2.0
    """Compact when the journal exceeds this multiple of the snapshot's size ..."""
    compact_min_bytes: int = 1 << 20
    """... and this many bytes."""
    compact_on_close: bool = True
    """Fold the journal into the snapshot when the last engine with the store open (``study.json.users``)
    closes, or its process exits, if anyone wrote meanwhile: after a run, ``study.json`` alone is the store."""
    file_mode: int | None = None
    """The mode of a new store's files (``file_mode=0640``). None: 0600, or 0660 narrowed by the umask in a
    setgid folder (one meant to be shared by its group). Rewritten files always keep their previous mode."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _boolean(name: str, value: Any, uri: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidURI(f"option {name}={value!r} must be true or false", uri=uri)


def _number(name: str, value: Any, uri: str, *, allow_none: bool = False) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "")):
        if allow_none:
            return None
        raise InvalidURI(f"option {name} needs a number", uri=uri)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidURI(f"option {name}={value!r} is not a number", uri=uri) from None
    if math.isnan(number) or number < 0:
        raise InvalidURI(f"option {name}={value!r} must be a number >= 0", uri=uri)
    if math.isinf(number):
        return None if allow_none else number
    return number


def _mode(value: Any, uri: str) -> int | None:
    """A file mode: an int, or octal digits as in ``chmod`` (``"0640"``, ``"640"``)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidURI(f"option file_mode={value!r} must be octal digits such as 0640", uri=uri)
    try:
        mode = value if isinstance(value, int) else int(value.strip().removeprefix("0o"), 8)
    except ValueError:
        raise InvalidURI(f"option file_mode={value!r} must be octal digits such as 0640", uri=uri) from None
    if not 0 <= mode <= 0o777 or not mode & 0o600 == 0o600:
        raise InvalidURI(f"option file_mode={value!r} must give its owner read and write (0600 to 0777)", uri=uri)
    return mode


def parse_options(from_uri: Mapping[str, str], given: Mapping[str, Any], *, uri: str) -> Options:
    """Options from the URI, overridden by keyword arguments. Unknown names are an error (typos)."""
    merged = {**from_uri, **given}
    known = Options.__dataclass_fields__
    unknown = sorted(set(merged) - set(known))
    if unknown:
        raise InvalidURI(
            f"unknown option(s) {', '.join(unknown)} for the JSON engine; known: {', '.join(known)}", uri=uri
        )
    values: dict[str, Any] = {}
    for name, value in merged.items():
        if name in ("durable", "read_only", "compact_on_close"):
            values[name] = _boolean(name, value, uri)
        elif name == "lock_timeout":
            values[name] = _number(name, value, uri, allow_none=True)
        elif name == "compact_min_bytes":
            values[name] = int(_number(name, value, uri) or 0)
        elif name == "file_mode":
            values[name] = _mode(value, uri)
        else:
            values[name] = _number(name, value, uri)
    return Options(**values)
