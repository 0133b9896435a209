"""Ids and `resume` as deployed: real daphne processes, a separate emitting process, one real Redis."""

import asyncio
import json
import uuid
from dataclasses import dataclass, field

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission, User

from councilors.services import councilor_enqueue
from infrastructure.tokens import token_mint
from tests.emitter import emitted_events
from tests.factories import make_actor
from tests.processes import daphne, manage, python_module

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TIMEOUT = 30
ITERATIONS = 30
TOPIC = "system_alert"  # the resuming client's topic; the emitter interleaves another type


def _url(port: int, token: str) -> str:
    return f"ws://127.0.0.1:{port}/ws/gamification?token={token}"


async def _token(*, can_change: bool = False) -> tuple[str, str]:
    @sync_to_async
    def make() -> User:
        user = User.objects.create_user(f"user-{uuid.uuid4().hex[:8]}")
        if can_change:
            user.user_permissions.add(Permission.objects.get(codename="change_councilor"))
        return user

    user = await make()
    return token_mint(user=user), user.username


async def _next(ws) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout=TIMEOUT))


async def _until(ws, predicate) -> list[dict]:
    """Every frame up to and including the first that satisfies `predicate`."""
    frames = []
    while not frames or not predicate(frames[-1]):
        frames.append(await _next(ws))
    return frames


@dataclass
class Witness:
    """A client subscribed to everything for the whole test: it says when events have been missed."""

    ws: object
    ids: list[int] = field(default_factory=list)
    seen: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def run(self) -> None:
        while True:
            frame = await _next(self.ws)
            if frame["id"] is not None:
                async with self.seen:
                    self.ids.append(frame["id"])
                    self.seen.notify_all()

    async def wait_for(self, event_id: int) -> None:
        async with self.seen:
            await asyncio.wait_for(self.seen.wait_for(lambda: self.ids and self.ids[-1] >= event_id), TIMEOUT)


@dataclass
class Resumed:
    since: int
    frames: list[dict]  # every event frame of the second connection, in arrival order
    replayed: int
    before_resumed: int  # how many of `frames` arrived before `resumed`


async def _disconnect_miss_and_resume(port: int, token: str, witness: Witness) -> Resumed:
    async with websockets.connect(_url(port, token), compression=None) as ws:
        await _until(ws, lambda f: f["type"] == "connected")
        await ws.send(json.dumps({"command": "subscribe", "topics": [TOPIC]}))
        await _until(ws, lambda f: f["type"] == "subscribed")
        since = (await _until(ws, lambda f: f["type"] == TOPIC))[-1]["id"]
    await witness.wait_for(since + 6)  # the emitter went on: at least three events of TOPIC were missed
    async with websockets.connect(_url(port, token), compression=None) as ws:
        await _until(ws, lambda f: f["type"] == "connected")
        await ws.send(json.dumps({"command": "subscribe", "topics": [TOPIC]}))
        await ws.send(json.dumps({"command": "resume", "since": since}))
        frames = await _until(ws, lambda f: f["type"] == "resumed")
        resumed = frames.pop()
        assert resumed["data"]["since"] == since and resumed["data"]["complete"] is True
        events = [f for f in frames if f["id"] is not None]
        # Then live events, well past what was newest when the replay ran.
        target = witness.ids[-1] + 6
        events += [f for f in await _until(ws, lambda f: f["type"] == TOPIC and f["id"] >= target) if f["id"]]
    return Resumed(since, events, resumed["data"]["replayed"], len([f for f in frames if f["id"] is not None]))


def _check(run: Resumed, emitted: list[tuple[int, str]]) -> None:
    ids = [frame["id"] for frame in run.frames if frame["type"] == TOPIC]
    assert len(ids) == len(set(ids)), f"duplicates after resuming from {run.since}: {ids}"
    expected = [event_id for event_id, event_type in emitted if event_type == TOPIC and run.since < event_id <= ids[-1]]
    assert sorted(ids) == expected, f"gap or stray event after resuming from {run.since}"
    replay = ids[run.before_resumed - run.replayed : run.before_resumed]
    after = ids[run.before_resumed :]
    assert replay == sorted(replay) and after == sorted(after)
    assert not after or not replay or after[0] > replay[-1]


async def test_a_client_that_resumes_gets_exactly_what_it_missed_then_live_while_a_worker_emits(tmp_path):
    token, _ = await _token()
    emitted_log = tmp_path / "emitted.log"
    with (
        daphne() as (_, port),
        python_module(
            "tests.emitter", "--types", f"{TOPIC},agent_metrics_updated", "--interval", "0.003", log_path=emitted_log
        ),
    ):
        async with websockets.connect(_url(port, token), compression=None) as witness_ws:
            await _until(witness_ws, lambda f: f["type"] == "connected")
            witness = Witness(witness_ws)
            watching = asyncio.create_task(witness.run())
            try:
                runs = [await _disconnect_miss_and_resume(port, token, witness) for _ in range(ITERATIONS)]
            finally:
                watching.cancel()
    emitted = emitted_events(emitted_log)
    for run in runs:
        _check(run, emitted)
    assert sum(run.replayed for run in runs) >= 3 * ITERATIONS
    # The witness, never disconnected, got every event once and in id order.
    first, last = witness.ids[0], witness.ids[-1]
    assert witness.ids == [event_id for event_id, _ in emitted if first <= event_id <= last]


