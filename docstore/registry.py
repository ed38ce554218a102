"""URI scheme -> engine class, found lazily by name.

Like fsspec's registry: each known scheme maps to ``"module:Class"`` plus the command
that installs its dependencies, so the core never imports an adapter by name and a
missing optional dependency gives an error that says what to install. Third-party
engines register through the ``docstore.engines`` entry-point group
(``myscheme = "mypkg.engine:MyEngine"``) or :func:`register`.

An engine class is constructed as ``EngineClass.from_uri(parsed_uri)``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from docstore.errors import MissingDependency, UnknownScheme
from docstore.extras import install_command

if TYPE_CHECKING:
    from docstore.engine import Engine

__all__ = ["EngineEntry", "known_schemes", "load_engine_class", "register"]


@dataclass(frozen=True)
class EngineEntry:
    target: str
    """``"module:Class"``"""
    install: str
    """How to get its dependencies, for the error message (a built-in engine's is computed: see ``extra``)."""
    extra: str | None = None
    """A built-in engine's optional extra of docstore ("" for none): the command comes from install_command."""
    needs: str = ""
    """The packages the engine needs, as the error message names them."""

    def install_hint(self) -> str:
        return self.install if self.extra is None else install_command(self.extra)


_BUILTIN: dict[str, EngineEntry] = {
    "json": EngineEntry("docstore_jsonfile:JsonFileEngine", "", "", "filelock and orjson"),
    "memory": EngineEntry("docstore_jsonfile:MemoryEngine", "", "", "filelock and orjson"),
    "mongodb": EngineEntry("docstore_mongodb:MongoEngine", "", "mongodb", "pymongo"),
    "mongodb+srv": EngineEntry("docstore_mongodb:MongoEngine", "", "mongodb", "pymongo"),
    "mongomock": EngineEntry("docstore_mongodb:MongomockEngine", "", "mongomock", "mongomock and pymongo"),
}
_registered: dict[str, EngineEntry] = {}
_ENTRY_POINT_GROUP = "docstore.engines"


def register(scheme: str, target: str, install: str = "", *, clobber: bool = False) -> None:
    """Map ``scheme`` to ``"module:Class"`` (``install`` is shown when the import fails)."""
    scheme = scheme.lower()
    if not clobber and scheme in _all_entries():
        raise ValueError(f"scheme {scheme!r} is already registered; pass clobber=True to replace it")
    _registered[scheme] = EngineEntry(target, install or f"install the package that provides {target}")


def _entry_point_entries() -> dict[str, EngineEntry]:
    found: dict[str, EngineEntry] = {}
    for ep in entry_points(group=_ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        package = dist.name if dist is not None else ep.value.split(":")[0]
        found[ep.name.lower()] = EngineEntry(ep.value, f"pip install {package}")
    return found


def _all_entries() -> dict[str, EngineEntry]:
    return {**_BUILTIN, **_entry_point_entries(), **_registered}


def known_schemes() -> tuple[str, ...]:
    return tuple(sorted(_all_entries()))


def load_engine_class(scheme: str) -> type[Engine]:
    """The engine class for ``scheme``; raises UnknownScheme or MissingDependency."""
    scheme = scheme.lower()
    # Built-in and registered schemes skip the entry-point scan, which costs milliseconds.
    entry = _registered.get(scheme) or _BUILTIN.get(scheme)
    entries = {} if entry is not None else _all_entries()
    entry = entry or entries.get(scheme)
    if entry is None:
        known = tuple(sorted(entries))
        raise UnknownScheme(
            f"no docstore engine for scheme {scheme!r}; known schemes: {', '.join(known)} (or a path to a .json file)",
            scheme=scheme,
            known=known,
        )
    module_name, _, class_name = entry.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = repr(exc.name or module_name)
        needs = f"{entry.needs} ({missing} is not installed)" if entry.needs else f"{missing}, which is not installed"
        install = entry.install_hint()
        raise MissingDependency(f"the {scheme!r} engine needs {needs}: {install}", package=install) from exc
    cls: Any = getattr(module, class_name)
    return cls  # type: ignore[no-any-return]
