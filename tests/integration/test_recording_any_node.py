"""Recordings from any node (issue 11): a recording written on node A downloads through node B.

Two real server processes on one real Redis (one test-unique prefix), each with its registry entry
(tests/helpers/registry_node.py). The recording is stored as A wrote it (its record names A, its
file only in A's data directory: the cheap path instead of a live recording; the proxy does not
look inside the file). Through B: the whole file, a Range (206, Content-Range), a suffix range and
the API key checks all answer as from A, bytes identical; the internal endpoint refuses a request
that is not signed with the server secret; B answers 503 ``unavailable`` once A is gone. And a
live recording's record names the node that writes it.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.error
import urllib.request
import uuid

import pytest

from media.ports import MediaConfig
from media.sfu import MediaService
from server.http.appkeys import RECORDINGS, STORE
from server.live.recording_media import SfuRecordingMedia
from server.store.records import Recording, Room
from server.store.redis_store import RedisStore
from tests.helpers.media_peers import COLOURS, PeerClient, SolidColourTrack, join_room, publish
from tests.helpers.redis_server import drop_prefix
from tests.helpers.rest_app import running_app
from tests.helpers.server_process import ServerProcess

pytestmark = pytest.mark.timeout(120)
KEY = "any-node-test-key-0123456789abcdef"
RID = "rec_" + "a1" * 16


def get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {KEY}", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def nodes_seen(url: str) -> list[str]:
    status, _, body = get(url + "/api/v1/cluster/nodes")
    return [n["nodeId"] for n in json.loads(body)["nodes"]] if status == 200 else []


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def two_nodes(tmp_path, redis_url):
    prefix = f"an{uuid.uuid4().hex[:10]}:"
    url = f"{redis_url}{'&' if '?' in redis_url else '?'}prefix={prefix}"
    nodes = [ServerProcess(tmp_path / name, api_key=KEY, module="tests.helpers.registry_node",
                           extra_args=["--redis-url", url, "--node-id", name]) for name in ("node-a", "node-b")]
    try:
        for n in nodes:
            n.start()
        yield nodes, url
    finally:
        for n in nodes:
            n.stop()
        asyncio.run(drop_prefix(redis_url, prefix))


async def _store_recording_of_a(url: str) -> None:
    store = RedisStore(url)
    await store.open()
    try:
        await store.create_recording(Recording(recording_id=RID, room_id="room-a", status="complete",
                                               start_date=1_700_000_000_000, filename=f"{RID}.mkv",
                                               size=0, node_id="node-a"))
    finally:
        await store.close()


def test_a_recording_of_node_a_through_node_b(two_nodes):
    (a, b), url = two_nodes
    wait_for(lambda: nodes_seen(b.url) == ["node-a", "node-b"], 15, "both nodes in the registry")
    data = os.urandom(3 * 1024 * 1024 + 17)        # more than one proxy chunk
    (a.data_dir / "recordings").mkdir(parents=True, exist_ok=True)
    (a.data_dir / "recordings" / f"{RID}.mkv").write_bytes(data)
    asyncio.run(_store_recording_of_a(url))
    media = f"/api/v1/recordings/{RID}/media"

    t0 = time.monotonic()
    status, headers, body = get(b.url + media)
    full_s = time.monotonic() - t0
    assert status == 200 and body == data, (status, body[:200])
    direct = get(a.url + media)
    assert direct[0] == 200 and direct[2] == data
    for h in ("Content-Type", "Content-Disposition", "Accept-Ranges", "Content-Length"):
        assert headers.get(h) == direct[1].get(h), h

    status, headers, body = get(b.url + media, {"Range": "bytes=1000-299999"})
    assert status == 206 and body == data[1000:300000]
    assert headers["Content-Range"] == f"bytes 1000-299999/{len(data)}"
    assert headers["Content-Range"] == get(a.url + media, {"Range": "bytes=1000-299999"})[1]["Content-Range"]
    status, headers, body = get(b.url + media, {"Range": "bytes=-100"})
    assert status == 206 and body == data[-100:]
    status, _, body = get(b.url + media, {"Range": f"bytes={len(data) + 5}-"})
    assert status == 416
    # the negotiation happens on A: format and Accept go through, A's refusals come back as they are
    assert get(b.url + media + "?format=mkv")[2] == data
    via_a, via_b = get(a.url + media, {"Accept": "video/mp4"}), get(b.url + media, {"Accept": "video/mp4"})
    assert via_b[0] == via_a[0] >= 400 and json.loads(via_b[2])["code"] == json.loads(via_a[2])["code"]

    # no API key on B: refused by B itself; the internal endpoint wants the signature, not a key
    assert get(b.url + media, {"Authorization": ""})[0] == 401
    internal = f"/internal/v1/recordings/{RID}/media"
    assert get(a.url + internal)[0] == 401
    assert get(a.url + internal, {"X-Antechamber-Node": "node-b", "X-Antechamber-Time": str(int(time.time())),
                                  "X-Antechamber-Signature": "0" * 64})[0] == 401

    a.kill()
    t0 = time.monotonic()
    status, headers, body = get(b.url + media)
    gone_s = time.monotonic() - t0
    assert status == 503 and json.loads(body)["code"] == "unavailable", (status, body[:300])
    assert gone_s < 5
    wait_for(lambda: nodes_seen(b.url) == ["node-b"], 15, "node-a out of the registry")
    status, _, body = get(b.url + media)
    assert status == 503 and json.loads(body)["code"] == "unavailable"
    print(f"full 3 MiB through B: {full_s:.3f} s; A killed -> 503 in {gone_s:.3f} s")


async def test_a_recording_names_the_node_that_writes_it(settings_factory, auth):
    """A live recording (a real aiortc peer publishing into the real SFU) is stored with the
    node id of the recording service that writes it."""
    sfu = MediaService(MediaConfig(loopback_candidates=True))

    async def announce(room_id, info):
        pass

    media = SfuRecordingMedia(sfu, names=lambda room_id, pid: pid, announce=announce)
    alice = PeerClient("alice", decode=False)
    try:
        async with running_app(settings_factory(), recording_media=media,
                               prepare=lambda app: setattr(app[RECORDINGS], "node_id", "node-x")) as (client, app, _):
            await app[STORE].create_room(Room(room_id="rn", creation_date=1))
            room = sfu.open_room("rn")
            await join_room(room, alice)
            await publish(room, alice, {"camera": SolidColourTrack(COLOURS["green"])})
            deadline = time.monotonic() + 20
            while not (room.publications() and room.pubs[room.publications()[0].publication_id].frames_in > 3):
                assert time.monotonic() < deadline, "alice's video never reached the SFU"
                await asyncio.sleep(0.05)
            resp = await client.post("/api/v1/recordings", headers=auth, json={"roomId": "rn"})
            assert resp.status == 201, await resp.text()
            rid = (await resp.json())["recordingId"]
            assert (await app[STORE].get_recording(rid)).node_id == "node-x"
            assert (await client.post(f"/api/v1/recordings/{rid}/stop", headers=auth)).status == 202
            assert (await app[STORE].get_recording(rid)).node_id == "node-x"
    finally:
        await alice.close()
        await sfu.close()