async def test_two_gateways_assign_no_duplicate_ids_and_a_restarted_gateway_goes_on_from_there(councilor):
    tokens = [await _token(can_change=True) for _ in range(2)]
    commands = 12

    async def control(port: int, token: str) -> None:
        async with websockets.connect(_url(port, token), compression=None) as ws:
            await _until(ws, lambda f: f["type"] == "connected")
            for n in range(commands):
                name = "pause_councilor" if n % 2 == 0 else "resume_councilor"
                await ws.send(json.dumps({"command": name, "councilor_id": councilor.councilor_id}))

    with daphne() as (_, port_a), daphne() as (process_b, port_b):
        async with (
            websockets.connect(_url(port_a, tokens[0][0]), compression=None) as watch_a,
            websockets.connect(_url(port_b, tokens[0][0]), compression=None) as watch_b,
        ):
            for ws in (watch_a, watch_b):
                await _until(ws, lambda f: f["type"] == "connected")
            # Both gateways emit at once: each control command's broadcast gets its id in that gateway.
            await asyncio.gather(control(port_a, tokens[0][0]), control(port_b, tokens[1][0]))
            seen = []
            for ws in (watch_a, watch_b):
                frames = []
                while len(frames) < 2 * commands:
                    frame = await _next(ws)
                    if frame["type"] in ("councilor_paused", "councilor_resumed"):
                        frames.append(frame)
                seen.append(frames)
        ids = [frame["id"] for frame in seen[0]]
        assert len(set(ids)) == 2 * commands and ids == sorted(ids)
        assert [frame["id"] for frame in seen[1]] == ids
        assert {frame["data"]["by"] for frame in seen[0]} == {tokens[0][1], tokens[1][1]}

    # Every gateway stopped; a new one starts: `last_id` and new ids continue from the old ones.
    with daphne() as (_, port_c):
        async with websockets.connect(_url(port_c, tokens[0][0]), compression=None) as ws:
            hello = (await _until(ws, lambda f: f["type"] == "connected"))[-1]
            assert hello["data"]["last_id"] >= ids[-1]
            await ws.send(json.dumps({"command": "pause_councilor", "councilor_id": councilor.councilor_id}))
            broadcast = (await _until(ws, lambda f: f["type"] == "councilor_paused" and f["id"] is not None))[-1]
        assert broadcast["id"] > hello["data"]["last_id"] >= ids[-1]


async def test_events_a_worker_emitted_while_the_client_was_away_are_replayed_then_live_ones_follow(councilor):
    token, _ = await _token()
    topics = ["councilor_started", "councilor_completed"]
    with daphne() as (_, port), manage("run_cluster"):
        async with websockets.connect(_url(port, token), compression=None) as witness:
            await _until(witness, lambda f: f["type"] == "connected")
            async with websockets.connect(_url(port, token), compression=None) as ws:
                since = (await _until(ws, lambda f: f["type"] == "connected"))[-1]["data"]["last_id"]
            # Away: a real worker cluster runs the councilor.
            missed_run = await sync_to_async(councilor_enqueue)(councilor=councilor, actor=make_actor())
            await _until(witness, lambda f: f["type"] == "councilor_completed")
            async with websockets.connect(_url(port, token), compression=None) as ws:
                await _until(ws, lambda f: f["type"] == "connected")
                await ws.send(json.dumps({"command": "subscribe", "topics": topics}))
                await ws.send(json.dumps({"command": "resume", "since": since}))
                frames = await _until(ws, lambda f: f["type"] == "resumed")
                live_run = await sync_to_async(councilor_enqueue)(councilor=councilor, actor=make_actor())
                live = await _until(ws, lambda f: f["type"] == "councilor_completed")
    replayed = [f for f in frames[:-1] if f["type"] in topics]
    assert [(f["type"], f["data"]["execution_id"]) for f in replayed] == [
        ("councilor_started", missed_run),
        ("councilor_completed", missed_run),
    ]
    assert replayed[0]["id"] < replayed[1]["id"]
    assert frames[-1]["data"] == {"since": since, "replayed": 2, "complete": True}
    assert [(f["type"], f["data"]["execution_id"]) for f in live] == [
        ("councilor_started", live_run),
        ("councilor_completed", live_run),
    ]
    assert live[0]["id"] > replayed[1]["id"]
