"""The browser client in Firefox (Debian's firefox-esr, driven over WebDriver BiDi).

Playwright cannot drive Debian's Firefox, so tests/helpers/firefox_bidi.py speaks BiDi to
its built-in remote agent. The other side of each meeting is a real aiortc peer joined
through signaling/client.py (a solid red camera and a tone), so these tests check that
Firefox itself talks to the server and the SFU: join, knock, admit, media both ways.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from signaling.client import SignalingClient
from tests.helpers.firefox_bidi import FIREFOX, Firefox
from tests.helpers.media_peers import (
    COLOURS,
    PeerClient,
    SolidColourTrack,
    ToneTrack,
    answer_over_signaling,
    publish_over_signaling,
)

from .conftest import ARTIFACTS
from .flows import guest_url, host_url

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

MEDIA_TIMEOUT = 60.0
UI_TIMEOUT = 20.0

# Sum of a counter over the inbound-rtp reports of one kind on the page's subscribe connection.
_INBOUND = """async (kind, field) => {
  const media = window.antechamber.media;
  if (!media || !media.sub) return 0;
  let total = 0;
  (await media.sub.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === kind) total += r[field] || 0;
  });
  return total;
}"""

# Mean colour of the video in a participant's tile, read back through a canvas.
_TILE_RGB = """(pid) => {
  const v = document.querySelector(`[data-testid=tile][data-participant-id="${pid}"] video`);
  const c = document.createElement("canvas");
  c.width = 64; c.height = 48;
  const g = c.getContext("2d");
  g.drawImage(v, 0, 0, c.width, c.height);
  const px = g.getImageData(0, 0, c.width, c.height).data;
  const sum = [0, 0, 0];
  for (let i = 0; i < px.length; i += 4) { sum[0] += px[i]; sum[1] += px[i + 1]; sum[2] += px[i + 2]; }
  return sum.map((x) => x / (px.length / 4));
}"""

_END_REASON = """() => {
  const view = document.querySelector("#view-end");
  const end = document.querySelector("[data-testid=end-view]");
  return view && view.checkVisibility() && end && end.dataset.reason;
}"""


@pytest.fixture
async def firefox():
    if not Path(FIREFOX).exists():
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(f"CI: Debian's firefox-esr must be installed at {FIREFOX} (tests/run.sh does it)")
        pytest.skip(f"Debian's firefox-esr is not installed at {FIREFOX}")
    ff = await Firefox.launch()
    try:
        yield ff
    finally:
        await ff.close()


@pytest.fixture
async def python_host():
    """The host: a Python signaling client with an aiortc peer (opened by `join_as_host`)."""
    made: list[tuple[SignalingClient, PeerClient | None]] = []

    async def join_as_host(server, room: dict, *, publish: bool) -> tuple[SignalingClient, PeerClient | None]:
        sig = SignalingClient(server.base_url.replace("http", "ws", 1) + "/ws")
        await sig.connect()
        key = parse_qs(urlparse(host_url(room)).query)["roomKey"][0]
        joined = await sig.join(room["roomId"], "Hana Host", key, timeout=10)
        assert joined["type"] == "joined", joined
        peer = None
        if publish:
            peer = PeerClient(sig.participant_id)
            answer_over_signaling(sig, peer)
            await publish_over_signaling(sig, peer, {"microphone": ToneTrack(),
                                                     "camera": SolidColourTrack(COLOURS["red"])})
        made.append((sig, peer))
        return sig, peer

    yield join_as_host
    for sig, peer in made:
        await sig.close()
        if peer is not None:
            await peer.close()


async def _join(ff: Firefox, ctx: str, url: str, name: str) -> None:
    await ff.navigate(ctx, url)
    await ff.fill(ctx, "display-name", name)
    await ff.press(ctx, "[data-testid=join]")  # a real pointer click: user activation starts audio


async def _in_meeting(ff: Firefox, ctx: str, tiles: int) -> None:
    await ff.wait_for(ctx, """(n) => {
      const view = document.querySelector("#view-meeting");
      return view && view.checkVisibility() && document.querySelectorAll("[data-testid=tile]").length === n;
    }""", tiles, timeout=UI_TIMEOUT, what=f"the meeting view with {tiles} tiles")


async def _decodes_camera(peer: PeerClient, pid: str, frames: int) -> None:
    """The aiortc peer has decoded more than `frames` frames of Firefox's camera."""
    try:
        await peer.wait_for(lambda: peer.frames_from(pid, "video", "camera") > frames, timeout=MEDIA_TIMEOUT,
                            what=f"{frames} decoded frames of Firefox's camera")
    except AssertionError as exc:
        got = sorted(r.info.source for r in peer.received.values() if r.info.participant_id == pid)
        raise AssertionError(f"{exc}; subscribed to Firefox's {got} (Firefox's offer marks its video m-line "
                             "bundle-only with port 0: the SFU must not take it for a rejected m-line)") from None


