"""The fast paths are the ones used under the pinned daphne, Twisted, autobahn and channels-redis.

If an upgrade moves what gamification/fastpath relies on, the gateway still works (plain ASGI
send, store-then-group_send) but slower or with looser ordering; these tests fail so that the
upgrade is noticed, not silently slower.
"""

import asyncio
import importlib
import logging
import socket
from functools import partial
from pprint import pformat
from typing import Any

import httpx
import pytest
import websockets
from channels.layers import get_channel_layer
from prometheus_client.parser import text_string_to_metric_families

from gamification.events import aemit
from gamification.fastpath import channels_redis, daphne, twisted_reactor
from tests.gamification.live import TIMEOUT, receive, staff_token, ws_url
from tests.gamification.ws import ALERT
from tests.processes import SERVERS

WRITE_PATH_SAMPLE = "conductor_websocket_write_path_total"


# daphne -----------------------------------------------------------------------------------------


def test_the_daphne_fast_path_is_available_under_the_pinned_versions():
    capability = daphne.check()
    assert capability.available is True, capability.reason


def test_the_daphne_check_logs_once_which_path_it_takes(caplog):
    daphne.check.cache_clear()
    with caplog.at_level(logging.INFO, logger="gamification.fastpath.daphne"):
        first, second = daphne.check(), daphne.check()
    assert first is second
    assert [record.getMessage() for record in caplog.records] == [
        daphne.MSG_AVAILABLE % first.reason,
        daphne.MSG_CONNECTION_LOGGING
        % (
            "deferred: autobahn.websocket.protocol.pformat, autobahn.websocket.protocol.hltype, "
            "autobahn.websocket.protocol.hlval, autobahn.twisted.websocket.hltype, autobahn.twisted.websocket.hlval"
        ),
        daphne.MSG_QUEUE % daphne.QUEUE_LIGHT,
        daphne.MSG_COMPACT % daphne.COMPACT_ON,
        daphne.MSG_PROTOCOL % daphne.PROTOCOL_GATEWAY,
        daphne.MSG_CHECKER % daphne.CHECKER_CANDIDATES,
    ]


def test_daphne_s_server_makes_light_application_queues():
    server = importlib.import_module("daphne.server")
    daphne.check()
    assert isinstance(server.asyncio.Queue(), daphne.LightQueue)
    assert server.asyncio.ensure_future is asyncio.ensure_future  # everything else is asyncio's


async def test_the_light_queue_hands_items_out_in_order_to_a_waiting_getter():
    queue = daphne.LightQueue()
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait({"type": "websocket.connect"})
    queue.put_nowait({"type": "websocket.receive", "text": "1"})
    assert await getter == {"type": "websocket.connect"}
    assert queue.qsize() == 1
    assert await queue.get() == {"type": "websocket.receive", "text": "1"}
    assert queue.empty()
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()


async def test_a_cancelled_getter_of_the_light_queue_loses_no_item():
    queue = daphne.LightQueue()
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("message")  # wakes the first getter ...
    first.cancel()  # ... which is cancelled before it runs: the second one gets the item
    assert await second == "message"
    assert first.cancelled()


def test_autobahn_s_per_connection_debug_text_is_made_only_when_written():
    from autobahn import util
    from autobahn.twisted import websocket as twisted_websocket
    from autobahn.websocket import protocol as autobahn_protocol

    daphne.check()
    settings = [("autoPingInterval", 0, "WebSocketServerFactory")]
    deferred = autobahn_protocol.pformat(settings)
    assert isinstance(deferred, daphne.LazyText)  # nothing formatted per connection ...
    assert str(deferred) == f"{deferred}" == pformat(settings)  # ... the same text when a debug line asks
    for module in (autobahn_protocol, twisted_websocket):
        assert str(module.hlval("peer")) == util.hlval("peer")
        assert str(module.hltype(daphne.check)) == util.hltype(daphne.check)
        assert isinstance(module.hltype(daphne.check), daphne.LazyText)


def test_a_send_that_is_not_daphne_s_has_no_protocol():
    async def plain_send(message: dict) -> None:
        """uvicorn's, or a test communicator's."""

    assert daphne.protocol_from_send(plain_send) is None
    assert daphne.protocol_from_send(partial(plain_send)) is None  # a partial, but of no protocol


# Twisted's reactor --------------------------------------------------------------------------------


def test_the_reactor_calls_socket_handlers_directly_under_the_pinned_twisted_and_says_so_once(caplog):
    from twisted.internet import asyncioreactor

    twisted_reactor.use_direct_callbacks.cache_clear()
    with caplog.at_level(logging.INFO, logger="gamification.fastpath.twisted_reactor"):
        first, second = twisted_reactor.use_direct_callbacks(), twisted_reactor.use_direct_callbacks()
    assert first == second == twisted_reactor.DIRECT
    assert [record.getMessage() for record in caplog.records] == [twisted_reactor.MSG_CALLBACKS % first]
    assert asyncioreactor.callWithLogger is twisted_reactor.call_directly


