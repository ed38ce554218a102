"""Optuna studies, replayed from the journal ``docstore_optuna`` keeps: plain JSON, never a pickle.

The layout is ``docstore_optuna.journal``'s (a test writes a study with Optuna through it and
reads it back here): collection ``PREFIX_logs``, one document per ``append_logs`` batch,
``{"_id": FIRST_LOG_NUMBER zero-padded to 20 digits, "end": int, "logs": "[...json...]"}``,
contiguous from 0. Each log is one of Optuna's journal operations (``op_code``: create or
delete a study, create a trial, set a param, set the state and values, ...); replaying them
in order gives every study and trial the way Optuna's ``JournalStorage`` does, including its
rules for logs that lost a race (a second worker finishing a finished trial is ignored).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import docstore

from .foreign import OPTUNA, ForeignExperiment, ForeignTrial, Holdings

__all__ = ["journal_prefixes", "read_optuna"]

_ID_WIDTH = 20
_STATES = {0: "RUNNING", 1: "COMPLETE", 2: "PRUNED", 3: "FAIL", 4: "WAITING"}
_FINISHED = {"COMPLETE", "PRUNED", "FAIL"}
_DIRECTIONS = {0: "not set", 1: "minimize", 2: "maximize"}
# Optuna's JournalOperation codes
CREATE_STUDY, DELETE_STUDY, STUDY_USER_ATTR, STUDY_SYSTEM_ATTR = 0, 1, 2, 3
CREATE_TRIAL, TRIAL_PARAM, TRIAL_STATE_VALUES, TRIAL_INTERMEDIATE = 4, 5, 6, 7
TRIAL_USER_ATTR, TRIAL_SYSTEM_ATTR, DISCARD_TRIALS = 8, 9, 10


def _when(text: Any) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _distribution(raw: Any) -> dict[str, Any]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(value, dict):
        raise TypeError(f"not a distribution: {raw!r:.80}")
    if "name" not in value:  # Optuna's abbreviated form: {"type": "float", "low": ...}
        kind = str(value.get("type"))
        name = {"categorical": "CategoricalDistribution", "int": "IntDistribution"}.get(kind, "FloatDistribution")
        return {"name": name, "attributes": value}
    return value


def _external(internal: Any, distribution: dict[str, Any]) -> Any:
    """A param's value as the user gave it: a choice of a categorical, an int of an int distribution."""
    name = str(distribution.get("name"))
    if "Categorical" in name:
        return distribution["attributes"]["choices"][int(internal)]
    if "Int" in name:
        return int(internal)
    return internal


def _compatible(old: dict[str, Any], new: dict[str, Any]) -> bool:
    if old.get("name") != new.get("name"):
        return False
    if "Categorical" in str(new.get("name")):
        return bool(old["attributes"].get("choices") == new["attributes"].get("choices"))
    return True


