"""How ``experiments``, ``trials`` and ``show`` present Optuna studies and mlos_bench experiments.

Each is said to be what it is ("Optuna studies in ...", with the journal it was replayed
from); trials are named ``STUDY/NUMBER`` (Optuna) or ``EXPERIMENT/TRIAL_ID`` (mlos_bench), the
names ``docstore show`` takes. ``--status`` takes the program's own names (``COMPLETE``,
``SUCCEEDED``, ...) or docstore's (``completed``, ``broken``, ...); ``--where`` filters the
trial documents of mlos_bench (Optuna's trials are not documents: they are replayed).
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from rich.console import Console
from rich.table import Table

import docstore

from .common import CliError, describe_uri, format_number, format_time, make_console, write_csv, write_json
from .foreign import MLOS, OPTUNA, ForeignExperiment, ForeignTrial, Holdings
from .mlos_store import TRIALS as MLOS_TRIALS
from .terminal import markup

__all__ = [
    "also_known",
    "find_trial",
    "print_experiments",
    "print_trial",
    "print_trials",
    "summary_record",
    "summary_row",
]

_LABEL = {OPTUNA: ("Optuna study", "Optuna studies"), MLOS: ("mlos_bench experiment", "mlos_bench experiments")}
"""Per source: (one, several), as the titles and messages name them."""
_STATUSES = {
    OPTUNA: ("RUNNING", "COMPLETE", "PRUNED", "FAIL", "WAITING"),
    MLOS: ("UNKNOWN", "PENDING", "READY", "RUNNING", "SUCCEEDED", "CANCELED", "FAILED", "TIMED_OUT"),
}
_FROM_DOCSTORE = {
    OPTUNA: {"completed": "COMPLETE", "broken": "FAIL", "reserved": "RUNNING", "new": "WAITING"},
    MLOS: {"completed": "SUCCEEDED", "broken": "FAILED", "reserved": "RUNNING", "new": "PENDING"},
}
_STYLE = {"COMPLETE": "green", "SUCCEEDED": "green", "RUNNING": "yellow", "FAIL": "red", "FAILED": "red"}


def _best_value(experiment: ForeignExperiment) -> tuple[float | None, str]:
    best = experiment.best()
    if best is None or not best.values:
        return None, ""
    return best.values[0], best.id


def summary_record(experiment: ForeignExperiment) -> dict[str, Any]:
    """One study or mlos_bench experiment for ``experiments --format json``: ``source`` says which."""
    value, trial = _best_value(experiment)
    return {
        "source": experiment.source,
        "name": experiment.name,
        "id": experiment.ident,
        "objectives": dict(zip(experiment.objectives, experiment.directions, strict=True)),
        "trials": len(experiment.trials),
        "completed": sum(t.done for t in experiment.trials),
        "pending": sum(t.pending for t in experiment.trials),
        "best": value,
        "best_trial": trial or None,
        "created": experiment.created,
    }


def summary_row(experiment: ForeignExperiment) -> list[Any]:
    """A row under ``experiments --format csv``'s header (name, version, _id, ..., created, source)."""
    record = summary_record(experiment)
    row = [record["name"], None, record["id"], record["trials"], record["completed"], record["pending"]]
    return [*row, record["best"], record["created"], record["source"]]


def print_experiments(console: Console, uri: str, holdings: Holdings) -> None:
    for source in (OPTUNA, MLOS):
        found = holdings.of(source)
        if not found:
            continue
        title = f"{_LABEL[source][1]} in {describe_uri(uri)} ({holdings.sources[source]})"
        table = Table(title=markup(title), title_justify="left")
        done, other = ("complete", "pruned/failed") if source == OPTUNA else ("succeeded", "failed/other")
        for column in ("name", "objective", "trials", done, "pending", other, "best", "best trial", "started"):
            right = column in ("trials", done, "pending", other)
            table.add_column(column, justify="right" if right else "left", no_wrap=column in ("name", "best trial"))
        for experiment in found:
            record = summary_record(experiment)
            objectives = ", ".join(f"{o} ({d})" for o, d in record["objectives"].items())
            failed = record["trials"] - record["completed"] - record["pending"]
            cells = [record["name"], objectives, record["trials"], record["completed"], record["pending"], failed]
            started = format_time(record["created"]) if record["created"] else ""
            best = format_number(record["best"]) if record["best"] is not None else ""
            table.add_row(*(markup(format_number(c)) for c in cells), best, markup(record["best_trial"] or ""), started)
        console.print(table)


def also_known(message: str, holdings: Holdings, *, trials: bool = False) -> str:
    """``message``, plus the Optuna studies and mlos_bench experiments the store holds."""
    parts = [message]
    for source in (OPTUNA, MLOS):
        names = [e.name for e in holdings.of(source)]
        if names:
            parts.append(f"{_LABEL[source][1]}: {', '.join(names[:10])}{', ...' if len(names) > 10 else ''}")
            if trials and holdings.of(source)[0].trials:
                parts.append(f"their trials are named like {holdings.of(source)[0].trials[0].id}")
    return "; ".join(parts)


