"""``DocstoreTrial``: one mlos_bench trial of a :class:`~docstore_mlos.DocstoreStorage`, with its status history."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from mlos_bench.environments.status import Status
from mlos_bench.storage.base_storage import Storage
from mlos_bench.tunables.tunable_groups import TunableGroups

import docstore
from docstore_mlos._common import FINAL_STATUSES, HAS_TRIAL_RUNNERS, TELEMETRY, TRIALS, native, pairs, to_micros, to_utc

if TYPE_CHECKING:
    from docstore_mlos.storage import DocstoreStorage

_LOG = logging.getLogger(__name__)

__all__ = ["DocstoreTrial"]


class DocstoreTrial(Storage.Trial):
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
                raise ValueError(f"New config data {key}={value} already exists for trial {self}: {self._config[key]}")
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
