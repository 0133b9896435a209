"""Cancel from the run page, in Chromium, of a run on one of two real worker clusters."""

import sys
import time

import pytest

from councilors.models import Execution
from councilors.selectors import execution_wait_finished, worker_clusters_alive
from councilors.services import agent_enqueue
from tests.councilors.cluster import eventually, qclusters
from tests.councilors.run_processes import TREE_SCRIPT, new_marker, wait_until_gone, wait_until_running
from tests.dashboard.browser import browser_user, context_logged_in
from tests.factories import make_actor, make_agent

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PY = sys.executable


def test_the_run_page_s_cancel_stops_the_whole_tree_within_2_s_and_shows_who(stack, browser, tmp_path):
    owner = browser_user("carol")
    marker = new_marker()
    agent = make_agent(api_enabled=True, runner_config={"argv": [PY, "-c", TREE_SCRIPT, marker], "timeout": 120})
    # The stack's cluster and one more: the run lands on either, the page never knows which.
    with qclusters(1, log_dir=tmp_path):
        eventually(lambda: worker_clusters_alive() >= 2, timeout=60, what="two clusters up")
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
