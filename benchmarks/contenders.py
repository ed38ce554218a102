"""The stores compared by ``python -m benchmarks``: how each is filled, opened and worked.

Every contender runs the same loop, one trial at a time, until nothing is pending (or
its share / the time budget is used up): reserve -> one heartbeat -> push results ->
complete (``was="reserved"``) for the storage protocols (docstore's and Orion's); ask ->
tell for Optuna. ``prepare`` builds the store (untimed) with ``size`` trials registered;
``open`` / ``step`` / ``close`` run in each worker (a process, or a thread for stores
that live inside this process).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import random
import types
from typing import Any

PROCESSES, THREADS = "processes", "threads"
SPACE = {"x1": (-5.0, 10.0), "x2": (0.0, 15.0)}


def _experiment_config() -> dict[str, Any]:
    return {
        "name": "bench",
        "version": 1,
        "space": {name: f"uniform({low:g}, {high:g})" for name, (low, high) in SPACE.items()},
        "algorithm": {"random": {"seed": 1}},
        "max_trials": 10**9,
        "metadata": {"user": "bench", "datetime": dt.datetime.now(dt.timezone.utc)},
        "refers": {"parent_id": None, "root_id": None, "adapter": []},
    }


def _points(size: int) -> list[list[dict[str, Any]]]:
    rng = random.Random(size)
    return [
        [{"name": name, "type": "real", "value": rng.uniform(low, high)} for name, (low, high) in SPACE.items()]
        for _ in range(size)
    ]


class Contender:
    """One store; subclasses say how to fill it, open it and run one trial on it."""

    name = ""
    mode = PROCESSES
    durable_writes_per_trial = 0  # > 0: compare with the machine's limit (writes that fdatasync)
    max_size: int | None = None
    """The largest store size it is run at (None: any), and why not beyond: ``too_large``."""
    too_large = ""

    def unavailable(self) -> str | None:
        """Why this contender cannot run here (None: it can)."""
        return None

    def prepare(self, folder: str, size: int) -> dict[str, Any]:
        raise NotImplementedError

    def open(self, state: dict[str, Any], share: int) -> Any:
        raise NotImplementedError

    def step(self, handle: Any, state: dict[str, Any]) -> bool:
        """Run one trial; False when there is none left to run."""
        raise NotImplementedError

    def close(self, handle: Any) -> None:
        """Close a worker's handle (threads share the parent's: nothing to do)."""

    def cleanup(self, state: dict[str, Any]) -> None:
        """Release what ``prepare`` made (folders are removed by the caller)."""


# ---------------------------------------------------------------- docstore


class Docstore(Contender):
    """docstore's storage protocol on one URI."""

    def __init__(self, name: str, kind: str, uri: str | None = None, note: str = "") -> None:
        self.name = name
        self.kind = kind  # json, json-fast, memory, mongomock, secantus, mongodb
        self.uri = uri
        self.note = note
        self.mode = THREADS if kind in ("memory", "mongomock") else PROCESSES
        self.durable_writes_per_trial = 4 if kind == "json" else 0
        if kind == "mongomock":
            self.max_size = 10_000
            self.too_large = (
                "mongomock keeps no indexes: every call scans the collection (about 30 ms per trial at 10k "
                "already, 10x more at 100k); it is meant for tests, not studies of this size"
            )
        elif kind == "secantus":
            self.max_size = 10_000
            self.too_large = (
                "SecantusDB, a pure-Python test server, scans the collection per command (over 1 s per trial "
                "at 10k); a real MongoDB row comes from $DOCSTORE_BENCH_MONGODB_URI"
            )
        self._server: Any = None
        self._runs = 0

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_server": None}  # the server stays in the parent; workers connect to it

    def unavailable(self) -> str | None:
        if self.kind == "mongomock" and importlib.util.find_spec("mongomock") is None:
            return "mongomock is not installed"
        if self.kind == "secantus" and importlib.util.find_spec("secantus") is None:
            return "secantus (SecantusDB, a MongoDB-wire server) is not installed"
        if self.kind == "mongodb" and not self.uri:
            return "$DOCSTORE_BENCH_MONGODB_URI is not set"
        return None

    def _uris(self, folder: str, size: int) -> tuple[str, str]:
        """(URI to fill the store through, URI the workers use)."""
        if self.kind in ("json", "json-fast"):
            path = os.path.join(folder, f"study{size}.json")
            fast = path + "?durable=false"
            return fast, (path if self.kind == "json" else fast)
        if self.kind == "memory":
            return "memory://", "memory://"
        if self.kind == "mongomock":
            self._runs += 1  # mongomock's databases live as long as this process: a fresh one per run
            return f"mongomock://bench{self._runs}", f"mongomock://bench{self._runs}"
        if self.kind == "secantus":
            from secantus import SecantusDBServer

            self._server = SecantusDBServer(storage_path=":memory:")
            self._server.start()
            uri = self._server.uri.rstrip("/") + "/bench"
            return uri, uri
        assert self.uri is not None
        return self.uri, self.uri

    def prepare(self, folder: str, size: int) -> dict[str, Any]:
        import docstore
        from docstore.documents import now
        from docstore.storage import Trial

        fill, work = self._uris(folder, size)
        storage = docstore.setup_storage(fill, heartbeat=60)
        if self.kind in ("secantus", "mongodb"):
            for collection in ("experiments", "trials", "algo", "benchmarks"):
                storage.db.drop_collection(collection)
            storage.close()
            storage = docstore.setup_storage(fill, heartbeat=60)
        experiment = storage.create_experiment(_experiment_config())
        points = _points(size)
        storage.register_trial(Trial(experiment=experiment["_id"], params=points[0]))
        for first in range(1, size, 1000):  # the rest in bulk: what register_trial stores, in fewer writes
            batch = [Trial(experiment=experiment["_id"], params=p).to_dict() for p in points[first : first + 1000]]
            for document in batch:
                document["submit_time"] = now()
            storage.db["trials"].insert_many(batch)
        state: dict[str, Any] = {"uri": work, "experiment": experiment["_id"]}
        if self.mode == THREADS:
            state["shared"] = storage  # the store lives in this process: the worker threads share it
        else:
            storage.close()
        return state

    def open(self, state: dict[str, Any], share: int) -> Any:
        if "shared" in state:
            return state["shared"]
        import docstore

        return docstore.setup_storage(state["uri"], heartbeat=60)

    def step(self, handle: Any, state: dict[str, Any]) -> bool:
        trial = handle.reserve_trial(state["experiment"])
        if trial is None:
            return False
        handle.update_heartbeat(trial)
        trial.results = [{"name": "objective", "type": "objective", "value": _branin(trial.params)}]
        handle.push_trial_results(trial)
        handle.set_trial_status(trial, "completed", was="reserved")
        return True

    def close(self, handle: Any) -> None:
        if self.mode == PROCESSES:
            handle.close()

    def cleanup(self, state: dict[str, Any]) -> None:
        if "shared" in state:
            state["shared"].close()
        if self._server is not None:
            self._server.stop()
            self._server = None


