"""daphne's WebSocket upgrade through the front (gamification/fastpath/daphne_upgrade.py): a plain
upgrade skips daphne's HTTP request, anything else takes daphne's own path, a client gets the
same answer either way (compared with a daphne whose front is turned off), and a client that sends
nothing is closed after daphne's idle timeout either way.
"""

import asyncio
import contextlib
import re
import time

import pytest
import websockets
from twisted.internet.task import Clock

from gamification.fastpath import daphne_upgrade
from tests.gamification import daphne_upgrades
from tests.gamification.live import receive, staff_token, ws_url
from tests.processes import daphne

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
READ_IDLE_S = 1.5
# What differs between two of Django's answers to one plain GET: its CSP's order, its CSRF cookie.
UNSTABLE_HEADERS = (b"Content-Security-Policy:", b"Set-Cookie:")
# Browsers' header case; daphne rebuilds names as Twisted writes them, and autobahn lowercases both.
BROWSER_HEAD = (
    "GET /ws/gamification?token=t HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\nOrigin: http://127.0.0.1\r\n\r\n"
).encode()
# The idle timeout the daphnes of the idle test run with (Twisted's default, 60 s, is too long to wait).
IDLE_S = 2.5
NAME_RE = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
INVALID_VALUE_BYTES = frozenset(b"\x0b\x0c\x1c\x1d\x1e\x85")


def plain(data: bytes) -> daphne_upgrade.PlainUpgrade | None:
    return daphne_upgrade.plain_upgrade(data, NAME_RE, INVALID_VALUE_BYTES)


def test_a_browser_s_upgrade_is_plain_with_its_query_string_and_headers():
    upgrade = plain(BROWSER_HEAD)
    assert upgrade is not None
    assert upgrade.query_string == b"token=t"
    assert upgrade.headers[b"sec-websocket-key"] == KEY.encode()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"GET ", b"POST "),  # another method
        (b"HTTP/1.1\r\nHost", b"HTTP/1.0\r\nHost"),  # daphne would replay it as HTTP/1.1
        (b"Upgrade: websocket", b"Upgrade: h2c"),  # no WebSocket upgrade
        (b"Host: 127.0.0.1", b"Host: 127.0.0.1\r\nhost: other"),  # a duplicate (daphne joins them)
        (b"Host: 127.0.0.1", b"Host:127.0.0.1"),  # not written plainly: daphne rebuilds "Host: "
        (b"Host: 127.0.0.1", b"Host: 127.0.0.1 "),  # trailing whitespace (Twisted strips it)
        (b"Host: 127.0.0.1", b"Host: 127.0.0.1\r\n folded"),  # obs-fold
        (b"Host: 127.0.0.1", b"Bad Name: x"),  # daphne's 400
        (b"Host: 127.0.0.1", b"Host: a\x0bb"),  # daphne's 400
        (b"Host: 127.0.0.1", b"Host: a\nb"),  # a bare LF (Twisted's 400)
        (b"Host: 127.0.0.1", b"Content-Length: 0"),  # a body header
        (b"?token=t", b"?token=\xc3\xa9"),  # a non-ASCII query string (daphne's 400)
        (b"/ws/gamification", b"/ws/\xc3\xa9"),  # a non-ASCII path (daphne's 400)
        (b"\r\n\r\n", b"\r\n"),  # a partial head
        (b"\r\n\r\n", b"\r\n\r\n\x81\x80"),  # bytes after the head
    ],
)
def test_anything_but_a_plainly_written_upgrade_goes_to_daphne_s_path(old, new):
    assert plain(BROWSER_HEAD.replace(old, new, 1)) is None


def test_a_head_over_twisted_s_limit_goes_to_daphne_s_path():
    padding = b"X-Pad: " + b"a" * daphne_upgrade.MAX_HEAD_BYTES + b"\r\n"
    assert plain(BROWSER_HEAD.replace(b"Host:", padding + b"Host:", 1)) is None


