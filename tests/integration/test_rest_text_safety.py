"""Text from outside at the REST edge, on both surfaces and both stores (issue 9, REST half).

A lone UTF-16 surrogate sent as a JSON escape ("\\ud800") used to reach the stores and crash
their encoders (SQLite: 500 internal_error; msgpack/Redis raised). Now every string of a body
(object keys too, at any depth), every path and query parameter and the credential headers are
checked once at the edge (server/http/api/jsonbody.py, query.py, middleware.py): text that
is not acceptable — lone surrogates, invalid UTF-8 in a URL, control characters, bidi
embedding/override/isolate controls, noncharacters — is refused with a stable code, a human
message naming the field and never repeating the value (422 native, 400 Whereby), and nothing
reaches the store or a log line.

Also: a room key or signed link that does not open a recording gets the same 403 whether the
recording exists or not (before: 403 for one that exists, 404 for one that does not).
"""

from __future__ import annotations

import asyncio
import json
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import quote

import pytest
import structlog
from hypothesis import HealthCheck, given, note
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from yarl import URL

from server.http.appkeys import CREDENTIALS, STORE
from server.domain.access.keys import derive_key
from server.store.base import RecordingQuery, RoomQuery
from server.store.records import Recording
from tests.conftest import TEST_API_KEY

