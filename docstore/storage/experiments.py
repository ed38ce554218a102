"""Experiments (with their algorithm lock) and benchmarks, as Orion's storage keeps them."""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal

from docstore.documents import canonical, now
from docstore.errors import DuplicateKeyError, InvalidDocument
from docstore.storage._base import ALGO, BENCHMARKS, EXPERIMENTS, experiment_uid, scoped, set_fields
from docstore.storage.documents import Experiment
from docstore.storage.errors import ExperimentConflict, UnknownExperiment
from docstore.storage.lock import AlgorithmLockMixin

__all__ = ["ExperimentsMixin"]

_NOT_COMPARED = frozenset({"_id", "name", "version", "metadata", "refers"})
"""Fields get_or_create_experiment does not compare: identity and bookkeeping, not configuration."""
_CREATE_ATTEMPTS = 20


def _document(config: Any, what: str) -> dict[str, Any]:
    if isinstance(config, Experiment):
        return config.to_dict()
    if isinstance(config, Mapping):
        return dict(config)
    raise InvalidDocument(f"{what} needs a dict, not {type(config).__name__}")


def _same(a: Any, b: Any) -> bool:
    """Equal as stored values: dicts whatever their key order, NaN equal to NaN, 1 equal to 1.0."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, bool) is not isinstance(b, bool):
        return False  # True == 1 in Python, not in a store
    return bool(a == b)


def _differences(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> tuple[str, ...]:
    """The fields ``wanted`` sets to something else than ``stored`` holds."""
    return tuple(sorted(key for key in wanted if key not in _NOT_COMPARED and not _same(stored.get(key), wanted[key])))


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

    def get_or_create_experiment(
        self, config: Any, *, if_differs: Literal["raise", "new_version"] = "raise"
    ) -> dict[str, Any]:
        """The experiment named ``config["name"]``: the stored one if its configuration matches, else a new one.

        Without ``config["version"]``, the latest version is taken (version 1 is created
        when there is none); with it, that version. A stored experiment whose fields
        differ from the ones ``config`` gives (``metadata``, ``refers``, ``_id`` aside)
        raises :class:`ExperimentConflict` naming them, or, with
        ``if_differs="new_version"`` and no version given, a new version is created
        with ``refers.parent_id`` pointing at the one it replaces (as Orion branches).
        A new experiment gets ``metadata.datetime``. Processes calling this at the same
        moment get the same experiment: the unique ``(name, version)`` index lets one
        create it, and the others read it back and compare it as above.
        """
        wanted = canonical(_document(config, "get_or_create_experiment"))
        name, version = wanted.get("name"), wanted.get("version")
        if not (isinstance(name, str) and name):
            raise InvalidDocument("an experiment needs a name (a non-empty string)", path="name")
        if if_differs not in ("raise", "new_version"):
            raise ValueError(f"if_differs must be 'raise' or 'new_version', not {if_differs!r}")
        experiments = self._coll(EXPERIMENTS)
        where = {"name": name} if version is None else {"name": name, "version": version}
        for _attempt in range(_CREATE_ATTEMPTS):
            stored = experiments.find_one(where, sort=[("version", -1)])
            if stored is not None:
                changed = _differences(stored, wanted)
                if not changed:
                    self._remember(stored["_id"])
                    return stored
                if if_differs == "raise" or version is not None:
                    raise ExperimentConflict(
                        f"experiment {name!r} version {stored.get('version')} is stored with another "
                        f"{', '.join(changed)}; give a new name or version, or pass if_differs='new_version'",
                        name=name,
                        version=stored.get("version"),
                        fields=changed,
                    )
            try:
                return self.create_experiment(self._new_version(wanted, stored))
            except DuplicateKeyError:
                continue  # another process created this version a moment ago: read it and compare
        raise DuplicateKeyError(
            f"could not create experiment {name!r}: other processes keep creating new versions of it",
            collection=EXPERIMENTS,
        )

    @staticmethod
    def _new_version(wanted: dict[str, Any], parent: Mapping[str, Any] | None) -> dict[str, Any]:
        document = {key: value for key, value in wanted.items() if key != "_id"}
        metadata = wanted.get("metadata")
        if metadata is None or isinstance(metadata, dict):
            document["metadata"] = {"datetime": now(), **(metadata or {})}
        if parent is None:
            document.setdefault("version", 1)
            return document
        document["version"] = int(parent.get("version") or 1) + 1
        root = (parent.get("refers") or {}).get("root_id") or parent["_id"]
        document["refers"] = {"parent_id": parent["_id"], "root_id": root, "adapter": []}
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