class WaitingConnection:
    """What `FirstReadDeadlines` calls on a connection whose first read did not come in time."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.timed_out_at: list[float] = []

    def timed_out(self) -> None:
        self.timed_out_at.append(self.clock.seconds())


def test_a_connection_still_without_its_first_read_times_out_once_within_a_sweep_of_its_deadline():
    clock = Clock()
    deadlines = daphne_upgrade.FirstReadDeadlines(clock)
    early, late, read, forever = (WaitingConnection(clock) for _ in range(4))
    deadlines.wait(early, 10)
    deadlines.wait(read, 10)
    deadlines.wait(forever, None)  # daphne's channel without an idle timeout waits for ever too
    clock.advance(4)
    deadlines.wait(late, 10)
    deadlines.forget(read)  # its first read came
    clock.pump([daphne_upgrade.FIRST_READ_SWEEP_S] * 20)
    assert 10 <= early.timed_out_at[0] <= 10 + daphne_upgrade.FIRST_READ_SWEEP_S
    assert 14 <= late.timed_out_at[0] <= 14 + daphne_upgrade.FIRST_READ_SWEEP_S
    assert (len(early.timed_out_at), len(late.timed_out_at)) == (1, 1)
    assert read.timed_out_at == forever.timed_out_at == []


def test_the_first_read_sweep_runs_only_while_a_connection_waits():
    clock = Clock()
    deadlines = daphne_upgrade.FirstReadDeadlines(clock)
    connection = WaitingConnection(clock)
    deadlines.wait(connection, 3)
    assert len(clock.getDelayedCalls()) == 1
    deadlines.wait(WaitingConnection(clock), 3)
    assert len(clock.getDelayedCalls()) == 1  # one timer for every waiting connection
    clock.pump([daphne_upgrade.FIRST_READ_SWEEP_S] * 5)
    assert clock.getDelayedCalls() == []
    deadlines.wait(connection, 3)
    assert len(clock.getDelayedCalls()) == 1


# A real daphne, front on and off ------------------------------------------------------------------


@contextlib.contextmanager
def gateways(tmp_path, **env):
    """A daphne with the front (saying which way each first read went) and a stock one."""
    with (
        daphne(log_path=tmp_path / "front.log", module="tests.gamification.daphne_upgrades", **env) as (_, front),
        daphne(
            log_path=tmp_path / "stock.log",
            module="tests.gamification.daphne_upgrades",
            TEST_UPGRADE_FRONT="off",
            **env,
        ) as (_, stock),
    ):
        yield front, stock


async def exchange(port: int, *parts: bytes) -> bytes:
    """What daphne answers `parts`, sent one after another (a pause between): read until it closes or goes quiet."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for index, part in enumerate(parts):
            if index:
                await asyncio.sleep(0.3)
            writer.write(part)
            await writer.drain()
        answer = b""
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), READ_IDLE_S)
            except TimeoutError:
                break
            if not chunk:
                break
            answer += chunk
        return answer
    finally:
        writer.close()


def comparable(answer: bytes) -> bytes:
    """An answer without its date and CSP nonces; an accepted upgrade's head only (its frames carry ids and times)."""
    answer = re.sub(rb"(?m)^Date: [^\r\n]*\r\n", b"", answer)
    answer = re.sub(rb"nonce([-=]\"?)[A-Za-z0-9+/_-]+=*", rb"nonce\1", answer)
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *headers = head.split(b"\r\n")
    # Django's answers (a plain GET) order some headers per process.
    head = b"\r\n".join([status, *sorted(line for line in headers if not line.startswith(UNSTABLE_HEADERS))])
    return head if status.startswith(b"HTTP/1.1 101") else head + b"\r\n\r\n" + body


def head(token: str, *, target: str = "/ws/gamification?token={token}", extra: str = "", **replace: str) -> bytes:
    headers = {
        "Host": "127.0.0.1",
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": KEY,
        "Origin": "http://127.0.0.1",
    }
    for name, value in replace.items():
        name = name.replace("_", "-")
        if value:
            headers[name] = value
        else:
            del headers[name]
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"GET {target.format(token=token)} HTTP/1.1\r\n{lines}{extra}\r\n".encode()


# Heads Twisted still waits on (no CRLF ends them): both daphnes answer nothing in the reading time.
STILL_READING = {"bare LF"}
# Not an upgrade: Django's page for a plain GET.
DJANGO_PAGES = {"no upgrade"}


def cases(token: str) -> dict[str, tuple[tuple[bytes, ...], bool]]:
    """Each case: what the client sends (in parts), and whether the front takes its first read."""
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    whole = head(token)
    return {
        "accepted": ((whole,), True),
        "partial head, then the rest": ((whole[:40], whole[40:]), False),
        "missing key": ((head(token, Sec_WebSocket_Key=""),), True),
        "wrong version": ((head(token, Sec_WebSocket_Version="8"),), True),
        "foreign origin": ((head(token, Origin="http://evil.example"),), True),
        "forged token": ((head(forged),), True),
        "no token": ((head(token, target="/ws/gamification"),), True),
        "bad header name": ((head(token, extra="Bad[Name]: x\r\n"),), False),
        "bad header value": ((head(token, extra="X-Odd: a\x0bb\r\n"),), False),
        "non-ASCII path": ((head(token, target="/ws/gamificação?token={token}"),), False),
        "non-ASCII query": ((head(token, target="/ws/gamification?token={token}&x=é"),), False),
        "duplicate key": ((head(token, extra=f"Sec-WebSocket-Key: {KEY}\r\n"),), False),
        "HTTP/1.0": ((whole.replace(b"HTTP/1.1", b"HTTP/1.0", 1),), False),
        "POST": ((b"POST" + whole[3:],), False),
        "bare LF": ((whole.replace(b"\r\n", b"\n"),), False),
        "a body": ((whole[:-2] + b"Content-Length: 2\r\n\r\nab",), False),
        "no upgrade": ((head(token, Upgrade="", Connection=""),), False),
    }


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_a_client_s_upgrade_takes_the_front_and_its_connection_works(tmp_path):
    token = await staff_token()
    with gateways(tmp_path) as (front, _):
        async with websockets.connect(ws_url(front, token), compression=None) as ws:
            await receive(ws, "connected")
            await ws.send('{"command": "ping"}')
            assert (await receive(ws, "pong"))["type"] == "pong"
    started = (tmp_path / "front.log").read_text()
    assert daphne_upgrade.MSG_UPGRADE % daphne_upgrade.UPGRADE_FRONT in started
    assert started.count(daphne_upgrades.MSG_FRONT) == 1
    assert daphne_upgrades.MSG_DAPHNE not in started
    assert daphne_upgrade.MSG_UPGRADE % daphne_upgrade.UPGRADE_FRONT not in (tmp_path / "stock.log").read_text()


