"""The access cache (who a connection's user is now) and the sweep that revokes sockets of gone users."""

import asyncio
import dataclasses
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, Permission, User

from gamification.access import Access, AccessCache, AccessSweep, _load_ids
from tests.gamification.ws import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_thread_connections")]


def _grant_through_group(user: User) -> None:
    group = Group.objects.create(name=f"operators-{user.pk}")
    group.permissions.add(Permission.objects.get(codename="change_councilor"))
    user.groups.add(group)


async def test_may_control_follows_the_permission_direct_through_a_group_or_superuser():
    plain, direct, grouped = await make_user(), await make_user(can_change=True), await make_user()
    await sync_to_async(_grant_through_group)(grouped)
    root = await sync_to_async(User.objects.create_superuser)("root", password="pw")
    inactive = await make_user(can_change=True, staff=True)
    inactive.is_active = False
    await sync_to_async(inactive.save)()
    cache = AccessCache()
    seen = {user.username: await cache.get(user.pk) for user in (plain, direct, grouped, root, inactive)}
    assert {name: access.may_control for name, access in seen.items()} == {
        plain.username: False,
        direct.username: True,
        grouped.username: True,
        "root": True,
        inactive.username: False,
    }
    assert (seen[inactive.username].active, seen[inactive.username].is_staff) == (False, False)
    assert await cache.get(10**9) is None  # no such user


def test_many_users_load_in_one_query(django_assert_num_queries):
    users = [User.objects.create_user(f"many{n}") for n in range(5)]
    with django_assert_num_queries(1):
        loaded = _load_ids([user.pk for user in users])
    assert sorted(loaded) == sorted(user.pk for user in users)


async def test_an_entry_is_reused_within_the_ttl_and_reloaded_after_it(settings):
    user = await make_user(can_change=True)
    cache = AccessCache()
    settings.GAMIFICATION_ACCESS_TTL_S = 60
    first = await cache.get(user.pk)
    await sync_to_async(user.user_permissions.clear)()
    assert await cache.get(user.pk) is first  # within the TTL: no query, the old answer
    settings.GAMIFICATION_ACCESS_TTL_S = 0
    again = await cache.get(user.pk)
    assert again is not first and again.may_control is False


async def test_concurrent_misses_for_one_user_share_one_load():
    user = await make_user()
    cache = AccessCache()
    first, second = await asyncio.gather(cache.get(user.pk), cache.get(user.pk))
    assert first is second


@dataclass(eq=False)
class Connection:
    user_id: int | None
    session_key: str | None = None
    revoked: int = 0

    def follow(self, access: Access | None) -> None:
        if access is None:
            self.revoked += 1


async def test_the_sweep_revokes_the_sockets_of_deactivated_and_deleted_users_only():
    kept, deactivated, deleted = await make_user(), await make_user(), await make_user()
    connections = [Connection(kept.pk), Connection(deactivated.pk), Connection(deactivated.pk), Connection(None)]
    connections.append(Connection(deleted.pk))
    cache = AccessCache()
    sweep = AccessSweep(local=SimpleNamespace(connections=connections), cache=cache)
    assert await sweep.sweep() == 0
    deactivated.is_active = False
    await sync_to_async(deactivated.save)()
    await sync_to_async(deleted.delete)()

    assert await sweep.sweep() == 3
    assert [connection.revoked for connection in connections] == [0, 1, 1, 0, 1]
    assert (await cache.get(kept.pk)).active  # the sweep refreshed the entries it read


async def test_the_sweep_keeps_entries_of_users_with_open_sockets_only(settings):
    settings.GAMIFICATION_ACCESS_TTL_S = 60
    present, gone = await make_user(), await make_user()
    cache = AccessCache()
    await cache.get(gone.pk)
    sweep = AccessSweep(local=SimpleNamespace(connections=[Connection(present.pk)]), cache=cache)
    await sweep.sweep()
    assert set(cache._entries) == {present.pk}


async def test_by_username_finds_the_user_shares_concurrent_loads_and_follows_a_rename(settings):
    settings.GAMIFICATION_ACCESS_TTL_S = 60
    user = await make_user(can_change=True)
    cache = AccessCache()
    first, second = await asyncio.gather(cache.by_username(user.username), cache.by_username(user.username))
    assert first is second and first.user.pk == user.pk and first.may_control
    assert await cache.get(user.pk) is first  # one entry, found by id too
    old_name, user.username = user.username, "renamed"
    await sync_to_async(user.save)()
    settings.GAMIFICATION_ACCESS_TTL_S = 0
    assert await cache.by_username(old_name) is None  # the old name names nobody now
    assert (await cache.by_username("renamed")).user.pk == user.pk
    assert await cache.by_username("nobody-by-this-name") is None


async def test_a_stale_entry_is_handed_out_while_its_reload_runs_then_the_fresh_one(settings):
    settings.GAMIFICATION_ACCESS_TTL_S = 60
    user = await make_user(can_change=True)
    cache = AccessCache()
    first = await cache.get(user.pk)
    await sync_to_async(user.user_permissions.clear)()
    aged = dataclasses.replace(first, loaded_at=first.loaded_at - 61)  # past one TTL, within two
    cache._entries[user.pk] = aged
    assert await cache.get(user.pk) is aged  # answered at once: no socket waits on the database ...
    reload = cache._loading[("id", user.pk)]  # ... while the reload runs
    assert (await reload).may_control is False
    assert (await cache.get(user.pk)).may_control is False
    cache._entries[user.pk] = dataclasses.replace(first, loaded_at=first.loaded_at - 121)  # past two TTLs
    assert (await cache.get(user.pk)).may_control is False  # waited for the reload
