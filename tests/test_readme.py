"""README.md is executed: its first lines, every ```python block, the ``docstore`` commands of its shell blocks.

Python blocks run in order in one namespace (a block may use what an earlier one made), in
a temporary folder. Shell blocks run line by line with bash in one temporary folder, where
``docstore`` is this checkout's command; ``pip ...`` and ``pytest`` segments are skipped
(installing and running this very test suite are not cheap). A block preceded by
``<!-- no-test -->`` is not run.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
NO_TEST = "<!-- no-test -->"
FIRST_BLOCK = ["pip install -e . && docstore demo", 'pip install -e ".[dev]" && pytest']
SKIPPED_COMMANDS = ("pip ", "pytest")


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int
    run: bool


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
        found.append(Block(match.group(1), "\n".join(lines[start + 1 : end]) + "\n", start + 1, previous != NO_TEST))
        index = end + 1
    return found


README_BLOCKS = blocks(README.read_text(encoding="utf-8"))


def test_readme_opens_with_the_install_and_test_commands() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ")
    rest = [line for line in lines[1:] if line.strip()]
    assert rest[0].startswith("```")
    assert rest[1:3] == FIRST_BLOCK
    assert rest[3] == "```"
    assert README_BLOCKS[0].code.splitlines() == FIRST_BLOCK


def test_python_blocks_run_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DOCSTORE_URI", raising=False)
    namespace: dict[str, Any] = {"__name__": "__readme__"}
    ran = 0
    for block in README_BLOCKS:
        if block.language == "python" and block.run:
            code = compile(block.code, f"README.md:{block.line}", "exec")
            exec(code, namespace)
            ran += 1
    assert ran >= 3


def _docstore_shim(folder: Path) -> Path:
    """A ``docstore`` executable that runs this checkout's command with this interpreter."""
    folder.mkdir()
    shim = folder / "docstore"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m docstore "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return folder


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


def test_shell_blocks_run(tmp_path: Path) -> None:
    bin_folder = _docstore_shim(tmp_path / "bin")
    work = tmp_path / "work"
    work.mkdir()
    paths = [str(REPO), str(REPO / "adapters"), os.environ.get("PYTHONPATH", "")]
    env = {
        **os.environ,
        "PATH": f"{bin_folder}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
    }
    env.pop("DOCSTORE_URI", None)
    ran = []
    for block in README_BLOCKS:
        if block.language not in ("sh", "bash", "shell") or not block.run:
            continue
        for command in _commands(block):
            if not command.startswith("docstore"):
                continue
            done = subprocess.run(
                ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False
            )
            assert done.returncode == 0, f"README.md:{block.line}: {command}\n{done.stdout}\n{done.stderr}"
            ran.append(command)
    assert "docstore demo" in ran  # the first block's command
    assert len(ran) >= 5
    assert (work / "trials.csv").read_text().startswith("id,_id,status,x1,x2,objective")


def test_relative_links_exist() -> None:
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text)
    assert targets
    missing = [t for t in targets if not (REPO / t).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"
