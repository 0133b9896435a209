import sys

import pytest
from django.core import mail
from django.core.cache import caches

from councilors.models import Execution
from councilors.notifications import (
    ALERTED_KEY,
    DOWN_SINCE_KEY,
    STREAK_MESSAGE,
    WATCHDOG_CACHE,
    WORKERS_DOWN_MESSAGE,
    councilor_run_notify,
    workers_watchdog_check,
)
from councilors.services import councilor_run, execution_finish
from tests.councilors.layer import of_type
from tests.factories import make_agent, make_councilor

pytestmark = pytest.mark.django_db(transaction=True)

FAILING = {"argv": [sys.executable, "-c", "import sys; sys.exit(3)"], "timeout": 10}
PASSING = {"argv": [sys.executable, "-c", "print('all good')"], "timeout": 10}
CRITICAL_ALERT = of_type("system_alert", level="critical")


def _failing_councilor(**fields):
    return make_councilor(agent=make_agent(runner_config=FAILING), **fields)


def test_the_third_failure_in_a_row_raises_one_critical_alert(listener, settings):
    settings.COUNCILORS_FAILURE_ALERT_THRESHOLD = 3
    councilor = _failing_councilor(title="Backup check")
    for _ in range(2):
        councilor_run(councilor=councilor)
    listener.wait_for(of_type("agent_metrics_updated", agent_id=councilor.councilor_id))
    assert not [e for e in listener.drain(quiet_for=0.5) if CRITICAL_ALERT(e)]
    councilor_run(councilor=councilor)
    alert = listener.wait_for(CRITICAL_ALERT, timeout=10)
    assert alert["data"]["message"] == STREAK_MESSAGE % {"title": "Backup check", "count": 3}
    assert alert["data"]["details"] == {"councilor_id": councilor.councilor_id, "consecutive_failures": 3}
    councilor_run(councilor=councilor)  # the fourth failure belongs to the same streak
    assert not [e for e in listener.drain(quiet_for=1.0) if CRITICAL_ALERT(e)]


def test_a_success_ends_the_streak_and_a_new_streak_alerts_again(listener, settings):
    settings.COUNCILORS_FAILURE_ALERT_THRESHOLD = 2
    councilor = _failing_councilor()
    councilor_run(councilor=councilor)
    councilor_run(councilor=councilor)
    listener.wait_for(CRITICAL_ALERT, timeout=10)
    councilor.agent.runner_config = PASSING
    councilor.agent.save()
    assert councilor_run(councilor=councilor).status == Execution.Status.COMPLETED
    councilor.agent.runner_config = FAILING
    councilor.agent.save()
    councilor_run(councilor=councilor)
    assert not [e for e in listener.drain(quiet_for=0.5) if CRITICAL_ALERT(e)]
    councilor_run(councilor=councilor)
    listener.wait_for(CRITICAL_ALERT, timeout=10)


def test_email_is_sent_on_the_severities_asked_for_when_email_is_a_channel(settings):
    settings.COUNCILORS_NOTIFY_EMAILS = ["ops@example.com"]
    asked = make_councilor(title="Asked", notification_channels=["panel", "email"], notify_on_success=True)
    no_channel = make_councilor(title="Panel only", notification_channels=["panel"], notify_on_success=True)
    not_on_success = make_councilor(title="Errors only", notification_channels=["email"], notify_on_success=False)
    for councilor in (asked, no_channel, not_on_success):
        councilor_run(councilor=councilor)
    assert [(m.subject, m.to) for m in mail.outbox] == [("[Conductor] Asked: Success", ["ops@example.com"])]
    assert "Task: Security audit" in mail.outbox[0].body


def test_email_on_error_goes_to_admins_when_no_list_is_set(settings):
    settings.COUNCILORS_NOTIFY_EMAILS = []
    settings.ADMINS = [("Root", "root@example.com")]
    councilor_run(councilor=_failing_councilor(title="Disk", notification_channels=["email"]))
    assert [(m.subject, m.to) for m in mail.outbox] == [("[Conductor] Disk: Error", ["root@example.com"])]
    assert "Error: exited with status 3" in mail.outbox[0].body


def test_a_cancelled_run_sends_no_error_email(settings):
    settings.COUNCILORS_NOTIFY_EMAILS = ["ops@example.com"]
    councilor = make_councilor(title="Stopped", notification_channels=["email"])
    execution = councilor_run(councilor=councilor)
    execution_finish(execution=execution, output="", error="cancelled", status=Execution.Status.CANCELLED)
    mail.outbox.clear()
    councilor_run_notify(execution=execution)
    assert execution.severity == "error"
    assert mail.outbox == []


def test_no_worker_for_a_while_raises_one_critical_alert_per_outage(listener, settings):
    settings.COUNCILORS_WORKER_ALERT_AFTER_S = 60
    # The watchdog remembers an outage across calls (in a cache that outlives one test): start afresh.
    caches[WATCHDOG_CACHE].delete_many([DOWN_SINCE_KEY, ALERTED_KEY])
    assert workers_watchdog_check(now=1000.0) == 0
    workers_watchdog_check(now=1030.0)
    assert not [e for e in listener.drain(quiet_for=0.5) if CRITICAL_ALERT(e)]
    workers_watchdog_check(now=1061.0)
    alert = listener.wait_for(CRITICAL_ALERT, timeout=10)
    assert alert["data"]["message"] == WORKERS_DOWN_MESSAGE % {"seconds": 61}
    assert alert["data"]["source"] == "worker-watchdog"
    workers_watchdog_check(now=1200.0)
    assert not [e for e in listener.drain(quiet_for=0.5) if CRITICAL_ALERT(e)]
