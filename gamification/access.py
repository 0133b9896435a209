"""What a connection's user may do now — active, staff, may control councilors — from a per-process cache.

docs/protocol.md, "A socket's rights follow its user". Each gateway process (each event loop) keeps
one `Access` per user for GAMIFICATION_ACCESS_TTL_S; an older or missing entry is loaded from the
database on demand (concurrent misses for one user share one load). Twice per TTL the sweep
reloads, in one query, the users with open sockets on this process and revokes the sockets of
those who are gone or no longer active (close 4401). So a deactivation or a revoked permission
takes effect within about one TTL, and commands and new sockets of those users in between find a
fresh entry without a database round trip.
"""

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Exists, OuterRef, Q

from gamification.app_settings import app_settings
from gamification.lookups import read_in_lookup_thread
from gamification.loop_local import loop_local
from gamification.protocol import CONTROL_PERMISSION

logger = logging.getLogger(__name__)

# How many TTLs old an entry may be and still be handed out while its reload runs (AccessCache).
STALE_TTLS = 2


@dataclass(frozen=True)
class Access:
    """One user as the database had them at `loaded_at`."""

    user: Any  # the user row (a fresh object per load: nothing cached on it outlives the entry)
    may_control: bool  # active, and a superuser or granted CONTROL_PERMISSION directly or through a group
    loaded_at: float  # time.monotonic()

    @property
    def active(self) -> bool:
        return bool(self.user.is_active)

    @property
    def is_staff(self) -> bool:
        return bool(self.user.is_active and self.user.is_staff)


def _load(users: Q) -> dict[int, Access]:
    """The users matching `users` that still exist, with their control permission: one query."""
    app_label, codename = CONTROL_PERMISSION.split(".")
    permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    # The rule of Django's ModelBackend.has_perm, as one query for many users.
    rows = (
        get_user_model()
        .objects.filter(users)
        .annotate(
            _direct=Exists(permission.filter(user=OuterRef("pk"))),
            _grouped=Exists(permission.filter(group__user=OuterRef("pk"))),
        )
    )
    now = time.monotonic()
    return {
        user.pk: Access(
            user=user,
            may_control=bool(user.is_active and (user.is_superuser or user._direct or user._grouped)),
            loaded_at=now,
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

    def revoke(self) -> None:
        """The user's rights are gone: close the connection with 4401, without raising."""


class LocalConnections(Protocol):
    connections: Collection[Guarded]


class AccessSweep:
    """Twice per GAMIFICATION_ACCESS_TTL_S: reload the users with open sockets here, revoke the inactive ones.

    Twice per period so that the entries of users with open sockets are renewed before they
    expire: a connection storm of those users then finds every entry fresh, instead of waiting
    for a reload on an event loop that the storm itself keeps busy.
    """

    def __init__(self, *, local: LocalConnections, cache: AccessCache) -> None:
        self.local = local
        self.cache = cache

    async def run(self) -> None:
        """Sweep forever; a database outage only delays the next sweep."""
        while True:
            await asyncio.sleep(app_settings.ACCESS_TTL_S / 2)
            try:
                await self.sweep()
            except Exception as exc:  # noqa: BLE001 - the sockets stay as they are until the next sweep
                logger.warning("access sweep failed (%r); retrying in %ss", exc, app_settings.ACCESS_TTL_S)

    async def sweep(self) -> int:
        """One pass; returns how many connections it revoked."""
        by_user: dict[int, list[Guarded]] = defaultdict(list)
        for connection in tuple(self.local.connections):
            if connection.user_id is not None:
                by_user[connection.user_id].append(connection)
        fresh = await self.cache.refresh(by_user)
        revoked = 0
        for user_id, connections in by_user.items():
            entry = fresh.get(user_id)
            if entry is None or not entry.active:
                for connection in connections:
                    connection.revoke()
                revoked += len(connections)
        return revoked
