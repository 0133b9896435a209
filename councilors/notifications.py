"""Telling people: critical alerts on failure streaks and on missing workers, and councilor e-mail.

Alerts go out as `system_alert` events through the one emitter; e-mail through Django's mail
framework (EMAIL_BACKEND: the console by default, SMTP by settings) to COUNCILORS_NOTIFY_EMAILS,
or to ADMINS when that is empty.
"""

import logging

from django.core.cache import caches
from django.core.mail import send_mail

from councilors.app_settings import app_settings
from councilors.models import Councilor, Execution
from councilors.selectors import councilor_failure_streak, worker_clusters_alive
from gamification import payloads
from gamification.events import emit

logger = logging.getLogger(__name__)

ALERT_SOURCE = "councilors"
WATCHDOG_SOURCE = "worker-watchdog"
# Alerts go out in English (a worker has no reader); the pages word them for theirs with the table of
# councilors/run_errors.py, as they do a run's error.
STREAK_MESSAGE = "%(title)s failed %(count)d runs in a row"
WORKERS_DOWN_MESSAGE = "No worker cluster seen for %(seconds).0fs: councilors are not running"
WORKERS_BACK_MESSAGE = "Worker clusters are back (%(count)d alive)"
EMAIL_SUBJECT = "[Conductor] {title}: {label}"
SEVERITY_LABELS = {"success": "Success", "warning": "Warning", "error": "Error"}
INCIDENT_LABELS = {"late": "Late", "stuck": "Stuck", "missed": "Missed runs"}

# Watchdog state lives in the cache django-q2 keeps its heartbeats in (a database table shared by
# every process), so several watchers raise one alert per outage between them.
WATCHDOG_CACHE = "q"
DOWN_SINCE_KEY = "councilors:workers-down-since"
ALERTED_KEY = "councilors:workers-down-alerted"


def councilor_run_notify(*, execution: Execution) -> None:
    """After a councilor run: one critical alert when a failure streak reaches the threshold; e-mail if asked."""
    councilor = execution.councilor
    if councilor is None:
        return
    if execution.status in (Execution.Status.ERROR, Execution.Status.TIMED_OUT):
        _alert_on_streak(councilor)
    # A cancelled run ended because someone asked: nobody needs an e-mail saying it failed.
    if execution.status != Execution.Status.CANCELLED and _email_wanted(councilor, execution.severity):
        _send_email(councilor, execution)


def _alert_on_streak(councilor: Councilor) -> None:
    threshold = app_settings.FAILURE_ALERT_THRESHOLD
    streak = councilor_failure_streak(councilor=councilor, limit=threshold + 1)
    # Exactly at the threshold: the run that completes the streak alerts, later failures of the
    # same streak do not; a success resets the count.
    if streak != threshold:
        return
    emit(
        *payloads.system_alert(
            level="critical",
            message=STREAK_MESSAGE % {"title": councilor.title, "count": streak},
            source=ALERT_SOURCE,
            details={"councilor_id": councilor.councilor_id, "consecutive_failures": streak},
        )
    )


def _email_wanted(councilor: Councilor, severity: str) -> bool:
    wanted = {
        Execution.Severity.SUCCESS: councilor.notify_on_success,
        Execution.Severity.WARNING: councilor.notify_on_warning,
        Execution.Severity.ERROR: councilor.notify_on_error,
    }
    return "email" in councilor.notification_channels and wanted.get(severity, False)


def _send_email(councilor: Councilor, execution: Execution) -> None:
    recipients = app_settings.NOTIFY_EMAILS
    if not recipients:
        logger.warning("councilor %s asks for e-mail but no recipients are set", councilor.councilor_id)
        return
    label = SEVERITY_LABELS.get(execution.severity, execution.severity)
    body = "\n".join(
        [
            f"Task: {councilor.task_name}",
            f"Status: {execution.status} ({label})",
            f"Execution: {execution.execution_id}",
            *([f"Attempt: {execution.attempt} of {execution.max_attempts}"] if execution.max_attempts > 1 else []),
            f"Started: {execution.started_at.isoformat()}",
            f"Duration: {execution.duration_ms} ms",
            *([f"Error: {execution.error}"] if execution.error else []),
            "",
            execution.output[-4000:],
        ]
    )
    try:
        send_mail(EMAIL_SUBJECT.format(title=councilor.title, label=label), body, None, recipients)
    except Exception:  # noqa: BLE001 - a mail server being down must not fail the run that was recorded
        logger.exception("e-mail for %s not sent", execution.execution_id)


def councilor_incident_notify(*, councilor: Councilor, kind: str, message: str, url: str) -> None:
    """A late, stuck or missed incident through the councilor's channels.

    The `system_alert` already reaches the panel and toast channels (its details name the
    councilor and its channels); e-mail goes out here, when the councilor asks for it at that
    level (a late start is a warning, a stuck run or missed slots an error).
    """
    wanted = councilor.notify_on_warning if kind == "late" else councilor.notify_on_error
    if "email" not in councilor.notification_channels or not wanted:
        return
    recipients = app_settings.NOTIFY_EMAILS
    if not recipients:
        logger.warning("councilor %s asks for e-mail but no recipients are set", councilor.councilor_id)
        return
    label = INCIDENT_LABELS.get(kind, kind)
    try:
        send_mail(EMAIL_SUBJECT.format(title=councilor.title, label=label), f"{message}\n\n{url}\n", None, recipients)
    except Exception:  # noqa: BLE001 - a mail server being down must not stop the cluster's pass
        logger.exception("e-mail for %s incident of %s not sent", kind, councilor.councilor_id)


def workers_watchdog_check(*, now: float) -> int:
    """Alert (once per outage) when no worker cluster has been seen for WORKER_ALERT_AFTER_S; returns clusters alive."""
    cache = caches[WATCHDOG_CACHE]
    alive = worker_clusters_alive()
    if alive:
        if cache.get(ALERTED_KEY):
            _alert("info", WORKERS_BACK_MESSAGE % {"count": alive}, {"clusters_alive": alive})
        cache.delete_many([DOWN_SINCE_KEY, ALERTED_KEY])
        return alive
    cache.add(DOWN_SINCE_KEY, now, timeout=None)
    down_for = now - float(cache.get(DOWN_SINCE_KEY, now))
    if down_for >= app_settings.WORKER_ALERT_AFTER_S and cache.add(ALERTED_KEY, True, timeout=None):
        _alert("critical", WORKERS_DOWN_MESSAGE % {"seconds": down_for}, {"down_for_s": round(down_for)})
    return 0


def _alert(level: str, message: str, details: dict) -> None:
    emit(*payloads.system_alert(level=level, message=message, source=WATCHDOG_SOURCE, details=details))
