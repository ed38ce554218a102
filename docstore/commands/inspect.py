"""``docstore experiments``, ``docstore trials EXPERIMENT`` and ``docstore show TRIAL_ID``.

They read the stored documents (Orion's layout) through the facade, so they show exactly
what is stored, on every engine: rich tables in a terminal, JSON or CSV for scripts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

import orjson
from rich.markup import escape
from rich.table import Table

import docstore
from docstore.documents import from_ejson, to_ejson
from docstore.storage import PENDING, STATUSES

from .common import (
    EXPERIMENTS,
    TRIALS,
    CliError,
    describe_uri,
    find_experiment,
    format_number,
    format_time,
    make_console,
    objective_of,
    open_store,
    params_of,
    resolve_uri,
    write_csv,
    write_json,
)

__all__ = ["cmd_experiments", "cmd_show", "cmd_trials", "find_trial", "parse_where"]

_STATUS_STYLE = {
    "completed": "green",
    "reserved": "yellow",
    "broken": "red",
    "interrupted": "magenta",
    "suspended": "magenta",
    "new": "dim",
}


# ---------------------------------------------------------------- experiments


def cmd_experiments(args: argparse.Namespace) -> int:
    uri = resolve_uri(args.uri)
    with open_store(uri) as db:
        experiments = db[EXPERIMENTS].find({}, sort=[("name", 1), ("version", 1)]).to_list()
        stats = _trial_stats(db)
    if args.format in ("json", "jsonl"):
        write_json(experiments, lines=args.format == "jsonl")
        return 0
    header = ["name", "version", "_id", "trials", "completed", "pending", "best objective", "created"]
    rows = []
    for experiment in experiments:
        counts, best = stats.get(experiment["_id"], (Counter(), None))
        pending = sum(counts[s] for s in (*PENDING, "reserved"))
        created = (experiment.get("metadata") or {}).get("datetime")
        rows.append(
            [
                experiment.get("name"),
                experiment.get("version"),
                experiment["_id"],
                counts.total(),
                counts["completed"],
                pending,
                best,
                created,
            ]
        )
    if args.format == "csv":
        write_csv(header, rows)
        return 0
    console = make_console()
    if not rows:
        console.print(f"No experiment in {describe_uri(uri)}. Run `docstore demo` to create one.")
        return 0
    table = Table(title=f"Experiments in {escape(describe_uri(uri))}", title_justify="left")
    for name in header:
        table.add_column(
            name,
            justify="right" if name in ("version", "trials", "completed", "pending") else "left",
            no_wrap=name in ("name", "_id"),
        )
    for row in rows:
        table.add_row(*[format_time(v) if isinstance(v, dt.datetime) else escape(format_number(v)) for v in row])
    console.print(table)
    return 0


def _trial_stats(db: docstore.Database) -> dict[Any, tuple[Counter[str], float | None]]:
    """Per experiment ``_id``: trials by status, and the best (lowest) objective."""
    stats: dict[Any, tuple[Counter[str], float | None]] = {}
    for trial in db[TRIALS].find({}, projection={"experiment": 1, "status": 1, "results": 1}):
        counts, best = stats.get(trial.get("experiment"), (Counter(), None))
        counts[str(trial.get("status"))] += 1
        objective = objective_of(trial)
        if objective is not None and (best is None or objective < best):
            best = objective
        stats[trial.get("experiment")] = (counts, best)
    return stats


# ---------------------------------------------------------------- trials


def parse_where(text: str | None) -> dict[str, Any]:
    """``--where`` as a filter: a JSON object, Extended JSON values allowed (``{"$date": ...}``)."""
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise CliError(f"--where is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise CliError(f'--where must be a JSON object such as \'{{"status": "completed"}}\', not {text!r}')
    decoded: dict[str, Any] = from_ejson(value)
    return decoded


def _statuses(text: str | None) -> list[str]:
    if not text:
        return []
    statuses = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise CliError(f"unknown status {', '.join(map(repr, unknown))}; statuses: {', '.join(STATUSES)}")
    return statuses


def cmd_trials(args: argparse.Namespace) -> int:
    uri = resolve_uri(args.uri)
    where = parse_where(args.where)
    statuses = _statuses(args.status)
    with open_store(uri) as db:
        experiment = find_experiment(db, args.experiment, args.version)
        clauses: list[dict[str, Any]] = [{"experiment": experiment["_id"]}]
        if statuses:
            clauses.append({"status": {"$in": statuses}})
        if where:
            clauses.append(where)
        query = clauses[0] if len(clauses) == 1 else {"$and": clauses}
        trials = db[TRIALS].find(query, sort=[("submit_time", 1), ("_id", 1)], limit=args.limit or 0).to_list()
    if args.format in ("json", "jsonl"):
        write_json(trials, lines=args.format == "jsonl")
        return 0
    names = _param_names(experiment, trials)
    if args.format == "csv":
        header = [
            "id",
            "_id",
            "status",
            *names,
            "objective",
            "submit_time",
            "start_time",
            "end_time",
            "heartbeat",
            "worker",
        ]
        rows = []
        for trial in trials:
            params = params_of(trial)
            rows.append(
                [
                    trial.get("id"),
                    trial["_id"],
                    trial.get("status"),
                    *(params.get(n) for n in names),
                    objective_of(trial),
                    trial.get("submit_time"),
                    trial.get("start_time"),
                    trial.get("end_time"),
                    trial.get("heartbeat"),
                    trial.get("worker"),
                ]
            )
        write_csv(header, rows)
        return 0
    _print_trials_table(uri, experiment, trials, names)
    return 0


def _param_names(experiment: Mapping[str, Any], trials: list[dict[str, Any]]) -> list[str]:
    names = list((experiment.get("space") or {}).keys())
    for trial in trials:
        names.extend(n for n in params_of(trial) if n not in names)
    return names


def _duration(trial: Mapping[str, Any]) -> str:
    start, end = trial.get("start_time"), trial.get("end_time")
    if isinstance(start, dt.datetime) and isinstance(end, dt.datetime):
        return f"{(end - start).total_seconds():.3f}s"
    return ""


def _print_trials_table(
    uri: str, experiment: Mapping[str, Any], trials: list[dict[str, Any]], names: list[str]
) -> None:
    console = make_console()
    name = f"{experiment.get('name')} v{experiment.get('version')}"
    title = escape(f"{name}: {len(trials)} trials ({describe_uri(uri)})")
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("id", no_wrap=True, overflow="fold")
    table.add_column("status")
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("objective", justify="right")
    table.add_column("duration", justify="right")
    best = min((o for o in map(objective_of, trials) if o is not None), default=None)
    for number, trial in enumerate(trials, 1):
        params = params_of(trial)
        status = str(trial.get("status"))
        objective = objective_of(trial)
        shown = format_number(objective)
        if objective is not None and objective == best:
            shown = f"[bold green]{shown}[/] *"
        table.add_row(
            str(number),
            escape(str(trial.get("id", trial["_id"]))),
            f"[{_STATUS_STYLE.get(status, 'white')}]{escape(status)}[/]",
            *(format_number(params.get(n), 5) for n in names),
            shown,
            _duration(trial),
        )
    console.print(table)
    if best is not None:
        console.print("* best objective. Details of one trial: docstore show TRIAL_ID")


# ---------------------------------------------------------------- show


def find_trial(db: docstore.Database, trial_id: str) -> dict[str, Any]:
    """The trial whose ``id`` or ``_id`` is ``trial_id``, or starts with it (at least 4 characters)."""
    trials = db[TRIALS]
    found = trials.find_one({"id": trial_id}) or trials.find_one({"_id": trial_id})
    if found is not None:
        return found
    matches: list[dict[str, Any]] = []
    if len(trial_id) >= 4:
        prefix = {"$regex": "^" + re.escape(trial_id)}
        matches = trials.find({"$or": [{"id": prefix}, {"_id": prefix}]}, limit=5).to_list()
    if len(matches) == 1:
        return matches[0]
    if matches:
        ids = ", ".join(str(m.get("id", m["_id"])) for m in matches)
        raise CliError(f"trial id {trial_id!r} is ambiguous: it starts {ids}; give more characters")
    raise CliError(f"no trial {trial_id!r} in {describe_uri(db.uri)} (list them with `docstore trials EXPERIMENT`)")


def cmd_show(args: argparse.Namespace) -> int:
    uri = resolve_uri(args.uri)
    with open_store(uri) as db:
        trial = find_trial(db, args.trial_id)
        experiment = db[EXPERIMENTS].find_one({"_id": trial.get("experiment")})
    if args.format == "json":
        write_json([trial], lines=True)
        return 0
    console = make_console()
    table = Table(show_header=False, title=escape(f"Trial {trial.get('id', trial['_id'])}"), title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    where = "(missing!)" if experiment is None else escape(f"{experiment.get('name')} v{experiment.get('version')}")
    table.add_row("experiment", f"{where}  [dim]{escape(str(trial.get('experiment')))}[/]")
    shown = {"experiment", "params", "results"}
    for key, value in trial.items():
        if key in shown:
            continue
        text = format_time(value) if isinstance(value, dt.datetime) else _plain(value)
        if key == "status":
            text = f"[{_STATUS_STYLE.get(str(value), 'white')}]{text}[/]"
        table.add_row(key, text)
    for label, items in (("params", trial.get("params")), ("results", trial.get("results"))):
        for item in items or []:
            if isinstance(item, Mapping):
                kind = escape(str(item.get("type")))
                table.add_row(f"{label}.{item.get('name')}", f"{_plain(item.get('value'))}  [dim]({kind})[/]")
    if _duration(trial):
        table.add_row("duration", _duration(trial))
    console.print(table)
    return 0


def _plain(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return escape(orjson.dumps(to_ejson(value)).decode())
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else escape(str(value))
