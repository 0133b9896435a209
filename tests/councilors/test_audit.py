"""The actor of an action and its record (councilors/audit.py)."""

import socket

import pytest
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from councilors.audit import Actor, action_record_create, request_address
from councilors.models import ActionRecord
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_a_command_acts_as_the_name_given_from_this_host():
    actor = Actor.of_command("ops")
    assert (actor.user, actor.user_id, actor.name) == (None, None, "ops")
    assert (actor.source, actor.address) == (ActionRecord.Source.COMMAND, socket.gethostname())


def test_a_user_acts_under_their_username_from_the_requests_address():
    user = make_user(username="alice")
    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.7")
    actor = Actor.of_user(user, source=ActionRecord.Source.ADMIN, address=request_address(request))
    assert (actor.user, actor.user_id, actor.name, actor.address) == (user, user.pk, "alice", "198.51.100.7")


def test_a_record_keeps_the_actors_name_after_the_account_is_deleted():
    user = make_user(username="leaver")
    actor = Actor.of_user(user, source=ActionRecord.Source.WEBSOCKET, address="203.0.113.5")
    record = action_record_create(actor=actor, action=ActionRecord.Action.PAUSE, target="backup-check")
    user.delete()
    record.refresh_from_db()
    assert (record.actor, record.actor_name, record.action, record.target) == (None, "leaver", "pause", "backup-check")
    assert (record.source, record.address) == ("websocket", "203.0.113.5")
    assert record.created_at is not None


def test_an_unknown_action_or_source_is_refused():
    with pytest.raises(ValidationError) as error:
        action_record_create(actor=Actor(user=None, name="x", source="carrier pigeon"), action="delete", target="a")
    assert set(error.value.message_dict) == {"action", "source"}
    assert not ActionRecord.objects.exists()
