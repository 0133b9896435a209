"""The command rate limit: a token bucket (time injected), and the 4029 close it leads to."""

import json

import pytest

from gamification import protocol
from gamification.ratelimit import TokenBucket
from tests.gamification.ws import TIMEOUT, authed


class Clock:
    """Seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_allows_a_burst_then_refuses():
    bucket = TokenBucket(rate=2, burst=3, clock=Clock())
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_tokens_come_back_at_the_rate():
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    while bucket.take():
        pass
    clock.now += 0.25  # half a token
    assert bucket.take() is False
    clock.now += 0.25  # the second half: one whole token
    assert bucket.take() is True
    assert bucket.take() is False


def test_a_long_pause_refills_up_to_the_burst_only():
    clock = Clock()
    bucket = TokenBucket(rate=10, burst=3, clock=clock)
    while bucket.take():
        pass
    clock.now += 3600
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_a_refused_take_costs_nothing():
    clock = Clock()
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    assert bucket.take() is True
    for _ in range(5):
        assert bucket.take() is False  # a client hammering an empty bucket does not dig a deeper hole
    clock.now += 1
    assert bucket.take() is True


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_flooding_commands_closes_with_4029(settings):
    settings.GAMIFICATION_WS_RATE_LIMIT_PER_S = 1
    settings.GAMIFICATION_WS_RATE_LIMIT_BURST = 3
    async with await authed() as ws:
        for _ in range(4):
            await ws.send_json_to({"command": "ping"})
        replies = [await ws.receive_output(timeout=TIMEOUT) for _ in range(4)]
    assert [json.loads(r["text"])["type"] for r in replies[:3]] == ["pong"] * 3
    assert replies[3] == {**replies[3], "type": "websocket.close", "code": protocol.CloseCode.RATE_LIMITED}
