"""The AsyncAPI document: its shape, that it names every event and command, the endpoint, and the
check (tests/asyncapi_check.py) that validates every frame the gateway tests read against it."""

import json
from typing import Any, Literal, NotRequired, TypedDict

import pytest
from channels.testing import WebsocketCommunicator

from gamification import payloads, protocol
from gamification.asyncapi import (
    ASYNCAPI_VERSION,
    CHANNEL,
    EVENT_OPERATION,
    Schemas,
    asyncapi_document,
    command_key,
    event_key,
    reply_key,
)
from gamification.catalogue import BROADCAST_TYPES, CATALOGUE, DETAILS_WITHHELD, PRIVATE_TYPES
from gamification.events import build_envelope
from tests.asyncapi_check import ServerMessages, recorder, server_message_keys

TIMEOUT = 5


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document()


@pytest.fixture(scope="module")
def server_messages(document) -> ServerMessages:
    return ServerMessages(document)


def resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def message_of(document: dict[str, Any], ref: str) -> dict[str, Any]:
    """An operation's message ref → the channel's message → the component."""
    return resolve(document, resolve(document, ref)["$ref"])


def data_schema(document: dict[str, Any], key: str, *, shape: int = 0) -> dict[str, Any]:
    """The schema of a message's data (`shape` 1: the public shape of an event with private details)."""
    data = document["components"]["messages"][key]["payload"]["properties"]["data"]
    data = data["oneOf"][shape] if "oneOf" in data else data
    return resolve(document, data["$ref"]) if "$ref" in data else data


def event(name: str, data: dict[str, Any], event_id: int | None = 7) -> dict[str, Any]:
    return {**build_envelope(name, data), "id": event_id}


