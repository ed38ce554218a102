"""The ``mongodb://`` engine when the server misbehaves (a scripted server from mockupdb).

A dropped connection, a "not primary" answer or a server that never answers must give a
clear docstore error (``EngineUnavailable``), or a transparent retry where pymongo retries
writes (a replica-set primary that labels the error retryable) — and never hang.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import docstore
from docstore.errors import EngineUnavailable

mockupdb = pytest.importorskip("mockupdb", reason="mockupdb is not installed (pip install -e '.[dev]')")
pytest.importorskip("pymongo", reason="pymongo is not installed")

pytestmark = pytest.mark.timeout(60)

NOT_PRIMARY = 10107


class ScriptedServer:
    """A mockupdb server answering the handshake, with a handler for everything else."""

    def __init__(self, *, replica_set: bool) -> None:
        self.server = mockupdb.MockupDB(request_timeout=5)
        self.server.run()
        hello: dict[str, Any] = {
            "ismaster": True,
            "isWritablePrimary": True,
            "minWireVersion": 0,
            "maxWireVersion": 21,
            "logicalSessionTimeoutMinutes": 30,
        }
        if replica_set:
            address = self.server.address_string
            hello.update(setName="rs", hosts=[address], primary=address)
        self.server.autoresponds("ismaster", hello)
        self.server.autoresponds("hello", hello)
        self.replica_set = replica_set
        self.received: list[str] = []
        self.handlers: dict[str, Callable[[Any, int], bool]] = {}
        self.server.autoresponds(self._dispatch)

    def _dispatch(self, request: Any) -> bool | None:
        name = request.command_name
        if name in ("ismaster", "hello"):
            return None
        if name == "endSessions":
            return bool(request.ok())
        self.received.append(name)
        handler = self.handlers.get(name)
        if handler is None:
            return bool(request.command_err(code=59, errmsg=f"no script for {name}"))
        return handler(request, self.received.count(name))

    def uri(self, options: str = "") -> str:
        query = "serverSelectionTimeoutMS=1000" + (f"&{options}" if options else "")
        if self.replica_set:
            query += "&replicaSet=rs"
        return f"mongodb://{self.server.address_string}/faults?{query}"

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def standalone() -> Iterator[ScriptedServer]:
    server = ScriptedServer(replica_set=False)
    yield server
    server.stop()


@pytest.fixture
def primary() -> Iterator[ScriptedServer]:
    server = ScriptedServer(replica_set=True)
    yield server
    server.stop()


def _not_primary(request: Any, attempt: int) -> bool:
    return bool(request.command_err(code=NOT_PRIMARY, errmsg="not primary", errorLabels=["RetryableWriteError"]))


def test_dropped_connection_is_engine_unavailable(standalone: ScriptedServer) -> None:
    standalone.handlers["find"] = lambda request, attempt: bool(request.hangup())
    with docstore.connect(standalone.uri()) as database:
        with pytest.raises(EngineUnavailable) as caught:
            database["c"].find_one({"_id": "x"})
    assert standalone.server.address_string in str(caught.value)
    assert standalone.received.count("find") == 2  # pymongo retried the read once, then gave up
    assert caught.value.__cause__ is not None


def test_not_primary_on_a_standalone_is_engine_unavailable(standalone: ScriptedServer) -> None:
    standalone.handlers["insert"] = _not_primary
    with docstore.connect(standalone.uri()) as database:
        with pytest.raises(EngineUnavailable) as caught:
            database["c"].insert_one({"_id": "x"})
    assert "not primary" in str(caught.value)
    assert standalone.received == ["insert"]  # writes to a standalone are not retried


def test_not_primary_on_a_replica_set_is_retried_transparently(primary: ScriptedServer) -> None:
    def first_fails(request: Any, attempt: int) -> bool:
        if attempt == 1:
            return _not_primary(request, attempt)
        return bool(request.ok(n=1))

    primary.handlers["insert"] = first_fails
    with docstore.connect(primary.uri()) as database:
        assert database["c"].insert_one({"_id": "x"}).inserted_id == "x"
    assert primary.received == ["insert", "insert"]


def test_not_primary_every_time_gives_up_with_engine_unavailable(primary: ScriptedServer) -> None:
    primary.handlers["findAndModify"] = _not_primary
    with docstore.connect(primary.uri()) as database:
        with pytest.raises(EngineUnavailable):
            database["c"].find_one_and_update({"status": "new"}, {"$set": {"status": "reserved"}})
    assert primary.received == ["findAndModify", "findAndModify"]  # one retry, no more


def test_silent_server_times_out_instead_of_hanging(standalone: ScriptedServer) -> None:
    standalone.handlers["aggregate"] = lambda request, attempt: False  # never answered
    with docstore.connect(standalone.uri("socketTimeoutMS=300")) as database:
        with pytest.raises(EngineUnavailable) as caught:
            database["c"].count_documents({})
    assert "timed out" in str(caught.value)
