"""`/runs/` in headless Chromium against real daphne, django-q2 and Redis: rows arrive live, each
user sees the runs they may see, the filters hold for live rows too (docs/dashboard.md, "All runs")."""

import sys

import pytest

from councilors.models import Execution
from councilors.services import agent_enqueue, agent_run
from tests.dashboard.browser import SCREENSHOTS_DIR, context_logged_in, wait_for_state
from tests.factories import make_actor, make_agent

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROWS = "#runs tbody tr[data-execution-id]"
RUNS_SCREENSHOT = SCREENSHOTS_DIR / "runs-page.png"


def _agent(agent_id: str, script: str):
    return make_agent(agent_id=agent_id, runner_config={"argv": [sys.executable, "-c", script], "timeout": 60})


def _row_ids(page) -> list[str]:
    return page.eval_on_selector_all(ROWS, "rows => rows.map(row => row.dataset.executionId)")


def _wait_row(page, execution_id: str, status: str) -> None:
    page.wait_for_selector(f'#runs tr[data-execution-id="{execution_id}"][data-status="{status}"]', timeout=30000)


def test_runs_arrive_live_for_those_who_may_see_them_and_fit_the_filters(stack, browser, staff, viewer):
    fine, broken = _agent("fine", "print('all good')"), _agent("broken", "raise SystemExit(4)")
    earlier = agent_run(agent=fine, prompt="before the page")
    everything = context_logged_in(browser, stack.base_url, staff, viewport={"width": 1280, "height": 900})
    all_runs = everything.new_page()
    all_runs.goto(f"{stack.base_url}/runs/")
    errors_only = everything.new_page()
    errors_only.goto(f"{stack.base_url}/runs/?status=error")
    own_only = context_logged_in(browser, stack.base_url, viewer).new_page()
    own_only.goto(f"{stack.base_url}/runs/")
    for page in (all_runs, errors_only, own_only):
        wait_for_state(page, "open")
    assert _row_ids(all_runs) == [earlier.execution_id]
    assert _row_ids(errors_only) == [] and _row_ids(own_only) == []

    # Ada's run that goes well: on her full list, live, at the top, and it ends in place.
    adas = agent_enqueue(agent=fine, prompt="by ada", actor=make_actor(user=staff))
    _wait_row(all_runs, adas, "completed")
    assert _row_ids(all_runs) == [adas, earlier.execution_id]
    assert all_runs.text_content("#runs-count") == "2 runs"
    assert all_runs.get_attribute(f'#runs tr[data-execution-id="{adas}"] th a', "href") == f"/executions/{adas}/"
    assert all_runs.text_content(f'#runs tr[data-execution-id="{adas}"] [data-field="requester"]') == "ada"

    # Bob's run that fails: on his own list (where Ada's never showed), on Ada's errors-only list.
    bobs = agent_enqueue(agent=broken, prompt="by bob", actor=make_actor(user=viewer))
    _wait_row(own_only, bobs, "error")
    _wait_row(errors_only, bobs, "error")
    _wait_row(all_runs, bobs, "error")
    assert _row_ids(own_only) == [bobs]
    assert _row_ids(errors_only) == [bobs]
    assert Execution.objects.get(execution_id=bobs).requested_by == viewer
    RUNS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    all_runs.screenshot(path=str(RUNS_SCREENSHOT), full_page=True, animations="disabled")
    # Each row opens its run page.
    own_only.click(f'#runs tr[data-execution-id="{bobs}"] th a')
    own_only.wait_for_url(f"**/executions/{bobs}/")
    everything.close()
    own_only.context.close()
