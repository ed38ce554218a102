"""Helpers shared by the storage and the data classes: values, timestamps, versions, frames."""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, overload

import pandas
import pytz
from mlos_bench.storage.base_experiment_data import ExperimentData
from mlos_bench.storage.base_storage import Storage
from mlos_bench.storage.base_trial_data import TrialData
from mlos_bench.util import utcify_timestamp

EXPERIMENTS = "mlos_experiments"
CONFIGS = "mlos_configs"
TRIALS = "mlos_trials"
TELEMETRY = "mlos_telemetry"

CONFIG_COUNTER_ID = "#config-counter"
"""The ``_id`` of the document in ``mlos_configs`` that holds the last config id handed out."""

FINAL_STATUSES = ["SUCCEEDED", "CANCELED", "FAILED", "TIMED_OUT"]

# mlos_bench's main branch (after 0.6.2) adds trial runners; these flags keep 0.6.2 working.
HAS_TRIAL_RUNNERS = "trial_runner_id" in inspect.signature(Storage.Trial.__init__).parameters
TRIAL_DATA_HAS_RUNNER = "trial_runner_id" in inspect.signature(TrialData.__init__).parameters

_EPOCH = datetime(1970, 1, 1, tzinfo=pytz.UTC)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def to_utc(timestamp: datetime) -> datetime:
    """An incoming timestamp as aware UTC (naive means local time, as in SqlStorage)."""
    return utcify_timestamp(timestamp, origin="local")


def to_micros(timestamp: datetime) -> int:
    """Exact microseconds since the epoch (docstore datetimes keep only milliseconds)."""
    return (to_utc(timestamp) - _EPOCH) // timedelta(microseconds=1)


@overload
def from_micros(micros: int) -> datetime: ...
@overload
def from_micros(micros: None) -> None: ...
def from_micros(micros: int | None) -> datetime | None:
    """The exact aware UTC (pytz) datetime back from :func:`to_micros`."""
    if micros is None:
        return None
    return _EPOCH + timedelta(microseconds=micros)


def native(value: Any) -> Any:
    """A value docstore stores on every engine; anything else becomes its ``str`` (as SqlStorage does)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        as_int = int(value)
        return as_int if _INT64_MIN <= as_int <= _INT64_MAX else str(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


def as_text(value: Any) -> str | None:
    """What SqlStorage gives back for a stored value: its ``str``, or ``None``."""
    return None if value is None else str(value)


def pairs(mapping: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Key/value pairs as a list of ``{"name", "value"}`` (names may hold ``.`` or ``$``)."""
    return [{"name": str(key), "value": native(value)} for key, value in mapping.items()]


def text_dict(items: Iterable[Mapping[str, Any]] | None) -> dict[str, str | None]:
    """``{"name", "value"}`` pairs back as SqlStorage's ``{name: str(value)}``."""
    return {item["name"]: as_text(item["value"]) for item in items or ()}


def kv_frame(items: Iterable[Mapping[str, Any]] | None, key_column: str) -> pandas.DataFrame:
    """A two-column (``key_column``, ``value``) frame of text values, sorted by key like SqlStorage."""
    rows = sorted(((item["name"], as_text(item["value"])) for item in items or ()), key=lambda row: row[0])
    return pandas.DataFrame(rows, columns=[key_column, "value"])


def _pivot_numeric(frame: pandas.DataFrame, index: str | list[str], columns: str) -> pandas.DataFrame:
    wide = frame.pivot(index=index, columns=columns, values="value")
    return wide.apply(pandas.to_numeric, errors="coerce").fillna(wide)


def results_frame(
    trials: Sequence[Mapping[str, Any]],
    configs: Mapping[int, Mapping[str, Any]],
    group_ids: Mapping[int, int],
) -> pandas.DataFrame:
    """``results_df`` with SqlStorage's columns and dtypes.

    ``trials`` are trial documents sorted by trial id, ``configs`` the config documents
    by config id, ``group_ids`` the tunable-config-trial-group id of each config id.
    Values go through text and :func:`pandas.to_numeric`, exactly as SqlStorage's do.
    """
    columns = ["trial_id", "ts_start", "ts_end", "tunable_config_id", "tunable_config_trial_group_id", "status"]
    if TRIAL_DATA_HAS_RUNNER:
        columns.append("trial_runner_id")
    rows = []
    for trial in trials:
        row = [
            trial["trial_id"],
            from_micros(trial.get("ts_start_us")),
            from_micros(trial.get("ts_end_us")),
            trial["config_id"],
            group_ids[trial["config_id"]],
            trial["status"],
        ]
        if TRIAL_DATA_HAS_RUNNER:
            row.append(trial.get("trial_runner_id"))
        rows.append(row)
    trials_df = pandas.DataFrame(rows, columns=columns)

    config_rows = []
    for trial in trials:
        params = configs.get(trial["config_id"], {}).get("params", [])
        for param in sorted(params, key=lambda item: item["name"]):
            config_rows.append(
                (
                    trial["trial_id"],
                    trial["config_id"],
                    ExperimentData.CONFIG_COLUMN_PREFIX + param["name"],
                    as_text(param["value"]),
                )
            )
    configs_df = _pivot_numeric(
        pandas.DataFrame(config_rows, columns=["trial_id", "tunable_config_id", "param", "value"]),
        index=["trial_id", "tunable_config_id"],
        columns="param",
    )

    result_rows = []
    for trial in trials:
        for metric in sorted(trial.get("results") or [], key=lambda item: item["name"]):
            result_rows.append(
                (trial["trial_id"], ExperimentData.RESULT_COLUMN_PREFIX + metric["name"], as_text(metric["value"]))
            )
    results_df = _pivot_numeric(
        pandas.DataFrame(result_rows, columns=["trial_id", "metric", "value"]), index="trial_id", columns="metric"
    )
    return trials_df.merge(configs_df, on=["trial_id", "tunable_config_id"], how="left").merge(
        results_df, on="trial_id", how="left"
    )
