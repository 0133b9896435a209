"""The admin edits councilors through forms; their django-q2 schedule follows, and skipped runs are shown."""

import pytest
from django.db import DatabaseError
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from councilors.admin import short_time
from councilors.models import Councilor, SkippedRun
from councilors.services import councilor_run_guarded, execution_start
from tests.councilors.conftest import SCHEDULE_SYNC_FAILED
from tests.councilors.layer import toggles
from tests.councilors.test_admin import councilor_post, posted_change_form
from tests.factories import make_agent, make_councilor

pytestmark = pytest.mark.django_db


def _schedule(councilor: Councilor) -> Schedule | None:
    councilor.refresh_from_db()
    return Schedule.objects.filter(pk=councilor.q_schedule_id).first()


def test_adding_a_councilor_in_the_admin_creates_its_schedule(admin_client):
    agent = make_agent()
    response = admin_client.post(reverse("admin:councilors_councilor_add"), councilor_post(agent))
    assert response.status_code == 302
    schedule = _schedule(Councilor.objects.get(agent=agent))
    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 30)


def test_changing_the_schedule_in_the_admin_changes_the_django_q2_schedule(admin_client):
    councilor = make_councilor(schedule_value="30m")
    data = posted_change_form(admin_client, councilor, schedule_type="cron", schedule_value="0 6 * * 1")
    response = admin_client.post(reverse("admin:councilors_councilor_change", args=[councilor.pk]), data)
    assert response.status_code == 302
    schedule = _schedule(councilor)
    assert (schedule.schedule_type, schedule.cron) == (Schedule.CRON, "0 6 * * 1")
    assert Schedule.objects.count() == 1


def test_unticking_enabled_in_the_admin_removes_the_schedule(admin_client):
    councilor = make_councilor()
    data = posted_change_form(admin_client, councilor)
    del data["enabled"]
    response = admin_client.post(reverse("admin:councilors_councilor_change", args=[councilor.pk]), data)
    assert response.status_code == 302
    assert _schedule(councilor) is None and not Schedule.objects.exists()


def test_deleting_a_councilor_in_the_admin_deletes_its_schedule(admin_client):
    councilor = make_councilor()
    url = reverse("admin:councilors_councilor_delete", args=[councilor.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Schedule.objects.exists()


def test_the_councilor_list_shows_the_next_run(admin_client):
    councilor = make_councilor(title="Watcher")
    paused = make_councilor(title="Sleeper", enabled=False)
    html = admin_client.get(reverse("admin:councilors_councilor_changelist")).content.decode()
    assert "Next run" in html
    assert short_time(_schedule(councilor).next_run) in html  # the list's short form, e.g. "Dec 1, 04:08"
    assert paused.q_schedule_id is None and "paused" in html


def test_skipped_runs_are_listed_read_only(admin_client):
    councilor = make_councilor(title="Busy bee")
    running = execution_start(agent=councilor.agent, councilor=councilor, prompt="p")
    councilor_run_guarded(councilor_pk=councilor.pk, scheduled_for=timezone.now())
    skipped = SkippedRun.objects.get()
    html = admin_client.get(reverse("admin:councilors_skippedrun_changelist")).content.decode()
    assert "Busy bee" in html and "Previous run still running" in html and running.execution_id in html
    assert admin_client.get(reverse("admin:councilors_skippedrun_add")).status_code == 403
    change = admin_client.post(reverse("admin:councilors_skippedrun_change", args=[skipped.pk]), {"reason": "paused"})
    assert change.status_code in (200, 403)
    skipped.refresh_from_db()
    assert skipped.reason == SkippedRun.Reason.OVERLAP


@pytest.mark.django_db(transaction=True)
def test_a_failing_schedule_sync_rolls_back_the_whole_admin_save(admin_client, listener, break_schedule_sync):
    councilor = make_councilor(title="Watcher", schedule_value="30m")
    before = _schedule(councilor)
    data = posted_change_form(admin_client, councilor, title="Renamed", schedule_value="1h")
    del data["enabled"]  # a pause too: it must not be announced either
    break_schedule_sync()
    with pytest.raises(DatabaseError, match=SCHEDULE_SYNC_FAILED):
        admin_client.post(reverse("admin:councilors_councilor_change", args=[councilor.pk]), data)
    councilor.refresh_from_db()
    assert (councilor.title, councilor.schedule_value, councilor.enabled) == ("Watcher", "30m", True)
    after = Schedule.objects.get()
    assert (after.pk, after.minutes, after.next_run) == (before.pk, 30, before.next_run)
    assert toggles(listener.so_far()) == []
