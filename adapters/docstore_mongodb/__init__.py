"""docstore's MongoDB engines: ``mongodb://`` / ``mongodb+srv://`` through pymongo, and ``mongomock://``.

``MongoEngine`` needs pymongo (``pip install "docstore[mongodb]"``); ``MongomockEngine``
needs mongomock too (``pip install "docstore[mongomock]"``), imported only when a
``mongomock://`` store is opened.
"""

from __future__ import annotations

from docstore_mongodb.engine import MongoEngine
from docstore_mongodb.errors import MongoError
from docstore_mongodb.mock import MongomockEngine

__all__ = ["MongoEngine", "MongoError", "MongomockEngine"]
