"""Embedding (docs/embed.md): an integrator's page on another site (127.0.0.2, a second small
aiohttp app) embeds rooms with <antechamber-room> from /embed.js; the room page's CSP lets only
allowed origins frame it; URL parameters shape the page; postMessage events and commands."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.parse

import pytest
from aiohttp import web
from playwright.sync_api import expect

from .conftest import shot
from .flows import guest_url, host_url, wait_true

INTEGRATOR_HOST = "127.0.0.2"

# The integrator's page: imports the element from the server, puts one in with the query's
# attributes and records every event it fires (window.events).
_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Integrator</title></head>
<body style="margin:0;background:#f3f4f6;font:15px sans-serif">
<header style="background:#0f766e;color:#fff;padding:10px 16px;font-weight:600">Acme CRM · Customer call</header>
<div style="display:flex;gap:16px;padding:16px">
<aside style="width:220px;background:#fff;border-radius:8px;padding:12px">Ticket #4521<br><small>Jane Doe, Acme Inc.</small></aside>
<div id="slot" style="flex:1;height:680px;border-radius:8px;overflow:hidden"></div></div>
<script type="module">
  import "%(server)s/embed.js";
  window.events = [];
  const q = new URLSearchParams(location.search);
  const el = document.createElement("antechamber-room");
  for (const [k, v] of q) el.setAttribute(k, v);
  for (const t of %(events)s) el.addEventListener(t, (e) => window.events.push({ type: t, detail: e.detail }));
  document.getElementById("slot").append(el);
  window.room = el;
</script></body></html>"""
EVENTS = ["ready", "join", "leave", "knock", "knocking", "participant_join", "participant_leave",
          "microphone_toggle", "camera_toggle", "recording_status_change", "connection_status_change"]
# Chromium denies a cross-site frame's localStorage when third-party storage is blocked: reading
# the property throws. Simulated in the room page's frames (the integrator's own page is left alone).
_DENY_STORAGE = """if (location.hostname === "127.0.0.1") Object.defineProperty(window, "localStorage", {
  get() { throw new DOMException("The document is sandboxed", "SecurityError"); } });"""


