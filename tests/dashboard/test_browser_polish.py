"""Issue 21 in headless Chromium against real daphne, django-q2 and Redis: no CSP violation on the
main pages, the run page as a CI log, one verdict, the chart, toasts, the critical banner, the
ticker's history and offline state, phones, dark mode, the styled 404, and the pages as their
scripts leave them in Portuguese (docs/dashboard.md)."""

import sys

import pytest

from councilors.models import Execution
from councilors.services import agent_run, councilor_pause, councilor_run
from gamification.events import emit
from tests.dashboard.browser import (
    CUT_OFF_TEXT,
    SCREENSHOTS_DIR,
    context_logged_in,
    wait_for_state,
    wait_for_ticker_title,
)
from tests.factories import make_actor, make_agent, make_councilor
from tests.untranslated import database_strings, untranslated

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DARK_SCREENSHOT = SCREENSHOTS_DIR / "dashboard-dark.png"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True}
# Where alerts show their senders' words: the ticker's items, the critical banners.
ALERT_TITLES = (
    "#ticker .ticker-item[data-type=system_alert] .ticker-title, #banners .banner-message, #banners .banner-source"
)
COLOURED = "print('\\x1b[32mok\\x1b[0m plain \\x1b[1;31mFAIL\\x1b[0m'); print('ERROR: disk almost full')"


def _agent(agent_id: str, script: str, **fields):
    config = {"argv": [sys.executable, "-c", script], "timeout": 60}
    return make_agent(agent_id=agent_id, name=fields.pop("name", agent_id.title()), runner_config=config, **fields)


def _csp_violations(page) -> list[str]:
    return [message for message in page.console_messages if "Content Security Policy" in message]


def _watch_console(page) -> None:
    page.console_messages = []
    page.on("console", lambda message: page.console_messages.append(message.text))
    page.on("pageerror", lambda error: page.console_messages.append(f"pageerror: {error}"))


def test_the_main_pages_run_under_the_policy_without_a_violation(stack, browser, staff):
    agent = _agent("audit", COLOURED, name="Audit")
    councilor = make_councilor(agent=agent, title="Audit", task_name="Audit")
    execution = councilor_run(councilor=councilor)
    context = context_logged_in(browser, stack.base_url, staff)
    page = context.new_page()
    _watch_console(page)
    for path in [
        "/",
        f"/executions/{execution.execution_id}/",
        "/agents/audit/",
        "/admin/",
        f"/admin/councilors/councilor/{councilor.pk}/change/",
        "/agents/nobody/",
    ]:
        page.goto(stack.base_url + path)
        page.wait_for_load_state("networkidle")
    assert _csp_violations(page) == []
    assert [message for message in page.console_messages if message.startswith("pageerror")] == []
    context.close()


def test_the_run_page_reads_as_a_ci_log(stack, browser, staff):
    agent = _agent("colours", COLOURED, name="Colours")
    execution = agent_run(agent=agent, prompt="go", requested_by=staff)
    context = context_logged_in(browser, stack.base_url, staff, viewport={"width": 1280, "height": 700})
    page = context.new_page()
    page.goto(f"{stack.base_url}/executions/{execution.execution_id}/")
    # ANSI colours rendered: spans with the colour classes, no escape code left in the text.
    assert page.eval_on_selector_all("#output .ansi-fg-2", "spans => spans.map(s => s.textContent)") == ["ok"]
    assert page.eval_on_selector_all("#output .ansi-fg-1.ansi-bold", "spans => spans.map(s => s.textContent)") == [
        "FAIL"
    ]
    assert "\x1b" not in page.text_content("#output") and "[32m" not in page.text_content("#output")
    # One verdict: exit 0 with "ERROR" in the output reads as one badge, not "Completed" beside "Error".
    assert page.text_content("#run-status").strip() == "❌ Completed, reported errors"
    assert page.query_selector("#run-severity") is None
    # Search highlights the matching line and counts.
    page.fill("#output-search", "disk")
    page.wait_for_selector("#output .line.match.current")
    assert page.text_content("#search-count") == "1 of 1"
    # Timestamps toggle.
    assert page.is_hidden("#output .line-time")
    page.check("#output-times")
    assert page.is_visible("#output .line-time")
    # Download: the raw output, codes and all.
    with page.expect_download() as download:
        page.click("#output-download")
    assert download.value.suggested_filename == f"{execution.execution_id}.log"
    assert "\x1b[32mok" in open(download.value.path(), encoding="utf-8").read()
    context.close()


