"""Cancel from the run page, in Chromium, of a run on one of two real worker clusters."""

import sys
import time

import pytest

from councilors.models import Execution
from councilors.selectors import execution_wait_finished
from councilors.services import agent_enqueue, councilor_enqueue
from tests.councilors.cluster import eventually, live_clusters, qclusters
from tests.councilors.run_processes import TREE_SCRIPT, new_marker, wait_until_gone, wait_until_running
from tests.dashboard.browser import browser_user, context_logged_in, wait_for_state
from tests.factories import make_actor, make_agent, make_councilor

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PY = sys.executable


def test_the_run_page_s_cancel_stops_the_whole_tree_within_2_s_and_shows_who(stack, browser, tmp_path):
    owner = browser_user("carol")
    marker = new_marker()
    agent = make_agent(api_enabled=True, runner_config={"argv": [PY, "-c", TREE_SCRIPT, marker], "timeout": 120})
    # The stack's cluster and one more: the run lands on either, the page never knows which.
    with qclusters(1, log_dir=tmp_path):
        eventually(lambda: live_clusters() >= 2, timeout=60, what="two clusters up")
        execution_id = agent_enqueue(agent=agent, prompt="go", actor=make_actor(user=owner))
        running = eventually(lambda: Execution.objects.filter(execution_id=execution_id, status="running").first())
        wait_until_running(marker, count=3)  # the program, its child and the one in a session of its own
        context = context_logged_in(browser, stack.base_url, owner)
        page = context.new_page()
        page.goto(f"{stack.base_url}/executions/{execution_id}/")
        assert page.title() == f"{agent.label} #{running.run_number} · Conductor"
        page.wait_for_selector("#output .line:has-text('tree started')")
        page.click("#run-cancel")
        asked = time.monotonic()
        left = wait_until_gone(marker, within=2.0)
        assert left == [], f"still alive {time.monotonic() - asked:.2f}s after the click: {left}"
        page.wait_for_selector("#run-status[data-verdict=cancelled]", timeout=10_000)
        assert page.text_content("#run-cancel-message") == (
            f"{agent.label} #{running.run_number} is being stopped: its worker ends it within 2 seconds."
        )
        page.wait_for_selector("#run-cancelled-by:not([hidden])", timeout=10_000)
        assert page.text_content("#run-cancelled-by dd") == "carol"
        assert page.query_selector("#run-cancel") is None
        context.close()
    ended = execution_wait_finished(execution_id=execution_id, timeout=10)
    assert (ended.status, ended.output, ended.cancelled_by_name) == ("cancelled", "tree started\n", "carol")


def test_a_running_councilor_row_s_cancel_stops_it_and_the_row_says_cancelled(stack, browser, tmp_path):
    staff = browser_user("dora", is_staff=True, is_superuser=True)
    marker = new_marker()
    agent = make_agent(runner_config={"argv": [PY, "-c", TREE_SCRIPT, marker], "timeout": 120})
    councilor = make_councilor(agent=agent, title="Night watch", schedule_value="1h")
    context = context_logged_in(browser, stack.base_url, staff)
    page = context.new_page()
    page.goto(stack.base_url + "/")
    row = f'#councilors tr[data-councilor-id="{councilor.councilor_id}"]'
    page.wait_for_selector(row)
    wait_for_state(page, "open")  # the socket is live: the run's start reaches the row as it happens
    execution_id = councilor_enqueue(councilor=councilor, actor=make_actor(user=staff))
    running = eventually(lambda: Execution.objects.filter(execution_id=execution_id, status="running").first())
    wait_until_running(marker, count=3)
    page.click(f"{row} button[data-cancel='{execution_id}']", timeout=30_000)
    asked = time.monotonic()
    assert wait_until_gone(marker, within=2.0) == [], f"{time.monotonic() - asked:.2f}s"
    title = f"Night watch #{running.run_number} is being stopped: its worker ends it within 2 seconds."
    page.wait_for_selector(f"#toasts .toast:has-text({title!r})")
    page.wait_for_selector(f"{row}[data-status=idle] [data-field=result] [data-status=cancelled]", timeout=10_000)
    assert page.text_content(f"{row} [data-field=result] .badge") == "Cancelled"
    assert page.query_selector(f"{row} button[data-cancel]") is None
    ticker = f"⏹️ Night watch #{running.run_number} - cancelled by dora"
    page.wait_for_function(
        "title => [...document.querySelectorAll('#ticker .ticker-title')].some(e => e.textContent === title)",
        arg=ticker,
        timeout=10_000,
    )
    context.close()
