"""ICE server parsing: only configured servers, browser shape (pure logic)."""

from __future__ import annotations

import pytest

from media.ice import browser_ice_servers, parse_ice_server, rtc_configuration


def test_no_ice_servers_by_default_means_an_explicit_empty_list():
    config = rtc_configuration(())
    assert config.iceServers == []  # None would make aiortc use a public STUN server


def test_turn_credentials_are_split_from_the_url():
    s = parse_ice_server("turn:alice:s%40cret@turn.example.org:3478?transport=tcp")
    assert (s.urls, s.username, s.credential) == ("turn:turn.example.org:3478?transport=tcp", "alice", "s@cret")
    assert parse_ice_server("stun:stun.example.org:3478").username is None


def test_browser_shape_never_carries_a_long_lived_turn_password():
    assert browser_ice_servers(["stun:a:3478", "turn:u:p@b:3478", "turn:c:3478"]) == [
        {"urls": ["stun:a:3478"]},
        {"urls": ["turn:c:3478"]},
    ]


@pytest.mark.parametrize("url", ["http://x", "stun", "", "udp:1.2.3.4"])
def test_bad_urls_are_refused(url):
    with pytest.raises(ValueError):
        parse_ice_server(url)
