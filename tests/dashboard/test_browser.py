"""The dashboard in headless Chromium against real daphne, django-q2 and Redis.

What it shows: docs/dashboard.md, "The live dashboard".
"""

import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from councilors.incidents import run_incidents_check
from councilors.models import Councilor, Execution
from councilors.services import councilor_pause, councilor_run
from dashboard.templatetags.runs import duration
from gamification.events import emit
from tests.dashboard.browser import (
    PASSWORD,
    PHONE_SCREENSHOT,
    POLL_INTERVAL_S,
    SCREENSHOT,
    context_logged_in,
    login_with_form,
    run_command,
    ticker_items,
    wait_for_state,
    wait_for_ticker_title,
)
from tests.factories import make_actor, make_agent, make_councilor

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# An event is on the page within a second of its emission (docs/dashboard.md, "The JavaScript client").
LIVE_WITHIN_S = 1.0
VIEWPORT = {"width": 1280, "height": 800}

RESUMED_WITHIN_S = 6.0  # missed events are on the page within 6 s of the gateway's restart
BACKOFF_CAP_S = 5.0


ROW_STATUS_RECORDER = """councilorId => {
    const table = document.querySelector('#councilors tbody');
    const status = () => [...table.rows].find(tr => tr.dataset.councilorId === councilorId)?.dataset.status;
    window.rowStatuses = [status()];
    new MutationObserver(() => {
        if (status() !== window.rowStatuses.at(-1)) window.rowStatuses.push(status());
    }).observe(table, {childList: true, subtree: true, attributes: true});
}"""


def _seconds(duration_ms: int) -> str:
    """The ticker's duration format (static/js/gamification/titles.js formatSeconds)."""
    return duration(duration_ms)


def _command_agent(agent_id: str, name: str, emoji: str, script: str):
    return make_agent(
        agent_id=agent_id,
        name=name,
        emoji=emoji,
        runner_config={"argv": [sys.executable, "-c", script], "timeout": 30},
    )


@pytest.fixture
def audit(transactional_db) -> Councilor:
    """A councilor whose run takes a moment (so 'running' is visible) and wants toasts."""
    agent = _command_agent(
        "security", "Security", "🛡️", "import time; time.sleep(1.5); print('all good: no open ports')"
    )
    return make_councilor(
        agent=agent,
        title="Security advisor",
        task_name="Security audit",
        notification_channels=["panel", "toast"],
        notify_on_success=True,
    )


def _more_councilors() -> list[Councilor]:
    """Two more councilors (one warns, one fails), so the page has something to show."""
    deps = _command_agent("deps", "Dependencies", "📦", "print('warning: 2 deprecated packages')")
    backup = _command_agent("backup", "Backups", "💾", "import sys; print('disk full'); sys.exit(3)")
    return [
        make_councilor(agent=deps, title="Dependency advisor", task_name="Dependency check", schedule_value="1h"),
        make_councilor(agent=backup, title="Backup advisor", task_name="Nightly backup", schedule_value="1d"),
    ]


def _run_and_pause_backup(councilors: list[Councilor]) -> None:
    """A run of each (in this process, through the run service), then the failing one paused."""
    for councilor in councilors:
        councilor_run(councilor=councilor)
    councilor_pause(councilor=councilors[-1], actor=make_actor("ops"))


def test_after_login_the_indicator_shows_connected(stack, browser, staff):
    context = browser.new_context()
    page = context.new_page()
    console, sockets = [], []
    page.on("console", lambda message: console.append(message.text))
    page.on("websocket", lambda socket: sockets.append(socket.url))
    login_with_form(page, stack.base_url, "ada", PASSWORD)
    wait_for_state(page, "open")
    assert page.text_content("#connection .connection-label") == "Live"
    assert page.evaluate("window.conductor.socket.isConnected()") is True
    assert "[gamification] connection connecting → open" in console
    # The ticker, the table, the metrics and the poller all listen: still one connection.
    assert sockets == [f"ws://127.0.0.1:{stack.gateway_port}/ws/gamification"]
    assert page.evaluate("window.conductor.socket.ping().then(reply => typeof reply.timestamp)") == "number"
    assert page.evaluate("window.conductor.socket.getStats().then(stats => stats.active_connections)") >= 1
    context.close()


