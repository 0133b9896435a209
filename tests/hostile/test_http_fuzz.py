"""Fuzzed HTTP bodies and parameters for the HTTP API (docs/http-api.md, "HTTP API").

They go through Django's full request stack.

Every request gets a JSON answer with a status the API documents — never a 500 (the test client
re-raises any exception a view lets escape) — and nothing is queued for a bad body.
"""

import json
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django_q.models import OrmQ
from hypothesis import example, given
from hypothesis import strategies as st

from infrastructure.tokens import token_mint
from tests.factories import make_agent
from tests.hostile.strategies import FUZZ, json_values, nearly

pytestmark = pytest.mark.django_db

AGENT_ID = "fuzz-agent"
EXECUTE_STATUSES = {202, 400, 401, 403, 404, 429}

execute_bodies = st.one_of(
    st.fixed_dictionaries({}, optional={"prompt": nearly, "instance_id": nearly, "extra": json_values}).map(
        lambda body: ("application/json", json.dumps(body))
    ),
    json_values.map(lambda value: ("application/json", json.dumps(value))),
    st.text(max_size=200).map(lambda text: ("application/json", text)),
    st.binary(max_size=200).map(lambda blob: ("application/json", blob)),
    st.text(max_size=100).map(lambda text: ("text/plain", text)),
    st.text(max_size=100).map(lambda text: ("application/x-www-form-urlencoded", text)),
)
# Ids as a client would put them in a URL (percent-encoded); a "/" would only make another route.
path_ids = st.one_of(st.just(AGENT_ID), st.text(min_size=1, max_size=80)).filter(lambda text: "/" not in text)


@pytest.fixture
def api_client(settings) -> Client:
    # The per-user execute throttle has its own test; here it would turn every request into a 429.
    settings.API_EXECUTE_RATE_LIMIT = 1_000_000
    make_agent(agent_id=AGENT_ID, api_enabled=True)
    user = User.objects.create_user("api-fuzzer")
    user.user_permissions.add(*Permission.objects.filter(codename__in=["run_agent", "change_councilor"]))
    return Client(headers={"authorization": f"Bearer {token_mint(user=user)}"})


def check_json_error(response, allowed: set[int]) -> dict[str, Any]:
    assert response.status_code in allowed, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    payload = response.json()
    if response.status_code >= 400:
        assert isinstance(payload.get("detail"), str) and payload["detail"], payload
    return payload


def test_fuzzed_execute_bodies_get_a_documented_json_answer(api_client):
    @FUZZ
    @given(body=execute_bodies, agent_id=path_ids)
    @example(body=("application/json", '{"prompt": "a\\u0000b"}'), agent_id=AGENT_ID)
    @example(body=("application/json", '{"prompt": "x"}'), agent_id="a\x00b")
    @example(body=("application/json", '{"prompt": "x", "instance_id": "a\\u0000b"}'), agent_id=AGENT_ID)
    @example(body=("application/json", '{"prompt": "' + "x" * 200_000 + '"}'), agent_id=AGENT_ID)
    @example(body=("application/json", "[" * 5000 + "]" * 5000), agent_id=AGENT_ID)
    def one_request(body: tuple[str, Any], agent_id: str) -> None:
        queued_before = OrmQ.objects.count()
        content_type, data = body
        url = f"/api/agents/{quote(agent_id, safe='')}/execute"
        response = api_client.post(url, data=data, content_type=content_type)
        payload = check_json_error(response, EXECUTE_STATUSES)
        if response.status_code == 202:
            assert payload["execution_id"] and payload["status_url"]
            accepted = json.loads(data)  # what a worker will have to record: PostgreSQL stores no NUL
            assert "\x00" not in accepted["prompt"] + (accepted.get("instance_id") or ""), accepted
            assert OrmQ.objects.count() == queued_before + 1
        else:
            assert OrmQ.objects.count() == queued_before, "a refused request queued a run"

    one_request()


def test_fuzzed_query_parameters_get_a_documented_json_answer(api_client):
    @FUZZ
    @given(
        since=st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(str), st.text(max_size=30)),
        topics=st.text(max_size=60),
        execution_id=path_ids,
    )
    @example(since="1", topics="all", execution_id="a\x00b")
    def one_request(since: str, topics: str, execution_id: str) -> None:
        check_json_error(api_client.get("/api/events", {"since": since, "topics": topics}), {200, 400})
        check_json_error(api_client.get(f"/api/executions/{quote(execution_id, safe='')}"), {200, 404})
        # Cancelling a run that is not there (or not the caller's) is the same 404, never a 500.
        check_json_error(api_client.post(f"/api/executions/{quote(execution_id, safe='')}/cancel"), {404})
        # No such run: the stream answers at once (400 for a bad Last-Event-ID, else 404), never hangs.
        stream = api_client.get("/api/v1/stream", {"execution_id": execution_id}, headers={"last-event-id": since})
        check_json_error(stream, {400, 404})

    one_request()
