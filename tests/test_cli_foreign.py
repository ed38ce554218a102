"""``docstore experiments / trials / show / check`` on stores written by Optuna and by mlos_bench.

The studies are written by the real programs through ``docstore_optuna`` and ``docstore_mlos``;
the commands read them back through the facade (replaying Optuna's journal), and what they
show is compared with what Optuna and mlos_bench themselves report.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

import docstore
from docstore.cli import main
from docstore.commands.foreign import read_holdings
from docstore.commands.optuna_journal import read_optuna


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("DOCSTORE_URI", raising=False)


# ---------------------------------------------------------------- Optuna


def _objective(trial: Any) -> float:
    import optuna

    x = trial.suggest_float("x", -10, 10)
    n = trial.suggest_int("n", 1, 5)
    kind = trial.suggest_categorical("kind", ["a", "b", None])
    if trial.number == 3:
        raise optuna.TrialPruned
    if trial.number == 4:
        raise ValueError("diverged")
    trial.report(x, 0)
    trial.set_user_attr("kind_seen", str(kind))
    return (x - 2) ** 2 + n


@dataclass(frozen=True)
class Written:
    """What Optuna itself says of the study it wrote."""

    trials: list[Any]
    best_number: int
    best_value: float


@pytest.fixture(scope="module")
def optuna_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Written]:
    """A JSON store with two Optuna studies written by Optuna (one deleted study in between)."""
    optuna = pytest.importorskip("optuna")
    docstore_optuna = pytest.importorskip("docstore_optuna")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    path = str(tmp_path_factory.mktemp("optuna") / "study.json")
    storage = docstore_optuna.storage(path)
    optuna.create_study(study_name="gone", storage=storage)
    optuna.delete_study(study_name="gone", storage=storage)
    study = optuna.create_study(study_name="quad", storage=storage, sampler=optuna.samplers.RandomSampler(seed=3))
    study.optimize(_objective, n_trials=12, catch=(ValueError,))
    multi = optuna.create_study(study_name="multi", storage=storage, directions=["minimize", "maximize"])
    multi.optimize(lambda t: (t.suggest_float("a", 0, 1), t.suggest_float("b", 0, 1)), n_trials=3)
    written = Written(study.trials, study.best_trial.number, study.best_value)
    storage._backend.close()  # type: ignore[attr-defined]
    return path, written


def test_the_replay_gives_what_optuna_reports(optuna_store: tuple[str, Written]) -> None:
    path, study = optuna_store
    with docstore.connect(path) as db:
        holdings = read_holdings(db)
    assert holdings.findings == []
    assert [e.name for e in holdings.experiments] == ["quad", "multi"]  # "gone" was deleted
    quad = holdings.named("quad")
    assert quad is not None
    assert len(quad.trials) == len(study.trials) == 12
    for replayed, frozen in zip(quad.trials, study.trials, strict=True):
        assert replayed.number == frozen.number
        assert replayed.status == frozen.state.name
        assert replayed.params == frozen.params
        assert replayed.values == (frozen.values or [])
        assert replayed.start == frozen.datetime_start.astimezone(dt.timezone.utc)
    best = quad.best()
    assert best is not None
    assert (best.number, best.values[0]) == (study.best_number, study.best_value)
    assert holdings.named("multi").best() is None  # two objectives: no single best


def test_experiments_says_what_it_found(optuna_store: tuple[str, Written], capsys: pytest.CaptureFixture[str]) -> None:
    path, study = optuna_store
    code, out, _ = cli(capsys, "experiments", "--uri", path)
    assert code == 0
    assert "Optuna studies in" in out
    assert "No experiment" not in out
    assert "quad" in out
    assert "multi" in out
    assert f"quad/{study.best_number}" in out
    code, out, _ = cli(capsys, "experiments", "--uri", path, "--format", "json")
    records = {r["name"]: r for r in orjson.loads(out)}
    assert records["quad"]["source"] == "optuna"
    assert records["quad"]["best"] == study.best_value
    assert records["quad"]["trials"] == 12
    assert records["quad"]["completed"] == sum(t.state.name == "COMPLETE" for t in study.trials)
    assert records["multi"]["objectives"] == {"values[0]": "minimize", "values[1]": "maximize"}
    code, out, _ = cli(capsys, "experiments", "--uri", path, "--format", "csv")
    assert out.splitlines()[0].endswith(",created,source")
    assert sum(line.endswith(",optuna") for line in out.splitlines()) == 2


def test_trials_and_show_of_an_optuna_study(
    optuna_store: tuple[str, Written], capsys: pytest.CaptureFixture[str]
) -> None:
    path, study = optuna_store
    code, out, _ = cli(capsys, "trials", "quad", "--uri", path)
    assert code == 0
    assert "Optuna study quad: 12 trials" in out
    assert "PRUNED" in out
    assert "FAIL" in out
    code, out, _ = cli(capsys, "trials", "quad", "--uri", path, "--status", "completed", "--format", "jsonl")
    completed = [orjson.loads(line) for line in out.splitlines()]
    assert [t["number"] for t in completed] == [t.number for t in study.trials if t.state.name == "COMPLETE"]
    code, out, _ = cli(capsys, "trials", "quad", "--uri", path, "--status", "PRUNED,fail", "--format", "json")
    assert sorted(t["status"] for t in orjson.loads(out)) == ["FAIL", "PRUNED"]
    code, out, _ = cli(capsys, "trials", "quad", "--uri", path, "--limit", "2")
    assert "2 of 12 trials" in out
    code, out, _ = cli(capsys, "trials", "quad", "--uri", path, "--status", "pruned")
    assert "Optuna study quad: 1 trial " in out
    assert f"trial quad/{study.best_number}, not in this list" in out
    code, _, err = cli(capsys, "trials", "quad", "--uri", path, "--where", '{"x": 1}')
    assert code == 2
    assert "use --status" in err
    code, _, err = cli(capsys, "trials", "quad", "--uri", path, "--status", "bogus")
    assert code == 2
    assert "COMPLETE" in err
    frozen = study.trials[5]
    code, out, _ = cli(capsys, "show", "quad/5", "--uri", path, "--format", "json")
    assert code == 0
    shown = orjson.loads(out)
    assert shown["params"] == frozen.params
    assert shown["values"] == {"value": frozen.value}
    assert shown["user_attrs"] == frozen.user_attrs
    code, out, _ = cli(capsys, "show", "quad/5", "--uri", path)
    assert "Trial quad/5 of Optuna study quad" in out
    code, _, err = cli(capsys, "show", "quad/99", "--uri", path)
    assert code == 2
    assert "Optuna studies: quad, multi" in err
    code, _, err = cli(capsys, "trials", "nope", "--uri", path)
    assert code == 2
    assert "Optuna studies: quad, multi" in err


def _plant_snapshot(path: str, data: bytes) -> None:
    with docstore.connect(path) as db:
        db["optuna_snapshot"].insert_one({"_id": "head", "generation": "g1", "chunks": 1, "size": len(data)})
        db["optuna_snapshot"].insert_one({"_id": "g1.000000", "data": data})


class _Trap:
    """A pickle that creates a file when unpickled: what a hostile snapshot could do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


