"""Helpers for the dashboard's browser tests: the process stack, Chromium, logging in."""

import json
import os
import signal
import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page

from tests.processes import PROJECT_DIR, PYTHON, daphne, free_port, manage, process_env, stop

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
POLL_INTERVAL_S = 1.0  # the page's fallback poll in these tests (30 s in production)
# Screenshots go to a temporary folder; `make screenshots` points this at docs/ to refresh them on purpose.
SCREENSHOTS_DIR = Path(
    os.environ.get("CONDUCTOR_SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "conductor-screenshots"
)
SCREENSHOT = SCREENSHOTS_DIR / "dashboard.png"
PHONE_SCREENSHOT = SCREENSHOTS_DIR / "dashboard-phone.png"

PASSWORD = "correct horse battery staple"


def browser_user(username: str, **fields):
    """A user who can log in through the form: the servers run the base settings, which do not know
    the test settings' fast MD5 hasher, so the password is hashed with PBKDF2."""
    password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    return get_user_model().objects.create(username=username, password=password, **fields)


class Stack:
    """A deployment in miniature: a web daphne (page + API), a separate WebSocket gateway daphne
    (so the gateway can be killed while the page and its API stay up, as behind a load balancer),
    and a django-q2 cluster, all on the test database and Redis."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.exit = ExitStack()
        self.gateway_port = free_port()
        self.web_port = free_port()
        self.gateway: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> "Stack":
        self.start_gateway()
        self.exit.enter_context(
            daphne(
                port=self.web_port,
                log_path=self.log_dir / "web.log",
                DASHBOARD_SOCKET_URL=f"ws://127.0.0.1:{self.gateway_port}/ws/gamification",
                DASHBOARD_POLL_INTERVAL_S=str(POLL_INTERVAL_S),
            )
        )
        self.exit.enter_context(manage("run_cluster", log_path=self.log_dir / "run_cluster.log"))
        return self

    def start_gateway(self) -> None:
        # The page comes from the web daphne's origin, another port than the gateway's: the gateway lets
        # that origin's browsers in only because it is listed (docs/protocol.md, "Connecting and access").
        log_path = self.log_dir / "gateway.log"
        gateway = daphne(port=self.gateway_port, log_path=log_path, WS_ALLOWED_ORIGINS=self.base_url)
        self.gateway, _ = self.exit.enter_context(gateway)

    def ensure_gateway(self) -> None:
        if self.gateway is None or self.gateway.poll() is not None:
            self.start_gateway()

    def kill_gateway(self) -> None:
        """SIGKILL, as a crash: no close frames are sent to the browsers."""
        stop(self.gateway, sig=signal.SIGKILL)

    def close(self) -> None:
        self.exit.close()


def launch_chromium(playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def run_command(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """A one-shot `manage.py` command, as an operator types it."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=process_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def login_with_form(page: Page, base_url: str, username: str, password: str) -> None:
    """Open the dashboard, get sent to the admin login, log in, and land back on the dashboard."""
    page.goto(base_url + "/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(base_url + "/")


def context_logged_in(browser: Browser, base_url: str, user, **options) -> BrowserContext:
    """A browser context carrying a session of `user` (made by Django's test client)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(**options)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}])
    return context


def ticker_items(page: Page) -> list[dict]:
    """The footer ticker as the page shows it, newest first."""
    return page.eval_on_selector_all(
        "#ticker .ticker-item",
        """items => items.map(li => ({
            title: li.querySelector('.ticker-title').textContent,
            type: li.dataset.type,
            id: li.dataset.eventId === '' ? null : Number(li.dataset.eventId),
            emittedAt: Number(li.dataset.emittedAt),
            shownAt: Number(li.dataset.shownAt),
        }))""",
    )


def wait_for_ticker_title(page: Page, title: str, timeout_ms: float = 15000) -> dict:
    page.wait_for_function(
        "title => [...document.querySelectorAll('#ticker .ticker-title')].some(e => e.textContent === title)",
        arg=title,
        timeout=timeout_ms,
    )
    return next(item for item in ticker_items(page) if item["title"] == title)


def wait_for_state(page: Page, state: str, timeout_ms: float = 15000) -> None:
    page.wait_for_selector(f"#connection[data-state={json.dumps(state)}]", timeout=timeout_ms)


# Every piece of text on the page that runs past the box that clips it (a panel with overflow
# hidden, the screen) or past what its scrolling container shows: [{kind, where, text}, ...].
CUT_OFF_TEXT = (Path(__file__).parent / "cut_off_text.js").read_text()
