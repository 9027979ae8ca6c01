"""The pure abuse limits: knocks (pending per address, interval, per room), joins, chat, publish offers,
the client address behind trusted proxies, the doorway, and the REST budget's rule and headers."""

from __future__ import annotations

import asyncio
from email.utils import parsedate_to_datetime

import pytest

from server.domain.rate_limits import MemoryCounters, RateLimits, key_id, request_cost
from signaling.errors import KnockPending, RateLimited, TooManyMediaSections, TooManyTracks
from signaling.rules.cooldowns import AbuseLimits, ChatLimits, JoinLimits, KnockLimits
from signaling.transport.doorway import Doorway, client_address, parse_networks
from signaling.wire.sdp_limits import check_publish_offer


def test_one_pending_knock_per_address_and_a_knock_a_second():
    limits = KnockLimits(30, 1000, AbuseLimits(pending_knocks_per_ip=1, min_knock_interval_seconds=1.0))
    limits.check([], "1.2.3.4", 0.0, "room", pending_from_address=0)
    with pytest.raises(KnockPending):
        limits.check([], "1.2.3.4", 5.0, "room", pending_from_address=1)
    with pytest.raises(RateLimited) as err:
        limits.check([], "1.2.3.4", 0.5, "room", pending_from_address=0)
    assert err.value.extra["retryAfter"] == 1
    limits.check([], "5.6.7.8", 0.5, "room")          # another address is not held up
    limits.check([], "1.2.3.4", 1.01, "room")


def test_knocks_per_room_and_a_refused_knock_counts_nowhere():
    limits = KnockLimits(30, 2, AbuseLimits(knocks_per_room_per_minute=3))
    limits.check([], "a", 0.0, "r")
    limits.check([], "a", 0.1, "r")
    with pytest.raises(RateLimited):
        limits.check([], "a", 0.2, "r")                # the address's 2 per minute
    limits.check([], "b", 0.3, "r")                    # the refused knock did not count for the room
    with pytest.raises(RateLimited):
        limits.check([], "c", 0.4, "r")                # the room's 3 per minute
    limits.check([], "c", 0.4, "other room")


def test_joins_per_address_and_per_room():
    joins = JoinLimits(AbuseLimits(joins_per_ip_per_minute=2, joins_per_room_per_minute=3))
    joins.check("a", "r1", 0.0)
    joins.check("a", "r2", 1.0)
    with pytest.raises(RateLimited) as err:
        joins.check("a", "r3", 2.0)
    assert err.value.extra["retryAfter"] == 59
    joins.check("b", "r1", 2.0)
    joins.check("c", "r1", 2.0)
    with pytest.raises(RateLimited):
        joins.check("d", "r1", 3.0)
    joins.check("a", "r3", 60.5)                       # a minute later


def test_chat_per_second_and_per_minute():
    chat = ChatLimits(AbuseLimits(chat_per_second=2, chat_per_minute=3))
    chat.check("p", 0.0)
    chat.check("p", 0.1)
    with pytest.raises(RateLimited):
        chat.check("p", 0.2)
    chat.check("p", 1.2)
    with pytest.raises(RateLimited) as err:
        chat.check("p", 5.0)
    assert err.value.extra["retryAfter"] == 56
    chat.check("q", 5.0)


def _offer(*sections: str) -> str:
    lines = ["v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0"]
    for i, spec in enumerate(sections):
        media, direction = spec.split(":")
        port = "0" if direction == "rejected" else "9"
        lines += [f"m={media} {port} UDP/TLS/RTP/SAVPF 96", f"a=mid:{i}"]
        if direction not in ("default", "rejected"):
            lines.append(f"a={direction}")
    return "\r\n".join(lines) + "\r\n"


def test_publish_offers_at_most_16_sections_and_3_sending():
    check_publish_offer(_offer("audio:sendonly", "video:sendonly", "video:sendonly"))
    check_publish_offer(_offer("audio:sendonly", "video:sendonly", "video:sendonly", "video:inactive",
                               "video:recvonly", "audio:rejected"))
    with pytest.raises(TooManyTracks):
        check_publish_offer(_offer("audio:sendonly", "video:sendonly", "video:sendonly", "video:default"))
    check_publish_offer(_offer(*["video:inactive"] * 16))
    with pytest.raises(TooManyMediaSections):
        check_publish_offer(_offer(*["video:inactive"] * 17))


def test_client_address_trusts_x_forwarded_for_only_from_trusted_proxies():
    trusted = parse_networks(["10.0.0.0/8", "::1"])
    assert client_address("203.0.113.9", "198.51.100.1", trusted) == "203.0.113.9"     # not a proxy
    assert client_address("10.1.2.3", "198.51.100.1", trusted) == "198.51.100.1"
    # a client's forged first hop is ignored: the last untrusted hop is the one the proxy saw
    assert client_address("10.1.2.3", "1.1.1.1, 198.51.100.1, 10.9.9.9", trusted) == "198.51.100.1"
    assert client_address("::1", "2001:db8::1", trusted) == "2001:db8::1"
    assert client_address("10.1.2.3", "not-an-address", trusted) == "10.1.2.3"
    assert client_address("10.1.2.3", "198.51.100.1", ()) == "10.1.2.3"               # none configured
    with pytest.raises(ValueError):
        parse_networks(["proxy.example"])


def test_doorway_counts_per_address():
    door = Doorway(2)
    assert door.enter("a") and door.enter("a") and not door.enter("a") and door.enter("b")
    door.leave("a")
    assert door.enter("a") and door.count("a") == 2
    assert all(Doorway(0).enter("a") for _ in range(100))


def test_rest_budget_whereby_costs_and_headers():
    assert [request_cost(m) for m in ("GET", "HEAD", "DELETE", "POST", "PUT", "PATCH")] == [1, 1, 2, 3, 3, 3]
    key = "ak_supersecretkey0123456789"
    assert key not in key_id(key) and key_id(key) == key_id(key) and key_id(key) != key_id(key + "x")
    now = [120.5]
    limits = RateLimits(5, MemoryCounters(), wall_clock=lambda: now[0])

    async def run():
        first = await limits.take("k", 3)
        assert first.allowed and first.remaining == 2
        headers = first.headers()
        assert headers["X-RateLimit-Limit"] == "5" and headers["X-RateLimit-Remaining"] == "2"
        assert parsedate_to_datetime(headers["X-RateLimit-Reset"]).timestamp() == 180
        assert "Retry-After" not in headers
        refused = await limits.take("k", 3)
        assert not refused.allowed and refused.remaining == 2 and refused.retry_after == 60
        assert refused.headers()["Retry-After"] == "60"
        assert (await limits.take("k", 2)).remaining == 0        # a refused request cost nothing
        assert (await limits.take("other", 1)).remaining == 4
        now[0] = 180.0                                           # the next minute: a new budget
        assert (await limits.take("k", 3)).remaining == 2

    asyncio.run(run())