def reply(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": name, "data": data, "timestamp": 1.5, "id": None}


ALERT = {"level": "info", "message": "hi", "source": "tests"}


# The document ------------------------------------------------------------------------------------


def test_the_document_has_the_asyncapi_3_shape_and_every_reference_resolves(document):
    assert document["asyncapi"] == ASYNCAPI_VERSION == "3.0.0"
    assert document["info"]["title"] and document["info"]["version"]
    channel = document["channels"][CHANNEL]
    assert channel["address"] == "/ws/gamification"
    for key, message in channel["messages"].items():
        assert resolve(document, message["$ref"]) is document["components"]["messages"][key]
    assert set(channel["messages"]) == set(document["components"]["messages"])
    for operation in document["operations"].values():
        assert operation["action"] in {"send", "receive"}
        assert resolve(document, operation["channel"]["$ref"]) is channel
        for ref in operation["messages"] + operation.get("reply", {}).get("messages", []):
            assert ref["$ref"].startswith(f"#/channels/{CHANNEL}/messages/")
            assert message_of(document, ref["$ref"])["payload"]["type"] == "object"
    for name, security in document["components"]["securitySchemes"].items():
        assert security["type"] == "httpApiKey", name
    assert json.loads(json.dumps(document)) == document  # plain JSON, nothing Python-only


def test_every_broadcast_event_is_sent_with_exactly_its_catalogue_fields(document):
    sent = {message_of(document, ref["$ref"])["name"] for ref in document["operations"][EVENT_OPERATION]["messages"]}
    assert sent == BROADCAST_TYPES
    for name in BROADCAST_TYPES:
        schema = data_schema(document, event_key(name))
        assert set(schema["required"]) == CATALOGUE[name].required, name
        assert set(schema["properties"]) == CATALOGUE[name].required | CATALOGUE[name].optional, name
        assert schema["additionalProperties"] is False


def test_an_event_with_private_details_has_a_public_shape_without_them(document):
    for name in PRIVATE_TYPES:
        event, message = CATALOGUE[name], document["components"]["messages"][event_key(name)]
        public = data_schema(document, event_key(name), shape=1)
        assert message["x-private-fields"] == list(event.private)
        assert public["properties"][DETAILS_WITHHELD] == {"const": True} and DETAILS_WITHHELD in public["required"]
        for field in event.private:
            assert public["properties"].get(field, {"const": ""}) == {"const": ""}, (name, field)
            assert (field in public["properties"]) == (field in event.required), (name, field)


def test_every_catalogue_type_appears_and_replies_only_types_are_replies(document):
    messages = document["components"]["messages"]
    for name, entry in CATALOGUE.items():
        assert (event_key(name) in messages) is entry.broadcast, name
    assert reply_key("councilor_run_queued") in messages
    queued = data_schema(document, reply_key("councilor_run_queued"))
    assert set(queued["properties"]) == {"councilor_id", "execution_id", "task_id", protocol.REQUEST_ID}
    assert queued["required"] == ["councilor_id"]


def test_every_command_is_received_and_answered_with_its_reply_or_an_error(document):
    expected = {"ping", "subscribe", "get_stats", "resume", "pause_councilor", "resume_councilor", "run_councilor"}
    expected.add("cancel_run")
    assert set(protocol.COMMANDS) == expected
    for name, command in protocol.COMMANDS.items():
        operation = document["operations"][name]
        assert operation["action"] == "receive"
        (received,) = [message_of(document, ref["$ref"]) for ref in operation["messages"]]
        assert received is document["components"]["messages"][command_key(name)]
        payload = received["payload"]
        assert payload["properties"][protocol.COMMAND_FIELD] == {"const": name}
        assert payload["required"] == [protocol.COMMAND_FIELD, *sorted(command.fields.__required_keys__)]
        assert protocol.REQUEST_ID in payload["properties"]
        replies = [message_of(document, ref["$ref"])["name"] for ref in operation["reply"]["messages"]]
        assert replies == [command.reply, protocol.ERROR]
    since = document["components"]["messages"][command_key("resume")]["payload"]["properties"]["since"]
    assert since == {"type": "integer", "minimum": 0}


def test_error_codes_and_close_codes_come_from_the_protocol_module(document):
    error = data_schema(document, reply_key(protocol.ERROR))
    assert error["properties"]["code"]["enum"] == list(protocol.ERROR_CODES)
    closes = document["channels"][CHANNEL]["x-close-codes"]
    assert [(close["code"], close["reason"]) for close in closes] == [
        (4401, "Unauthorized"),
        (4429, "Too many connections"),
        (4008, "Too slow"),
        (4009, "Message too big"),
        (4029, "Too many commands"),
        (4500, "Internal error"),
    ]


def test_the_server_messages_are_every_event_and_every_reply(document):
    keys = server_message_keys(document)
    assert set(keys) == {event_key(name) for name in BROADCAST_TYPES} | {reply_key(name) for name in protocol.REPLIES}


class Inner(TypedDict):
    n: int


class Sample(TypedDict):
    text: str
    maybe: str | None
    ratio: float | int
    flag: bool
    one: Literal["x"]
    level: Literal["a", "b"] | None
    inner: Inner
    many: list[Inner]
    free: dict[str, Any]
    counts: dict[str, int]
    extra: NotRequired[str]


def test_type_hints_become_json_schema():
    schemas = Schemas()
    assert schemas.of(Sample) == {"$ref": "#/components/schemas/Sample"}
    sample = schemas.named["Sample"]
    assert sample["properties"] == {
        "text": {"type": "string"},
        "maybe": {"type": ["string", "null"]},
        "ratio": {"type": ["number", "integer"]},
        "flag": {"type": "boolean"},
        "one": {"const": "x"},
        "level": {"enum": ["a", "b", None]},
        "inner": {"$ref": "#/components/schemas/Inner"},
        "many": {"type": "array", "items": {"$ref": "#/components/schemas/Inner"}},
        "free": {"type": "object"},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "extra": {"type": "string"},
    }
    assert "extra" not in sample["required"] and len(sample["required"]) == 10
    assert schemas.named["Inner"] == {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
        "additionalProperties": False,
    }
    with pytest.raises(TypeError):
        schemas.of(set[int])


# The endpoint ------------------------------------------------------------------------------------


def test_the_endpoint_serves_the_document_to_anyone(client):
    response = client.get("/api/asyncapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == json.loads(json.dumps(asyncapi_document()))


# The check every gateway test goes through -------------------------------------------------------


def test_real_messages_pass(server_messages):
    valid = [
        event("system_alert", ALERT),
        event("system_alert", {**ALERT, "details": {"n": [1, None]}}, event_id=None),  # history off: id null
        event(*payloads.councilor_paused(councilor_id="c", by="admin")),
        reply("councilor_paused", {"councilor_id": "c", "success": True, "by": "admin", "request_id": 3}),
        reply("connected", {"message": protocol.CONNECTED_MESSAGE, "client_id": "u", "last_id": 0}),
        reply("error", {"code": protocol.UNKNOWN_COMMAND, "message": "no", "request_id": "r"}),
        reply("stats", {"active_connections": 1, "instances": 1, "topics": {"all": 1}}),
        reply("resumed", {"since": 2**80, "replayed": 0, "complete": False}),
    ]
    for message in valid:
        assert server_messages.problem(json.dumps(message)) is None, message


@pytest.mark.parametrize(
    ("message", "says"),
    [
        (reply("pong", {"timestamp": "now"}), "'now' is not of type 'number'"),
        ({**reply("pong", {"timestamp": 1.0}), "id": 5}, "5 is not of type 'null'"),
        (reply("error", {"code": "oops", "message": "m"}), "'oops' is not one of"),
        (reply("connected", {"message": "hi", "client_id": "u", "last_id": 0, "request_id": 1}), "request_id"),
        (event("system_alert", ALERT, event_id=0), "0 is less than the minimum of 1"),
        ({**event("system_alert", ALERT), "extra": 1}, "'extra' was unexpected"),
        ({**event("system_alert", ALERT), "data": {"level": "info"}}, "'message' is a required property"),
        (event("agent_metrics_updated", {"agent_id": "a", "metrics": {"total_executions": 1}}), "required property"),
        (reply("dance", {}), "type 'dance' is none of the document's server messages"),
        ([1, 2], "is none of the document's server messages"),
    ],
)
def test_a_wrong_message_is_rejected_saying_why(server_messages, message, says):
    problem = server_messages.problem(json.dumps(message))
    assert problem is not None and says in problem, problem


def test_frames_that_are_not_json_text_are_rejected(server_messages):
    assert "not JSON" in server_messages.problem("{nope")
    assert "binary" in server_messages.problem(b"{}")


async def _send_frames(scope: dict, receive: Any, send: Any) -> None:
    """A stand-in application: accepts, then sends one frame that breaks the document and one that keeps it."""
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": json.dumps(reply("pong", {}))})
    await send({"type": "websocket.send", "text": json.dumps(reply("pong", {"timestamp": 1.0}))})
    await receive()


@pytest.mark.parametrize(("path", "checked"), [("/ws/gamification?token=t", True), ("/ws/other", False)])
async def test_a_frame_read_from_the_gateway_path_is_checked(path, checked):
    communicator = WebsocketCommunicator(_send_frames, path)
    try:
        await communicator.connect(timeout=TIMEOUT)
        with recorder.expecting_invalid() as problems:
            await communicator.receive_json_from(timeout=TIMEOUT)
            await communicator.receive_json_from(timeout=TIMEOUT)
    finally:
        await communicator.disconnect()
    if checked:
        (problem,) = problems
        assert "reply.pong: 'timestamp' is a required property (at $.data)" in problem
        assert '"type": "pong"' in problem  # the message itself is shown
    else:
        assert problems == []
