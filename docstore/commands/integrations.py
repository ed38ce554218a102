"""Commands that hand over to an integration package: ``dashboard`` and ``import-orion``.

The integrations live in their own import packages (``docstore_optuna``, ``docstore_orion``)
with their own optional dependencies; the core never imports them by name, so they are
loaded here with :func:`importlib.import_module` and a missing one gives the pip extra.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
from types import ModuleType

from docstore.errors import MissingDependency
from docstore.extras import install_command

from .common import resolve_uri

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


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Serve optuna-dashboard on a docstore store (blocks until interrupted)."""
    dashboard = _integration("docstore_optuna.dashboard", "dashboard")
    uri = resolve_uri(args.uri)
    print(f"optuna-dashboard on http://{args.host}:{args.port}/ for {uri} (Ctrl-C stops it)")
    dashboard.serve(uri, host=args.host, port=args.port)
    return 0


def cmd_import_orion(args: argparse.Namespace) -> int:
    """Copy an Orion PickledDB file into a docstore store."""
    if not os.path.isfile(args.pickle):  # first: a missing file is the answer, Orion installed or not
        raise FileNotFoundError(errno.ENOENT, "no Orion PickledDB file here", args.pickle)
    orion = _integration(
        "docstore_orion", "orion", "uv pip install", " (pip 26.3 and later refuse Orion 0.2.7: see docs/orion.md)"
    )
    summary = orion.import_pickleddb(args.pickle, resolve_uri(args.destination))
    print(summary if summary is not None else "imported")
    return 0
