"""The floor for the gateway's figures: a bare `websockets` server that does nothing but broadcast the same frames.

    .venv/bin/python bench/bare_peer.py --port PORT --redis-url URL --channel CHANNEL
    .venv/bin/python bench/bare_peer.py --print-channel      # the Redis channel our gateways listen on

It listens on the pub/sub channel the gateways' channel layer uses for the events group, takes each
event's envelope out of the layer's message and sends it, as JSON text, to every open WebSocket
with `websockets.broadcast` (one write per socket, no per-client task, no queue). A client gets a
`connected` message first, as from the gateway, and is never authenticated: no token check, no
session, no per-user limit, no shapes, no history, no replay. bench/compare.py and bench/storm.py
start it beside the gateway and the FastAPI baseline, so its CPU per frame and per connection and
its memory per idle connection are the floor the gateway is measured against.

Without Django: `--channel` comes from `--print-channel`, run once by the benchmark, so this
process's memory is the websockets server's and the Redis client's alone.
"""

import argparse
import asyncio
import json
import time
import uuid

import msgpack
import redis.asyncio as redis
from websockets.asyncio.server import ServerConnection, broadcast, serve

MAX_MESSAGE_BYTES = 2**16


async def serve_forever(*, port: int, redis_url: str, channel: str) -> None:
    clients: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        hello = {"type": "connected", "data": {"client_id": uuid.uuid4().hex}, "timestamp": time.time()}
        await ws.send(json.dumps(hello))
        clients.add(ws)
        try:
            async for _ in ws:  # commands are read and dropped
                pass
        finally:
            clients.discard(ws)

    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.subscribe(channel)
    async with serve(
        handler, "127.0.0.1", port, compression=None, ping_interval=None, max_size=MAX_MESSAGE_BYTES, backlog=4096
    ):
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            envelope = msgpack.unpackb(message["data"]).get("envelope")
            if envelope is not None:
                broadcast(clients, json.dumps(envelope, separators=(",", ":")))


def print_channel() -> None:
    """The Redis channel of the events group, as the project's settings (environment) name it."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from channels.layers import get_channel_layer

    from gamification.app_settings import app_settings
    from gamification.fastpath.channels_redis import group_channel

    async def name() -> str:
        return group_channel(get_channel_layer(), app_settings.GROUP)

    print(asyncio.run(name()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int)
    parser.add_argument("--redis-url")
    parser.add_argument("--channel")
    parser.add_argument("--print-channel", action="store_true")
    args = parser.parse_args()
    if args.print_channel:
        print_channel()
        return
    asyncio.run(serve_forever(port=args.port, redis_url=args.redis_url, channel=args.channel))


if __name__ == "__main__":
    main()
