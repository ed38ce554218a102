"""``docstore plot EXPERIMENT -o regret.png``: each completed trial's objective, and the best so far.

matplotlib is an optional extra (from a clone: ``pip install -e ".[plot]"``); without it the
command says so, with the command that installs it, and exits 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from docstore.errors import MissingDependency
from docstore.extras import install_command

from .common import TRIALS, describe_uri, find_experiment, make_console, objective_of, open_store, resolve_uri
from .terminal import markup, plural, printable

__all__ = ["cmd_plot", "objective_series"]


def objective_series(trials: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """Objectives in completion order, and the running minimum."""
    far_future = dt.datetime.max.replace(tzinfo=dt.timezone.utc)

    def finished(trial: dict[str, Any]) -> Any:
        end = trial.get("end_time")
        return (end if isinstance(end, dt.datetime) else far_future, str(trial["_id"]))

    objectives = [o for o in (objective_of(t) for t in sorted(trials, key=finished)) if o is not None]
    best: list[float] = []
    for value in objectives:
        best.append(value if not best else min(best[-1], value))
    return objectives, best


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        install = install_command("plot")
        raise MissingDependency(
            f"docstore plot needs matplotlib, which is not installed: {install}", package=install
        ) from exc
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    return plt


def cmd_plot(args: argparse.Namespace) -> int:
    plt = _pyplot()
    uri = resolve_uri(args.uri)
    with open_store(uri) as db:
        experiment = find_experiment(db, args.experiment, args.version)
        trials = db[TRIALS].find({"experiment": experiment["_id"], "status": "completed"}).to_list()
    objectives, best = objective_series(trials)
    title = f"{experiment.get('name')} v{experiment.get('version')}: {plural(len(objectives), 'completed trial')}"
    figure, axes = plt.subplots(figsize=(8, 4.5))
    numbers = list(range(1, len(objectives) + 1))
    axes.scatter(numbers, objectives, s=12, alpha=0.6, label="objective")
    axes.step(numbers, best, where="post", color="tab:red", label="best so far")
    if objectives and min(objectives) > 0:
        axes.set_yscale("log")
    axes.set_xlabel("trial (in completion order)")
    axes.set_ylabel("objective")
    axes.set_title(printable(title).replace("$", r"\$"))  # a stored name is text, not mathtext
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(args.output, dpi=120)
    plt.close(figure)
    summary = f"best {best[-1]:.6g}" if best else "no completed trial yet"
    make_console().print(markup(f"wrote {args.output}: {title}, {summary} ({describe_uri(uri)})"))
    return 0
