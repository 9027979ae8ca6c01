"""The room page as a user meets it (issue 14 "The room page"): confirmations before ending the
meeting for everyone and removing someone, tooltips on icon-only controls, the phone-size host view
with its "more" menu, early errors before the preview and name field, a reconnecting participant
shown as such on its tile, and device switching between two distinct fake devices."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest
from playwright.sync_api import expect

from .conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, shot
from .flows import (ended, guest_url, host_url, in_meeting, join, knock_item, knock_state, meeting_of_two, open_people,
                    participant_id, person, wait_true)

pytestmark = pytest.mark.e2e

GRACE_S = 4  # this module's server keeps a dropped participant's place for 4 s (the default is 20 s)


@pytest.fixture(scope="module", autouse=True)
def _short_grace():
    """Autouse module fixtures start before the module's ``server``: it runs with a short grace."""
    old = os.environ.get("ANTECHAMBER_RECONNECT_GRACE_SECONDS")
    os.environ["ANTECHAMBER_RECONNECT_GRACE_SECONDS"] = str(GRACE_S)
    yield
    if old is None:
        os.environ.pop("ANTECHAMBER_RECONNECT_GRACE_SECONDS", None)
    else:
        os.environ["ANTECHAMBER_RECONNECT_GRACE_SECONDS"] = old


# Visible buttons showing only an icon (no text of their own) that lack a tooltip (title).
ICON_ONLY_WITHOUT_TOOLTIP = """() => [...document.querySelectorAll("button")]
  .filter((b) => b.checkVisibility() && !(b.innerText || "").trim().replace(/^\\d+$/, "") && !b.title)
  .map((b) => b.id || b.outerHTML.slice(0, 80))"""


def test_end_for_all_and_remove_ask_first_and_cancel_changes_nothing(server, new_page):
    _, host, guest = meeting_of_two(server, new_page, "Confirm", locked=False)
    end = host.get_by_test_id("end-meeting")
    expect(end).to_contain_text("End for all")
    expect(end).to_have_attribute("title", "End the meeting for everyone")
    # Not next to Leave: Leave is the bar's last control, separated from the host's group.
    assert host.evaluate("""() => { const c = [...document.querySelectorAll("nav.controls > *")]
      .filter((el) => el.checkVisibility()); return c[c.length - 1].id; }""") == "leave"
    assert host.evaluate("document.querySelector('#leave').previousElementSibling.classList.contains('sep')")
    assert host.evaluate(ICON_ONLY_WITHOUT_TOOLTIP) == []
    assert guest.evaluate(ICON_ONLY_WITHOUT_TOOLTIP) == []

    # Remove: asks, Cancel keeps the guest in.
    open_people(host)
    gus = participant_id(guest)
    person(host, "Gus Guest").get_by_test_id("kick").click()
    dialog = host.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Remove Gus Guest")
    shot(host, "confirm-remove")
    host.get_by_test_id("cancel").click()
    expect(dialog).to_be_hidden()
    host.get_by_test_id("toggle-people").click()  # close the side panel
    # end for all: asks, Escape answers no
    end.click()
    expect(dialog).to_contain_text("End the meeting for everyone?")
    host.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    in_meeting(guest, tiles=2)
    assert participant_id(guest) == gus
    in_meeting(host, tiles=2)

    open_people(host)
    person(host, "Gus Guest").get_by_test_id("kick").click()
    host.get_by_test_id("confirm").click()
    ended(guest, "kicked")
    host.get_by_test_id("toggle-people").click()
    end.click()
    host.get_by_test_id("confirm").click()
    ended(host, "meeting_ended")


