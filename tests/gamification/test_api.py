"""GET /api/events in-process: the same answer as `resume`, for clients that poll.

docs/protocol.md, "Event ids and resume".
"""

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User

from gamification import history
from gamification.api import HISTORY_UNAVAILABLE
from gamification.events import emit
from infrastructure.tokens import token_mint
from tests.layer import unreachable_layer

pytestmark = pytest.mark.django_db(transaction=True)

PAUSED = {"councilor_id": "sec", "success": True, "by": "admin"}


def alert(n: int) -> dict:
    return {"level": "info", "message": f"m{n}", "source": "tests"}


@pytest.fixture
def user() -> User:
    return User.objects.create_user("poller")


@pytest.fixture
def auth(user) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token_mint(user=user)}"}


def test_events_since_an_id_of_the_topics_in_order_with_complete_and_last_id(client, auth):
    seen = emit("system_alert", alert(0))
    missed = [emit("system_alert", alert(1)), emit("councilor_paused", PAUSED), emit("system_alert", alert(2))]

    response = client.get("/api/events", {"since": seen["id"], "topics": "system_alert"}, **auth)

    assert response.status_code == 200
    assert response.json() == {"events": [missed[0], missed[2]], "complete": True, "last_id": missed[2]["id"]}
    everything = client.get("/api/events", {"since": seen["id"]}, **auth).json()
    assert everything["events"] == missed


def test_two_topics_and_an_up_to_date_poll(client, auth):
    seen = emit("system_alert", alert(0))
    paused = emit("councilor_paused", PAUSED)
    body = client.get("/api/events", {"since": seen["id"], "topics": "councilor_paused, agent_metrics_updated"}, **auth)
    assert body.json()["events"] == [paused]
    again = client.get("/api/events", {"since": paused["id"]}, **auth).json()
    assert again == {"events": [], "complete": True, "last_id": paused["id"]}


def test_complete_is_false_past_the_bound(client, auth, settings):
    settings.GAMIFICATION_HISTORY_SIZE = 2
    sent = [emit("system_alert", alert(n)) for n in range(4)]
    body = client.get("/api/events", {"since": sent[0]["id"]}, **auth).json()
    assert body == {"events": sent[2:], "complete": False, "last_id": sent[3]["id"]}


def test_the_session_works_too(client, user):
    client.force_login(user)
    response = client.get("/api/events", {"since": 0})
    assert response.status_code == 200
    assert response.json()["last_id"] == async_to_sync(history.newest_id)()


def test_an_unknown_topic_is_a_400_listing_the_valid_ones(client, auth):
    response = client.get("/api/events", {"since": 0, "topics": "system_alert,nope"}, **auth)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Unknown topic(s): nope; valid topics: agent_execution_completed,")


def test_with_the_history_off_it_is_a_503(client, auth, settings):
    settings.GAMIFICATION_HISTORY_ENABLED = False
    response = client.get("/api/events", {"since": 0}, **auth)
    assert response.status_code == 503
    assert response.json()["detail"] == HISTORY_UNAVAILABLE


def test_when_redis_is_unreachable_it_is_a_503(client, auth, settings, tmp_path):
    settings.CHANNEL_LAYERS = unreachable_layer(tmp_path)
    response = client.get("/api/events", {"since": 0}, **auth)
    assert response.status_code == 503
    assert response.json()["detail"] == HISTORY_UNAVAILABLE


def test_without_credentials_or_with_a_bad_token_it_is_401(client):
    assert client.get("/api/events", {"since": 0}).status_code == 401
    assert client.get("/api/events", {"since": 0}, HTTP_AUTHORIZATION="Bearer nope").status_code == 401


@pytest.mark.parametrize("query", [{}, {"since": "abc"}, {"since": "-1"}, {"since": "1.5"}])
def test_a_bad_or_missing_since_is_refused_naming_it(client, auth, query):
    response = client.get("/api/events", query, **auth)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "since" in response.json()["detail"]
