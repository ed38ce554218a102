"""URI parsing and redaction, the scheme registry, entry points and missing-dependency errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

import docstore
from docstore import registry
from docstore.engine import Engine
from docstore.errors import InvalidURI, MissingDependency, UnknownScheme
from docstore.uri import ParsedURI, parse_uri, redact

ROOT = Path(__file__).resolve().parents[1]
BUILTIN = ("json", "memory", "mongodb", "mongodb+srv", "mongomock")


# ----------------------------------------------------------------- parsing


def test_orion_format_with_several_hosts_and_options() -> None:
    parsed = parse_uri("mongodb://user:p%40ss@h1:27017,h2,h3:27018/orion_db?replicaSet=rs0&authSource=admin")
    assert parsed.scheme == "mongodb"
    assert (parsed.username, parsed.password) == ("user", "p@ss")
    assert parsed.hosts == (("h1", 27017), ("h2", None), ("h3", 27018))
    assert parsed.database == "orion_db"
    assert parsed.options == {"replicaSet": "rs0", "authSource": "admin"}


def test_ipv6_hosts() -> None:
    parsed = parse_uri("mongodb://[::1]:27017,[fe80::1%25eth0],[2001:db8::2]:1/db")
    assert parsed.hosts == (("::1", 27017), ("fe80::1%25eth0", None), ("2001:db8::2", 1))
    assert parsed.database == "db"


def test_srv() -> None:
    parsed = parse_uri("mongodb+srv://alice:pw@cluster0.example.net/study?retryWrites=true&w=majority")
    assert parsed.scheme == "mongodb+srv"
    assert parsed.hosts == (("cluster0.example.net", None),)
    assert (parsed.username, parsed.password, parsed.database) == ("alice", "pw", "study")
    assert parsed.options == {"retryWrites": "true", "w": "majority"}


def test_user_without_password_and_no_credentials() -> None:
    assert (parse_uri("mongodb://bob@h/db").username, parse_uri("mongodb://bob@h/db").password) == ("bob", None)
    bare = parse_uri("mongodb://h")
    assert (bare.username, bare.password, bare.database, bare.hosts) == (None, None, "", (("h", None),))


@pytest.mark.parametrize(
    ("uri", "scheme", "location"),
    [
        ("study.json", "json", "study.json"),
        ("/abs/dir/study.json", "json", "/abs/dir/study.json"),
        ("json:///abs/path/study.json?durable=false", "json", "/abs/path/study.json"),
        ("memory://", "memory", ""),
        ("mongomock://name", "mongomock", "name"),
        ("JSON:///x.json", "json", "/x.json"),
    ],
)
def test_file_paths_and_simple_schemes(uri: str, scheme: str, location: str) -> None:
    parsed = parse_uri(uri)
    assert (parsed.scheme, parsed.location) == (scheme, location)


def test_boolean_options() -> None:
    parsed = parse_uri("json:///x.json?durable=false&debug=1&other=no&empty=")
    assert parsed.option_bool("durable", True) is False
    assert parsed.option_bool("debug", False) is True
    assert parsed.option_bool("other", True) is False
    assert parsed.option_bool("absent", True) is True


def test_bad_port_is_invalid_uri_without_the_password() -> None:
    with pytest.raises(InvalidURI) as info:
        parse_uri("mongodb://u:s3cret@h1:27017,h2:notaport/db")
    assert "s3cret" not in str(info.value)
    assert info.value.uri == "mongodb://u:***@h1:27017,h2:notaport/db"
    assert "notaport" in str(info.value)
    assert isinstance(info.value, ValueError)


# --------------------------------------------------------------- redaction


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("mongodb://u:s3cret@h1,h2/db?x=1", "mongodb://u:***@h1,h2/db?x=1"),
        ("mongodb+srv://alice:s3cret@cluster0.example.net/", "mongodb+srv://alice:***@cluster0.example.net/"),
        ("mongodb://u:s3c@ret@h/db", "mongodb://u:***@h/db"),
        ("mongodb://u:s3c/ret@h/db", "mongodb://u:***@h/db"),
        ("mongodb://u@h/db", "mongodb://u@h/db"),
        ("mongodb://h/db?authSource=admin", "mongodb://h/db?authSource=admin"),
        ("study.json", "study.json"),
        ("memory://", "memory://"),
    ],
)
def test_redact(uri: str, expected: str) -> None:
    assert redact(uri) == expected


def test_parsed_uri_repr_and_str_hide_the_password() -> None:
    parsed = parse_uri("mongodb://u:s3cret@h/db")
    assert parsed.password == "s3cret"
    assert "s3cret" not in repr(parsed)
    assert "s3cret" not in str(parsed)
    assert "***" in repr(parsed)
    assert parsed.redacted == "mongodb://u:***@h/db"


# -------------------------------------------------------------- registry


class FakeEngine(Engine):
    """A do-nothing engine that keeps its URI unredacted, so the facade must redact it."""

    def __init__(self, parsed: ParsedURI) -> None:
        self.uri = parsed.raw
        self.closed = False

    @classmethod
    def from_uri(cls, parsed: ParsedURI, **options: Any) -> FakeEngine:
        return cls(parsed)

    def insert(self, collection: str, documents: Any) -> None:
        raise NotImplementedError

    def find(self, collection: str, filter: Any, **kwargs: Any) -> list[dict[str, Any]]:
        raise NotImplementedError

    def count(self, collection: str, filter: Any) -> int:
        raise NotImplementedError

    def find_one_and_update(self, collection: str, filter: Any, update: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def update(self, collection: str, filter: Any, update: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def delete(self, collection: str, filter: Any, **kwargs: Any) -> int:
        raise NotImplementedError

    def create_index(self, collection: str, index: Any) -> str:
        raise NotImplementedError

    def index_information(self, collection: str) -> Any:
        raise NotImplementedError

    def drop_index(self, collection: str, name: str) -> None:
        raise NotImplementedError

    def drop(self, collection: str) -> None:
        raise NotImplementedError

    def list_collections(self) -> list[str]:
        return []

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_module(monkeypatch: pytest.MonkeyPatch) -> str:
    """An importable module holding FakeEngine, and a registry with nothing registered yet."""
    module = types.ModuleType("docstore_fake_engine_for_tests")
    module.FakeEngine = FakeEngine  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(registry, "_registered", {})
    return module.__name__


def test_unknown_scheme_lists_known_schemes(fake_module: str) -> None:
    with pytest.raises(UnknownScheme) as info:
        docstore.connect("foo://u:s3cret@x/db")
    error = info.value
    assert error.scheme == "foo"
    assert set(BUILTIN) <= set(error.known)
    assert list(error.known) == sorted(error.known)
    for scheme in BUILTIN:
        assert scheme in str(error)
    assert "s3cret" not in str(error)
    assert isinstance(error, ValueError)


def test_register_and_connect(fake_module: str) -> None:
    registry.register("fake", f"{fake_module}:FakeEngine")
    assert "fake" in registry.known_schemes()
    with docstore.connect("FAKE://u:s3cret@host/db") as db:
        engine = db.engine
        assert isinstance(engine, FakeEngine)
        assert "s3cret" in engine.uri  # the fake keeps it; everything above must redact it
        assert "s3cret" not in repr(db)
        assert "s3cret" not in db.uri
        assert "s3cret" not in repr(db["c"])
        assert "***" in repr(db)
    assert engine.closed


def test_register_refuses_to_clobber(fake_module: str) -> None:
    registry.register("fake", f"{fake_module}:FakeEngine")
    with pytest.raises(ValueError, match="already registered"):
        registry.register("fake", f"{fake_module}:Other")
    with pytest.raises(ValueError, match="already registered"):
        registry.register("memory", f"{fake_module}:FakeEngine")
    registry.register("fake", f"{fake_module}:FakeEngine", clobber=True)


def test_missing_module_names_what_to_install(fake_module: str) -> None:
    registry.register("nodep", "docstore_module_that_does_not_exist:Engine", 'pip install "docstore[nodep]"')
    with pytest.raises(MissingDependency) as info:
        docstore.connect("nodep://u:s3cret@x")
    assert info.value.package == 'pip install "docstore[nodep]"'
    assert 'pip install "docstore[nodep]"' in str(info.value)
    assert "docstore_module_that_does_not_exist" in str(info.value)
    assert "s3cret" not in str(info.value)
    assert isinstance(info.value, ImportError)


def _entry_points(*found: EntryPoint) -> Any:
    def entry_points(*, group: str) -> list[EntryPoint]:
        return [ep for ep in found if ep.group == group]

    return entry_points


def test_entry_point_group(fake_module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        registry,
        "entry_points",
        _entry_points(
            EntryPoint(name="ThirdParty", value=f"{fake_module}:FakeEngine", group="docstore.engines"),
            EntryPoint(name="elsewhere", value=f"{fake_module}:FakeEngine", group="some.other.group"),
        ),
    )
    assert "thirdparty" in registry.known_schemes()
    assert "elsewhere" not in registry.known_schemes()
    with docstore.connect("thirdparty://x") as db:
        assert isinstance(db.engine, FakeEngine)


def test_entry_point_with_missing_package(fake_module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        registry,
        "entry_points",
        _entry_points(
            EntryPoint(name="gone", value="gone_engine_pkg.engine:Engine", group="docstore.engines"),
        ),
    )
    with pytest.raises(MissingDependency) as info:
        docstore.connect("gone://x")
    assert "gone_engine_pkg" in info.value.package
    assert "pip install" in str(info.value)


_WITHOUT = """
import json, sys
for module in {modules!r}:
    sys.modules[module] = None  # what an absent optional dependency looks like to import
