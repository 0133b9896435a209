"""REDIS_URL as the channel layer's host: one server as it is, a Sentinel group in channels-redis's form."""

import pytest

from infrastructure.redis_url import (
    MSG_BAD_DB,
    MSG_BAD_PORT,
    MSG_NO_MASTER,
    MSG_NO_SENTINELS,
    MSG_UNKNOWN_OPTION,
    SENTINEL_CONNECT_TIMEOUT_S,
    SENTINEL_DEFAULT_PORT,
    SENTINEL_SOCKET_TIMEOUT_S,
    is_sentinel,
    layer_host,
)

SENTINEL_TIMEOUTS = {"socket_connect_timeout": SENTINEL_CONNECT_TIMEOUT_S, "socket_timeout": SENTINEL_SOCKET_TIMEOUT_S}


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://:pw@cache.example:6380/2", "unix:///run/r.sock"])
def test_a_plain_url_is_the_layer_s_address(url):
    assert not is_sentinel(url)
    assert layer_host(url) == {"address": url}


def test_a_sentinel_url_names_the_sentinels_the_master_and_the_database():
    host = layer_host("redis+sentinel://10.0.0.1:26380,10.0.0.2,sentinel-3.example:26381/conductor/3")
    assert host == {
        "master_name": "conductor",
        "sentinels": [("10.0.0.1", 26380), ("10.0.0.2", SENTINEL_DEFAULT_PORT), ("sentinel-3.example", 26381)],
        "sentinel_kwargs": SENTINEL_TIMEOUTS,
        "db": 3,
        "socket_connect_timeout": SENTINEL_CONNECT_TIMEOUT_S,
    }


def test_credentials_go_to_the_servers_and_sentinel_options_to_the_sentinels():
    host = layer_host("REDIS+SENTINEL://app:s%40cret@h1:26379/main?sentinel_password=watch&sentinel_username=w")
    assert (host["username"], host["password"], host["db"]) == ("app", "s@cret", 0)
    assert host["sentinel_kwargs"] == {**SENTINEL_TIMEOUTS, "password": "watch", "username": "w"}
    assert layer_host("redis+sentinel://:only-password@h1/main")["password"] == "only-password"
    assert "username" not in layer_host("redis+sentinel://:only-password@h1/main")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+sentinel://h1:26379", MSG_NO_MASTER),
        ("redis+sentinel://h1:26379/main/zero", MSG_BAD_DB),
        ("redis+sentinel:///main", MSG_NO_SENTINELS),
        ("redis+sentinel://h1:port/main", MSG_BAD_PORT.format(url="{url}", member="h1:port")),
        ("redis+sentinel://h1/main?socket_timeout=1", MSG_UNKNOWN_OPTION.format(url="{url}", names="socket_timeout")),
    ],
)
def test_a_malformed_sentinel_url_is_refused_naming_what_is_wrong(url, message):
    with pytest.raises(ValueError) as refused:
        layer_host(url)
    assert str(refused.value) == message.format(url=url)
