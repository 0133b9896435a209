"""`make run`: prepare a fresh machine, then run Redis, daphne and a worker cluster under honcho.

Preparation (every start, each step idempotent): migrate, the django-q2 heartbeat cache table,
static files, demo data on an empty database, and an admin login on first run (its generated
password is kept in var/admin-password.txt). Then honcho runs the processes; each output line is
prefixed with the process name on the console and appended to var/log/<name>.log. Ctrl+C (or
SIGTERM) stops every process it started.

Environment: HOST / PORT (default 127.0.0.1:5006), REDIS_URL (unset: the embedded Redis is started
on var/run/redis.sock), DATABASE_URL (unset: SQLite under var/), SECRET_KEY / SECRET_KEY_FILE (unset:
a random key generated on first run and kept in var/secret-key, given to every process),
GATEWAY_ACCESS_LOG (unset: daphne writes no access log; `-` for its console, or a file).
Everything under var/ is this user's alone: the folder is 0700 and every file is created 0600.
"""

import os
import secrets
import shlex
import socket
import sys
import threading
import time
from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import TextIO

from devserver import procgroup
from devserver.fastpath import honcho
from devserver.fastpath.honcho import SYSTEM_PRINTER_NAME, Manager, Message, Printer
from devserver.gateway import ACCESS_LOG_ENV, daphne_argv
from infrastructure.private_files import create_private_file, open_private_log, private_directory, replace_private_file

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5006
ADMIN_USERNAME = "admin"
READY_TIMEOUT_S = 120.0
STOPPED_BY_SIGNAL = (130, 143)  # honcho's return codes after SIGINT / SIGTERM
SECRET_KEY_FILE_NAME = "secret-key"
# Files this process and its children create (the SQLite database, Redis's, logs) are theirs alone.
PRIVATE_UMASK = 0o077
PROJECT_DIR = Path(__file__).resolve().parent.parent


def _settings_module() -> str:
    return os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conductor.settings.base")