FUTURE = "2099-01-01T00:00:00Z"
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def acceptable(value: str) -> bool:
    """The rule, stated independently of the server's code."""
    for ch in value:
        cp = ord(ch)
        if (0xD800 <= cp <= 0xDFFF or unicodedata.category(ch) == "Cc" or ch in "\u2028\u2029"
                or ch in BIDI_CONTROLS or 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE):
            return False
    return True


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *strings_in(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


async def answer(resp) -> tuple[int, Any]:
    """Status and JSON body; the body must be strict UTF-8 JSON holding only acceptable text."""
    raw = await resp.read()
    assert resp.status < 500, (resp.status, raw[:300])
    if not raw:
        return resp.status, None
    assert resp.content_type == "application/json", (resp.status, resp.content_type, raw[:200])
    body = json.loads(raw.decode("utf-8"))
    bad = [s for s in strings_in(body) if not acceptable(s)]
    assert not bad, f"the answer repeats text that is not acceptable: {bad!r}"
    return resp.status, body


def assert_refusal(status: int, body: Any, *, whereby: bool, field: Optional[str], raw_bytes: bool = False) -> None:
    """A clear 4xx: stable code, human message; text refusals name the field."""
    assert 400 <= status < 500 and isinstance(body, dict), (status, body)
    assert body["code"] == body["error"] and body["code"] and body["message"], body
    if raw_bytes and body["code"] == "invalid_json":     # raw bytes that are not UTF-8 / raw C0 in JSON
        assert status == 400
        return
    assert body["code"] == "validation_error", body
    assert status == (400 if whereby else 422), (status, body)
    if field is not None:
        assert field in [d["field"] for d in body["details"]], (field, body)
        assert field in body["message"]


def enc(value: str) -> str:
    """Percent-encode for a URL, a lone surrogate as the (invalid) UTF-8 bytes it would be."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


# ------------------------------------------------------------------------------------------------
# the store, seen through the listings


async def listing(client, auth, what: str, room_id: str = "") -> Any:
    url = {"rooms": "/api/v1/rooms?maxItems=100", "meetings": "/v1/meetings?limit=100",
           "members": f"/api/v1/rooms/{room_id}/members", "recordings": "/api/v1/recordings?maxItems=100"}[what]
    resp = await client.get(url, headers=auth)
    assert resp.status == 200
    return await resp.json()


async def store_is_clean(client) -> None:
    """Read everything straight from the store: every string in it is acceptable text."""
    store = client.server.app[STORE]
    rooms = (await store.list_rooms(RoomQuery(limit=100))).items
    recordings = (await store.list_recordings(RecordingQuery(limit=100))).items
    members = [m for r in rooms for m in await store.list_members(r.room_id)]
    docs = [r.to_doc() if hasattr(r, "to_doc") else vars(r) for r in (*rooms, *recordings, *members)]
    bad = [s for d in docs for s in strings_in(json.loads(json.dumps(d, default=str)))
           if not acceptable(s)]
    assert not bad, bad


# ------------------------------------------------------------------------------------------------
# regression: the report of issue 9


async def test_lone_surrogate_room_name_is_refused_and_nothing_stored(client, auth):
    headers = {**auth, "Content-Type": "application/json"}
    for path in ("/api/v1/rooms", "/meet/api/v1/rooms"):
        status, body = await answer(await client.post(path, data=b'{"roomName": "\\ud800x"}', headers=headers))
        assert_refusal(status, body, whereby=False, field="roomName")
        assert "U+D800" in body["details"][0]["message"]
    status, body = await answer(await client.post(
        "/v1/meetings", data=f'{{"endDate": "{FUTURE}", "roomNamePrefix": "\\ud800x"}}'.encode(), headers=headers))
    assert_refusal(status, body, whereby=True, field="roomNamePrefix")
    # a query parameter, both surfaces
    status, body = await answer(await client.get(URL("/api/v1/rooms?roomName=%ED%A0%80x", encoded=True),
                                                 headers=auth))
    assert_refusal(status, body, whereby=False, field="roomName")
    status, body = await answer(await client.get(URL("/v1/meetings?cursor=%ED%A0%80", encoded=True), headers=auth))
    assert_refusal(status, body, whereby=True, field="cursor")
    # nothing stored, straight from the store
    store = client.server.app[STORE]
    assert (await store.list_rooms(RoomQuery(limit=100))).items == []
    assert (await listing(client, auth, "rooms"))["rooms"] == []
    assert (await listing(client, auth, "meetings"))["results"] == []
    # and the server still works
    assert (await client.post("/api/v1/rooms", json={"roomName": "Café ☕"}, headers=auth)).status == 201


async def test_a_lone_surrogate_room_id_in_a_body_no_longer_reaches_the_store(client, auth):
    """POST /api/v1/recordings {"roomId": "\\ud800"} was a 500 (SQLite could not encode the look-up)."""
    resp = await client.post("/api/v1/recordings", data=b'{"roomId": "\\ud800"}',
                             headers={**auth, "Content-Type": "application/json"})
    status, body = await answer(resp)
    assert_refusal(status, body, whereby=False, field="roomId")


@pytest.mark.parametrize("path, whereby, field", [
    ("/api/v1/rooms/%ED%A0%80", False, "roomId"),
    ("/api/v1/rooms/%FF", False, "roomId"),
    ("/meet/api/v1/rooms/%FF/config", False, "roomId"),
    ("/api/v1/rooms/r/members/%ED%A0%80", False, "memberId"),
    ("/api/v1/rooms/a%00b", False, "roomId"),
    ("/api/v1/rooms/a%E2%80%AEb", False, "roomId"),
    ("/api/v1/recordings/%FF", False, "recordingId"),
    ("/api/v1/recordings/%1F%7B", False, "recordingId"),   # "{" matches no route; bulk-delete is no name
    ("/api/v1/rooms/%7B%00", False, "roomId"),
    ("/api/v1/recordings/%ED%A0%80/media", False, "recordingId"),
    ("/api/v1/no-such-route/%FF", False, "path"),
    ("/v1/meetings/%ED%A0%80", True, "meetingId"),
    ("/v1/recordings/%FF/access-link", True, "recordingId"),
    ("/api/v1/rooms?%FF=1", False, "query"),
    ("/api/v1/rooms?maxItems=1&status=%C2%85", False, "status"),
    ("/v1/meetings?fields=%EF%BF%BE", True, "fields"),
    ("/v1/recordings?roomName=%2F%E2%81%A6x", True, "roomName"),
])
async def test_urls_with_bytes_that_are_not_text_get_a_clean_json_4xx(client, auth, path, whereby, field):
    for method in ("GET", "DELETE"):
        resp = await client.request(method, URL(path, encoded=True), headers=auth)
        status, body = await answer(resp)
        assert_refusal(status, body, whereby=whereby, field=field)
    # without a key too: the text check comes first, and says nothing about the key
    status, body = await answer(await client.get(URL(path, encoded=True)))
    assert_refusal(status, body, whereby=whereby, field=field)


async def raw_request(client, head: bytes) -> tuple[int, Any]:
    """Send a request whose header bytes a normal client would refuse to encode."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(head + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
        await writer.wait_closed()
    head_part, _, payload = raw.partition(b"\r\n\r\n")
    return int(head_part.split(b" ", 2)[1]), json.loads(payload.decode("utf-8"))


@pytest.mark.parametrize("line, header, whereby", [
    (b"GET /api/v1/rooms HTTP/1.1", b"X-API-KEY: \xed\xa0\x80", False),
    (b"GET /api/v1/rooms HTTP/1.1", b"Authorization: Bearer \xff\xfe", False),
    (b"GET /api/v1/recordings/rec_x HTTP/1.1", b"X-Room-Key: \xff", False),
    (b"GET /api/v1/recordings/rec_x HTTP/1.1", b"X-Room-Key: ab\xe2\x80\xaecd", False),
    (b"GET /v1/meetings HTTP/1.1", b"Authorization: Bearer " + TEST_API_KEY.encode() + b"\xc2\x85", True),
])
async def test_credential_headers_that_are_not_text_are_refused(client, line, header, whereby):
    status, body = await raw_request(client, line + b"\r\n" + header)
    field = header.split(b":", 1)[0].decode()
    assert_refusal(status, body, whereby=whereby, field=field)
    assert TEST_API_KEY not in json.dumps(body)


async def test_refused_text_never_reaches_a_log_line(client, auth):
    headers = {**auth, "Content-Type": "application/json"}
    room = (await (await client.post("/api/v1/rooms", json={}, headers=auth)).json())["roomId"]
    with structlog.testing.capture_logs() as events:
        await client.post("/api/v1/rooms", data=b'{"roomName": "\\u202eevil\\ud800"}', headers=headers)
        await client.post(f"/api/v1/rooms/{room}/members", data=b'{"name": "\\ud800", "baseRole": "speaker"}',
                          headers=headers)
        await client.put(f"/api/v1/rooms/{room}/lock", data=b'{"isLocked": true, "\\u2066": 1}', headers=headers)
        await client.post("/api/v1/recordings", data=b'{"roomId": "\\udfff"}', headers=headers)
        await client.post("/v1/recordings/bulk-delete", data=b'{"recordingIds": ["\\ud800"]}', headers=headers)
        await client.get(URL("/api/v1/rooms/%ED%A0%80", encoded=True), headers=auth)
        await client.delete(URL(f"/api/v1/rooms/{room}/members/%FF", encoded=True), headers=auth)
    bad = [s for e in events for s in strings_in(json.loads(json.dumps(e, default=str))) if not acceptable(s)]
    assert not bad, bad
    assert not [e for e in events if e.get("log_level") in ("error", "critical")], events
    room_now = await (await client.get(f"/api/v1/rooms/{room}", headers=auth)).json()
    assert room_now["isLocked"] is False
    assert (await listing(client, auth, "members", room))["members"] == []
    await store_is_clean(client)


@pytest.mark.parametrize("query, ok", [
    ("roomKey=abc", True), ("memberKey=mbr_x.abc&lang=fr", True), ("", True),
    ("roomKey=%ED%A0%80", False), ("roomKey=%FF", False), ("roomKey=a%E2%80%AE", False), ("x%00=1", False),
])
async def test_room_pages_refuse_query_strings_that_are_not_text(client, query, ok):
    for page in ("/some-room", "/some-room/recordings"):
        resp = await client.get(URL(f"{page}?{query}" if query else page, encoded=True))
        text = (await resp.read()).decode("utf-8")
        if ok:
            assert resp.status == 200 and "<html" in text
        else:
            assert resp.status == 400 and "this link is not valid" in text, (resp.status, text[:200])
            assert "%" not in text.split(":", 1)[1]


# ------------------------------------------------------------------------------------------------
# every string field of every body and every query / path parameter, with arbitrary text

SPECIAL = [
    "\ud800", "\udfff", "\ud800x", "x\udc00y", "\ud83d", "\ud83d\ude00x", "\ufffe", "\uffff", "\ufdd0",
    "\U0001ffff", "\U0010ffff", "\x00", "\t", "\n", "a\r\nb", "\x1b[31m", "\x7f", "\x80", "\x85", "\x9f",
    "\u2028", "\u2029", "\u202a", "\u202e", "abc\u202edcba", "\u2066", "\u2069", "\u200e", "\u200f", "\u061c",
    "\u200b", "\ufeff", "\ufffd", "é", "e\u0301", "😀", "日本", "\U000e0041", "-", "a-b", "room-1", "open",
    "closed", "speaker", "moderator", "force", "hostRoomUrl", "viewerMode", "cloud", "startDate:asc", "50",
    "%ED%A0%80", "%", "+", "&x=1", "=", "/", "..", " ", "",
]
ANY_CHAR = st.one_of(st.characters(), st.characters(categories=["Cs"]), st.sampled_from(
    ["\u202e", "\u2066", "\ufffe", "\uffff", "\U0010ffff", "\x85", "\x00", "\n", "\ud800", "\udc00"]))
TEXT = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(max_size=30),                                     # any Unicode scalar values
    st.text(alphabet=ANY_CHAR, max_size=30),                  # plus lone surrogates, controls, bidi
    st.builds(lambda base, n, tail: base * n + tail,          # very long strings, valid or not at the end
              st.sampled_from(["a", "é", "😀", "-"]), st.integers(51, 20_000), st.sampled_from(SPECIAL)),
)


