"""``DocstoreExperiment``: one mlos_bench experiment of a :class:`~docstore_mlos.DocstoreStorage`."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import pytz
from mlos_bench.environments.status import Status
from mlos_bench.storage.base_storage import Storage
from mlos_bench.tunables.tunable_groups import TunableGroups

import docstore
from docstore_mlos._common import (
    CONFIG_COUNTER_ID,
    CONFIGS,
    EXPERIMENTS,
    FINAL_STATUSES,
    TELEMETRY,
    TRIALS,
    from_micros,
    pairs,
    text_dict,
    to_micros,
    to_utc,
)
from docstore_mlos.trial import DocstoreTrial

if TYPE_CHECKING:
    from docstore_mlos.storage import DocstoreStorage

_LOG = logging.getLogger(__name__)

__all__ = ["DocstoreExperiment"]


class DocstoreExperiment(Storage.Experiment):
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
        document: dict[str, Any] = {
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
            _LOG.warning("Experiment %s git expected: %s %s", self, stored.get("git_repo"), stored.get("git_commit"))

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
        ]

    def load(
        self,
        last_trial_id: int = -1,
    ) -> tuple[list[int], list[dict[str, Any]], list[dict[str, Any] | None], list[Status]]:
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
        tunables: list[dict[str, Any]] = []
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

    def _trial_object(self, doc: dict[str, Any], params: list[dict[str, Any]]) -> DocstoreTrial:
        return DocstoreTrial(
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

    def _next_trial_id(self) -> int:
        """A new trial id, from the compare-and-set counter on the experiment's document."""
        counter = self._db[EXPERIMENTS].find_one_and_update(
            {"_id": self._experiment_id},
            {"$inc": {"last_trial_id": 1}},
            return_document=docstore.ReturnDocument.AFTER,
        )
        if counter is None:
            raise RuntimeError(f"experiment {self._experiment_id!r} is not in the store: use it as a context manager")
        return int(counter["last_trial_id"])

    def _new_trial(
        self,
        tunables: TunableGroups,
        ts_start: datetime | None = None,
        config: dict[str, Any] | None = None,
    ) -> Storage.Trial:
        ts_start = to_utc(ts_start or datetime.now(pytz.UTC))
        config_id = self._get_config_id(tunables)
        trial_id = self._next_trial_id()
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
        return DocstoreTrial(
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
                trial_id = self._next_trial_id()
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
