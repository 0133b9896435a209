"""Every page and every admin page in Brazilian Portuguese, with no English of the project's own left
(docs/dashboard.md, "Languages"; the method and what it excuses: tests/untranslated.py).

Each page is rendered in English and in Portuguese by the same user with the same data; a text that
reads the same in both is reported unless it is data or the same word in both languages. The
scripts' messages have their own check (test_i18n.py: the catalogue is complete), and the pages as
the scripts leave them are read in Chromium (tests/dashboard/test_browser_polish.py).
"""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from councilors.demo import demo_seed
from councilors.models import ActionRecord, Agent, Councilor, Execution, SkippedRun
from councilors.services import councilor_pause, execution_finish, execution_start
from tests.factories import make_actor
from tests.untranslated import database_strings, untranslated

pytestmark = pytest.mark.django_db

ENGLISH = "en-US,en;q=0.9"
PORTUGUESE = "pt-BR,pt;q=0.9"
ADMIN_MODELS = (Agent, Councilor, Execution, SkippedRun, ActionRecord)


@pytest.fixture
def history(db) -> dict[str, Execution]:
    """The demo, with a run of every kind, a skipped run and recorded actions."""
    demo_seed()
    runs = {}
    outputs = {"success": "all good", "warning": "warning: 2 deprecated packages", "error": "fatal: disk full"}
    for severity, output in outputs.items():
        councilor = Councilor.objects.get(agent__agent_id="dependency-audit")
        execution = execution_start(agent=councilor.agent, councilor=councilor, prompt="check", instance_id="ops-7")
        execution_finish(execution=execution, output=output)
        runs[severity] = execution
    failed = execution_start(agent=Agent.objects.get(agent_id="backup-check"), prompt="check")
    execution_finish(execution=failed, output="Checking…", error="exited with status 2")
    runs["failed"] = failed
    runs["running"] = execution_start(agent=Agent.objects.get(agent_id="summarizer"), prompt="summarize")
    SkippedRun.objects.create(
        councilor=Councilor.objects.get(agent__agent_id="heartbeat"),
        reason=SkippedRun.Reason.OVERLAP,
        running_execution=runs["running"],
    )
    councilor_pause(councilor=Councilor.objects.get(agent__agent_id="backup-check"), actor=make_actor("ops"))
    return runs


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("ada", password="pw")


def both(client: Client, method: str, path: str, data: dict | None = None) -> tuple[str, str]:
    """The page at `path` in English and in Portuguese (a POST is made once per language)."""
    rendered = []
    for language in (ENGLISH, PORTUGUESE):
        response = getattr(client, method)(path, data or {}, HTTP_ACCEPT_LANGUAGE=language, follow=True)
        assert response.status_code in (200, 404), (path, response.status_code)
        rendered.append(response.content.decode())
    return rendered[0], rendered[1]


def live_pages(runs: dict[str, Execution]) -> list[str]:
    return [
        "/",
        *[reverse("run_detail", args=[run.execution_id]) for run in runs.values()],
        reverse("agent_detail", args=["dependency-audit"]),
        reverse("agent_detail", args=["summarizer"]),  # an agent that is not a councilor
        reverse("agent_detail", args=["backup-check"]) + "?severity=error",
        reverse("runs"),
        reverse("runs") + "?status=error&severity=purple&since=2026-03-05&until=2026-03-01",  # its refusals too
        "/no-such-page/",  # the 404 page
        reverse("run_detail", args=["exec_unknown"]),
    ]


def admin_pages() -> list[str]:
    pages = [reverse("admin:index"), reverse("admin:app_list", args=["councilors"])]
    for model in ADMIN_MODELS:
        name = f"admin:councilors_{model._meta.model_name}"
        first = model.objects.order_by("pk").first()
        pages += [reverse(f"{name}_changelist"), reverse(f"{name}_change", args=[first.pk])]
        pages.append(reverse(f"{name}_history", args=[first.pk]))
    pages += [reverse("admin:councilors_agent_add"), reverse("admin:councilors_councilor_add")]
    pages.append(reverse("admin:councilors_agent_run", args=[Agent.objects.get(agent_id="summarizer").pk]))
    pages.append(reverse("admin:councilors_execution_changelist") + "?severity__exact=error&kind__exact=agent")
    return pages


def assert_portuguese(client: Client, method: str, path: str, data: dict | None = None) -> None:
    english, portuguese = both(client, method, path, data)
    posted = {value for value in (data or {}).values() if isinstance(value, str)}  # a form shows them back
    found = untranslated(english, portuguese, data=database_strings() | posted, admin=path.startswith("/admin/"))
    assert found == [], f"English left on {method.upper()} {path}"


def test_every_live_page_is_in_portuguese(client, superuser, history):
    client.force_login(superuser)
    for path in live_pages(history):
        assert_portuguese(client, "get", path)


def test_every_admin_page_is_in_portuguese(client, superuser, history):
    client.force_login(superuser)
    for path in admin_pages():
        assert_portuguese(client, "get", path)


def test_the_admin_login_page_is_in_portuguese(client, history):
    assert_portuguese(client, "get", reverse("admin:login"))


def test_the_admin_forms_refusals_are_in_portuguese(client, superuser, history):
    """A form sent back with its errors: the validators' messages, the runners', the form's own."""
    client.force_login(superuser)
    councilor = {"title": "", "schedule_type": "cron", "schedule_value": "0 25 * * *", "task_prompt": " "}
    assert_portuguese(client, "post", reverse("admin:councilors_councilor_add"), councilor)
    agent = {"agent_id": "x", "name": "X", "runner": "http", "runner_config": '{"url": "ftp://x"}', "color": "red"}
    assert_portuguese(client, "post", reverse("admin:councilors_agent_add"), agent)
    broken = {**agent, "runner_config": '{"url": '}
    assert_portuguese(client, "post", reverse("admin:councilors_agent_add"), broken)
    run_form = reverse("admin:councilors_agent_run", args=[Agent.objects.get(agent_id="summarizer").pk])
    assert_portuguese(client, "post", run_form, {"prompt": " "})


def test_the_admin_actions_and_their_messages_are_in_portuguese(client, superuser, history):
    client.force_login(superuser)
    councilors = reverse("admin:councilors_councilor_changelist")
    every = [str(pk) for pk in Councilor.objects.values_list("pk", flat=True)]
    for action in ("pause", "resume"):
        assert_portuguese(client, "post", councilors, {"action": action, "_selected_action": every})
    heartbeat = Councilor.objects.get(agent__agent_id="heartbeat")
    assert_portuguese(client, "post", reverse("admin:councilors_councilor_run", args=[heartbeat.pk]))
    agents = reverse("admin:councilors_agent_changelist")
    summarizer = Agent.objects.get(agent_id="summarizer")
    assert_portuguese(client, "post", agents, {"action": "promote_to_councilor", "_selected_action": [summarizer.pk]})
