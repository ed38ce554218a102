"""README.md and docs/*.md are executed, twice, as a reader would run them.

Runnable blocks are those fenced as ```python, ```sh, ```bash or ```shell (a fence without a
language, ```text, ```json, ```yaml... is shown, not run). A block is preceded by an optional
marker comment:

* ``<!-- no-test -->``: not run (the dashboard, which serves until stopped);
* ``<!-- run-once -->``: run in the first round only (setting up a git repository);
* ``<!-- pytest -->``: a test file of the reader's own, run with pytest (docstore's plugin
  gives the fixtures).

Each Python block is a whole script, written to a file and run with ``python`` in a temporary
folder (so a block that forgets its imports fails, and multiprocessing works as in a real
script). A document's blocks run in order in one folder; then the whole document runs again in
the same folder, because re-running a study is the point: the second run must resume, not fail.
README's shell blocks run line by line, its ``docstore`` commands only (``pip ...`` and
``pytest`` are skipped: installing and running this very suite are not cheap); the shell blocks
of docs/ run whole with ``bash -e``. ``docstore`` is this checkout's command.
"""

from __future__ import annotations

import importlib.util
import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
FIRST_BLOCK = ["pip install -e . && docstore demo", 'pip install -e ".[dev]" && pytest']
SKIPPED_COMMANDS = ("pip ", "pytest")
RUNNABLE = ("python", "sh", "bash", "shell")
PLUGIN = "docstore.testing.plugin"
NEEDS = {"optuna.md": ("optuna",), "mlos.md": ("mlos_bench",), "own-study.md": ("mongomock",)}
"""What a document's blocks import, beyond docstore (CI installs it all; elsewhere the test says what is missing)."""


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int
    marker: str
    """``no-test``, ``run-once``, ``pytest`` or ``""``: the comment on the line before the fence."""

    @property
    def runnable(self) -> bool:
        return self.language in RUNNABLE and self.marker != "no-test"


def blocks(text: str) -> list[Block]:
    found = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        match = re.match(r"^```(\w*)\s*$", lines[index])
        if not match:
            index += 1
            continue
        start = index
        end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == "```")
        previous = next((lines[i].strip() for i in range(start - 1, -1, -1) if lines[i].strip()), "")
        marker = re.fullmatch(r"<!--\s*([\w-]+)\s*-->", previous)
        code = "\n".join(lines[start + 1 : end]) + "\n"
        found.append(Block(match.group(1), code, start + 1, marker.group(1) if marker else ""))
        index = end + 1
    return found


README_BLOCKS = blocks(README.read_text(encoding="utf-8"))


def _environment(folder: Path) -> dict[str, str]:
    """PATH with a ``docstore`` that runs this checkout's command; PYTHONPATH with this checkout."""
    bin_folder = folder / "bin"
    if not bin_folder.exists():
        bin_folder.mkdir()
        shim = bin_folder / "docstore"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m docstore "$@"\n')
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    paths = [str(REPO), str(REPO / "adapters"), os.environ.get("PYTHONPATH", "")]
    env = {
        **os.environ,
        "PATH": f"{bin_folder}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
    }
    for name in ("DOCSTORE_URI", "PYTEST_ADDOPTS", "COLUMNS"):
        env.pop(name, None)
    return env


def _run(command: list[str], work: Path, env: dict[str, str], where: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{where}: {' '.join(command)[:200]}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _run_block(block: Block, name: str, work: Path, env: dict[str, str], round_: int) -> None:
    where = f"{name}:{block.line} (run {round_ + 1})"
    stem = re.sub(r"\W", "_", Path(name).stem)
    if block.language != "python":
        _run(["bash", "-e", "-o", "pipefail", "-c", block.code], work, env, where)
        return
    if block.marker == "pytest":
        script = work / f"test_{stem}_{block.line}.py"
        script.write_text(block.code)
        installed = any(ep.value == PLUGIN for ep in metadata.entry_points(group="pytest11"))
        plugin = [] if installed else ["-p", PLUGIN]  # an install older than the plugin's entry point
        _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin, script.name], work, env, where)
        return
    script = work / f"{stem}_{block.line}.py"
    script.write_text(block.code)
    _run([sys.executable, script.name], work, env, where)


def _run_document(name: str, found: list[Block], work: Path, rounds: int = 2) -> int:
    env = _environment(work.parent)
    ran = 0
    for round_ in range(rounds):
        for block in found:
            if block.runnable and not (block.marker == "run-once" and round_):
                _run_block(block, name, work, env, round_)
                ran += 1
    return ran


# ---------------------------------------------------------------- README


def test_readme_opens_with_the_install_and_test_commands() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ")
    rest = [line for line in lines[1:] if line.strip()]
    assert rest[0].startswith("```")
    assert rest[1:3] == FIRST_BLOCK
    assert rest[3] == "```"
    assert README_BLOCKS[0].code.splitlines() == FIRST_BLOCK


def test_readme_python_blocks_each_run_alone_twice(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    python = [b for b in README_BLOCKS if b.language == "python"]
    assert _run_document("README.md", python, work) >= 8  # 4 blocks or more, each run twice


def _commands(block: Block) -> list[str]:
    """The block's command lines, without the segments that install or run the test suite."""
    commands = []
    for raw in block.code.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        segments = [s.strip() for s in line.split("&&")]
        kept = [s for s in segments if not s.startswith(SKIPPED_COMMANDS)]
        if kept:
            commands.append(" && ".join(kept))
    return commands


def test_readme_shell_blocks_run_twice(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    env = _environment(tmp_path)
    ran = []
    for round_ in range(2):
        for block in README_BLOCKS:
            if block.language not in ("sh", "bash", "shell") or not block.runnable:
                continue
            for command in _commands(block):
                if command.startswith("docstore"):
                    _run(["bash", "-c", command], work, env, f"README.md:{block.line} (run {round_ + 1})")
                    ran.append(command)
    assert "docstore demo" in ran  # the first block's command
    assert len(ran) >= 10
    assert (work / "trials.csv").read_text().startswith("id,_id,status,x1,x2,objective")


# ---------------------------------------------------------------- docs/


RUNNABLE_DOCS = [doc for doc in DOCS if any(b.runnable for b in blocks(doc.read_text(encoding="utf-8")))]


def test_the_documents_with_examples_are_the_expected_ones() -> None:
    names = {doc.name for doc in RUNNABLE_DOCS}
    assert {"own-study.md", "optuna.md", "mlos.md"} <= names


@pytest.mark.slow
@pytest.mark.parametrize("doc", RUNNABLE_DOCS, ids=[doc.name for doc in RUNNABLE_DOCS])
def test_doc_examples_run_twice(doc: Path, tmp_path: Path) -> None:
    for module in NEEDS.get(doc.name, ()):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{doc.name} needs {module}, which is not installed (pip install -e '.[dev]')")
    work = tmp_path / "work"
    work.mkdir()
    found = blocks(doc.read_text(encoding="utf-8"))
    assert _run_document(f"docs/{doc.name}", found, work) >= 1


# ---------------------------------------------------------------- links


@pytest.mark.parametrize("doc", [README, *DOCS], ids=["README.md", *(doc.name for doc in DOCS)])
def test_relative_links_and_named_files_exist(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text)  # [text](path), not URLs
    named = re.findall(r"`([\w./-]+\.md)`", text)  # `SOMETHING.md` named in the text
    missing = [t for t in targets if not (doc.parent / t).exists()]
    missing += [n for n in named if not (doc.parent / n).exists() and not (REPO / n).exists()]
    assert not missing, f"{doc.name} points at files that do not exist: {missing}"
