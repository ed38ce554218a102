"""How to install one of docstore's optional extras, for the way docstore was installed here.

docstore is not on the package index: ``pip install "docstore[plot]"`` fails for a user who
installed it from a clone, where ``pip install -e ".[plot]"`` is what works. Every "not
installed" message takes its command from :func:`install_command`:

* docstore runs from a clone (an editable install, or a checkout on ``PYTHONPATH``):
  ``pip install -e ".[plot]"`` when the clone is the current folder, else with its path;
* installed from a local folder, a wheel or sdist file, or a git URL: the same source again,
  read from the installed distribution's ``direct_url.json`` (PEP 610);
* installed from a package index: ``pip install "docstore[plot]"``.
"""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["install_command"]

_CHECKOUT = Path(__file__).resolve().parent.parent


def _folder_spec(folder: str, extra: str) -> str:
    try:
        here = os.path.samefile(folder, os.getcwd())
    except OSError:
        here = False
    brackets = f"[{extra}]" if extra else ""
    return f'".{brackets}"' if here else f'"{folder}{brackets}"'


def _direct_url() -> dict[str, object] | None:
    """docstore's PEP 610 record, ``{}`` when installed from an index, None when not installed."""
    try:
        distribution = metadata.distribution("docstore")
    except metadata.PackageNotFoundError:
        return None
    try:
        text = distribution.read_text("direct_url.json")
        found = json.loads(text) if text else {}
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _checkout() -> Path | None:
    """The clone docstore runs from, if it does (its ``pyproject.toml`` names the project docstore)."""
    try:
        text = (_CHECKOUT / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return _CHECKOUT if 'name = "docstore"' in text else None


def install_command(extra: str, *, installer: str = "pip install") -> str:
    """The command that installs ``docstore[extra]``'s dependencies, e.g. ``pip install -e ".[plot]"``.

    ``extra=""`` names docstore itself (its required dependencies). ``installer`` replaces
    ``pip install`` (``uv pip install`` for Orion, which pip 26.3 refuses).
    """
    checkout = _checkout()
    if checkout is not None:
        return f"{installer} -e {_folder_spec(str(checkout), extra)}"
    named = f"docstore[{extra}]" if extra else "docstore"
    record = _direct_url() or {}
    url = record.get("url")
    if not isinstance(url, str) or not url:
        return f'{installer} "{named}"'
    parsed = urlparse(url)
    if parsed.scheme == "file" and isinstance(record.get("dir_info"), dict):
        return f"{installer} {_folder_spec(unquote(parsed.path), extra)}"
    vcs = record.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs"):
        url = f"{vcs['vcs']}+{url}"
    return f'{installer} "{named} @ {url}"'