@dataclass
class Ctx:
    client: Any
    auth: dict[str, str]
    room: dict[str, Any]          # a native room with one member
    member: dict[str, Any]
    meeting: dict[str, Any]       # a Whereby meeting

    @property
    def room_id(self) -> str:
        return self.room["roomId"]


@dataclass
class Case:
    """One place text enters: a body field, a query parameter or a path parameter."""

    name: str
    method: str
    path: str                                       # may use {room}, {member}, {meeting}; {value}: a path parameter
    field: Optional[str]                            # what a refusal must name; None: not checked
    body: Optional[Callable[[str], Any]] = None     # value -> JSON body (a string field inside)
    param: Optional[str] = None                     # query parameter carrying the value
    listing: str = "rooms"                          # what must not change on refusal
    expect: Optional[Callable[[str], bool]] = None  # for acceptable text: must it succeed?
    stored: Optional[Callable[[Ctx, Any, str], Any]] = None   # async check that it was stored exactly

    @property
    def whereby(self) -> bool:
        return self.path.startswith("/v1/")

    @property
    def in_path(self) -> bool:
        return "{value}" in self.path


async def _room_name_stored(ctx: Ctx, body: Any, value: str) -> None:
    got = await (await ctx.client.get(f"/api/v1/rooms/{body['roomId']}", headers=ctx.auth)).json()
    assert got["roomName"] == value and body["roomName"] == value


