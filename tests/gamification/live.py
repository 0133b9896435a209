"""Clients of real gateway processes (tests.processes starts them): tokens, URLs, reading replies."""

import asyncio
import json
import uuid

from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from infrastructure.tokens import token_mint

TIMEOUT = 30


def ws_url(port: int, token: str) -> str:
    return f"ws://127.0.0.1:{port}/ws/gamification?token={token}"


async def staff_token() -> str:
    """A token of a new staff user (staff see per-client lists in `get_stats`)."""
    user = await sync_to_async(User.objects.create_user)(f"watcher-{uuid.uuid4().hex[:6]}", is_staff=True)
    return token_mint(user=user)


async def receive(ws, event_type: str) -> dict:
    """The next message of `event_type`, skipping others."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=TIMEOUT))
        if message["type"] == event_type:
            return message


async def request(ws, command: dict) -> dict:
    await ws.send(json.dumps(command))
    reply_type = {"get_stats": "stats", "ping": "pong"}[command["command"]]
    return await receive(ws, reply_type)
