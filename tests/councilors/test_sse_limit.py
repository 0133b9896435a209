"""SSE streams per user are capped over the deployment (councilors/sse_limit.py), and all of a
process's streams wait for output on one Redis connection (councilors/output_watch.py)."""

import asyncio
import contextlib
import gc
import time
from functools import partial

import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings

from conductor.api import CODES
from councilors.api import TOO_MANY_STREAMS
from councilors.output_stream import OutputPublisher, stream_key
from councilors.output_watch import WATCH_CLIENT_NAME, output_watch
from councilors.selectors import VIEW_EXECUTION_PERMISSION
from councilors.services import execution_start
from councilors.sse import execution_output_events
from councilors.sse_limit import LeasedStream, UserStreams
from infrastructure.redis_access import key
from infrastructure.tokens import token_mint
from tests.factories import make_agent, make_user
from tests.sse import SSEParser

pytestmark = pytest.mark.django_db(transaction=True)

WAIT_S = 10.0


@sync_to_async
def reader_and_run():
    """A user who may read every run, their bearer header, and a run that is still going."""
    user = make_user(permissions=(VIEW_EXECUTION_PERMISSION,))
    execution = execution_start(agent=make_agent(), prompt="x")
    return user, {"Authorization": f"Bearer {token_mint(user=user)}"}, execution.execution_id


async def until(condition) -> None:
    """Until `condition()` holds: a state of this process that no event announces."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def lease_count_becomes(count: int, user_id: int) -> None:
    """The user's stream leases in Redis reach `count` (a release is a task of its own: nothing to await)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        deadline = time.monotonic() + WAIT_S
        while client.zcard(key(UserStreams.KEY, user_id)) != count:
            assert time.monotonic() < deadline, "the stream's lease was never given back"
            await asyncio.sleep(0.01)
    finally:
        client.close()


class Stream:
    """One open SSE stream of the in-process application, read chunk by chunk."""

    def __init__(self, response, execution_id: str) -> None:
        self.response = response
        self.execution_id = execution_id
        self.chunks = aiter(response.streaming_content)
        self.parser = SSEParser()

    @classmethod
    async def open(cls, async_client, execution_id: str, headers: dict) -> "Stream":
        response = await async_client.get("/api/v1/stream", {"execution_id": execution_id}, headers=headers)
        stream = cls(response, execution_id)
        if response.status_code == 200:  # as a client does, receive the first bytes (`retry:`)
            assert stream.parser.feed(await asyncio.wait_for(anext(stream.chunks), WAIT_S)) == []
        return stream

    async def next_output(self) -> str:
        while True:
            events = self.parser.feed(await asyncio.wait_for(anext(self.chunks), WAIT_S))
            outputs = [event.data for event in events if event.event == "output"]
            if outputs:
                return outputs[0]

    async def close(self) -> None:
        """What daphne does when the client goes away: cancel the task reading the stream, while it waits."""
        key = stream_key(self.execution_id)
        before = output_watch().waiting(key)
        reading = asyncio.ensure_future(anext(self.chunks))
        await until(lambda: output_watch().waiting(key) > before)
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
            await reading


async def test_a_user_over_the_stream_limit_gets_429_until_one_of_theirs_closes(async_client, settings):
    settings.API_STREAM_MAX_PER_USER = 2
    user, headers, execution_id = await reader_and_run()
    first, second = [await Stream.open(async_client, execution_id, headers) for _ in range(2)]
    assert (first.response.status_code, second.response.status_code) == (200, 200)

    refused = await async_client.get("/api/v1/stream", {"execution_id": execution_id}, headers=headers)
    assert refused.status_code == 429
    assert refused.json() == {"detail": TOO_MANY_STREAMS % {"limit": 2}, "code": CODES[429]}

    # Another user is not affected.
    _, other_headers, _ = await reader_and_run()
    other = await Stream.open(async_client, execution_id, other_headers)
    assert other.response.status_code == 200

    await first.close()  # its slot is given back
    await lease_count_becomes(1, user.pk)  # second's remains
    third = await Stream.open(async_client, execution_id, headers)
    assert third.response.status_code == 200
    for stream in (second, other, third):
        await stream.close()


async def test_streams_held_on_other_gateways_count_and_expired_ones_do_not(async_client, settings, redis_client):
    settings.API_STREAM_MAX_PER_USER = 2
    user, headers, execution_id = await reader_and_run()
    leases = key(UserStreams.KEY, user.pk)
    far_future_ms = (time.time() + 3600) * 1000
    redis_client.zadd(leases, {"gateway-b/s1": far_future_ms, "gateway-c/s2": far_future_ms})
    refused = await async_client.get("/api/v1/stream", {"execution_id": execution_id}, headers=headers)
    assert refused.status_code == 429

    redis_client.zadd(leases, {"gateway-b/s1": 1, "gateway-c/s2": 2})  # those gateways died long ago
    stream = await Stream.open(async_client, execution_id, headers)
    assert stream.response.status_code == 200
    assert redis_client.zcard(leases) == 1
    await stream.close()
    await lease_count_becomes(0, user.pk)


async def test_many_streams_wait_on_one_redis_connection_and_each_gets_its_lines(async_client, settings, redis_client):
    settings.API_STREAM_MAX_PER_USER = 0  # no limit
    settings.API_STREAM_POLL_S = 30  # no database polls in between: each line must come through the watch
    _, headers, first_run = await reader_and_run()
    _, _, second_run = await reader_and_run()
    runs = [first_run, second_run]
    streams = [await Stream.open(async_client, runs[n % 2], headers) for n in range(6)]
    reads = [asyncio.ensure_future(stream.next_output()) for stream in streams]
    await until(lambda: [output_watch().waiting(stream_key(run)) for run in runs] == [3, 3])

    def watch_connections() -> int:
        return sum(client.get("name") == WATCH_CLIENT_NAME for client in redis_client.client_list())

    publishers = {execution_id: OutputPublisher(execution_id=execution_id) for execution_id in runs}
    for execution_id in runs:
        await sync_to_async(publishers[execution_id])(f"first line of {execution_id}\n")
    lines = await asyncio.wait_for(asyncio.gather(*reads), WAIT_S)
    assert lines == [f"first line of {runs[n % 2]}" for n in range(6)]

    # A second line reaches every stream too, through the same single connection.
    reads = [asyncio.ensure_future(stream.next_output()) for stream in streams]
    await until(lambda: [output_watch().waiting(stream_key(run)) for run in runs] == [3, 3])
    assert output_watch().connected and watch_connections() == 1
    for execution_id in runs:
        await sync_to_async(publishers[execution_id])(f"line 2 of {execution_id}\n")
    assert await asyncio.wait_for(asyncio.gather(*reads), WAIT_S) == [f"line 2 of {runs[n % 2]}" for n in range(6)]
    for stream in streams:
        await stream.close()


async def test_a_stream_dropped_before_its_first_byte_gives_its_slot_back(settings):
    # What daphne drops when a client goes away before the view's response is sent: the stream
    # object, its events never started (no `finally` of theirs to run, no response to close).
    settings.API_STREAM_MAX_PER_USER = 1
    user, _, execution_id = await reader_and_run()
    events = partial(execution_output_events, execution_id=execution_id)
    stream = LeasedStream(events, user_id=user.pk, stream_id="s1")
    assert await stream.acquire()
    assert not await LeasedStream(events, user_id=user.pk, stream_id="s2").acquire()  # at the limit
    del stream
    gc.collect()
    await lease_count_becomes(0, user.pk)
    assert await LeasedStream(events, user_id=user.pk, stream_id="s3").acquire()
