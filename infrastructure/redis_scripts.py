"""A Lua script sent to Redis by its hash.

`EVAL` sends the script's whole text with every call, for Redis to hash it again; `EVALSHA` sends
the hash. A server that has not seen the script (a new one, one restarted or failed over) answers
NOSCRIPT without running anything, and the call is made once more with `EVAL`, which also makes the
server keep the script for the next call.

redis-py's own `register_script` does the same, but ties each script to one client at creation
(this project has one asynchronous client per event loop) and, in a pipeline, asks the server
whether it has the script before every execution.
"""

import hashlib
from typing import Any

import redis
import redis.asyncio
from redis.exceptions import NoScriptError


class LuaScript:
    """One script: `run` on an asynchronous client, `run_blocking` on a blocking one.

    Arguments are EVAL's after the script: the number of keys, the keys, then the arguments.
    """

    __slots__ = ("text", "sha")

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()

    async def run(self, client: redis.asyncio.Redis, *args: Any) -> Any:
        try:
            return await client.evalsha(self.sha, *args)
        except NoScriptError:  # the server does not have it: nothing ran
            return await client.eval(self.text, *args)

    def run_blocking(self, client: redis.Redis, *args: Any) -> Any:
        try:
            return client.evalsha(self.sha, *args)
        except NoScriptError:
            return client.eval(self.text, *args)
