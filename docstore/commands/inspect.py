"""``docstore experiments``, ``docstore trials EXPERIMENT`` and ``docstore show TRIAL_ID``.

They read the stored documents through the facade, so they show exactly what is stored, on
every engine: rich tables in a terminal, JSON or CSV for scripts. Experiments in Orion's
layout (docstore's own protocol, the demo, Orion) come first; Optuna studies and mlos_bench
experiments kept in the same store are shown after them, said to be so
(:mod:`~docstore.commands.foreign_views`). Stored text reaches the terminal escaped
(:mod:`~docstore.commands.terminal`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

import orjson
from rich.table import Table

import docstore
from docstore.documents import from_ejson, to_ejson
from docstore.storage import PENDING, STATUSES

from . import foreign_views
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
from .foreign import read_holdings
from .terminal import markup, plural

__all__ = ["EXPERIMENT_HEADER", "cmd_experiments", "cmd_show", "cmd_trials", "find_trial", "parse_where"]

STATUS_STYLE = {
    "completed": "green",
    "reserved": "yellow",
    "broken": "red",
    "interrupted": "magenta",
    "suspended": "magenta",
    "new": "dim",
}
EXPERIMENT_HEADER = ["name", "version", "_id", "trials", "completed", "pending", "best objective", "created", "source"]
_MIN_PREFIX = 4


# ---------------------------------------------------------------- experiments


def created_at(experiment: Mapping[str, Any]) -> dt.datetime | None:
    """``metadata.datetime``, else the time docstore's (or MongoDB's) 24-hex-digit ``_id`` was made."""
    created = (experiment.get("metadata") or {}).get("datetime")
    if isinstance(created, dt.datetime):
        return created
    uid = experiment.get("_id")
    if isinstance(uid, str) and re.fullmatch(r"[0-9a-f]{24}", uid):
        return dt.datetime.fromtimestamp(int(uid[:8], 16), tz=dt.timezone.utc)
    return None


def cmd_experiments(args: argparse.Namespace) -> int:
    uri = resolve_uri(args.uri)
    with open_store(uri) as db:
        experiments = db[EXPERIMENTS].find({}, sort=[("name", 1), ("version", 1)]).to_list()
        stats = _trial_stats(db)
        holdings = read_holdings(db)
    if args.format in ("json", "jsonl"):
        records = [*experiments, *(foreign_views.summary_record(e) for e in holdings.experiments)]
        write_json(records, lines=args.format == "jsonl")
        return 0
    rows = []
    for experiment in experiments:
        counts, best = stats.get(experiment["_id"], (Counter(), None))
        pending = sum(counts[s] for s in (*PENDING, "reserved"))
        row = [experiment.get("name"), experiment.get("version"), experiment["_id"], counts.total()]
        rows.append([*row, counts["completed"], pending, best, created_at(experiment), "docstore"])
    if args.format == "csv":
        write_csv(EXPERIMENT_HEADER, [*rows, *(foreign_views.summary_row(e) for e in holdings.experiments)])
        return 0
    console = make_console()
    if not rows and not holdings.experiments:
        console.print(f"No experiment in {markup(describe_uri(uri))}. Run `docstore demo` to create one.")
        return 0
    if rows:
        table = Table(title=f"Experiments in {markup(describe_uri(uri))}", title_justify="left")
        for name in EXPERIMENT_HEADER[:-1]:
            right = name in ("version", "trials", "completed", "pending")
            table.add_column(name, justify="right" if right else "left", no_wrap=name in ("name", "_id"))
        for row in rows:
            table.add_row(
                *[format_time(v) if isinstance(v, dt.datetime) else markup(format_number(v)) for v in row[:-1]]
            )
        console.print(table)
    foreign_views.print_experiments(console, uri, holdings)
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
    return [s.strip() for s in text.split(",") if s.strip()] if text else []


def _check_statuses(statuses: list[str]) -> None:
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise CliError(f"unknown status {', '.join(map(repr, unknown))}; statuses: {', '.join(STATUSES)}")


def cmd_trials(args: argparse.Namespace) -> int:
    uri = resolve_uri(args.uri)
    where = parse_where(args.where)
    statuses = _statuses(args.status)
    with open_store(uri) as db:
        try:
            experiment = find_experiment(db, args.experiment, args.version)
        except CliError as missing:
            holdings = read_holdings(db)
            found = None if args.version is not None else holdings.named(args.experiment)
            if found is None:
                raise CliError(foreign_views.also_known(str(missing), holdings)) from None
            return foreign_views.print_trials(args, uri, found, statuses, where, db)
        _check_statuses(statuses)
        clauses: list[dict[str, Any]] = [{"experiment": experiment["_id"]}]
        if statuses:
            clauses.append({"status": {"$in": statuses}})
        if where:
            clauses.append(where)
        query = clauses[0] if len(clauses) == 1 else {"$and": clauses}
        trials = db[TRIALS].find(query, sort=[("submit_time", 1), ("_id", 1)], limit=args.limit or 0).to_list()
        matching = db[TRIALS].count_documents(query) if args.limit else len(trials)
        best = _best_of(db, experiment["_id"])
    if args.format in ("json", "jsonl"):
        write_json(trials, lines=args.format == "jsonl")
        return 0
    names = _param_names(experiment, trials)
    if args.format == "csv":
        fields = ("submit_time", "start_time", "end_time", "heartbeat", "worker")
        header = ["id", "_id", "status", *names, "objective", *fields]
        rows = []
        for trial in trials:
            params = [params_of(trial).get(n) for n in names]
            stored = [trial.get(f) for f in fields]
            rows.append([trial.get("id"), trial["_id"], trial.get("status"), *params, objective_of(trial), *stored])
        write_csv(header, rows)
        return 0
    _print_trials_table(uri, experiment, trials, names, matching, best)
    return 0


def _best_of(db: docstore.Database, experiment_id: Any) -> tuple[float, Any] | None:
    """The experiment's best (lowest) objective and the ``id`` of its trial, over all its completed trials."""
    found = None
    for trial in db[TRIALS].find({"experiment": experiment_id, "status": "completed"}, projection=["id", "results"]):
        objective = objective_of(trial)
        if objective is not None and (found is None or objective < found[0]):
            found = (objective, trial.get("id", trial["_id"]))
    return found


