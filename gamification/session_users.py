"""Which user a browser's session cookie names, without a database round trip per socket.

Channels' `AuthMiddlewareStack` loads the session and then the user through a thread, on a new
database connection, for every socket: most of what a connection storm of browsers costs. This
process keeps, per session key, the user id the session named and that user's session auth hash,
for GAMIFICATION_ACCESS_TTL_S; the user itself comes from the access cache (access.py), which has
the same lifetime and the same sweep. So a logout, a deactivation or a password change (which
changes the auth hash) takes effect for new sockets within one TTL. Open sockets follow the same
rule: the access sweep looks their sessions up again (`refresh`) and closes those whose session no
longer `names` their user, and a control command looks its socket's session up at once (`fresh`)
(docs/protocol.md, "A socket's rights follow its user").
"""

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from gamification.access import Access, access_cache, user_id_of
from gamification.app_settings import app_settings
from gamification.lookups import read_in_lookup_thread
from gamification.loop_local import loop_local

# Entries kept per process: a flood of made-up session keys costs one lookup each, not memory without end.
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class SessionEntry:
    """What one session key named when it was looked up (user_id None: nobody logged in)."""

    user_id: int | None
    auth_hash: str
    loaded_at: float  # time.monotonic()


# Sessions read per query by the sweep (well under SQLite's limit of variables per statement).
SESSIONS_PER_QUERY = 500
DATABASE_SESSIONS = "django.contrib.sessions.backends.db"


def _look_up_many(session_keys: list[str]) -> list[SessionEntry]:
    """The sweep's lookups: with database sessions one query per SESSIONS_PER_QUERY keys, not two per key.

    The stored auth hash is kept as it is; `SessionUsers.names` compares it with the user's current
    one, as `auth.get_user` does (a session hashed under a SECRET_KEY_FALLBACKS key then ends, and the
    browser's next page load rehashes it). Other session engines: Django's own rule, key by key.
    """
    if settings.SESSION_ENGINE != DATABASE_SESSIONS:
        return [_look_up(session_key) for session_key in session_keys]
    from django.contrib.sessions.models import Session

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    stored: dict[str, str] = {}
    for start in range(0, len(session_keys), SESSIONS_PER_QUERY):
        chunk = session_keys[start : start + SESSIONS_PER_QUERY]
        live = Session.objects.filter(session_key__in=chunk, expire_date__gt=timezone.now())
        stored.update(live.values_list("session_key", "session_data"))
    now = time.monotonic()
    return [_entry(store.decode(stored[key]) if key in stored else {}, now) for key in session_keys]


def _entry(data: dict[str, Any], loaded_at: float) -> SessionEntry:
    """Who a session's data says is logged in (no one: not logged in, or through a backend no longer configured)."""
    user_id, backend = data.get(auth.SESSION_KEY), data.get(auth.BACKEND_SESSION_KEY)
    if user_id is None or backend not in settings.AUTHENTICATION_BACKENDS:
        return SessionEntry(user_id=None, auth_hash="", loaded_at=loaded_at)
    return SessionEntry(
        user_id=user_id_of(user_id), auth_hash=data.get(auth.HASH_SESSION_KEY) or "", loaded_at=loaded_at
    )


def _look_up(session_key: str) -> SessionEntry:
    """Django's own rule (`auth.get_user`: backend, auth hash, fallback keys), in a worker thread."""
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = auth.get_user(request)
    if not user.is_authenticated:
        return SessionEntry(user_id=None, auth_hash="", loaded_at=time.monotonic())
    return SessionEntry(user_id=user.pk, auth_hash=user.get_session_auth_hash(), loaded_at=time.monotonic())


class SessionUsers:
    """This event loop's session keys and the users they name, each at most one TTL old."""

    def __init__(self) -> None:
        self._entries: dict[str, SessionEntry] = {}
        self._loading: dict[str, asyncio.Future[SessionEntry]] = {}

    async def access(self, session_key: str, *, fresh: bool = False) -> Access | None:
        """The active user this session is logged in as, now; None for no one (or someone gone).

        `fresh`: look the session up even if a recent lookup is kept (a control command must not
        ride on a session that ended since).
        """
        entry = self._entries.get(session_key)
        if fresh:  # not a load already on its way: it may have started before a logout
            entry = await self._load(session_key)
        elif entry is None or time.monotonic() - entry.loaded_at >= app_settings.ACCESS_TTL_S:
            entry = await self._load_shared(session_key)
        if entry.user_id is None:
            return None
        access = await access_cache().get(entry.user_id)
        if access is None or not access.active or not self.names(session_key, access):
            return None
        return access

    def names(self, session_key: str, access: Access) -> bool:
        """Whether the session, as last looked up, is logged in as this user with their current auth hash.

        A password change since the session was looked up ends it, as Django's own check does
        (the session that made the change carries the new hash, `update_session_auth_hash`).
        """
        entry = self._entries.get(session_key)
        if entry is None or entry.user_id != access.user.pk:
            return False
        return constant_time_compare(access.user.get_session_auth_hash(), entry.auth_hash)

    async def refresh(self, session_keys: Iterable[str]) -> None:
        """Look these sessions up again, in one hop to the lookup thread (the access sweep's)."""
        keys = sorted(set(session_keys))
        for session_key, entry in zip(keys, await read_in_lookup_thread(_look_up_many, keys), strict=True):
            self._keep(session_key, entry)

    async def _load_shared(self, session_key: str) -> SessionEntry:
        pending = self._loading.get(session_key)
        if pending is None:
            pending = self._loading[session_key] = asyncio.ensure_future(self._load(session_key))
            pending.add_done_callback(lambda _: self._loading.pop(session_key, None))
        return await asyncio.shield(pending)

    async def _load(self, session_key: str) -> SessionEntry:
        entry = await read_in_lookup_thread(_look_up, session_key)
        self._keep(session_key, entry)
        return entry

    def _keep(self, session_key: str, entry: SessionEntry) -> None:
        self._entries.pop(session_key, None)
        while len(self._entries) >= MAX_ENTRIES:  # the oldest first (dicts keep insertion order)
            del self._entries[next(iter(self._entries))]
        self._entries[session_key] = entry


# The running event loop's session cache (one per gateway process).
session_users: Callable[[], SessionUsers] = loop_local(SessionUsers)