class _Replay:
    """Optuna's journal replay, over plain data."""

    def __init__(self, collection: str) -> None:
        self.collection = collection
        self.studies: dict[int, ForeignExperiment] = {}
        self.next_study = 0
        self.trials: list[ForeignTrial] = []  # by Optuna's trial id (global, in creation order)
        self.study_trials: dict[int, list[int]] = {}  # study id -> its trial ids
        self.study_of: list[int] = []
        self.distributions: list[dict[str, dict[str, Any]]] = []
        self.unknown: set[Any] = set()

    def apply(self, log: Any) -> None:
        if not isinstance(log, dict):
            raise TypeError(f"a log is a JSON object, not {type(log).__name__}")
        op = log.get("op_code")
        handlers: dict[int, Callable[[dict[str, Any]], Any]] = {
            CREATE_STUDY: self._create_study,
            DELETE_STUDY: lambda entry: self.studies.pop(entry["study_id"], None),
            STUDY_USER_ATTR: lambda entry: self._study_attrs(entry, "user_attrs", "user_attr"),
            STUDY_SYSTEM_ATTR: lambda entry: self._study_attrs(entry, "system_attrs", "system_attr"),
            CREATE_TRIAL: self._create_trial,
            TRIAL_PARAM: self._param,
            TRIAL_STATE_VALUES: self._state,
            TRIAL_INTERMEDIATE: self._intermediate,
            TRIAL_USER_ATTR: lambda entry: self._trial_attrs(entry, "user_attrs", "user_attr"),
            TRIAL_SYSTEM_ATTR: lambda entry: self._trial_attrs(entry, "system_attrs", "system_attr"),
            DISCARD_TRIALS: lambda entry: None,  # only Optuna's Rust port writes it; Optuna skips it too
        }
        handler = handlers.get(op) if isinstance(op, int) else None
        if handler is None:
            self.unknown.add(op)
            return
        handler(log)

    def _create_study(self, log: dict[str, Any]) -> None:
        name = str(log["study_name"])
        if any(study.name == name for study in self.studies.values()):
            return  # a second create_study of the same name lost the race
        directions = [_DIRECTIONS.get(d, str(d)) for d in log.get("directions") or [1]]
        objectives = ["value"] if len(directions) == 1 else [f"values[{i}]" for i in range(len(directions))]
        study_id, self.next_study = self.next_study, self.next_study + 1
        self.studies[study_id] = ForeignExperiment(
            OPTUNA, name, f"{self.collection}:{study_id}", objectives, directions, details={"study_id": study_id}
        )

    def _study_attrs(self, log: dict[str, Any], field: str, key: str) -> None:
        study = self.studies.get(log["study_id"])
        if study is not None:
            study.details.setdefault(field, {}).update(log[key])

    def _create_trial(self, log: dict[str, Any]) -> None:
        study = self.studies.get(log["study_id"])
        if study is None:
            return
        distributions = {k: _distribution(v) for k, v in (log.get("distributions") or {}).items()}
        params = {k: _external(v, distributions[k]) for k, v in (log.get("params") or {}).items()}
        number = len(study.trials)
        trial = ForeignTrial(f"{study.name}/{number}", number, "", False, False, params)
        trial.details = {"trial_id": len(self.trials)}
        for field in ("user_attrs", "system_attrs"):
            if log.get(field):
                trial.details[field] = dict(log[field])
        if log.get("intermediate_values"):
            trial.details["intermediate_values"] = dict(log["intermediate_values"])
        self._set_state(trial, _STATES.get(log.get("state", 0), "RUNNING"), log)
        study.trials.append(trial)
        self.study_trials.setdefault(log["study_id"], []).append(len(self.trials))
        self.trials.append(trial)
        self.study_of.append(log["study_id"])
        self.distributions.append(distributions)

    def _updatable(self, log: dict[str, Any]) -> ForeignTrial | None:
        trial_id = log["trial_id"]
        if not isinstance(trial_id, int) or not 0 <= trial_id < len(self.trials):
            return None
        trial = self.trials[trial_id]
        return None if trial.status in _FINISHED else trial

    def _param(self, log: dict[str, Any]) -> None:
        trial = self._updatable(log)
        if trial is None:
            return
        name, distribution = log["param_name"], _distribution(log["distribution"])
        for other_id in self.study_trials.get(self.study_of[log["trial_id"]], []):
            if name in self.distributions[other_id]:  # the first trial of the study that has this param
                if not _compatible(self.distributions[other_id][name], distribution):
                    return  # Optuna refuses a param whose distribution changed
                break
        trial.params[name] = _external(log["param_value_internal"], distribution)
        self.distributions[log["trial_id"]][name] = distribution

    def _state(self, log: dict[str, Any]) -> None:
        trial = self._updatable(log)
        state = _STATES.get(log.get("state", -1), "")
        if trial is None or not state or (state == "RUNNING" and trial.status == "RUNNING"):
            return  # a trial another worker already took, or already finished
        self._set_state(trial, state, log)

    @staticmethod
    def _set_state(trial: ForeignTrial, state: str, log: dict[str, Any]) -> None:
        trial.status = state
        trial.done, trial.pending = state == "COMPLETE", state in ("RUNNING", "WAITING")
        if log.get("datetime_start") and (state == "RUNNING" or trial.start is None):
            trial.start = _when(log["datetime_start"])
        if state in _FINISHED and log.get("datetime_complete"):
            trial.end = _when(log["datetime_complete"])
        values = log.get("values")
        if values is None and log.get("value") is not None:
            values = [log["value"]]
        if values is not None:
            trial.values = list(values)

    def _intermediate(self, log: dict[str, Any]) -> None:
        trial = self._updatable(log)
        if trial is not None:
            trial.details.setdefault("intermediate_values", {})[str(log["step"])] = log["intermediate_value"]

    def _trial_attrs(self, log: dict[str, Any], field: str, key: str) -> None:
        trial = self._updatable(log)
        if trial is not None:
            trial.details.setdefault(field, {}).update(log[key])


