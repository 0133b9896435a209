"""The API as one whole (conductor/api.py): the 401 texts, JSON on every path under /api/, one time format.

docs/http-api.md, "Errors" and "Times".
"""

import json
import re

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import Client

from conductor.api import UNAUTHORIZED, UNKNOWN_PATH
from councilors.services import councilor_run
from infrastructure.api_auth import TOKEN_EXPIRED, TOKEN_INVALID
from infrastructure.timestamps import iso_utc
from infrastructure.tokens import token_mint
from tests.factories import make_agent, make_councilor, make_user
from tests.sse import SSEParser

# ISO 8601, UTC, milliseconds, `Z`: the one format of every time the API writes.
TIME_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"'


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# 401: no credentials, and a token that is refused, say different things


@pytest.mark.django_db
def test_no_credentials_is_401_asking_for_them(client):
    response = client.get("/api/councilors")
    assert response.status_code == 401
    assert response.json() == {"detail": UNAUTHORIZED, "code": "unauthorized"}
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.django_db
def test_an_expired_token_is_401_saying_it_expired(client):
    response = client.get("/api/councilors", **bearer(token_mint(user=make_user(), ttl_seconds=-10)))
    assert response.status_code == 401
    assert response.json() == {"detail": TOKEN_EXPIRED, "code": "unauthorized"}
    assert response["WWW-Authenticate"] == INVALID_TOKEN_CHALLENGE


@pytest.mark.django_db
@pytest.mark.parametrize("problem", ["garbage", "wrong key", "unknown user", "inactive user"])
def test_an_invalid_token_is_401_saying_it_is_invalid(client, settings, problem):
    user = make_user(is_active=problem != "inactive user")
    token = {"garbage": "garbage", "unknown user": token_mint(user=User(username="ghost"))}.get(problem)
    if problem == "wrong key":
        settings.JWT_SECRET, signing = "another service's key, not the one of this server", settings.JWT_SECRET
        token = token_mint(user=user)
        settings.JWT_SECRET = signing
    response = client.get("/api/councilors", **bearer(token or token_mint(user=user)))
    assert response.status_code == 401
    assert response.json() == {"detail": TOKEN_INVALID, "code": "unauthorized"}
    assert response["WWW-Authenticate"] == INVALID_TOKEN_CHALLENGE
    assert TOKEN_INVALID != UNAUTHORIZED != TOKEN_EXPIRED


@pytest.mark.django_db
@pytest.mark.parametrize("token", [None, "garbage", "expired"])
def test_a_post_without_a_valid_token_is_401_not_a_csrf_403(token):
    """A program's POST is judged by its token: CSRF concerns only a session the browser sends by itself."""
    program = Client(enforce_csrf_checks=True)
    agent = make_agent(api_enabled=True)
    headers = {}
    if token == "expired":
        headers = bearer(token_mint(user=make_user(), ttl_seconds=-10))
    elif token:
        headers = bearer(token)
    response = program.post(
        f"/api/agents/{agent.agent_id}/execute", {"prompt": "go"}, content_type="application/json", **headers
    )
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    expected = {None: UNAUTHORIZED, "garbage": TOKEN_INVALID, "expired": TOKEN_EXPIRED}[token]
    assert response.json()["detail"] == expected
    assert response["WWW-Authenticate"] == ("Bearer" if token is None else INVALID_TOKEN_CHALLENGE)


@pytest.mark.django_db
def test_a_post_on_a_session_without_the_csrf_token_is_still_refused():
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(make_user())
    response = browser.post("/api/agents/any/execute", {"prompt": "go"}, content_type="application/json")
    assert response.status_code == 403


@pytest.mark.django_db
def test_a_bad_token_beside_a_valid_session_is_the_session_user(client):
    client.force_login(make_user())
    assert client.get("/api/councilors", **bearer("garbage")).status_code == 200


# Every path under /api/ answers the JSON error shape


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/executions/"),  # an empty execution id
        ("get", "/api/executions"),
        ("get", "/api/nothing/here"),
        ("post", "/api/agents//execute"),
        ("get", "/api/"),
    ],
)
def test_an_unknown_api_path_is_a_json_404(client, method, path):
    response = getattr(client, method)(path, **bearer(token_mint(user=make_user())))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {"detail": UNKNOWN_PATH % {"path": path}, "code": "not_found"}


@pytest.mark.django_db
def test_an_unknown_api_path_is_a_json_404_without_credentials_too(client):
    response = client.get("/api/executions/")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


# One time format across the endpoints


@pytest.mark.django_db(transaction=True)
async def test_every_endpoint_writes_times_the_same_way(async_client, private_channel_prefix):
    execution = await sync_to_async(lambda: councilor_run(councilor=make_councilor()))()
    user = await sync_to_async(make_user)(is_superuser=True)
    headers = {"Authorization": f"Bearer {await sync_to_async(token_mint)(user=user)}"}
    started, completed = iso_utc(execution.started_at), iso_utc(execution.completed_at)

    detail = (await async_client.get(f"/api/executions/{execution.execution_id}", headers=headers)).json()
    (councilor,) = (await async_client.get("/api/councilors", headers=headers)).json()
    metrics = (await async_client.get("/api/agents/metrics", headers=headers)).json()
    events = (await async_client.get("/api/events", {"since": 0}, headers=headers)).json()["events"]
    stream = await async_client.get("/api/v1/stream", {"execution_id": execution.execution_id}, headers=headers)
    parser = SSEParser()
    sse = [event async for chunk in stream.streaming_content for event in parser.feed(chunk)]
    end = json.loads(sse[-1].data)
    ran = [event["data"] for event in events if event["type"] in ("councilor_started", "councilor_completed")]

    assert (detail["started_at"], detail["completed_at"]) == (started, completed)
    assert (councilor["last_run"]["started_at"], councilor["last_run"]["completed_at"]) == (started, completed)
    assert metrics[0]["metrics"]["last_execution"] == started
    assert [data["started_at"] for data in ran] == [started, started]
    assert ran[1]["completed_at"] == completed
    assert (end["started_at"], end["completed_at"]) == (started, completed)
    assert TIME_FORMAT.match(councilor["next_run"])
    assert all(TIME_FORMAT.match(moment) for moment in (started, completed))