def test_a_live_run_counts_up_shows_its_requester_and_ends_with_its_last_line_in_view(stack, browser, staff):
    script = (
        "import time\nfor n in range(60):\n    print(f'line {n}', flush=True)\n"
        "time.sleep(2.5)\nprint('the end', flush=True)"
    )
    _agent("slow", script, name="Slow", api_enabled=True)
    context = context_logged_in(browser, stack.base_url, staff, viewport={"width": 1280, "height": 700})
    page = context.new_page()
    page.goto(f"{stack.base_url}/agents/slow/")
    page.fill("#run-prompt-input", "go")
    page.click("#run-submit")
    page.wait_for_url(f"{stack.base_url}/executions/exec_slow_*/")
    # The requester, without a reload (the run was still queued when the page loaded).
    assert page.text_content("#run-requested-by") == "ada"
    page.wait_for_selector("#run-status[data-status=running]", timeout=30000)
    first = page.text_content("#run-duration")
    page.wait_for_function(
        "first => document.querySelector('#run-duration').textContent !== first", arg=first, timeout=5000
    )
    page.wait_for_selector("#run-status[data-status=completed]", timeout=30000)
    last = page.query_selector("#output .line:last-child")
    assert last.text_content().endswith("the end")
    box = last.bounding_box()
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= 700, box
    context.close()


