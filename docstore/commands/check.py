"""``docstore check``: the invariant checker, and ``docstore compact``.

``check`` repairs nothing. It reports, one line each:

* the engine's own findings (``Database.check()``: a damaged journal, an index that
  disagrees with the documents, ...);
* unique keys that do not hold: every unique index of every collection, plus the
  protocol's keys even where no index declares them (experiments ``(name, version)``,
  trials ``(experiment, id)``);
* trials that point at an experiment that does not exist;
* reserved trials without a heartbeat (no worker can be declared lost: they stay reserved
  forever), and completed trials without an objective;
* documents the protocol cannot use: a trial without ``id``, ``experiment`` or ``status``,
  with a status that is not one of the six, with ``params`` or ``results`` that are not
  lists of ``{name, type, value}`` of a known type; an experiment without ``name`` or
  ``version``; each finding names the document's ``_id``;
* Optuna journals (``docstore_optuna``): a hole or an overlap between log batches, a batch
  that is not JSON, a log that cannot be replayed, a snapshot with chunks missing (never
  unpickled); mlos_bench stores (``docstore_mlos``): trials of no experiment, of no config,
  past their experiment's trial counter.

A store whose files are damaged (``StoreCorrupted``) is one finding too.

Exit status: 0 when there is no finding, 1 with the list of findings.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from typing import Any

import docstore
from docstore.errors import StoreCorrupted
from docstore.storage import STATUSES
from docstore.storage.documents import PARAM_TYPES, RESULT_TYPES

from .common import EXPERIMENTS, TRIALS, describe_uri, ejson_line, make_console, objective_of, open_store, resolve_uri
from .foreign import MLOS, OPTUNA, Holdings, read_holdings
from .terminal import markup, plural, printable

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


def _value_list_findings(trial: dict[str, Any], field: str, types: tuple[str, ...]) -> list[str]:
    values = trial.get(field)
    if values is None:
        return []
    if not isinstance(values, list):
        return [f"its {field} is a {type(values).__name__}, not a list of {{name, type, value}}"]
    findings = []
    for i, item in enumerate(values):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or "value" not in item:
            findings.append(f"its {field}[{i}] is not a {{name, type, value}}")
        elif item.get("type") not in types:
            findings.append(f"its {field}[{i}] has type {item.get('type')!r}, not one of {', '.join(types)}")
    return findings


def _trial_document_findings(trial: dict[str, Any]) -> list[str]:
    """What makes a trial unusable by the protocol (a missing or unknown status, a malformed param, ...)."""
    findings = [f"has no {field}" for field in ("id", "status") if trial.get(field) is None]
    status = trial.get("status")
    if status is not None and status not in STATUSES:
        findings.append(f"has status {status!r}, not one of {', '.join(STATUSES)}")
    findings.extend(_value_list_findings(trial, "params", PARAM_TYPES))
    findings.extend(_value_list_findings(trial, "results", RESULT_TYPES))
    return findings


def _experiment_findings(db: docstore.Database) -> list[str]:
    findings = []
    for experiment in db[EXPERIMENTS].find({}, projection={"_id": 1, "name": 1, "version": 1}, sort=[("_id", 1)]):
        if not isinstance(experiment.get("name"), str):
            findings.append(f"experiments: experiment {experiment['_id']} has no name")
        version = experiment.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            findings.append(f"experiments: experiment {experiment['_id']} has no integer version")
    return findings


def _trial_findings(db: docstore.Database) -> list[str]:
    experiments = {e["_id"] for e in db[EXPERIMENTS].find({}, projection={"_id": 1})}
    fields = {"_id": 1, "id": 1, "experiment": 1, "status": 1, "heartbeat": 1, "params": 1, "results": 1}
    findings: list[str] = []
    for trial in db[TRIALS].find({}, projection=fields, sort=[("_id", 1)]):
        name = f"trial {trial['_id']}" + (f" (id {trial['id']})" if trial.get("id") not in (None, trial["_id"]) else "")
        findings.extend(f"trials: {name} {problem}" for problem in _trial_document_findings(trial))
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


def find_problems(db: docstore.Database, holdings: Holdings | None = None) -> list[str]:
    """Every finding, engine-level first; an empty list means the store is sound."""
    foreign = (holdings or read_holdings(db)).findings
    return [*db.check(), *_unique_keys(db), *_experiment_findings(db), *_trial_findings(db), *foreign]


def _contents(db: docstore.Database, holdings: Holdings) -> str:
    """What the store holds, for people: ``3 experiments, 120 trials; 1 Optuna study (40 trials)``."""
    experiments, trials = db[EXPERIMENTS].count_documents({}), db[TRIALS].count_documents({})
    parts = []
    if experiments or trials or not holdings.experiments:
        parts.append(f"{plural(experiments, 'experiment')}, {plural(trials, 'trial')}")
    for source, noun in ((OPTUNA, "Optuna study"), (MLOS, "mlos_bench experiment")):
        found = holdings.of(source)
        if source in holdings.sources:
            count = plural(len(found), noun, "Optuna studies" if source == OPTUNA else None)
            parts.append(f"{count} ({plural(sum(len(e.trials) for e in found), 'trial')})")
    return "; ".join(parts)


def cmd_check(args: argparse.Namespace) -> int:
    uri = resolve_uri(args.uri)
    where = describe_uri(uri)
    try:
        with open_store(uri) as db:
            holdings = read_holdings(db)
            findings = find_problems(db, holdings)
            contents = _contents(db, holdings)
    except StoreCorrupted as exc:  # damaged files: the finding that matters, and nothing else can be read
        print(printable(f"{where}: 1 finding: the store cannot be opened:"))
        print(f"  - {printable(exc)}")
        sys.stdout.flush()
        return 1
    if findings:
        print(printable(f"{where}: {plural(len(findings), 'finding')} in {contents}:"))
        for finding in findings:
            print(f"  - {printable(finding)}")
        sys.stdout.flush()
        return 1
    make_console().print(markup(f"{where}: OK ({contents}; no finding)"))
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    uri = resolve_uri(args.uri)
    with open_store(uri) as db:
        db.compact()
    make_console().print(markup(f"{describe_uri(uri)}: compacted"))
    return 0
