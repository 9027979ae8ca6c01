"""No secret in the logs or in any frame sent to a guest or viewer; security headers on pages and
keyed API answers.

The flow runs against a real server process (its real log set-up, JSON, at debug level, with a
TURN secret): create a room and a member over REST, the host joins, a guest knocks and is
admitted, a viewer joins, chat, recording start/stop, the recording's share link. Every key and
token handed out is then searched for in the whole log and in every raw frame the guest and the
viewer received (each may see its own resume token, nothing else).
"""

from __future__ import annotations

import base64
import json
import urllib.request
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest

from server.credentials import load_or_create
from server.domain.access.keys import derive_key
from signaling.client import SignalingClient, SignalingErrorReply
from tests.conftest import TEST_API_KEY
from tests.helpers.server_process import ServerProcess
from tests.helpers.signaling import host_key

pytestmark = pytest.mark.timeout(90)
TURN_SECRET = "turn-shared-secret-5f1e2d3c4b5a"
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


@pytest.fixture
def live_server(tmp_path):
    with ServerProcess(tmp_path / "data", api_key=TEST_API_KEY,
                       extra_args=["--log-level", "debug", "--turn-secret", TURN_SECRET,
                                   "--turn-url", "turn:127.0.0.1:3478"]) as server:
        yield server


def frames_text(client: SignalingClient) -> str:
    return "\n".join(f.decode("utf-8", "replace") if isinstance(f, bytes) else f for f in client.raw_frames)


def found_in(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value and value in text]


async def test_no_secret_in_logs_or_guest_and_viewer_frames(live_server, tmp_path):
    base, ws = live_server.url, live_server.url.replace("http", "ws") + "/ws"
    secrets: dict[str, str] = {"api key": TEST_API_KEY, "turn secret": TURN_SECRET}
    async with aiohttp.ClientSession() as http:
        async def rest(method: str, path: str, **kw):
            async with http.request(method, base + path, headers=AUTH, **kw) as resp:
                body = await resp.json() if resp.content_type == "application/json" else None
                assert resp.status < 300, (path, resp.status, body)
                return body

        room = await rest("POST", "/api/v1/rooms", json={"roomName": "Secret plans", "isLocked": True})
        rid = room["roomId"]
        server_secret = load_or_create(live_server.data_dir, (TEST_API_KEY,)).server_secret
        secrets.update({
            "server secret (b64)": base64.urlsafe_b64encode(server_secret).decode().rstrip("="),
            "server secret (hex)": server_secret.hex(),
            "host key": host_key(room),
            "viewer key": derive_key(server_secret, rid, "viewer", 0),
            "recording key": derive_key(server_secret, rid, "recording", 0),
        })
        member = await rest("POST", f"/api/v1/rooms/{rid}/members", json={"name": "Mo", "baseRole": "moderator"})
        secrets["member key"] = parse_qs(urlparse(member["accessUrl"]).query)["memberKey"][0]
        secrets["member key (hmac)"] = secrets["member key"].split(".", 1)[1]

        host, guest, viewer, mo = (SignalingClient(ws) for _ in range(4))
        try:
            for c in (host, guest, viewer, mo):
                await c.connect()
            assert (await host.join(rid, "Hana", secrets["host key"]))["type"] == "joined"
            knock = await guest.join(rid, "Gus")
            assert knock["type"] == "knock_status"
            await host.wait_for("knocks", lambda m: any(k["displayName"] == "Gus" for k in m["knocks"]))
            await host.request("admit", knockId=knock["knockId"])
            await guest.wait_for("joined")
            assert (await viewer.join(rid, "Vic", secrets["viewer key"]))["type"] == "joined"
            assert (await mo.join(rid, "Mo", secrets["member key"]))["type"] == "joined"
            await host.request("chat", text="hello")
            await guest.request("chat", text="hi")
            for c in (guest, viewer):
                await c.wait_for("chat", lambda m: m["text"] == "hi")
            try:
                await host.request("start_recording")
                await host.wait_for("recording", timeout=15)
                await host.request("stop_recording")
            except SignalingErrorReply:
                pass          # no media to record: the attempt still went through the whole path
            recs = await rest("GET", "/api/v1/recordings", params={"roomId": rid})
            for rec in recs["recordings"]:
                link = await rest("GET", f"/api/v1/recordings/{rec['recordingId']}/url")
                secrets[f"signed link {rec['recordingId']}"] = parse_qs(urlparse(link["url"]).query)["signature"][0]
            await host.request("ping")
            for c in (host, guest, viewer, mo):
                secrets[f"resume token of {c.participant_id}"] = c.resume_token
            turn = [s for s in (host.history[0].get("iceServers") or []) if s.get("credential")]
            if turn:
                secrets["host's TURN credential"] = turn[0]["credential"]
        finally:
            for c in (host, guest, viewer, mo):
                await c.close()
    assert all(secrets.values()), [k for k, v in secrets.items() if not v]

    # nothing secret in any frame a guest or a viewer received, but its own resume token
    for who in (guest, viewer):
        own = {f"resume token of {who.participant_id}"}
        others = {k: v for k, v in secrets.items() if k not in own and not k.endswith("TURN credential")}
        leaked = found_in(frames_text(who), others)
        assert not leaked, f"{who.participant_id} received {leaked}"
    # the log: nothing at all
    with urllib.request.urlopen(base + "/healthz") as resp:
        assert json.load(resp)["status"] == "ok"
    log = live_server.output()
    assert '"room created"' in log or "room created" in log      # the log is the real one, at debug level
    leaked = found_in(log, secrets)
    assert not leaked, f"secrets in the server log: {leaked}"