def _branin(params: Any) -> float:
    from docstore.commands.workers import branin

    return branin(float(params["x1"]), float(params["x2"]))


# ---------------------------------------------------------------- Orion


class Orion(Contender):
    """Orion's own Legacy storage on its PickledDB (a pickled file) or EphemeralDB (in memory)."""

    max_size = 10_000
    too_large = (
        "Orion's PickledDB loads and dumps the whole database at every call and EphemeralDB scans every "
        "trial: over 1 s per trial at 10k already, so a 100k run would not finish a trial in the budget"
    )

    def __init__(self, name: str, database: str) -> None:
        self.name = name
        self.database = database
        self.mode = THREADS if database == "ephemeraldb" else PROCESSES

    def unavailable(self) -> str | None:
        if importlib.util.find_spec("orion") is None:
            return "orion is not installed (pip install -r benchmarks/requirements-peers.txt)"
        return None

    def prepare(self, folder: str, size: int) -> dict[str, Any]:
        from orion.core.worker.trial import Trial
        from orion.storage.legacy import Legacy

        config: dict[str, Any] = {"type": self.database}
        if self.database == "pickleddb":
            config["host"] = os.path.join(folder, f"orion{size}.pkl")
        storage = Legacy(database=dict(config))
        experiment = _experiment_config()
        experiment["space"] = {f"/{name}": value for name, value in experiment["space"].items()}
        storage.create_experiment(experiment)
        trials = [
            Trial(experiment=experiment["_id"], status="new", params=[{**p, "name": "/" + p["name"]} for p in params])
            for params in _points(size)
        ]
        if self.database == "pickleddb":  # one load + dump for all (Legacy.register_trial would do N)
            with storage._db.locked_database(write=True) as database:
                for trial in trials:
                    database.write("trials", trial.to_dict())
        else:
            for trial in trials:
                storage.register_trial(trial)
        state: dict[str, Any] = {"database": config, "experiment": experiment["_id"]}
        if self.mode == THREADS:
            state["shared"] = storage
        return state

    def open(self, state: dict[str, Any], share: int) -> Any:
        if "shared" in state:
            return state["shared"]
        from orion.storage.legacy import Legacy

        return Legacy(database=dict(state["database"]), setup=False)  # setup_database pops "type"

    def step(self, handle: Any, state: dict[str, Any]) -> bool:
        from orion.core.worker.trial import Trial

        trial = handle.reserve_trial(types.SimpleNamespace(_id=state["experiment"]))
        if trial is None:
            return False
        handle.update_heartbeat(trial)
        value = _branin({name.lstrip("/"): value for name, value in trial.params.items()})
        trial.results = [Trial.Result(name="objective", type="objective", value=value)]
        handle.push_trial_results(trial)
        handle.set_trial_status(trial, "completed", was="reserved")
        return True


