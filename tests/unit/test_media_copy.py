"""A subscriber's copy (media/forward/copy.py, in C in media/aiortc_compat/_fanout.c): the C copy,
sending through a real UDP socket with a real libsrtp context, puts on the wire exactly the packets
the Python copy builds — after SRTP unprotect by the subscriber's session, byte for byte — and
keeps the same state (sequence and timestamp mapping, counters, the sender report's figures)
through keyframe gating, wrap-around, reordering, resyncs, new sources, refusals and no transport.
Any sequence of those (hypothesis) gives the same bytes and state."""

from __future__ import annotations

import socket
import struct
from types import SimpleNamespace

import pytest
from aiortc.rtcdtlstransport import State
from hypothesis import given, settings, strategies as st
from pylibsrtp import Policy, Session

from media import aiortc_compat as compat
from media.forward import copy as copies
from media.forward.copy import Copy, extension_element

pytestmark = pytest.mark.skipif(compat.CCopy is None, reason="the C module was not built")

KEY = bytes(range(30))
SSRC = 0x1234ABCD
FIELDS = ("forwarded", "octets", "dropped", "unsent", "refused", "seq_offset", "last_out_seq",
          "segment_start", "ts_offset", "last_ts", "waiting_keyframe", "rebase_ts", "ready")


class SocketTransport:
    """uvloop's datagram transport as the send path reads it (its socket; sendto for the Python way)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def get_extra_info(self, name: str):
        return self.sock if name == "socket" else None

    def sendto(self, data: bytes, addr) -> None:
        self.sock.sendto(data, addr)


def is_keyframe(payload: bytes) -> bool:
    return payload[:1] == b"K"


class Twins:
    """A Python copy that records what it would send and a C copy that sends it for real."""

    def __init__(self, audio: bool, initial_seq: int = 65530, ts_offset: int = 0xFFFFF000) -> None:
        self.receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.receiver.bind(("127.0.0.1", 0))
        self.receiver.setblocking(False)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rx = Session(policy=Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_INBOUND))
        tx = Session(policy=Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
        pair = SimpleNamespace(protocol=SimpleNamespace(transport=SocketTransport(self.sock)),
                               remote_addr=self.receiver.getsockname())
        self.nominated = {1: pair}
        self.dtls = SimpleNamespace(_state=State.CONNECTED, _tx_srtp=tx,
                                    transport=SimpleNamespace(_connection=SimpleNamespace(_nominated=self.nominated)))
        self.py_sender, self.c_sender = SimpleNamespace(), SimpleNamespace()   # what their RTCP SR reads
        self.py = Copy(audio, SSRC, initial_seq, ts_offset, is_keyframe, self.py_sender)
        self.c = compat.CCopy(audio, SSRC, initial_seq, ts_offset, is_keyframe, compat.report_slots(self.c_sender))
        self.sent: list[bytes] = []
        self.py.send = self._record
        self.c.route = compat.rtp_route(self.dtls)
        for c in (self.py, self.c):
            c.pt = 111 if audio else 96
            c.mid_element = extension_element(4, b"3")
            c.abs_id = 2
            c.level_id = 1 if audio else 0
            c.ready = True

    def _record(self, marker_pt: int, seq: int, ts: int, ssrc: int, ext: bytes, payload: bytes):
        self.sent.append(struct.pack("!BBHII", 0x90 if ext else 0x80, marker_pt, seq, ts, ssrc) + ext + payload)
        return True

    def wire(self) -> list[bytes]:
        """What reached the subscriber's socket so far, unprotected."""
        got = []
        while True:
            try:
                got.append(self.rx.unprotect(self.receiver.recv(2048)))
            except BlockingIOError:
                return got

    def forward(self, payload: bytes, seq: int, ts: int, marker: int = 0, level: int = -1) -> None:
        args = (payload, seq, ts, marker, 0x123456, level, 1_800_000_000.25)
        copies.fan((self.py,), 0, 1, *args)
        compat.c_fan((self.c,), 0, 1, *args)

    def both(self, name: str, value) -> None:
        setattr(self.py, name, value)
        setattr(self.c, name, value)

    def check(self) -> None:
        assert self.wire() == self.sent
        self.sent.clear()
        assert {f: getattr(self.c, f) for f in FIELDS} == {f: getattr(self.py, f) for f in FIELDS}
        assert vars(self.c_sender) == vars(self.py_sender)

    def close(self) -> None:
        self.receiver.close()
        self.sock.close()


@pytest.fixture
def video():
    t = Twins(audio=False)
    yield t
    t.close()


def test_keyframe_gating_wraparound_and_reordering_match(video):
    video.forward(b"d" * 500, 100, 9000)                 # not a keyframe: dropped
    video.check()
    assert video.c.dropped == 1 and video.c.forwarded == 0
    for i, seq in enumerate((65534, 65535, 0, 1)):       # the publisher's sequence wraps
        video.forward((b"K" if i == 0 else b"d") + bytes([i]) * 1000, seq, 0xFFFFFFF0 + i, marker=int(i == 3))
    video.forward(b"late", 65533, 0xFFFFFFEF)            # reordered: older than the first kept
    video.check()
    assert video.c.forwarded == 5
    assert video.c.last_out_seq == (65530 + 3) & 0xFFFF  # the late packet did not move it back
    assert int(vars(video.c_sender)["_RTCRtpSender__packet_count"]) == 4   # reported at the marker