def _wanted_statuses(source: str, given: list[str]) -> set[str]:
    wanted = set()
    for status in given:
        name = _FROM_DOCSTORE[source].get(status, status.upper())
        if name not in _STATUSES[source]:
            known = ", ".join(_STATUSES[source])
            raise CliError(f"unknown status {status!r} for an {_LABEL[source][0]}; statuses: {known}")
        wanted.add(name)
    return wanted


def _matching_ids(db: docstore.Database, experiment: ForeignExperiment, where: dict[str, Any]) -> set[str] | None:
    if not where:
        return None
    if experiment.source == OPTUNA:
        raise CliError(
            "--where filters trial documents; an Optuna study's trials are replayed from its journal: use --status"
        )
    query = {"$and": [{"exp_id": experiment.ident}, where]}
    return {str(d["_id"]) for d in db[MLOS_TRIALS].find(query, projection={"_id": 1})}


def trial_record(trial: ForeignTrial, experiment: ForeignExperiment) -> dict[str, Any]:
    return {
        "id": trial.id,
        "number": trial.number,
        "status": trial.status,
        "params": trial.params,
        "values": dict(zip(experiment.objectives, trial.values, strict=False)),
        "start": trial.start,
        "end": trial.end,
        **trial.details,
    }


def print_trials(
    args: argparse.Namespace,
    uri: str,
    experiment: ForeignExperiment,
    statuses: list[str],
    where: dict[str, Any],
    db: docstore.Database,
) -> int:
    wanted = _wanted_statuses(experiment.source, statuses)
    ids = _matching_ids(db, experiment, where)
    matching = [t for t in experiment.trials if (not wanted or t.status in wanted) and (ids is None or t.id in ids)]
    trials = matching[: args.limit] if args.limit else matching
    if args.format in ("json", "jsonl"):
        write_json([trial_record(t, experiment) for t in trials], lines=args.format == "jsonl")
        return 0
    names = list(dict.fromkeys(name for t in experiment.trials for name in t.params))
    if args.format == "csv":
        header = ["id", "status", *names, *experiment.objectives, "start", "end"]
        rows = [[t.id, t.status, *(t.params.get(n) for n in names), *t.values, t.start, t.end] for t in trials]
        write_csv(header, rows)
        return 0
    from .inspect import duration, trials_title

    label = f"{_LABEL[experiment.source][0]} {experiment.name}"
    table = Table(title=trials_title(label, len(trials), len(matching), uri), title_justify="left")
    for column in ("#", "id", "status", *names, *experiment.objectives, "duration"):
        right = column not in ("id", "status")
        table.add_column(markup(column), justify="right" if right else "left", no_wrap=column == "id")
    best = experiment.best()
    for trial in trials:
        values = [markup(format_number(v)) for v in trial.values] + [""] * (
            len(experiment.objectives) - len(trial.values)
        )
        if best is trial and values:
            values[0] = f"[bold green]{values[0]}[/] *"
        style = _STYLE.get(trial.status, "white")
        table.add_row(
            str(trial.number),
            markup(trial.id),
            f"[{style}]{markup(trial.status)}[/]",
            *(markup(format_number(trial.params.get(n), 5)) for n in names),
            *values,
            duration(trial.start, trial.end),
        )
    console = make_console()
    console.print(table)
    if best is not None:
        note = "" if best in trials else f": {format_number(best.values[0])}, trial {best.id}, not in this list"
        console.print(f"* the best objective{markup(note)}. Details of one trial: docstore show {markup(best.id)}")
    return 0


def find_trial(holdings: Holdings, trial_id: str) -> tuple[ForeignExperiment, ForeignTrial] | None:
    for experiment in holdings.experiments:
        for trial in experiment.trials:
            if trial.id == trial_id:
                return experiment, trial
    return None


def print_trial(args: argparse.Namespace, experiment: ForeignExperiment, trial: ForeignTrial) -> int:
    record = trial_record(trial, experiment)
    if args.format == "json":
        write_json([record], lines=True)
        return 0
    title = markup(f"Trial {trial.id} of {_LABEL[experiment.source][0]} {experiment.name}")
    table = Table(show_header=False, title=title, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row(_LABEL[experiment.source][0].split(" ", 1)[-1], markup(f"{experiment.name}  ({experiment.ident})"))
    table.add_row("status", f"[{_STYLE.get(trial.status, 'white')}]{markup(trial.status)}[/]")
    for name, value in trial.params.items():
        table.add_row(markup(f"params.{name}"), markup(value if isinstance(value, str) else repr(value)))
    for objective, direction, value in zip(experiment.objectives, experiment.directions, trial.values, strict=False):
        table.add_row(markup(objective), f"{markup(format_number(value, 12))}  [dim]({markup(direction)})[/]")
    for key in ("start", "end"):
        value = getattr(trial, key)
        table.add_row(key, format_time(value) if isinstance(value, dt.datetime) else "")
    for key, value in trial.details.items():
        table.add_row(markup(key), markup(value))
    make_console().print(table)
    return 0
