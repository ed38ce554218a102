"""The ``docstore`` command: a demo, inspection, dump/load/copy between engines, an invariant checker.

Every command reads the store named by ``--uri`` (or its positional URI), else
``$DOCSTORE_URI``, else ``./docstore.json``. Bad input (an unknown URI scheme, an
unreachable server, a corrupt file, bad JSON, an unknown experiment) gives one line on
stderr, password redacted, and exit status 2 -- never a traceback. ``check`` exits 1
when it has findings.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeAlias
from urllib.parse import quote

from docstore.commands.terminal import printable
from docstore.errors import DocstoreError
from docstore.uri import parse_uri, redact

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

Command = Callable[[argparse.Namespace], int]
_Subparsers: TypeAlias = "argparse._SubParsersAction[Any]"


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keep the epilog's examples as written."""


class _Parser(argparse.ArgumentParser):
    """Bad arguments give one line on stderr and exit 2, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        text = " ".join(printable(message).split())
        command = self.prog.partition(" ")[2]  # "demo" for "docstore demo"; "" for docstore itself
        where = f"{command}: " if command else ""
        self.exit(EXIT_USAGE, f"docstore: error: {where}{text} (see {self.prog} --help)\n")


def _examples(*lines: str) -> str:
    return "examples:\n" + textwrap.indent("\n".join(lines), "  ")


def _add_uri(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--uri",
        metavar="URI",
        help="the store: a .json path, json://, memory://, mongodb://, mongomock:// "
        "(default: $DOCSTORE_URI, else ./docstore.json)",
    )


def _add_positional_uri(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", nargs="?", metavar="URI", help="the store (same as --uri)")
    _add_uri(parser)


def _add_experiment(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", metavar="EXPERIMENT", help="an experiment name (its latest version) or _id")
    parser.add_argument("--version", type=int, metavar="N", help="that version of the experiment")


def _sub(
    subparsers: _Subparsers,
    name: str,
    summary: str,
    examples: Sequence[str],
    description: str = "",
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=summary, description=description or summary, epilog=_examples(*examples), formatter_class=_Formatter
    )
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"expected seconds between 0 and 3600, got {text}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _port(text: str) -> int:
    value = _positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number up to 65535, got {value}")
    return value


def _add_demo(subparsers: _Subparsers) -> None:
    demo = _sub(
        subparsers,
        "demo",
        "run a random search on Branin with N parallel workers and a live progress bar",
        [
            "docstore demo                                  # ./docstore.json, one worker per CPU",
            "docstore demo --workers 4 --trials 500",
            "docstore demo --uri mongomock://demo           # in process: threads instead of processes",
            "docstore demo --uri mongodb://localhost:27017/demo",
            "docstore demo                                  # again: resumes, or starts a new version",
        ],
        description=(
            "Run a random search on Branin's function with N parallel workers sharing one store, with a live\n"
            "progress bar, then a summary: throughput, the best trial, the commands to try next. Each worker is\n"
            "docstore.run_worker (reserve, evaluate, report, with a heartbeat). A second run resumes the\n"
            "experiment if it has trials left, else starts a new version. Ctrl-C sets the trials in flight to\n"
            "interrupted (none is left reserved); the next run resumes them."
        ),
    )
    _add_uri(demo)
    demo.add_argument("--workers", type=_positive, metavar="N", help="parallel workers (default: os.cpu_count())")
    demo.add_argument("--trials", type=_positive, default=100, metavar="N", help="trials to run (default: 100)")
    demo.add_argument("--seed", type=int, metavar="S", help="seed of the random search (default: random)")
    demo.add_argument("--name", default="demo-branin", help="experiment name (default: demo-branin)")
    demo.add_argument(
        "--trial-seconds",
        type=_seconds,
        metavar="S",
        help="simulated cost of one evaluation, as a real training run would take (default: 0.01 to 0.02)",
    )


def _add_inspection(subparsers: _Subparsers) -> None:
    experiments = _sub(
        subparsers,
        "experiments",
        "list the experiments, their trials and best objective",
        [
            "docstore experiments",
            "docstore experiments --uri mongodb://localhost:27017/demo --format json",
        ],
    )
    _add_uri(experiments)
    experiments.add_argument("--format", choices=("table", "json", "jsonl", "csv"), default="table")

    trials = _sub(
        subparsers,
        "trials",
        "list the trials of an experiment",
        [
            "docstore trials demo-branin",
            "docstore trials demo-branin --status completed --format csv > trials.csv",
            'docstore trials demo-branin --where \'{"results.value": {"$lt": 1}}\'',
            "docstore trials demo-branin --version 1 --format json | jq '.[0]'",
        ],
    )
    _add_experiment(trials)
    _add_uri(trials)
    trials.add_argument("--status", metavar="S[,S...]", help="only these statuses (new, reserved, completed, ...)")
    trials.add_argument("--where", metavar="JSON", help="a MongoDB-style filter on the trial documents")
    trials.add_argument("--limit", type=_positive, metavar="N", help="at most N trials")
    trials.add_argument("--format", choices=("table", "json", "jsonl", "csv"), default="table")

    show = _sub(
        subparsers,
        "show",
        "show one trial: status, times, params, results",
        [
            "docstore show 6f1c2a9e                         # an id, an _id, or the start of one",
            "docstore show 6f1c2a9e --format json",
        ],
    )
    show.add_argument("trial_id", metavar="TRIAL_ID", help="the trial's id or _id, or a prefix of it (4+ characters)")
    _add_uri(show)
    show.add_argument("--format", choices=("table", "json"), default="table")


def _add_transfer(subparsers: _Subparsers) -> None:
    dump = _sub(
        subparsers,
        "dump",
        "write a store as Extended JSON, one document per line",
        [
            "docstore dump > store.jsonl                    # one stream, a header line per collection",
            "docstore dump study.json -o backup/            # backup/trials.json ... like mongoexport",
            "mongoimport --db demo --collection trials --file backup/trials.json",
        ],
    )
    _add_positional_uri(dump)
    dump.add_argument(
        "-o",
        "--output",
        metavar="DIR|FILE.jsonl",
        help="a directory (one COLLECTION.json each), or a .jsonl file (default: stdout)",
    )

    load = _sub(
        subparsers,
        "load",
        "load a dump (or mongoexport files) into a store",
        [
            "docstore load mongodb://localhost:27017/demo backup/",
            "docstore load new.json store.jsonl",
            "docstore load study.json trials.json --collection trials   # one mongoexport file",
            "docstore dump a.json | docstore load b.json -",
        ],
    )
    load.add_argument("uri", metavar="URI", help="the destination store")
    load.add_argument("path", metavar="PATH", help="a dump directory, a .jsonl dump, a mongoexport file, or -")
    load.add_argument("--collection", metavar="NAME", help="PATH is one mongoexport file for this collection")
    load.add_argument("--merge", action="store_true", help="add to a non-empty store (identical documents skipped)")

    copy = _sub(
        subparsers,
        "copy",
        "copy a whole store to another engine, and verify it",
        [
            "docstore copy docstore.json mongodb://localhost:27017/demo",
            "docstore copy mongodb://db1/orion backup.json",
            "docstore copy a.json b.json --merge",
        ],
    )
    copy.add_argument("source", metavar="SRC_URI")
    copy.add_argument("destination", metavar="DST_URI")
    copy.add_argument("--merge", action="store_true", help="add to a non-empty destination")


def _add_maintenance(subparsers: _Subparsers) -> None:
    check = _sub(
        subparsers,
        "check",
        "check a store's invariants; exit 1 with the findings",
        [
            "docstore check",
            "docstore check mongodb://localhost:27017/demo || echo 'store needs attention'",
        ],
    )
    _add_positional_uri(check)

    compact = _sub(
        subparsers,
        "compact",
        "reclaim space (the JSON engine rewrites its snapshot)",
        [
            "docstore compact",
            "docstore compact study.json",
        ],
    )
    _add_positional_uri(compact)

    plot = _sub(
        subparsers,
        "plot",
        "plot each trial's objective and the best so far (needs matplotlib)",
        [
            "docstore plot demo-branin -o regret.png",
            'pip install -e ".[plot]"                      # in a clone of docstore, if matplotlib is missing',
        ],
    )
    _add_experiment(plot)
    _add_uri(plot)
    plot.add_argument("-o", "--output", default="regret.png", metavar="FILE", help="image file (default: regret.png)")


def _add_integrations(subparsers: _Subparsers) -> None:
    dashboard = _sub(
        subparsers,
        "dashboard",
        "serve optuna-dashboard on the Optuna studies of a store",
        [
            "docstore dashboard study.json --port 8080",
            "docstore dashboard                             # the .json store here that holds an Optuna study",
            'pip install -e ".[dashboard]"                 # in a clone of docstore, if optuna-dashboard is missing',
        ],
        description=(
            "Serve optuna-dashboard on the Optuna studies of a store (written with docstore_optuna). Without a\n"
            "URI: $DOCSTORE_URI, else the .json store of the current folder that holds an Optuna study. The\n"
            "store and the port are checked before the address is announced."
        ),
    )
    _add_positional_uri(dashboard)
    dashboard.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    dashboard.add_argument("--port", type=_port, default=8080, help="port (default: 8080)")
    dashboard.add_argument(
        "--collection",
        metavar="PREFIX",
        help="the Optuna journal, when a store holds several (default: the one there is)",
    )

    orion = _sub(
        subparsers,
        "import-orion",
        "copy an Orion PickledDB file (experiments, trials, ...) into a store",
        [
            "docstore import-orion orion_db.pkl study.json",
            "docstore import-orion ~/.local/share/orion/orion_db.pkl mongodb://localhost/orion",
        ],
    )
    orion.add_argument("pickle", metavar="ORION_DB.pkl")
    orion.add_argument("destination", metavar="DST_URI")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="docstore",
        description="docstore: hyperparameter-optimisation experiments and trials as documents,\n"
        "on a locked JSON file, MongoDB or mongomock, with identical semantics.",
        epilog=_examples(
            "docstore demo                     # Branin, one worker per CPU, in ./docstore.json",
            "docstore experiments",
            "docstore trials demo-branin --status completed",
            "docstore check",
            "docstore copy docstore.json mongodb://localhost:27017/demo",
            "",
            "The store: --uri URI, else $DOCSTORE_URI, else ./docstore.json.",
            "Exit status: 0 ok, 1 findings (check), 2 bad input or unreachable store, 130 interrupted.",
        ),
        formatter_class=_Formatter,
    )
    from docstore import __version__

    parser.add_argument("--version", action="version", version=f"docstore {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_demo(subparsers)
    _add_inspection(subparsers)
    _add_transfer(subparsers)
    _add_maintenance(subparsers)
    _add_integrations(subparsers)
    return parser


_COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "cmd_demo"),
    "experiments": ("inspect", "cmd_experiments"),
    "trials": ("inspect", "cmd_trials"),
    "show": ("inspect", "cmd_show"),
    "dump": ("transfer", "cmd_dump"),
    "load": ("transfer", "cmd_load"),
    "copy": ("transfer", "cmd_copy"),
    "check": ("check", "cmd_check"),
    "compact": ("check", "cmd_compact"),
    "plot": ("plot", "cmd_plot"),
    "dashboard": ("integrations", "cmd_dashboard"),
    "import-orion": ("integrations", "cmd_import_orion"),
}


def _command(name: str) -> Command:
    """The function behind a command, imported on use (``--help`` and each command stay quick to start)."""
    module, function = _COMMANDS[name]
    command: Command = getattr(importlib.import_module(f"docstore.commands.{module}"), function)
    return command


def _uris(args: argparse.Namespace) -> list[str]:
    return [u for u in (getattr(args, n, None) for n in ("uri", "source", "destination")) if isinstance(u, str)]


def _redacted(message: str, uris: list[str]) -> str:
    """``message`` with the passwords of the given URIs masked: in the URIs, and alone (4+ characters)."""
    for uri in uris:
        message = message.replace(uri, redact(uri))
        try:
            password = parse_uri(uri).password
        except DocstoreError:
            password = None
        if password and len(password) >= 4:  # a shorter one would mask letters all over the message
            for form in {password, quote(password, safe="")}:
                message = message.replace(form, "***")
    return message


def _fail(message: str, uris: list[str]) -> None:
    text = " ".join(printable(_redacted(message, uris)).split())  # one line, stored text escaped
    print(f"docstore: error: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    store = getattr(args, "store", None)
    if store is not None:
        if args.uri is not None and args.uri != store:
            parser.error(f"{args.command}: give the store once, as URI or as --uri")  # exits 2
        args.uri = store
    uris = _uris(args)
    try:
        return _command(args.command)(args)
    except KeyboardInterrupt:
        print("docstore: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `docstore trials x | head`: the reader left, nothing is wrong
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the final flush at exit does not fail again
        return EXIT_OK
    except DocstoreError as exc:
        _fail(str(exc) or type(exc).__name__, uris)
        return EXIT_USAGE
    except OSError as exc:  # a file that cannot be read or written, a refused connection
        _fail(str(exc) or type(exc).__name__, uris)
        return EXIT_USAGE
    except Exception as exc:
        if os.environ.get("DOCSTORE_DEBUG"):
            raise
        _fail(f"unexpected {type(exc).__name__}: {exc} (set DOCSTORE_DEBUG=1 for the traceback)", uris)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
