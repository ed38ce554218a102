"""Install hints: the command that works for how docstore was installed (it is not on the package index)."""

from __future__ import annotations

from pathlib import Path

import pytest

from docstore import extras


@pytest.fixture
def clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "docstore-clone"
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[project]\nname = "docstore"\n')
    monkeypatch.setattr(extras, "_CHECKOUT", folder)
    return folder


def test_from_the_clone_itself(clone: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(clone)
    assert extras.install_command("plot") == 'pip install -e ".[plot]"'
    assert extras.install_command("orion", installer="uv pip install") == 'uv pip install -e ".[orion]"'
    assert extras.install_command("") == 'pip install -e "."'


def test_from_elsewhere_the_clone_is_named(clone: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert extras.install_command("mongomock") == f'pip install -e "{clone}[mongomock]"'


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({}, 'pip install "docstore[plot]"'),  # from an index
        ({"url": "file:///src/docstore", "dir_info": {}}, 'pip install "/src/docstore[plot]"'),
        (
            {"url": "file:///w/docstore-0.1.0-py3-none-any.whl", "archive_info": {}},
            'pip install "docstore[plot] @ file:///w/docstore-0.1.0-py3-none-any.whl"',
        ),
        (
            {"url": "https://example.org/docstore.git", "vcs_info": {"vcs": "git", "commit_id": "abc"}},
            'pip install "docstore[plot] @ git+https://example.org/docstore.git"',
        ),
        (None, 'pip install "docstore[plot]"'),  # not installed, and not run from a clone either
    ],
    ids=["index", "folder", "wheel", "git", "nothing"],
)
def test_an_installed_docstore_says_where_it_came_from(
    record: dict[str, object] | None, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extras, "_CHECKOUT", tmp_path / "site-packages")  # no pyproject.toml: not a clone
    monkeypatch.setattr(extras, "_direct_url", lambda: record)
    assert extras.install_command("plot") == expected


def test_this_checkout_is_recognised() -> None:
    command = extras.install_command("plot")
    assert command.startswith("pip install -e ")
    assert command.endswith('[plot]"')
