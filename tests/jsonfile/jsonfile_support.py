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
