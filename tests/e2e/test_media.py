"""Media through the SFU between real Chromium pages (fake camera and microphone)."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from .conftest import shot
from .flows import guest_joins, in_meeting, join, knock_item, meeting_of_two, participant_id, wait_true

pytestmark = pytest.mark.e2e

MEDIA_TIMEOUT_MS = 60_000

# Sum of a counter over the subscribe connection's inbound-rtp reports of one kind.
_INBOUND = """async ([kind, field, minimum]) => {
  const media = window.antechamber.media;
  if (!media || !media.sub) return false;
  const stats = await media.sub.getStats();
  let total = 0;
  stats.forEach((r) => { if (r.type === "inbound-rtp" && r.kind === kind) total += r[field] || 0; });
  return total > minimum;
}"""

_FRAMES_NOW = """async () => {
  let n = 0;
  (await window.antechamber.media.sub.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") n += r.framesDecoded || 0;
  });
  return n;
}"""


def _require_sfu(page) -> None:
    """Wait until the page has published through the SFU (fails if the server has none)."""
    page.wait_for_function(
        "() => { const m = window.antechamber.media; return m && (m.unavailable || (m.pub && m.pub.remoteDescription)); }",
        timeout=MEDIA_TIMEOUT_MS)
    assert not page.evaluate("window.antechamber.media.unavailable"), "the server refused publish: no SFU"
    assert page.evaluate("window.antechamber.media.pub.remoteDescription !== null")


def _receives(page, kind: str, field: str, minimum: int) -> None:
    """Poll the subscriber's getStats() until ``field`` of inbound ``kind`` passes ``minimum``."""
    wait_true(page, _INBOUND, [kind, field, minimum], timeout_ms=MEDIA_TIMEOUT_MS, what=f"{kind} {field} > {minimum}")


def test_two_browsers_see_and_hear_each_other(server, new_page):
    room, host, guest = meeting_of_two(server, new_page, "Media", locked=True, host_ready=_require_sfu)

    for page in (host, guest):
        _receives(page, "video", "framesDecoded", 30)
        _receives(page, "audio", "packetsReceived", 50)

    # Each page shows the other's camera in that person's tile (not the avatar).
    hid, gid = participant_id(host), participant_id(guest)
    expect(host.locator(f'[data-testid=tile][data-participant-id="{gid}"] video')).to_be_visible()
    expect(guest.locator(f'[data-testid=tile][data-participant-id="{hid}"] video')).to_be_visible()
    guest.wait_for_function(
        "(pid) => { const v = document.querySelector(`[data-testid=tile][data-participant-id=\"${pid}\"] video`);"
        " return v && v.videoWidth > 0 && v.videoHeight > 0; }", arg=hid)

    # The fake microphones beep: the SFU's active-speaker events outline a tile.
    expect(guest.locator("[data-testid=tile].speaking")).to_have_count(1, timeout=MEDIA_TIMEOUT_MS)

    # A third person knocks: the host sees the knock panel over a live meeting.
    late = guest_joins(new_page, room, "Lara Late")
    expect(knock_item(host, "Lara Late")).to_be_visible()
    shot(host, "meeting-host", docs=True)
    shot(guest, "meeting-guest")

    # Camera off on the guest: the host's tile for the guest falls back to the avatar.
    guest.get_by_test_id("toggle-camera").click()
    expect(host.locator(f'[data-testid=tile][data-participant-id="{gid}"]')).to_have_attribute(
        "data-video-muted", "true")
    expect(host.locator(f'[data-testid=tile][data-participant-id="{gid}"] .avatar')).to_be_visible()


def test_reconnects_by_itself_after_the_websocket_drops(server, new_page):
    """A guest of a locked room whose websocket drops resumes its place (resumeToken): same
    participant, no knock, the host never sees it leave, video flows again both ways."""
    _, host, guest = meeting_of_two(server, new_page, "Reconnect", locked=True, host_ready=_require_sfu)
    _receives(host, "video", "framesDecoded", 10)
    before = participant_id(guest)
    guest.evaluate("window.antechamber.media.dropped = true")  # mark the media session of the old socket
    guest.evaluate("window.antechamber.signaling.ws.close()")  # the network drops the socket
    # back: a new media session has published again, on a new websocket
    guest.wait_for_function(
        "() => { const m = window.antechamber.media; return m && !m.dropped && m.pub && m.pub.remoteDescription; }",
        timeout=MEDIA_TIMEOUT_MS)
    assert participant_id(guest) == before
    in_meeting(guest, tiles=2)
    expect(host.get_by_test_id("knock-item")).to_have_count(0)   # it never knocked (the room is locked)
    tile = host.get_by_test_id("tile").filter(has_text="Gus Guest")
    expect(tile).to_have_count(1)
    expect(tile).to_have_attribute("data-participant-id", before)
    expect(tile).to_have_attribute("data-connection", "connected")
    _receives(guest, "video", "framesDecoded", 30)            # the host's video on the new connection
    frames = host.evaluate(_FRAMES_NOW)
    _receives(host, "video", "framesDecoded", frames + 30)    # the guest's video, published again


