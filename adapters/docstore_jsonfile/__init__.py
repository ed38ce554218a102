"""docstore's locked JSON file engine (``study.json``, ``json://``) and its in-memory twin (``memory://``).

The file layout (``study.json`` snapshot in TinyDB's format, ``study.json.journal`` of
CRC-framed effect lines, ``study.json.lock``) is described in :mod:`.snapshot` and
:mod:`.journal`; how a write travels through them, in :mod:`.jsonfile`.
"""

from __future__ import annotations

from docstore_jsonfile.engine import MemoryEngine
from docstore_jsonfile.jsonfile import JsonFileEngine

__all__ = ["JsonFileEngine", "MemoryEngine"]