def _param_names(experiment: Mapping[str, Any], trials: list[dict[str, Any]]) -> list[str]:
    names = list((experiment.get("space") or {}).keys())
    for trial in trials:
        names.extend(n for n in params_of(trial) if n not in names)
    return names


def duration(start: Any, end: Any) -> str:
    if isinstance(start, dt.datetime) and isinstance(end, dt.datetime):
        return f"{(end - start).total_seconds():.3f}s"
    return ""


def trials_title(name: str, shown: int, matching: int, uri: str) -> str:
    count = plural(matching, "trial") if shown == matching else f"{shown} of {plural(matching, 'trial')}"
    return markup(f"{name}: {count} ({describe_uri(uri)})")


def _print_trials_table(
    uri: str,
    experiment: Mapping[str, Any],
    trials: list[dict[str, Any]],
    names: list[str],
    matching: int,
    best: tuple[float, Any] | None,
) -> None:
    console = make_console()
    name = f"{experiment.get('name')} v{experiment.get('version')}"
    table = Table(title=trials_title(name, len(trials), matching, uri), title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("id", no_wrap=True, overflow="fold")
    table.add_column("status")
    for param in names:
        table.add_column(markup(param), justify="right")
    table.add_column("objective", justify="right")
    table.add_column("duration", justify="right")
    best_shown = False
    for number, trial in enumerate(trials, 1):
        params = params_of(trial)
        status = str(trial.get("status"))
        objective = objective_of(trial)
        shown = markup(format_number(objective))
        if best is not None and objective == best[0] and trial.get("status") == "completed":
            shown, best_shown = f"[bold green]{shown}[/] *", True
        table.add_row(
            str(number),
            markup(trial.get("id", trial["_id"])),
            f"[{STATUS_STYLE.get(status, 'white')}]{markup(status)}[/]",
            *(markup(format_number(params.get(n), 5)) for n in names),
            shown,
            duration(trial.get("start_time"), trial.get("end_time")),
        )
    console.print(table)
    if best is not None:
        where = "" if best_shown else f": {format_number(best[0])}, trial {best[1]}, not in this list"
        console.print(f"* the experiment's best objective{markup(where)}. Details of one trial: docstore show TRIAL_ID")


# ---------------------------------------------------------------- show


def find_trial(db: docstore.Database, trial_id: str) -> dict[str, Any]:
    """The trial whose ``id`` or ``_id`` is ``trial_id``, or starts with it (at least 4 characters)."""
    trials = db[TRIALS]
    keys: list[Any] = [trial_id, int(trial_id)] if trial_id.isdigit() else [trial_id]  # PickledDB ids are numbers
    found = trials.find_one({"$or": [{"id": {"$in": keys}}, {"_id": {"$in": keys}}]})
    if found is not None:
        return found
    if len(trial_id) < _MIN_PREFIX:
        raise CliError(
            f"no trial {trial_id!r} in {describe_uri(db.uri)}, and an id prefix needs {_MIN_PREFIX} or more "
            "characters (list the ids with `docstore trials EXPERIMENT`)"
        )
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
        try:
            trial = find_trial(db, args.trial_id)
        except CliError as missing:
            holdings = read_holdings(db)
            found = foreign_views.find_trial(holdings, args.trial_id)
            if found is None:
                raise CliError(foreign_views.also_known(str(missing), holdings, trials=True)) from None
            return foreign_views.print_trial(args, *found)
        experiment = db[EXPERIMENTS].find_one({"_id": trial.get("experiment")})
    if args.format == "json":
        write_json([trial], lines=True)
        return 0
    console = make_console()
    title = markup(f"Trial {trial.get('id', trial['_id'])}")
    table = Table(show_header=False, title=title, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    where = "(missing!)" if experiment is None else markup(f"{experiment.get('name')} v{experiment.get('version')}")
    table.add_row("experiment", f"{where}  [dim]{markup(trial.get('experiment'))}[/]")
    for key, value in trial.items():
        if key in ("experiment", "params", "results"):
            continue
        if key == "error" and isinstance(value, Mapping):  # run_worker's record of a broken trial
            for part, text in value.items():
                table.add_row(markup(f"error.{part}"), markup(text, newlines=part == "traceback"))
            continue
        text = format_time(value) if isinstance(value, dt.datetime) else plain(value)
        if key == "status":
            text = f"[{STATUS_STYLE.get(str(value), 'white')}]{text}[/]"
        table.add_row(markup(key), text)
    for label, items in (("params", trial.get("params")), ("results", trial.get("results"))):
        for item in items or []:
            if isinstance(item, Mapping):
                kind = markup(item.get("type"))
                table.add_row(markup(f"{label}.{item.get('name')}"), f"{plain(item.get('value'))}  [dim]({kind})[/]")
    if duration(trial.get("start_time"), trial.get("end_time")):
        table.add_row("duration", duration(trial.get("start_time"), trial.get("end_time")))
    console.print(table)
    return 0


def plain(value: Any) -> str:
    """A stored value as markup-safe text: JSON for documents and lists, ``repr`` for floats."""
    if isinstance(value, (dict, list)):
        return markup(orjson.dumps(to_ejson(value)).decode())
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else markup(value)
