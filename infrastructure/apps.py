import warnings
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings

from infrastructure.private_files import private_directory, private_file


class InfrastructureConfig(AppConfig):
    """What several apps share: Redis access, tokens, API authentication, streaming responses."""

    name = "infrastructure"
    verbose_name = "Shared infrastructure"

    def ready(self) -> None:
        """What the settings only name, made so when Django starts (importing the settings touches no file)."""
        private_directory(Path(settings.VAR_DIR))  # 0700: the database holds password hashes
        for database in settings.DATABASES.values():
            if database["ENGINE"] == "django.db.backends.sqlite3":
                _private_sqlite_file(Path(database["NAME"]))
        # WhiteNoise serves from the finders (WHITENOISE_USE_FINDERS): a missing STATIC_ROOT is expected.
        warnings.filterwarnings("ignore", message="No directory at: .*static")


def _private_sqlite_file(path: Path) -> None:
    # sqlite3 creates the file with the process umask (0644) on first connect; made 0600 beforehand,
    # it stays so (SQLite gives its -wal and -shm files the database file's mode).
    if str(path) == ":memory:" or not path.parent.is_dir():
        return
    private_file(path)
    for journal in (path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        if journal.exists():
            private_file(journal)  # left 0644 by an older version
