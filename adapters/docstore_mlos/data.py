"""Read-only views of stored experiments: mlos_bench's ``ExperimentData`` family over docstore."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import pandas
from mlos_bench.environments.status import Status
from mlos_bench.storage.base_experiment_data import ExperimentData as BaseExperimentData
from mlos_bench.storage.base_trial_data import TrialData as BaseTrialData
from mlos_bench.storage.base_tunable_config_data import TunableConfigData as BaseTunableConfigData
from mlos_bench.storage.base_tunable_config_trial_group_data import (
    TunableConfigTrialGroupData as BaseTunableConfigTrialGroupData,
)

from docstore_mlos._common import (
    CONFIGS,
    TELEMETRY,
    TRIAL_DATA_HAS_RUNNER,
    TRIALS,
    from_micros,
    kv_frame,
    results_frame,
    text_dict,
)

if TYPE_CHECKING:
    from docstore_mlos.storage import DocstoreStorage

__all__ = ["ExperimentData", "TrialData", "TunableConfigData", "TunableConfigTrialGroupData"]


def _trial_docs(storage: DocstoreStorage, experiment_id: str, config_id: int | None = None) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"exp_id": experiment_id}
    if config_id is not None:
        query["config_id"] = config_id
    return storage.db[TRIALS].find(query, sort=[("trial_id", 1)]).to_list()


def _group_ids(trials: list[dict[str, Any]]) -> dict[int, int]:
    """config id -> the smallest trial id using it (SqlStorage's tunable_config_trial_group_id)."""
    groups: dict[int, int] = {}
    for trial in trials:
        config_id = trial["config_id"]
        groups[config_id] = min(groups.get(config_id, trial["trial_id"]), trial["trial_id"])
    return groups


def _trials(storage: DocstoreStorage, experiment_id: str, config_id: int | None = None) -> dict[int, BaseTrialData]:
    return {
        doc["trial_id"]: TrialData.from_document(storage, doc) for doc in _trial_docs(storage, experiment_id, config_id)
    }


def _results_df(storage: DocstoreStorage, experiment_id: str, config_id: int | None = None) -> pandas.DataFrame:
    trials = _trial_docs(storage, experiment_id, config_id)
    config_ids = sorted({trial["config_id"] for trial in trials})
    configs = {doc["config_id"]: doc for doc in storage.db[CONFIGS].find({"config_id": {"$in": config_ids}})}
    return results_frame(trials, configs, _group_ids(trials))


class ExperimentData(BaseExperimentData):
    """One stored experiment, read from docstore."""

    def __init__(self, *, storage: DocstoreStorage, document: dict[str, Any]) -> None:
        super().__init__(
            experiment_id=document["_id"],
            description=document.get("description") or "",
            root_env_config=document.get("root_env_config") or "",
            git_repo=document.get("git_repo") or "",
            git_commit=document.get("git_commit") or "",
        )
        self._storage = storage
        self._document = document

    @property
    def objectives(self) -> dict[str, Literal["min", "max"]]:
        # SqlStorage orders by weight (unset) then by target name.
        objectives = sorted(self._document.get("objectives") or [], key=lambda item: item["target"])
        return {item["target"]: item["direction"] for item in objectives}

    @property
    def trials(self) -> dict[int, BaseTrialData]:
        return _trials(self._storage, self._experiment_id)

    @property
    def tunable_config_trial_groups(self) -> dict[int, BaseTunableConfigTrialGroupData]:
        groups = _group_ids(_trial_docs(self._storage, self._experiment_id))
        return {
            config_id: TunableConfigTrialGroupData(
                storage=self._storage,
                experiment_id=self._experiment_id,
                tunable_config_id=config_id,
                tunable_config_trial_group_id=group_id,
            )
            for config_id, group_id in sorted(groups.items())
        }

    @property
    def tunable_configs(self) -> dict[int, BaseTunableConfigData]:
        config_ids = sorted({doc["config_id"] for doc in _trial_docs(self._storage, self._experiment_id)})
        return {
            config_id: TunableConfigData(storage=self._storage, tunable_config_id=config_id) for config_id in config_ids
        }

    @property
    def default_tunable_config_id(self) -> int | None:
        trials = _trial_docs(self._storage, self._experiment_id)
        for trial in trials:
            flag = text_dict(trial.get("params")).get("is_defaults")
            if flag is not None and flag.lower() in ("1", "true"):
                return int(trial["config_id"])
        return int(trials[0]["config_id"]) if trials else None

    @property
    def results_df(self) -> pandas.DataFrame:
        return _results_df(self._storage, self._experiment_id)


class TrialData(BaseTrialData):
    """One stored trial, read from docstore."""

    def __init__(self, *, storage: DocstoreStorage, trial_runner_id: int | None = None, **kwargs: Any) -> None:
        if TRIAL_DATA_HAS_RUNNER:
            kwargs["trial_runner_id"] = trial_runner_id
        super().__init__(**kwargs)
        self._storage = storage
        self._trial_runner_id = trial_runner_id

    @classmethod
    def from_document(cls, storage: DocstoreStorage, doc: dict[str, Any]) -> TrialData:
        ts_start = from_micros(doc.get("ts_start_us"))
        assert ts_start is not None
        return cls(
            storage=storage,
            experiment_id=doc["exp_id"],
            trial_id=doc["trial_id"],
            tunable_config_id=doc["config_id"],
            ts_start=ts_start,
            ts_end=from_micros(doc.get("ts_end_us")),
            status=Status[doc["status"]],
            trial_runner_id=doc.get("trial_runner_id"),
        )

    @property
    def trial_runner_id(self) -> int | None:
        return self._trial_runner_id

    def _document(self) -> dict[str, Any]:
        doc = self._storage.db[TRIALS].find_one({"_id": f"{self._experiment_id}/{self._trial_id}"})
        return doc or {}

    @property
    def tunable_config(self) -> BaseTunableConfigData:
        return TunableConfigData(storage=self._storage, tunable_config_id=self._tunable_config_id)

    @property
    def tunable_config_trial_group(self) -> BaseTunableConfigTrialGroupData:
        return TunableConfigTrialGroupData(
            storage=self._storage, experiment_id=self._experiment_id, tunable_config_id=self._tunable_config_id
        )

    @property
    def results_df(self) -> pandas.DataFrame:
        return kv_frame(self._document().get("results"), "metric")

    @property
    def telemetry_df(self) -> pandas.DataFrame:
        docs = self._storage.db[TELEMETRY].find(
            {"exp_id": self._experiment_id, "trial_id": self._trial_id}, sort=[("ts_us", 1), ("metric", 1)]
        )
        return pandas.DataFrame(
            [
                (from_micros(doc["ts_us"]), doc["metric"], None if doc["value"] is None else str(doc["value"]))
                for doc in docs
            ],
            columns=["ts", "metric", "value"],
        )

    @property
    def metadata_df(self) -> pandas.DataFrame:
        return kv_frame(self._document().get("params"), "parameter")


class TunableConfigData(BaseTunableConfigData):
    """One stored tunable config (a set of tunable values), read from docstore."""

    def __init__(self, *, storage: DocstoreStorage, tunable_config_id: int) -> None:
        super().__init__(tunable_config_id=tunable_config_id)
        self._storage = storage

    @property
    def config_df(self) -> pandas.DataFrame:
        doc = self._storage.db[CONFIGS].find_one({"config_id": self._tunable_config_id}) or {}
        return kv_frame(doc.get("params"), "parameter")


class TunableConfigTrialGroupData(BaseTunableConfigTrialGroupData):
    """The trials of one experiment that share one tunable config."""

    def __init__(
        self,
        *,
        storage: DocstoreStorage,
        experiment_id: str,
        tunable_config_id: int,
        tunable_config_trial_group_id: int | None = None,
    ) -> None:
        super().__init__(
            experiment_id=experiment_id,
            tunable_config_id=tunable_config_id,
            tunable_config_trial_group_id=tunable_config_trial_group_id,
        )
        self._storage = storage

    def _get_tunable_config_trial_group_id(self) -> int:
        first = self._storage.db[TRIALS].find_one(
            {"exp_id": self._experiment_id, "config_id": self._tunable_config_id}, sort=[("trial_id", 1)]
        )
        assert first is not None, f"no trial of {self._experiment_id} uses config {self._tunable_config_id}"
        return int(first["trial_id"])

    @property
    def tunable_config(self) -> BaseTunableConfigData:
        return TunableConfigData(storage=self._storage, tunable_config_id=self._tunable_config_id)

    @property
    def trials(self) -> dict[int, BaseTrialData]:
        return _trials(self._storage, self._experiment_id, self._tunable_config_id)

    @property
    def results_df(self) -> pandas.DataFrame:
        return _results_df(self._storage, self._experiment_id, self._tunable_config_id)
