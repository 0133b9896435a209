"""Private files and folders: created with their mode (so no umask, and no moment, leaves them open)."""

import os
import stat
from pathlib import Path

import pytest

from infrastructure.private_files import (
    create_private_file,
    open_private_log,
    private_directory,
    private_file,
    replace_private_file,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask():
    """The most open umask: a mode seen below comes from the creating call itself."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_a_private_directory_is_made_0700_with_its_parents(tmp_path):
    private_directory(tmp_path / "a" / "var")
    assert mode(tmp_path / "a" / "var") == 0o700


def test_an_open_directory_is_closed(tmp_path):
    (tmp_path / "var").mkdir(mode=0o755)
    private_directory(tmp_path / "var")
    assert mode(tmp_path / "var") == 0o700


def test_a_private_file_is_made_0600_empty_or_closed_if_open(tmp_path):
    private_file(tmp_path / "db.sqlite3")
    assert (mode(tmp_path / "db.sqlite3"), (tmp_path / "db.sqlite3").read_bytes()) == (0o600, b"")
    (tmp_path / "old.sqlite3").write_bytes(b"data")
    (tmp_path / "old.sqlite3").chmod(0o644)
    private_file(tmp_path / "old.sqlite3")
    assert (mode(tmp_path / "old.sqlite3"), (tmp_path / "old.sqlite3").read_bytes()) == (0o600, b"data")


def test_create_private_file_writes_once_and_keeps_what_is_there(tmp_path):
    path = tmp_path / "secret-key"
    assert create_private_file(path, "first\n") is True
    assert create_private_file(path, "second\n") is False
    assert (mode(path), path.read_text()) == (0o600, "first\n")


def test_replace_private_file_swaps_in_a_0600_file(tmp_path):
    path = tmp_path / "admin-password.txt"
    path.write_text("old\n")
    path.chmod(0o644)
    replace_private_file(path, "new\n")
    assert (mode(path), path.read_text()) == (0o600, "new\n")
    assert [p.name for p in tmp_path.iterdir()] == ["admin-password.txt"]  # no staging file left


def test_a_private_log_is_appended_to_and_0600(tmp_path):
    for line in ("one\n", "two\n"):
        with open_private_log(tmp_path / "web.log") as log:
            log.write(line)
    assert (mode(tmp_path / "web.log"), (tmp_path / "web.log").read_text()) == (0o600, "one\ntwo\n")
