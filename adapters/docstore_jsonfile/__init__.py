"""docstore's locked JSON file engine (``study.json``, ``json://``) and its in-memory twin (``memory://``).

The file layout (``study.json`` snapshot in TinyDB's format, which is also the store's lock,
``study.json.journal`` of CRC-framed, numbered effect lines, and the empty
``study.json.users``) is described in :mod:`.snapshot`, :mod:`.journal` and :mod:`.locks`,
and in docs/jsonfile-format.md; how a write travels through them, in :mod:`.jsonfile`.
"""

from __future__ import annotations

from docstore_jsonfile.engine import MemoryEngine
from docstore_jsonfile.jsonfile import JsonFileEngine

__all__ = ["JsonFileEngine", "MemoryEngine"]
