"""The admin in headless Chromium at 1280×800 against a real daphne: the columns that matter fit,
"Run now" on the change pages queues the run for a worker and links to the run page, and asks
first when the form has unsaved edits (in-process tests: test_admin.py).
"""

import pytest
from django.urls import reverse
from playwright.sync_api import Page, sync_playwright

from councilors import validators
from councilors.admin_run import run_page_url
from councilors.demo import demo_seed
from councilors.models import ActionRecord, Agent, Councilor
from councilors.selectors import execution_wait_finished
from councilors.services import execution_finish, execution_start
from tests.councilors.cluster import qclusters
from tests.dashboard.browser import context_logged_in, launch_chromium
from tests.factories import make_user
from tests.processes import daphne

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VIEWPORT = {"width": 1280, "height": 800}
OUTPUTS = {"success": "all good", "warning": "warning: 2 deprecated packages", "error": "fatal: disk full"}

# The cells a run's row must show without scrolling, by the header labels the admin gives them.
EXECUTION_COLUMNS = ("Agent", "Result", "Started", "Duration")
COUNCILOR_COLUMNS = ("Last result", "Last run", "Next run")
# What "Run now" asks when the change form has unsaved edits (static/js/admin/admin.js).
UNSAVED_WARNING = {
    "en": "This form has unsaved changes. Run now runs the saved settings and drops your edits. Run anyway?",
    "pt-br": "Este formulário tem alterações não salvas. Executar agora usa as configurações salvas e descarta "
    "suas edições. Executar mesmo assim?",
}

# The widths a page lays out: the table's own, and what its scrolling container shows of it.
TABLE_FIT = """() => {
    const table = document.querySelector('#result_list');
    const container = table.closest('.results') || table.parentElement;
    return {table: table.scrollWidth, container: container.clientWidth, page: document.documentElement.scrollWidth,
            viewport: window.innerWidth};
}"""
HEADER_BOXES = """() => [...document.querySelectorAll('#result_list thead th')].map(th => {
    const box = th.getBoundingClientRect();
    return {label: th.textContent.trim(), left: box.left, right: box.right};
})"""


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    # "Run now" from a web page is queued for a worker cluster, never run in the web process.
    logs = tmp_path_factory.mktemp("admin-logs")
    with django_db_blocker.unblock(), daphne(log_path=logs / "web.log") as (_, port), qclusters(1, log_dir=logs):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def history(transactional_db) -> None:
    """The demo agents with runs of every kind: each severity, a failure and one still running."""
    demo_seed()
    for agent in Agent.objects.select_related("councilor"):
        councilor = getattr(agent, "councilor", None)
        for severity, output in OUTPUTS.items():
            execution = execution_start(agent=agent, councilor=councilor, prompt="check", instance_id="ops-7")
            execution_finish(execution=execution, output=output, error="exited with status 2" * (severity == "error"))
    execution_start(agent=Agent.objects.get(agent_id="dependency-audit"), prompt="still going")


def open_page(browser, server: str, path: str, **options) -> Page:
    user = make_user(is_staff=True, is_superuser=True)
    context = context_logged_in(browser, server, user, viewport=VIEWPORT, **options)
    page = context.new_page()
    page.goto(server + path)
    return page


def open_changelist(browser, server: str, path: str) -> Page:
    page = open_page(browser, server, path)
    page.wait_for_selector("#result_list")
    return page


def assert_fits(page: Page, labels: tuple[str, ...]) -> None:
    fit = page.evaluate(TABLE_FIT)
    assert fit["table"] <= fit["container"], fit
    assert fit["page"] <= fit["viewport"], fit
    boxes = {box["label"]: box for box in page.evaluate(HEADER_BOXES)}
    for label in labels:
        assert label in boxes, sorted(boxes)
        assert 0 <= boxes[label]["left"] < boxes[label]["right"] <= VIEWPORT["width"], (label, boxes[label])


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an event loop on this thread, which trips Django's async-safety
    # check for the test's own ORM calls (as in tests/dashboard/conftest.py); the servers keep it.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


def test_the_execution_list_shows_the_result_started_and_duration_at_1280(server, browser, history):
    page = open_changelist(browser, server, "/admin/councilors/execution/")
    assert_fits(page, EXECUTION_COLUMNS)
    page.context.close()


def test_the_councilor_list_shows_the_last_result_at_1280(server, browser, history):
    page = open_changelist(browser, server, "/admin/councilors/councilor/")
    assert_fits(page, COUNCILOR_COLUMNS)
    assert page.locator("#result_list tbody tr").count() == Councilor.objects.count() == 4
    page.context.close()


