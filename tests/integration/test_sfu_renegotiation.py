"""Publish-connection renegotiation with real aiortc peers over loopback: an
m-line going inactive and active again (stop / restart a screen share), a new
SSRC on the same m-line, an m-line reused for another source. A second
participant must see each source disappear and come back, decodable."""

from __future__ import annotations

import time

import pytest
from aiortc import RTCSessionDescription

from media.ports import PublicationsChanged
from tests.helpers.media_peers import COLOURS, PeerClient, SolidColourTrack, colour_close, join_room, publish

pytestmark = pytest.mark.timeout(90)


async def renegotiate(room, client: PeerClient) -> None:
    """Re-offer the client's publish connection as it stands (a browser's negotiationneeded)."""
    pc = client.publish_pc
    await pc.setLocalDescription(await pc.createOffer())
    sources = {t.mid: source for source, t in client._published.items()}
    answer = await room.publish(client.name, pc.localDescription.sdp, sources)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))


def sources_of(room, participant: str) -> set[str]:
    return {p.source for p in room.publications() if p.participant_id == participant}


async def see_colour(viewer: PeerClient, publisher: str, source: str, colour: str, after: float = 0.0) -> None:
    """A frame of `source` in `colour`, decoded by the viewer after time `after`."""
    await viewer.wait_for(
        lambda: (r := viewer.video_from(publisher, source)) is not None
        and (r.first_frame_at or 0) > after and r.frames >= 3 and colour_close(r.mean_rgb, COLOURS[colour]),
        timeout=20, what=f"{source} in {colour}",
    )


async def test_screen_share_stopped_and_restarted_on_the_same_m_line(sfu, clients):
    room = sfu.open_room("reshare")
    changes: list[PublicationsChanged] = []
    room.listener = lambda e: changes.append(e) if isinstance(e, PublicationsChanged) else None
    alice, bob = clients("alice"), clients("bob")
    await join_room(room, alice)
    await join_room(room, bob)
    await publish(room, alice, {"camera": SolidColourTrack(COLOURS["red"]),
                                "screen": SolidColourTrack(COLOURS["yellow"], 640, 360)})
    await see_colour(bob, "alice", "screen", "yellow")
    first_screen = bob.video_from("alice", "screen").info.publication_id

    # stop sharing: the screen m-line goes inactive
    screen = alice._published["screen"]
    screen.direction = "inactive"
    await renegotiate(room, alice)
    assert sources_of(room, "alice") == {"camera"}
    assert {p.source for p in changes[-1].publications} == {"camera"}
    await bob.wait_for(lambda: {i.source for i in bob.current_tracks().values()} == {"camera"},
                       timeout=10, what="screen gone from bob's subscribe offer")

    # share again on the same m-line with a new track
    screen.sender.replaceTrack(SolidColourTrack(COLOURS["blue"], 640, 360))
    screen.direction = "sendonly"
    restarted = time.monotonic()
    await renegotiate(room, alice)
    assert sources_of(room, "alice") == {"camera", "screen"}
    await bob.wait_for(lambda: {i.source for i in bob.current_tracks().values()} == {"camera", "screen"},
                       timeout=10, what="screen back in bob's subscribe offer")
    await see_colour(bob, "alice", "screen", "blue", after=restarted)
    assert bob.video_from("alice", "screen").info.publication_id != first_screen
    # the first decoded frame arrived promptly (a keyframe was asked for at once;
    # typically 0.2 s here, the bound leaves room for a busy CI box)
    assert bob.video_from("alice", "screen").first_frame_at - restarted < 2.0
    # the camera kept flowing throughout
    camera_then = bob.frames_from("alice", "video", "camera")
    await bob.wait_for(lambda: bob.frames_from("alice", "video", "camera") >= camera_then + 5, timeout=10,
                       what="camera still flowing")

    # and a second stop / start cycle works too
    screen.direction = "inactive"
    await renegotiate(room, alice)
    assert sources_of(room, "alice") == {"camera"}
    screen.direction = "sendonly"
    again = time.monotonic()
    await renegotiate(room, alice)
    assert sources_of(room, "alice") == {"camera", "screen"}
    await see_colour(bob, "alice", "screen", "blue", after=again)
    # no stale state of the previous stream holds new frames back (aiortc's jitter buffer
    # used to wait for packets dropped while the m-line was inactive: ~17 s here)
    assert bob.video_from("alice", "screen").first_frame_at - again < 2.0