async def _member_name_stored(ctx: Ctx, body: Any, value: str) -> None:
    got = await (await ctx.client.get(f"/api/v1/rooms/{ctx.room_id}/members/{body['memberId']}",
                                      headers=ctx.auth)).json()
    assert got["name"] == value and body["name"] == value


async def _prefix_stored(ctx: Ctx, body: Any, value: str) -> None:
    rid = body.get("roomId") or body["meetingId"]
    assert rid.startswith(value)
    assert (await ctx.client.get(f"/api/v1/rooms/{rid}", headers=ctx.auth)).status == 200


async def _status_stored(ctx: Ctx, body: Any, value: str) -> None:
    got = await (await ctx.client.get(f"/api/v1/rooms/{ctx.room_id}", headers=ctx.auth)).json()
    assert got["status"] == value


def one_of(*allowed: str) -> Callable[[str], bool]:
    return lambda v: v in allowed


def room_name_ok(v: str) -> bool:
    return 1 <= len(v) <= 50 and bool(v.strip())


def prefix_ok(v: str) -> bool:
    return len(v) <= 39 and all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in v)


def whereby_prefix(v: str) -> str:
    """Whereby lower-cases a prefix and removes its spaces before checking it."""
    return "".join(v.split()).lower()


NATIVE = "/api/v1"
CASES = [
    # --- native bodies
    Case("room.roomName", "POST", f"{NATIVE}/rooms", "roomName", body=lambda v: {"roomName": v},
         expect=room_name_ok, stored=_room_name_stored),
    Case("room.roomNamePrefix", "POST", "/meet/api/v1/rooms", "roomNamePrefix",
         body=lambda v: {"roomNamePrefix": v}, expect=prefix_ok, stored=_prefix_stored),
    Case("room.roomMode", "POST", f"{NATIVE}/rooms", "roomMode", body=lambda v: {"roomMode": v},
         expect=one_of("normal", "group")),
    Case("room.roomNamePattern", "POST", f"{NATIVE}/rooms", "roomNamePattern",
         body=lambda v: {"roomNamePattern": v}, expect=one_of("uuid", "human-short")),
    Case("room.policy.withMeeting", "POST", f"{NATIVE}/rooms", "autoDeletionPolicy.withMeeting",
         body=lambda v: {"autoDeletionPolicy": {"withMeeting": v}}, expect=one_of("force", "when_meeting_ends")),
    Case("room.key", "POST", f"{NATIVE}/rooms", "body", body=lambda v: {"roomName": "ok", v: 1},
         expect=lambda v: False),
    Case("room.config.key", "POST", f"{NATIVE}/rooms", "config", body=lambda v: {"config": {v: "x"}},
         expect=lambda v: False),
    Case("room.roles.value", "POST", f"{NATIVE}/rooms", "roles.moderator.permissions.canRecord",
         body=lambda v: {"roles": {"moderator": {"permissions": {"canRecord": v}}}}, expect=lambda v: False),
    Case("status", "PUT", f"{NATIVE}/rooms/{{room}}/status", "status", body=lambda v: {"status": v},
         expect=one_of("open", "closed"), stored=_status_stored),
    Case("lock.key", "PUT", f"{NATIVE}/rooms/{{room}}/lock", "body", body=lambda v: {"isLocked": True, v: v},
         expect=lambda v: False),
    Case("member.name", "POST", f"{NATIVE}/rooms/{{room}}/members", "name", listing="members",
         body=lambda v: {"name": v, "baseRole": "speaker"}, expect=lambda v: 1 <= len(v) <= 100,
         stored=_member_name_stored),
    Case("member.baseRole", "POST", f"{NATIVE}/rooms/{{room}}/members", "baseRole", listing="members",
         body=lambda v: {"name": "Ann", "baseRole": v}, expect=one_of("speaker", "moderator")),
    Case("member.update.name", "PUT", f"{NATIVE}/rooms/{{room}}/members/{{member}}", "name", listing="members",
         body=lambda v: {"name": v}, expect=lambda v: 1 <= len(v) <= 100, stored=_member_name_stored),
    Case("recording.start.roomId", "POST", f"{NATIVE}/recordings", "roomId", listing="recordings",
         body=lambda v: {"roomId": v}, expect=lambda v: False),
    # --- native query parameters
    Case("rooms?roomName", "GET", f"{NATIVE}/rooms", "roomName", param="roomName",
         expect=lambda v: len(v) <= 50),
    Case("rooms?status", "GET", f"{NATIVE}/rooms", "status", param="status"),
    Case("rooms?sortField", "GET", f"{NATIVE}/rooms", "sortField", param="sortField"),
    Case("rooms?maxItems", "GET", f"{NATIVE}/rooms", "maxItems", param="maxItems"),
    Case("rooms?nextPageToken", "GET", f"{NATIVE}/rooms", "nextPageToken", param="nextPageToken"),
    Case("rooms?<name>", "GET", f"{NATIVE}/rooms", None, param="*name*"),
    Case("rooms?roomIds (bulk delete)", "DELETE", f"{NATIVE}/rooms", "roomIds", param="roomIds"),
    Case("room?withMeeting", "DELETE", f"{NATIVE}/rooms/no-such-room", "withMeeting", param="withMeeting"),
    Case("recordings?roomId", "GET", f"{NATIVE}/recordings", "roomId", param="roomId", listing="recordings"),
    Case("recordings?roomKey", "GET", f"{NATIVE}/recordings/rec_none", "roomKey", param="roomKey",
         listing="recordings"),
    Case("recordings?recordingKey", "GET", f"{NATIVE}/recordings/rec_none/media", "recordingKey",
         param="recordingKey", listing="recordings"),
    Case("recordings?signature", "GET", f"{NATIVE}/recordings/rec_none/media?expires=1", "signature",
         param="signature", listing="recordings"),
    Case("recordings?expiresIn", "GET", f"{NATIVE}/recordings/rec_none/url", "expiresIn", param="expiresIn",
         listing="recordings"),
    # --- native path parameters
    Case("/rooms/{roomId}", "GET", f"{NATIVE}/rooms/{{value}}", "roomId"),
    Case("/rooms/{roomId}/lock", "PUT", f"{NATIVE}/rooms/{{value}}/lock", "roomId",
         body=lambda v: {"isLocked": True}),
    Case("/members/{memberId}", "DELETE", f"{NATIVE}/rooms/{{room}}/members/{{value}}", "memberId",
         listing="members"),
    Case("/recordings/{recordingId}", "DELETE", f"{NATIVE}/recordings/{{value}}", "recordingId",
         listing="recordings"),
    # --- Whereby bodies
    Case("meeting.roomNamePrefix", "POST", "/v1/meetings", "roomNamePrefix", listing="meetings",
         body=lambda v: {"endDate": FUTURE, "roomNamePrefix": v}, expect=lambda v: prefix_ok(whereby_prefix(v)),
         stored=lambda ctx, body, v: _prefix_stored(ctx, body, whereby_prefix(v))),
    Case("meeting.endDate", "POST", "/v1/meetings", "endDate", listing="meetings", body=lambda v: {"endDate": v}),
    Case("meeting.startDate", "POST", "/v1/meetings", "startDate", listing="meetings",
         body=lambda v: {"endDate": FUTURE, "startDate": v}, expect=lambda v: len(v) <= 64),
    Case("meeting.fields[0]", "POST", "/v1/meetings", "fields[0]", listing="meetings",
         body=lambda v: {"endDate": FUTURE, "fields": [v]}, expect=one_of("hostRoomUrl", "viewerRoomUrl")),
    Case("meeting.recording.type", "POST", "/v1/meetings", "recording.type", listing="meetings",
         body=lambda v: {"endDate": FUTURE, "recording": {"type": v}}, expect=one_of("none", "local", "cloud")),
    Case("meeting.templateType", "POST", "/v1/meetings", "templateType", listing="meetings",
         body=lambda v: {"endDate": FUTURE, "templateType": v}, expect=one_of("viewerMode")),
    Case("meeting.key", "POST", "/v1/meetings", "body", listing="meetings",
         body=lambda v: {"endDate": FUTURE, v: True}, expect=lambda v: False),
    Case("recordings.bulk-delete[0]", "POST", "/v1/recordings/bulk-delete", "recordingIds[0]",
         listing="recordings", body=lambda v: {"recordingIds": [v]}),
    # --- Whereby query and path parameters
    Case("meetings?cursor", "GET", "/v1/meetings", "cursor", param="cursor", listing="meetings"),
    Case("meetings?limit", "GET", "/v1/meetings", "limit", param="limit", listing="meetings"),
    Case("meeting?fields", "GET", "/v1/meetings/{meeting}", "fields", param="fields", listing="meetings"),
    Case("/meetings/{meetingId}", "GET", "/v1/meetings/{value}", "meetingId", listing="meetings"),
    Case("v1/recordings?roomName", "GET", "/v1/recordings", "roomName", param="roomName", listing="recordings"),
    Case("v1/recordings?sortBy", "GET", "/v1/recordings", "sortBy", param="sortBy", listing="recordings"),
    Case("v1/recordings?cursor", "GET", "/v1/recordings", "cursor", param="cursor", listing="recordings"),
    Case("access-link?validForSeconds", "GET", "/v1/recordings/rec_none/access-link", "validForSeconds",
         param="validForSeconds", listing="recordings"),
    Case("/v1/recordings/{recordingId}/media", "GET", "/v1/recordings/{value}/media", "recordingId",
         listing="recordings"),
]


