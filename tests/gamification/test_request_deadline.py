"""A real daphne closes a request whose headers or body never finish (gamification/fastpath/request_deadline.py).

The client keeps sending a byte now and then, so Twisted's idle timeout (60 s without a byte)
never fires: only the request's deadline, API_REQUEST_RECEIVE_TIMEOUT_S from its first line, does.
"""

import json
import socket
import time

import pytest
from websockets.sync.client import connect

from gamification.fastpath.request_deadline import MSG_ENFORCED, REQUEST_TIMEOUT_RESPONSE
from infrastructure.tokens import token_mint
from tests.factories import make_user
from tests.processes import daphne

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DEADLINE_S = 2.0
CHECK_EVERY_S = 2.0  # daphne's timeout checker runs this often
TRICKLE_EVERY_S = 0.5
GIVE_UP_S = 20.0  # far beyond DEADLINE_S + CHECK_EVERY_S: reaching it means nothing closed the request


@pytest.fixture(scope="module")
def gateway(django_db_setup, django_db_blocker, tmp_path_factory):
    log = tmp_path_factory.mktemp("deadline") / "daphne.log"
    with django_db_blocker.unblock(), daphne(log_path=log, API_REQUEST_RECEIVE_TIMEOUT_S=str(DEADLINE_S)) as (_, port):
        yield port, log


def trickle_until_closed(port: int, head: bytes, drip: bytes) -> tuple[bytes, float]:
    """Send `head`, then `drip` every TRICKLE_EVERY_S until the server closes; its answer and when it closed."""
    started = time.monotonic()
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=TRICKLE_EVERY_S) as client:
        client.sendall(head)
        while time.monotonic() - started < GIVE_UP_S:
            try:
                chunk = client.recv(4096)
            except TimeoutError:  # nothing from the server yet: one more byte, as a slow client would
                try:
                    client.sendall(drip)
                except (BrokenPipeError, ConnectionResetError):
                    break
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
    return answer, time.monotonic() - started


def test_headers_that_never_finish_are_answered_408_and_closed(gateway):
    port, log = gateway
    answer, after = trickle_until_closed(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-Slow: y\r\n")
    assert answer == REQUEST_TIMEOUT_RESPONSE
    assert DEADLINE_S <= after < DEADLINE_S + CHECK_EVERY_S + 3, after
    assert MSG_ENFORCED % DEADLINE_S in log.read_text()


def test_a_body_that_never_reaches_its_length_is_answered_408_and_closed(gateway):
    port, _ = gateway
    head = b"POST /api/agents/x/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n{"
    answer, after = trickle_until_closed(port, head, b" ")
    assert answer == REQUEST_TIMEOUT_RESPONSE
    assert DEADLINE_S <= after < DEADLINE_S + CHECK_EVERY_S + 3, after


def test_a_request_received_in_time_is_served_and_a_connection_open_longer_is_not_cut(gateway):
    port, _ = gateway
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := client.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 ")
    assert b" 408 " not in answer.split(b"\r\n", 1)[0]

    # The deadline is for receiving a request: a WebSocket (or an SSE stream) lives on past it.
    token = token_mint(user=make_user())
    with connect(f"ws://127.0.0.1:{port}/ws/gamification?token={token}", open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "connected"
        time.sleep(DEADLINE_S + 2 * CHECK_EVERY_S)  # the time passing is what is tested here
        ws.send(json.dumps({"command": "ping"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "pong"
