"""The per-connection outbox: eager writes, a bounded queue while `send` waits, overflow, room, close."""

import asyncio
import base64
import os
import socket

import pytest
import websockets
from asgiref.sync import sync_to_async
from prometheus_client import REGISTRY

from gamification.events import emit
from gamification.outbox import AsgiOutbox, Frame, make_outbox
from gamification.protocol import CloseCode
from tests.gamification.live import TIMEOUT, receive, request, staff_token, ws_url
from tests.processes import SERVERS


class GatedSend:
    """An ASGI `send` that completes at once while open, and waits (a full socket buffer) while shut."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.sent: list[str] = []
        self._progress = asyncio.Event()

    async def __call__(self, message: dict) -> None:
        assert message["type"] == "websocket.send"
        if not self.gate.is_set():
            await self.gate.wait()
        self.sent.append(message["text"])
        self._progress.set()

    async def until_sent(self, count: int) -> None:
        while len(self.sent) < count:
            self._progress.clear()
            await asyncio.wait_for(self._progress.wait(), TIMEOUT)


class Overflows:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


def frames(*texts: str) -> list[Frame]:
    return [Frame(text) for text in texts]


async def let_the_loop_run() -> None:
    """A few turns of the event loop: whatever was ready to run has run (no time passes)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_while_send_keeps_up_a_frame_is_written_within_put():
    send = GatedSend()
    outbox = AsgiOutbox(send, limit=2, on_overflow=Overflows())
    outbox.put(Frame("a"))
    assert send.sent == ["a"] and len(outbox) == 0  # no task, no await: written before put returned


async def test_while_send_waits_frames_queue_and_then_go_out_in_order():
    send = GatedSend()
    send.gate.clear()
    outbox = AsgiOutbox(send, limit=5, on_overflow=Overflows())
    for frame in frames("a", "b", "c"):
        outbox.put(frame)
    assert send.sent == [] and len(outbox) == 2  # "a" is in flight, inside send
    send.gate.set()
    await send.until_sent(3)
    assert send.sent == ["a", "b", "c"] and len(outbox) == 0
    outbox.put(Frame("d"))  # caught up: eager again
    assert send.sent[-1] == "d"


async def test_one_frame_over_the_limit_closes_the_outbox_and_calls_on_overflow_once():
    send, overflow = GatedSend(), Overflows()
    send.gate.clear()
    outbox = AsgiOutbox(send, limit=2, on_overflow=overflow)
    for frame in frames("in flight", "b", "c"):
        outbox.put(frame)
    assert overflow.calls == 0 and len(outbox) == 2
    outbox.put(Frame("d"))
    assert overflow.calls == 1 and len(outbox) == 0
    outbox.put(Frame("e"))
    send.gate.set()
    await let_the_loop_run()
    assert overflow.calls == 1 and send.sent == []  # the writer was cancelled, the queue dropped


async def test_wait_room_returns_once_the_frames_fit_under_the_limit():
    send = GatedSend()
    send.gate.clear()
    outbox = AsgiOutbox(send, limit=3, on_overflow=Overflows())
    assert await outbox.wait_room(3) is True  # empty: room at once
    for frame in frames("in flight", "b", "c"):
        outbox.put(frame)
    waiting = asyncio.create_task(outbox.wait_room(2))  # 2 queued + 2 > 3
    await let_the_loop_run()
    assert not waiting.done()
    send.gate.set()
    assert await asyncio.wait_for(waiting, TIMEOUT) is True


async def test_wait_room_says_false_when_the_outbox_closes_meanwhile():
    send = GatedSend()
    send.gate.clear()
    outbox = AsgiOutbox(send, limit=1, on_overflow=Overflows())
    for frame in frames("in flight", "b"):
        outbox.put(frame)
    waiting = asyncio.create_task(outbox.wait_room(1))
    await let_the_loop_run()
    outbox.close()
    assert await asyncio.wait_for(waiting, TIMEOUT) is False