def _is_journal(db: docstore.Database, name: str) -> bool:
    first = db[name].find_one({"_id": "0" * _ID_WIDTH})
    return first is not None and isinstance(first.get("end"), int) and isinstance(first.get("logs"), str)


def _batches(db: docstore.Database, name: str, findings: list[str]) -> list[dict[str, Any]]:
    """The journal's logs in order, up to the first hole (which is a finding)."""
    logs: list[dict[str, Any]] = []
    position = 0
    for batch in db[name].find({}, sort=[("_id", 1)]):
        where = f"{name}: batch {batch.get('_id')!r}"
        try:
            start, end, decoded = int(batch["_id"]), batch["end"], json.loads(batch["logs"])
        except (KeyError, TypeError, ValueError) as exc:
            findings.append(f"{where} is not a log batch ({type(exc).__name__}: {exc}); the logs after it are unread")
            break
        if start != position:
            what = "overlaps the previous one" if start < position else f"leaves logs {position} to {start - 1} out"
            findings.append(f"{where} {what}; the logs after it are unread")
            break
        if not isinstance(decoded, list) or len(decoded) != end - start:
            findings.append(f"{where} declares logs {start} to {end - 1} but holds something else")
            break
        logs.extend(decoded)
        position = end
    return logs


def journal_prefixes(db: docstore.Database, names: set[str]) -> list[str]:
    """The ``collection`` of every Optuna journal in ``db`` (``"optuna"`` for ``optuna_logs``)."""
    return [n[: -len("_logs")] for n in sorted(names) if n.endswith("_logs") and _is_journal(db, n)]


def read_optuna(db: docstore.Database, names: set[str], holdings: Holdings) -> None:
    """Add the studies of every Optuna journal in ``db`` to ``holdings`` (and what is wrong with them)."""
    for prefix in journal_prefixes(db, names):
        name = f"{prefix}_logs"
        replay = _Replay(name[: -len("_logs")])
        logs = _batches(db, name, holdings.findings)
        for number, log in enumerate(logs):
            try:
                replay.apply(log)
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                holdings.findings.append(f"{name}: log {number} cannot be replayed ({type(exc).__name__}: {exc})")
        if replay.unknown:
            codes = ", ".join(map(repr, sorted(replay.unknown, key=repr)))
            holdings.findings.append(f"{name}: logs with op codes this docstore does not know: {codes}")
        holdings.experiments.extend(replay.studies.values())
        holdings.sources[OPTUNA] = ", ".join(filter(None, [holdings.sources.get(OPTUNA), f"journal {name}"]))
        holdings.findings.extend(_snapshot_findings(db, replay.collection, names))


def _snapshot_findings(db: docstore.Database, prefix: str, names: set[str]) -> list[str]:
    """The snapshot's chunks are all there (checked by count, never unpickled: Optuna's snapshots are pickles)."""
    name = f"{prefix}_snapshot"
    if name not in names:
        return []
    head = db[name].find_one({"_id": "head"})
    if head is None:
        return []
    generation, chunks = head.get("generation"), head.get("chunks")
    if not isinstance(generation, str) or type(chunks) is not int or chunks < 1:
        return [f"{name}: the head document names no snapshot: {head!r:.120}"]
    wanted = [f"{generation}.{i:06d}" for i in range(chunks)]
    found = db[name].count_documents({"_id": {"$in": wanted}})
    if found != chunks:
        return [f"{name}: the snapshot has {found} of its {chunks} chunks (Optuna then replays the logs)"]
    return []