async def test_new_ssrc_on_the_same_m_line_keeps_forwarding(sfu, clients):
    room = sfu.open_room("ssrc")
    alice, bob = clients("alice"), clients("bob")
    await join_room(room, alice)
    await join_room(room, bob)
    await publish(room, alice, {"camera": SolidColourTrack(COLOURS["red"]),
                                "screen": SolidColourTrack(COLOURS["yellow"], 640, 360)})
    await see_colour(bob, "alice", "screen", "yellow")
    (before,) = [p.publication_id for p in room.publications() if p.source == "screen"]

    # a new track on the same transceiver with fresh SSRCs (addTrack on a reused transceiver)
    screen = alice._published["screen"]
    sender = screen.sender
    sender._ssrc, sender._rtx_ssrc = 0x1234567, 0x2345678
    sender.transport._rtp_router.register_sender(sender, sender._ssrc)  # so PLIs to it arrive
    sender.replaceTrack(SolidColourTrack(COLOURS["green"], 640, 360))
    changed = time.monotonic()
    await renegotiate(room, alice)
    assert sources_of(room, "alice") == {"camera", "screen"}
    await bob.wait_for(lambda: colour_close(bob.video_from("alice", "screen").mean_rgb, COLOURS["green"]),
                       timeout=20, what="screen in green after the SSRC change")
    assert time.monotonic() - changed < 3.0  # a keyframe was asked for, not waited for
    (after,) = [p.publication_id for p in room.publications() if p.source == "screen"]
    assert after == before  # the same publication, still forwarded


async def test_m_line_reused_for_another_source(sfu, clients):
    room = sfu.open_room("reuse")
    alice, bob = clients("alice"), clients("bob")
    await join_room(room, alice)
    await join_room(room, bob)
    await publish(room, alice, {"camera": SolidColourTrack(COLOURS["red"])})
    await see_colour(bob, "alice", "camera", "red")

    # the same m-line now carries the screen (the camera stopped, a share started)
    alice._published["screen"] = alice._published.pop("camera")
    alice._published["screen"].sender.replaceTrack(SolidColourTrack(COLOURS["blue"], 640, 360))
    switched = time.monotonic()
    await renegotiate(room, alice)
    assert sources_of(room, "alice") == {"screen"}
    await bob.wait_for(lambda: {i.source for i in bob.current_tracks().values()} == {"screen"},
                       timeout=10, what="camera replaced by screen")
    await see_colour(bob, "alice", "screen", "blue", after=switched)


def reject_m_line(sdp: str, mid: str) -> str:
    """The offer with one m-line's port set to 0 (rejected / stopped transceiver)."""
    head, *sections = sdp.split("m=")
    out = []
    for section in sections:
        if f"a=mid:{mid}\r\n" in section:
            kind, _port, rest = section.split(" ", 2)
            section = f"{kind} 0 {rest}"
        out.append(section)
    return "m=".join([head, *out])


async def test_rejected_m_line_ends_its_publication(sfu, clients):
    room = sfu.open_room("rejected")
    alice, bob = clients("alice"), clients("bob")
    await join_room(room, alice)
    await join_room(room, bob)
    await publish(room, alice, {"camera": SolidColourTrack(COLOURS["red"]),
                                "screen": SolidColourTrack(COLOURS["yellow"], 640, 360)})
    await see_colour(bob, "alice", "screen", "yellow")

    pc = alice.publish_pc
    await pc.setLocalDescription(await pc.createOffer())
    sources = {t.mid: source for source, t in alice._published.items()}
    offer = reject_m_line(pc.localDescription.sdp, alice._published["screen"].mid)
    answer = await room.publish("alice", offer, sources)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    assert sources_of(room, "alice") == {"camera"}
    await bob.wait_for(lambda: {i.source for i in bob.current_tracks().values()} == {"camera"},
                       timeout=10, what="screen gone from bob's subscribe offer")
    camera_then = bob.frames_from("alice", "video", "camera")
    await bob.wait_for(lambda: bob.frames_from("alice", "video", "camera") >= camera_then + 5, timeout=10,
                       what="camera still flowing")
