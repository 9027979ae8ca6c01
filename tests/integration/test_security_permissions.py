"""The permission matrix: every HTTP route of the app x every credential a caller may hold.

The routes come from the app's router, so a route added without a row here fails
``test_every_route_has_a_row`` (and one removed leaves a stale row, which fails too).

Adding a row: key it ``(METHOD, path template as the router shows it)`` in ``ROWS`` with one of
the access kinds below (``API`` for a route behind the API key, ``PUBLIC`` for one anybody may
call, ``NODES`` for a node-to-node route nobody else may call, or a dict credential -> outcome for
a route that also takes room keys), and optionally the JSON body a caller would send. The paths'
placeholders are filled from ``World``: ``{roomId}``, ``{memberId}``, ``{recordingId}``,
``{meetingId}``, ``{roomName}``, ``{participantIdentity}``, ``{path}``, ``{deliveryId}``; a new one goes in
``World.params``.

Every refused call must leave the store and the data directory unchanged (a snapshot before and
after each, tests/helpers/store_snapshot.py); an allowed call must pass the credential check
(neither 401 nor 403) and never answer 5xx.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from server.domain.access.keys import derive_key
from server.http.appkeys import CREDENTIALS, RECORDINGS, STORE
from server.store.base import RecordingQuery, RoomQuery, every_recording
from server.store.records import Recording
from tests.conftest import TEST_API_KEY
from tests.helpers.rest_app import running_app
from tests.helpers.signaling import host_key, make_room
from tests.helpers.store_snapshot import difference, snapshot

# the credentials, as a caller would present each (``World.credential``)
CREDENTIALS_HELD = ("none", "wrong_key", "guest_link", "viewer_link", "other_host_link", "member_link",
                    "recording_link", "host_link", "api_key")
OK = "ok"          # passes the credential check (any status but 401 / 403, never 5xx)

API = {c: 401 for c in CREDENTIALS_HELD} | {"api_key": OK}
PUBLIC = {c: OK for c in CREDENTIALS_HELD}
NODES = {c: 401 for c in CREDENTIALS_HELD}          # signed by another node only: not even the API key
# recordings of a room, with its keys (server/http/api/recordings_native.py): the host, a member
# with the permission, and for reading the recording link; any other key 403, no key 401
_KEYED = {"none": 401, "wrong_key": 401, "guest_link": 403, "viewer_link": 403, "other_host_link": 403,
          "host_link": OK, "api_key": OK}
REC_READ = _KEYED | {"member_link": OK, "recording_link": OK}          # the member is a speaker
REC_DELETE = _KEYED | {"member_link": 403, "recording_link": 403}      # speakers may not delete


@dataclasses.dataclass(frozen=True)
class Row:
    access: dict[str, Any]
    body: Any = None
    query: str = ""


ROWS: dict[tuple[str, str], Row] = {}


def rows(access: dict[str, Any], *paths: str, prefixes: tuple[str, ...] = ("",), **kw: Any) -> None:
    for prefix in prefixes:
        for entry in paths:
            method, path = entry.split(" ", 1)
            ROWS[(method, prefix + path)] = Row(access, **kw)


OV = ("/api/v1", "/meet/api/v1")
rows(PUBLIC, "GET /healthz", "GET /readyz", "GET /api/openapi.json", "GET /", "GET /dashboard", "GET /favicon.ico",
     "GET /static/{path}", "GET /web/{path}", "GET /ws", "GET /{roomName}", "GET /{roomName}/recordings",
     "POST /{roomName}/state", "POST /{roomName}/links")
rows(NODES, "GET /internal/v1/recordings/{recordingId}/media")
rows(API, "POST /rooms", prefixes=OV, body={"roomName": "made"})
rows(API, "GET /rooms", "DELETE /rooms", "GET /rooms/{roomId}", "DELETE /rooms/{roomId}",
     "GET /rooms/{roomId}/config", "POST /rooms/{roomId}/rotate-keys", prefixes=OV)
rows(API, "PUT /rooms/{roomId}/config", prefixes=OV, body={"config": {"chat": {"enabled": False}}})
rows(API, "PUT /rooms/{roomId}/roles", prefixes=OV,
     body={"roles": {"speaker": {"permissions": {"canRecord": True}}}})
rows(API, "PUT /rooms/{roomId}/access", prefixes=OV, body={"access": {"anonymous": {"speaker": {"enabled": False}}}})
rows(API, "PUT /rooms/{roomId}/status", prefixes=OV, body={"status": "closed"})
rows(API, "PUT /rooms/{roomId}/lock", prefixes=OV, body={"isLocked": False})
rows(API, "DELETE /meetings/{roomId}", "DELETE /meetings/{roomId}/participants/{participantIdentity}",
     prefixes=OV + ("/meet/internal-api/v1",))
rows(API, "PUT /meetings/{roomId}/participants/{participantIdentity}/role", prefixes=OV + ("/meet/internal-api/v1",),
     body={"role": "moderator"})
rows(API, "POST /rooms/{roomId}/members", prefixes=OV, body={"name": "Mallory", "baseRole": "moderator"})
rows(API, "GET /rooms/{roomId}/members", "DELETE /rooms/{roomId}/members", "GET /rooms/{roomId}/members/{memberId}",
     "DELETE /rooms/{roomId}/members/{memberId}", prefixes=OV)
rows(API, "PUT /rooms/{roomId}/members/{memberId}", prefixes=OV, body={"baseRole": "moderator"})
rows(REC_READ, "GET /recordings", prefixes=OV, query="roomId={roomId}")
rows(API, "POST /recordings", prefixes=OV, body={"roomId": "{roomId}"})
rows(API, "DELETE /recordings", "GET /recordings/download", prefixes=OV, query="recordingIds={recordingId}")
rows(REC_READ, "GET /recordings/{recordingId}", "GET /recordings/{recordingId}/media",
     "GET /recordings/{recordingId}/url", prefixes=OV)
rows(REC_DELETE, "DELETE /recordings/{recordingId}", "DELETE /recordings/{recordingId}/url", prefixes=OV)
rows(API, "POST /recordings/{recordingId}/stop", prefixes=OV)
# Whereby
rows(API, "POST /v1/meetings", body={"endDate": "2099-01-01T00:00:00Z", "fields": ["hostRoomUrl"]})
rows(API, "GET /v1/meetings", "GET /v1/meetings/{meetingId}", "DELETE /v1/meetings/{meetingId}",
     "GET /v1/recordings", "GET /v1/recordings/{recordingId}", "DELETE /v1/recordings/{recordingId}",
     "GET /v1/recordings/{recordingId}/access-link", "GET /v1/recordings/{recordingId}/media",
     "GET /v1/insights/rooms", "GET /v1/insights/room-sessions", "GET /v1/insights/participants",
     "GET /v1/insights/participant", "GET /v1/rooms/{roomName}/theme",
     "GET /v1/rooms/{roomName}/theme/logo", "GET /v1/rooms/{roomName}/theme/room-background",
     "GET /v1/rooms/{roomName}/theme/room-knock-page-background")
rows(API, "POST /v1/recordings/bulk-delete", body={"recordingIds": ["{recordingId}"]})
rows(API, "PUT /v1/rooms/{roomName}/theme/tokens", body={"tokens": {"colors": {"primary": "#ff0000"}}})
rows(API, "PUT /v1/rooms/{roomName}/theme/logo", "PUT /v1/rooms/{roomName}/theme/room-background",
     "PUT /v1/rooms/{roomName}/theme/room-knock-page-background", body={})
rows(API, "GET /api/v1/cluster/nodes", "GET /metrics")
# meeting timing (server/http/api/meeting_timing.py)
rows(API, "PUT /rooms/{roomId}/timing", prefixes=OV, body={"maxDurationMinutes": 60})
rows(API, "POST /rooms/{roomId}/meeting/extend", prefixes=OV, body={"minutes": 10})
rows(API, "PUT /v1/meetings/{meetingId}/timing", body={"maxDurationMinutes": 60})
rows(API, "POST /v1/meetings/{meetingId}/extend", body={"minutes": 10})
# embedding and appearance (server/http/api/embed_origins.py, appearance.py, server/http/embed_pages.py)
rows(API, "PUT /rooms/{roomId}/embed-origins", prefixes=OV, body={"origins": ["https://app.example"]})
rows(API, "PUT /v1/meetings/{meetingId}/embed-origins", body={"origins": ["https://app.example"]})
rows(API, "PUT /rooms/{roomId}/appearance", prefixes=OV, body={"scheme": "dark"})
rows(PUBLIC, "GET /embed.js", "GET /embed-demo", "GET /recording/{recordingId}", "GET /{roomName}/theme",
     "GET /{roomName}/theme/logo", "GET /{roomName}/theme/room-background",
     "GET /{roomName}/theme/room-knock-page-background")
# composition (server/http/api/recordings_composition.py): the native one takes room keys as reading does
rows(REC_READ, "POST /recordings/{recordingId}/composition", prefixes=OV)
rows(API, "POST /v1/recordings/{recordingId}/composition")
# webhooks (server/http/api/webhooks.py)
rows(API, "GET /api/v1/config/webhooks", "GET /api/v1/webhooks/deliveries",
     "POST /api/v1/webhooks/deliveries/{deliveryId}/replay")
rows(API, "PUT /api/v1/config/webhooks", body={"enabled": False})
rows(API, "POST /api/v1/config/webhooks/test", body={})


def served_routes(app) -> set[tuple[str, str]]:
    out = set()
    for route in app.router.routes():
        if route.method == "HEAD":        # aiohttp adds one to every GET: same handler, same access
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        out.add((route.method, path))
    return out


class World:
    """Two native rooms (A with a speaker member and a recording on disk, B), a Whereby room,
    and the keys of each, on a running app with the SQLite store."""

    def __init__(self, client, app) -> None:
        self.client, self.app = client, app
        self.secret = app[CREDENTIALS].server_secret
        self.api = {"Authorization": f"Bearer {TEST_API_KEY}"}

    async def build(self) -> "World":
        c = self.client
        self.room_a = await make_room(c, self.api, roomName="room a")
        self.room_b = await make_room(c, self.api, roomName="room b")
        self.a = self.room_a["roomId"]
        resp = await c.post(f"/api/v1/rooms/{self.a}/members", json={"name": "Sam", "baseRole": "speaker"},
                            headers=self.api)
        assert resp.status == 201, await resp.text()
        member = await resp.json()
        self.member_id = member["memberId"]
        self.member_key = member["accessUrl"].split("memberKey=", 1)[1]
        resp = await c.post("/v1/meetings", json={"endDate": "2099-01-01T00:00:00Z", "fields": ["hostRoomUrl"]},
                            headers=self.api)
        assert resp.status == 201, await resp.text()
        self.meeting = await resp.json()
        self.rec_id = f"rec_{self.a[:8]}"
        path = self.app[RECORDINGS].dir / f"{self.rec_id}.mkv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x1aE\xdf\xa3" + bytes(60))
        await self.app[STORE].create_recording(Recording(
            recording_id=self.rec_id, room_id=self.a, status="complete", start_date=1000, end_date=2000,
            duration=1.0, size=path.stat().st_size, filename=path.name))
        return self

    @property
    def params(self) -> dict[str, str]:
        return {"roomId": self.a, "memberId": self.member_id, "recordingId": self.rec_id,
                "meetingId": self.meeting["meetingId"], "roomName": self.meeting["roomName"].lstrip("/"),
                "participantIdentity": "someone", "path": "js/room.js", "deliveryId": "dlv_nothing"}

    def fill(self, text: Any) -> Any:
        if isinstance(text, str):
            for name, value in self.params.items():
                text = text.replace("{" + name + "}", value)
            return text
        if isinstance(text, list):
            return [self.fill(t) for t in text]
        if isinstance(text, dict):
            return {k: self.fill(v) for k, v in text.items()}
        return text

    def credential(self, name: str) -> tuple[dict[str, str], dict[str, str]]:
        """(headers, query) a holder of ``name`` sends: a link's key in each place a key is read."""
        def room_key(key: str, own: str) -> tuple[dict[str, str], dict[str, str]]:
            return {"X-Room-Key": key}, {"roomKey": key, own: key}
        if name == "none":
            return {}, {}
        if name == "wrong_key":      # a real key, but a room's, as the API key
            return {"Authorization": f"Bearer {host_key(self.room_a)}"}, {}
        if name == "guest_link":     # all a guest holds is the room's name
            return room_key(self.a, "roomName")
        if name == "viewer_link":
            return room_key(derive_key(self.secret, self.a, "viewer", 0), "viewerKey")
        if name == "other_host_link":
            return room_key(host_key(self.room_b), "roomKey")
        if name == "member_link":
            return room_key(self.member_key, "memberKey")
        if name == "recording_link":
            key = derive_key(self.secret, self.a, "recording", 0)
            return {}, {"recordingKey": key}
        if name == "host_link":
            return room_key(host_key(self.room_a), "roomKey")
        assert name == "api_key"
        return dict(self.api), {}

    async def clear(self) -> None:
        """Remove everything the app holds (rooms, recordings and their files), so that each route's
        snapshots stay small."""
        store = self.app[STORE]
        for rec in await every_recording(store, RecordingQuery(limit=100)):
            await store.delete_recording(rec.recording_id)
        while True:
            page = await store.list_rooms(RoomQuery(limit=100))
            if not page.items:
                break
            for room in page.items:
                await store.delete_room(room.room_id)
        for path in self.app[RECORDINGS].dir.glob("*"):
            if path.is_file():
                path.unlink()

    def snapshot(self):
        return snapshot(self.app[STORE].path, self.app[STORE].path.parent)