def test_a_command_line_run_shows_started_then_completed_within_a_second(stack, browser, staff, audit):
    others = _more_councilors()
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    login_with_form(page, stack.base_url, "ada", PASSWORD)
    wait_for_state(page, "open")
    _run_and_pause_backup(others)
    warned = Execution.objects.get(agent__agent_id="deps")
    wait_for_ticker_title(page, f"⚠️ Dependency advisor #1 - Warning ({_seconds(warned.duration_ms)})")
    wait_for_ticker_title(page, "❌ Backup advisor #1 - Error: exited with status 3")
    wait_for_ticker_title(page, "⏸️ Backup advisor - paused by ops")

    # Every status the row shows, recorded in the page (the run is short: a test that looked for
    # "running" after the fact could miss it on a busy machine).
    page.evaluate(ROW_STATUS_RECORDER, "security")
    run_command("run_councilor", "security")

    started = wait_for_ticker_title(page, "🏛️ Security advisor #1 - started")
    execution = Execution.objects.get(agent__agent_id="security")
    completed_title = f"✅ Security advisor #1 - Success ({_seconds(_wait_finished(execution).duration_ms)})"
    completed = wait_for_ticker_title(page, completed_title)

    for item in (started, completed):
        assert 0 <= item["shownAt"] - item["emittedAt"] < LIVE_WITHIN_S, item
    titles = [item["title"] for item in ticker_items(page)]
    assert titles.index(completed_title) < titles.index(started["title"]), "newest first"
    row = 'tr[data-councilor-id="security"]'
    page.wait_for_selector(f'{row}[data-status="idle"] [data-field="result"][data-severity="success"]')
    assert page.evaluate("window.rowStatuses") == ["idle", "running", "idle"]
    assert page.get_attribute('#toasts .toast[data-councilor-id="security"]', "data-event-type") == (
        "councilor_completed"
    )
    # Toasts float over the page (fixed): they never move it (tests/dashboard/test_browser_polish.py).
    page.wait_for_function(
        """() => document.querySelector('[data-agent-id="security"] [data-field="total"] dd').textContent === '1'"""
    )
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), animations="disabled")
    context.close()


def _wait_finished(execution: Execution, timeout: float = 30) -> Execution:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution.refresh_from_db()
        if execution.status != Execution.Status.RUNNING:
            return execution
        time.sleep(0.05)
    raise AssertionError(f"{execution.execution_id} still running after {timeout}s")


