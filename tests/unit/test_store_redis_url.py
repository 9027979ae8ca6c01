"""The Redis store's key prefix comes from the URL's ``prefix`` query parameter."""

from __future__ import annotations

from server.store.redis_store import DEFAULT_PREFIX, split_prefix


def test_prefix_is_taken_out_of_the_url():
    assert split_prefix("redis://127.0.0.1:6379/0?prefix=t1234:") == ("redis://127.0.0.1:6379/0", "t1234:")


def test_other_query_arguments_are_kept():
    url, prefix = split_prefix("redis://:pw@h:6380/2?socket_timeout=5&prefix=a%3Ab:&health_check_interval=3")
    assert url == "redis://:pw@h:6380/2?socket_timeout=5&health_check_interval=3"
    assert prefix == "a:b:"


def test_default_prefix():
    assert split_prefix("redis://h/0") == ("redis://h/0", DEFAULT_PREFIX)
    assert DEFAULT_PREFIX == "antechamber:"


def test_a_unix_socket_url_keeps_its_form():
    assert split_prefix("unix:///run/redis.sock?prefix=p:") == ("unix:///run/redis.sock", "p:")
    assert split_prefix("unix:///run/redis.sock?db=2") == ("unix:///run/redis.sock?db=2", DEFAULT_PREFIX)