async def both_answers(log, ports: tuple[int, int], parts: tuple) -> tuple[list[bytes], int]:
    """The same bytes sent to the daphne with the front and to the stock one: both answers, and how
    many connections the front took straight to autobahn meanwhile (its log says each)."""
    said = log.read_text().count(daphne_upgrades.MSG_FRONT)
    answers = [comparable(await exchange(port, *parts)) for port in ports]
    return answers, log.read_text().count(daphne_upgrades.MSG_FRONT) - said


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_every_head_gets_the_answer_stock_daphne_gives_and_takes_the_expected_path(tmp_path):
    token = await staff_token()
    log = tmp_path / "front.log"
    with gateways(tmp_path) as (front, stock):
        for name, (parts, through_front) in cases(token).items():
            answers, taken = await both_answers(log, (front, stock), parts)
            if name in DJANGO_PAGES:  # a page of its own per request (its CSRF token): the status alike
                answers = [answer.split(b"\r\n", 1)[0] for answer in answers]
            assert answers[0] == answers[1], name
            assert answers[0] or name in STILL_READING, name
            assert taken == int(through_front), name


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_proxy_headers_get_the_answer_stock_daphne_gives(tmp_path):
    token = await staff_token()
    log = tmp_path / "front.log"
    forwarded = {
        "a client address": ("X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Port: 4431\r\n", True),
        "an address that is not UTF-8": ("X-Forwarded-For: NOT-UTF-8\r\n", False),  # daphne's 500
        "a port that is no number": ("X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Port: x\r\n", True),
    }
    with gateways(tmp_path, TEST_PROXY_HEADERS="on") as (front, stock):
        for name, (extra, through_front) in forwarded.items():
            data = head(token, extra=extra).replace(b"NOT-UTF-8", b"\xff\xfe")
            answers, taken = await both_answers(log, (front, stock), (data,))
            assert answers[0] == answers[1], name
            assert answers[0], name
            assert taken == int(through_front), name


async def closed_after(port: int) -> float:
    """Seconds from connecting until daphne closes a connection on which the client sends nothing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    connected = time.monotonic()
    try:
        answer = await asyncio.wait_for(reader.read(65536), IDLE_S + daphne_upgrade.FIRST_READ_SWEEP_S + 10)
        assert answer == b""  # closed without a word, as Twisted's HTTP channel does
        return time.monotonic() - connected
    finally:
        writer.close()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_a_connection_that_sends_nothing_is_closed_after_daphne_s_idle_timeout_with_or_without_the_front(
    tmp_path,
):
    log = tmp_path / "front.log"
    with gateways(tmp_path, TEST_HTTP_IDLE_S=str(IDLE_S)) as (front, stock):
        said = log.read_text()
        waited = await asyncio.gather(closed_after(front), closed_after(stock))
        # Not before the timeout (the server's clock starts at its accept, after the client's).
        assert min(waited) >= IDLE_S, waited
        # Nothing was read: neither the front nor daphne's channel was handed a first read.
        assert log.read_text().count(daphne_upgrades.MSG_FRONT) == said.count(daphne_upgrades.MSG_FRONT)
        assert log.read_text().count(daphne_upgrades.MSG_DAPHNE) == said.count(daphne_upgrades.MSG_DAPHNE)
        # ... and a client that upgrades at once is still served through the front.
        token = await staff_token()
        async with websockets.connect(ws_url(front, token), compression=None) as ws:
            await receive(ws, "connected")
        assert log.read_text().count(daphne_upgrades.MSG_FRONT) == said.count(daphne_upgrades.MSG_FRONT) + 1
