"""Allowed framing origins over both REST surfaces and in the room page's CSP (docs/embed.md)."""

from __future__ import annotations

import pytest

from server.app import create_app
from server.config import ConfigError, load_settings
from server.credentials import load_or_create
from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import TEST_API_KEY


def _ancestors(resp) -> str:
    csp = resp.headers["Content-Security-Policy"]
    return next(part.strip() for part in csp.split(";") if part.strip().startswith("frame-ancestors"))


async def test_room_origins_both_apis_normalised_and_in_the_csp(client, auth):
    resp = await client.post("/api/v1/rooms", json={"embedOrigins": ["HTTPS://App.Example.com:443", "http://127.0.0.2:8000",
                                                                     "https://app.example.com"]}, headers=auth)
    assert resp.status == 201, await resp.text()
    room = await resp.json()
    assert room["embedOrigins"] == ["https://app.example.com", "http://127.0.0.2:8000"]
    page = await client.get(f"/{room['roomId']}")
    assert _ancestors(page) == "frame-ancestors 'self' https://app.example.com http://127.0.0.2:8000"
    assert page.headers["Referrer-Policy"] == "no-referrer" and "no-store" in page.headers["Cache-Control"]
    # replaced through PUT: the next page load uses the new list; [] leaves only 'self'
    put = await client.put(f"/api/v1/rooms/{room['roomId']}/embed-origins", json={"embedOrigins": []}, headers=auth)
    assert put.status == 200 and (await put.json())["embedOrigins"] == []
    assert _ancestors(await client.get(f"/{room['roomId']}")) == "frame-ancestors 'self'"
    # the Whereby-compatible surface: on create and through PUT
    meeting = await client.post("/v1/meetings", json={"endDate": "2099-01-01T00:00:00Z",
                                                     "embedOrigins": ["https://crm.example.org"]}, headers=auth)
    assert meeting.status == 201, await meeting.text()
    body = await meeting.json()
    assert body["embedOrigins"] == ["https://crm.example.org"]
    put = await client.put(f"/v1/meetings/{body['meetingId']}/embed-origins",
                           json={"embedOrigins": ["https://b.example.org:8443"]}, headers=auth)
    assert put.status == 200
    assert _ancestors(await client.get(f"/{body['meetingId']}")) == "frame-ancestors 'self' https://b.example.org:8443"
    # other pages are never framed
    assert _ancestors(await client.get("/dashboard")) == "frame-ancestors 'none'"


@pytest.mark.parametrize("bad", ["https://app.example.com/path", "ftp://x.org", "https://*.example.com",
                                 "https://user@x.org", "x.org", "https://x.org?q", "", "https://x.org:0", 7,
                                 "https://exa mple.org"])
async def test_what_is_not_an_origin_is_refused_naming_the_field(client, auth, bad):
    native = await client.post("/api/v1/rooms", json={"embedOrigins": [bad]}, headers=auth)
    assert native.status == 422
    body = await native.json()
    assert body["code"] and body["message"] and "embedOrigins" in str(body)
    whereby = await client.post("/v1/meetings", json={"endDate": "2099-01-01T00:00:00Z", "embedOrigins": [bad]},
                                headers=auth)
    assert whereby.status == 400 and "embedOrigins" in str(await whereby.json())


async def test_put_on_an_unknown_room_and_the_openapi_document(client, auth):
    resp = await client.put("/api/v1/rooms/nope/embed-origins", json={"embedOrigins": []}, headers=auth)
    assert resp.status == 404 and (await resp.json())["code"] == "room_not_found"
    doc = await (await client.get("/api/openapi.json")).json()
    assert "/api/v1/rooms/{roomId}/embed-origins" in doc["paths"]
    assert "/v1/meetings/{meetingId}/embed-origins" in doc["paths"]


async def test_embed_module_is_importable_from_another_origin(client):
    resp = await client.get("/embed.js", headers={"Origin": "https://app.example.com"})
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Content-Type"].startswith("text/javascript")
    assert "customElements.define(\"antechamber-room\"" in await resp.text()
    demo = await client.get("/embed-demo")
    assert demo.status == 200 and "antechamber-room" in await demo.text()


async def test_server_origins_from_the_setting(settings_factory):
    settings = settings_factory(embed_origins=("https://a.example.org",))
    from server.config import _validate  # normalised as load_settings does
    settings = _validate(settings)
    app = create_app(settings, load_or_create(settings.data_dir, settings.api_keys))
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        resp = await c.post("/api/v1/rooms", json={"embedOrigins": ["https://b.example.org"]},
                            headers={"Authorization": f"Bearer {TEST_API_KEY}"})
        room = await resp.json()
        page = await c.get(f"/{room['roomId']}")
        assert _ancestors(page) == "frame-ancestors 'self' https://a.example.org https://b.example.org"


