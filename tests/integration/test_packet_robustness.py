"""Hostile packets at the SFU's real UDP sockets leave every session's media working
(issue 16 "Packet robustness"; docs/architecture.md "Media").

Real aiortc peers over loopback: alice and bob publish, carol only watches. The server's ICE
port of a session is read from the peer's nominated candidate pair (or, before the peer has
even applied the answer, from the answer's candidates). Packets that only matter inside the
SRTP session (RTP, RTX, RTCP) go through the peer's own DTLS transport (``_send_rtp``), so
they are encrypted with its keys and reach the server's receive path as if the peer had
sent them. After each attack carol still decodes fresh frames of the right colour from both
publishers, and alice, the sender of most of the hostile packets, still sees bob's video.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import struct

import pytest
import structlog

from tests.helpers.media_peers import COLOURS, PeerClient, SolidColourTrack, ToneTrack, colour_close, join_room, publish

pytestmark = pytest.mark.timeout(120)

RTP = struct.Struct("!BBHII")


def server_address(pc) -> tuple[str, int]:
    """The server's end of the peer connection's nominated ICE pair."""
    ice = pc.getTransceivers()[0].sender.transport.transport
    pair = ice._connection._nominated[1]
    return pair.remote_candidate.host, pair.remote_candidate.port


def answer_ports(sdp: str) -> set[int]:
    return {int(line.split()[5]) for line in sdp.splitlines() if line.startswith("a=candidate:")}


class Spy:
    """Keeps the last RTP header the peer sent for each SSRC (what a crafted packet continues)."""

    def __init__(self, pc) -> None:
        self.dtls = pc.getTransceivers()[0].sender.transport
        self.last: dict[int, tuple[int, int, int]] = {}   # ssrc -> (payload type, seq, timestamp)
        self.shift: dict[int, int] = {}                    # ssrc -> added to the peer's own sequence numbers
        self._seq: dict[int, int] = {}
        send = self.dtls._send_rtp

        async def spying(data: bytes) -> None:
            if len(data) >= 12 and not 192 <= data[1] <= 223:
                _, m_pt, seq, ts, ssrc = RTP.unpack_from(data)
                if ssrc in self.shift:
                    seq = (seq + self.shift[ssrc]) & 0xFFFF
                    data = data[:2] + struct.pack("!H", seq) + data[4:]
                self.last[ssrc] = (m_pt & 0x7F, seq, ts)
            await send(data)

        self.dtls._send_rtp = spying
        self._send = send

    async def inject(self, data: bytes) -> None:
        """Sent as is (encrypted with the peer's keys), past the spy."""
        await self._send(data)

    def next_seq(self, ssrc: int) -> int:
        """Increasing sequence numbers for injected packets of a stream (SRTP refuses to reuse them)."""
        self._seq[ssrc] = self._seq.get(ssrc, random.randrange(30_000)) + 1
        return self._seq[ssrc]


def rtp(pt: int, seq: int, ts: int, ssrc: int, payload: bytes, marker: bool = False) -> bytes:
    return RTP.pack(0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


async def still_flowing(watcher: PeerClient, publisher: str, colour: str, more: int = 10) -> None:
    """``watcher`` decodes ``more`` new frames of ``publisher``'s camera, still of its colour."""
    start = watcher.video_from(publisher).frames
    await watcher.wait_for(
        lambda: (r := watcher.video_from(publisher)) is not None and r.frames >= start + more
        and colour_close(r.mean_rgb, COLOURS[colour]),
        timeout=20, what=f"{more} more {colour} frames from {publisher}")


@pytest.fixture
async def meeting(sfu, clients):
    room = sfu.open_room("hostile")
    alice, bob, carol = clients("alice"), clients("bob"), clients("carol")
    for peer in (alice, bob, carol):
        await join_room(room, peer)
    await publish(room, alice, {"microphone": ToneTrack(), "camera": SolidColourTrack(COLOURS["red"])})
    await publish(room, bob, {"camera": SolidColourTrack(COLOURS["blue"])})
    for watcher, publisher, colour in ((carol, "alice", "red"), (carol, "bob", "blue"), (alice, "bob", "blue")):
        await watcher.wait_for(lambda w=watcher, p=publisher: (r := w.video_from(p)) is not None and r.frames >= 5,
                               timeout=30, what=f"{publisher}'s video")
    return room, alice, bob, carol


async def everyone_fine(room, alice, bob, carol) -> None:
    await still_flowing(carol, "alice", "red")
    await still_flowing(carol, "bob", "blue")
    await still_flowing(alice, "bob", "blue")
    assert {(p.participant_id, p.source) for p in room.publications()} >= {("alice", "camera"), ("bob", "camera")}


def _blast(addr: tuple[str, int], datagrams: list[bytes]) -> None:
    sock = socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for d in datagrams:
            sock.sendto(d, addr)
    finally:
        sock.close()


def garbage() -> list[bytes]:
    """Random datagrams whose first byte claims each protocol of the demultiplexer (RFC 7983)."""
    rnd = random.Random(16)
    out = [b"", b"\x00", b"\xff" * 1400]
    for first in (0, 1, 3, 20, 22, 23, 63, 64, 127, 128, 144, 191, 200, 255):
        for size in (1, 2, 13, 100, 1200):
            out.append(bytes([first]) + rnd.randbytes(size))
    return out


def malformed_stun() -> list[bytes]:
    txid = os.urandom(12)
    cookie = 0x2112A442
    head = lambda kind, length, magic=cookie: struct.pack("!HHI", kind, length, magic) + txid  # noqa: E731
    user = b"nobody:nobody"
    attr = struct.pack("!HH", 0x0006, len(user)) + user + b"\x00" * (-len(user) % 4)
    return [
        head(0x0001, 0)[:10],                                  # truncated header
        head(0x0001, 400),                                     # length past the end
        head(0x0001, 3) + b"abc",                              # length not a multiple of 4
        head(0x0001, 0, magic=0xDEADBEEF),                     # wrong magic cookie
        head(0x0001, 8) + struct.pack("!HH", 0x0006, 900) + b"abcd",        # attribute longer than the message
        head(0x0001, len(attr)) + attr,                        # USERNAME of no session, no integrity
        head(0x0001, len(attr) + 24) + attr + struct.pack("!HH", 0x0008, 20) + os.urandom(20),  # bad integrity
        head(0x0101, 0),                                       # a success response nobody asked for
        head(0x0111, 8) + struct.pack("!HHI", 0x0009, 4, 0x0000041E),       # an error response nobody asked for
        head(0x3FFF, 0),                                       # unknown method
        # fixed-size attributes too short: aioice's parser raised struct.error into the event loop
        head(0x0001, 8) + struct.pack("!HH", 0x0024, 2) + b"ab\x00\x00",          # PRIORITY of 2 bytes
        head(0x0001, 12) + struct.pack("!HH", 0x802A, 4) + os.urandom(4) + b"\x00" * 4,  # ICE-CONTROLLING of 4
        head(0x0001, 8) + struct.pack("!HH", 0x8028, 2) + b"ab\x00\x00",          # FINGERPRINT of 2 bytes
    ]


async def test_garbage_udp_before_dtls_and_malformed_stun(sfu, meeting, clients):
    room, alice, bob, carol = meeting
    loop_errors: list[dict] = []    # what reached the event loop's exception handler (a stack trace in the log)
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    _blast(server_address(alice.publish_pc), garbage() + malformed_stun())
    _blast(server_address(carol.subscribe_pc), garbage() + malformed_stun())
    await everyone_fine(room, alice, bob, carol)

    # a newcomer's ports get the same before its ICE and DTLS have even started
    dave = clients("dave")
    await join_room(room, dave)
    sdp, sources = await dave.publish_offer({"camera": SolidColourTrack(COLOURS["green"])})
    answer = await room.publish("dave", sdp, sources)
    for port in answer_ports(answer):
        _blast(("127.0.0.1", port), garbage() + malformed_stun())
    await dave.publish_answer(answer)
    await carol.wait_for(lambda: (r := carol.video_from("dave")) is not None and r.frames >= 5
                         and colour_close(r.mean_rgb, COLOURS["green"]), timeout=30, what="dave's green video")
    await everyone_fine(room, alice, bob, carol)
    loop.set_exception_handler(None)
    assert not loop_errors, [str(c.get("exception") or c.get("message")) for c in loop_errors]


async def _video_stream(spy: Spy, alice: PeerClient) -> tuple[int, int, int, int]:
    """(video ssrc, payload type, seq, timestamp) of alice's camera, once it has sent."""
    sender = next(t.sender for t in alice.publish_pc.getTransceivers() if t.sender.track.kind == "video")
    await alice.wait_for(lambda: sender._ssrc in spy.last, timeout=10, what="alice's video packets")
    return (sender._ssrc, *spy.last[sender._ssrc])


async def test_rtp_sequence_jump_rtx_without_payload_and_foreign_ssrc(meeting):
    room, alice, bob, carol = meeting
    spy = Spy(alice.publish_pc)
    video = next(t.sender for t in alice.publish_pc.getTransceivers() if t.sender.track.kind == "video")
    ssrc, pt, seq, ts = await _video_stream(spy, alice)
    vp8 = b"\x90\x80" + bytes([seq & 0x7F]) + b"\x00" * 40         # a VP8 descriptor and a non-key frame
    spy.shift[ssrc] = 30_000                                       # alice's stream jumps 30,000 ahead...
    await everyone_fine(room, alice, bob, carol)
    spy.shift[ssrc] = 60_000                                       # ...and again, wrapping around
    await everyone_fine(room, alice, bob, carol)

    rtx_pt = _rtx_payload_type(alice)
    far = ((spy.last[ssrc][1] - 30_000) & 0xFFFF).to_bytes(2, "big") + vp8
    for payload in (b"", b"\x01", b"\x00\x01", far):              # RTX: nothing, half an OSN, an OSN alone,
        for rtx_ssrc in (video._rtx_ssrc, 0x0BAD_F00D):
            await spy.inject(rtp(rtx_pt, spy.next_seq(rtx_ssrc), ts, rtx_ssrc, payload))   # a repair from afar
    await everyone_fine(room, alice, bob, carol)

    for i in range(60):                                            # streams the server never negotiated
        foreign = random.getrandbits(32) if i % 2 else 0x5EED_0000 + i % 4
        _, seq, ts = spy.last[ssrc]
        await spy.inject(rtp(pt, spy.next_seq(foreign), ts, foreign, vp8, marker=True))
        await spy.inject(rtp(111, spy.next_seq(foreign + 1), ts, foreign + 1, b"\xfc" + os.urandom(30)))
        await asyncio.sleep(0.01)
    await everyone_fine(room, alice, bob, carol)
    camera = next(p for p in room.pubs.values() if p.participant_id == "alice" and p.kind == "video")
    assert camera.media_ssrc == ssrc and camera.refused_packets >= 60   # the stream never switched to them


def _rtx_payload_type(peer: PeerClient) -> int:
    sdp = peer.publish_pc.remoteDescription.sdp
    return next(int(line.split()[0].split(":")[1]) for line in sdp.splitlines()
                if line.startswith("a=rtpmap:") and "rtx/" in line)


def rtcp_cases(ssrc: int) -> list[bytes]:
    rr = struct.pack("!BBHI", 0x81, 201, 7, ssrc) + struct.pack("!IIIIII", ssrc, 0, 0, 0, 0, 0)
    sr = struct.pack("!BBHI", 0x80, 200, 6, ssrc) + os.urandom(20)
    nack = struct.pack("!BBHII", 0x81, 205, 3, ssrc, ssrc) + struct.pack("!HH", 1, 0xFFFF)
    pli = struct.pack("!BBHII", 0x81, 206, 2, ssrc, random.getrandbits(32))
    return [
        rr[:8], rr[:20], sr[:12], nack[:14], pli[:9],             # truncated
        struct.pack("!BBHI", 0x80, 201, 0xFFFF, ssrc),            # length far past the end
        struct.pack("!BBHI", 0x9F, 201, 1 + 6 * 31 - 1, ssrc) + os.urandom(24 * 31 - 4),   # 31 blocks, one short
        struct.pack("!BBHI", 0x80, 200, 289, ssrc) + os.urandom(1152),                        # oversized SR
        rr + struct.pack("!BBHI", 0x81, 202, 600, ssrc) + os.urandom(1100),                  # compound, bad SDES
        struct.pack("!BBHII", 0x8F, 206, 290, ssrc, ssrc) + os.urandom(1152),                # oversized FIR/ALFB
        struct.pack("!BBHII", 0x81, 205, 290, ssrc, ssrc) + os.urandom(1152),                # a NACK of 288 random
        struct.pack("!BBHI", 0x81, 203, 1, ssrc),                                             # BYE, then more
    ]


async def test_truncated_and_oversized_rtcp_from_publisher_and_subscriber(meeting):
    room, alice, bob, carol = meeting
    pub = Spy(alice.publish_pc)
    ssrc, *_ = await _video_stream(pub, alice)
    sub = carol.subscribe_pc.getTransceivers()[0].receiver.transport
    for case in rtcp_cases(ssrc) + rtcp_cases(random.getrandbits(32)):
        await pub.inject(case)
        await sub._send_rtp(case)
    await everyone_fine(room, alice, bob, carol)


async def test_oversized_srtp_and_srtcp_from_the_ice_peer_are_dropped_quietly(meeting):
    """Datagrams past DTLS, from the peer's own ICE address, longer than SRTP's 1,500-byte buffer:
    libsrtp's wrapper refuses them before authenticating. They are dropped like any packet that
    does not authenticate, not logged as a failure of the server's handling (with a traceback)."""
    room, alice, bob, carol = meeting
    oversized = [bytes([first]) + os.urandom(size)
                 for first in (0x80, 0x90, 0xBF) for size in (1500, 1600, 9000)]     # RTP-looking
    oversized += [bytes([0x80, pt]) + os.urandom(1800) for pt in (200, 201, 205, 206)]  # RTCP-looking
    with structlog.testing.capture_logs() as events:
        for pc in (alice.publish_pc, carol.subscribe_pc):
            ice = pc.getTransceivers()[0].sender.transport.transport._connection
            for datagram in oversized:
                await ice.send(datagram)
        await everyone_fine(room, alice, bob, carol)
    failures = [e for e in events if "failed" in e["event"] or e.get("exc_info")]
    assert not failures, failures


async def test_rtp_with_header_extensions_of_the_wrong_length_is_dropped_quietly(meeting):
    """A publisher's packet whose negotiated abs-send-time (3 bytes), audio level (1) or transport-cc
    (2) element has another length: aiortc's parser raises struct.error, not ValueError; the packet
    is dropped as one that does not parse, not logged as a handling failure with a traceback."""
    room, alice, bob, carol = meeting
    spy = Spy(alice.publish_pc)
    ssrc, pt, seq, ts = await _video_stream(spy, alice)
    sdp = alice.publish_pc.localDescription.sdp
    ids = [int(line.split()[0].split(":")[1].split("/")[0]) for line in sdp.splitlines()
           if line.startswith("a=extmap:") and ("abs-send-time" in line or "audio-level" in line)]
    assert ids, "the offer negotiates abs-send-time or the audio level"
    vp8 = b"\x90\x80" + bytes([seq & 0x7F]) + b"\x00" * 40
    with structlog.testing.capture_logs() as events:
        for x_id in ids:
            for value in (b"\x01\x02", b"\x01\x02\x03\x04"):     # neither 3 (abs-send-time) nor 1 byte
                body = bytes([(x_id << 4) | (len(value) - 1)]) + value
                body += b"\x00" * (-len(body) % 4)
                ext = struct.pack("!HH", 0xBEDE, len(body) // 4) + body
                # parsed before it is routed: another SSRC (alice's own would reuse SRTP indexes)
                header = RTP.pack(0x90, pt, spy.next_seq(0x0BAD_0000), ts, 0x0BAD_0000)
                await spy.inject(header + ext + vp8)
        await everyone_fine(room, alice, bob, carol)
    failures = [e for e in events if "failed" in e["event"] or e.get("exc_info")]
    assert not failures, failures
