"""Recording from any node: REST on a node that does not own the meeting starts and stops the
recording on the owner, where the media is (server/live/cluster_recordings.py). Two nodes in this
process on one Redis (store and cluster), a real aiortc publisher, the file read back with PyAV."""

from __future__ import annotations

import asyncio
import uuid

import av
import pytest

from server.app import CLUSTER, SFU
from server.http.appkeys import STORE
from signaling.client import SignalingClient
from tests.helpers.media_peers import COLOURS, PeerClient, SolidColourTrack, publish_over_signaling
from tests.helpers.redis_server import drop_prefix
from tests.helpers.signaling import host_key, make_room, serve, ws_url

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def shared(settings_factory, redis_url):
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    sep = "&" if "?" in redis_url else "?"
    yield settings_factory(redis_url=f"{redis_url}{sep}prefix={prefix}")
    await drop_prefix(redis_url, prefix)


async def _poll(fetch, check, timeout: float = 30.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await fetch()
        if check(value):
            return value
        assert loop.time() < deadline, value
        await asyncio.sleep(0.1)


async def test_rest_on_another_node_records_on_the_owner(shared, auth, tmp_path):
    async with serve(shared) as one, serve(shared) as two:
        room = await make_room(one, auth)
        rid = room["roomId"]
        owner = one.server.app[CLUSTER]
        assert await owner.ownership.claim(rid) is not None        # the meeting is on node one
        host = SignalingClient(ws_url(one))
        peer = PeerClient("host")
        try:
            await host.connect()
            assert (await host.join(rid, "Hana", host_key(room)))["type"] == "joined"
            await publish_over_signaling(host, peer, {"camera": SolidColourTrack(COLOURS["red"])})
            assert one.server.app[SFU].get_room(rid) is not None and two.server.app[SFU].get_room(rid) is None

            resp = await two.post("/api/v1/recordings", json={"roomId": rid}, headers=auth)
            assert resp.status == 201, await resp.text()
            rec = await resp.json()
            assert rec["status"] in ("starting", "active")
            stored = await one.server.app[STORE].get_recording(rec["recordingId"])
            assert stored.node_id == owner.node_id                   # written by the owner node
            # a refusal on the owner comes back as the same error
            again = await two.post("/api/v1/recordings", json={"roomId": rid}, headers=auth)
            assert again.status == 409 and (await again.json())["code"] == "recording_already_started"
            await host.wait_for("recording", lambda m: m["recording"]["status"] == "active", timeout=15)
            rid_ = rec["recordingId"]
            file = shared.data_dir / "recordings" / f"{rid_}.mkv"      # the nodes share a data directory here

            async def size():
                return file.stat().st_size if file.exists() else 0
            await _poll(size, lambda n: n > 20_000)                    # video is being written
            stopped = await two.post(f"/api/v1/recordings/{rid_}/stop", headers=auth)
            assert stopped.status == 202, await stopped.text()

            async def fetch():
                return await (await two.get(f"/api/v1/recordings/{rid_}", headers=auth)).json()
            done = await _poll(fetch, lambda r: r["status"] in ("complete", "failed"))
            assert done["status"] == "complete", done
            media = await two.get(f"/api/v1/recordings/{rid_}/media", headers=auth)
            assert media.status == 200
            path = tmp_path / "down.mkv"
            path.write_bytes(await media.read())
            with av.open(str(path)) as container:
                assert [s.type for s in container.streams] == ["video"]
                frames = sum(1 for _ in container.decode(video=0))
            assert frames > 5
        finally:
            await host.close()
            await peer.close()