def test_run_now_on_the_councilor_page_runs_it_and_links_to_the_run_page(server, browser, history):
    councilor = Councilor.objects.get(agent__agent_id="python-version")
    page = open_page(browser, server, reverse("admin:councilors_councilor_change", args=[councilor.pk]))
    page.get_by_role("button", name="Run now").click()  # queued for the worker cluster
    link = page.locator("ul.messagelist li a")
    link.wait_for()
    execution = execution_wait_finished(execution_id=link.text_content(), timeout=60)
    assert (execution.councilor, execution.prompt) == (councilor, councilor.task_prompt)
    assert link.get_attribute("href") == run_page_url(execution.execution_id)
    assert page.url == server + reverse("admin:councilors_councilor_change", args=[councilor.pk])
    page.context.close()


def test_run_now_on_a_plain_agent_asks_for_a_prompt_then_links_to_the_run(server, browser, history):
    agent = Agent.objects.get(agent_id="summarizer")
    page = open_page(browser, server, reverse("admin:councilors_agent_change", args=[agent.pk]))
    page.get_by_role("link", name="Run now…").click()
    page.get_by_role("button", name="Run now").click()
    assert validators.PROMPT_EMPTY in page.locator(".errorlist").text_content()
    page.get_by_label("Prompt").fill("the release notes")
    page.get_by_role("button", name="Run now").click()
    link = page.locator("ul.messagelist li a")
    link.wait_for()
    execution = execution_wait_finished(execution_id=link.text_content(), timeout=60)
    assert (execution.agent, execution.prompt) == (agent, "the release notes")
    assert (execution.status, execution.severity) == ("completed", "success")
    assert link.get_attribute("href") == run_page_url(execution.execution_id)
    page.context.close()


def _councilor_page(browser, server: str, councilor: Councilor, language: str = "en") -> tuple[Page, list]:
    """The councilor's change page, with every dialog it opens recorded (and answered by the test)."""
    headers = {"Accept-Language": {"en": "en-US,en;q=0.9", "pt-br": "pt-BR,pt;q=0.9"}[language]}
    path = reverse("admin:councilors_councilor_change", args=[councilor.pk])
    page = open_page(browser, server, path, extra_http_headers=headers)
    page.wait_for_selector("form.run-now[data-guarded=true]", state="attached")  # admin.js is watching the form
    return page, []


def _run_now_button(page: Page, language: str):
    return page.get_by_role("button", name={"en": "Run now", "pt-br": "Executar agora"}[language], exact=True)


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_run_now_with_unsaved_edits_asks_first_and_a_no_keeps_the_edits(server, browser, history, language):
    councilor = Councilor.objects.get(agent__agent_id="python-version")
    page, dialogs = _councilor_page(browser, server, councilor, language)
    page.fill("#id_task_prompt", "an edited prompt, not saved")
    page.evaluate("window.sameDocument = true")  # gone if the page were sent
    page.once("dialog", lambda dialog: (dialogs.append((dialog.type, dialog.message)), dialog.dismiss()))
    _run_now_button(page, language).click()

    assert dialogs == [("confirm", UNSAVED_WARNING[language])]
    # Nothing was sent, nothing was lost: the same document, the edit still in its field, no run asked for.
    assert page.evaluate("window.sameDocument") is True
    assert page.input_value("#id_task_prompt") == "an edited prompt, not saved"
    assert page.locator("ul.messagelist").count() == 0
    assert not ActionRecord.objects.filter(action=ActionRecord.Action.RUN_NOW).exists()
    page.context.close()


def test_run_now_with_unsaved_edits_and_a_yes_runs_the_saved_settings(server, browser, history):
    councilor = Councilor.objects.get(agent__agent_id="python-version")
    page, dialogs = _councilor_page(browser, server, councilor)
    page.fill("#id_task_prompt", "an edited prompt, not saved")
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    _run_now_button(page, "en").click()
    link = page.locator("ul.messagelist li a")
    link.wait_for()

    assert dialogs == [UNSAVED_WARNING["en"]]
    execution = execution_wait_finished(execution_id=link.text_content(), timeout=60)
    assert execution.prompt == councilor.task_prompt  # the saved task, as the warning said
    councilor.refresh_from_db()
    assert councilor.task_prompt != "an edited prompt, not saved"
    page.context.close()


def test_run_now_without_edits_runs_at_once_without_asking(server, browser, history):
    councilor = Councilor.objects.get(agent__agent_id="python-version")
    page, dialogs = _councilor_page(browser, server, councilor)
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    _run_now_button(page, "en").click()
    link = page.locator("ul.messagelist li a")
    link.wait_for()
    assert dialogs == []
    assert execution_wait_finished(execution_id=link.text_content(), timeout=60).councilor == councilor
    page.context.close()
