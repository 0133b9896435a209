"""asgiref's `SyncToAsync.thread_sensitive_context` (asgiref is pinned with Django in requirements.txt).

Django's ASGI handler enters a `ThreadSensitiveContext` per request, which keeps a context that is
already set: setting one shared context first makes the requests it covers run their sync steps on
one shared thread (infrastructure/streaming.py). The context variable is not part of asgiref's
documented API; `check()` proves it is there (a ContextVar on SyncToAsync) and logs once which path
is taken. Without it each stream keeps a thread of its own, as stock Django does: correct, costlier.
"""

import logging
from contextvars import ContextVar, Token
from functools import cache
from typing import Any

from asgiref.sync import SyncToAsync, ThreadSensitiveContext

from infrastructure.fastpath.capability import Capability, logged

logger = logging.getLogger(__name__)

MSG_AVAILABLE = "long-lived HTTP responses: one shared sync thread (%s)"
MSG_UNAVAILABLE = "long-lived HTTP responses: a sync thread each, as stock Django (%s)"


def _probe() -> Capability:
    variable = getattr(SyncToAsync, "thread_sensitive_context", None)
    if not isinstance(variable, ContextVar):
        return Capability(False, "asgiref's SyncToAsync has no thread_sensitive_context variable")
    return Capability(True, "asgiref's SyncToAsync.thread_sensitive_context is a ContextVar")


@cache
def check() -> Capability:
    """Whether requests can share one thread-sensitive context in this process; logged once."""
    return logged(_probe(), logger, available=MSG_AVAILABLE, unavailable=MSG_UNAVAILABLE)


def new_shared_context() -> ThreadSensitiveContext:
    return ThreadSensitiveContext()


def enter(context: ThreadSensitiveContext) -> "Token[Any] | None":
    """Make `context` the current thread-sensitive context; None (nothing done) without the capability."""
    if not check().available:
        return None
    variable: ContextVar[Any] = SyncToAsync.thread_sensitive_context
    return variable.set(context)


def leave(token: "Token[Any] | None") -> None:
    if token is not None:
        SyncToAsync.thread_sensitive_context.reset(token)
