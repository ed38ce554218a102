"""``DocstoreStorage``: mlos_bench's ``Storage`` on a docstore store (JSON file, MongoDB, mongomock)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Literal

import pytz
from mlos_bench.environments.status import Status
from mlos_bench.services.base_service import Service
from mlos_bench.storage.base_experiment_data import ExperimentData as BaseExperimentData
from mlos_bench.storage.base_storage import Storage
from mlos_bench.tunables.tunable_groups import TunableGroups

import docstore
from docstore.uri import redact
from docstore_mlos._common import (
    CONFIG_COUNTER_ID,
    CONFIGS,
    EXPERIMENTS,
    FINAL_STATUSES,
    HAS_TRIAL_RUNNERS,
    TELEMETRY,
    TRIALS,
    from_micros,
    native,
    pairs,
    text_dict,
    to_micros,
    to_utc,
)
from docstore_mlos.data import ExperimentData

_LOG = logging.getLogger(__name__)

__all__ = ["DocstoreStorage"]


class DocstoreStorage(Storage):
    """mlos_bench storage on docstore.

    Config: ``{"uri": "study.json"}`` (any docstore URI: a JSON file path, ``mongodb://...``,
    ``mongomock://name``, ``memory://``) and optionally ``"options"``: keyword options for
    :func:`docstore.connect` (for instance ``{"lock_timeout": 60}``).
    """

    def __init__(
        self,
        config: dict[str, Any],
        global_config: dict | None = None,
        service: Service | None = None,
    ) -> None:
        super().__init__(config, global_config, service)
        self._uri: str = self._config["uri"]
        self._options: dict[str, Any] = dict(self._config.get("options") or {})
        self._db: docstore.Database | None = None
        _LOG.info("Connect to the store: %s", self)
        self.update_schema()

    def _validate_json_config(self, config: dict) -> None:
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
        return DocstoreStorage.Experiment(
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
        return DocstoreStorage.Experiment(
            storage=self,
            tunables=tunables,
            experiment_id=experiment_id,
            trial_id=-1,  # read from the store by _setup()
            root_env_config=doc.get("root_env_config") or "",
            description=doc.get("description") or "",
            opt_targets=opt_targets,
            git_info=(doc.get("git_repo") or "", doc.get("git_commit") or ""),
        )

    class Experiment(Storage.Experiment):
        """One experiment: trial ids come from a compare-and-set counter on its document."""

        def __init__(
            self,
            *,
            storage: DocstoreStorage,
            tunables: TunableGroups,
            experiment_id: str,
            trial_id: int,
            root_env_config: str,
            description: str,
            opt_targets: dict[str, Literal["min", "max"]],
            git_info: tuple[str, str] | None = None,
        ) -> None:
            if git_info is None:
                super().__init__(
                    tunables=tunables,
                    experiment_id=experiment_id,
                    trial_id=trial_id,
                    root_env_config=root_env_config,
                    description=description,
                    opt_targets=opt_targets,
                )
            else:  # a stored experiment: its git origin is known, do not ask git again
                self._tunables = tunables.copy()
                self._trial_id = trial_id
                self._experiment_id = experiment_id
                self._git_repo, self._git_commit = git_info
                self._root_env_config = root_env_config
                self._description = description
                self._opt_targets = opt_targets
                self._in_context = False
            self._storage = storage

        @property
        def _db(self) -> docstore.Database:
            return self._storage.db

        def _setup(self) -> None:
            super()._setup()
            experiments = self._db[EXPERIMENTS]
            document = {
                "_id": self._experiment_id,
                "description": self._description,
                "root_env_config": self._root_env_config,
                "git_repo": self._git_repo,
                "git_commit": self._git_commit,
                "objectives": [{"target": t, "direction": d} for t, d in self._opt_targets.items()],
                "last_trial_id": max(self._trial_id, 1) - 1,
                "merged": [],
            }
            try:
                experiments.insert_one(document)
                _LOG.info("Start new experiment: %s", self._experiment_id)
                self._trial_id = document["last_trial_id"] + 1
                return
            except docstore.DuplicateKeyError:
                pass
            stored = experiments.find_one({"_id": self._experiment_id})
            assert stored is not None
            last = int(stored["last_trial_id"])
            has_trials = self._db[TRIALS].count_documents({"exp_id": self._experiment_id}) > 0
            # No trial yet: start where asked, as SqlStorage does (if nobody else started meanwhile).
            if (
                not has_trials
                and self._trial_id >= 1
                and self._trial_id - 1 != last
                and experiments.update_one(
                    {"_id": self._experiment_id, "last_trial_id": last}, {"$set": {"last_trial_id": self._trial_id - 1}}
                ).modified_count
            ):
                last = self._trial_id - 1
            self._trial_id = last + 1
            _LOG.info("Continue experiment: %s resume from: %d", self._experiment_id, self._trial_id)
            if stored.get("git_commit") != self._git_commit:
                _LOG.warning(
                    "Experiment %s git expected: %s %s", self, stored.get("git_repo"), stored.get("git_commit")
                )

        # -- reads ----------------------------------------------------------------
        def load_tunable_config(self, config_id: int) -> dict[str, Any]:
            doc = self._db[CONFIGS].find_one({"config_id": config_id})
            return text_dict(doc["params"] if doc else None)

        def load_telemetry(self, trial_id: int) -> list[tuple[datetime, str, Any]]:
            docs = self._db[TELEMETRY].find(
                {"exp_id": self._experiment_id, "trial_id": trial_id}, sort=[("ts_us", 1), ("metric", 1)]
            )
            return [
                (from_micros(doc["ts_us"]), doc["metric"], None if doc["value"] is None else str(doc["value"]))
                for doc in docs
            ]  # type: ignore[misc]

        def load(
            self,
            last_trial_id: int = -1,
        ) -> tuple[list[int], list[dict], list[dict[str, Any] | None], list[Status]]:
            trials = (
                self._db[TRIALS]
                .find(
                    {
                        "exp_id": self._experiment_id,
                        "trial_id": {"$gt": last_trial_id},
                        "status": {"$in": ["SUCCEEDED", "FAILED", "TIMED_OUT"]},
                    },
                    sort=[("trial_id", 1)],
                )
                .to_list()
            )
            configs = self._configs({trial["config_id"] for trial in trials})
            trial_ids: list[int] = []
            tunables: list[dict] = []
            scores: list[dict[str, Any] | None] = []
            statuses: list[Status] = []
            for trial in trials:
                status = Status[trial["status"]]
                trial_ids.append(trial["trial_id"])
                tunables.append(text_dict(configs.get(trial["config_id"])))
                scores.append(text_dict(trial.get("results")) if status.is_succeeded() else None)
                statuses.append(status)
            return (trial_ids, tunables, scores, statuses)

        def _configs(self, config_ids: set[int]) -> dict[int, list[dict[str, Any]]]:
            docs = self._db[CONFIGS].find({"config_id": {"$in": sorted(config_ids)}})
            return {doc["config_id"]: doc["params"] for doc in docs}

        def _trial_object(self, doc: dict[str, Any], params: list[dict[str, Any]]) -> DocstoreStorage.Trial:
            return DocstoreStorage.Trial(
                storage=self._storage,
                tunables=self._tunables.copy().assign(text_dict(params)).reset(),
                experiment_id=self._experiment_id,
                trial_id=doc["trial_id"],
                config_id=doc["config_id"],
                trial_runner_id=doc.get("trial_runner_id"),
                opt_targets=self._opt_targets,
                status=Status[doc["status"]],
                config=text_dict(doc.get("params")),
            )

        def get_trial_by_id(self, trial_id: int) -> Storage.Trial | None:
            doc = self._db[TRIALS].find_one({"_id": f"{self._experiment_id}/{trial_id}"})
            if doc is None:
                return None
            return self._trial_object(doc, self._configs({doc["config_id"]}).get(doc["config_id"], []))

        def pending_trials(
            self,
            timestamp: datetime,
            *,
            running: bool,
            trial_runner_assigned: bool | None = None,
        ) -> Iterator[Storage.Trial]:
            micros = to_micros(timestamp)
            _LOG.info("Retrieve pending trials for: %s @ %s", self._experiment_id, to_utc(timestamp))
            statuses = ["PENDING", "READY", "RUNNING"] if running else ["PENDING"]
            query: dict[str, Any] = {
                "exp_id": self._experiment_id,
                "status": {"$in": statuses},
                "ts_end_us": None,
                "$or": [{"ts_start_us": None}, {"ts_start_us": {"$lte": micros}}],
            }
            if trial_runner_assigned:
                query["trial_runner_id"] = {"$ne": None}
            elif trial_runner_assigned is False:
                query["trial_runner_id"] = None
            trials = self._db[TRIALS].find(query, sort=[("trial_id", 1)]).to_list()
            configs = self._configs({trial["config_id"] for trial in trials})
            for trial in trials:
                yield self._trial_object(trial, configs.get(trial["config_id"], []))

        # -- writes ---------------------------------------------------------------
        def _get_config_id(self, tunables: TunableGroups) -> int:
            """The id of this tunable config, deduplicated by hash (unique index) across processes."""
            configs = self._db[CONFIGS]
            config_hash = hashlib.sha256(str(tunables).encode("utf-8")).hexdigest()
            found = configs.find_one({"hash": config_hash})
            if found is not None:
                return int(found["config_id"])
            counter = configs.find_one_and_update(
                {"_id": CONFIG_COUNTER_ID},
                {"$inc": {"last_config_id": 1}, "$setOnInsert": {"hash": CONFIG_COUNTER_ID}},
                upsert=True,
                return_document=docstore.ReturnDocument.AFTER,
            )
            assert counter is not None
            config_id = int(counter["last_config_id"])
            params = pairs({tunable.name: tunable.value for tunable, _group in tunables})
            try:
                configs.insert_one(
                    {"_id": f"config/{config_id}", "hash": config_hash, "config_id": config_id, "params": params}
                )
            except docstore.DuplicateKeyError:  # another process stored the same config first
                found = configs.find_one({"hash": config_hash})
                assert found is not None
                return int(found["config_id"])
            return config_id

        def _new_trial(
            self,
            tunables: TunableGroups,
            ts_start: datetime | None = None,
            config: dict[str, Any] | None = None,
        ) -> Storage.Trial:
            ts_start = to_utc(ts_start or datetime.now(pytz.UTC))
            config_id = self._get_config_id(tunables)
            counter = self._db[EXPERIMENTS].find_one_and_update(
                {"_id": self._experiment_id},
                {"$inc": {"last_trial_id": 1}},
                return_document=docstore.ReturnDocument.AFTER,
            )
            if counter is None:
                raise RuntimeError(
                    f"experiment {self._experiment_id!r} is not in the store: use it as a context manager"
                )
            trial_id = int(counter["last_trial_id"])
            _LOG.debug("Create trial: %s:%d @ %s", self._experiment_id, trial_id, ts_start)
            self._db[TRIALS].insert_one(
                {
                    "_id": f"{self._experiment_id}/{trial_id}",
                    "exp_id": self._experiment_id,
                    "trial_id": trial_id,
                    "config_id": config_id,
                    "trial_runner_id": None,
                    "status": "PENDING",
                    "ts_start": ts_start,
                    "ts_start_us": to_micros(ts_start),
                    "ts_end": None,
                    "ts_end_us": None,
                    "params": pairs(config or {}),
                    "results": [],
                    "status_history": [],
                }
            )
            self._trial_id = trial_id + 1
            return DocstoreStorage.Trial(
                storage=self._storage,
                tunables=tunables,
                experiment_id=self._experiment_id,
                trial_id=trial_id,
                config_id=config_id,
                trial_runner_id=None,
                opt_targets=self._opt_targets,
                status=Status.PENDING,
                restoring=False,
                config=config,
            )

        def merge(self, experiment_ids: list[str]) -> None:
            """Copy the completed trials of other experiments into this one, with new trial ids.

            SqlStorage does not implement merging. Here each copied trial keeps its config,
            status, timestamps and results, and records where it came from
            (``merged_from``), so merging again copies nothing twice. Telemetry is not copied.
            """
            _LOG.info("Merge: %s <- %s", self._experiment_id, experiment_ids)
            trials = self._db[TRIALS]
            for other in experiment_ids:
                if other == self._experiment_id:
                    raise ValueError(f"cannot merge experiment {other!r} into itself")
                if self._db[EXPERIMENTS].find_one({"_id": other}) is None:
                    raise ValueError(f"no experiment {other!r} to merge into {self._experiment_id!r}")
                done = {
                    (doc["merged_from"]["exp_id"], doc["merged_from"]["trial_id"])
                    for doc in trials.find({"exp_id": self._experiment_id, "merged_from.exp_id": other})
                }
                for doc in trials.find({"exp_id": other, "status": {"$in": FINAL_STATUSES}}, sort=[("trial_id", 1)]):
                    if (other, doc["trial_id"]) in done:
                        continue
                    counter = self._db[EXPERIMENTS].find_one_and_update(
                        {"_id": self._experiment_id},
                        {"$inc": {"last_trial_id": 1}},
                        return_document=docstore.ReturnDocument.AFTER,
                    )
                    assert counter is not None
                    trial_id = int(counter["last_trial_id"])
                    copy = dict(doc)
                    copy.update(
                        _id=f"{self._experiment_id}/{trial_id}",
                        exp_id=self._experiment_id,
                        trial_id=trial_id,
                        trial_runner_id=None,
                        merged_from={"exp_id": other, "trial_id": doc["trial_id"]},
                    )
                    trials.insert_one(copy)
                    self._trial_id = max(self._trial_id, trial_id + 1)
                self._db[EXPERIMENTS].update_one({"_id": self._experiment_id}, {"$addToSet": {"merged": other}})

    class Trial(Storage.Trial):
        """One trial: its document is ``mlos_trials/{exp}/{trial}``, with its status history."""

        def __init__(
            self,
            *,
            storage: DocstoreStorage,
            tunables: TunableGroups,
            experiment_id: str,
            trial_id: int,
            config_id: int,
            trial_runner_id: int | None,
            opt_targets: dict[str, Literal["min", "max"]],
            status: Status,
            restoring: bool = True,
            config: dict[str, Any] | None = None,
        ) -> None:
            kwargs: dict[str, Any] = {
                "tunables": tunables,
                "experiment_id": experiment_id,
                "trial_id": trial_id,
                "tunable_config_id": config_id,
                "opt_targets": opt_targets,
                "config": config,
            }
            if HAS_TRIAL_RUNNERS:
                kwargs.update(trial_runner_id=trial_runner_id, status=status, restoring=restoring)
            super().__init__(**kwargs)
            self._storage = storage
            self._trial_runner_id = trial_runner_id
            self._status = status

        @property
        def _trials(self) -> docstore.Collection:
            return self._storage.db[TRIALS]

        @property
        def _doc_id(self) -> str:
            return f"{self._experiment_id}/{self._trial_id}"

        @property
        def experiment_id(self) -> str:
            return self._experiment_id

        @property
        def trial_runner_id(self) -> int | None:
            """The TrialRunner this trial is assigned to (None: not assigned)."""
            return self._trial_runner_id

        def set_trial_runner(self, trial_runner_id: int) -> int:
            """Assign the trial to a TrialRunner (only while unassigned or PENDING); returns the stored one."""
            if self._trial_runner_id is None or self._status.is_pending():
                self._trial_runner_id = trial_runner_id
            else:
                _LOG.warning("Trial %s already assigned to a TrialRunner, cannot switch to %d", self, trial_runner_id)
            self._trials.update_one(
                {"_id": self._doc_id, "$or": [{"trial_runner_id": None}, {"status": "PENDING"}]},
                {"$set": {"trial_runner_id": self._trial_runner_id}},
            )
            doc = self._trials.find_one({"_id": self._doc_id}, projection={"trial_runner_id": 1})
            assert doc is not None
            self._trial_runner_id = doc["trial_runner_id"]
            assert isinstance(self._trial_runner_id, int)
            return self._trial_runner_id

        def config(self, global_config: dict[str, Any] | None = None) -> dict[str, Any]:
            config = super().config(global_config)
            if self._trial_runner_id is not None:
                config["trial_runner_id"] = self._trial_runner_id
            return config

        def add_new_config_data(self, new_config_data: Mapping[str, int | float | str]) -> None:
            """Add trial parameters (metadata) that this trial does not have yet; ValueError otherwise."""
            for key, value in new_config_data.items():
                if key in self._config:
                    raise ValueError(
                        f"New config data {key}={value} already exists for trial {self}: {self._config[key]}"
                    )
                self._config[key] = value
            self._save_new_config_data(new_config_data)

        def _save_new_config_data(self, new_config_data: Mapping[str, int | float | str]) -> None:
            for key, value in new_config_data.items():
                result = self._trials.update_one(
                    {"_id": self._doc_id, "params.name": {"$ne": key}},
                    {"$push": {"params": {"name": key, "value": native(value)}}},
                )
                if not result.matched_count:
                    raise ValueError(f"config data {key!r} already stored for trial {self}")

        def _add_status(self, status: Status, timestamp: datetime) -> bool:
            """Record the status in the history, once per timestamp (like SqlStorage's trial_status)."""
            micros = to_micros(timestamp)
            result = self._trials.update_one(
                {"_id": self._doc_id, "status_history.ts_us": {"$ne": micros}},
                {"$push": {"status_history": {"ts": timestamp, "ts_us": micros, "status": status.name}}},
            )
            if not result.modified_count:
                _LOG.warning("Status with that timestamp already exists: %s %s", self, timestamp)
            return bool(result.modified_count)

        def update(
            self,
            status: Status,
            timestamp: datetime,
            metrics: dict[str, Any] | None = None,
        ) -> dict[str, Any] | None:
            timestamp = to_utc(timestamp)
            metrics = super().update(status, timestamp, metrics)
            added = self._add_status(status, timestamp)
            micros = to_micros(timestamp)
            if status.is_completed():
                changed = self._trials.find_one_and_update(
                    {"_id": self._doc_id, "ts_end_us": None, "status": {"$nin": FINAL_STATUSES}},
                    {
                        "$set": {
                            "status": status.name,
                            "ts_end": timestamp,
                            "ts_end_us": micros,
                            "results": pairs(metrics or {}),
                        }
                    },
                )
                if changed is None:
                    if added:  # SqlStorage rolls its status record back too
                        self._trials.update_one({"_id": self._doc_id}, {"$pull": {"status_history": {"ts_us": micros}}})
                    _LOG.warning("Trial %s :: update failed: %s", self, status)
                    raise RuntimeError(f"Failed to update the status of the trial {self} to {status}.")
            else:
                assert metrics is None, f"Unexpected metrics for status: {status}"
                result = self._trials.update_one(
                    {"_id": self._doc_id, "ts_end_us": None, "status": {"$nin": ["RUNNING", *FINAL_STATUSES]}},
                    {"$set": {"status": status.name, "ts_start": timestamp, "ts_start_us": micros}},
                )
                if not result.matched_count:
                    _LOG.warning("Trial %s :: cannot be updated to: %s", self, status)
            return metrics

        def update_telemetry(
            self,
            status: Status,
            timestamp: datetime,
            metrics: list[tuple[datetime, str, Any]],
        ) -> None:
            super().update_telemetry(status, timestamp, metrics)
            self._add_status(status, to_utc(timestamp))
            telemetry = self._storage.db[TELEMETRY]
            for metric_ts, key, value in metrics:
                micros = to_micros(metric_ts)
                try:
                    telemetry.insert_one(
                        {
                            "_id": f"{self._experiment_id}/{self._trial_id}/{micros}/{key}",
                            "exp_id": self._experiment_id,
                            "trial_id": self._trial_id,
                            "ts": to_utc(metric_ts),
                            "ts_us": micros,
                            "metric": key,
                            "value": native(value),
                        }
                    )
                except docstore.DuplicateKeyError:
                    _LOG.warning("Record already exists: %s", (metric_ts, key, value))
