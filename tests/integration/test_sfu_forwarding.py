"""The SFU forwards real aiortc peers' media over loopback, encoded."""

from __future__ import annotations

import time

import pytest

from media.ports import PublicationsChanged
from tests.helpers.media_peers import (
    COLOURS,
    SolidColourTrack,
    ToneTrack,
    colour_close,
    join_room,
    publish,
)

pytestmark = pytest.mark.timeout(60)


async def test_three_participants_see_each_others_colours(sfu, clients):
    room = sfu.open_room("r1")
    names = {"alice": "red", "bob": "green", "carol": "blue"}
    peers = {n: clients(n) for n in names}
    for n, c in peers.items():
        await join_room(room, c)
    for n, c in peers.items():
        await publish(room, c, {"microphone": ToneTrack(), "camera": SolidColourTrack(COLOURS[names[n]])})

    for n, c in peers.items():
        for other, colour in names.items():
            if other == n:
                continue
            await c.wait_for(
                lambda c=c, o=other, col=colour: (r := c.video_from(o)) is not None
                and r.frames >= 5 and colour_close(r.mean_rgb, COLOURS[col]),
                timeout=20, what=f"{colour} video from {other}",
            )
            await c.wait_for(lambda c=c, o=other: c.frames_from(o, "audio") >= 10, timeout=10, what=f"audio from {other}")
        assert n not in c.subscribed_publishers()  # nobody receives themselves
    infos = room.publications()
    assert {(i.participant_id, i.source) for i in infos} == {(n, s) for n in names for s in ("microphone", "camera")}
    assert all(i.codec == ("video/VP8" if i.kind == "video" else "audio/opus") for i in infos)


async def test_late_joiner_gets_keyframe_within_a_second_and_leaver_disappears(sfu, clients):
    room = sfu.open_room("r2")
    alice, bob = clients("alice"), clients("bob")
    await join_room(room, alice)
    await publish(room, alice, {"camera": SolidColourTrack(COLOURS["red"])})
    await join_room(room, bob)
    await publish(room, bob, {"camera": SolidColourTrack(COLOURS["blue"])})
    await alice.wait_for(lambda: (r := alice.video_from("bob")) is not None and r.frames >= 3, timeout=20, what="bob's video")
    # let the first keyframes pass: browsers/aiortc then only send deltas unless asked
    await bob.wait_for(lambda: (r := bob.video_from("alice")) is not None and r.frames >= 30, timeout=20, what="30 frames")

    carol = clients("carol")
    await join_room(room, carol)
    await carol.wait_for(lambda: len(carol.offers) >= 1, timeout=10, what="subscribe offer")
    await carol.wait_for(lambda: carol.subscribe_pc.connectionState == "connected", timeout=10, what="connected")
    connected_at = time.monotonic()
    await carol.wait_for(lambda: (r := carol.video_from("alice")) is not None and r.frames >= 1, timeout=5, what="first frame")
    first = carol.video_from("alice")
    assert first.first_frame_at - connected_at < 1.0, "late joiner waited more than 1 s for a decodable frame"
    assert colour_close(first.mean_rgb, COLOURS["red"])

    changes: list[PublicationsChanged] = []
    room.listener = lambda e: changes.append(e) if isinstance(e, PublicationsChanged) else None
    left_at = time.monotonic()
    await room.remove_participant("alice")
    for c in (bob, carol):
        await c.wait_for(lambda c=c: "alice" not in c.subscribed_publishers(), timeout=5, what="alice gone")
        assert time.monotonic() - left_at < 1.0
    assert all(i.participant_id != "alice" for i in room.publications())
    assert changes and all(i.participant_id != "alice" for i in changes[-1].publications)