class TeePrinter(Printer):
    """honcho's console printer that also appends each process's lines to var/log/<name>.log."""

    def __init__(self, *args, log_dir: Path, names: Iterable[str] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.log_dir = log_dir
        self._files: dict[str, TextIO] = {}
        # Every log the banner lists exists from the start, also for a process that has printed
        # nothing yet (the watchdog is silent until a worker cluster goes missing).
        for name in names:
            self._log(name)

    def _log(self, name: str) -> TextIO:
        if name not in self._files:
            self._files[name] = open_private_log(self.log_dir / f"{name}.log")
        return self._files[name]

    def write(self, message: Message) -> None:
        super().write(message)
        name = message.name or SYSTEM_PRINTER_NAME
        data = message.data.decode("utf-8", "replace") if isinstance(message.data, bytes) else message.data
        stamp = message.time.strftime("%Y-%m-%d %H:%M:%S")
        log = self._log(name)
        for line in data.splitlines():
            log.write(f"{stamp} {name} | {line}\n")
        log.flush()


def log_names(table: dict[str, list[str]]) -> list[str]:
    """The logs under var/log/: one per process, and honcho's own (`system`: starts, stops, signals)."""
    return [*table, SYSTEM_PRINTER_NAME]


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def prepare() -> list[str]:
    """Bring the database up to date and make sure someone can log in; returns the login lines to print."""
    import django
    from django.core.management import call_command

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from councilors.models import Agent

    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    if not Agent.objects.exists():
        call_command("seed_demo")
    lines = _admin_login(get_user_model())
    connection.close()
    return lines


def new_admin_password() -> str:
    """A random password for the first admin that AUTH_PASSWORD_VALIDATORS accept (16 URL-safe characters)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    while True:
        password = secrets.token_urlsafe(12)
        try:  # all digits, or too like the name "admin": astronomically rare, but then draw again
            validate_password(password, user=get_user_model()(username=ADMIN_USERNAME))
        except ValidationError:
            continue
        return password


def _admin_login(user_model) -> list[str]:
    from django.conf import settings

    password_file = Path(settings.VAR_DIR) / "admin-password.txt"
    if not user_model.objects.filter(is_superuser=True).exists():
        password = new_admin_password()
        user_model.objects.create_superuser(ADMIN_USERNAME, email="", password=password)
        replace_private_file(password_file, password + "\n")
    admin = user_model.objects.filter(username=ADMIN_USERNAME, is_superuser=True).first()
    if admin is not None and password_file.exists():
        password = password_file.read_text().strip()
        if admin.check_password(password):
            return [f"log in as {ADMIN_USERNAME!r} with password {password!r} (kept in {password_file})"]
    return ["log in with your superuser (reset a password: python manage.py changepassword <username>)"]


def process_table(*, host: str, port: int) -> dict[str, list[str]]:
    """The processes to supervise: name -> argv. The embedded Redis only when REDIS_URL is unset."""
    python = sys.executable
    table: dict[str, list[str]] = {}
    if not os.environ.get("REDIS_URL"):
        table["redis"] = [python, "-m", "devserver.embedded_redis"]
    table["web"] = daphne_argv(python, host=host, port=port, access_log=os.environ.get(ACCESS_LOG_ENV) or None)
    # In a process group of its own: see devserver/procgroup.py for why.
    table["worker"] = [python, "-m", "devserver.procgroup", python, "manage.py", "run_cluster"]
    # Clusters cannot report their own absence: this raises the "no worker cluster" alert.
    table["watchdog"] = [python, "manage.py", "check_workers", "--watch", "15"]
    return table


def banner_lines(
    *, site: str, login: list[str], log_dir: Path, logs: list[str], key_file: Path | None = None
) -> list[str]:
    """What every start prints: where the dashboard and the admin are, how to log in, where the logs go."""
    from django.urls import reverse

    return [
        "",
        "=" * 72,
        f"  Conductor dashboard: {site}{reverse('dashboard')}",
        f"  Conductor admin: {site}{reverse('admin:index')}",
        *[f"  {line}" for line in login],
        f"  logs: {log_dir}/{{{','.join(logs)}}}.log",
        *(
            [f"  manage.py beside it, with the same key: export SECRET_KEY_FILE={_shown_path(key_file)}"]
            if key_file
            else []
        ),
        "  Ctrl+C stops everything.",
        "=" * 72,
        "",
    ]


SANDBOX_MISSING = (
    "make run: bubblewrap is not installed, so command runs are not sandboxed: they run with your rights and see "
    "your files. To sandbox them: sudo {install} (then restart make run; docs/security.md)."
)
SANDBOX_BROKEN = (
    "make run: bubblewrap cannot run here ({reason}), so command runs are not sandboxed: they run with your rights "
    "and see your files (docs/security.md)."
)


def sandbox_notice() -> str | None:
    """What to say, once per start, when command runs will not be sandboxed although nobody chose that."""
    from councilors.runners.sandbox import INSTALL_HINT, bwrap_probe

    if os.environ.get("COUNCILORS_SANDBOX") or bwrap_probe().works:
        return None
    probe = bwrap_probe()
    return SANDBOX_MISSING.format(install=INSTALL_HINT) if probe.missing else SANDBOX_BROKEN.format(reason=probe.reason)


def _announce_when_ready(*, host: str, port: int, banner: list[str]) -> None:
    # The banner is printed once up front, then again once daphne answers, so it is the last
    # thing on screen after the processes' start-up chatter.
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.25)
    else:
        return
    print("\n".join(banner), flush=True)


def var_dir() -> Path:
    """The settings' VAR_DIR, found before the settings are read (they need the key kept there)."""
    # The same rule as conductor/settings/base.py, which devserver may not import (`make lint`).
    return Path(os.environ.get("CONDUCTOR_VAR_DIR") or PROJECT_DIR / "var")


def provide_secret_key(folder: Path, environ: MutableMapping[str, str]) -> Path | None:
    """Unless `environ` names a key, the one kept in `folder`/secret-key (made on first run), set as SECRET_KEY_FILE.

    Returns the key file's path when it is the one in use. main() passes os.environ: this process's
    own settings and every process it starts read the key from there.
    """
    if environ.get("SECRET_KEY") or environ.get("SECRET_KEY_FILE"):
        return None
    private_directory(folder)
    path = folder / SECRET_KEY_FILE_NAME
    create_private_file(path, secrets.token_urlsafe(50) + "\n")  # kept if it is already there
    environ["SECRET_KEY_FILE"] = str(path)
    return path


def _shown_path(path: Path) -> str:
    # var/secret-key when run from the checkout (as the README's commands are), the full path otherwise.
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def main() -> int:
    os.umask(PRIVATE_UMASK)
    _settings_module()
    key_file = provide_secret_key(var_dir(), os.environ)
    host = os.environ.get("HOST", DEFAULT_HOST)
    port = int(os.environ.get("PORT", DEFAULT_PORT))
    if not port_is_free(host, port):
        print(f"make run: {host}:{port} is already in use; stop what uses it or set PORT=<another port>.")
        return 1
    login = prepare()
    from django.conf import settings

    log_dir = Path(settings.VAR_DIR) / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    table = process_table(host=host, port=port)
    banner = banner_lines(
        site=f"http://{host}:{port}", login=login, log_dir=log_dir, logs=log_names(table), key_file=key_file
    )
    print("\n".join(banner), flush=True)
    if notice := sandbox_notice():
        print(notice, flush=True)

    # honcho SIGKILLs whatever still runs 5 s after Ctrl+C; give the worker its own grace period first.
    honcho.grant_grace(procgroup.GRACE_S + 5)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    manager = Manager(TeePrinter(sys.stdout, log_dir=log_dir, names=log_names(table)))
    for name, argv in table.items():
        # `exec` so that honcho's signal reaches the process itself, not a shell around it.
        manager.add_process(name, f"exec {shlex.join(argv)}", env=env, cwd=str(settings.BASE_DIR))
    threading.Thread(
        target=_announce_when_ready, kwargs={"host": host, "port": port, "banner": banner}, daemon=True
    ).start()
    manager.loop()
    # Stopped on request (Ctrl+C, SIGTERM) is a clean exit; a process that died on its own is not.
    return 0 if manager.returncode in STOPPED_BY_SIGNAL else manager.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