def test_screen_share_is_shown_large_to_the_others(server, new_page):
    _, host, guest = meeting_of_two(server, new_page, "Screens", locked=False, host_ready=_require_sfu)
    _receives(guest, "video", "framesDecoded", 10)
    host.get_by_test_id("share-screen").click()
    expect(host.get_by_test_id("share-screen")).to_have_attribute("aria-pressed", "true")
    screen = guest.get_by_test_id("screen-tile")
    expect(screen).to_be_visible()
    expect(screen).to_contain_text("Hana Host")
    guest.wait_for_function("() => document.querySelector('[data-testid=screen-tile] video').videoWidth > 0",
                            timeout=MEDIA_TIMEOUT_MS)
    expect(guest.locator("#stage")).to_have_class(re.compile(r"\bhas-screen\b"))
    shot(guest, "meeting-screen-share")
    host.get_by_test_id("share-screen").click()
    expect(screen).to_be_hidden()
    # Sharing again renegotiates the same source and shows it again.
    host.get_by_test_id("share-screen").click()
    expect(screen).to_be_visible()
    guest.wait_for_function("() => document.querySelector('[data-testid=screen-tile] video').videoWidth > 0",
                            timeout=MEDIA_TIMEOUT_MS)


def test_viewer_link_watches_without_publishing(server, new_page):
    status, meeting = server.api("POST", "/v1/meetings", {
        "endDate": "2099-01-01T00:00:00Z", "templateType": "viewerMode",
        "fields": ["hostRoomUrl", "viewerRoomUrl"]})
    assert status == 201, meeting
    host = new_page(meeting["hostRoomUrl"])
    join(host, "Hana Host")
    in_meeting(host, tiles=1)
    _require_sfu(host)
    viewer = new_page(meeting["viewerRoomUrl"])
    expect(viewer.get_by_test_id("role")).to_have_text("Viewer")
    expect(viewer.locator("#device-panel")).to_be_hidden()  # no camera or microphone asked for
    join(viewer, "Vic Viewer")
    in_meeting(viewer, tiles=1)  # viewers are an audience: only the host has a tile
    expect(host.get_by_test_id("tile")).to_have_count(1)
    _receives(viewer, "video", "framesDecoded", 30)
    hid = participant_id(host)
    expect(viewer.locator(f'[data-testid=tile][data-participant-id="{hid}"] video')).to_be_visible()
    for testid in ("toggle-mic", "toggle-camera", "share-screen"):
        expect(viewer.get_by_test_id(testid)).to_be_hidden()
    assert viewer.evaluate("window.antechamber.media.pub") is None
    shot(viewer, "meeting-viewer")


@pytest.mark.skipif(
    os.environ.get("CI", "").lower() == "true",
    reason="flaky (about 1 run in 5): the server sometimes misses that a browser closed its own peer "
           "connections and keeps the participant until ICE consent expires; the same removal is covered "
           "with aiortc peers in tests/integration/test_sfu_signaling.py. Runs outside CI.")
def test_media_connection_drop_reconnects_by_itself(server, new_page):
    _, host, guest = meeting_of_two(server, new_page, "ICE drop", locked=False, host_ready=_require_sfu)
    _receives(guest, "video", "framesDecoded", 10)
    before = participant_id(guest)
    # Kill the guest's media connections as a network failure would.
    guest.evaluate("() => { const m = window.antechamber.media; m.pub.close(); m.sub.close(); }")
    guest.wait_for_function("(old) => window.antechamber.state.me.participantId !== old", arg=before,
                            timeout=MEDIA_TIMEOUT_MS)
    in_meeting(guest, tiles=2)
    _receives(guest, "video", "framesDecoded", 10)  # media flows again on the new connections
    expect(host.get_by_test_id("tile").filter(has_text="Gus Guest")).to_have_count(1)


def test_switching_camera_in_the_meeting_keeps_video_flowing(server, new_page):
    _, host, guest = meeting_of_two(server, new_page, "Switch camera", locked=False, host_ready=_require_sfu)
    _receives(guest, "video", "framesDecoded", 10)
    host.get_by_test_id("settings").click()
    cameras = host.get_by_test_id("settings-camera").locator("option")
    expect(cameras).not_to_have_count(0)
    before = host.evaluate("window.antechamber.local.videoTrack.id")
    host.get_by_test_id("settings-mic").select_option(index=1)
    host.get_by_test_id("settings-camera").select_option(index=cameras.count() - 1)
    host.wait_for_function("(old) => window.antechamber.local.videoTrack && window.antechamber.local.videoTrack.id !== old",
                           arg=before)
    shot(host, "meeting-settings")
    host.get_by_role("button", name="Done").click()
    # The new track is what the publish connection sends, and the guest keeps decoding.
    host.wait_for_function("() => window.antechamber.media.transceivers.camera.sender.track === window.antechamber.local.videoTrack")
    decoded = guest.evaluate(_FRAMES_NOW)
    wait_true(guest, f"async () => (await ({_FRAMES_NOW})()) > {decoded + 30}", timeout_ms=MEDIA_TIMEOUT_MS,
              what="the guest keeps decoding")
