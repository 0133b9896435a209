"""What a run may not see (the project, var/, the database's folder) and which host paths it sees besides the system."""

import logging
import os
import sys
from pathlib import Path

from django.conf import settings
from django.db import connections

from councilors.app_settings import app_settings
from councilors.runners.base import RunnerError

logger = logging.getLogger(__name__)

PATH_HIDDEN = "%(what)s %(path)r would show command runs %(hidden)s, which the sandbox hides."
PATH_NOT_ABSOLUTE = "%(what)s %(path)r must be an absolute path."
READ_ONLY_PATH = "COUNCILORS_SANDBOX_READ_ONLY_PATHS entry"
# How PATH_HIDDEN names what a path would show (var/ is var/ in every language).
PROJECT_DIRECTORY = "the project directory"
VAR_DIRECTORY = "var/"
DATABASE_FOLDER = "the database's folder"


def hidden_paths() -> dict[Path, str]:
    """Paths no run may see, with how to name them: the project, var/, every SQLite database file's folder."""
    hidden = {Path(settings.BASE_DIR).resolve(): PROJECT_DIRECTORY, Path(settings.VAR_DIR).resolve(): VAR_DIRECTORY}
    for db in connections.settings.values():  # the live dicts: a test database's name is there
        if db["ENGINE"].endswith("sqlite3"):
            for name in (db.get("NAME"), (db.get("TEST") or {}).get("NAME")):
                if name and str(name) != ":memory:" and not str(name).startswith("file:"):
                    hidden.setdefault(Path(name).resolve().parent, DATABASE_FOLDER)
    return hidden


def _overlap(path: Path, hidden: Path) -> bool:
    return path == hidden or hidden.is_relative_to(path) or path.is_relative_to(hidden)


def path_problem(path: str, *, what: str) -> str | None:
    """Why a run may not see `path` (the agent's cwd, a read-only path), or None."""
    if not os.path.isabs(path):
        return PATH_NOT_ABSOLUTE % {"what": what, "path": path}
    resolved = Path(path).resolve()
    hidden = hidden_paths()
    # Inside a hidden path: the innermost one names it (var/, not the project); holding some: the outermost.
    inside = [folder for folder in hidden if resolved.is_relative_to(folder)]
    holding = [folder for folder in hidden if folder.is_relative_to(resolved)]
    if inside or holding:
        folder = max(inside, key=lambda p: len(p.parts)) if inside else min(holding, key=lambda p: len(p.parts))
        return PATH_HIDDEN % {"what": what, "path": path, "hidden": hidden[folder]}
    return None


def interpreter_prefixes() -> list[str]:
    """The worker's Python (virtualenv and base installation) outside /usr, unless it holds a hidden path.

    A virtualenv inside the project directory is fine: it holds installed packages, not the project's
    code, settings or data (only var/ and the database must never be inside it).
    """
    prefixes = []
    hidden = hidden_paths()
    project = Path(settings.BASE_DIR).resolve()
    for prefix in dict.fromkeys(Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)):
        if prefix.is_relative_to("/usr") or not prefix.is_dir():
            continue
        if any(_overlap(prefix, path) for path in hidden if path != project) or project.is_relative_to(prefix):
            logger.warning("command runs do not see the Python installation %s: it holds what they may not", prefix)
            continue
        prefixes.append(str(prefix))
    return prefixes


def read_only_paths() -> list[str]:
    """COUNCILORS_SANDBOX_READ_ONLY_PATHS, each checked to show nothing hidden (RunnerError if it would)."""
    paths = []
    for path in app_settings.SANDBOX_READ_ONLY_PATHS:
        problem = path_problem(path, what=READ_ONLY_PATH)
        if problem is not None:
            raise RunnerError(problem)
        paths.append(path)
    return paths
