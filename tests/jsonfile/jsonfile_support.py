"""Helpers for the JSON engine's tests (a module of its own: ``conftest`` names are ambiguous)."""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import orjson


def store_files(path: str) -> dict[str, bytes]:
    """Every file of the store at ``path`` (lock file excepted), by name, with its bytes."""
    folder = os.path.dirname(path)
    return {
        name: Path(folder, name).read_bytes()
        for name in sorted(os.listdir(folder))
        if name.startswith(os.path.basename(path)) and not name.endswith(".lock")
    }


def journal_lines(path: str) -> list[bytes]:
    return Path(path + ".journal").read_bytes().splitlines(keepends=True)


def framed(record: dict[str, Any]) -> bytes:
    """A journal line for ``record``, framed as the engine frames it (written independently here)."""
    body = orjson.dumps(record)[1:]
    return b'{"crc":"' + f"{zlib.crc32(body):08x}".encode() + b'",' + body + b"\n"


LEGACY = Path(__file__).parent / "legacy"
"""A store written by the previous release (snapshot version 1, journal version 2), byte for byte."""


def copy_legacy_store(path: str) -> None:
    """The previous release's store (see LEGACY) at ``path``: experiment e1, trials t0, t1, t2, t4."""
    for suffix in ("", ".journal"):
        Path(path + suffix).write_bytes((LEGACY / ("study.json" + suffix)).read_bytes())


def write_version_1_store(path: str, operations: list[list[Any]], generation: int = 3) -> None:
    """A store as the first release wrote it: snapshot version 1 (no checksum), journal version 1."""
    meta = {"format": "docstore-jsonfile", "version": 1, "generation": generation, "collections": {}}
    Path(path).write_bytes(b'{"_docstore_meta":{"1":%b}}\n' % orjson.dumps(meta))
    header = framed({"gen": generation, "journal": "docstore-jsonfile", "version": 1})
    lines = [framed({"gen": generation, "ops": [operation]}) for operation in operations]
    Path(path + ".journal").write_bytes(header + b"".join(lines))