def test_phone_host_view_keeps_one_row_and_panels_cover_the_video_not_the_controls(server, new_page):
    room = server.create_room(roomName="Phone host", isLocked=True)
    host = new_page(host_url(room), width=390, height=844)
    join(host, "Hana Host")
    in_meeting(host, tiles=1)
    bar = host.locator("nav.controls").bounding_box()
    visible = host.evaluate("""() => [...document.querySelectorAll("nav.controls button")]
      .filter((b) => b.checkVisibility()).map((b) => { const r = b.getBoundingClientRect();
        return {id: b.id, top: r.top, left: r.left, right: r.right}; })""")
    ids = [b["id"] for b in visible]
    assert ids == ["toggle-mic", "toggle-camera", "toggle-chat", "toggle-people", "more", "leave"], ids
    assert len({round(b["top"]) for b in visible}) == 1, visible            # one row
    assert all(b["left"] >= 0 and b["right"] <= 390 for b in visible), visible
    assert bar["height"] < 80, bar
    assert host.evaluate(ICON_ONLY_WITHOUT_TOOLTIP) == []
    # The host's controls are in the "more" menu.
    host.get_by_test_id("more").click()
    expect(host.get_by_test_id("more")).to_have_attribute("aria-expanded", "true")
    for testid in ("lock-toggle", "record-toggle", "end-meeting", "settings"):
        box = host.get_by_test_id(testid).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= bar["y"], testid
    shot(host, "phone-host-more", docs=True)
    host.get_by_test_id("lock-toggle").click()  # acts and closes the menu
    expect(host.get_by_test_id("lock-toggle")).to_have_attribute("aria-pressed", "false")
    expect(host.get_by_test_id("more")).to_have_attribute("aria-expanded", "false")
    expect(host.get_by_test_id("lock-toggle")).to_be_hidden()
    shot(host, "phone-host", docs=True)
    # Chat and people cover the video area, never the control bar.
    for toggle, panel in (("toggle-chat", "#panel-chat"), ("toggle-people", "#panel-people")):
        host.get_by_test_id(toggle).click()
        expect(host.locator(panel)).to_be_visible()
        side = host.locator("#side").bounding_box()
        stage = host.locator("#stage").bounding_box()
        assert side["y"] + side["height"] <= bar["y"] + 1, (side, bar)
        assert side["width"] >= stage["width"] - 1 and side["height"] >= stage["height"] * 0.8, (side, stage)
        host.get_by_test_id("leave").click(trial=True)  # the controls stay clickable
    shot(host, "phone-host-people")


