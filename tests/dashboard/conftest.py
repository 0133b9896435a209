"""Fixtures for the dashboard's browser tests: one process stack and one Chromium per module."""

import os

import pytest
from playwright.sync_api import sync_playwright

from tests.dashboard.browser import Stack, browser_user, launch_chromium


@pytest.fixture(scope="module")
def allow_async_unsafe():
    # Playwright's sync API keeps an event loop on this thread, which trips Django's async-safety
    # check for the test's own ORM calls. Only this test process is relaxed: tests/processes.py
    # never passes the variable on to the servers under test.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def module_stack(django_db_setup, tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("dashboard-logs")).start()
    yield stack
    stack.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def stack(module_stack, request):
    """The module's stack, with its gateway up again if an earlier test killed it and failed.
    When the test fails, the servers' recent log lines are printed with its output."""
    module_stack.ensure_gateway()
    yield module_stack
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for log in sorted(module_stack.log_dir.glob("*.log")):
            print(f"--- {log.name} (last lines)\n" + "\n".join(log.read_text(errors="replace").splitlines()[-40:]))


@pytest.fixture(scope="module")
def browser(allow_async_unsafe):
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def staff(transactional_db):
    return browser_user("ada", is_staff=True, is_superuser=True)


@pytest.fixture
def viewer(transactional_db):
    return browser_user("bob")
