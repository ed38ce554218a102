"""Experiments (with their algorithm lock) and benchmarks, as Orion's storage keeps them."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, MutableMapping
from typing import Any

from docstore.errors import InvalidDocument
from docstore.storage._base import ALGO, BENCHMARKS, EXPERIMENTS, experiment_uid, scoped, set_fields
from docstore.storage.documents import Experiment
from docstore.storage.errors import UnknownExperiment
from docstore.storage.lock import AlgorithmLockMixin

__all__ = ["ExperimentsMixin"]


def _document(config: Any, what: str) -> dict[str, Any]:
    if isinstance(config, Experiment):
        return config.to_dict()
    if isinstance(config, Mapping):
        return dict(config)
    raise InvalidDocument(f"{what} needs a dict, not {type(config).__name__}")


class ExperimentsMixin(AlgorithmLockMixin):
    """Orion's experiment and benchmark methods."""

    def create_experiment(
        self, config: Any, algo_locked: int = 0, algo_state: Any = None, algo_heartbeat: _dt.datetime | None = None
    ) -> dict[str, Any]:
        """Store a new experiment and its algorithm lock (configuration: ``config["algorithm"]``).

        A second experiment with the same name and version raises DuplicateKeyError. A
        ``config`` dict gets its new ``_id``, as in Orion; the stored document is returned.
        If the lock cannot be written, the experiment is removed again.
        """
        document = _document(config, "create_experiment")
        if self.strict and not (isinstance(document.get("name"), str) and document["name"]):
            raise InvalidDocument("an experiment needs a name (a non-empty string)", path="name")
        experiments = self._coll(EXPERIMENTS)
        lock = self._lock_document("pending", document.get("algorithm", {}), algo_locked, algo_state, algo_heartbeat)
        uid = experiments.insert_one(document).inserted_id
        try:
            self._coll(ALGO).insert_one({**lock, "experiment": uid})
        except BaseException:
            experiments.delete_one({"_id": uid})
            raise
        self._remember(uid)
        if isinstance(config, MutableMapping):
            config.setdefault("_id", uid)
        return document

    def fetch_experiments(
        self,
        query: Mapping[str, Any],
        selection: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Experiment documents matching ``query``, with the fields in ``selection`` (a projection)."""
        return self._coll(EXPERIMENTS).find(query, projection=selection).to_list()

    def update_experiment(
        self, experiment: Any = None, uid: Any = None, where: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> bool:
        """Set fields of the experiment if it matches ``where``; True if it matched."""
        exp = experiment_uid(experiment, uid)
        matched = self._coll(EXPERIMENTS).update_one(scoped(where, _id=exp), set_fields(kwargs, "update_experiment"))
        if not matched.matched_count:
            self._require_experiment(exp)
        return matched.matched_count > 0

    def delete_experiment(self, experiment: Any = None, uid: Any = None) -> int:
        """Delete the experiment document (not its trials nor its lock, as in Orion); returns 0 or 1."""
        exp = experiment_uid(experiment, uid)
        deleted = self._coll(EXPERIMENTS).delete_one({"_id": exp}).deleted_count
        self._remember(exp, known=False)
        if not deleted and self.strict:
            raise UnknownExperiment(f"no experiment has _id {exp!r}", uid=exp)
        return deleted

    def create_benchmark(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Store a benchmark (unique by name); a ``config`` dict gets its ``_id``."""
        document = _document(config, "create_benchmark")
        uid = self._coll(BENCHMARKS).insert_one(document).inserted_id
        if isinstance(config, MutableMapping):
            config.setdefault("_id", uid)
        return document

    def fetch_benchmark(
        self,
        query: Mapping[str, Any],
        selection: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        return self._coll(BENCHMARKS).find(query, projection=selection).to_list()

    def delete_benchmark(self, query: Mapping[str, Any]) -> int:
        return self._coll(BENCHMARKS).delete_many(query).deleted_count
