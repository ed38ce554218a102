"""Optuna on docstore: Optuna's journal storage kept as documents in any docstore engine.

``docstore_optuna.storage(uri)`` is an :class:`optuna.storages.JournalStorage` over a
locked JSON file (``study.json``), MongoDB (``mongodb://...``), ``memory://`` or
``mongomock://NAME``::

    import optuna, docstore_optuna

    study = optuna.create_study(storage=docstore_optuna.storage("study.json"), study_name="demo")
    study.optimize(objective, n_trials=100)

Many processes may optimise the same study on one JSON file or one MongoDB database.
``docstore_optuna.dashboard.serve(uri)`` shows it in optuna-dashboard.
"""

from __future__ import annotations

from docstore_optuna.backend import DocstoreJournalBackend, storage

__all__ = ["DocstoreJournalBackend", "storage"]
