"""`/runs/`: every run the user may see, filtered, paginated, and the rows the live table asks for."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from councilors.models import Execution
from councilors.services import execution_finish, execution_start
from tests.factories import PASSWORD, make_agent, make_councilor, make_user

VIEW = "councilors.view_execution"


def run(agent, *, user=None, councilor=None, error="", output="fine", started=None, finish=True) -> Execution:
    execution = execution_start(agent=agent, councilor=councilor, prompt="p", requested_by=user)
    if finish:
        execution = execution_finish(execution=execution, output=output, error=error)
    if started is not None:  # as if it had run then (for a second)
        ended = started + timedelta(seconds=1) if finish else None
        Execution.objects.filter(pk=execution.pk).update(started_at=started, completed_at=ended)
        execution.refresh_from_db()
    return execution


def listed(client, **query) -> list[str]:
    response = client.get(reverse("runs"), query)
    assert response.status_code == 200
    return [row["execution_id"] for row in response.context["rows"]]


@pytest.fixture
def viewer(client):
    user = make_user(permissions=(VIEW,))
    assert client.login(username=user.username, password=PASSWORD)
    return user


@pytest.mark.django_db
def test_runs_are_listed_newest_first_with_links(client, viewer):
    agent = make_agent()
    old = run(agent, started=datetime(2026, 1, 1, tzinfo=UTC))
    new = run(agent)
    assert listed(client) == [new.execution_id, old.execution_id]
    page = client.get(reverse("runs")).content.decode()
    assert f'href="{reverse("run_detail", args=[new.execution_id])}">#{new.run_number} <code>' in page
    assert 'id="nav-runs" aria-current="page"' in page


@pytest.mark.django_db
def test_without_the_view_permission_a_user_sees_only_their_own_runs(client):
    mine, theirs = make_user(), make_user()
    agent = make_agent()
    own = run(agent, user=mine)
    run(agent, user=theirs)
    run(agent)  # scheduled or by command: nobody's
    assert client.login(username=mine.username, password=PASSWORD)
    assert listed(client) == [own.execution_id]
    page = client.get(reverse("runs")).content.decode()
    assert 'name="requester"' not in page  # nobody else to pick
    # Asking for someone else's runs changes nothing.
    assert listed(client, requester=theirs.username) == [own.execution_id]


@pytest.mark.django_db
def test_the_list_needs_a_login(client):
    response = client.get(reverse("runs"))
    assert response.status_code == 302 and "login" in response.url


@pytest.mark.django_db
def test_each_filter_narrows_the_list(client, viewer):
    ada = make_user(username="ada")
    plain, councilor = make_agent(), make_councilor()
    failed = run(plain, user=ada, error="boom", started=datetime(2026, 3, 1, 12, tzinfo=UTC))
    warned = run(plain, output="warning: disk", started=datetime(2026, 3, 2, 12, tzinfo=UTC))
    council = run(councilor.agent, councilor=councilor, started=datetime(2026, 3, 3, 12, tzinfo=UTC))
    going = run(plain, finish=False)
    assert listed(client, agent=plain.agent_id) == [going.execution_id, warned.execution_id, failed.execution_id]
    assert listed(client, councilor=councilor.councilor_id) == [council.execution_id]
    assert listed(client, status="error") == [failed.execution_id]
    assert listed(client, status="running") == [going.execution_id]
    assert listed(client, severity="warning") == [warned.execution_id]
    assert listed(client, requester="ada") == [failed.execution_id]
    assert listed(client, since="2026-03-02", until="2026-03-02") == [warned.execution_id]
    assert listed(client, since="2026-03-02", until="2026-03-03") == [council.execution_id, warned.execution_id]
    assert listed(client, until="2026-03-01") == [failed.execution_id]
    assert listed(client, agent=plain.agent_id, severity="error", requester="ada") == [failed.execution_id]
    assert "No run matches these filters." in client.get(reverse("runs"), {"requester": "nobody"}).content.decode()


@pytest.mark.django_db
def test_bad_filters_are_said_beside_their_field_and_the_rest_still_apply(client, viewer):
    agent = make_agent()
    failed = run(agent, error="boom")
    run(agent)
    response = client.get(reverse("runs"), {"status": "error", "severity": "purple", "since": "yesterday"})
    form = response.context["form"]
    assert set(form.errors) == {"severity", "since"}
    assert [row["execution_id"] for row in response.context["rows"]] == [failed.execution_id]
    page = response.content.decode()
    assert 'class="field-error" role="alert"' in page
    assert 'value="yesterday"' in page  # what was typed is kept to correct it
    reversed_dates = client.get(reverse("runs"), {"since": "2026-03-05", "until": "2026-03-01"})
    assert reversed_dates.context["form"].errors["until"] == ["The end date is before the start date."]
    # Hostile values: an id that is no slug, a NUL, a huge page number.
    for query in (
        {"agent": "a\x00b"},
        {"requester": "x" * 500},
        {"page": "99999"},
        {"page": "-1"},
        {"until": "9999-12-31"},
        {"since": "0001-01-01"},
    ):
        assert client.get(reverse("runs"), query).status_code == 200


@pytest.mark.django_db
def test_pages_are_cut_on_the_server_and_keep_the_filters(client, viewer, settings):
    settings.DASHBOARD_RUNS_PAGE_SIZE = 2
    agent = make_agent()
    runs = [run(agent, started=datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=hour)) for hour in range(5)]
    run(make_agent())
    first = client.get(reverse("runs"), {"agent": agent.agent_id})
    assert [row["execution_id"] for row in first.context["rows"]] == [runs[4].execution_id, runs[3].execution_id]
    assert f'href="?page=2&amp;agent={agent.agent_id}"' in first.content.decode()
    assert first.context["config"]["firstPage"] is True
    last = client.get(reverse("runs"), {"agent": agent.agent_id, "page": 3})
    assert [row["execution_id"] for row in last.context["rows"]] == [runs[0].execution_id]
    assert last.context["config"]["firstPage"] is False


@pytest.mark.django_db
def test_the_live_table_asks_the_server_for_each_runs_row(client):
    mine, theirs = make_user(), make_user()
    agent = make_agent()
    own = run(agent, user=mine, error="boom")
    other = run(agent, user=theirs)
    assert client.login(username=mine.username, password=PASSWORD)
    url = lambda execution: reverse("runs_row", args=[execution.execution_id])  # noqa: E731
    row = client.get(url(own)).json()["row"]
    assert (row["execution_id"], row["status"], row["severity"], row["requested_by"]) == (
        own.execution_id,
        "error",
        "error",
        mine.username,
    )
    assert row["run_number"] == own.run_number and row["agent_id"] == agent.agent_id
    assert client.get(url(other)).json() == {"row": None}  # not theirs to see
    assert client.get(url(own), {"status": "completed"}).json() == {"row": None}  # outside the filters
    assert client.get(url(own), {"status": "error"}).json()["row"]["execution_id"] == own.execution_id
    assert client.get(reverse("runs_row", args=["no such run"])).json() == {"row": None}


@pytest.mark.django_db
def test_the_dashboard_links_to_the_list(client, viewer):
    assert f'href="{reverse("runs")}" id="nav-runs"' in client.get(reverse("dashboard")).content.decode()
