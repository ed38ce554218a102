"""The experiment/trial storage protocol of Orion, written once over :mod:`docstore.database`.

``setup_storage(uri)`` opens a :class:`Storage` on any engine (a JSON file, MongoDB,
mongomock, memory); every method behaves the same on each. It keeps Orion's
``BaseStorageProtocol`` names, arguments and meanings (``reserve_trial``,
``set_trial_status(trial, status, was=...)``, ``acquire_algorithm_lock``, ...) and
Orion's document layout and collection names (``experiments``, ``trials``,
``benchmarks``, ``algo``), and adds a lease to the algorithm lock. On top of the
protocol: ``Storage.get_or_create_experiment`` (resume an experiment by name) and
:func:`run_worker` (a worker's loop, with a heartbeat thread). This package reaches
engines only through the facade: it never imports an engine, pymongo or filelock.
"""

from __future__ import annotations

from docstore.storage.documents import Experiment, Trial, Values, trial_hash
from docstore.storage.errors import (
    ConflictingArguments,
    ExperimentConflict,
    InvalidTransition,
    TooManyBroken,
    UnknownExperiment,
    UnknownStatus,
)
from docstore.storage.lock import LockedAlgorithmState
from docstore.storage.protocol import DEFAULT_URI, Storage, setup_storage
from docstore.storage.readonly import READ_METHODS, ReadOnlyStorage
from docstore.storage.status import ENDED, PENDING, STATUSES, TRANSITIONS
from docstore.storage.worker import Pacemaker, WorkerReport, release_lost_trials, run_worker

__all__ = [
    "DEFAULT_URI",
    "ENDED",
    "PENDING",
    "READ_METHODS",
    "STATUSES",
    "TRANSITIONS",
    "ConflictingArguments",
    "Experiment",
    "ExperimentConflict",
    "InvalidTransition",
    "LockedAlgorithmState",
    "Pacemaker",
    "ReadOnlyStorage",
    "Storage",
    "TooManyBroken",
    "Trial",
    "UnknownExperiment",
    "UnknownStatus",
    "Values",
    "WorkerReport",
    "release_lost_trials",
    "run_worker",
    "setup_storage",
    "trial_hash",
]
