"""The ``docstore`` command through its real entry points.

Commands on a JSON file run as ``python -m docstore ...`` subprocesses where the process
boundary matters (the demo's worker processes, Ctrl-C, exit statuses, redaction); the
steps on ``mongomock://`` run through ``docstore.cli.main(argv)`` in this process,
because a mongomock store lives inside the process that opened it.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

import docstore
from docstore.cli import main
from docstore.documents import to_ejson

REPO = Path(__file__).resolve().parents[1]
DEMO_TRIALS = 30


def _env(**extra: str) -> dict[str, str]:
    paths = [str(REPO), str(REPO / "adapters"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p), **extra}
    env.pop("DOCSTORE_URI", None)
    return env


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m docstore ARGS`` in a subprocess, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "docstore", *args],
        cwd=cwd,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``docstore ARGS`` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def documents(uri: str) -> dict[str, list[dict[str, Any]]]:
    with docstore.connect(uri) as db:
        return {name: db[name].find({}, sort=[("_id", 1)]).to_list() for name in db.list_collection_names()}


def lines(collections: dict[str, list[dict[str, Any]]]) -> dict[str, list[bytes]]:
    return {name: [orjson.dumps(to_ejson(d)) for d in docs] for name, docs in collections.items()}


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A JSON store filled by a real demo run (read it, never change it)."""
    folder = tmp_path_factory.mktemp("demo")
    done = run_cli("demo", "--workers", "2", "--trials", str(DEMO_TRIALS), cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    path = folder / "docstore.json"
    assert path.exists()
    # an extra collection with the values JSON lacks: they must survive dump, load and copy
    with docstore.connect(str(path)) as db:
        db["extras"].insert_one(
            {
                "_id": "odd",
                "when": dt.datetime(2024, 2, 29, 12, 30, 15, 123000, tzinfo=dt.timezone.utc),
                "blob": b"\x00\xffbytes",
                "nan": math.nan,
                "inf": -math.inf,
                "nested": {"b": [1, {"c": None}], "a": 2},
                "big": 2**62,
            }
        )
        db["extras"].create_index([("when", -1)], name="when_desc")
    return str(path)


def fresh_mongomock() -> str:
    pytest.importorskip("mongomock")
    return f"mongomock://cli-{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------- demo


def test_demo_completes_every_trial_exactly_once(demo_store: str) -> None:
    trials = documents(demo_store)["trials"]
    assert len(trials) == DEMO_TRIALS
    assert {t["status"] for t in trials} == {"completed"}
    assert len({t["_id"] for t in trials}) == DEMO_TRIALS
    assert len({t["id"] for t in trials}) == DEMO_TRIALS
    for trial in trials:
        objectives = [r for r in trial["results"] if r["type"] == "objective"]
        assert len(objectives) == 1, trial  # pushed once, not twice
        assert isinstance(objectives[0]["value"], float)
        assert trial["end_time"] >= trial["start_time"]
    (experiment,) = documents(demo_store)["experiments"]
    assert (experiment["name"], experiment["version"]) == ("demo-branin", 1)
    assert {t["experiment"] for t in trials} == {experiment["_id"]}


def test_demo_summary_and_rerun_starts_a_new_version(tmp_path: Path) -> None:
    first = run_cli("demo", "--workers", "2", "--trials", "8", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Created experiment demo-branin v1" in first.stdout
    for expected in (
        "8 completed of 8",
        "2 processes",
        "throughput",
        "best trial",
        "docstore trials demo-branin",
        str(tmp_path / "docstore.json"),
    ):
        assert expected in first.stdout
    assert "docstore dump -o backup/" in first.stdout
    assert run_cli("dump", "-o", "backup/", cwd=tmp_path).returncode == 0  # the suggestion works
    second = run_cli("demo", "--workers", "1", "--trials", "5", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "v1 is complete; starting a new version, v2" in second.stdout
    assert "Starting 1 worker process on" in second.stdout  # not "1 worker processes"
    assert "1 process\n" in second.stdout or " 1 process " in second.stdout
    assert "docstore dump -o backup-2/" in second.stdout  # backup/ is taken now: a fresh name
    assert run_cli("dump", "-o", "backup-2/", cwd=tmp_path).returncode == 0
    experiments = documents(str(tmp_path / "docstore.json"))["experiments"]
    assert sorted(e["version"] for e in experiments) == [1, 2]


def test_demo_resumes_a_run_stopped_while_registering(tmp_path: Path) -> None:
    store = str(tmp_path / "docstore.json")
    assert run_cli("demo", "--workers", "1", "--trials", "10", "--seed", "7", cwd=tmp_path).returncode == 0
    with docstore.connect(store) as db:  # as if the run had stopped after registering 6 trials of 10
        last = db["trials"].find({}, sort=[("submit_time", -1), ("_id", -1)], limit=4).to_list()
        db["trials"].delete_many({"_id": {"$in": [t["_id"] for t in last]}})
    again = run_cli("demo", "--workers", "2", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Resuming experiment demo-branin v1: 4 trials left, 6 completed" in again.stdout
    trials = documents(store)["trials"]
    assert len(trials) == 10
    assert {t["status"] for t in trials} == {"completed"}
    assert sorted(t["id"] for t in trials) == sorted({t["id"] for t in trials})
    assert {t["id"] for t in last} <= {t["id"] for t in trials}  # the same points again, from the same seed


def test_demo_in_process_engines_run_threads(capsys: pytest.CaptureFixture[str]) -> None:
    uri = fresh_mongomock()
    code, out, err = cli(capsys, "demo", "--uri", uri, "--workers", "3", "--trials", "24")
    assert code == 0, err
    assert "threads" in out
    assert "24 completed of 24" in out
    with docstore.connect(uri) as db:
        assert db["trials"].count_documents({"status": "completed"}) == 24


def test_demo_on_a_mongodb_server_then_copy_to_json(mongodb_server_uri: str, tmp_path: Path) -> None:
    pytest.importorskip("pymongo")
    scheme, rest = mongodb_server_uri.split("://", 1)
    uri = f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}/cli{uuid.uuid4().hex[:8]}"
    done = run_cli("demo", "--uri", uri, "--workers", "2", "--trials", "20", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 processes" in done.stdout
    assert f"docstore trials demo-branin --uri {uri}" in done.stdout
    assert run_cli("check", uri).returncode == 0
    copied = run_cli("copy", uri, str(tmp_path / "copy.json"))
    assert copied.returncode == 0, copied.stderr
    trials = documents(str(tmp_path / "copy.json"))["trials"]
    assert len(trials) == 20
    assert {t["status"] for t in trials} == {"completed"}


def _wait_for(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _count(uri: str, status: str) -> int:
    with docstore.connect(uri) as db:
        return db["trials"].count_documents({"status": status})


# `python -m docstore` with Ctrl-C's default disposition, as a terminal gives it: a test run started
# in the background (bash without job control) inherits SIGINT ignored, and so would the demo.
WITH_CTRL_C = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from docstore.cli import main; sys.exit(main())"
)


def test_ctrl_c_stops_the_demo_and_leaves_no_trial_reserved(tmp_path: Path) -> None:
    store = str(tmp_path / "docstore.json")
    process = subprocess.Popen(
        [sys.executable, "-c", WITH_CTRL_C, "demo", "--workers", "2", "--trials", "150", "--trial-seconds", "0.2"],
        cwd=tmp_path,
        env=_env(COLUMNS="120"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # the state to interrupt: some trials done, most not (150 trials of 0.2 s on 2 workers take 15 s)
        _wait_for(lambda: os.path.exists(store) and _count(store, "completed") >= 4, timeout=60)
        assert process.poll() is None, "the demo ended before it could be interrupted"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, out + err
    assert "Interrupted" in out
    assert "Traceback" not in err
    message = out[out.index("Interrupted") :]
    assert all(len(line) <= 120 for line in message.splitlines())
    assert "again to resume." in " ".join(message.split())  # wrapped between words, never inside one
    assert _count(store, "reserved") == 0
    assert _count(store, "completed") < 150
    # the next run resumes the experiment and finishes it
    again = run_cli("demo", "--workers", "2", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Resuming experiment demo-branin v1" in again.stdout
    assert _count(store, "completed") == 150


# ---------------------------------------------------------------- inspection


def test_experiments_trials_and_show(demo_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "experiments", "--uri", demo_store)
    assert code == 0
    assert "demo-branin" in out
    code, out, _ = cli(capsys, "trials", "demo-branin", "--uri", demo_store, "--format", "json")
    assert code == 0
    trials = orjson.loads(out)
    assert len(trials) == DEMO_TRIALS
    assert all("$date" in t["end_time"] for t in trials)  # relaxed Extended JSON
    code, out, _ = cli(capsys, "trials", "demo-branin", "--uri", demo_store, "--format", "csv")
    assert code == 0
    rows = out.strip().splitlines()
    assert rows[0].startswith("id,_id,status,x1,x2,objective")
    assert len(rows) == DEMO_TRIALS + 1
    objectives = sorted(r["value"] for t in trials for r in t["results"])
    threshold = objectives[len(objectives) // 2]
    where = orjson.dumps({"results": {"$elemMatch": {"type": "objective", "value": {"$lt": threshold}}}}).decode()
    code, out, _ = cli(
        capsys,
        "trials",
        "demo-branin",
        "--uri",
        demo_store,
        "--status",
        "completed",
        "--where",
        where,
        "--format",
        "jsonl",
    )
    assert code == 0
    assert len(out.splitlines()) == sum(1 for o in objectives if o < threshold)
    code, out, _ = cli(capsys, "trials", "demo-branin", "--uri", demo_store)
    assert code == 0
    assert trials[0]["id"] in out
    code, out, _ = cli(capsys, "show", trials[0]["id"], "--uri", demo_store)
    assert code == 0
    for expected in ("params.x1", "results.objective", "demo-branin v1"):
        assert expected in out
    code, out, _ = cli(capsys, "show", trials[0]["id"][:10], "--uri", demo_store, "--format", "json")
    assert code == 0
    assert orjson.loads(out)["_id"] == trials[0]["_id"]


def test_default_store_is_env_then_docstore_json(
    demo_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DOCSTORE_URI", raising=False)
    code, _, err = cli(capsys, "experiments")
    assert code == 2
    assert "no store at" in err
    assert str(tmp_path / "docstore.json") in err
    assert not (tmp_path / "docstore.json").exists()  # a read-only command creates nothing
    monkeypatch.setenv("DOCSTORE_URI", demo_store)
    code, out, _ = cli(capsys, "experiments")
    assert code == 0
    assert "demo-branin" in out


def test_limit_says_how_many_match_and_marks_the_experiments_best(
    demo_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    trials = documents(demo_store)["trials"]
    best = min(trials, key=lambda t: t["results"][0]["value"])
    others = orjson.dumps({"_id": {"$ne": best["_id"]}}).decode()
    code, out, _ = cli(capsys, "trials", "demo-branin", "--uri", demo_store, "--where", others, "--limit", "5")
    assert code == 0
    assert f"5 of {DEMO_TRIALS - 1} trials" in out  # not "5 trials": 29 match
    assert " * " not in out.split("\n*")[0]  # no row is marked: the best of the 5 is not the experiment's
    assert f"trial {best['id']}, not in this list" in out
    code, out, _ = cli(capsys, "trials", "demo-branin", "--uri", demo_store)
    assert f"{DEMO_TRIALS} trials" in out
    assert out.count(" * ") == 1


def test_show_with_a_short_prefix_says_how_long_it_must_be(demo_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "show", "0", "--uri", demo_store)
    assert code == 2
    assert "an id prefix needs 4 or more characters" in err


def test_experiments_made_through_the_api_show_when_they_were_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "api.json")
    with docstore.setup_storage(store) as storage:
        storage.create_experiment({"name": "plain", "version": 1})  # no metadata.datetime
        storage.get_or_create_experiment({"name": "resumable"})
    code, out, _ = cli(capsys, "experiments", "--uri", store, "--format", "csv")
    assert code == 0
    rows = [line.split(",") for line in out.splitlines()[1:]]
    today = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    assert [row[0] for row in rows] == ["plain", "resumable"]
    assert all(row[7].startswith(today) for row in rows), rows
    code, out, _ = cli(capsys, "check", store)
    assert "OK (2 experiments, 0 trials; no finding)" in out
    with docstore.setup_storage(store) as storage:
        experiment = storage.fetch_experiments({"name": "plain"})[0]
        storage.register_trial(docstore.Trial(experiment=experiment["_id"], params={"x": 1}))
    code, out, _ = cli(capsys, "trials", "plain", "--uri", store)
    assert "plain v1: 1 trial " in out


# ---------------------------------------------------------------- dump, load, copy


def test_dump_load_dump_gives_identical_lines(
    demo_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mock = fresh_mongomock()
    assert cli(capsys, "dump", demo_store, "-o", str(tmp_path / "first"))[0] == 0
    code, out, err = cli(capsys, "load", mock, str(tmp_path / "first"))
    assert code == 0, err
    assert "verified" in out
    assert cli(capsys, "dump", mock, "-o", str(tmp_path / "second"))[0] == 0
    first = sorted(p.name for p in (tmp_path / "first").iterdir())
    assert first == sorted(p.name for p in (tmp_path / "second").iterdir())
    assert {"trials.json", "experiments.json", "extras.json", "extras.metadata.json"} <= set(first)
    for name in first:
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes(), name
    assert len((tmp_path / "first" / "trials.json").read_bytes().splitlines()) == DEMO_TRIALS
    # the stream layout (stdout) round-trips the same way
    code, stream, _ = cli(capsys, "dump", demo_store)
    assert code == 0
    (tmp_path / "store.jsonl").write_text(stream)
    other = fresh_mongomock()
    assert cli(capsys, "load", other, str(tmp_path / "store.jsonl"))[0] == 0
    assert lines(documents(other)) == lines(documents(demo_store))


def test_copy_json_to_mongomock_to_json_preserves_every_document(
    demo_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mock, back = fresh_mongomock(), str(tmp_path / "back.json")
    code, out, err = cli(capsys, "copy", demo_store, mock)
    assert code == 0, err
    assert "every document identical" in out
    code, _, err = cli(capsys, "copy", mock, back)
    assert code == 0, err
    original, copied = documents(demo_store), documents(back)
    assert lines(copied) == lines(original)
    (odd,) = copied["extras"]
    assert odd["blob"] == b"\x00\xffbytes"
    assert odd["when"] == dt.datetime(2024, 2, 29, 12, 30, 15, 123000, tzinfo=dt.timezone.utc)
    assert math.isnan(odd["nan"])
    with docstore.connect(demo_store) as src, docstore.connect(back) as dst:
        for name in src.list_collection_names():
            assert dst[name].index_information() == src[name].index_information()


def test_copy_refuses_a_non_empty_destination_unless_merge(
    demo_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = str(tmp_path / "target.json")
    assert cli(capsys, "copy", demo_store, target)[0] == 0
    code, _, err = cli(capsys, "copy", demo_store, target)
    assert code == 2
    assert "not empty" in err
    assert "--merge" in err
    code, out, _ = cli(capsys, "copy", demo_store, target, "--merge")
    assert code == 0
    assert "copied 0 of" in out
    with docstore.connect(target) as db:
        db["extras"].insert_one({"_id": "mine"})
        db["extras"].update_one({"_id": "odd"}, {"$set": {"big": 1}})
    code, _, err = cli(capsys, "copy", demo_store, target, "--merge")
    assert code == 2
    assert "'odd'" in err


# ---------------------------------------------------------------- check


def test_check_a_sound_store(demo_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "check", demo_store)
    assert code == 0
    assert "OK" in out


def test_check_finds_a_duplicate_and_a_dangling_trial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "planted.json")
    now = dt.datetime.now(dt.timezone.utc)
    with docstore.connect(store) as db:  # the facade alone: no unique index yet, so the duplicate goes in
        db["experiments"].insert_one({"_id": "e1", "name": "x", "version": 1})
        results = [{"name": "objective", "type": "objective", "value": 1.0}]
        db["trials"].insert_many(
            [
                {"_id": "a", "id": "t1", "experiment": "e1", "status": "completed", "results": results},
                {"_id": "b", "id": "t1", "experiment": "e1", "status": "completed", "results": results},
                {"_id": "c", "id": "t2", "experiment": "gone", "status": "new", "heartbeat": None},
                {"_id": "d", "id": "t3", "experiment": "e1", "status": "reserved", "heartbeat": None},
                {"_id": "e", "id": "t4", "experiment": "e1", "status": "reserved", "heartbeat": now},
            ]
        )
    code, out, _ = cli(capsys, "check", store)
    assert code == 1
    assert "unique key (experiment, id) broken: 2 documents" in out
    assert "points at experiment 'gone', which does not exist" in out
    assert "trial d (id t3) is reserved without a heartbeat" in out
    assert "(id t4)" not in out
    assert "3 findings in 1 experiment, 5 trials" in out


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["experiments", "--uri", "nosuch://x"], "no docstore engine for scheme 'nosuch'"),
        (["trials", "demo-branin", "--where", "{bad"], "--where is not valid JSON"),
        (["trials", "demo-branin", "--where", "[1]"], "--where must be a JSON object"),
        (["trials", "demo-branin", "--where", '{"$where": "1"}'], "$where"),
        (["trials", "demo-branin", "--status", "bogus"], "unknown status 'bogus'"),
        (["trials", "nope"], "no experiment 'nope'"),
        (["trials", "demo-branin", "--version", "7"], "no experiment 'demo-branin' version 7"),
        (["show", "zzzzzz"], "no trial 'zzzzzz'"),
        (["load", "{store}", "{missing}"], "no such file or directory"),
        (["copy", "{store}", "{store}"], "the same store"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    demo_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    placeholders = {"{store}": demo_store, "{missing}": str(tmp_path / "missing")}
    args = [placeholders.get(a, a) for a in args]
    if "--uri" not in args and args[0] in ("trials", "show"):
        args += ["--uri", demo_store]
    code, _, err = cli(capsys, *args)
    assert code == 2
    assert message in err
    assert err.startswith("docstore: error: ")
    assert err.count("\n") == 1


def test_a_corrupt_file_exits_2_without_traceback(tmp_path: Path) -> None:
    store = tmp_path / "broken.json"
    store.write_text('{"trials": {"1": {"_id": "x"')
    done = run_cli("experiments", "--uri", str(store))
    assert done.returncode == 2
    assert done.stderr.startswith("docstore: error: ")
    assert "Traceback" not in done.stderr
    assert str(store) in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--workers", "0"], "docstore: error: demo: argument --workers: expected a number >= 1, got 0"),
        (["nosuch"], "docstore: error: argument COMMAND: invalid choice: 'nosuch'"),
        (["trials"], "docstore: error: trials: the following arguments are required: EXPERIMENT"),
        (["experiments", "--format", "xml"], "docstore: error: experiments: argument --format: invalid choice"),
        ([], "docstore: error: the following arguments are required: COMMAND"),
    ],
)
def test_argparse_errors_are_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(message)
    assert done.stderr.count("\n") == 1
    assert "--help)" in done.stderr
    assert "usage:" not in done.stderr
    assert not (tmp_path / "docstore.json").exists()


def test_passwords_are_redacted() -> None:
    pytest.importorskip("pymongo")
    uri = "mongodb://u:secret@127.0.0.1:1/db?serverSelectionTimeoutMS=200"
    done = run_cli("experiments", "--uri", uri, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("docstore: error: ")
    assert "secret" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "command", ["demo", "experiments", "trials", "show", "dump", "load", "copy", "check", "compact", "plot"]
)
def test_every_command_has_help_with_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out
    assert f"docstore {command}" in out


# ---------------------------------------------------------------- compact, plot


def test_compact_keeps_every_document(demo_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "c.json")
    assert cli(capsys, "copy", demo_store, store)[0] == 0
    code, out, _ = cli(capsys, "compact", store)
    assert code == 0
    assert "compacted" in out
    assert lines(documents(store)) == lines(documents(demo_store))


def test_plot_without_matplotlib_says_what_to_install(
    demo_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    code, _, err = cli(capsys, "plot", "demo-branin", "--uri", demo_store, "-o", str(tmp_path / "r.png"))
    assert code == 2
    assert 'pip install -e "' in err  # this checkout: docstore is not on the package index
    assert '[plot]"' in err
    assert not (tmp_path / "r.png").exists()


def test_plot_writes_an_image(demo_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    image = tmp_path / "regret.png"
    code, out, _ = cli(capsys, "plot", "demo-branin", "--uri", demo_store, "-o", str(image))
    assert code == 0, out
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"{DEMO_TRIALS} completed trials" in out


@pytest.fixture(autouse=True)
def _no_env_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCSTORE_URI", raising=False)