def test_the_setting_is_checked():
    assert load_settings({"embed_origins": ("HTTPS://A.example.org:443/",)}, env={}).embed_origins == (
        "https://a.example.org",)
    with pytest.raises(ConfigError, match="embed_origins"):
        load_settings({"embed_origins": ("https://a.example.org/x",)}, env={})


# --- branding --------------------------------------------------------------------------------

PNG_1x1 = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5d8e6a60000000049454e44ae426082")


async def test_appearance_refuses_unreadable_text_and_the_page_reads_the_theme(client, auth):
    room = await (await client.post("/api/v1/rooms", json={}, headers=auth)).json()
    rid = room["roomId"]
    low = await client.put(f"/api/v1/rooms/{rid}/appearance", json={"background": "#777777", "text": "#888888"},
                           headers=auth)
    assert low.status == 422
    body = await low.json()
    assert body["code"] == "theme_contrast_too_low" and "WCAG AA" in body["message"]
    assert body["details"][0]["field"] in ("background", "text")
    bad = await client.put(f"/api/v1/rooms/{rid}/appearance", json={"accent": "red"}, headers=auth)
    assert bad.status == 422 and (await bad.json())["details"][0]["field"] == "accent"
    ok = await client.put(f"/api/v1/rooms/{rid}/appearance", json={"scheme": "light", "background": "#FAF7F0",
                                                                  "accent": "#8a2be2"}, headers=auth)
    assert ok.status == 200, await ok.text()
    # the public theme: no key needed, CSS custom properties with a readable text on the accent
    theme = await (await client.get(f"/{rid}/theme")).json()
    assert theme["colors"]["--bg"] == "#faf7f0" and theme["colors"]["--accent"] == "#8a2be2"
    assert theme["colors"]["--accent-text"] == "#ffffff" and theme["scheme"] == "light"
    # a Whereby logo upload is served publicly with the type its bytes proved
    put = await client.put(f"/v1/rooms/{rid}/theme/logo", data={"image": PNG_1x1}, headers=auth)
    assert put.status in (200, 204), await put.text()
    theme = await (await client.get(f"/{rid}/theme")).json()
    image = await client.get(theme["images"]["logo"])
    assert image.status == 200 and image.headers["Content-Type"] == "image/png"
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert (await client.get("/nope-room/theme")).status == 404


# --- externalId / metadata from the room page's URL parameters, in the webhooks ---------------

async def test_join_external_id_and_metadata_reach_the_whereby_webhooks(settings, auth):
    from tests.helpers.signaling import clients, host_key, make_room, serve, until
    from tests.helpers.webhook_receiver import Receiver

    receiver = await Receiver().start()
    try:
        hooked = settings.replace(webhook_urls=(receiver.url("/w"),), webhook_secrets=("whsec-embed-0123456789abcdef",),
                                  webhook_formats=("whereby",), webhook_backoff_seconds=0.05,
                                  webhook_backoff_max_seconds=0.2, webhook_poll_seconds=0.05)
        async with serve(hooked) as client:
            room = await make_room(client, auth, roomName="Ids")
            async with clients(client) as cs:
                c = await cs.open()
                reply = await c.request("join", roomName=room["roomId"], displayName="Ada", key=host_key(room),
                                        externalId="crm-user-42", metadata="ticket 4521")
                assert reply["type"] == "joined", reply
                await c.send("leave")
                await until(lambda: len(receiver.ok("/w")) >= 3, 15, "deliveries")
        by_type = {r.body["type"]: r.body["data"] for r in receiver.ok("/w")}
        for kind in ("room.client.joined", "room.client.left"):
            assert (by_type[kind]["externalId"], by_type[kind]["metadata"]) == ("crm-user-42", "ticket 4521"), kind
    finally:
        await receiver.stop()


def test_the_join_message_checks_external_id_and_metadata():
    from signaling.errors import InvalidField
    from signaling.wire.protocol import parse

    ok = parse({"type": "join", "roomName": "r", "displayName": "Ada", "externalId": "a-1", "metadata": "m"})
    assert (ok["externalId"], ok["metadata"]) == ("a-1", "m")
    for bad in ({"externalId": "x" * 37}, {"externalId": ""}, {"metadata": "x" * 257}, {"metadata": "a\u0000"}):
        with pytest.raises(InvalidField):
            parse({"type": "join", "roomName": "r", "displayName": "Ada", **bad})


@pytest.mark.parametrize("body", [{"scheme": {}}, {"scheme": []}, {"text": {}}, {"accent": 7}, [], "x", {"x": 1}])
async def test_hostile_appearance_bodies_answer_422(client, auth, body):
    room = await (await client.post("/api/v1/rooms", json={}, headers=auth)).json()
    resp = await client.put(f"/api/v1/rooms/{room['roomId']}/appearance", json=body, headers=auth)
    assert resp.status in (400, 422), await resp.text()
    assert (await resp.json())["code"]
