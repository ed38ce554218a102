"""``docstore demo``: a random search on Branin with N real workers sharing one store, shown live.

The parent creates (or resumes) the experiment, registers the trials, starts the workers
(:mod:`docstore.commands.workers`), polls ``count_completed_trials`` for a progress bar,
and ends with a table: throughput, the best trial, where the data is, what to try next.
Ctrl-C (or SIGTERM) stops the workers; every trial they held is set to ``interrupted``
with ``was="reserved"``, and the next ``docstore demo`` resumes the experiment.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import getpass
import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

import docstore
from docstore.documents import now
from docstore.errors import DuplicateKeyError, FailedUpdate
from docstore.storage import PENDING, Storage, Trial, release_lost_trials, setup_storage

from .common import describe_uri, format_number, make_console, objective_of, params_of, resolve_uri, uri_option
from .terminal import markup, plural
from .workers import BRANIN_DOMAIN, BRANIN_MINIMUM, ProcessPool, ThreadPool, WorkerSpec

__all__ = ["cmd_demo"]

_SINGULAR = {"processes": "process", "threads": "thread"}
POLL_SECONDS = 0.1
HEARTBEAT_SECONDS = 2.0
"""Workers beat after every trial (~15 ms); a reserved trial is lost after 5 missed beats, 10 s."""


@dataclass
class Plan:
    """The experiment this run works on, and what the user is told about it."""

    experiment: dict[str, Any]
    note: str
    to_register: int


# ---------------------------------------------------------------- the experiment


def _config(name: str, version: int, trials: int, seed: int, parent: dict[str, Any] | None) -> dict[str, Any]:
    """An experiment document in Orion's layout."""
    refers: dict[str, Any] = {"parent_id": None, "root_id": None, "adapter": []}
    if parent is not None:
        parent_refers = parent.get("refers") or {}
        refers = {"parent_id": parent["_id"], "root_id": parent_refers.get("root_id") or parent["_id"], "adapter": []}
    return {
        "name": name,
        "version": version,
        "space": {name: f"uniform({low:g}, {high:g})" for name, (low, high) in BRANIN_DOMAIN.items()},
        "algorithm": {"random": {"seed": seed}},
        "max_trials": trials,
        "max_broken": 3,
        "metadata": {
            "user": getpass.getuser(),
            "datetime": now(),
            "user_script": "docstore demo (Branin)",
            "docstore_version": docstore.__version__,
        },
        "refers": refers,
    }


def _count(storage: Storage, experiment: dict[str, Any], statuses: tuple[str, ...]) -> int:
    return storage.db["trials"].count_documents({"experiment": experiment["_id"], "status": {"$in": list(statuses)}})


def _seed_of(experiment: dict[str, Any]) -> int:
    return int(((experiment.get("algorithm") or {}).get("random") or {}).get("seed") or 0)


def _plan(storage: Storage, name: str, trials: int, seed: int) -> Plan:
    """Resume the latest version if it has trials left (or to register), else start a new version."""
    for _attempt in range(5):
        versions = sorted(storage.fetch_experiments({"name": name}), key=lambda e: e.get("version", 0))
        latest = versions[-1] if versions else None
        if latest is not None:
            recovered = release_lost_trials(storage, latest)  # from a killed run
            left = _count(storage, latest, (*PENDING, "reserved"))
            registered = storage.db["trials"].count_documents({"experiment": latest["_id"]})
            missing = max(0, int(latest.get("max_trials") or 0) - registered)  # a run stopped while registering
            if left or missing:
                done = _count(storage, latest, ("completed",))
                extra = f", {plural(recovered, 'lost trial')} recovered" if recovered else ""
                note = (
                    f"Resuming experiment [bold]{markup(name)}[/] v{latest['version']}: "
                    f"{plural(left + missing, 'trial')} left, {done} completed{extra}."
                )
                return Plan(latest, note, missing)
        version = latest["version"] + 1 if latest else 1
        try:
            experiment = storage.create_experiment(_config(name, version, trials, seed, latest))
        except DuplicateKeyError:
            continue  # another demo created this version at the same moment: look again
        if latest is None:
            note = f"Created experiment [bold]{markup(name)}[/] v1."
        else:
            note = (
                f"Experiment [bold]{markup(name)}[/] v{latest['version']} is complete; "
                f"starting a new version, v{version}."
            )
        return Plan(experiment, note, trials)
    raise DuplicateKeyError(f"could not create a new version of experiment {name!r}: other runs keep creating them")