@pytest.fixture
def sqlite_settings(settings_factory):
    return settings_factory(rest_rate_limit_per_minute=0)   # hundreds of calls in a few seconds


async def test_every_route_has_a_row(sqlite_settings):
    async with running_app(sqlite_settings) as (_, app, _):
        served = served_routes(app)
    missing = sorted(served - set(ROWS))
    stale = sorted(set(ROWS) - served)
    assert not missing, ("routes without a row in the permission matrix (add one to ROWS in "
                         f"tests/integration/test_security_permissions.py): {missing}")
    assert not stale, f"rows for routes the app no longer serves: {stale}"


async def call(world: World, method: str, path: str, row: Row, cred: str):
    headers, query = world.credential(cred)
    if row.query:
        for part in world.fill(row.query).split("&"):
            k, _, v = part.partition("=")
            query.setdefault(k, v)
    kw: dict[str, Any] = {"headers": headers, "params": query, "allow_redirects": False}
    if row.body is not None:
        kw["json"] = world.fill(row.body)
    resp = await world.client.request(method, world.fill(path), **kw)
    await resp.read()
    return resp


@pytest.mark.timeout(120)
async def test_permission_matrix(sqlite_settings):
    mismatches: list[str] = []
    async with running_app(sqlite_settings) as (client, app, _):
        served = served_routes(app)
        for (method, path) in sorted(served & set(ROWS)):
            row = ROWS[(method, path)]
            world = await World(client, app).build()    # fresh rooms: an allowed call may delete them
            refused = [c for c in CREDENTIALS_HELD if row.access[c] != OK]
            for cred in refused + [c for c in CREDENTIALS_HELD if row.access[c] == OK]:
                want = row.access[cred]
                before = world.snapshot() if want != OK else None
                resp = await call(world, method, path, row, cred)
                where = f"{method} {path} as {cred}"
                if want == OK:
                    if resp.status in (401, 403) or resp.status >= 500:
                        mismatches.append(f"{where}: {resp.status}, expected to pass the credential check")
                    continue
                if resp.status != want:
                    mismatches.append(f"{where}: {resp.status}, expected {want}")
                if resp.content_type == "application/json" and path.startswith(("/api", "/meet", "/v1", "/internal")):
                    body = await resp.json()
                    if not (isinstance(body, dict) and body.get("code") and body.get("message")):
                        mismatches.append(f"{where}: refusal without code and message: {body}")
                changed = difference(before, world.snapshot())
                if changed:
                    mismatches.append(f"{where}: refused ({resp.status}) but the store changed:\n{changed}")
            await world.clear()
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches)
