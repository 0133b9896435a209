"""The run page's Cancel button (who sees it, when) and what a timed-out run says about its limit."""

import sys

import pytest

from councilors.services import councilor_run, execution_finish, execution_start
from tests.factories import make_agent, make_councilor, make_user

PY = sys.executable
CANCEL_BUTTON = 'id="run-cancel"'


def page(client, user, execution_id: str) -> str:
    client.force_login(user)
    response = client.get(f"/executions/{execution_id}/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_cancel_is_offered_to_the_requester_and_the_cancel_permission_while_the_run_is_live(client):
    owner, viewer = make_user(), make_user(permissions=("councilors.view_execution",))
    canceller = make_user(permissions=("councilors.view_execution", "councilors.cancel_execution"))
    agent = make_agent(name="Nightly")
    running = execution_start(agent=agent, prompt="p", requested_by=owner)
    html = page(client, owner, running.execution_id)
    assert CANCEL_BUTTON in html
    assert f"<title>Nightly #{running.run_number} · Conductor</title>" in html
    assert CANCEL_BUTTON in page(client, canceller, running.execution_id)
    assert CANCEL_BUTTON not in page(client, viewer, running.execution_id)
    execution_finish(execution=running, output="done")
    assert CANCEL_BUTTON not in page(client, owner, running.execution_id)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("councilor_timeout", "agent_timeout", "said"),
    [
        (1, 60, "It was stopped by its councilor&#x27;s timeout: 1 s."),
        (None, 1, "It was stopped by its agent&#x27;s timeout: 1 s."),
    ],
)
def test_a_timed_out_run_says_which_limit_stopped_it(client, councilor_timeout, agent_timeout, said):
    agent = make_agent(runner_config={"argv": [PY, "-c", "import time; time.sleep(30)"], "timeout": agent_timeout})
    councilor = make_councilor(agent=agent, timeout_s=councilor_timeout)
    execution = councilor_run(councilor=councilor)
    assert (execution.status, execution.error) == ("timed_out", "timed out after 1s")
    html = page(client, make_user(permissions=("councilors.view_execution",)), execution.execution_id)
    assert said in html
    assert "⌛ Timed out" in html