# ---------------------------------------------------------------- Optuna


class Optuna(Contender):
    """Optuna's ask -> tell (RandomSampler) on JournalFileBackend or SQLite; N trials in all."""

    max_size = 10_000
    too_large = (
        "Optuna's study starts empty and grows to N trials as it runs (no register-then-reserve), "
        "and at 10k the budget already stops it after a few thousand: a 100k run would time the same trials"
    )

    def __init__(self, name: str, backend: str) -> None:
        self.name = name
        self.backend = backend

    def unavailable(self) -> str | None:
        if importlib.util.find_spec("optuna") is None:
            return "optuna is not installed (pip install -r benchmarks/requirements-peers.txt)"
        return None

    def prepare(self, folder: str, size: int) -> dict[str, Any]:
        import optuna

        from benchmarks.optuna_journal import open_storage

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        optuna.create_study(study_name="bench", storage=open_storage(self.backend, folder))
        return {"folder": folder}

    def open(self, state: dict[str, Any], share: int) -> Any:
        import optuna

        from benchmarks.optuna_journal import open_storage

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        study = optuna.load_study(
            study_name="bench",
            storage=open_storage(self.backend, state["folder"]),
            sampler=optuna.samplers.RandomSampler(seed=os.getpid()),
        )
        return {"study": study, "left": share}

    def step(self, handle: Any, state: dict[str, Any]) -> bool:
        from benchmarks.optuna_journal import DISTRIBUTIONS

        if handle["left"] <= 0:
            return False
        study = handle["study"]
        trial = study.ask(DISTRIBUTIONS)
        study.tell(trial, (trial.params["x"] - 1) ** 2 + trial.params["k"])
        handle["left"] -= 1
        return True


def all_contenders() -> list[Contender]:
    mongodb = os.environ.get("DOCSTORE_BENCH_MONGODB_URI")
    return [
        Docstore("docstore json durable", "json"),
        Docstore("docstore json durable=false", "json-fast"),
        Docstore("docstore memory://", "memory"),
        Docstore("docstore mongomock://", "mongomock"),
        Docstore("docstore secantusdb (wire)", "secantus"),
        Docstore("docstore $DOCSTORE_BENCH_MONGODB_URI", "mongodb", uri=mongodb),
        Orion("orion 0.2.7 pickleddb", "pickleddb"),
        Orion("orion 0.2.7 ephemeraldb", "ephemeraldb"),
        Optuna("optuna journal file", "journal-file"),
        Optuna("optuna sqlite", "sqlite"),
    ]
