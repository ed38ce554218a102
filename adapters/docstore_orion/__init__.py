"""docstore for Orion: its Legacy storage on any docstore engine, a native storage, a migration.

* :class:`DocstoreDB`, an Orion ``Database``: ``storage: {type: legacy, database: {type:
  docstoredb, host: study.json}}`` runs Orion's own Legacy storage on a locked JSON file,
  MongoDB or mongomock.
* :class:`Docstore`, an Orion ``BaseStorageProtocol``: ``storage: {type: docstore,
  database: {host: mongodb://...}}`` hands every call to :mod:`docstore.storage`, whose
  algorithm lock has a lease (a lock held by a dead worker is taken over).
* :func:`import_pickleddb` copies an Orion PickledDB (``orion_db.pkl``) into a docstore store.

Orion finds both classes through the ``Database`` and ``BaseStorageProtocol`` entry-point
groups, so a configuration file is all a user needs. See ``docs/orion.md``.
"""

from __future__ import annotations

try:
    import orion.core  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    from docstore.errors import MissingDependency

    raise MissingDependency(
        "docstore_orion needs Orion 0.2.7: from a docstore clone, uv pip install -e '.[orion]' "
        "(pip 26.3 and later refuse Orion 0.2.7; see docs/orion.md)",
        package="docstore[orion]",
    ) from exc

from docstore_orion.database import DocstoreDB
from docstore_orion.migrate import ImportReport, import_pickleddb
from docstore_orion.storage import Docstore

__all__ = ["Docstore", "DocstoreDB", "ImportReport", "import_pickleddb"]
