"""Helpers of the storage-protocol suites: an experiment and trials to test on, a trial as stored."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from docstore.storage import Storage, Trial

__all__ = ["T0", "add_trials", "make_experiment", "stored"]

T0 = _dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc)


def make_experiment(storage: Storage, name: str = "exp", version: int = 1, **fields: Any) -> dict[str, Any]:
    config = {
        "name": name,
        "version": version,
        "space": {"x": "uniform(0, 10)"},
        "algorithm": {"random": {"seed": 1}},
        "metadata": {"user": "me", "datetime": T0},
        "refers": {"parent_id": None, "root_id": None, "adapter": []},
        "max_trials": 10,
        "max_broken": 3,
        "working_dir": "/tmp/w",
        **fields,
    }
    return storage.create_experiment(config)


def add_trials(storage: Storage, uid: str, statuses: list[str], start: int = 0) -> list[Trial]:
    """One trial per status, params ``x = start + i``, submitted one minute apart (oldest first)."""
    out = []
    for i, status in enumerate(statuses, start):
        trial = Trial(experiment=uid, status=status, params={"x": float(i)}, submit_time=T0 + _dt.timedelta(minutes=i))
        out.append(storage.register_trial(trial))
    return out


def stored(storage: Storage, trial: Trial) -> Trial:
    found = storage.get_trial(trial)
    assert found is not None
    return found
