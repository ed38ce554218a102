"""docstore: hyperparameter-optimisation experiments and trials as documents.

One program, three kinds of store with identical semantics: a locked JSON file
(``study.json``, the default), MongoDB (``mongodb://``, ``mongodb+srv://``) and
mongomock (``mongomock://``, for tests). ``docstore.connect(uri)`` gives a
pymongo-shaped :class:`Database`; ``docstore.setup_storage(uri)`` the experiment/trial
protocol of Orion, Optuna and mlos_bench on top of it.
"""

from __future__ import annotations

from docstore.database import (
    Collection,
    Cursor,
    Database,
    DeleteResult,
    InsertManyResult,
    InsertOneResult,
    ReturnDocument,
    UpdateResult,
    connect,
)
from docstore.errors import (
    DocstoreError,
    DuplicateKeyError,
    EngineUnavailable,
    FailedUpdate,
    InvalidDocument,
    InvalidOperation,
    InvalidURI,
    LockAcquisitionTimeout,
    MissingArguments,
    MissingDependency,
    ReadOnlyError,
    StoreCorrupted,
    StoreFileError,
    UndefinedCall,
    UnknownScheme,
    UnsupportedQuery,
)

__version__ = "0.1.0"

__all__ = [
    "Collection",
    "Cursor",
    "Database",
    "DeleteResult",
    "DocstoreError",
    "DuplicateKeyError",
    "EngineUnavailable",
    "FailedUpdate",
    "InsertManyResult",
    "InsertOneResult",
    "InvalidDocument",
    "InvalidOperation",
    "InvalidURI",
    "LockAcquisitionTimeout",
    "MissingArguments",
    "MissingDependency",
    "ReadOnlyError",
    "ReturnDocument",
    "StoreCorrupted",
    "StoreFileError",
    "UndefinedCall",
    "UnknownScheme",
    "UnsupportedQuery",
    "UpdateResult",
    "__version__",
    "connect",
]

# The storage protocol (docstore.storage), on top of the facade above.
from docstore.storage import (
    Experiment,
    ExperimentConflict,
    LockedAlgorithmState,
    ReadOnlyStorage,
    Storage,
    TooManyBroken,
    Trial,
    WorkerReport,
    run_worker,
    setup_storage,
)

__all__ += [
    "Experiment",
    "ExperimentConflict",
    "LockedAlgorithmState",
    "ReadOnlyStorage",
    "Storage",
    "TooManyBroken",
    "Trial",
    "WorkerReport",
    "run_worker",
    "setup_storage",
]
