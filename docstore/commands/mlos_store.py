"""mlos_bench experiments as ``docstore_mlos`` keeps them, read through the facade.

The layout is ``docstore_mlos``'s (docs/mlos.md; a test runs mlos_bench on a store and reads
it back here): ``mlos_experiments`` (``_id`` = experiment id, ``objectives`` =
``[{target, direction}]``, ``last_trial_id``), ``mlos_trials`` (``_id`` = ``EXP/TRIAL_ID``,
``exp_id``, ``trial_id``, ``config_id``, ``status``, ``ts_start``/``ts_end``, ``results`` =
``[{name, value}]``) and ``mlos_configs`` (``config_id``, ``params`` = ``[{name, value}]``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import docstore

from .foreign import MLOS, ForeignExperiment, ForeignTrial, Holdings
from .terminal import plural

__all__ = ["EXPERIMENTS", "TRIALS", "read_mlos"]

EXPERIMENTS, TRIALS, CONFIGS = "mlos_experiments", "mlos_trials", "mlos_configs"
_DIRECTIONS = {"min": "minimize", "max": "maximize"}
_PENDING = {"PENDING", "READY", "RUNNING"}


def _pairs(items: Any) -> dict[str, Any]:
    return {str(i.get("name")): i.get("value") for i in items or [] if isinstance(i, dict)}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)  # mlos_bench may store results as text
    except (TypeError, ValueError):
        return None


def _time(document: dict[str, Any], field: str) -> dt.datetime | None:
    value = document.get(field)
    return value if isinstance(value, dt.datetime) else None


def _trial(document: dict[str, Any], objectives: list[str], configs: dict[Any, dict[str, Any]]) -> ForeignTrial:
    status = str(document.get("status"))
    results = _pairs(document.get("results"))
    config = document.get("config_id")
    if isinstance(config, (list, dict)):
        raise TypeError(f"config_id {config!r:.40}")
    trial = ForeignTrial(
        id=str(document.get("_id")),
        number=int(document.get("trial_id") or 0),
        status=status,
        done=status == "SUCCEEDED",
        pending=status in _PENDING,
        params=configs.get(config, {}),
        values=[_number(results.get(target)) for target in objectives],
        start=_time(document, "ts_start"),
        end=_time(document, "ts_end"),
    )
    trial.details = {"config_id": document.get("config_id")}
    others = {k: v for k, v in results.items() if k not in objectives}
    if others:
        trial.details["other results"] = others
    if document.get("trial_runner_id") is not None:
        trial.details["trial_runner_id"] = document["trial_runner_id"]
    if _pairs(document.get("params")):
        trial.details["trial config"] = _pairs(document.get("params"))
    return trial


def read_mlos(db: docstore.Database, names: set[str], holdings: Holdings) -> None:
    """Add every mlos_bench experiment in ``db`` to ``holdings``, and what is wrong with the documents."""
    if EXPERIMENTS not in names:
        return
    configs = {
        doc.get("config_id"): _pairs(doc.get("params")) for doc in db[CONFIGS].find({"config_id": {"$exists": 1}})
    }
    by_experiment: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for document in db[TRIALS].find({"exp_id": {"$type": "string"}}, sort=[("exp_id", 1), ("trial_id", 1)]):
        by_experiment[document["exp_id"]].append(document)
    known = set()
    for document in db[EXPERIMENTS].find({}, sort=[("_id", 1)]):
        uid = document["_id"]
        known.add(uid)
        targets = [o for o in document.get("objectives") or [] if isinstance(o, dict)]
        objectives = [str(o.get("target")) for o in targets]
        directions = [_DIRECTIONS.get(str(o.get("direction")), str(o.get("direction"))) for o in targets]
        experiment = ForeignExperiment(MLOS, str(uid), str(uid), objectives, directions)
        experiment.details = {
            key: document.get(key) for key in ("description", "root_env_config", "git_repo", "git_commit")
        }
        for trial in by_experiment.get(uid, []):
            try:
                experiment.trials.append(_trial(trial, objectives, configs))
            except (TypeError, ValueError) as exc:
                holdings.findings.append(f"{TRIALS}: {trial.get('_id')!r} is not an mlos_bench trial ({exc})")
        holdings.findings.extend(_trial_findings(document, by_experiment.get(uid, []), configs))
        holdings.experiments.append(experiment)
    for uid, trials in by_experiment.items():
        if uid not in known:
            holdings.findings.append(
                f"{TRIALS}: {plural(len(trials), 'trial')} of experiment {uid!r}, which does not exist"
            )
    holdings.sources[MLOS] = f"collections {EXPERIMENTS}, {TRIALS}, {CONFIGS}"


def _trial_findings(experiment: dict[str, Any], trials: list[dict[str, Any]], configs: dict[Any, Any]) -> list[str]:
    findings = []
    last = experiment.get("last_trial_id")
    for trial in trials:
        name = f"{TRIALS}: trial {trial.get('_id')!r}"
        if isinstance(last, int) and isinstance(trial.get("trial_id"), int) and trial["trial_id"] > last:
            findings.append(f"{name} has an id past its experiment's counter (last_trial_id {last})")
        if not isinstance(trial.get("config_id"), (int, str)) or trial["config_id"] not in configs:
            findings.append(f"{name} points at config {trial.get('config_id')!r}, which does not exist")
    return findings
