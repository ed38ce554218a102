"""Real processes on one store: a parallel TPE study, and writers killed with SIGKILL mid-append.

Only stores another process can open take part (a JSON file, a MongoDB-wire server):
``memory://`` and ``mongomock://`` live inside one process by design.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("optuna", reason="Optuna is not installed (pip install -e '.[optuna]')")

import optuna
from docstore_optuna import DocstoreJournalBackend
from docstore_optuna.journal import batch_id

SHARED_ENGINES = ("jsonfile", "mongodb")  # stores another process can open
SHARED = pytest.mark.parametrize("store_uri", SHARED_ENGINES, indirect=True)

OPTIMISE = """
import sys, optuna, docstore_optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
uri, name, seed, n_trials = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
study = optuna.load_study(
    study_name=name, storage=docstore_optuna.storage(uri), sampler=optuna.samplers.TPESampler(seed=seed)
)
study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2 + t.suggest_int("k", 0, 4), n_trials=n_trials)
"""

APPEND_FOREVER = """
import sys
from docstore_optuna import DocstoreJournalBackend
backend = DocstoreJournalBackend(sys.argv[1])
i = 0
while True:
    backend.append_logs([{"writer": sys.argv[2], "i": i + k} for k in range(1 + i % 3)])
    if i == 0:
        print("started", flush=True)
    i += 1 + i % 3
"""


UNPICKLE_AND_OPTIMISE = """
import pickle, sys, optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
try:
    storage = pickle.loads(sys.stdin.buffer.read())
except Exception as exc:
    print(type(exc).__name__, exc)
    sys.exit(3)
study = optuna.load_study(study_name="pickled", storage=storage)
study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
"""


def _python(code: str, *args: str, stdout: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=stdout, text=True)


def _gap_free_length(backend: DocstoreJournalBackend) -> int:
    end = 0
    for doc in backend.database["optuna_logs"].find(sort=[("_id", 1)]):
        assert doc["_id"] == batch_id(end), f"hole or overlap at log {end}"
        assert len(json.loads(doc["logs"])) == doc["end"] - end
        end = doc["end"]
    return end


@SHARED
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_four_processes_optimise_one_study_with_tpe(open_backend: Callable[..., Any], store_uri: str) -> None:
    backend = open_backend()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(storage=optuna.storages.JournalStorage(backend), study_name="parallel")
    started = time.monotonic()
    workers = [_python(OPTIMISE, store_uri, "parallel", str(seed), "25") for seed in range(4)]
    for worker in workers:
        assert worker.wait(timeout=100) == 0
    elapsed = time.monotonic() - started

    study = optuna.load_study(study_name="parallel", storage=optuna.storages.JournalStorage(open_backend()))
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 100
    assert sorted(t.number for t in trials) == list(range(100))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert len({t._trial_id for t in trials}) == 100
    assert _gap_free_length(backend) == len(list(backend.read_logs(0)))
    assert elapsed < 60, f"4 x 25 trials took {elapsed:.1f} s"


@SHARED
@pytest.mark.timeout(120)
def test_a_writer_killed_mid_append_leaves_no_hole(open_backend: Callable[..., Any], store_uri: str) -> None:
    backend = open_backend()
    for round_number, delay in enumerate((0.0, 0.05, 0.2)):
        writers = [_python(APPEND_FOREVER, store_uri, f"{round_number}-{k}", stdout=subprocess.PIPE) for k in range(2)]
        for writer in writers:
            assert writer.stdout is not None
            assert writer.stdout.readline() == "started\n"
        time.sleep(delay)
        for writer in writers:
            os.kill(writer.pid, signal.SIGKILL)
            writer.wait()
            assert writer.stdout is not None
            writer.stdout.close()
        backend.append_logs([{"writer": "survivor", "i": round_number}])

        logs = list(backend.read_logs(0))
        assert len(logs) == _gap_free_length(backend)
        assert logs[-1] == {"writer": "survivor", "i": round_number}
        for k in range(2):  # each killed writer's logs: 0, 1, 2, ... once each, in order, then nothing
            mine = [log["i"] for log in logs if log["writer"] == f"{round_number}-{k}"]
            assert mine == list(range(len(mine)))
            assert len(mine) >= 1


@pytest.mark.timeout(120)
def test_a_pickled_storage_crosses_into_another_process(open_backend: Callable[..., Any], engine_name: str) -> None:
    """As multiprocessing and joblib workers receive it: pickled, then reconnected from its URI."""
    storage = optuna.storages.JournalStorage(open_backend())
    optuna.create_study(storage=storage, study_name="pickled")
    child = subprocess.run(
        [sys.executable, "-c", UNPICKLE_AND_OPTIMISE],
        input=pickle.dumps(storage),
        capture_output=True,
        timeout=100,
        check=False,
    )
    if engine_name in SHARED_ENGINES:
        assert child.returncode == 0, child.stderr.decode()[-2000:]
        study = optuna.load_study(study_name="pickled", storage=storage)
        assert [t.number for t in study.trials] == [0, 1, 2]
    else:  # its store lives in this process's memory: the child must refuse it, loudly
        assert child.returncode == 3, child.stderr.decode()[-2000:]
        assert child.stdout.decode().startswith("EngineUnavailable")
        assert "memory of process" in child.stdout.decode()
