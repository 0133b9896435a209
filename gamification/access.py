"""What a connection's user may do now — active, staff, may control councilors, may read every run's
details — from a per-process cache.

docs/protocol.md, "A socket's rights follow its user". Each gateway process (each event loop) keeps
one `Access` per user for GAMIFICATION_ACCESS_TTL_S; an older or missing entry is loaded from the
database on demand (concurrent misses for one user share one load). Twice per TTL the sweep
reloads, in one query, the users with open sockets on this process (and the sessions those
sockets were opened with) and hands each connection its fresh entry: a connection whose user is
gone or inactive, whose session ended, or whose token went stale closes (4401). So a deactivation,
a logout, a password change or a revoked permission takes effect within about one TTL, and
commands and new sockets of those users in between find a fresh entry without a database round trip.
"""

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from functools import cache, partial
from typing import Any, Protocol

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Exists, OuterRef, Q

from gamification.app_settings import app_settings
from gamification.lookups import read_in_lookup_thread
from gamification.loop_local import loop_local
from gamification.protocol import CONTROL_PERMISSION, DETAILS_PERMISSION
from infrastructure.tokens import token_generation

logger = logging.getLogger(__name__)

# How many TTLs old an entry may be and still be handed out while its reload runs (AccessCache).
STALE_TTLS = 2


def user_id_of(raw: Any) -> Any:
    """`raw` as the user model's own key ("5" and 5 name one user): how a token or a session names its user.

    ValueError, TypeError or ValidationError for a value of another type (a uid that names no user).
    """
    return _user_key_type()(raw)


@cache
def _user_key_type() -> Callable[[Any], Any]:
    # Found once: the user model is fixed once the apps are loaded, and finding it again (settings,
    # the app registry) was a fiftieth of a connection's CPU in a connect storm.
    pk = get_user_model()._meta.pk
    assert pk is not None
    return pk.to_python


@dataclass(frozen=True)
class Access:
    """One user as the database had them at `loaded_at`."""

    user: Any  # the user row (a fresh object per load: nothing cached on it outlives the entry)
    may_control: bool  # active, and a superuser or granted CONTROL_PERMISSION directly or through a group
    loaded_at: float  # time.monotonic()
    may_view_runs: bool = False  # likewise for DETAILS_PERMISSION: every run's private details
    token_generation: str = ""  # infrastructure.tokens.token_generation: a token socket opened under another closes

    @property
    def active(self) -> bool:
        return bool(self.user.is_active)

    @property
    def is_staff(self) -> bool:
        return bool(self.user.is_active and self.user.is_staff)


def _permission(name: str) -> Any:
    app_label, codename = name.split(".")
    return Permission.objects.filter(content_type__app_label=app_label, codename=codename)


def _load(users: Q) -> dict[int, Access]:
    """The users matching `users` that still exist, with their two permissions: one query."""
    control, details = _permission(CONTROL_PERMISSION), _permission(DETAILS_PERMISSION)
    # The rule of Django's ModelBackend.has_perm, as one query for many users.
    rows = (
        get_user_model()
        .objects.filter(users)
        .annotate(
            _control=Exists(control.filter(user=OuterRef("pk"))) | Exists(control.filter(group__user=OuterRef("pk"))),
            _details=Exists(details.filter(user=OuterRef("pk"))) | Exists(details.filter(group__user=OuterRef("pk"))),
        )
    )
    now = time.monotonic()
    return {
        user.pk: Access(
            user=user,
            may_control=bool(user.is_active and (user.is_superuser or user._control)),
            loaded_at=now,
            may_view_runs=bool(user.is_active and (user.is_superuser or user._details)),
            token_generation=token_generation(user),
        )
        for user in rows
    }


def _load_ids(user_ids: Collection[int]) -> dict[int, Access]:
    return _load(Q(pk__in=list(user_ids)))


def _load_ids_one(user_id: int) -> Access | None:
    return _load_ids([user_id]).get(user_id)


def _load_username(username: str) -> Access | None:
    loaded = _load(Q(**{get_user_model().USERNAME_FIELD: username}))
    return next(iter(loaded.values()), None)


