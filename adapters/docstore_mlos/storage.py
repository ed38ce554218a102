"""``DocstoreStorage``: mlos_bench's ``Storage`` on a docstore store (JSON file, MongoDB, mongomock)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal

from mlos_bench.services.base_service import Service
from mlos_bench.storage.base_experiment_data import ExperimentData as BaseExperimentData
from mlos_bench.storage.base_storage import Storage
from mlos_bench.tunables.tunable_groups import TunableGroups

import docstore
from docstore.uri import redact
from docstore_mlos._common import CONFIGS, EXPERIMENTS, TELEMETRY, TRIALS
from docstore_mlos.data import ExperimentData
from docstore_mlos.experiment import DocstoreExperiment
from docstore_mlos.trial import DocstoreTrial

_LOG = logging.getLogger(__name__)

__all__ = ["DocstoreStorage"]


class DocstoreStorage(Storage):
    """mlos_bench storage on docstore.

    Config: ``{"uri": "study.json"}`` (any docstore URI: a JSON file path, ``mongodb://...``,
    ``mongomock://name``, ``memory://``) and optionally ``"options"``: keyword options for
    :func:`docstore.connect` (for instance ``{"lock_timeout": 60}``).
    """

    # as in mlos_bench's layout, the storage names its experiment and trial classes
    # (mlos_bench declares them as nested abstract classes; ours are subclasses defined in their modules)
    Experiment = DocstoreExperiment  # type: ignore[assignment]
    Trial = DocstoreTrial  # type: ignore[assignment]

    def __init__(
        self,
        config: dict[str, Any],
        global_config: dict[str, Any] | None = None,
        service: Service | None = None,
    ) -> None:
        super().__init__(config, global_config, service)
        self._uri: str = self._config["uri"]
        self._options: dict[str, Any] = dict(self._config.get("options") or {})
        self._db: docstore.Database | None = None
        _LOG.info("Connect to the store: %s", self)
        self.update_schema()

    def _validate_json_config(self, config: dict[str, Any]) -> None:
        # mlos_bench's storage schema lists only SqlStorage: check our own (small) config here.
        if not isinstance(config, Mapping) or not isinstance(config.get("uri"), str) or not config["uri"]:
            raise ValueError(f"DocstoreStorage needs a config with a non-empty 'uri' string, got {config!r}")
        unknown = set(config) - {"uri", "options"}
        if unknown:
            raise ValueError(f"DocstoreStorage: unknown config keys {sorted(unknown)}")
        if not isinstance(config.get("options") or {}, Mapping):
            raise TypeError("DocstoreStorage: 'options' must be a dict")

    # -- connection --------------------------------------------------------------
    @property
    def db(self) -> docstore.Database:
        """The open store (reconnects after :meth:`dispose` or unpickling)."""
        if self._db is None:
            self._db = docstore.connect(self._uri, **self._options)
            self._create_indexes(self._db)
        return self._db

    @staticmethod
    def _create_indexes(db: docstore.Database) -> None:
        db[CONFIGS].create_index([("hash", 1)], unique=True, name="hash_unique")
        db[TRIALS].create_index([("exp_id", 1), ("trial_id", 1)], unique=True, name="exp_trial_unique")
        db[TELEMETRY].create_index([("exp_id", 1), ("trial_id", 1)], name="exp_trial")

    def update_schema(self) -> None:
        """Nothing to migrate: documents carry their own fields; only the indexes are (idempotently) created."""
        assert self.db is not None

    def dispose(self) -> None:
        """Close the connection; the storage reconnects when used again."""
        if self._db is not None:
            self._db.close()
            self._db = None
            _LOG.info("Closed the store: %s", self)

    def __enter__(self) -> DocstoreStorage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> Literal[False]:
        self.dispose()
        return False

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_db"] = None  # keep the URI, reconnect on first use
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"docstore:{redact(self._uri)}"

    # -- experiments -------------------------------------------------------------
    @property
    def experiments(self) -> dict[str, BaseExperimentData]:
        return {
            doc["_id"]: ExperimentData(storage=self, document=doc)
            for doc in self.db[EXPERIMENTS].find({}, sort=[("_id", 1)])
        }

    def experiment(
        self,
        *,
        experiment_id: str,
        trial_id: int,
        root_env_config: str,
        description: str,
        tunables: TunableGroups,
        opt_targets: dict[str, Literal["min", "max"]],
    ) -> Storage.Experiment:
        return DocstoreExperiment(
            storage=self,
            tunables=tunables,
            experiment_id=experiment_id,
            trial_id=trial_id,
            root_env_config=root_env_config,
            description=description,
            opt_targets=opt_targets,
        )

    def get_experiment_by_id(
        self,
        experiment_id: str,
        tunables: TunableGroups,
        opt_targets: dict[str, Literal["min", "max"]],
    ) -> Storage.Experiment | None:
        doc = self.db[EXPERIMENTS].find_one({"_id": experiment_id})
        if doc is None:
            return None
        return DocstoreExperiment(
            storage=self,
            tunables=tunables,
            experiment_id=experiment_id,
            trial_id=-1,  # read from the store by _setup()
            root_env_config=doc.get("root_env_config") or "",
            description=doc.get("description") or "",
            opt_targets=opt_targets,
            git_info=(doc.get("git_repo") or "", doc.get("git_commit") or ""),
        )
