"""``docstore check``: the invariant checker, and ``docstore compact``.

``check`` repairs nothing. It reports, one line each:

* the engine's own findings (``Database.check()``: a damaged journal, an index that
  disagrees with the documents, ...);
* unique keys that do not hold: every unique index of every collection, plus the
  protocol's keys even where no index declares them (experiments ``(name, version)``,
  trials ``(experiment, id)``);
* trials that point at an experiment that does not exist;
* reserved trials without a heartbeat (no worker can be declared lost: they stay reserved
  forever), and completed trials without an objective.

Exit status: 0 when there is no finding, 1 with the list of findings.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from typing import Any

import docstore

from .common import EXPERIMENTS, TRIALS, describe_uri, ejson_line, make_console, objective_of, open_store, resolve_uri

__all__ = ["PROTOCOL_UNIQUE_KEYS", "cmd_check", "cmd_compact", "find_problems"]

PROTOCOL_UNIQUE_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    EXPERIMENTS: (("name", "version"),),
    TRIALS: (("experiment", "id"),),
}
_MISSING = object()


def _value_at(document: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(document, dict) or part not in document:
            return None  # a unique index treats a missing field as null
        document = document[part]
    return document


def _key_text(value: Any) -> bytes:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 1 and 1.0 are the same key
    return ejson_line(value)


def _unique_key_findings(db: docstore.Database, collection: str, fields_list: list[tuple[str, ...]]) -> list[str]:
    findings = []
    projection = sorted({f for fields in fields_list for f in fields} | {"_id"})
    documents = db[collection].find({}, projection=projection).to_list()
    for fields in fields_list:
        seen: dict[tuple[bytes, ...], list[Any]] = defaultdict(list)
        for document in documents:
            seen[tuple(_key_text(_value_at(document, f)) for f in fields)].append(document["_id"])
        for key, ids in seen.items():
            if len(ids) > 1:
                shown = ", ".join(f"{f}={k.decode()}" for f, k in zip(fields, key, strict=True))
                findings.append(
                    f"{collection}: unique key ({', '.join(fields)}) broken: {len(ids)} documents have {shown} "
                    f"(_ids {', '.join(map(str, ids))})"
                )
    return findings


def _unique_keys(db: docstore.Database) -> list[str]:
    findings = []
    for collection in db.list_collection_names():
        keys = {
            tuple(f for f, _ in info["key"])
            for name, info in db[collection].index_information().items()
            if info.get("unique") and name != "_id_"
        }
        keys.update(PROTOCOL_UNIQUE_KEYS.get(collection, ()))
        if keys:
            findings.extend(_unique_key_findings(db, collection, sorted(keys)))
    return findings


def _trial_findings(db: docstore.Database) -> list[str]:
    experiments = {e["_id"] for e in db[EXPERIMENTS].find({}, projection={"_id": 1})}
    fields = {"_id": 1, "id": 1, "experiment": 1, "status": 1, "heartbeat": 1, "results": 1}
    findings = []
    for trial in db[TRIALS].find({}, projection=fields, sort=[("_id", 1)]):
        name = f"trial {trial['_id']}" + (f" (id {trial['id']})" if trial.get("id") not in (None, trial["_id"]) else "")
        experiment = trial.get("experiment", _MISSING)
        if experiment is _MISSING:
            findings.append(f"trials: {name} has no experiment")
        elif experiment not in experiments:
            findings.append(f"trials: {name} points at experiment {experiment!r}, which does not exist")
        if trial.get("status") == "reserved" and trial.get("heartbeat") is None:
            findings.append(f"trials: {name} is reserved without a heartbeat (it can never be found lost)")
        if trial.get("status") == "completed" and objective_of(trial) is None:
            findings.append(f"trials: {name} is completed without an objective result")
    return findings


def find_problems(db: docstore.Database) -> list[str]:
    """Every finding, engine-level first; an empty list means the store is sound."""
    return [*db.check(), *_unique_keys(db), *_trial_findings(db)]


def cmd_check(args: argparse.Namespace) -> int:
    uri = resolve_uri(args.uri)
    with open_store(uri) as db:
        findings = find_problems(db)
        experiments = db[EXPERIMENTS].count_documents({})
        trials = db[TRIALS].count_documents({})
    where = describe_uri(uri)
    if findings:
        print(f"{where}: {len(findings)} finding(s) in {experiments} experiments and {trials} trials:")
        for finding in findings:
            print(f"  - {finding}")
        sys.stdout.flush()
        return 1
    make_console().print(f"{where}: OK ({experiments} experiments, {trials} trials, no finding)")
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    uri = resolve_uri(args.uri)
    with open_store(uri) as db:
        db.compact()
    make_console().print(f"{describe_uri(uri)}: compacted")
    return 0
