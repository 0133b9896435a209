"""protocol.py is the gateway's real vocabulary: each command, through the real ASGI application,
needs the fields its table names and gets the reply it names; docs/protocol.md names them all, and
every citation of the docs in the code names a section that exists."""

import re
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from councilors.services import execution_finish, execution_start
from gamification import protocol
from gamification.catalogue import CATALOGUE, AgentMetrics
from gamification.commands import extra_command_names
from gamification.consumers import GamificationConsumer
from tests.gamification.test_consumers import authed, make_user, send

pytestmark = pytest.mark.django_db(transaction=True)


def valid_fields(name: str, councilor_id: str, execution_id: str = "") -> dict[str, Any]:
    # `since` beyond every id: nothing to replay, so the reply is the next message.
    fields = {
        "subscribe": {"topics": ["all"]},
        "resume": {"since": 2**53},
        "cancel_run": {"execution_id": execution_id},
    }
    return fields.get(name, {"councilor_id": councilor_id} if name in protocol.CONTROL_COMMANDS else {})


@sync_to_async
def finished_run_of(user, councilor) -> str:
    """A run `user` asked for, already ended: `cancel_run` answers it with its reply (already_ended)."""
    execution = execution_start(agent=councilor.agent, councilor=councilor, prompt="p", requested_by=user)
    return execution_finish(execution=execution, output="done").execution_id


def test_the_table_names_every_command_the_gateway_answers_and_nothing_else():
    assert set(GamificationConsumer.commands) | extra_command_names() == set(protocol.COMMANDS)
    registered = {*protocol.CONTROL_COMMANDS, protocol.CANCEL_RUN}
    assert extra_command_names() == registered  # registered by the councilors app
    assert all(command.reply in protocol.REPLIES for command in protocol.COMMANDS.values())


@pytest.mark.parametrize("name", sorted(protocol.COMMANDS))
async def test_each_command_needs_its_declared_fields_and_gets_its_declared_reply(name, councilor):
    command = protocol.COMMANDS[name]
    user = await make_user(can_change=True)
    fields = valid_fields(name, councilor.councilor_id, await finished_run_of(user, councilor))
    assert set(fields) == command.fields.__required_keys__
    async with await authed(user) as ws:
        # Only the reply of pause/resume_councilor then, not their broadcast as well.
        await send(ws, {"command": "subscribe", "topics": ["system_alert"]})
        for missing in sorted(fields):
            incomplete = {key: value for key, value in fields.items() if key != missing}
            error = await send(ws, {"command": name, **incomplete})
            assert error["data"] == {
                "code": protocol.MISSING_FIELD,
                "message": protocol.MSG_MISSING_FIELD.format(field=missing),
            }
        reply = await send(ws, {"command": name, **fields, "request_id": name})
    assert reply["type"] == command.reply
    assert reply["data"][protocol.REQUEST_ID] == name


# The documents the code cites -------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL_DOC = ROOT / "docs" / "protocol.md"
CITATION = re.compile(r'(docs/[a-z-]+\.md|README(?:\.md)?),? "([^"]+)"')
CITING = ("conductor", "councilors", "dashboard", "devserver", "gamification", "infrastructure", "monitoring", "static")


def headings(path: Path) -> set[str]:
    lines = path.read_text().splitlines()
    return {line.lstrip("#").strip().replace("`", "") for line in lines if line.startswith("#")}


def test_docs_protocol_names_every_command_reply_code_and_event_field():
    text = PROTOCOL_DOC.read_text()
    names = [*protocol.COMMANDS, *protocol.REPLIES, *protocol.ERROR_CODES]
    names += [str(close.code) for close in protocol.CLOSE_CODES] + [close.reason for close in protocol.CLOSE_CODES]
    for name, event in CATALOGUE.items():
        names += [name, *event.required, *event.optional]
    names += [f"metrics.{field}" for field in AgentMetrics.__required_keys__]
    missing = [name for name in names if f"`{name}`" not in text and f"| {name} |" not in text]
    assert missing == []


def test_every_citation_of_the_docs_names_an_existing_section():
    sections = {f"docs/{path.name}": headings(path) for path in (ROOT / "docs").glob("*.md")}
    sections["README"] = headings(ROOT / "README.md")
    files = [path for folder in CITING for path in (ROOT / folder).rglob("*") if path.suffix in {".py", ".js", ".html"}]
    files += list((ROOT / "tests").rglob("*.py"))
    cited = 0
    for path in files:
        for document, section in CITATION.findall(path.read_text()):
            known = sections.get("README" if document.startswith("README") else document, set())
            assert any(heading == section or heading.startswith(f"{section} (") for heading in known), (path, section)
            cited += 1
    assert cited >= 20  # the code does cite them (this test would pass vacuously otherwise)
