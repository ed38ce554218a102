"""The last engine to close a store compacts it; one that closes while others are open does not.

Compacting a large store takes seconds, and every other process must then reload the new
snapshot: a worker that finishes early must not do that to the others. Presence is a
shared ``flock`` on ``study.json.users`` (real processes here, killed ones included).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from jsonfile_support import journal_lines

import docstore

pytestmark = pytest.mark.skipif(os.name != "posix", reason="presence uses flock (POSIX)")

_fork = multiprocessing.get_context("fork")
_spawn = multiprocessing.get_context("spawn")


def _operations(path: str) -> int:
    """Operation lines in the journal (its header excepted)."""
    return len(journal_lines(path)) - 1


def _insert_and_close(path: str, name: str) -> None:
    with docstore.connect(path) as db:
        db["t"].insert_one({"_id": name})


def _insert_and_wait(path: str, ready: Any) -> None:
    db = docstore.connect(path)
    db["t"].insert_one({"_id": "sleeper"})
    ready.set()
    signal.pause()


def test_a_process_that_closes_while_another_has_the_store_open_does_not_compact(path: str) -> None:
    with docstore.connect(path) as first:
        first["t"].insert_one({"_id": "first"})
        child = _spawn.Process(target=_insert_and_close, args=(path, "child"))
        child.start()
        child.join(60)
        assert child.exitcode == 0
        assert _operations(path) == 2  # the child wrote and closed, but left the journal alone
        assert sorted(d["_id"] for d in first["t"].find()) == ["child", "first"]
    assert _operations(path) == 0  # the last one out folded everything into the snapshot
    pytest.importorskip("tinydb")
    from tinydb import TinyDB

    with TinyDB(path, access_mode="r") as tiny:
        assert sorted(d["_id"] for d in tiny.table("t").all()) == ["child", "first"]


def test_the_last_one_out_folds_what_others_wrote_even_if_it_only_read(path: str) -> None:
    docstore.connect(path).close()
    with docstore.connect(path) as watcher:  # like the demo's parent: it reads while workers write
        child = _spawn.Process(target=_insert_and_close, args=(path, "worker"))
        child.start()
        child.join(60)
        assert child.exitcode == 0
        assert _operations(path) == 1  # the worker was not the last one out
        assert watcher["t"].count_documents({}) == 1  # caught up before the lock, as most reads are
    assert _operations(path) == 0


def test_a_killed_process_does_not_count_as_present(path: str) -> None:
    ready = _fork.Event()
    sleeper = _fork.Process(target=_insert_and_wait, args=(path, ready), daemon=True)
    sleeper.start()
    try:
        assert ready.wait(30)
        with docstore.connect(path) as db:
            db["t"].insert_one({"_id": "mine"})
            os.kill(sleeper.pid or 0, signal.SIGKILL)
            sleeper.join(10)
        assert _operations(path) == 0  # the kernel dropped the dead process's shared lock
    finally:
        if sleeper.is_alive():
            sleeper.kill()


def _close_in_child(db: docstore.Database) -> None:
    db.close()  # never used here: the inherited presence belongs to the parent
    os._exit(0)


def test_a_forked_child_closing_its_copy_leaves_the_parent_present(path: str) -> None:
    parent = docstore.connect(path)
    try:
        parent["t"].insert_one({"_id": "parent"})
        child = _fork.Process(target=_close_in_child, args=(parent,))
        child.start()
        child.join(30)
        assert child.exitcode == 0
        with docstore.connect(path) as other:  # a second engine: not alone, the parent is still open
            other["t"].insert_one({"_id": "other"})
        assert _operations(path) == 2
    finally:
        parent.close()
    assert _operations(path) == 0


def test_compact_on_close_false_never_compacts_and_leaves_no_presence(path: str) -> None:
    with docstore.connect(path, compact_on_close=False) as db:
        db["t"].insert_one({"_id": "a"})
    assert _operations(path) == 1
    with docstore.connect(path) as db:  # alone: compacts on close
        db["t"].insert_one({"_id": "b"})
    assert _operations(path) == 0


# ---------------------------------------------------------------- however the last process leaves (item 8)

REPO = Path(__file__).resolve().parents[2]


def _python(code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter, as a user's script would."""
    paths = [str(REPO), str(REPO / "adapters"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    env.pop("DOCSTORE_URI", None)
    command = [sys.executable, "-c", textwrap.dedent(code), *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=180, check=False)


def _snapshot_alone(path: str, table: str) -> list[dict[str, Any]]:
    """What TinyDB reads in ``study.json`` alone, after checking the journal holds nothing more."""
    assert _operations(path) == 0, "the journal still holds operations: the .json file alone is not the store"
    tinydb = pytest.importorskip("tinydb")
    with tinydb.TinyDB(path, access_mode="r") as tiny:
        return list(tiny.table(table).all())


_SCRIPT_ENDINGS = {
    "returns": "",
    "sys.exit": "sys.exit(3)",
    "raises": "raise RuntimeError('the study failed')",
    "drops the store": "del db; gc.collect(); time.sleep(0.1)",
    "KeyboardInterrupt": "raise KeyboardInterrupt",
}


@pytest.mark.parametrize("ending", list(_SCRIPT_ENDINGS))
def test_a_script_that_never_closes_leaves_the_whole_store_in_the_json_file(path: str, ending: str) -> None:
    done = _python(
        f"""
        import gc, sys, time
        import docstore
        db = docstore.connect(sys.argv[1])
        for i in range(50):
            db["trials"].insert_one({{"_id": f"t{{i}}", "status": "new"}})
        db["trials"].update_many({{}}, {{"$set": {{"status": "completed"}}}})
        {_SCRIPT_ENDINGS[ending]}
        """,
        path,
    )
    assert "Traceback" not in done.stderr or ending in ("raises", "KeyboardInterrupt"), done.stderr
    assert "could not" not in done.stderr, done.stderr
    trials = _snapshot_alone(path, "trials")
    assert len(trials) == 50
    assert {trial["status"] for trial in trials} == {"completed"}


def _write_without_closing(path: str, name: str) -> None:
    db = docstore.connect(path)
    db["t"].insert_one({"_id": name})  # and return: the worker process exits, db never closed


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_workers_that_never_close_leave_a_folded_store(path: str, method: str) -> None:
    context = multiprocessing.get_context(method)
    workers = [context.Process(target=_write_without_closing, args=(path, f"w{i}")) for i in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert sorted(doc["_id"] for doc in _snapshot_alone(path, "t")) == ["w0", "w1", "w2"]


def _use_the_inherited_store(db: docstore.Database) -> None:
    db["t"].insert_one({"_id": "child"})  # the parent's engine, used in a forked worker, never closed


def test_a_forked_worker_using_the_parents_store_does_not_fold_under_the_parent(path: str) -> None:
    parent = docstore.connect(path)
    try:
        parent["t"].insert_one({"_id": "parent"})
        worker = _fork.Process(target=_use_the_inherited_store, args=(parent,))
        worker.start()
        worker.join(60)
        assert worker.exitcode == 0
        assert _operations(path) == 2  # the worker left, the parent is still there: nothing folded
        assert parent["t"].count_documents({}) == 2
    finally:
        parent.close()
    assert sorted(doc["_id"] for doc in _snapshot_alone(path, "t")) == ["child", "parent"]


def test_a_resumed_demo_leaves_the_whole_store_in_the_json_file(path: str, tmp_path: Path) -> None:
    # Ctrl-C's default disposition, as a terminal gives it (a background test run inherits SIGINT ignored)
    cli = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from docstore.cli import main; sys.exit(main())"
    )
    command = [sys.executable, "-c", cli, "demo", "--uri", path, "--workers", "2", "--trials", "40"]
    paths = [str(REPO), str(REPO / "adapters"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    demo = subprocess.Popen(
        [*command, "--trial-seconds", "0.1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not (os.path.exists(path) and _completed_in_journal(path) >= 4):
            assert time.monotonic() < deadline, "the demo did not complete 4 trials in time"
            assert demo.poll() is None, "the demo ended before it could be stopped"
            time.sleep(0.05)
        demo.send_signal(signal.SIGINT)
        out, err = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 130, out + err
    interrupted = _snapshot_alone(path, "trials")
    assert 4 <= sum(trial["status"] == "completed" for trial in interrupted) < 40
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert again.returncode == 0, again.stderr
    assert "Resuming" in again.stdout
    trials = _snapshot_alone(path, "trials")
    assert len(trials) == 40
    assert {trial["status"] for trial in trials} == {"completed"}


def _completed_in_journal(path: str) -> int:
    """Completions so far, read from the files without opening the store (no engine of ours in the way)."""
    try:
        return Path(path + ".journal").read_bytes().count(b'"status":"completed"')
    except FileNotFoundError:
        return 0


def test_an_optuna_study_that_never_closes_leaves_the_whole_store_in_the_json_file(path: str) -> None:
    pytest.importorskip("optuna")
    done = _python(
        """
        import sys
        import optuna
        import docstore_optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(study_name="s", storage=docstore_optuna.storage(sys.argv[1]))
        study.optimize(lambda trial: trial.suggest_float("x", -1, 1) ** 2, n_trials=8)
        print(len(study.trials))
        """,
        path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "8"
    logs = _snapshot_alone(path, "optuna_logs")
    assert len(logs) > 8  # a study's creation, then each trial's creation, parameters and completion


_ORION_TRIAL = """
import json, os, sys
x = float(sys.argv[sys.argv.index("-x") + 1])
with open(os.environ["ORION_RESULTS_PATH"], "w") as f:
    json.dump([{"name": "objective", "type": "objective", "value": (x - 0.3) ** 2}], f)
"""


@pytest.mark.slow
def test_an_orion_hunt_leaves_the_whole_store_in_the_json_file(path: str, tmp_path: Path) -> None:
    pytest.importorskip("orion.core", reason="Orion is not installed (see docs/orion.md)")
    yaml = pytest.importorskip("yaml")
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump({"storage": {"type": "docstore", "database": {"host": path}}}))
    (tmp_path / "trial.py").write_text(_ORION_TRIAL)
    orion = "import sys, docstore_orion; from orion.core.cli import main; sys.exit(main())"
    hunt = ["hunt", "-n", "exp", "--config", "cfg.yaml", "--exp-max-trials", "6", "--n-workers", "2"]
    paths = [str(REPO), str(REPO / "adapters"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-c", orion, *hunt, sys.executable, "trial.py", "-x~uniform(0, 1)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    trials = _snapshot_alone(path, "trials")
    assert sum(trial["status"] == "completed" for trial in trials) >= 6
    assert len(_snapshot_alone(path, "experiments")) == 1
