"""Parse and redact store URIs.

Accepts Orion's format ``protocol://[user:pass@]host1[:port1][,...hostN[:portN]][/db][?options]``
and plain file paths (``study.json``, ``/abs/study.json``), which mean the JSON engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from docstore.errors import InvalidURI

__all__ = ["ParsedURI", "parse_uri", "redact"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")


@dataclass(frozen=True)
class ParsedURI:
    """A store URI, split. ``raw`` keeps the original (with its password: never print it)."""

    scheme: str
    raw: str
    username: str | None = None
    password: str | None = None
    hosts: tuple[tuple[str, int | None], ...] = ()
    path: str = ""
    options: dict[str, str] = field(default_factory=dict)

    @property
    def redacted(self) -> str:
        return redact(self.raw)

    @property
    def location(self) -> str:
        """Everything between ``scheme://`` and ``?``: for file engines, the path."""
        if "://" not in self.raw:
            return self.path
        return unquote(self.raw.split("://", 1)[1].split("?", 1)[0])

    @property
    def database(self) -> str:
        """The path without its leading slash (MongoDB's database name)."""
        return self.path.lstrip("/")

    def option_bool(self, name: str, default: bool) -> bool:
        value = self.options.get(name)
        if value is None:
            return default
        return value.strip().lower() not in ("0", "false", "no", "off")

    def __repr__(self) -> str:
        return f"ParsedURI({self.redacted!r})"


def redact(uri: str) -> str:
    """``uri`` with any password replaced by ``***``."""
    match = _SCHEME.match(uri)
    if not match:
        return uri
    head, rest = uri[: match.end()], uri[match.end() :]
    at = rest.rfind("@", 0, _authority_end(rest))
    if at < 0:
        return uri
    userinfo = rest[:at]
    if ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    return head + userinfo + rest[at:]


def _authority_end(rest: str) -> int:
    """Index where the authority part ends (first '/' or '?' after the last '@')."""
    at = rest.rfind("@")
    start = at + 1 if at >= 0 else 0
    ends = [i for i in (rest.find("/", start), rest.find("?", start)) if i >= 0]
    return min(ends) if ends else len(rest)


def parse_uri(uri: str) -> ParsedURI:
    """Split ``uri``; a string without ``scheme://`` is a path to a JSON file."""
    match = _SCHEME.match(uri)
    if not match:
        return ParsedURI(scheme="json", raw=uri, path=uri)
    scheme = match.group(1).lower()
    rest = uri[match.end() :]
    rest, _, query = rest.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True))
    end = _authority_end(rest)
    authority, path = rest[:end], rest[end:]
    username = password = None
    if "@" in authority:
        userinfo, authority = authority.rsplit("@", 1)
        user, sep, pw = userinfo.partition(":")
        username = unquote(user)
        password = unquote(pw) if sep else None
    hosts: list[tuple[str, int | None]] = []
    for item in filter(None, authority.split(",")):
        try:
            hosts.append(_split_host(item))
        except InvalidURI as exc:  # say which URI, password redacted
            raise InvalidURI(f"{exc} in {redact(uri)!r}", uri=redact(uri)) from None
    return ParsedURI(
        scheme=scheme,
        raw=uri,
        username=username,
        password=password,
        hosts=tuple(hosts),
        path=unquote(path),
        options=options,
    )


def _split_host(item: str) -> tuple[str, int | None]:
    if item.startswith("["):  # IPv6 literal
        host, _, tail = item[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port = item.partition(":")
    if port and not port.isdigit():
        raise InvalidURI(f"bad port {port!r} in host {item!r}")
    return host, int(port) if port else None