def test_gateway_killed_polls_then_replays_missed_events_once_after_restart(stack, browser, staff, audit):
    context = browser.new_context()
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(message.text))
    polls = []
    page.on("request", lambda request: "/api/agents/metrics" in request.url and polls.append(time.monotonic()))
    login_with_form(page, stack.base_url, "ada", PASSWORD)
    wait_for_state(page, "open")
    emit("system_alert", {"level": "info", "message": "before the crash", "source": "tests"})
    wait_for_ticker_title(page, "ℹ️ before the crash")
    last_before = max(item["id"] for item in ticker_items(page) if item["id"] is not None)
    assert polls == [], "no polling while connected"

    stack.kill_gateway()
    wait_for_state(page, "reconnecting")
    assert "Disconnected" in page.text_content("#connection .connection-label")
    assert any(line.startswith("[gamification] connection open → reconnecting") for line in console)
    with page.expect_request(lambda request: "/api/agents/metrics" in request.url, timeout=POLL_INTERVAL_S * 5000):
        pass

    # While the gateway is down: a run on the worker (its metrics reach the page by polling) and alerts.
    run_command("run_councilor", "security", "--wait")
    page.wait_for_function(
        """() => document.querySelector('[data-agent-id="security"] [data-field="total"] dd').textContent === '1'""",
        timeout=POLL_INTERVAL_S * 5000,
    )
    for number in (1, 2, 3):
        emit("system_alert", {"level": "warning", "message": f"missed {number}", "source": "tests"})
    execution = Execution.objects.get(agent__agent_id="security")
    missed = [
        "🏛️ Security advisor #1 - started",
        f"✅ Security advisor #1 - Success ({_seconds(execution.duration_ms)})",
        "⚠️ missed 1",
        "⚠️ missed 2",
        "⚠️ missed 3",
    ]
    # The ticker starts from the kept history (earlier tests' events too): nothing newer than before the crash.
    assert all(item["id"] is None or item["id"] <= last_before for item in ticker_items(page))

    stack.start_gateway()
    restarted_at = time.time()
    wait_for_state(page, "open", timeout_ms=(BACKOFF_CAP_S + 10) * 1000)
    for title in missed:
        wait_for_ticker_title(page, title, timeout_ms=(BACKOFF_CAP_S + 10) * 1000)
    items = ticker_items(page)
    shown = {item["title"]: item for item in items}
    assert max(shown[title]["shownAt"] for title in missed) - restarted_at <= RESUMED_WITHIN_S
    titles = [item["title"] for item in items]
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)), f"duplicates in the ticker: {titles}"
    assert ids == sorted(ids, reverse=True), "replayed in order, newest first"
    assert "ℹ️ before the crash" in titles

    # Polling stops once the socket is back.
    polls_when_back = len(polls)
    page.wait_for_timeout(POLL_INTERVAL_S * 2500)
    assert len(polls) == polls_when_back
    assert page.evaluate("window.conductor.poller.isPolling()") is False
    context.close()


def test_an_intentional_disconnect_does_not_reconnect(stack, browser, viewer):
    context = context_logged_in(browser, stack.base_url, viewer)
    page = context.new_page()
    polls = []
    page.on("request", lambda request: "/api/agents/metrics" in request.url and polls.append(request.url))
    page.goto(stack.base_url + "/")
    wait_for_state(page, "open")

    page.click("#connection-toggle")
    wait_for_state(page, "closed")
    assert page.text_content("#connection .connection-label") == "Offline"
    # Any retry would come within the 5 s backoff cap; wait past it for a socket that must not open.
    with pytest.raises(PlaywrightTimeout):
        page.wait_for_event("websocket", timeout=(BACKOFF_CAP_S + 1.5) * 1000)
    assert page.evaluate("window.conductor.socket.getConnectionState()") == "closed"
    assert polls == [], "closing on purpose is not an outage: no polling"

    with page.expect_websocket():
        page.click("#connection-toggle")
    wait_for_state(page, "open")
    context.close()


def test_staff_pause_from_the_page_is_seen_by_a_second_browser(stack, browser, staff, viewer, audit):
    staff_context = browser.new_context()
    staff_page = staff_context.new_page()
    login_with_form(staff_page, stack.base_url, "ada", PASSWORD)
    viewer_context = context_logged_in(browser, stack.base_url, viewer)
    viewer_page = viewer_context.new_page()
    viewer_page.goto(stack.base_url + "/")
    for page in (staff_page, viewer_page):
        wait_for_state(page, "open")
    row = 'tr[data-councilor-id="security"]'
    assert viewer_page.query_selector(f"{row} button") is None, "no control buttons without the permission"
    assert viewer_page.text_content(f'{row} [data-field="status"]') == "Active"

    staff_page.click(f'{row} button[data-action="pause"]')
    viewer_page.wait_for_selector(f'{row}[data-enabled="false"]')
    assert viewer_page.text_content(f'{row} [data-field="status"]') == "Paused"
    wait_for_ticker_title(viewer_page, "⏸️ Security advisor - paused by ada")
    assert Councilor.objects.get(pk=audit.pk).enabled is False
    staff_page.wait_for_selector(f'{row} button[data-action="resume"]')

    staff_page.click(f'{row} button[data-action="resume"]')
    viewer_page.wait_for_selector(f'{row}[data-enabled="true"]')
    assert Councilor.objects.get(pk=audit.pk).enabled is True

    # Run now: queued on the worker, and both browsers watch it run.
    staff_page.click(f'{row} button[data-action="run"]')
    staff_page.wait_for_selector("#toasts .toast:has-text('Run queued for Security advisor')")
    for page in (staff_page, viewer_page):
        wait_for_ticker_title(page, "🏛️ Security advisor #1 - started")
        page.wait_for_selector(f'{row}[data-status="idle"] [data-field="result"][data-severity="success"]')
    staff_context.close()
    viewer_context.close()


