"""Files only this user may read: created with their mode, never chmod-ed after the fact.

The SQLite database (password hashes, session keys), logs, the admin password and the secret key
live under var/. A file written with the default umask and chmod-ed afterwards is readable by other
local users in between, so each is created with `os.open(..., mode)` (or under a umask of 0o077).
Plain functions of the standard library only: the settings import this module before Django is set up.
"""

import os
import stat
from pathlib import Path
from typing import TextIO

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# What a private file or folder must not have: any permission for the group or for others.
OPEN_TO_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def _tighten(path: Path, mode: int) -> None:
    # A folder or file left open by an older version (created 0755/0644): close it, if it is ours.
    info = path.stat()
    if info.st_mode & OPEN_TO_OTHERS and info.st_uid == os.getuid():
        path.chmod(mode)


def private_directory(path: Path) -> None:
    """Create `path` (and its parents) 0700 if missing; take group and other permissions off an existing one."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, PRIVATE_DIR_MODE)


def private_file(path: Path) -> None:
    """Create an empty `path` 0600 if missing (so what opens it later finds it private); tighten an existing one."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    except FileExistsError:
        _tighten(path, PRIVATE_FILE_MODE)


def create_private_file(path: Path, text: str) -> bool:
    """Write `text` to a new 0600 file at `path`; False (and nothing written) when it already exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    return True


def replace_private_file(path: Path, text: str) -> None:
    """Write `text` to `path` as a 0600 file, replacing it in one step (a new file renamed over it)."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.new")
    staging.unlink(missing_ok=True)
    create_private_file(staging, text)
    os.replace(staging, path)


def open_private_log(path: Path) -> TextIO:
    """`path` opened for appending text, created 0600 if missing."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
    return os.fdopen(fd, "a", encoding="utf-8")
