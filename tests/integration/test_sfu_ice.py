"""ICE set-up and refusals of bad requests, with real aiortc peers."""

from __future__ import annotations

import aioice.ice
import pytest

from media.ports import BadDescription, MediaConfig, NotAllowed, UnknownParticipant, WrongState
from media.sfu import MediaService
from tests.helpers.media_peers import COLOURS, SolidColourTrack, join_room, publish

pytestmark = pytest.mark.timeout(60)


async def test_works_when_loopback_is_the_only_interface(clients, monkeypatch):
    # what aioice finds on a host with only `lo`: nothing (it skips 127.0.0.1)
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [])
    sfu = MediaService(MediaConfig())  # loopback_candidates="auto"
    try:
        room = sfu.open_room("lo")
        alice, bob = clients("alice"), clients("bob")
        await join_room(room, alice)
        await join_room(room, bob)
        sdp, sources = await alice.publish_offer({"camera": SolidColourTrack(COLOURS["red"])})
        answer = await room.publish("alice", sdp, sources)
        assert "127.0.0.1" in answer and "192.0.2." not in answer
        await alice.publish_answer(answer)
        await bob.wait_for(lambda: bob.frames_from("alice", "video") >= 3, timeout=20, what="video over loopback")
    finally:
        await sfu.close()


async def test_public_ip_is_announced(clients):
    sfu = MediaService(MediaConfig(public_ip="203.0.113.7", loopback_candidates=True))
    try:
        room = sfu.open_room("nat")
        alice, bob = clients("alice"), clients("bob")
        await join_room(room, alice)
        await join_room(room, bob)
        sdp, sources = await alice.publish_offer({"camera": SolidColourTrack(COLOURS["red"])})
        answer = await room.publish("alice", sdp, sources)
        assert " 203.0.113.7 " in answer
        await alice.publish_answer(answer)
        await bob.wait_for(lambda: bob.frames_from("alice", "video") >= 3, timeout=20, what="video")
        assert " 203.0.113.7 " in bob.subscribe_pc.remoteDescription.sdp
    finally:
        await sfu.close()


async def test_bad_requests_are_refused_and_change_nothing(clients):
    sfu = MediaService(MediaConfig(loopback_candidates=True))
    try:
        room = sfu.open_room("bad")
        alice = clients("alice")
        with pytest.raises(UnknownParticipant):
            await room.publish("nobody", "v=0", {})
        await join_room(room, alice)
        with pytest.raises(WrongState):
            room.add_participant("alice", frozenset(), lambda e: None)
        with pytest.raises(BadDescription):
            await room.publish("alice", "not sdp at all", {})
        with pytest.raises(WrongState):
            await room.subscribe_answer("alice", "v=0")
        with pytest.raises(BadDescription):
            await room.add_ice_candidate("alice", "sideways", {"candidate": "x"})
        viewer = clients("viewer")
        await join_room(room, viewer, allowed=frozenset())
        sdp, sources = await viewer.publish_offer({"camera": SolidColourTrack(COLOURS["red"])})
        with pytest.raises(NotAllowed):
            await room.publish("viewer", sdp, sources)
        assert room.publications() == ()
        # a valid publish still works afterwards
        await publish(room, alice, {"camera": SolidColourTrack(COLOURS["red"])})
        await viewer.wait_for(lambda: viewer.frames_from("alice", "video") >= 1, timeout=20, what="viewer gets video")
        await room.remove_participant("alice")
        await room.remove_participant("alice")  # idempotent
    finally:
        await sfu.close()


def _split_candidates(sdp: str) -> tuple[str, list[str]]:
    lines = sdp.split("\r\n")
    candidates = [ln[2:] for ln in lines if ln.startswith("a=candidate:")]
    kept = [ln for ln in lines if not ln.startswith("a=candidate:") and ln != "a=end-of-candidates"]
    return "\r\n".join(kept), candidates


async def test_trickled_candidates_before_and_after_the_offer(clients):
    """A browser-style publisher: candidates arrive in `ice` messages, some before its offer."""
    sfu = MediaService(MediaConfig(loopback_candidates=True))
    try:
        room = sfu.open_room("trickle")
        alice, bob = clients("alice"), clients("bob")
        await join_room(room, alice)
        await join_room(room, bob)
        sdp, sources = await alice.publish_offer({"camera": SolidColourTrack(COLOURS["red"])})
        offer, candidates = _split_candidates(sdp)
        assert candidates
        mid = next(iter(sources))
        await room.add_ice_candidate("alice", "publish", {"candidate": candidates[0], "sdpMid": mid})
        answer = await room.publish("alice", offer, sources)
        for c in candidates[1:]:
            await room.add_ice_candidate("alice", "publish", {"candidate": c, "sdpMid": mid, "sdpMLineIndex": 0})
        await room.add_ice_candidate("alice", "publish", None)  # end of candidates
        # alice does not learn the server's candidates: only the trickled ones can connect
        await alice.publish_answer(_split_candidates(answer)[0])
        await bob.wait_for(lambda: bob.frames_from("alice", "video") >= 3, timeout=20, what="video via trickled ICE")
        with pytest.raises(BadDescription):
            await room.add_ice_candidate("alice", "publish", {"candidate": "candidate:garbage", "sdpMid": mid})
    finally:
        await sfu.close()