@pytest.fixture(scope="module")
def integrator(server):
    """A second web app on another site (127.0.0.2): the integrator's page."""
    with socket.socket() as s:
        try:
            s.bind((INTEGRATOR_HOST, 0))
        except OSError:
            pytest.skip("127.0.0.2 is not a local address here")
        port = s.getsockname()[1]
    page = _PAGE % {"server": server.base_url, "events": json.dumps(EVENTS)}

    async def index(request):
        return web.Response(text=page, content_type="text/html")

    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner_box = {}

    def run():
        asyncio.set_event_loop(loop)
        app = web.Application()
        app.router.add_get("/", index)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, INTEGRATOR_HOST, port).start())
        runner_box["runner"] = runner
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    yield f"http://{INTEGRATOR_HOST}:{port}"
    asyncio.run_coroutine_threadsafe(runner_box["runner"].cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def _embed(new_page, integrator: str, room_link: str, **attrs):
    page = new_page()
    page.add_init_script(_DENY_STORAGE)
    page.goto(integrator + "/?" + urllib.parse.urlencode({"room": room_link, **attrs}))
    return page


def _event(page, type_: str, timeout_ms: int = 30_000, **match):
    """The first event of ``type_`` (whose detail has ``match``) the integrator's page received."""
    found = """([t, m]) => (window.events || []).find((e) => e.type === t
        && Object.entries(m).every(([k, v]) => e.detail && e.detail[k] === v)) || null"""
    wait_true(page, found, [type_, match], timeout_ms=timeout_ms, what=f"event {type_} {match}")
    return page.evaluate(found, [type_, match])


def _room_frame(page):
    wait_true(page, "() => !!document.querySelector('antechamber-room iframe')", what="the iframe")
    frame = page.frame_locator("antechamber-room iframe")
    return frame, next(f for f in page.frames if f.url.startswith("http://127.0.0.1"))


_RECEIVES_VIDEO = """async () => {
  const media = window.antechamber && window.antechamber.media;
  if (!media || !media.sub) return false;
  let frames = 0;
  (await media.sub.getStats()).forEach((r) => { if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0; });
  return frames > 10;
}"""


def test_integrator_embeds_host_and_guest_knock_admit_media_and_kick(server, new_page, integrator):
    room = server.create_room(roomName="Embedded", isLocked=True, embedOrigins=[integrator])
    assert room["embedOrigins"] == [integrator]
    host = _embed(new_page, integrator, host_url(room), displayName="Hana Host", precallReview="off")
    assert _event(host, "ready")["detail"]["role"] == "host"
    assert _event(host, "join")["detail"]["role"] == "host"

    guest = _embed(new_page, integrator, guest_url(room), displayName="Gus Guest", precallReview="off")
    _event(guest, "knocking")
    knock = _event(host, "knock", displayName="Gus Guest")["detail"]
    host.evaluate("(id) => window.room.admitKnock(id)", knock["knockId"])
    joined = _event(guest, "join")["detail"]
    assert joined["role"] == "guest"
    _event(host, "participant_join")

    _, host_frame = _room_frame(host)
    _, guest_frame = _room_frame(guest)
    for frame in (host_frame, guest_frame):
        wait_true(frame, _RECEIVES_VIDEO, timeout_ms=60_000, what="video frames decoded inside the iframe")
    shot(host, "embedded-room", docs=True)

    # a command the guest's role does not allow is refused by the server, not carried out
    err = guest.evaluate("() => window.room.endMeeting().then(() => null, (e) => e.code)")
    assert err and err != "ok"
    # the microphone command: the event comes back through the server's participant_updated
    guest.evaluate("() => window.room.toggleMicrophone(false)")
    assert _event(guest, "microphone_toggle")["detail"] == {"enabled": False}

    status, _ = server.api("DELETE", f"/api/v1/meetings/{room['roomId']}/participants/{joined['participantId']}")
    assert status == 200
    assert _event(guest, "leave")["detail"]["reason"] == "kicked"
    _event(host, "participant_leave")
    assert not host.errors and not guest.errors, host.errors + guest.errors


def test_an_origin_not_allowed_cannot_frame_the_room(server, new_page, integrator):
    room = server.create_room(roomName="Not embeddable")
    assert room["embedOrigins"] == []
    page = _embed(new_page, integrator, guest_url(room), displayName="Eve")
    expect(page.locator("antechamber-room iframe")).to_have_count(1)
    # Chromium refuses the frame (CSP frame-ancestors): its error page, never the room page.
    frame = page.locator("antechamber-room iframe").element_handle().content_frame()
    deadline = time.monotonic() + 20
    while not frame.url.startswith("chrome-error:"):
        assert time.monotonic() < deadline, f"the frame was not refused: {frame.url}"
        page.wait_for_timeout(100)
    assert not page.evaluate("() => window.events.some((e) => e.type === 'ready')")
    # the same room, allowed afterwards through the API, frames (the page reads the list on load)
    status, body = server.api("PUT", f"/api/v1/rooms/{room['roomId']}/embed-origins", {"embedOrigins": [integrator]})
    assert status == 200 and body["embedOrigins"] == [integrator]
    page.reload()
    _event(page, "ready")


def test_url_parameters_shape_the_room_page(server, new_page):
    room = server.create_room(roomName="Params")
    warnings = []
    page = new_page()
    page.on("console", lambda m: m.type == "warning" and warnings.append(m.text))
    page.goto(guest_url(room) + "?" + urllib.parse.urlencode({
        "displayName": "Zoe", "audio": "off", "video": "off", "minimal": "", "lang": "es", "chat": "off",
        "externalId": "x" * 37, "background": "#203040"}))
    expect(page.get_by_test_id("display-name")).to_have_value("Zoe")
    expect(page.locator(".topbar")).to_be_hidden()
    assert page.evaluate("document.documentElement.lang") == "es"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(32, 48, 64)"
    assert any("externalId" in w for w in warnings), warnings    # too long: ignored with a warning
    expect(page.get_by_test_id("join")).to_be_enabled()
    page.get_by_test_id("join").click()
    expect(page.locator("#view-meeting")).to_be_visible()
    assert page.evaluate("!window.antechamber.local.audioTrack && !window.antechamber.local.videoTrack")
    expect(page.locator("#toggle-chat")).to_be_hidden()
    expect(page.locator("#toggle-people")).to_be_visible()


def test_a_theme_changes_the_computed_colours_of_the_room_page(server, new_page):
    room = server.create_room(roomName="Branded")
    page = new_page(guest_url(room))
    expect(page.get_by_test_id("join")).to_be_enabled()
    default_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    status, _ = server.api("PUT", f"/api/v1/rooms/{room['roomId']}/appearance",
                           {"scheme": "light", "background": "#faf7f0", "text": "#1a1d23", "accent": "#8a2be2"})
    assert status == 200
    status, refused = server.api("PUT", f"/api/v1/rooms/{room['roomId']}/appearance",
                                 {"background": "#faf7f0", "text": "#ffffff"})
    assert status == 422 and refused["code"] == "theme_contrast_too_low"
    page.reload()
    page.wait_for_function("() => document.body.dataset.themed !== undefined")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(250, 247, 240)" != default_bg
    # the button's background eases in (a CSS transition): wait for where it settles
    page.wait_for_function("() => getComputedStyle(document.querySelector('#join')).backgroundColor"
                           " === 'rgb(138, 43, 226)'", timeout=10_000)
    assert page.evaluate("getComputedStyle(document.querySelector('#join')).color") == "rgb(255, 255, 255)"
