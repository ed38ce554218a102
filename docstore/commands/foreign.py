"""What the commands show of stores written by Optuna or mlos_bench: one shape for both.

``docstore_optuna`` keeps Optuna's journal (its log of operations) and ``docstore_mlos``
keeps mlos_bench's experiments, trials and configs, each in collections of their own. The
commands read those documents through the facade, as they read Orion's: the integrations
are never imported (they need Optuna or mlos_bench, which a user inspecting a store may not
have), and nothing is unpickled (Optuna's snapshots are pickles: the journal's logs, plain
JSON, say everything). :mod:`~docstore.commands.optuna_journal` and
:mod:`~docstore.commands.mlos_store` turn the documents into :class:`ForeignExperiment` s.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import docstore

__all__ = ["OPTUNA", "MLOS", "ForeignExperiment", "ForeignTrial", "Holdings", "read_holdings"]

OPTUNA, MLOS = "optuna", "mlos_bench"


@dataclass
class ForeignTrial:
    """One trial of an Optuna study or an mlos_bench experiment, as the commands show it."""

    id: str
    """What ``docstore show`` takes: ``STUDY/NUMBER`` (Optuna), ``EXPERIMENT/TRIAL_ID`` (mlos_bench)."""
    number: int
    status: str
    """Optuna's state (COMPLETE, RUNNING, ...) or mlos_bench's status (SUCCEEDED, ...), as they name it."""
    done: bool
    """Finished with its objectives (Optuna COMPLETE, mlos_bench SUCCEEDED)."""
    pending: bool
    """Waiting or running."""
    params: dict[str, Any] = field(default_factory=dict)
    values: list[float | None] = field(default_factory=list)
    """Objective values, in the experiment's objective order."""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)
    """Everything else worth showing (attributes, intermediate values, other results, ...)."""


@dataclass
class ForeignExperiment:
    """One Optuna study or mlos_bench experiment."""

    source: str
    name: str
    ident: str
    """Optuna: ``COLLECTION:STUDY_ID``; mlos_bench: the experiment id."""
    objectives: list[str]
    directions: list[str]
    """``minimize`` / ``maximize`` per objective."""
    trials: list[ForeignTrial] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def created(self) -> dt.datetime | None:
        starts = [t.start for t in self.trials if t.start is not None]
        return min(starts) if starts else None

    def best(self) -> ForeignTrial | None:
        """The done trial with the best first objective (None with several objectives: no single best)."""
        if len(self.objectives) != 1:
            return None
        sign = -1.0 if self.directions[0] == "maximize" else 1.0
        scored = [t for t in self.trials if t.done and t.values and _finite(t.values[0])]
        return min(scored, key=lambda t: sign * float(t.values[0] or 0.0), default=None)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class Holdings:
    """The Optuna studies and mlos_bench experiments of a store, and what is wrong with their documents."""

    experiments: list[ForeignExperiment] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    """Per source, where it lives: ``{"optuna": "journal optuna_logs", ...}``."""

    def of(self, source: str) -> list[ForeignExperiment]:
        return [e for e in self.experiments if e.source == source]

    def named(self, name: str) -> ForeignExperiment | None:
        return next((e for e in self.experiments if name in (e.name, e.ident)), None)


def read_holdings(db: docstore.Database) -> Holdings:
    """Every Optuna journal and mlos_bench experiment in ``db`` (empty when it holds none)."""
    from .mlos_store import read_mlos
    from .optuna_journal import read_optuna

    holdings = Holdings()
    names = set(db.list_collection_names())
    read_optuna(db, names, holdings)
    read_mlos(db, names, holdings)
    return holdings
