"""Commands that hand over to an integration package: ``dashboard`` and ``import-orion``.

The integrations live in their own import packages (``docstore_optuna``, ``docstore_orion``)
with their own optional dependencies; the core never imports them by name, so they are
loaded here with :func:`importlib.import_module` and a missing one gives the command that
installs it. Everything a user can get wrong is checked before anything starts: the store
(it must exist, and be reachable from the dashboard's process), the port, the file to import.
"""

from __future__ import annotations

import argparse
import errno
import glob
import importlib
import os
import pickle
import socket
from types import ModuleType

from docstore.errors import DocstoreError, MissingDependency
from docstore.extras import install_command

from .common import URI_ENV, CliError, describe_uri, open_store, resolve_uri
from .foreign import OPTUNA, Holdings
from .optuna_journal import journal_prefixes, read_optuna
from .terminal import plural, printable

__all__ = ["cmd_dashboard", "cmd_import_orion"]


def _integration(module: str, extra: str, installer: str = "pip install", note: str = "") -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # MissingDependency too: the command says how, for how docstore was installed
        missing = exc.name or getattr(exc.__cause__, "name", None) or module
        install = install_command(extra, installer=installer)
        raise MissingDependency(
            f"this command needs {missing!r}, which is not installed: {install}{note}", package=install
        ) from exc


# ---------------------------------------------------------------- dashboard


def _studies(uri: str) -> tuple[list[str], int]:
    """The Optuna journal prefixes of the store at ``uri`` and how many studies they hold (the store must exist)."""
    with open_store(uri) as db:
        if not db.capabilities.multi_process:
            raise CliError(
                f"{describe_uri(uri)} lives inside the process that opened it: the dashboard would show an "
                "empty store; use a .json file or mongodb://"
            )
        names = set(db.list_collection_names())
        prefixes = journal_prefixes(db, names)
        holdings = Holdings()
        read_optuna(db, names, holdings)
    return prefixes, len(holdings.of(OPTUNA))


def _default_store() -> str:
    """``$DOCSTORE_URI``, else the one JSON store of the current folder that holds an Optuna study."""
    if os.environ.get(URI_ENV):
        return os.environ[URI_ENV]
    candidates = sorted(glob.glob("*.json"))
    holding = []
    for path in candidates:
        try:
            if _studies(path)[1]:
                holding.append(path)
        except (DocstoreError, OSError):
            continue  # not a docstore store (package.json, ...), or damaged: `docstore check PATH` says why
    if len(holding) == 1:
        return holding[0]
    if holding:
        raise CliError(f"several stores here hold Optuna studies ({', '.join(holding)}): name one")
    raise CliError(
        "no store in this folder holds an Optuna study"
        + (f" (looked at {', '.join(candidates)})" if candidates else "")
        + ": name one, e.g. `docstore dashboard study.json`"
    )


def _check_port(host: str, port: int) -> None:
    """Bind ``host:port`` once, the way the server will, so a port in use is an error before anything starts."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise CliError(f"cannot listen on host {host!r}: {exc.strerror}") from exc
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind(address)
        except OSError as exc:
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror} (pass another --port)") from exc


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Serve optuna-dashboard on a docstore store (blocks until interrupted)."""
    dashboard = _integration("docstore_optuna.dashboard", "dashboard")
    uri = resolve_uri(args.uri) if args.uri else _default_store()
    prefixes, studies = _studies(uri)
    if args.collection is not None and args.collection not in prefixes and studies:
        raise CliError(f"no Optuna journal {args.collection!r} in {describe_uri(uri)}; journals: {', '.join(prefixes)}")
    if args.collection is None and len(prefixes) > 1:
        raise CliError(f"{describe_uri(uri)} holds several Optuna journals: pick one with --collection {prefixes}")
    collection = args.collection or (prefixes[0] if prefixes else "optuna")
    _check_port(args.host, args.port)
    held = plural(studies, "Optuna study", "Optuna studies") if studies else "no Optuna study yet"
    print(printable(f"optuna-dashboard on http://{args.host}:{args.port}/ for {describe_uri(uri)} ({held})"))
    print("Ctrl-C stops it.", flush=True)
    dashboard.serve(uri, host=args.host, port=args.port, collection=collection)
    return 0


# ---------------------------------------------------------------- import-orion


def _check_pickleddb(path: str) -> None:
    """A PickledDB file is a pickle (protocol 2 or later: it starts with 0x80): say so when it is not one."""
    with open(path, "rb") as file:
        head = file.read(2)
    if head[:1] != b"\x80":
        raise CliError(f"{path} is not an Orion PickledDB file (not a pickle: it starts with {head!r})")


def cmd_import_orion(args: argparse.Namespace) -> int:
    """Copy an Orion PickledDB file into a docstore store (the user asks for it to be unpickled)."""
    if not os.path.isfile(args.pickle):  # first: a missing file is the answer, Orion installed or not
        raise FileNotFoundError(errno.ENOENT, "no Orion PickledDB file here", args.pickle)
    _check_pickleddb(args.pickle)
    orion = _integration(
        "docstore_orion", "orion", "uv pip install", " (pip 26.3 and later refuse Orion 0.2.7: see docs/orion.md)"
    )
    try:
        summary = orion.import_pickleddb(args.pickle, resolve_uri(args.destination))
    except DocstoreError:
        raise
    except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError, IndexError) as exc:
        raise CliError(
            f"{args.pickle} is not an Orion PickledDB file ({type(exc).__name__}: {exc}); nothing was imported"
        ) from exc
    print(printable(summary if summary is not None else "imported"))
    return 0
