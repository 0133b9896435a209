"""Long-lived HTTP responses (SSE) without an idle thread each.

Django's ASGI handler gives every request a ThreadSensitiveContext: the first sync call in the
request (its sync middleware does one) starts a one-thread executor that lives until the response
ends. For a stream open for minutes that is an idle thread per client. Requests to the paths given
share one such context instead, so their short sync steps (middleware, authentication) take turns
on one thread, and the streams themselves wait in the event loop. What that takes of asgiref's
internals is in infrastructure/fastpath/asgiref.py.
"""

from collections.abc import Iterable
from typing import Any

from infrastructure.fastpath import asgiref


class SharedSyncThread:
    """ASGI wrapper: HTTP requests to `paths` (the streams' URLs) run their sync code on one shared thread."""

    def __init__(self, app: Any, *, paths: Iterable[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.context = asgiref.new_shared_context()
        asgiref.check()  # logged at start-up, not at the first stream

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            return await self.app(scope, receive, send)
        # Django's own `async with ThreadSensitiveContext()` keeps a context that is already set.
        token = asgiref.enter(self.context)
        try:
            return await self.app(scope, receive, send)
        finally:
            asgiref.leave(token)
