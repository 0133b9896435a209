import pytest
from django.db import DatabaseError

from councilors import services
from tests.councilors.layer import LayerListener

SCHEDULE_SYNC_FAILED = "schedule write failed: injected fault"


@pytest.fixture
def listener():
    listening = LayerListener()
    yield listening
    listening.close()


@pytest.fixture
def allow_test_callables(settings):
    """Let `python` agents name callables of the test modules (the default allows only the demo's)."""
    settings.COUNCILORS_PYTHON_RUNNER_MODULES = ["councilors.demo", "tests.councilors"]


@pytest.fixture
def break_schedule_sync(monkeypatch):
    """Call it to make the services' schedule sync fail from then on, after it has written the schedule."""

    def arm() -> None:
        real_sync = services.councilor_schedule_sync

        def sync_then_fail(*, councilor):
            real_sync(councilor=councilor)
            raise DatabaseError(SCHEDULE_SYNC_FAILED)

        monkeypatch.setattr(services, "councilor_schedule_sync", sync_then_fail)

    return arm


@pytest.fixture
def no_sandbox(settings):
    """Command runs as the worker, for tests of plain runner behaviour whose command uses the test's own files."""
    settings.COUNCILORS_SANDBOX = "none"


@pytest.fixture
def sandbox(settings):
    """Command runs in bubblewrap; where it cannot run, they fail (the test fails, it is never skipped)."""
    settings.COUNCILORS_SANDBOX = "bwrap"