async def test_firefox_guest_and_a_python_host_see_each_other(server, firefox, python_host):
    room = server.create_room(roomName="Firefox media", isLocked=False)
    sig, peer = await python_host(server, room, publish=True)
    ff = firefox
    ctx = await ff.new_tab()
    await _join(ff, ctx, guest_url(room), "Fiona Firefox")
    await _in_meeting(ff, ctx, tiles=2)
    ff_pid = await ff.call(ctx, "() => window.antechamber.state.me.participantId")

    # The host sees Firefox's participant arrive.
    joined = await sig.wait_for("participant_joined", lambda m: m["participant"]["participantId"] == ff_pid,
                                timeout=UI_TIMEOUT)
    assert joined["participant"]["displayName"] == "Fiona Firefox"

    # Firefox decodes the host's red camera and receives its tone, shown in the host's tile.
    await ff.wait_for(ctx, f"async () => ({_INBOUND})('video', 'framesDecoded').then((n) => n > 30)",
                      timeout=MEDIA_TIMEOUT, what="Firefox decoding 30 frames of the host's video")
    await ff.wait_for(ctx, f"async () => ({_INBOUND})('audio', 'packetsReceived').then((n) => n > 50)",
                      timeout=MEDIA_TIMEOUT, what="Firefox receiving the host's audio")
    await ff.wait_for(ctx, """(pid) => {
      const v = document.querySelector(`[data-testid=tile][data-participant-id="${pid}"] video`);
      return v && v.videoWidth > 0 && v.checkVisibility();
    }""", sig.participant_id, timeout=MEDIA_TIMEOUT, what="the host's video playing in its tile")
    rgb = await ff.call(ctx, _TILE_RGB, sig.participant_id)
    assert rgb[0] > 150 and rgb[1] < 90 and rgb[2] < 90, f"the host's tile is not red: {rgb}"

    # The aiortc host decodes Firefox's fake camera and microphone.
    assert peer is not None
    await _decodes_camera(peer, ff_pid, 30)
    await peer.wait_for(lambda: peer.frames_from(ff_pid, "audio") > 50, timeout=MEDIA_TIMEOUT,
                        what="50 audio frames of Firefox's microphone")
    video = peer.video_from(ff_pid)
    assert video is not None and video.size is not None and video.size[0] > 0

    await ff.screenshot(ctx, ARTIFACTS / "firefox-meeting.png")
    assert ff.errors == [], ff.errors


async def test_firefox_reconnects_by_itself_after_the_websocket_drops(server, firefox, python_host):
    """The websocket drops: Firefox resumes its place (same participant, resumeToken) and
    media flows again both ways on the new connections."""
    room = server.create_room(roomName="Firefox reconnect", isLocked=False)
    sig, peer = await python_host(server, room, publish=True)
    assert peer is not None
    ff = firefox
    ctx = await ff.new_tab()
    await _join(ff, ctx, guest_url(room), "Rita Reconnect")
    await _in_meeting(ff, ctx, tiles=2)
    before = await ff.call(ctx, "() => window.antechamber.state.me.participantId")
    await _decodes_camera(peer, before, 10)

    await ff.call(ctx, "() => { window.antechamber.media.dropped = true; window.antechamber.signaling.ws.close(); }")
    await ff.wait_for(ctx, """() => {
      const m = window.antechamber.media;
      return m && !m.dropped && m.pub && m.pub.remoteDescription && m.sub && m.sub.remoteDescription;
    }""", timeout=MEDIA_TIMEOUT, what="a new media session after the drop")
    assert await ff.call(ctx, "() => window.antechamber.state.me.participantId") == before
    await _in_meeting(ff, ctx, tiles=2)
    await ff.wait_for(ctx, f"async () => ({_INBOUND})('video', 'framesDecoded').then((n) => n > 30)",
                      timeout=MEDIA_TIMEOUT, what="Firefox decoding the host's video again")
    await _decodes_camera(peer, before, peer.frames_from(before, "video", "camera") + 30)  # published again
    assert not [m for m in sig.history if m.get("type") == "participant_left"], "the host saw Firefox leave"
    assert ff.errors == [], ff.errors