class RaisingReader:
    """A socket whose read handler raises, as a bug in a protocol would."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lost = asyncio.get_running_loop().create_future()

    def fileno(self) -> int:
        return self.sock.fileno()

    def logPrefix(self) -> str:  # noqa: N802 - Twisted's name
        return "RaisingReader"

    def doRead(self) -> None:  # noqa: N802
        raise RuntimeError("a bug in a protocol")

    def connectionLost(self, reason: Any) -> None:  # noqa: N802
        self.lost.set_result(reason)


async def test_a_socket_handler_that_raises_is_still_logged_and_its_socket_dropped():
    from twisted.internet import asyncioreactor
    from twisted.logger import globalLogPublisher

    assert twisted_reactor.use_direct_callbacks() == twisted_reactor.DIRECT
    reactor = asyncioreactor.AsyncioSelectorReactor(asyncio.get_running_loop())
    logged: list[dict] = []
    globalLogPublisher.addObserver(logged.append)
    ours, theirs = socket.socketpair()
    try:
        reader = RaisingReader(ours)
        reactor.addReader(reader)
        theirs.send(b"x")
        reason = await asyncio.wait_for(reader.lost, TIMEOUT)
        assert isinstance(reason.value, RuntimeError)
        assert reader not in reactor.getReaders()
        assert any(isinstance(getattr(event.get("log_failure"), "value", None), RuntimeError) for event in logged)
    finally:
        globalLogPublisher.removeObserver(logged.append)
        reactor.removeAll()
        reactor.waker.connectionLost(None)  # the reactor's own wake-up pipe, made with it
        ours.close()
        theirs.close()


# channels-redis ---------------------------------------------------------------------------------


def test_the_history_script_publishes_for_the_configured_single_redis_layer():
    capability = channels_redis.check(get_channel_layer())
    assert capability.available is True, capability.reason


def test_a_sharded_layer_is_refused_with_a_reason(settings):
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    layer = {**settings.CHANNEL_LAYERS["default"], "CONFIG": {**config, "hosts": config["hosts"] * 2}}
    settings.CHANNEL_LAYERS = {"default": layer}
    capability = channels_redis.check(get_channel_layer())
    assert capability.available is False
    assert "sharded" in capability.reason


def test_an_encrypted_layer_is_refused_with_a_reason(settings):
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    encrypted = {**config, "symmetric_encryption_keys": ["a secret of the deployment"]}
    settings.CHANNEL_LAYERS = {"default": {**settings.CHANNEL_LAYERS["default"], "CONFIG": encrypted}}
    capability = channels_redis.check(get_channel_layer())
    assert capability.available is False
    assert "encrypted" in capability.reason


def test_another_kind_of_layer_is_refused_naming_it_and_logged_once(settings, caplog):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    with caplog.at_level(logging.INFO, logger="gamification.fastpath.channels_redis"):
        first, second = channels_redis.check(layer), channels_redis.check(layer)
    assert first is second and first.available is False
    assert "InMemoryChannelLayer" in first.reason
    assert [record.getMessage() for record in caplog.records] == [channels_redis.MSG_UNAVAILABLE % first.reason]


# Real servers -----------------------------------------------------------------------------------


def write_paths(metrics_text: str) -> dict[str, float]:
    """conductor_websocket_write_path_total by path, from a /metrics page."""
    return {
        sample.labels["path"]: sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == WRITE_PATH_SAMPLE
    }


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
@pytest.mark.parametrize(("server", "path"), [("daphne", daphne.FAST_PATH), ("uvicorn", daphne.SLOW_PATH)])
async def test_a_client_is_served_through_the_fast_path_under_daphne_only(server, path, tmp_path):
    token = await staff_token()
    log = tmp_path / f"{server}.log"
    with SERVERS[server](log_path=log) as (_, port):
        async with websockets.connect(ws_url(port, token), compression=None) as ws:
            await receive(ws, "connected")
            sent = await aemit("system_alert", ALERT)
            assert (await receive(ws, "system_alert"))["id"] == sent["id"]
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                response = await http.get(
                    f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}
                )
    assert response.status_code == 200
    counted = write_paths(response.text)
    assert counted.get(path) == 1  # this server process saw one WebSocket: ours
    assert counted.get({"daphne": "asgi", "asgi": "daphne"}[path], 0) == 0
    started = log.read_text()
    # The capability checks ran at start-up (conductor/asgi.py) and said which paths the process takes.
    assert daphne.MSG_AVAILABLE % daphne.check().reason in started
    assert channels_redis.MSG_AVAILABLE % channels_redis.check(get_channel_layer()).reason in started


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_a_connection_whose_protocol_lacks_an_attribute_is_served_by_plain_asgi_sends_not_closed(tmp_path):
    """After an upgrade that renamed what the fast path writes through: slower, every client kept (no 4500)."""
    token = await staff_token()
    log = tmp_path / "daphne.log"
    with SERVERS["daphne"](log_path=log, module="tests.gamification.daphne_upgraded") as (_, port):
        async with (
            websockets.connect(ws_url(port, token), compression=None) as first,
            websockets.connect(ws_url(port, token), compression=None) as second,
        ):
            for ws in (first, second):
                await receive(ws, "connected")
            for _ in range(3):
                sent = await aemit("system_alert", ALERT)
                for ws in (first, second):
                    assert (await receive(ws, "system_alert"))["id"] == sent["id"]
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                response = await http.get(
                    f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}
                )
    assert write_paths(response.text) == {daphne.SLOW_PATH: 2}
    assert daphne.MSG_INSTANCE_MISSING % "the protocol has no send_queue" in log.read_text()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_daphne_s_pings_are_written_straight_and_their_pongs_taken_by_the_shortcut(tmp_path):
    """Pinged every second (a pong due within 2 s), a client that answers stays connected for longer."""
    from tests.gamification import daphne_pinging

    token = await staff_token()
    log = tmp_path / "daphne.log"
    with SERVERS["daphne"](log_path=log, module="tests.gamification.daphne_pinging") as (_, port):
        async with websockets.connect(ws_url(port, token), compression=None, ping_interval=None) as ws:
            await receive(ws, "connected")
            # The process's first socket waits for its group membership after the accept; the next
            # one has nothing to wait for: its handshake answer and `connected` leave in one write.
            async with websockets.connect(ws_url(port, token), compression=None, ping_interval=None) as second:
                await receive(second, "connected")
            await asyncio.sleep(4 * daphne_pinging.PING_INTERVAL_S)  # pings answered by the client library
            await ws.send('{"command": "ping"}')
            assert (await receive(ws, "pong"))["type"] == "pong"
    started = log.read_text()
    assert daphne.MSG_PROTOCOL % daphne.PROTOCOL_GATEWAY in started
    assert daphne_pinging.MSG_WROTE_THROUGH in started
    assert daphne_pinging.MSG_ANSWER_WITH_CONNECTED in started
    assert daphne_pinging.MSG_SHORTCUT_PONG in started
    assert "fast path unavailable" not in started


def test_a_masked_payload_is_unmasked_as_rfc_6455_says():
    mask, payload = b"\x01\x02\x03\x04", bytes(range(13))
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    assert daphne._unmask(mask, masked) == payload
    assert daphne._unmask(mask, b"") == b""


def test_every_connection_pinged_in_one_second_gets_the_same_ping_frame():
    first, again = daphne.shared_ping(), daphne.shared_ping()
    assert again is first or (again.second, again.sequence) == (first.second + 1, first.sequence + 1)  # a new second
    ping = daphne.shared_ping()
    assert ping.frame == bytes((0x89, daphne.AUTOPING_SIZE)) + ping.payload  # FIN, ping, unmasked, 12 bytes
    assert len(ping.payload) == daphne.AUTOPING_SIZE


class _Protocol:
    """What daphne's server keeps per connection, for its application checker."""

    def handle_exception(self, exception: BaseException) -> None:
        raise AssertionError("no application here raises")