def test_on_a_phone_nothing_overflows_and_councilors_read_as_cards(stack, browser, viewer, audit):
    _run_and_pause_backup(_more_councilors())
    context = context_logged_in(
        browser, stack.base_url, viewer, viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    page = context.new_page()
    page.goto(stack.base_url + "/")
    wait_for_state(page, "open")
    emit("system_alert", {"level": "critical", "message": "Backups failing 3 times in a row", "source": "tests"})
    wait_for_ticker_title(page, "🚨 Backups failing 3 times in a row")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.is_hidden("#councilors thead")
    # Read every row's style in one script run: live updates may replace rows between two calls.
    displays = page.eval_on_selector_all("#councilors tbody tr", "rows => rows.map(r => getComputedStyle(r).display)")
    assert displays == ["block", "block", "block"]
    PHONE_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(PHONE_SCREENSHOT), animations="disabled")
    context.close()


def test_the_ticker_keeps_the_newest_events_only(stack, browser, viewer):
    context = context_logged_in(browser, stack.base_url, viewer)
    page = context.new_page()
    page.goto(stack.base_url + "/")
    wait_for_state(page, "open")
    size = page.evaluate("window.conductor.config.tickerSize")
    for number in range(1, size + 6):
        emit("system_alert", {"level": "info", "message": f"alert {number}", "source": "tests"})
    wait_for_ticker_title(page, f"ℹ️ alert {size + 5}")
    titles = [item["title"] for item in ticker_items(page)]
    assert titles == [f"ℹ️ alert {number}" for number in range(size + 5, 5, -1)]
    context.close()


def test_a_late_councilor_shows_late_and_a_toast_until_its_run_starts(stack, browser, staff, audit):
    slot = timezone.now() - timedelta(minutes=10)  # every 30 minutes: next due in 20
    audit.refresh_from_db()
    Schedule.objects.filter(pk=audit.q_schedule_id).update(next_run=slot + timedelta(minutes=30), task="t")
    # Late only on the clock passed below: the stack's own cluster loop, on the real clock, sees it within its grace.
    Councilor.objects.filter(pk=audit.pk).update(updated_at=slot - timedelta(hours=1), grace_s=3600)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    login_with_form(page, stack.base_url, "ada", PASSWORD)
    wait_for_state(page, "open")
    row = 'tr[data-councilor-id="security"]'
    assert page.query_selector(f"{row} [data-incident]") is None

    [incident] = run_incidents_check(now=slot + timedelta(seconds=3601)).raised
    page.wait_for_selector(f'{row} [data-incident="late"]', timeout=LIVE_WITHIN_S * 5000)
    assert page.text_content(f'{row} [data-incident="late"]') == "Late"
    toast = page.wait_for_selector('#toasts .toast[data-councilor-id="security"][data-event-type="system_alert"]')
    assert toast.query_selector("a").get_attribute("href") == "/agents/security/"

    page.evaluate(ROW_STATUS_RECORDER, "security")
    councilor_run(councilor=audit)  # its run starts: no longer late
    page.wait_for_selector(f'{row}[data-status="idle"] [data-field="result"][data-severity="success"]')
    assert page.evaluate("window.rowStatuses") == ["idle", "running", "idle"]
    assert page.query_selector(f"{row} [data-incident]") is None
    incident.refresh_from_db()
    assert incident.resolved_at is not None
    context.close()