async def test_firefox_guest_knocks_and_is_admitted(server, firefox, python_host):
    room = server.create_room(roomName="Firefox knock", isLocked=True)
    sig, _ = await python_host(server, room, publish=False)
    ff = firefox
    ctx = await ff.new_tab()
    await _join(ff, ctx, guest_url(room), "Kit Knocker")
    state = await ff.wait_for(ctx, """() => {
      const view = document.querySelector("#view-waiting");
      const status = document.querySelector("[data-testid=knock-status]");
      return view && view.checkVisibility() && status && status.dataset.state === "waiting"
        && status.textContent.trim();
    }""", timeout=UI_TIMEOUT, what="the waiting view")
    assert "Waiting for the host" in state
    await ff.screenshot(ctx, ARTIFACTS / "firefox-waiting.png")

    knocks = await sig.wait_for("knocks", lambda m: any(k["displayName"] == "Kit Knocker" for k in m["knocks"]),
                                timeout=UI_TIMEOUT)
    knock = next(k for k in knocks["knocks"] if k["displayName"] == "Kit Knocker")
    await sig.request("admit", knockId=knock["knockId"])

    await _in_meeting(ff, ctx, tiles=2)
    host_tile = await ff.call(ctx, """(pid) => {
      const t = document.querySelector(`[data-testid=tile][data-participant-id="${pid}"]`);
      return t && t.textContent;
    }""", sig.participant_id)
    assert host_tile and "Hana Host" in host_tile
    assert ff.errors == [], ff.errors


async def test_firefox_host_admits_a_knock_and_ends_the_meeting(server, firefox):
    room = server.create_room(roomName="Firefox host", isLocked=True)
    ff = firefox
    ctx = await ff.new_tab()
    await _join(ff, ctx, host_url(room), "Hana Firefox")
    await _in_meeting(ff, ctx, tiles=1)

    async with SignalingClient(server.base_url.replace("http", "ws", 1) + "/ws") as guest:
        reply = await guest.join(room["roomId"], "Gus Guest", timeout=10)
        assert reply["type"] == "knock_status" and reply["state"] == "waiting", reply
        # The host's knock panel lists the guest; one click lets them in.
        await ff.wait_for(ctx, """(name) => {
          const item = [...document.querySelectorAll("[data-testid=knock-item]")]
            .find((el) => el.textContent.includes(name) && el.checkVisibility());
          const admit = item && item.querySelector("[data-testid=admit]");
          if (!admit || admit.disabled) return false;
          admit.click();
          return true;
        }""", "Gus Guest", timeout=UI_TIMEOUT, what="the guest's knock in the host panel")
        joined = await guest.wait_for("joined", timeout=UI_TIMEOUT)
        assert await ff.call(ctx, "() => window.antechamber.state.knockSounds") >= 1, "the knock chime did not ring"
        await _in_meeting(ff, ctx, tiles=2)
        await ff.screenshot(ctx, ARTIFACTS / "firefox-host.png")

        await ff.press(ctx, "[data-testid=end-meeting]")
        await ff.press(ctx, "[data-testid=confirm]")  # the in-page dialog asks first
        ended = await guest.wait_for("ended", timeout=UI_TIMEOUT)
        assert ended["reason"] == "meeting_ended"
        reason = await ff.wait_for(ctx, _END_REASON, timeout=UI_TIMEOUT, what="the end view")
        assert reason == "meeting_ended"
        assert joined["participantId"] not in (None, "")
    assert ff.errors == [], ff.errors