def test_no_command_unpickles_a_snapshot(
    optuna_store: tuple[str, Written], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path / "copy.json")
    assert cli(capsys, "copy", optuna_store[0], path)[0] == 0
    marker = tmp_path / "unpickled"
    _plant_snapshot(path, pickle.dumps(_Trap(str(marker))))
    for args in (["experiments"], ["trials", "quad"], ["show", "quad/0"], ["check"]):
        code, out, err = cli(capsys, *args, "--uri", path)
        assert code == 0, err
    assert not marker.exists()
    assert "OK (2 Optuna studies (15 trials); no finding)" in out
    with docstore.connect(path) as db:
        db["optuna_snapshot"].delete_one({"_id": "g1.000000"})
    code, out, _ = cli(capsys, "check", path)
    assert code == 1
    assert "optuna_snapshot: the snapshot has 0 of its 1 chunks" in out
    assert not marker.exists()


def test_check_finds_a_hole_in_the_journal(optuna_store: tuple[str, Written], tmp_path: Path) -> None:
    path = str(tmp_path / "holed.json")
    with docstore.connect(optuna_store[0]) as src, docstore.connect(path) as dst:
        batches = src["optuna_logs"].find({}, sort=[("_id", 1)]).to_list()
        dst["optuna_logs"].insert_many([b for i, b in enumerate(batches) if i != 10])
    with docstore.connect(path) as db:
        holdings = read_holdings(db)
    assert len(holdings.findings) == 1
    assert "leaves logs 10 to 10 out" in holdings.findings[0]
    with docstore.connect(path) as db:
        findings: list[str] = []
        read_optuna(db, set(db.list_collection_names()), type(holdings)(findings=findings))
    assert findings == holdings.findings


# ---------------------------------------------------------------- mlos_bench


