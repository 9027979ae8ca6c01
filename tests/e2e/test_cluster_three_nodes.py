"""One meeting across three real server processes on one Redis (issue 11, "Tests and figures").

Nodes A, B and C (``tests/helpers/cluster_procs.py``) share a Redis key prefix. A locked room is
created through A's REST API; the host opens the host link on B, a guest opens the guest link on C
and knocks; the host sees the knock and admits; Chromium decodes video both ways. Then REST calls
on A lock and unlock the room, kick the guest (OpenVidu Meet's
``DELETE /api/v1/meetings/{roomId}/participants/{participantIdentity}``) and delete the room
(``withMeeting=force``): each effect reaches the clients through the meeting's owner node, which
the test names from ``GET /api/v1/cluster/nodes`` (placement's tie rule puts it on B, the node the
first websocket reached; should it be A, the REST calls go to C instead, so that they always act on
a meeting another node owns).
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from playwright.sync_api import expect

from tests.helpers.cluster_procs import Cluster, http, wait_until

from .flows import ended, guest_url, host_url, in_meeting, join, knock_item, knock_state, participant_id, wait_true
from .test_media import _FRAMES_NOW

pytestmark = pytest.mark.e2e


def _on(url: str, base: str) -> str:
    """The same link with the origin of the node at ``base``."""
    parts, node = urlsplit(url), urlsplit(base)
    return urlunsplit((node.scheme, node.netloc, parts.path, parts.query, parts.fragment))


def _frames_over(minimum: int) -> str:
    return ("async () => { const m = window.antechamber.media; if (!m || !m.sub) return false;"
            f" return (await ({_FRAMES_NOW.strip()})()) > {int(minimum)}; }}")


@pytest.fixture
def cluster(redis_url, tmp_path):
    with Cluster(tmp_path, redis_url, 3) as c:
        yield c
    r = redis.Redis.from_url(redis_url)
    try:
        keys = list(r.scan_iter(match=f"{c.prefix}*", count=1000))
        if keys:
            r.delete(*keys)
    finally:
        r.close()


@pytest.fixture
def server():
    """conftest's ``new_page`` needs no single server here: the cluster's processes serve the pages."""
    return None


def test_a_meeting_across_three_nodes_with_rest_from_a(cluster, new_page):
    started = time.monotonic()
    a, b, c = (cluster.node(i) for i in range(3))
    status, room = http("POST", a.url + "/api/v1/rooms",
                        {"roomName": "Three nodes", "isLocked": True,
                         "autoDeletionDate": int((time.time() + 24 * 3600) * 1000)})
    assert status == 201, room
    rid = room["roomId"]

    host = new_page(_on(host_url(room), b.url))
    join(host, "Hana Host")
    in_meeting(host, tiles=1)
    owner = wait_until(lambda: cluster.owner_of(rid, via=2), timeout=20, what="the meeting's owner")
    guest = new_page(_on(guest_url(room), c.url))
    join(guest, "Gus Guest")
    knock_state(guest, "waiting")
    knock_item(host, "Gus Guest").get_by_test_id("admit").click()
    in_meeting(guest, tiles=2)
    in_meeting(host, tiles=2)
    for page in (host, guest):           # media goes straight to the owner's SFU, both ways
        wait_true(page, _frames_over(30), what="video frames decoded")

    # REST goes to A; should placement have put the meeting on A itself, to C: either way the calls
    # below act on a meeting another node owns
    rest = a if owner != "node-0" else c
    status, info = http("GET", rest.url + f"/api/v1/rooms/{rid}")
    assert status == 200 and info.get("ownerNode") == owner, info

    lock = host.get_by_test_id("lock-toggle")
    expect(lock).to_have_attribute("aria-pressed", "true")
    for locked in (False, True):         # REST on A -> the owner -> the host's page on B
        status, body = http("PUT", rest.url + f"/api/v1/rooms/{rid}/lock", {"isLocked": locked})
        assert status == 200, body
        expect(lock).to_have_attribute("aria-pressed", str(locked).lower())
        expect(guest.locator("#lock-pill")).to_be_visible() if locked else expect(
            guest.locator("#lock-pill")).to_be_hidden()

    gid = participant_id(guest)
    status, body = http("DELETE", rest.url + f"/api/v1/meetings/{rid}/participants/{gid}")
    assert status == 200, body
    ended(guest, "kicked")
    in_meeting(host, tiles=1)

    status, body = http("DELETE", rest.url + f"/api/v1/rooms/{rid}?withMeeting=force")
    assert status == 200, body
    ended(host, "room_deleted")
    assert http("GET", b.url + f"/api/v1/rooms/{rid}")[0] == 404
    wait_until(lambda: cluster.owner_of(rid, via=0) is None, timeout=20, what="the meeting gone from the owner")
    assert host.errors == [] and guest.errors == []
    print(f"owner {owner}; REST on {rest.port}, host on {b.port}, guest on {c.port};"
          f" {time.monotonic() - started:.1f} s")