def _register(storage: Storage, experiment: dict[str, Any], count: int) -> None:
    """Random search: the experiment's ``max_trials`` points drawn uniformly over Branin's domain, from its seed.

    The points already registered (the first ones drawn) are skipped, so a run stopped while
    registering is completed by the next one with the same points.
    """
    rng = random.Random(_seed_of(experiment))
    total = int(experiment.get("max_trials") or count)
    points = [
        [{"name": name, "type": "real", "value": rng.uniform(low, high)} for name, (low, high) in BRANIN_DOMAIN.items()]
        for _ in range(total)
    ]
    for params in points[total - count :]:
        with contextlib.suppress(DuplicateKeyError):  # registered already by a concurrent run: fine
            storage.register_trial(Trial(experiment=experiment["_id"], params=params))


# ---------------------------------------------------------------- running


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the demo the way Ctrl-C does (only the main thread may set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _watch(console: Console, storage: Storage, experiment_id: str, pool: ProcessPool | ThreadPool, total: int) -> None:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    started = time.monotonic()
    with Progress(*columns, console=console) as progress:
        first = storage.count_completed_trials(experiment_id)
        task = progress.add_task("trials", total=total, completed=first, rate="")
        while True:
            running = pool.alive()
            completed = storage.count_completed_trials(experiment_id)
            rate = (completed - first) / max(time.monotonic() - started, 1e-9)
            progress.update(task, completed=completed, rate=f"{rate:6.1f} trials/s")
            if not running:
                break
            time.sleep(POLL_SECONDS)


def _interrupt_held(storage: Storage, experiment_id: str, held: list[str]) -> int:
    """Set to interrupted every trial a stopped worker still holds; returns how many."""
    interrupted = 0
    for uid in held:
        trial = storage.get_trial(uid=uid, experiment_uid=experiment_id)
        if trial is None:
            continue
        with contextlib.suppress(FailedUpdate):
            storage.set_trial_status(trial, "interrupted", was="reserved")
            interrupted += 1
    return interrupted


@contextlib.contextmanager
def _shielded() -> Iterator[None]:
    """No second Ctrl-C while the workers' trials are being set to interrupted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def cmd_demo(args: argparse.Namespace) -> int:
    uri = resolve_uri(args.uri)
    with setup_storage(uri, heartbeat=HEARTBEAT_SECONDS) as storage:
        return _demo(args, uri, storage)


def _demo(args: argparse.Namespace, uri: str, storage: Storage) -> int:
    console = make_console()
    workers = args.workers or os.cpu_count() or 1
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    plan = _plan(storage, args.name, args.trials, seed)
    console.print(plan.note)
    if plan.to_register:
        _register(storage, plan.experiment, plan.to_register)
        console.print(
            f"Registered {plural(plan.to_register, 'trial')}: random search over x1 in [-5, 10], x2 in [0, 15]."
        )
    experiment_id = plan.experiment["_id"]
    total = storage.db["trials"].count_documents({"experiment": experiment_id})
    done_before = storage.count_completed_trials(experiment_id)
    spec = WorkerSpec(uri, experiment_id, HEARTBEAT_SECONDS)
    if args.trial_seconds is not None:
        spec = dataclasses.replace(spec, min_cost=args.trial_seconds, max_cost=args.trial_seconds)
    pool: ProcessPool | ThreadPool
    where = markup(describe_uri(uri))
    if storage.db.capabilities.multi_process:
        pool = ProcessPool(spec, workers)
    else:
        pool = ThreadPool(storage, spec, workers)
        console.print(f"{where} lives inside this process: running the workers as threads, not processes.")
    console.print(f"Starting {plural(workers, 'worker ' + _SINGULAR[pool.kind], 'worker ' + pool.kind)} on {where}.")
    started = time.monotonic()
    with _sigterm_as_interrupt():
        try:
            pool.start()
            _watch(console, storage, experiment_id, pool, total)
            pool.join()
        except KeyboardInterrupt:
            with _shielded():
                pool.stop()
                by_parent = _interrupt_held(storage, experiment_id, pool.held())
                completed = storage.count_completed_trials(experiment_id) - done_before
            console.print(
                f"[bold yellow]Interrupted[/]: {plural(completed, 'trial')} completed in this run; workers stopped, "
                f"their trials set to interrupted{f' ({by_parent} by the parent)' if by_parent else ''}. "
                f"Run `docstore demo{markup(uri_option(uri))}` again to resume.",
                soft_wrap=False,  # words wrap at the terminal's width, never mid-word
            )
            return 130
    wall = time.monotonic() - started
    errors = pool.errors()
    for error in errors:
        console.print(f"[red]worker failed:[/] {markup(error)}")
    trials = [t.to_dict() for t in storage.fetch_trials(experiment_id)]
    console.print()
    console.print(_summary(plan.experiment, trials, Run(pool.kind, workers, wall, done_before), uri))
    return 1 if errors else 0


# ---------------------------------------------------------------- the summary


@dataclass(frozen=True)
class Run:
    kind: str
    workers: int
    wall: float
    done_before: int


def fresh_folder(stem: str) -> str:
    """``stem/``, or ``stem-2/``, ``stem-3/``, ...: a folder name not taken in the current folder, for `dump -o`."""
    name, number = stem, 1
    while os.path.lexists(name):
        number += 1
        name = f"{stem}-{number}"
    return f"{name}/"


def _best(trials: list[dict[str, Any]]) -> dict[str, Any] | None:
    scored = [t for t in trials if objective_of(t) is not None]
    return min(scored, key=lambda t: objective_of(t) or 0.0) if scored else None


def _summary(experiment: dict[str, Any], trials: list[dict[str, Any]], run: Run, uri: str) -> Table:
    completed = [t for t in trials if t.get("status") == "completed"]
    this_run = len(completed) - run.done_before
    name = f"{experiment['name']} v{experiment['version']}"
    table = Table(show_header=False, title=f"docstore demo: {markup(name)}", title_justify="left", box=None)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("trials", f"{len(completed)} completed of {len(trials)} ({this_run} in this run)")
    table.add_row("workers", plural(run.workers, _SINGULAR[run.kind], run.kind))
    table.add_row("wall time", f"{run.wall:.2f} s")
    table.add_row("throughput", f"{this_run / run.wall:.1f} trials/s")
    best = _best(completed)
    uid = "TRIAL_ID"
    if best is not None:
        uid = str(best["id"])
        params = ", ".join(f"{k} = {format_number(v, 5)}" for k, v in params_of(best).items())
        table.add_row("best trial", markup(uid))
        table.add_row("  params", markup(params))
        table.add_row("  objective", f"{format_number(objective_of(best))}  (Branin's minimum: {BRANIN_MINIMUM})")
    table.add_row("data", markup(describe_uri(uri)))
    option = uri_option(uri)
    if run.kind == ThreadPool.kind:
        table.add_row(
            "note",
            "this store lives inside this process: its data is gone when the demo ends;\n"
            "run the demo on a .json file or mongodb:// to keep it",
        )
        return table
    commands = [
        f"docstore experiments{option}",
        f"docstore trials {experiment['name']}{option}",
        f"docstore show {uid}{option}",
        f"docstore check{option}",
        f"docstore plot {experiment['name']} -o regret.png{option}",
        f"docstore dump{option} -o {fresh_folder('backup')}",
        f"docstore demo{option}    # again: a new version",
    ]
    table.add_row("next", markup("\n".join(commands), newlines=True))
    return table