import docstore
try:
    docstore.connect({uri!r})
except docstore.MissingDependency as exc:
    print(json.dumps({{"package": exc.package, "message": str(exc), "import_error": isinstance(exc, ImportError)}}))
else:
    print(json.dumps(None))
"""


@pytest.mark.parametrize(
    ("modules", "uri", "extra", "named"),
    [
        (["pymongo"], "mongodb://u:s3cret@127.0.0.1:1/db", "mongodb", "pymongo"),
        (["pymongo"], "mongodb+srv://u:s3cret@cluster.example.net/db", "mongodb", "pymongo"),
        (["mongomock"], "mongomock://name", "mongomock", "mongomock"),
        (["mongomock", "pymongo", "bson"], "mongomock://name", "mongomock", "mongomock"),
    ],
    ids=["mongodb", "mongodb+srv", "mongomock", "mongomock-without-pymongo"],
)
def test_missing_optional_dependency_names_the_package_and_the_extra(
    modules: list[str], uri: str, extra: str, named: str
) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "adapters")])}
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT.format(modules=modules, uri=uri)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome is not None, f"connect({uri!r}) worked without {modules}"
    # docstore is not on the package index: the command installs the extra the way docstore was installed
    assert outcome["package"].startswith("pip install ")
    assert f"[{extra}]" in outcome["package"]
    assert outcome["package"] in outcome["message"]
    assert f"needs {named}" in outcome["message"]
    assert "s3cret" not in outcome["message"]
    assert outcome["import_error"] is True
