"""The SFU's ICE host sockets on a UDP port range (MediaConfig.udp_ports), with real aiortc peers."""

from __future__ import annotations

import re
import socket

import pytest

from media import aiortc_compat as compat
from media.ports import MediaConfig
from media.sfu import MediaService
from tests.helpers.media_peers import COLOURS, SolidColourTrack, join_room

pytestmark = pytest.mark.timeout(60)

RANGE = (44610, 44629)


def host_candidates(sdp: str) -> list[tuple[str, int]]:
    return [(m.group(1), int(m.group(2)))
            for m in re.finditer(r"a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ host", sdp)]


async def test_host_candidates_sit_in_the_range_and_media_flows(clients):
    sfu = MediaService(MediaConfig(loopback_candidates=True, udp_ports=RANGE))
    try:
        room = sfu.open_room("ranged")
        alice, bob = clients("alice"), clients("bob")
        await join_room(room, alice)
        await join_room(room, bob)
        sdp, sources = await alice.publish_offer({"camera": SolidColourTrack(COLOURS["red"])})
        answer = await room.publish("alice", sdp, sources)
        await alice.publish_answer(answer)
        await bob.wait_for(lambda: bob.frames_from("alice", "video") >= 3, timeout=20, what="video")
        offered = bob.subscribe_pc.remoteDescription.sdp
        candidates = host_candidates(answer) + host_candidates(offered)
        assert candidates and all(RANGE[0] <= port <= RANGE[1] for _, port in candidates), candidates
        assert len(set(candidates)) == len(candidates)  # one socket per address and port
    finally:
        await sfu.close()


def test_bind_skips_taken_ports_and_gives_up_when_the_range_is_full():
    taken = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    try:
        taken[0].bind(("127.0.0.1", 44640))
        sock = compat.bind_udp("127.0.0.1", (44640, 44641))
        assert sock is not None and sock.getsockname()[1] == 44641
        sock.close()
        taken[1].bind(("127.0.0.1", 44641))
        assert compat.bind_udp("127.0.0.1", (44640, 44641)) is None
    finally:
        for s in taken:
            s.close()


def test_the_probe_names_what_the_range_needs(monkeypatch):
    import aioice.ice

    monkeypatch.delattr(aioice.ice, "server_reflexive_candidate")
    with pytest.raises(compat.AiortcIncompatible, match=r"server_reflexive_candidate .*\(gather_in_range\)"):
        compat.check_aiortc()
