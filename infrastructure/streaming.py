"""Long-lived HTTP responses (SSE) without an idle thread each.

Django's ASGI handler gives every request a ThreadSensitiveContext: the first sync call in the
request (its sync middleware does one) starts a one-thread executor that lives until the response
ends. For a stream open for minutes that is an idle thread per client. Requests to the paths given
share one such context instead, so their short sync steps (middleware, authentication) take turns
on one thread, and the streams themselves wait in the event loop.
"""

from collections.abc import Iterable

from asgiref.sync import SyncToAsync, ThreadSensitiveContext
from asgiref.typing import ASGIApplication


class SharedSyncThread:
    """ASGI wrapper: HTTP requests to `paths` (the streams' URLs) run their sync code on one shared thread."""

    def __init__(self, app: ASGIApplication, *, paths: Iterable[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.context = ThreadSensitiveContext()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            return await self.app(scope, receive, send)
        # Django's own `async with ThreadSensitiveContext()` keeps a context that is already set.
        token = SyncToAsync.thread_sensitive_context.set(self.context)
        try:
            return await self.app(scope, receive, send)
        finally:
            SyncToAsync.thread_sensitive_context.reset(token)