def test_chart_with_axes_and_a_tooltip(stack, browser, staff):
    councilor = make_councilor(agent=_agent("charted", "print('fine')", name="Charted"), title="Charted")
    for _ in range(4):
        councilor_run(councilor=councilor)
    context = context_logged_in(browser, stack.base_url, staff, viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(f"{stack.base_url}/agents/charted/")
    page.wait_for_selector("#trend canvas")
    assert page.eval_on_selector_all("#trend .u-axis", "axes => axes.length") == 3
    assert page.eval_on_selector_all("#trend .mark", "marks => marks.length") == 4
    box = page.query_selector("#trend .u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)
    page.wait_for_selector("#trend .trend-tooltip:not([hidden])")
    newest = Execution.objects.filter(agent__agent_id="charted").latest()
    assert page.get_attribute("#trend .trend-tooltip", "data-execution-id") == newest.execution_id
    page.goto(f"{stack.base_url}/")
    page.wait_for_selector('[data-agent-id="charted"] .trend canvas')
    context.close()


def test_toasts_do_not_move_the_page_and_a_critical_alert_stays_as_a_banner(stack, browser, staff):
    agent = _agent("toasty", "print('fine')", name="Toasty")
    make_councilor(agent=agent, title="Toasty", notification_channels=["toast"], notify_on_success=True)
    context = context_logged_in(browser, stack.base_url, staff, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{stack.base_url}/")
    wait_for_state(page, "open")
    before = page.eval_on_selector("#councilors", "table => table.getBoundingClientRect().top")
    page.evaluate("window.conductor.socket.request('run_councilor', {councilor_id: 'toasty'})")
    page.wait_for_selector("#toasts .toast", timeout=30000)
    assert page.eval_on_selector("#councilors", "table => table.getBoundingClientRect().top") == before
    emit("system_alert", {"level": "critical", "message": "Backups failing 3 times in a row", "source": "tests"})
    page.wait_for_selector("#banners .banner[role=alert]")
    assert "Backups failing 3 times in a row" in page.text_content("#banners")
    page.wait_for_timeout(1000)
    assert page.is_visible("#banners .banner")
    page.click("#banners .banner-close")
    assert page.query_selector("#banners .banner") is None
    context.close()


def test_the_ticker_shows_the_history_after_a_load_and_says_offline(stack, browser, viewer):
    emit("system_alert", {"level": "info", "message": "before the page", "source": "tests"})
    context = context_logged_in(browser, stack.base_url, viewer)
    page = context.new_page()
    page.goto(f"{stack.base_url}/")
    wait_for_ticker_title(page, "ℹ️ before the page")
    wait_for_state(page, "open")
    assert page.text_content("#ticker-label") == "Live"
    page.click("#connection-toggle")
    wait_for_state(page, "closed")
    assert page.text_content("#ticker-label") == "Offline"
    context.close()


# Text a careless admin or a program may write: long names, and words with no place to break.
LONG_NAME = "Nightly infrastructure compliance and dependency vulnerability audit for every region"
UNBROKEN = "https://example.com/" + "x" * 300


def _long_run() -> tuple[Execution, object]:
    agent = _agent("nightly-infrastructure-compliance-and-dependency-vulnerability-a", COLOURED, name=LONG_NAME)
    councilor = make_councilor(agent=agent, title=LONG_NAME, task_name="Unbroken_" * 12, task_prompt=UNBROKEN)
    execution = councilor_run(councilor=councilor)
    Execution.objects.filter(pk=execution.pk).update(error=f"could not start '/opt/{'e' * 200}': No such file")
    return execution, councilor


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_every_page_fits_a_phone_in_both_colour_schemes(stack, browser, staff, color_scheme):
    """Nothing is cut at the right edge of a 390 px phone, live pages and admin lists alike, even with
    long names, an unbroken prompt and error; the dark scheme follows the system's."""
    execution, councilor = _long_run()
    context = context_logged_in(browser, stack.base_url, staff, color_scheme=color_scheme, **PHONE)
    page = context.new_page()
    paths = [
        "/",
        f"/executions/{execution.execution_id}/",
        f"/agents/{councilor.councilor_id}/",
        "/agents/nobody/",
        "/runs/",
        "/runs/?status=error&severity=purple&since=yesterday&until=2026-01-01",  # its refusals beside fields
        "/admin/",
        "/admin/councilors/agent/",
        "/admin/councilors/councilor/",
        "/admin/councilors/execution/",
        "/admin/councilors/actionrecord/",
        f"/admin/councilors/councilor/{councilor.pk}/change/",
        f"/admin/councilors/agent/{councilor.agent_id}/run/",
    ]
    for path in paths:
        page.goto(stack.base_url + path)
        page.wait_for_load_state("load")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        # The ticker scrolls sideways on purpose (a ticker); nothing else may run past its box.
        cut = [found for found in page.evaluate(CUT_OFF_TEXT) if found["where"] != "ol#ticker.ticker"]
        assert cut == [], path
        background = page.evaluate(
            "[document.body, document.documentElement].map(e => getComputedStyle(e).backgroundColor)"
            ".find(c => c !== 'rgba(0, 0, 0, 0)')"
        )
        channels = [int(part) for part in background[background.index("(") + 1 : background.index(")")].split(",")[:3]]
        assert (sum(channels) / 3 < 80) == (color_scheme == "dark"), (path, background)
    context.close()


def test_the_dark_screenshot_follows_the_system_s_scheme(stack, browser, staff):
    """The dashboard in dark mode for docs/ (`make screenshots` writes dashboard-dark.png there)."""
    for agent_id, script in (("uptime", "print('all good')"), ("disk", COLOURED)):
        councilor_run(councilor=make_councilor(agent=_agent(agent_id, script, name=agent_id.title())))
    viewport = {"width": 1280, "height": 800}
    context = context_logged_in(browser, stack.base_url, staff, color_scheme="dark", viewport=viewport)
    page = context.new_page()
    page.goto(f"{stack.base_url}/")
    wait_for_state(page, "open")
    page.wait_for_selector('[data-agent-id="disk"] .trend canvas')
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    DARK_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DARK_SCREENSHOT), animations="disabled")
    context.close()


@pytest.mark.parametrize("width", [800, 1024, 1280, 1440])
def test_the_admin_s_lists_fit_their_area_at_every_width_in_portuguese(stack, browser, staff, width):
    """With the admin's sidebars open a list has less room than the screen: a narrow one turns into
    cards, a wider one wraps long names, dates and headers; no column is cut off either way."""
    _execution, councilor = _long_run()
    councilor_pause(councilor=councilor, actor=make_actor("an operator with a long name, at a shell"))
    viewport = {"width": width, "height": 900}
    context = context_logged_in(browser, stack.base_url, staff, locale="pt-BR", viewport=viewport)
    page = context.new_page()
    for model in ("agent", "councilor", "execution", "actionrecord"):
        page.goto(f"{stack.base_url}/admin/councilors/{model}/")
        page.wait_for_selector("#result_list.cards-on-phones", state="attached")  # admin.js labelled the cells
        assert page.evaluate(CUT_OFF_TEXT) == [], (width, model)
    page.goto(f"{stack.base_url}/admin/councilors/councilor/{councilor.pk}/change/")
    assert page.evaluate(CUT_OFF_TEXT) == [], (width, "change page")
    context.close()


@pytest.mark.parametrize(("locale", "heading"), [("en-US", "Nothing here"), ("pt-BR", "Nada aqui")])
def test_a_styled_404_in_the_readers_language(stack, browser, viewer, locale, heading):
    context = context_logged_in(browser, stack.base_url, viewer, locale=locale)
    page = context.new_page()
    response = page.goto(f"{stack.base_url}/executions/exec_nobody_1/")
    assert response.status == 404
    assert page.text_content("#error-heading") == heading
    assert page.query_selector("link[href$='dashboard.css']") is not None
    context.close()


def test_the_live_pages_as_their_scripts_leave_them_are_in_portuguese(stack, browser, staff):
    """What the scripts write (rows, badges, cards, the ticker, the run page's tools) is translated too:
    each page read in English and in Portuguese after its scripts ran (tests/untranslated.py)."""
    councilor = make_councilor(agent=_agent("worded", COLOURED, name="Worded"), title="Worded")
    execution = councilor_run(councilor=councilor)
    failed = agent_run(agent=_agent("broken", "import sys; sys.exit(3)", name="Broken"), prompt="go")
    emit("system_alert", {"level": "info", "message": "a note for the ticker", "source": "tests"})
    paths = ["/", f"/executions/{execution.execution_id}/", f"/executions/{failed.execution_id}/", "/agents/worded/"]
    for path in [*paths, "/agents/nobody/"]:
        rendered, alerts = [], set()
        for locale in ("en-US", "pt-BR"):
            context = context_logged_in(browser, stack.base_url, staff, locale=locale)
            page = context.new_page()
            page.goto(stack.base_url + path)
            if path != "/agents/nobody/":
                # The page's script has run: module scripts run before the load event. (Not
                # wait_for_function: under the pages' CSP its polled eval fails now and then.)
                page.wait_for_load_state("load")
                assert page.evaluate("window.conductor !== undefined")
            if page.query_selector("#connection"):  # the pages with a socket: its first picture is in
                wait_for_state(page, "open")
            rendered.append(page.content())
            # Alerts' messages are data, as their senders wrote them (this module's other tests' too).
            alerts |= set(page.eval_on_selector_all(ALERT_TITLES, "titles => titles.map(t => t.textContent)"))
            context.close()
        assert untranslated(*rendered, data=database_strings() | alerts | {"tests"}) == [], path
