"""What a store says reaches the terminal as data: never as rich markup, never as control codes.

A store is untrusted (anyone who can write to it can name an experiment): a name such as
``[/bold]x`` must not make a command fail with rich's MarkupError, and ESC sequences, C1
controls or a right-to-left override in names and values must come out escaped
(``\\x1b``, ``\\x9b``, ``\\u202e``) in tables, messages and errors; JSON output keeps the same
values with the characters as ``\\u`` escapes.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import orjson
import pytest

import docstore
from docstore.cli import main
from docstore.commands.terminal import json_safe, markup, printable

MARKUP = "[/bold]x[red]"
CLEAR = "evil\x1b[2J\x1b]0;pwned\x07"
C1 = "c1\x9b31m"
RTL = "abc\u202edef"
BAD = (MARKUP, CLEAR, C1, RTL)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _raw_controls(text: str) -> list[str]:
    return [c for c in text if c in "\x1b\x07\x9b\u202e"]


@pytest.fixture
def hostile(tmp_path: Path) -> str:
    """A JSON store whose experiments, params, results and fields are named to attack a terminal."""
    path = str(tmp_path / "hostile.json")
    with docstore.setup_storage(path) as storage:
        for number, name in enumerate(BAD):
            experiment = storage.create_experiment({"name": name, "version": 1, "space": {CLEAR: "uniform(0, 1)"}})
            trial = storage.register_trial(
                docstore.Trial(experiment=experiment["_id"], params={CLEAR: float(number), "kind": RTL})
            )
            trial = storage.reserve_trial(experiment)
            trial.results = [{"name": "objective", "type": "objective", "value": 1.0 + number}]
            storage.push_trial_results(trial)
            storage.set_trial_status(trial, "completed", was="reserved")
            storage.update_trial(trial, **{C1: MARKUP})
    return path


def test_printable_and_markup() -> None:
    assert printable(CLEAR) == "evil\\x1b[2J\\x1b]0;pwned\\x07"
    assert printable(C1) == "c1\\x9b31m"
    assert printable(RTL) == "abc\\u202edef"
    assert printable("a\nb") == "a\\x0ab"
    assert printable("a\nb", newlines=True) == "a\nb"
    assert printable("tab\there\rcr") == "tab\\x09here\\x0dcr"
    assert printable("naïve, 東京, emoji 🎉") == "naïve, 東京, emoji 🎉"  # printable text is left alone
    assert printable("\ud800") == "\\ud800"  # a lone surrogate would not even encode
    assert markup(MARKUP) == "\\[/bold]x\\[red]"


def test_json_safe_keeps_the_values() -> None:
    value = {"k": "".join(BAD) + "\x7f\U000e0001é", "nested": [C1]}
    text = json_safe(orjson.dumps(value))
    assert text.isascii() or "é" in text.decode()
    assert not _raw_controls(text.decode())
    assert "\x7f" not in text.decode()
    assert json.loads(text) == value
    assert orjson.loads(text) == value


@pytest.mark.parametrize(
    "args",
    [
        ["experiments"],
        ["trials", MARKUP],
        ["trials", CLEAR],
        ["trials", RTL, "--format", "csv"],
        ["trials", C1, "--format", "json"],
        ["experiments", "--format", "jsonl"],
        ["check"],
    ],
    ids=["experiments", "trials-markup", "trials-ansi", "trials-csv", "trials-json", "experiments-jsonl", "check"],
)
def test_every_command_prints_stored_text_escaped(
    hostile: str, args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if "csv" in args:  # CSV escapes for a terminal only (rich would style a terminal's tables with ESC codes)
        monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    code, out, err = cli(capsys, *args, "--uri", hostile)
    assert code == 0, err
    assert not _raw_controls(out + err), (out + err)[:2000]
    if args[0] == "trials" and "--format" not in args:
        assert "\\x1b[2J" in out  # the param name, shown as text
    if "json" in args or "jsonl" in args:
        for line in out.splitlines() if "jsonl" in args else [out]:
            json.loads(line)  # still valid JSON, same values


def test_show_of_a_hostile_trial(hostile: str, capsys: pytest.CaptureFixture[str]) -> None:
    with docstore.connect(hostile) as db:
        trial = db["trials"].find_one({})
    assert trial is not None
    code, out, err = cli(capsys, "show", trial["id"], "--uri", hostile)
    assert code == 0, err
    assert not _raw_controls(out)
    assert "\\x9b31m" in out  # the field name
    assert "[/bold]x[red]" in out  # the value, shown as it is


def test_plot_of_an_experiment_named_like_markup(
    hostile: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    for name in (MARKUP, CLEAR, "cost in $ and $$"):
        if name.startswith("cost"):
            with docstore.setup_storage(hostile) as storage:
                storage.create_experiment({"name": name, "version": 1})
        code, out, err = cli(capsys, "plot", name, "--uri", hostile, "-o", str(tmp_path / "r.png"))
        assert code == 0, err
        assert "wrote" in out
        assert not _raw_controls(out)


def test_errors_show_stored_and_given_text_escaped(hostile: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "trials", "nope\x1b[31m", "--uri", hostile)
    assert code == 2
    assert err.count("\n") == 1
    assert not _raw_controls(err)
    assert "evil\\x1b[2J" in err  # the known experiments, listed in the message
    code, _, err = cli(capsys, "show", "zz\u202ezz", "--uri", hostile)
    assert code == 2
    assert not _raw_controls(err)


def test_a_hostile_optuna_study_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Optuna's journal, written as docstore_optuna lays it out (Optuna itself is not needed to read it)."""
    path = str(tmp_path / "optuna.json")
    start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc).isoformat()
    logs = [
        {"op_code": 0, "worker_id": "w", "study_name": CLEAR, "directions": [1]},
        {"op_code": 4, "worker_id": "w", "study_id": 0, "datetime_start": start},
        {
            "op_code": 5,
            "worker_id": "w",
            "trial_id": 0,
            "param_name": RTL,
            "param_value_internal": 1,
            "distribution": json.dumps({"name": "CategoricalDistribution", "attributes": {"choices": ["a", MARKUP]}}),
        },
        {"op_code": 6, "worker_id": "w", "trial_id": 0, "state": 1, "values": [0.5], "datetime_complete": start},
    ]
    with docstore.connect(path) as db:
        db["optuna_logs"].insert_one({"_id": "0" * 20, "end": len(logs), "writer": "w", "logs": json.dumps(logs)})
    shown = {}
    for args in (["experiments"], ["trials", CLEAR], ["show", f"{CLEAR}/0"], ["check"]):
        code, out, err = cli(capsys, *args, "--uri", path)
        assert code == 0, err
        assert not _raw_controls(out), out
        shown[args[0]] = out
    assert "[/bold]x[red]" in shown["show"]
    assert "evil\\x1b[2J" in shown["experiments"]
    assert "1 Optuna study (1 trial)" in shown["check"]
    code, out, _ = cli(capsys, "trials", CLEAR, "--uri", path, "--format", "json")
    (trial,) = orjson.loads(out)
    assert trial["params"] == {RTL: MARKUP}  # the values themselves are intact


def test_csv_into_a_file_keeps_the_values_as_stored(hostile: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "trials", RTL, "--uri", hostile, "--format", "csv")
    assert code == 0
    assert CLEAR in out.splitlines()[0]  # data for a program: not rewritten
    assert RTL in out
