"""The HTTP API's errors in the language the request asks for (docs/http-api.md, "Errors"): every
`detail` follows Accept-Language (pt-BR here), while `code` stays as documented, whatever the language."""

import json

import pytest
from django.test import Client

from conductor.api import UNAUTHORIZED, UNKNOWN_PATH
from councilors.api import UNKNOWN_AGENT, UNKNOWN_EXECUTION
from gamification.api import UNKNOWN_TOPICS
from infrastructure.api_auth import FORBIDDEN, TOKEN_EXPIRED, TOKEN_INVALID
from infrastructure.api_errors import NINJA_TEXTS
from infrastructure.tokens import token_mint
from monitoring.views import UNAUTHORIZED as METRICS_UNAUTHORIZED
from tests.factories import make_agent, make_user

pytestmark = pytest.mark.django_db

PORTUGUESE = {"HTTP_ACCEPT_LANGUAGE": "pt-BR,pt;q=0.9,en;q=0.5"}


@pytest.fixture(autouse=True)
def own_redis_keys(private_channel_prefix):
    """Rate-limit windows are keyed by user pk, which tests reuse: give each test its own keys."""


@pytest.fixture
def runner(db):
    return make_user(permissions=("councilors.run_agent",))


def bearer(user, **kwargs) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token_mint(user=user, **kwargs)}"}


def execute(client: Client, agent_id: str, **headers):
    return client.post(f"/api/agents/{agent_id}/execute", json.dumps({"prompt": "go"}), "application/json", **headers)


def answered(response, status: int, code: str, detail: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert body["detail"] == detail


def test_without_credentials_401_in_portuguese(client):
    response = client.get("/api/councilors", **PORTUGUESE)
    answered(
        response,
        401,
        "unauthorized",
        "Autenticação necessária: entre, ou envie Authorization: Bearer <token> (manage.py ws_token).",
    )
    assert response.json()["detail"] != UNAUTHORIZED


def test_a_refused_or_expired_token_401_in_portuguese(client, runner):
    garbage = client.get("/api/councilors", HTTP_AUTHORIZATION="Bearer garbage", **PORTUGUESE)
    answered(
        garbage,
        401,
        "unauthorized",
        "O token bearer é inválido (malformado, não assinado com a chave deste servidor, ou de um usuário "
        "desconhecido ou inativo): gere um novo (manage.py ws_token <usuário>).",
    )
    assert garbage["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    expired = client.get("/api/councilors", **bearer(runner, ttl_seconds=-10), **PORTUGUESE)
    answered(expired, 401, "unauthorized", "O token bearer expirou: gere um novo (manage.py ws_token <usuário>).")
    assert TOKEN_INVALID not in garbage.content.decode() and TOKEN_EXPIRED not in expired.content.decode()


def test_a_missing_permission_403_in_portuguese(client):
    response = execute(client, make_agent(api_enabled=True).agent_id, **bearer(make_user()), **PORTUGUESE)
    answered(response, 403, "forbidden", "Você precisa da permissão councilors.run_agent para isso.")
    assert response.json()["detail"] != FORBIDDEN % {"permission": "councilors.run_agent"}


def test_a_session_without_the_csrf_token_403_in_portuguese(runner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(runner)
    response = execute(browser, make_agent(api_enabled=True).agent_id, **PORTUGUESE)
    answered(response, 403, "forbidden", "A verificação de CSRF falhou")


def test_an_unknown_agent_execution_or_path_404_in_portuguese(client, runner):
    agent = execute(client, "nobody", **bearer(runner), **PORTUGUESE)
    answered(agent, 404, "not_found", "Nenhum agente com agent_id 'nobody'.")
    execution = client.get("/api/executions/exec_nope", **bearer(runner), **PORTUGUESE)
    answered(execution, 404, "not_found", "Nenhuma execução com execution_id 'exec_nope'.")
    stream = client.get("/api/v1/stream?execution_id=exec_nope", **bearer(runner), **PORTUGUESE)
    answered(stream, 404, "not_found", "Nenhuma execução com execution_id 'exec_nope'.")
    path = client.get("/api/nowhere", **bearer(runner), **PORTUGUESE)
    answered(
        path,
        404,
        "not_found",
        "Nenhum endpoint da API em /api/nowhere; os endpoints estão listados em /api/openapi.json.",
    )
    english = (UNKNOWN_AGENT, UNKNOWN_EXECUTION, UNKNOWN_PATH)
    assert not any(text.split("%")[0] in response.content.decode() for text in english for response in (agent, path))


def test_an_unknown_topic_400_in_portuguese(client, runner):
    response = client.get("/api/events?since=0&topics=bogus", **bearer(runner), **PORTUGUESE)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["detail"].startswith("Tópico(s) desconhecido(s): bogus; tópicos válidos: ")
    assert UNKNOWN_TOPICS.split("{")[0] not in response.content.decode()


def test_flooding_execute_429_in_portuguese(client, runner, settings):
    settings.API_EXECUTE_RATE_LIMIT = 1
    agent = make_agent(api_enabled=True)
    assert execute(client, agent.agent_id, **bearer(runner)).status_code == 202
    refused = execute(client, agent.agent_id, **bearer(runner), **PORTUGUESE)
    answered(refused, 429, "rate_limited", "Requisições demais.")
    assert "Too many requests." in NINJA_TEXTS  # django-ninja's own English, worded by the table


def test_metrics_without_credentials_401_in_portuguese(client):
    response = client.get("/metrics", **PORTUGUESE)
    answered(
        response,
        401,
        "unauthorized",
        "Autenticação necessária: entre, ou envie Authorization: Bearer <token> (manage.py ws_token).",
    )
    assert response.json()["detail"] != METRICS_UNAUTHORIZED


def test_english_is_still_the_default(client):
    response = client.get("/api/councilors")
    answered(response, 401, "unauthorized", UNAUTHORIZED)


def test_a_method_an_endpoint_does_not_answer_is_a_json_405_in_portuguese(client, runner):
    response = client.delete("/api/councilors", **bearer(runner), **PORTUGUESE)
    answered(response, 405, "method_not_allowed", "DELETE não é permitido em /api/councilors; ele atende GET.")
    assert response["Allow"] == "GET"
    english = client.get(f"/api/agents/{make_agent(api_enabled=True).agent_id}/execute", **bearer(runner))
    assert english.status_code == 405
    assert english.json()["detail"].startswith("GET is not allowed on /api/agents/")
    assert english["Allow"] == "POST"
