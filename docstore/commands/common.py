"""What every command shares: the default store, opening it, errors, output formats, trial fields."""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

import orjson
from rich.console import Console

import docstore
from docstore.documents import to_ejson
from docstore.errors import DocstoreError
from docstore.storage import DEFAULT_URI
from docstore.uri import parse_uri, redact

from .terminal import json_safe, printable

__all__ = [
    "DEFAULT_URI",
    "URI_ENV",
    "CliError",
    "describe_uri",
    "ejson_line",
    "make_console",
    "find_experiment",
    "format_number",
    "format_time",
    "objective_of",
    "open_store",
    "params_of",
    "resolve_uri",
    "uri_option",
    "write_csv",
    "write_json",
]

URI_ENV = "DOCSTORE_URI"

EXPERIMENTS = "experiments"
TRIALS = "trials"


class CliError(DocstoreError):
    """Bad input to a command (unknown experiment, bad --where, ...): one line on stderr, exit 2."""


def resolve_uri(given: str | None) -> str:
    """The store to use: ``--uri``, else ``$DOCSTORE_URI``, else ``./docstore.json`` (``--uri ''`` is an error)."""
    if given is not None:
        if not given.strip():
            raise CliError("--uri is empty: name a store, such as study.json or mongodb://host/db")
        return given
    return os.environ.get(URI_ENV) or DEFAULT_URI


def uri_option(uri: str) -> str:
    """`` --uri URI`` to repeat in a suggested command, or "" for the default store."""
    if uri == DEFAULT_URI and not os.environ.get(URI_ENV):
        return ""
    return f" --uri {redact(uri)}"


def describe_uri(uri: str) -> str:
    """Where the data is, for people: an absolute path for a file, else the URI, password redacted."""
    parsed = parse_uri(uri)
    if parsed.scheme == "json" and "://" not in uri:
        return os.path.abspath(uri)
    return redact(uri)


def _is_missing_file(uri: str) -> bool:
    parsed = parse_uri(uri)
    if parsed.scheme != "json":
        return False
    path = parsed.location if "://" in uri else uri.partition("?")[0]  # study.json?durable=false
    return bool(path) and not os.path.exists(path)


def open_store(uri: str, *, must_exist: bool = True) -> docstore.Database:
    """Open ``uri``; a read-only command on a JSON file that is not there is an error, not a new file."""
    if must_exist and _is_missing_file(uri):
        raise CliError(f"no store at {describe_uri(uri)} (run `docstore demo` to create one, or pass --uri)")
    return docstore.connect(uri)


# ---------------------------------------------------------------- trial documents


def params_of(trial: Mapping[str, Any]) -> dict[str, Any]:
    """``{name: value}`` from Orion's ``params: [{name, type, value}]``."""
    return {p.get("name", "?"): p.get("value") for p in trial.get("params") or [] if isinstance(p, Mapping)}


def objective_of(trial: Mapping[str, Any]) -> float | None:
    """The value of the result of type ``objective``, if the trial has one."""
    for result in trial.get("results") or []:
        if isinstance(result, Mapping) and result.get("type") == "objective":
            value = result.get("value")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
    return None


def find_experiment(db: docstore.Database, name: str, version: int | None = None) -> dict[str, Any]:
    """The experiment called ``name`` (its latest version unless ``version``), or with ``_id`` ``name``."""
    experiments = db[EXPERIMENTS]
    where: dict[str, Any] = {"name": name} if version is None else {"name": name, "version": version}
    found = experiments.find_one(where, sort=[("version", -1)])
    if found is None and version is None:
        found = experiments.find_one({"_id": name})
    if found is not None:
        return found
    known = sorted({str(e.get("name")) for e in experiments.find({}, projection={"name": 1})})
    which = f"{name!r}" if version is None else f"{name!r} version {version}"
    hint = f"; experiments: {', '.join(known)}" if known else "; the store has no experiment"
    raise CliError(f"no experiment {which} in {describe_uri(db.uri)}{hint}")


# ---------------------------------------------------------------- formatting


def make_console(*, stderr: bool = False) -> Console:
    """A rich console; wide when writing to a file or a pipe, so tables keep whole ids."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or os.environ.get("COLUMNS") else 160
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=True)


def format_time(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"
    return "" if value is None else str(value)


def format_number(value: Any, digits: int = 6) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.{digits}g}"
    return "" if value is None else str(value)


def ejson_line(document: Any) -> bytes:
    """One document as relaxed Extended JSON on one line (no newline), control characters escaped (\\u001b)."""
    return json_safe(orjson.dumps(to_ejson(document)))


def write_json(documents: Sequence[Any], *, lines: bool = False, out: IO[str] | None = None) -> None:
    """Extended JSON documents for scripts and ``jq``: an indented array, or one document per line."""
    stream = out or sys.stdout
    if lines:
        for document in documents:
            stream.write(ejson_line(document).decode() + "\n")
    else:
        text = json_safe(orjson.dumps([to_ejson(d) for d in documents], option=orjson.OPT_INDENT_2))
        stream.write(text.decode() + "\n")
    stream.flush()


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """CSV on stdout; on a terminal, control characters in the values are shown escaped (a file gets them as stored)."""
    shown = printable if sys.stdout.isatty() else None
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([shown(h) for h in header] if shown else header)
    for row in rows:
        values = [_iso(v) if isinstance(v, dt.datetime) else v for v in row]
        writer.writerow([shown(v) if shown and isinstance(v, str) else v for v in values])
    sys.stdout.flush()