# --- headers -----------------------------------------------------------------------------------

async def test_pages_and_keyed_answers_carry_the_security_headers(client, auth):
    resp = await client.post("/api/v1/rooms", json={}, headers=auth)
    room = await resp.json()
    rid = room["roomId"]
    keyed = [f"/{rid}?roomKey={host_key(room)}", f"/{rid}", f"/{rid}/recordings?recordingKey=x", "/dashboard"]
    for path in keyed + ["/"]:
        page = await client.get(path)
        assert page.status == 200, path
        csp = page.headers.get("Content-Security-Policy", "")
        # a room page frames only in itself and the allowed origins (none here: docs/embed.md)
        ancestors = "frame-ancestors 'self'" if path.startswith(f"/{rid}?") or path == f"/{rid}" else "frame-ancestors 'none'"
        assert "default-src 'self'" in csp and ancestors in csp and "object-src 'none'" in csp, path
        assert page.headers.get("X-Content-Type-Options") == "nosniff"
        if path in keyed:
            assert page.headers.get("Referrer-Policy") == "no-referrer", path
            assert "no-store" in page.headers.get("Cache-Control", ""), path
    # every API answer that carries a key or a link with one: never stored by a cache
    member = await client.post(f"/api/v1/rooms/{rid}/members", json={"name": "Mo", "baseRole": "speaker"},
                               headers=auth)
    answers = [resp, member, await client.get(f"/api/v1/rooms/{rid}", headers=auth),
               await client.get("/api/v1/rooms", headers=auth),
               await client.get(f"/api/v1/rooms/{rid}/members", headers=auth),
               await client.post(f"/api/v1/rooms/{rid}/rotate-keys", headers=auth),
               await client.post("/v1/meetings", json={"endDate": "2099-01-01T00:00:00Z",
                                                       "fields": ["hostRoomUrl"]}, headers=auth),
               await client.get("/v1/meetings", headers=auth),
               await client.get("/api/v1/rooms", headers={"Authorization": "Bearer wrong"})]
    for answer in answers:
        assert "no-store" in answer.headers.get("Cache-Control", ""), (answer.url, answer.headers)
