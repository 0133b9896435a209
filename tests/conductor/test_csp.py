"""A Content-Security-Policy on every page (issue 19; conductor/settings/base.py, docs/security.md)."""

import re
from pathlib import Path

import pytest

from councilors.services import agent_run
from tests.factories import make_agent, make_user
from tests.processes import PROJECT_DIR

HEADER = "Content-Security-Policy"
TEMPLATE_DIRS = [
    PROJECT_DIR / "templates",
    PROJECT_DIR / "dashboard" / "templates",
    PROJECT_DIR / "councilors" / "templates",
]
# An inline script (one with code, not a json_script data block or a src) or an on* handler attribute.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>\s*\S", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)


def _directives(header: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def _assert_strict(response) -> None:
    directives = _directives(response[HEADER])
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response[HEADER] and "'unsafe-eval'" not in response[HEADER]


@pytest.mark.django_db
def test_every_kind_of_page_carries_the_policy(client):
    user = make_user(is_staff=True, is_superuser=True)
    agent = make_agent(agent_id="audit")
    execution = agent_run(agent=agent, prompt="check", requested_by=user)
    client.force_login(user)
    pages = {
        "dashboard": "/",
        "run page": f"/executions/{execution.execution_id}/",
        "agent page": "/agents/audit/",
        "admin page": "/admin/councilors/councilor/",
        "admin change page": f"/admin/councilors/agent/{agent.pk}/change/",
        "404": "/agents/no-such-agent/",
    }
    for name, path in pages.items():
        response = client.get(path)
        assert response.status_code == (404 if name == "404" else 200), name
        _assert_strict(response)


@pytest.mark.django_db
def test_the_login_page_and_an_anonymous_404_carry_it_too(client):
    _assert_strict(client.get("/admin/login/"))
    missing = client.get("/no/such/page/")
    assert missing.status_code == 404
    _assert_strict(missing)


def test_no_template_of_the_project_has_inline_script_handlers_or_style_attributes():
    offenders = []
    for folder in TEMPLATE_DIRS:
        for path in Path(folder).rglob("*.html"):
            text = path.read_text()
            for pattern in (INLINE_SCRIPT, INLINE_HANDLER, STYLE_ATTRIBUTE):
                offenders += [
                    f"{path.relative_to(PROJECT_DIR)}: {match.group(0)[:60]}" for match in pattern.finditer(text)
                ]
            if "<style" in text:
                offenders.append(f"{path.relative_to(PROJECT_DIR)}: <style>")
    assert offenders == []