@pytest.fixture
def settings(settings):
    """Hundreds of calls a minute: the REST budget (tested in test_limits_rest.py) is off here."""
    return settings.replace(rest_rate_limit_per_minute=0)


@pytest.fixture
async def ctx(client, auth) -> Ctx:
    room = await (await client.post("/api/v1/rooms", json={"roomName": "Base"}, headers=auth)).json()
    member = await (await client.post(f"/api/v1/rooms/{room['roomId']}/members",
                                      json={"name": "Mia", "baseRole": "speaker"}, headers=auth)).json()
    meeting = await (await client.post("/v1/meetings", json={"endDate": FUTURE}, headers=auth)).json()
    return Ctx(client, auth, room, member, meeting)


async def send(ctx: Ctx, case: Case, value: str, escaped: bool):
    path = case.path.format(room=ctx.room_id, member=ctx.member["memberId"], meeting=ctx.meeting["meetingId"],
                            value=enc(value))
    headers = dict(ctx.auth)
    data = None
    if case.body is not None and not case.in_path:
        body = case.body(value)
        # escaped: "\\ud800" as a JSON escape (the report); raw: the characters as UTF-8 bytes
        data = (json.dumps(body) if escaped else json.dumps(body, ensure_ascii=False)).encode("utf-8", "surrogatepass")
        headers["Content-Type"] = "application/json"
    elif case.body is not None:
        data, headers["Content-Type"] = json.dumps(case.body(value)).encode(), "application/json"
    if case.param == "*name*":
        path += f"?{enc(value)}=1"
    elif case.param is not None:
        path += ("&" if "?" in path else "?") + f"{case.param}={enc(value)}"
    return await ctx.client.request(case.method, URL(path, encoded=True), data=data, headers=headers)