def _state(server, slug: str, key: str | None = None) -> bytes:
    body = json.dumps({"key": key} if key else {}).encode()
    req = urllib.request.Request(f"{server.base_url}/{slug}/state", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read()


def _early(page, reason: str) -> None:
    ended(page, reason)
    expect(page.get_by_test_id("display-name")).to_be_hidden()
    expect(page.locator("#preview-video")).to_be_hidden()
    assert page.evaluate("window.antechamber.local.videoTrack === null && window.antechamber.local.audioTrack === null")


def test_rooms_that_take_no_meetings_say_so_before_the_preview_and_name(server, new_page):
    _early(new_page(server.base_url + "/no-such-room-at-all"), "room_not_found")
    closed = server.create_room(roomName="Closed")
    assert server.api("PUT", f"/api/v1/rooms/{closed['roomId']}/status", {"status": "closed"})[0] == 200
    _early(new_page(guest_url(closed)), "room_closed")
    # A room whose guest link is off: its guest link gets the very answer of a room that does not exist.
    private = server.create_room(roomName="Private")
    status, _ = server.api("PUT", f"/api/v1/rooms/{private['roomId']}/access",
                           {"access": {"anonymous": {"speaker": {"enabled": False}}}})
    assert status == 200
    assert _state(server, private["roomId"]) == _state(server, "no-such-room-at-all") == b'{"state": "unavailable"}'
    assert _state(server, private["roomId"], "not-a-key") == _state(server, "no-such-room-at-all")
    _early(new_page(guest_url(private)), "room_not_found")
    host = new_page(host_url(private))  # the host link of that room opens the join view
    expect(host.get_by_test_id("display-name")).to_be_visible()
    # A deleted room's page says so at once (a reload after the deletion).
    gone = server.create_room(roomName="Deleted")
    page = new_page(guest_url(gone))
    expect(page.get_by_test_id("display-name")).to_be_visible()
    assert server.api("DELETE", f"/api/v1/rooms/{gone['roomId']}")[0] in (200, 204)
    page.reload()
    _early(page, "room_not_found")
    shot(page, "early-not-found")


def test_a_dropped_participant_shows_reconnecting_then_goes(server, new_page):
    _, host, guest = meeting_of_two(server, new_page, "Reconnecting", locked=False)
    tile = host.get_by_test_id("tile").filter(has_text="Gus Guest")
    expect(tile.get_by_test_id("reconnecting")).to_be_hidden()
    # The guest's network goes away: its websocket drops and it cannot come back.
    guest.evaluate("""() => { const s = window.antechamber.signaling;
      s.open = () => Promise.reject(new Error("offline")); s.ws.close(); }""")
    expect(tile).to_have_attribute("data-connection", "reconnecting")
    expect(tile.get_by_test_id("reconnecting")).to_have_text("Reconnecting…")
    shot(host, "tile-reconnecting")
    expect(tile).to_have_count(0, timeout=(GRACE_S + 15) * 1000)  # gone after the grace
    in_meeting(host, tiles=1)


# Two distinct fake cameras ("fake_device_0", "fake_device_1") and Chromium's three fake microphones.
@pytest.fixture(scope="module")
def two_camera_browser(browser):
    args = [a for a in CHROMIUM_ARGS if a != "--use-fake-device-for-media-stream"]
    b = browser.browser_type.launch(executable_path=CHROMIUM,
                                    args=[*args, "--use-fake-device-for-media-stream=device-count=2"])
    yield b
    b.close()


_SENT = """async () => { const m = window.antechamber.media; const s = m.transceivers.camera.sender;
  const a = m.transceivers.microphone.sender; const stats = await m.pub.getStats(); let ids = [];
  stats.forEach((r) => { if (r.type === "media-source") ids.push(r.trackIdentifier); });
  return {camera: s.track && s.track.label, mic: a.track && a.track.label,
          cameraDevice: s.track && s.track.getSettings().deviceId,
          camInStats: Boolean(s.track) && ids.includes(s.track.id)}; }"""


def test_switching_to_another_camera_and_microphone_sends_that_device(server, two_camera_browser):
    room = server.create_room(roomName="Devices", isLocked=False)
    ctx = two_camera_browser.new_context(viewport={"width": 1280, "height": 800}, permissions=["camera", "microphone"],
                                        locale="en-US")
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        page = ctx.new_page()
        page.goto(host_url(room))
        join(page, "Dee Devices")
        in_meeting(page, tiles=1)
        page.wait_for_function("() => { const m = window.antechamber.media; return m && m.pub && m.pub.remoteDescription; }",
                               timeout=60_000)
        page.get_by_test_id("settings").click()
        cameras = page.get_by_test_id("settings-camera").locator("option")
        expect(cameras).to_have_count(2)
        labels = cameras.all_text_contents()
        first = page.evaluate(_SENT)
        other = next(label for label in labels if label != first["camera"])
        page.get_by_test_id("settings-camera").select_option(label=other)
        # the sender's track changes first; the connection's stats list the new source a moment later
        wait_true(page, f"""async () => {{ const s = await ({_SENT})(); return s.camera === {json.dumps(other)}
                              && s.camInStats && s.cameraDevice === document.querySelector("#settings-camera").value; }}""",
                  timeout_ms=30_000, what="the other camera is sent")
        sent = page.evaluate(_SENT)
        assert sent["camInStats"] and sent["cameraDevice"] == page.get_by_test_id("settings-camera").input_value()
        mics = page.get_by_test_id("settings-mic").locator("option").all_text_contents()
        mic = next(label for label in mics if label != first["mic"])
        page.get_by_test_id("settings-mic").select_option(label=mic)
        wait_true(page, f"async () => (await ({_SENT})()).mic === {json.dumps(mic)}", timeout_ms=30_000,
                  what="the other microphone is sent")
        expect(page.get_by_test_id("device-notice")).to_be_hidden()
        # A device that is gone by the time it is picked: a visible message, and a camera still sent.
        page.evaluate("""() => { const o = document.createElement("option"); o.value = "unplugged-camera";
          o.textContent = "Unplugged camera"; document.querySelector("#settings-camera").append(o); }""")
        page.get_by_test_id("settings-camera").select_option("unplugged-camera")
        expect(page.get_by_test_id("device-notice")).to_contain_text("could not be started")
        wait_true(page, f"async () => {{ const s = await ({_SENT})(); return s.camera && s.camInStats; }}",
                  what="a camera is sent after the fallback")
        shot(page, "device-fallback")
    finally:
        ctx.close()


def _links(server, slug: str, key: str | None = None) -> dict:
    body = json.dumps({"key": key} if key else {}).encode()
    req = urllib.request.Request(f"{server.base_url}/{slug}/links", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def _copied(page, testid: str) -> str:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_people(page)
    page.get_by_test_id(testid).click()
    expect(page.locator("#toasts")).to_contain_text("copied")
    return page.evaluate("navigator.clipboard.readText()")


def test_share_links_from_the_meeting_follow_the_role(server, new_page):
    room, host, guest = meeting_of_two(server, new_page, "Share links", locked=False)
    # The host copies the guest (speaker) link and the viewer link; never the host link.
    assert _copied(host, "copy-speaker-link") == guest_url(room)
    viewer = _copied(host, "copy-viewer-link")
    assert viewer.startswith(guest_url(room) + "?viewerKey=") and "roomKey" not in viewer, viewer
    expect(new_page(viewer).get_by_test_id("role")).to_have_text("Viewer")  # the link works, as a viewer
    # A guest without canShareAccessLinks (the speaker default) gets no invite section and no links.
    open_people(guest)
    expect(guest.locator("#share-links")).to_be_hidden()
    assert _links(server, room["roomId"]) == {}
    assert _links(server, "no-such-room") == {} == _links(server, room["roomId"], "not-a-key")
    # A room whose speakers may share links: its guest copies the speaker link, nothing more.
    sharing = server.create_room(roomName="Sharing guests", isLocked=False,
                                 roles={"speaker": {"permissions": {"canShareAccessLinks": True}}})
    gina = new_page(guest_url(sharing))
    join(gina, "Gina Guest")
    in_meeting(gina, tiles=1)
    assert _copied(gina, "copy-speaker-link") == guest_url(sharing)
    expect(gina.get_by_test_id("copy-viewer-link")).to_be_hidden()
    assert _links(server, sharing["roomId"]) == {"speaker": guest_url(sharing)}
    shot(gina, "share-links-guest")


# Devices that are slow to start (2 s), or fail outright: the page must not lose the Join click.
_SLOW_DEVICES = """(() => { const md = navigator.mediaDevices; const real = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => new Promise((ok, fail) => setTimeout(() => real(c).then(ok, fail), 2000)); })()"""
_FAILING_DEVICES = """(() => { navigator.mediaDevices.getUserMedia = () =>
  Promise.reject(new DOMException("unplugged", "NotReadableError")); })()"""


@pytest.mark.parametrize("devices", [_SLOW_DEVICES, _FAILING_DEVICES], ids=["slow", "failing"])
def test_join_clicked_right_after_load_still_knocks(server, new_page, devices):
    room = server.create_room(roomName="Early click", isLocked=True)
    host = new_page(host_url(room))
    join(host, "Hana Host")
    in_meeting(host, tiles=1)
    guest = new_page()
    guest.context.add_init_script(devices)
    guest.goto(guest_url(room), wait_until="commit")
    guest.get_by_test_id("display-name").fill("Quick Quinn")   # as soon as the field is there
    guest.get_by_test_id("join").click()                        # waits for the button to be enabled
    knock_state(guest, "waiting")
    expect(knock_item(host, "Quick Quinn")).to_have_count(1)