@pytest.fixture(scope="module")
def mlos_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A JSON store where mlos_bench (through docstore_mlos) ran three trials: two succeeded, one failed."""
    pytest.importorskip("mlos_bench")
    from docstore_mlos import DocstoreStorage
    from mlos_bench.environments.status import Status
    from mlos_bench.tunables.tunable_groups import TunableGroups

    folder = tmp_path_factory.mktemp("mlos")
    env = {**os.environ}
    git = ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    import subprocess

    (folder / "root.jsonc").write_text("{}\n")
    for command in (["init", "-q"], ["remote", "add", "origin", "https://example.invalid/b.git"], ["add", "-A"]):
        subprocess.run([*git, *command], check=True, env=env)
    subprocess.run([*git, "commit", "-qm", "init"], check=True, env=env)
    tunables = TunableGroups(
        {"g": {"cost": 1, "params": {"x": {"type": "float", "range": [0.0, 10.0], "default": 1.0}}}}
    )
    path = str(folder / "study.json")
    at = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    with DocstoreStorage({"uri": path}) as storage:
        experiment = storage.experiment(
            experiment_id="bench",
            trial_id=1,
            root_env_config=str(folder / "root.jsonc"),
            description="a bench",
            tunables=tunables,
            opt_targets={"score": "min"},
        )
        with experiment as running:
            for number, (x, score) in enumerate([(1.0, 3.5), (2.0, 1.25), (3.0, None)]):
                trial = running.new_trial(tunables.copy().assign({"x": x}), at + dt.timedelta(minutes=number))
                trial.update(Status.RUNNING, at + dt.timedelta(minutes=number, seconds=1))
                end = at + dt.timedelta(minutes=number, seconds=3)
                if score is None:
                    trial.update(Status.FAILED, end)
                else:
                    trial.update(Status.SUCCEEDED, end, {"score": score, "latency": 7})
            running.new_trial(tunables.copy().assign({"x": 4.0}), at + dt.timedelta(minutes=5))
    return path


def test_mlos_bench_experiments_trials_show_check(mlos_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "experiments", "--uri", mlos_store)
    assert code == 0
    assert "mlos_bench experiments in" in out
    assert "bench" in out
    assert "score (minimize)" in out
    assert "bench/2" in out  # the best trial
    code, out, _ = cli(capsys, "experiments", "--uri", mlos_store, "--format", "json")
    (record,) = orjson.loads(out)
    assert (record["source"], record["trials"], record["completed"], record["pending"]) == ("mlos_bench", 4, 2, 1)
    assert record["best"] == 1.25
    code, out, _ = cli(capsys, "trials", "bench", "--uri", mlos_store, "--format", "json")
    trials = orjson.loads(out)
    assert [(t["id"], t["status"]) for t in trials] == [
        ("bench/1", "SUCCEEDED"),
        ("bench/2", "SUCCEEDED"),
        ("bench/3", "FAILED"),
        ("bench/4", "PENDING"),
    ]
    assert [t["params"]["x"] for t in trials] == [1.0, 2.0, 3.0, 4.0]
    assert trials[0]["values"] == {"score": 3.5}
    assert trials[0]["other results"] == {"latency": 7}
    code, out, _ = cli(capsys, "trials", "bench", "--uri", mlos_store, "--status", "broken", "--format", "jsonl")
    assert [orjson.loads(line)["id"] for line in out.splitlines()] == ["bench/3"]
    where = orjson.dumps({"config_id": {"$lte": 2}}).decode()
    code, out, _ = cli(capsys, "trials", "bench", "--uri", mlos_store, "--where", where, "--format", "jsonl")
    assert [orjson.loads(line)["id"] for line in out.splitlines()] == ["bench/1", "bench/2"]
    code, out, _ = cli(capsys, "trials", "bench", "--uri", mlos_store)
    assert "mlos_bench experiment bench: 4 trials" in out
    code, out, _ = cli(capsys, "show", "bench/2", "--uri", mlos_store)
    assert code == 0
    assert "Trial bench/2 of mlos_bench experiment bench" in out
    assert "1.25" in out
    code, out, _ = cli(capsys, "check", mlos_store)
    assert code == 0
    assert "1 mlos_bench experiment (4 trials); no finding" in out


def test_damaged_documents_are_findings_not_tracebacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "damaged.json")
    logs = [{"op_code": 0, "study_name": "s", "directions": [1]}, 42, {"op_code": 99}, {"op_code": 4}]
    with docstore.connect(path) as db:
        db["optuna_logs"].insert_one({"_id": "0" * 20, "end": len(logs), "logs": orjson.dumps(logs).decode()})
        db["mlos_experiments"].insert_one({"_id": "e", "objectives": [{"target": "score", "direction": "min"}]})
        db["mlos_trials"].insert_many(
            [
                {"_id": "e/1", "exp_id": "e", "trial_id": "one", "config_id": 1, "status": "SUCCEEDED"},
                {"_id": "e/2", "exp_id": "e", "trial_id": 2, "config_id": [1], "status": "SUCCEEDED"},
                {"_id": "x/1", "exp_id": "x", "trial_id": 1, "config_id": 1, "status": "PENDING"},
            ]
        )
    code, out, err = cli(capsys, "experiments", "--uri", path)
    assert code == 0, err
    assert "Optuna studies in" in out
    assert "mlos_bench experiments in" in out
    code, out, _ = cli(capsys, "check", path)
    assert code == 1
    assert "optuna_logs: log 1 cannot be replayed (TypeError" in out
    assert "optuna_logs: log 3 cannot be replayed (KeyError" in out
    assert "op codes this docstore does not know: 99" in out
    assert "mlos_trials: 'e/1' is not an mlos_bench trial" in out
    assert "mlos_trials: 'e/2' is not an mlos_bench trial" in out
    assert "mlos_trials: 1 trial of experiment 'x', which does not exist" in out
    assert "Traceback" not in out