class AccessCache:
    """This event loop's users, each entry at most GAMIFICATION_ACCESS_TTL_S old when handed out.

    Found by id (a connection's commands, the sweep) or by username (a token names its user by
    username): a connection storm of one user's clients costs one query, not one per socket.
    An entry past the TTL but within STALE_TTLS of them is still handed out while its reload runs
    in the background: on an event loop that a storm keeps busy, a reload can take longer than a
    client's handshake may, and sockets that waited for it were dropped and came back, again and
    again. Past that, a lookup waits for the reload.
    """

    def __init__(self) -> None:
        self._entries: dict[int, Access] = {}
        self._ids_by_name: dict[str, int] = {}
        # Concurrent misses for one user share one load: keys are ("id", pk) or ("name", username).
        self._loading: dict[tuple[str, Any], asyncio.Future[Access | None]] = {}

    async def get(self, user_id: int) -> Access | None:
        """The user's access now (None: no such user any more)."""
        key, load = ("id", user_id), partial(_load_ids_one, user_id)
        entry = self._entries.get(user_id)
        if entry is not None and self._usable(entry, key, load):
            return entry
        return await asyncio.shield(self._start_load(key, load))

    async def by_username(self, username: str) -> Access | None:
        """The access of the user with this username now (None: no such user)."""
        key, load = ("name", username), partial(_load_username, username)
        entry = self._entries.get(self._ids_by_name.get(username, -1))
        if entry is not None and entry.user.get_username() == username and self._usable(entry, key, load):
            return entry
        return await asyncio.shield(self._start_load(key, load))

    async def refresh(self, user_ids: Iterable[int]) -> dict[int, Access]:
        """Reload these users (one query); the others' entries are dropped, so memory follows the sockets."""
        wanted = frozenset(user_ids)
        loaded = await read_in_lookup_thread(_load_ids, wanted) if wanted else {}
        self._entries = dict(loaded)
        self._ids_by_name = {entry.user.get_username(): user_id for user_id, entry in loaded.items()}
        return loaded

    def _usable(self, entry: Access, key: tuple[str, Any], load: Callable[[], Access | None]) -> bool:
        """Fresh, or stale within STALE_TTLS periods (then its reload is started); False: wait for one."""
        age, ttl = time.monotonic() - entry.loaded_at, app_settings.ACCESS_TTL_S
        if age < ttl:
            return True
        if age < STALE_TTLS * ttl:
            self._start_load(key, load)
            return True
        return False

    def _start_load(self, key: tuple[str, Any], load: Callable[[], Access | None]) -> asyncio.Future[Access | None]:
        """The load of `key` on its way, started now if none is."""
        pending = self._loading.get(key)
        if pending is None:
            pending = self._loading[key] = asyncio.ensure_future(self._load_into_cache(key, load))
            pending.add_done_callback(lambda _: self._loading.pop(key, None))
        return pending

    async def _load_into_cache(self, key: tuple[str, Any], load: Callable[[], Access | None]) -> Access | None:
        entry = await read_in_lookup_thread(load)
        if entry is None:
            if key[0] == "id":
                self._entries.pop(key[1], None)
            return None
        self._entries[entry.user.pk] = entry
        self._ids_by_name[entry.user.get_username()] = entry.user.pk
        return entry


# The running event loop's cache (one per gateway process).
access_cache: Callable[[], AccessCache] = loop_local(AccessCache)


class Guarded(Protocol):
    user_id: int | None  # None: an anonymous connection (nothing to revoke)
    session_key: str | None  # the session it was opened with; None: a token or anonymous connection

    def follow(self, access: Access | None) -> None:
        """The user as the database has them now (None: gone, or the session ended): keep up, or close 4401."""


class LocalConnections(Protocol):
    @property
    def connections(self) -> Collection[Guarded]:
        """The process's open connections."""


class Sessions(Protocol):
    """What the sweep needs of the session cache (gamification/session_users.py)."""

    async def refresh(self, session_keys: Iterable[str]) -> None:
        """Look these session keys up again (one thread hop)."""

    def names(self, session_key: str, access: Access) -> bool:
        """Whether the session, as last looked up, is still logged in as this user (auth hash included)."""


class AccessSweep:
    """Twice per GAMIFICATION_ACCESS_TTL_S: reload the users and sessions of the sockets here, hand them over.

    Twice per period so that the entries of users with open sockets are renewed before they
    expire: a connection storm of those users then finds every entry fresh, instead of waiting
    for a reload on an event loop that the storm itself keeps busy.
    """

    def __init__(self, *, local: LocalConnections, cache: AccessCache, sessions: Sessions | None = None) -> None:
        self.local = local
        self.cache = cache
        self.sessions = sessions

    async def run(self) -> None:
        """Sweep forever; a database outage only delays the next sweep."""
        while True:
            await asyncio.sleep(app_settings.ACCESS_TTL_S / 2)
            try:
                await self.sweep()
            except Exception as exc:  # noqa: BLE001 - the sockets stay as they are until the next sweep
                logger.warning("access sweep failed (%r); retrying in %ss", exc, app_settings.ACCESS_TTL_S)

    async def sweep(self) -> int:
        """One pass; returns how many connections lost their user (gone, inactive, or their session ended)."""
        by_user: dict[int, list[Guarded]] = defaultdict(list)
        for connection in tuple(self.local.connections):
            if connection.user_id is not None:
                by_user[connection.user_id].append(connection)
        fresh = await self.cache.refresh(by_user)
        session_keys = {c.session_key for connections in by_user.values() for c in connections if c.session_key}
        if self.sessions is not None and session_keys:
            await self.sessions.refresh(session_keys)
        lost = 0
        for user_id, connections in by_user.items():
            entry = fresh.get(user_id)
            for connection in connections:
                holds = entry is not None and entry.active and self._session_holds(connection, entry)
                current = entry if holds else None
                lost += current is None
                connection.follow(current)
        return lost

    def _session_holds(self, connection: Guarded, entry: Access) -> bool:
        if connection.session_key is None or self.sessions is None:
            return True
        return self.sessions.names(connection.session_key, entry)
