"""`REDIS_URL` as the channel layer's host entry: one Redis, or a group watched by Redis Sentinel.

A plain URL (`redis://`, `rediss://`, `unix://`) names one server. A Sentinel group is named by

    redis+sentinel://[[username]:password@]host[:port][,host[:port]...]/master_name[/db][?options]

(the grammar of the redis-sentinel-url package; port 26379 by default). The user and password are
the Redis servers' own; `sentinel_username` / `sentinel_password` options authenticate to the
sentinels when they require it. The settings build the channel layer's host from this and every
other Redis user reads that same host (infrastructure/redis_access.py): one setting, one Redis.

Imports nothing of Django: the settings module itself calls `layer_host`.
"""

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_DEFAULT_PORT = 26379
# Asking a sentinel or reaching the primary must fail fast: a dead machine must not stall a caller.
SENTINEL_CONNECT_TIMEOUT_S = 2.0
SENTINEL_SOCKET_TIMEOUT_S = 2.0
SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password")

MSG_NO_SENTINELS = "REDIS_URL {url!r} names no sentinel (host:port,...)"
MSG_NO_MASTER = "REDIS_URL {url!r} names no master: redis+sentinel://host:port,.../<master_name>[/<db>]"
MSG_BAD_DB = "REDIS_URL {url!r}: the database after the master name must be a number"
MSG_BAD_PORT = "REDIS_URL {url!r}: {member!r} is not host:port"
MSG_UNKNOWN_OPTION = "REDIS_URL {url!r}: unknown option(s) {names}; known: " + ", ".join(SENTINEL_OPTIONS)


def is_sentinel(url: str) -> bool:
    """Whether the URL names a Sentinel group rather than one server."""
    return url.lower().startswith(f"{SENTINEL_SCHEME}://")


def _sentinels(url: str, netloc: str) -> list[tuple[str, int]]:
    members = []
    for member in netloc.rpartition("@")[2].split(","):
        host, _, port = member.strip().partition(":")
        if not host:
            continue
        if port and not port.isdigit():
            raise ValueError(MSG_BAD_PORT.format(url=url, member=member))
        members.append((host, int(port or SENTINEL_DEFAULT_PORT)))
    if not members:
        raise ValueError(MSG_NO_SENTINELS.format(url=url))
    return members


def _credentials(netloc: str) -> dict[str, str]:
    """The Redis servers' username/password from `user:password@` (either may be empty)."""
    userinfo, at, _ = netloc.rpartition("@")
    if not at:
        return {}
    username, _, password = userinfo.partition(":")
    found = {"username": unquote(username), "password": unquote(password)}
    return {name: value for name, value in found.items() if value}


def _master_and_db(url: str, path: str) -> tuple[str, int]:
    parts = [part for part in path.split("/") if part]
    if not parts or len(parts) > 2:
        raise ValueError(MSG_NO_MASTER.format(url=url))
    if len(parts) == 2 and not parts[1].isdigit():
        raise ValueError(MSG_BAD_DB.format(url=url))
    return unquote(parts[0]), int(parts[1]) if len(parts) == 2 else 0


def _sentinel_kwargs(url: str, query: str) -> dict[str, Any]:
    options = {name: values[-1] for name, values in parse_qs(query).items()}
    unknown = sorted(set(options) - set(SENTINEL_OPTIONS))
    if unknown:
        raise ValueError(MSG_UNKNOWN_OPTION.format(url=url, names=", ".join(unknown)))
    kwargs: dict[str, Any] = {
        "socket_connect_timeout": SENTINEL_CONNECT_TIMEOUT_S,
        "socket_timeout": SENTINEL_SOCKET_TIMEOUT_S,
    }
    for name, value in options.items():
        kwargs[name.removeprefix("sentinel_")] = value
    return kwargs


def sentinel_host(url: str) -> dict[str, Any]:
    """The channel layer's host entry for a `redis+sentinel://` URL (channels-redis's Sentinel form)."""
    # urlsplit would read "a:1,b:2" as one host with a bad port: take the parts apart by hand.
    parts = urlsplit(url)
    master_name, db = _master_and_db(url, parts.path)
    return {
        "master_name": master_name,
        "sentinels": _sentinels(url, parts.netloc),
        "sentinel_kwargs": _sentinel_kwargs(url, parts.query),
        "db": db,
        **_credentials(parts.netloc),
        "socket_connect_timeout": SENTINEL_CONNECT_TIMEOUT_S,
    }


def layer_host(url: str) -> dict[str, Any]:
    """The channel layer's host entry for REDIS_URL: {"address": url}, or a Sentinel group."""
    return sentinel_host(url) if is_sentinel(url) else {"address": url}
