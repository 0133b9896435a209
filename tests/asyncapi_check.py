"""Every frame the tests read from /ws/gamification must be a server message of the AsyncAPI document.

A pytest plugin (tests/conftest.py loads it). It wraps how the tests read from the gateway —
channels' `WebsocketCommunicator.receive_output` (under `receive_from` / `receive_json_from`) and
the `websockets` clients' `recv` (asyncio and sync; `async for` goes through it too) — validates
each text frame read on the gateway's path against the document of `gamification.asyncapi`
(JSON Schema 2020-12), and fails the test that read an invalid one, naming the message and the
schema error. So the document cannot drift from what the gateway really sends.
"""

import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from channels.testing import WebsocketCommunicator
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from websockets.asyncio.client import ClientConnection as AsyncClientConnection
from websockets.sync.client import ClientConnection as SyncClientConnection

DOCUMENT_URI = "urn:conductor:asyncapi"
GATEWAY_PATH = "/ws/gamification"
SHOWN_CHARS = 300  # of an invalid frame, in the failure message
INVALID = "the gateway sent a message that is not in the AsyncAPI document:\n{problems}"


def _pointer(document: dict[str, Any], ref: str) -> Any:
    """What a local `#/a/b` reference of the document points at."""
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def server_message_keys(document: dict[str, Any]) -> list[str]:
    """components.messages keys of what the server sends: `send` operations' messages and every reply."""
    refs = []
    for operation in document["operations"].values():
        if operation["action"] == "send":
            refs += operation["messages"]
        refs += operation.get("reply", {}).get("messages", [])
    keys = []
    for ref in refs:
        component = _pointer(document, ref["$ref"])["$ref"]  # channel message → components.messages
        key = component.removeprefix("#/components/messages/")
        if key not in keys:
            keys.append(key)
    return keys


class ServerMessages:
    """The document's server messages as validators, by envelope `type`."""

    def __init__(self, document: dict[str, Any]) -> None:
        registry = Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(document))
        self.by_type: dict[str, list[tuple[str, Draft202012Validator]]] = {}
        for key in server_message_keys(document):
            payload = document["components"]["messages"][key]["payload"]
            schema = {"$ref": f"{DOCUMENT_URI}#/components/messages/{key}/payload"}
            validator = Draft202012Validator(schema, registry=registry)
            self.by_type.setdefault(payload["properties"]["type"]["const"], []).append((key, validator))

    def problem(self, frame: str | bytes) -> str | None:
        """None when the frame is one of the document's server messages; otherwise what is wrong with it."""
        if isinstance(frame, bytes):
            return "a binary frame (the gateway sends JSON text only)"
        try:
            message = json.loads(frame)
        except ValueError as exc:
            return f"not JSON ({exc})"
        kind = message.get("type") if isinstance(message, dict) else None
        candidates = self.by_type.get(kind) if isinstance(kind, str) else None
        if not candidates:
            return f"type {kind!r} is none of the document's server messages ({', '.join(sorted(self.by_type))})"
        errors = []
        for key, validator in candidates:
            error = best_match(validator.iter_errors(message))
            if error is None:
                return None
            errors.append(f"{key}: {error.message} (at {error.json_path})")
        return "; ".join(errors)


class Recorder:
    """Validates frames as they are read and keeps the problems of the running test."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # sync clients read in threads
        self._messages: ServerMessages | None = None
        self.problems: list[str] = []
        self._expected: list[str] | None = None

    def messages(self) -> ServerMessages:
        with self._lock:
            if self._messages is None:  # built on first use: Django is set up by then
                from gamification.asyncapi import asyncapi_document

                self._messages = ServerMessages(asyncapi_document())
            return self._messages

    def check(self, frame: str | bytes) -> None:
        problem = self.messages().problem(frame)
        if problem is None:
            return
        shown = frame if len(frame) <= SHOWN_CHARS else frame[:SHOWN_CHARS] + "…"
        with self._lock:
            (self.problems if self._expected is None else self._expected).append(f"{shown!r}\n  → {problem}")

    @contextlib.contextmanager
    def expecting_invalid(self) -> Iterator[list[str]]:
        """Collect problems into the yielded list instead of failing the test (to test the check itself)."""
        self._expected = []
        try:
            yield self._expected
        finally:
            self._expected = None

    def take(self) -> list[str]:
        with self._lock:
            problems, self.problems = self.problems, []
        return problems


recorder = Recorder()


def _on_gateway(path: str) -> bool:
    return urlsplit(path).path == GATEWAY_PATH


async def _communicator_receive_output(self: WebsocketCommunicator, timeout: float = 1) -> dict[str, Any]:
    output = await _original["communicator"](self, timeout)
    if output.get("type") == "websocket.send" and _on_gateway(self.scope["path"]):
        recorder.check(output["text"] if output.get("text") is not None else output.get("bytes", b""))
    return output


async def _async_recv(self: AsyncClientConnection, decode: bool | None = None) -> str | bytes:
    frame = await _original["async"](self, decode)
    if decode is None and _on_gateway(self.request.path):
        recorder.check(frame)
    return frame


def _sync_recv(self: SyncClientConnection, timeout: float | None = None, decode: bool | None = None) -> str | bytes:
    frame = _original["sync"](self, timeout, decode)
    if decode is None and _on_gateway(self.request.path):
        recorder.check(frame)
    return frame


_original = {
    "communicator": WebsocketCommunicator.receive_output,
    "async": AsyncClientConnection.recv,
    "sync": SyncClientConnection.recv,
}


def pytest_configure(config: pytest.Config) -> None:
    WebsocketCommunicator.receive_output = _communicator_receive_output
    AsyncClientConnection.recv = _async_recv
    SyncClientConnection.recv = _sync_recv


def pytest_unconfigure(config: pytest.Config) -> None:
    WebsocketCommunicator.receive_output = _original["communicator"]
    AsyncClientConnection.recv = _original["async"]
    SyncClientConnection.recv = _original["sync"]


def _report(phase_problems: list[str]) -> str:
    return INVALID.format(problems="\n".join(phase_problems))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    recorder.take()  # what an earlier test's stragglers read is not this test's doing
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Fail the test that read an invalid frame (during its fixtures' setup or its body)."""
    try:
        result = yield
    except BaseException as exc:
        if problems := recorder.take():
            exc.add_note(_report(problems))
        raise
    if problems := recorder.take():
        pytest.fail(_report(problems), pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    result = yield
    if problems := recorder.take():
        pytest.fail(_report(problems), pytrace=False)
    return result
