"""Fixtures for the dashboard's browser tests: one process stack and one Chromium per module."""

import os

import pytest
from playwright.sync_api import sync_playwright

from tests.dashboard.browser import Stack, launch_chromium


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


@pytest.fixture
def stack(module_stack):
    """The module's stack, with its gateway up again if an earlier test killed it and failed."""
    module_stack.ensure_gateway()
    return module_stack


@pytest.fixture(scope="module")
def browser(allow_async_unsafe):
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()