async def test_close_drops_what_is_queued_and_ignores_later_frames():
    send, overflow = GatedSend(), Overflows()
    send.gate.clear()
    outbox = AsgiOutbox(send, limit=5, on_overflow=overflow)
    for frame in frames("in flight", "b", "c"):
        outbox.put(frame)
    outbox.close()
    outbox.put(Frame("d"))
    send.gate.set()
    await let_the_loop_run()
    assert len(outbox) == 0 and send.sent == [] and overflow.calls == 0


async def test_a_send_that_raises_stops_the_writing_without_raising_to_the_hub():
    calls: list[str] = []

    async def broken(message: dict) -> None:
        calls.append(message["text"])
        raise OSError("the socket went away")

    outbox = AsgiOutbox(broken, limit=5, on_overflow=Overflows())
    outbox.put(Frame("a"))
    outbox.put(Frame("b"))
    assert calls == ["a"]


async def test_without_daphne_s_protocol_the_asgi_outbox_is_used_and_counted():
    before = REGISTRY.get_sample_value("conductor_websocket_write_path_total", {"path": "asgi"}) or 0
    outbox = make_outbox(send=GatedSend(), daphne_protocol=None, limit=5, on_overflow=Overflows())
    assert type(outbox) is AsgiOutbox
    assert REGISTRY.get_sample_value("conductor_websocket_write_path_total", {"path": "asgi"}) == before + 1


def test_a_frame_is_encoded_once_as_a_websocket_text_frame():
    frame = Frame('{"a":1}')
    assert frame.prepared is frame.prepared
    assert frame.prepared.payloadHybi == b"\x81\x07" + b'{"a":1}'  # FIN + text, unmasked, 7 bytes


# A client that stops reading, on real servers ---------------------------------------------------


def _stuck_client(port: int, token: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads (tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws/gamification?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    sock.settimeout(TIMEOUT)
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)  # byte by byte: leave the frames that follow unread
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def _read_to_end(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
@pytest.mark.parametrize("server", sorted(SERVERS))
async def test_a_client_that_stops_reading_is_closed_and_holds_back_no_one(server):
    token = await staff_token()
    events, limit = 800, 20
    detail = {"blob": "x" * 16000}  # big frames fill the socket buffers quickly
    with SERVERS[server](GAMIFICATION_WS_OUTBOX_FRAMES=str(limit)) as (_, port):
        stuck = await sync_to_async(_stuck_client)(port, token)
        async with websockets.connect(ws_url(port, token), compression=None, max_size=2**20) as fast:
            fast_id = (await receive(fast, "connected"))["data"]["client_id"]
            for number in range(events):
                data = {"level": "info", "message": str(number), "source": "t", "details": detail}
                await sync_to_async(emit)("system_alert", data)
                # In step with the fast client, which must get every event while the stuck one reads nothing.
                assert (await receive(fast, "system_alert"))["data"]["message"] == str(number)
            # Counted from this process's own list: other test processes' stats may share the Redis.
            clients = (await request(fast, {"command": "get_stats"}))["data"]["clients"]
            (instance,) = {client["instance"] for client in clients if client["client_id"] == fast_id}
            assert [client["client_id"] for client in clients if client["instance"] == instance] == [fast_id]
        # The close frame (4008 "Too slow") queues behind the unread backlog; when the client does not drain
        # it within the server's close timeout, the server drops the TCP connection instead.
        received = await sync_to_async(_read_to_end)(stuck)
        stuck.close()
        assert len(received) < events * 16000  # it did not get everything: it was cut off
        if received.endswith(b"Too slow"):
            assert received[-10:-8] == CloseCode.SLOW_CONSUMER.to_bytes(2, "big")


async def test_put_many_sends_every_frame_in_order_and_counts_them_against_the_limit():
    send, overflow = GatedSend(), Overflows()
    outbox = AsgiOutbox(send, limit=3, on_overflow=overflow)
    outbox.put_many(frames("a", "b"))
    assert send.sent == ["a", "b"]
    send.gate.clear()  # the client stops keeping up
    outbox.put_many(frames("c", "d", "e", "f", "g"))  # "c" in flight, three queued, then one too many
    assert overflow.calls == 1