def test_resync_and_a_new_source_keep_the_subscribers_numbers_continuous(video):
    video.forward(b"K1", 10, 1000)
    video.forward(b"d2", 11, 1000, marker=1)
    for c in (video.py, video.c):                        # PacketSubscription.resync: wait for a keyframe
        c.waiting_keyframe, c.seq_offset = True, -1
    video.forward(b"d", 500, 4000)
    video.forward(b"K2", 501, 4000)
    for c in (video.py, video.c):                        # PacketSubscription.new_stream
        c.seq_offset, c.rebase_ts, c.waiting_keyframe = -1, c.last_ts >= 0, True
    video.forward(b"K3", 7, 123456789, marker=1)         # a new SSRC's numbering and clock
    video.check()
    assert video.c.ts_offset != 0xFFFFF000               # re-based: about one frame after the last


def test_audio_levels_emit_refusals_and_no_transport_match():
    t = Twins(audio=True)
    try:
        t.forward(b"a" * 80, 1, 960, level=0x80 | 30)
        t.forward(b"b" * 80, 2, 1920, level=-1)            # no level element
        t.forward(b"x" * 1400, 3, 2880)                    # does not fit with SRTP's trailer: refused
        assert t.py.emit(0, 4242, 55, b"resent", 0x654321, 12) and t.c.emit(0, 4242, 55, b"resent", 0x654321, 12)
        t.check()
        assert t.c.refused == 1 and t.c.forwarded == 2
        t.dtls._state = State.CLOSED                       # DTLS gone: counted unsent, nothing sent
        t.py.send = lambda *parts: None
        t.forward(b"c" * 80, 5, 3840)
        t.dtls._state = State.CONNECTED
        copies.disconnect(t.py)
        copies.disconnect(t.c)
        t.forward(b"d" * 80, 6, 4800)
        t.check()
        assert t.c.unsent == 2
        assert t.c.emit(0, 1, 1, b"x", 0, -1) is None
    finally:
        t.close()


def test_the_route_follows_a_new_pair_and_a_new_srtp_session(video):
    video.forward(b"K", 1, 0)
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    other.settimeout(5)
    try:
        video.check()
        pair = video.nominated[1]
        video.nominated[1] = SimpleNamespace(protocol=pair.protocol, remote_addr=other.getsockname())
        video.dtls._tx_srtp = Session(policy=Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
        video.c.forward(b"moved", 2, 0, 0, 0, -1, 0.0)
        rx = Session(policy=Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_INBOUND))
        assert rx.unprotect(other.recv(2048)).endswith(b"moved")
    finally:
        other.close()


def test_bad_arguments_are_refused_not_sent(video):
    with pytest.raises(TypeError):
        compat.c_fan((video.c, object()), 0, 2, b"K", 1, 0, 0, 0, -1, 0.0)
    assert video.c.forwarded == 1                          # the copy before the bad one was sent
    for bad in ((b"K", 0x10000, 0, 0, 0, -1, 0.0), (b"K", 1, 0, 2, 0, -1, 0.0), (b"K", 1, 0, 0, 0, 256, 0.0),
                ("K", 1, 0, 0, 0, -1, 0.0)):
        with pytest.raises((OverflowError, TypeError)):
            video.c.forward(*bad)
    with pytest.raises(ValueError):
        video.c.mid_element = b"x" * 18
    with pytest.raises(TypeError):
        video.c.route = "not a route"
    assert video.c.forwarded == 1


# publisher sequence numbers advance (by up to 200, wrapping): a number sent twice is a replay that
# libsrtp rightly refuses on the C side, which the recording Python twin does not model
step = st.one_of(
    st.tuples(st.just("packet"), st.booleans(), st.integers(1, 200), st.integers(0, 0xFFFFFFFF),
              st.integers(0, 1), st.integers(0, 1300), st.integers(-1, 0xFF)),
    st.tuples(st.just("resync")),
    st.tuples(st.just("new_stream")),
)


@settings(max_examples=60, deadline=None)
@given(audio=st.booleans(), initial=st.integers(0, 0xFFFF), offset=st.integers(0, 0xFFFFFFFF),
       first=st.integers(0, 0xFFFF), steps=st.lists(step, max_size=40))
def test_any_sequence_gives_the_same_bytes_and_state(audio, initial, offset, first, steps):
    t = Twins(audio, initial, offset)
    seq = first
    try:
        for s in steps:
            if s[0] == "packet":
                _, key, advance, ts, marker, size, level = s
                seq = (seq + advance) & 0xFFFF
                t.forward((b"K" if key else b"d") + b"p" * size, seq, ts, marker, level)
            else:
                for c in (t.py, t.c):
                    c.seq_offset = -1
                    if s[0] == "new_stream":
                        c.rebase_ts = c.last_ts >= 0
                    if not audio:
                        c.waiting_keyframe = True
            t.check()
    finally:
        t.close()