async def check_case(ctx: Ctx, case: Case, value: str, escaped: bool) -> None:
    if case.in_path and value in ("", ".", ".."):
        return                        # another route (or none): not this parameter
    sent = value
    if case.body is not None and not case.in_path and escaped:
        # what the server decodes: JSON joins an escaped surrogate pair ("\ud83d\ude00") into one character
        sent = json.loads(json.dumps(value))
    before = await listing(ctx.client, ctx.auth, case.listing, ctx.room_id)
    resp = await send(ctx, case, value, escaped)
    if resp.status == 400 and len(str(resp.url)) > 8000 and resp.content_type == "text/plain":
        # aiohttp's HTTP parser refuses a request line over 8190 bytes itself (plain text, before the app)
        assert await listing(ctx.client, ctx.auth, case.listing, ctx.room_id) == before
        return
    status, body = await answer(resp)
    if not acceptable(sent):
        assert_refusal(status, body, whereby=case.whereby, field=case.field,
                       raw_bytes=case.body is not None and not case.in_path and not escaped)
    elif status >= 400:
        # refused for another reason (length, enum, unknown field, no such room): still clear
        assert body["code"] and body["message"], body
        assert not (case.expect and case.expect(sent)), (case.name, value, status, body)
    if status >= 400:
        assert await listing(ctx.client, ctx.auth, case.listing, ctx.room_id) == before, "changed on refusal"
    elif case.stored is not None:
        await case.stored(ctx, body, sent)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@hsettings(max_examples=15, deadline=None, database=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(value=TEXT, escaped=st.booleans())
async def test_arbitrary_text_everywhere_is_refused_clearly_or_stored_exactly(ctx, case, value, escaped):
    note(f"{case.name}: {value[:200]!r} (length {len(value)}), escaped={escaped}")
    await check_case(ctx, case, value, escaped)


SWEEP = ["\ud800x", "x\udfff", "\ud83d\ude00x", "\x00", "\n", "\x85", "\u202e", "\u2068", "\ufffe", "\u2028",
         "é😀", "\u200f"]


async def test_the_worst_values_in_every_place(ctx):
    """Lone surrogates (and a surrogate pair, which JSON escapes may carry), controls, bidi controls,
    a noncharacter and valid text, in every place, deterministically (hypothesis only samples them)."""
    for case in CASES:
        for value in SWEEP:
            for escaped in (True, False) if case.body is not None else (True,):
                try:
                    await check_case(ctx, case, value, escaped)
                except AssertionError as exc:
                    raise AssertionError(f"{case.name}: {value!r}, escaped={escaped}: {exc}") from exc
    await store_is_clean(ctx.client)


# ------------------------------------------------------------------------------------------------
# recordings: a wrong key answers the same whether the recording exists or not


@pytest.fixture
async def recs(client, auth):
    app = client.server.app
    a = await (await client.post("/api/v1/rooms", json={"roomName": "A"}, headers=auth)).json()
    b = await (await client.post("/api/v1/rooms", json={"roomName": "B"}, headers=auth)).json()
    rec = Recording(recording_id="rec_exists", room_id=a["roomId"], status="complete", start_date=1000,
                    filename="rec_exists.mkv")
    await app[STORE].create_recording(rec)
    secret = app[CREDENTIALS].server_secret
    return {"a": a["roomId"], "b": b["roomId"], "secret": secret}


def wrong_credentials(recs) -> list[tuple[dict, dict]]:
    """(query, headers) pairs of keys that do not open rec_exists."""
    s, a, b = recs["secret"], recs["a"], recs["b"]
    return [
        ({"roomKey": "not-a-key"}, {}),
        ({"roomKey": derive_key(s, b, "host", 0)}, {}),                  # another room's host key
        ({}, {"X-Room-Key": derive_key(s, b, "host", 0)}),
        ({"roomKey": derive_key(s, a, "host", 1)}, {}),                  # this room's key before a rotation
        ({"roomKey": f"mbr_nobody.{derive_key(s, a, 'member:mbr_nobody', 0)}"}, {}),
        ({"recordingKey": "wrong"}, {}),
        ({"recordingKey": derive_key(s, b, "recording", 0)}, {}),       # another room's recording key
    ]


OPERATIONS = [("GET", ""), ("GET", "/media"), ("GET", "/url"), ("DELETE", ""), ("DELETE", "/url")]


async def test_a_wrong_key_gets_the_same_answer_for_a_recording_that_exists_and_one_that_does_not(
        client, auth, recs):
    for query, headers in wrong_credentials(recs):
        for method, tail in OPERATIONS:
            answers = []
            for rid in ("rec_exists", "rec_missing", "not..an..id"):
                resp = await client.request(method, f"/api/v1/recordings/{rid}{tail}", params=query, headers=headers)
                answers.append(await answer(resp))
            assert answers[0] == answers[1] == answers[2], (query, headers, method, tail, answers)
            status, body = answers[0]
            assert status == 403 and body["code"] == "forbidden" and body["message"], body
    # nothing was deleted or revoked; the API key still tells existence apart (unchanged)
    assert (await client.get("/api/v1/recordings/rec_exists", headers=auth)).status == 200
    missing = await client.get("/api/v1/recordings/rec_missing", headers=auth)
    assert missing.status == 404 and (await missing.json())["code"] == "recording_not_found"
    assert (await client.get("/v1/recordings/rec_missing", headers=auth)).status == 404
    assert (await client.get("/v1/recordings/rec_exists", headers=auth)).status == 200


async def test_a_key_that_fits_but_lacks_the_permission_looks_the_same_too(client, auth, recs):
    """A host whose room denies canRetrieveRecordings learns nothing either."""
    resp = await client.put(f"/api/v1/rooms/{recs['a']}/roles", headers=auth, json={
        "roles": {"moderator": {"permissions": {"canRetrieveRecordings": False}}}})
    assert resp.status == 200
    key = derive_key(recs["secret"], recs["a"], "host", 0)
    there = await answer(await client.get("/api/v1/recordings/rec_exists", params={"roomKey": key}))
    gone = await answer(await client.get("/api/v1/recordings/rec_missing", params={"roomKey": key}))
    assert there == gone and there[0] == 403
    # and the host may read it once the room allows it again
    await client.put(f"/api/v1/rooms/{recs['a']}/roles", headers=auth, json={
        "roles": {"moderator": {"permissions": {"canRetrieveRecordings": True}}}})
    ok = await client.get("/api/v1/recordings/rec_exists", params={"roomKey": key})
    assert ok.status == 200 and (await ok.json())["recordingId"] == "rec_exists"


async def test_a_forged_signed_link_gets_the_same_answer_for_a_recording_that_exists_and_one_that_does_not(
        client, auth, recs):
    good = await (await client.get("/api/v1/recordings/rec_exists/url", headers=auth)).json()
    query = good["url"].split("?", 1)[1]
    params = dict(p.split("=", 1) for p in query.split("&"))
    forged_sig = ("A" if params["signature"][0] != "A" else "B") + params["signature"][1:]
    for link in (f"expires={params['expires']}&signature={forged_sig}",        # forged signature
                 f"expires=1&signature={params['signature']}",                 # tampered expiry
                 "expires=abc&signature=x", "signature=x", "expires=99999999999"):
        there = await answer(await client.get(URL(f"/api/v1/recordings/rec_exists/media?{link}", encoded=True)))
        gone = await answer(await client.get(URL(f"/api/v1/recordings/rec_missing/media?{link}", encoded=True)))
        assert there == gone, (link, there, gone)
        assert there[0] == 403 and there[1]["code"] == "invalid_link"
    # the genuine link to a recording without a file: past the signature check (a 404 about the file)
    status, body = await answer(await client.get(URL(f"/api/v1/recordings/rec_exists/media?{query}", encoded=True)))
    assert status == 404 and body["code"] == "recording_file_missing"
