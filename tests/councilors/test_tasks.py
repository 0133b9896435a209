"""The django-q2 task functions (councilors/tasks.py): the requester travels from the queue to the record."""

import pytest
from django.utils import timezone

from councilors.models import Execution
from councilors.tasks import run_agent_task, run_councilor_task, run_scheduled_councilor_task
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_a_run_asked_for_by_hand_records_its_requester(councilor, agent):
    user = make_user()
    councilor_run = run_councilor_task(councilor.councilor_id, "exec_by_hand_1", requested_by_id=user.pk)
    agent_run = run_agent_task(agent.agent_id, "x", "", "exec_by_api_1", requested_by_id=user.pk)
    assert Execution.objects.get(execution_id=councilor_run).requested_by == user
    assert Execution.objects.get(execution_id=agent_run).requested_by == user


def test_a_requester_deleted_while_the_run_waited_leaves_it_unowned(agent):
    user = make_user()
    user_id = user.pk
    user.delete()
    execution_id = run_agent_task(agent.agent_id, "x", "", "exec_orphan_1", requested_by_id=user_id)
    execution = Execution.objects.get(execution_id=execution_id)
    assert (execution.status, execution.requested_by) == ("completed", None)


def test_scheduled_runs_have_no_requester(councilor):
    execution_id = run_scheduled_councilor_task(councilor.pk, timezone.now().isoformat())
    assert Execution.objects.get(execution_id=execution_id).requested_by is None