async def test_daphne_s_application_checker_reaps_as_before_visiting_only_connections_with_something_to_do(
    monkeypatch,
):
    from daphne import server as daphne_server

    daphne.check()
    monkeypatch.setattr(daphne_server.reactor, "callLater", lambda *args: None)  # no next pass
    ends = {"short": asyncio.Event(), "long": asyncio.Event(), "stuck": asyncio.Event()}

    def application(scope, receive, send):
        return ends[scope["name"]].wait()

    server = daphne_server.Server(application=application, endpoints=["tcp:port=0"], application_close_timeout=0)
    server.connections = {}
    short, long, stuck = _Protocol(), _Protocol(), _Protocol()
    for protocol, name in ((short, "short"), (long, "long"), (stuck, "stuck")):
        server.protocol_connected(protocol)
        server.create_application(protocol, {"type": "websocket", "name": name})
    ends["short"].set()
    await asyncio.sleep(0.01)  # the short application ends; its done callback runs
    assert daphne._candidates(server) == {short}  # the two running ones are not visited
    server.application_checker()
    assert "application_instance" not in server.connections[short]  # reaped, the socket still open
    assert not server.connections[long]["application_instance"].done()
    server.protocol_disconnected(short)
    server.protocol_disconnected(stuck)  # its application outlives the socket (timeout 0 here)
    server.application_checker()
    assert short not in server.connections  # gone with its socket
    await asyncio.sleep(0.01)
    assert server.connections[stuck]["application_instance"].cancelled()  # cancelled, as daphne does
    server.application_checker()
    assert set(server.connections) == {long}
    assert daphne._candidates(server) == set()
    server.connections[long]["application_instance"].cancel()
