"""One subscriber's copy of one publication: the per-packet state and work (docs/architecture.md
"Paths: ... an RTP packet").

Per publisher packet a copy does only what differs per subscriber: keyframe gating, its sequence
number and timestamp (offsets from the publisher's, re-based after a gap or a new source), its
header (payload type, SSRC) and RFC 8285 extensions (its m-line's MID, abs-send-time, audio level),
SRTP protect and send. `fan` runs that for a slice of a publication's copies in one call.

Two implementations with the same fields and the same bytes on the wire: the C one
(`compat.CCopy` / `compat.c_fan`, media/aiortc_compat/_fanout.c), which sends through a `Route`
without a Python call per copy, and `Copy` below, where the C module was not built
(ANTECHAMBER_SEND_PATH=python, no compiler). tests/unit/test_media_copy.py feeds both the same
packets and compares what a real SRTP receiver gets. `new_copy` picks one; media/forward/packet.py
(`PacketSubscription`) owns the copy and reads its fields for NACK answers and statistics.

Fields: `seq_offset`, `last_out_seq`, `last_ts` are -1 while unknown; `initial_seq` is the first
sequence number the subscriber sees (random, RFC 3550 §5.1); `ts_offset` starts random too.
"""

from __future__ import annotations

import random
import struct
from typing import Any, Callable, Optional

from .. import aiortc_compat as compat

NTP_OFFSET = 2208988800  # seconds from 1900 (NTP) to 1970 (Unix)
_EXT_HEAD = struct.Struct("!HH")
MAX_PACKET = 1500 - 144  # what fits before SRTP's trailer in a 1,500-byte buffer (as pylibsrtp reserves)


def extension_element(eid: int, value: bytes) -> bytes:
    """One RFC 8285 one-byte header extension element (nothing if the id is 0)."""
    return bytes([(eid << 4) | (len(value) - 1)]) + value if eid else b""


def extension_block(body: bytes) -> bytes:
    """RFC 8285 one-byte header extensions from concatenated elements."""
    if not body:
        return b""
    pad = -len(body) % 4
    return _EXT_HEAD.pack(0xBEDE, (len(body) + pad) >> 2) + body + b"\x00" * pad


def abs_send_time(now: float) -> int:
    """abs-send-time of a packet that arrived at `now` (time.time()): 6.18 fixed-point seconds."""
    return int(now * 262144) & 0xFFFFFF


def level_byte(level: Optional[tuple[bool, int]]) -> int:
    """The ssrc-audio-level element's byte (voice activity bit, -dBov), or -1 without one."""
    return -1 if level is None else (0x80 if level[0] else 0) | (level[1] & 0x7F)


def packet_args(packet: Any, now: float) -> tuple[Any, ...]:
    """What `Copy.forward` (and `fan`, after the copies and the slice) takes of one publisher packet
    (aiortc's `RtpPacket`) that arrived at `now`: the parts every copy shares, computed once."""
    return (packet.payload, packet.sequence_number, packet.timestamp, packet.marker, abs_send_time(now),
            level_byte(packet.extensions.audio_level), now)


def _unsent(marker_pt: int, seq: int, ts: int, ssrc: int, ext: bytes, payload: bytes) -> None:
    return None


class Copy:
    """The Python copy: `send` is a `compat.RtpSend` (None: no transport); `report` the sender whose
    RTCP sender reports count what was sent (`compat.report_sent`)."""

    __slots__ = ("send", "keyframe_test", "report", "mid_element", "abs_id", "level_id", "pt", "ssrc",
                 "ready", "waiting_keyframe", "audio", "rebase_ts", "seq_offset", "segment_start",
                 "last_out_seq", "initial_seq", "ts_offset", "last_ts",
                 "forwarded", "octets", "dropped", "unsent", "refused")

    def __init__(self, audio: bool, ssrc: int, initial_seq: int, ts_offset: int,
                 keyframe_test: Optional[Callable[[bytes], bool]], report: Any) -> None:
        self.send: compat.RtpSend = _unsent
        self.keyframe_test = keyframe_test
        self.report = report
        self.mid_element, self.abs_id, self.level_id, self.pt = b"", 0, 0, 0
        self.ssrc = ssrc
        self.ready = False
        self.waiting_keyframe = not audio
        self.audio = audio
        self.rebase_ts = False
        self.seq_offset = self.last_out_seq = self.last_ts = -1
        self.segment_start = 0
        self.initial_seq = initial_seq
        self.ts_offset = ts_offset
        self.forwarded = self.octets = self.dropped = self.unsent = self.refused = 0

    def emit(self, marker: int, seq: int, ts: int, payload: bytes, abs24: int, level: int) -> Optional[bool]:
        """Build, protect and send one packet of ours: True sent, None no transport, False refused."""
        body = self.mid_element
        if self.abs_id:
            body += bytes(((self.abs_id << 4) | 2, abs24 >> 16, (abs24 >> 8) & 0xFF, abs24 & 0xFF))
        if self.level_id and level >= 0:
            body += bytes((self.level_id << 4, level))
        ext = extension_block(body)
        if 12 + len(ext) + len(payload) > MAX_PACKET:
            return False
        return self.send((marker << 7) | self.pt, seq, ts, self.ssrc, ext, payload)

    def forward(self, payload: bytes, seq: int, ts: int, marker: int, abs24: int, level: int, now: float) -> None:
        """One publisher packet (already known to carry the publication's codec), arrived at `now`."""
        if not self.ready:
            return
        if self.waiting_keyframe:
            if not self.keyframe_test(payload):
                self.dropped += 1
                return
            self.waiting_keyframe = False
            self.seq_offset = -1
        if self.seq_offset < 0:
            last = self.last_out_seq
            next_seq = self.initial_seq if last < 0 else (last + 1) & 0xFFFF
            self.seq_offset = (next_seq - seq) & 0xFFFF
            self.segment_start = next_seq
            if self.rebase_ts and self.last_ts >= 0:
                step = 960 if self.audio else 3000  # about one frame later
                self.ts_offset = (self.last_ts + step - ts) & 0xFFFFFFFF
            self.rebase_ts = False
        out_seq = (seq + self.seq_offset) & 0xFFFF
        out_ts = (ts + self.ts_offset) & 0xFFFFFFFF
        self.last_ts = out_ts
        last = self.last_out_seq
        if last < 0 or ((out_seq - last) & 0xFFFF) < 0x8000:
            self.last_out_seq = out_seq
        sent = self.emit(marker, out_seq, out_ts, payload, abs24, level)
        if not sent:
            if sent is None:
                self.unsent += 1
            else:
                self.refused += 1
            return
        self.forwarded += 1
        self.octets += len(payload)
        if (marker or self.audio) and self.report is not None:  # what the sender's RTCP SR reports
            compat.report_sent(self.report, self.forwarded, self.octets, out_ts, int((now + NTP_OFFSET) * 4294967296))


def fan(copies: tuple[Any, ...], start: int, end: int, payload: bytes, seq: int, ts: int, marker: int,
        abs24: int, level: int, now: float) -> None:
    """`copies[start:end]`, each sent one publisher packet."""
    for i in range(start, end):
        copies[i].forward(payload, seq, ts, marker, abs24, level, now)


def new_copy(audio: bool, ssrc: int, keyframe_test: Optional[Callable[[bytes], bool]], report: Any) -> Any:
    """A C copy where the module was built, else a Python one; `report` is the RTCRtpSender."""
    initial_seq, ts_offset = random.getrandbits(15), random.getrandbits(32)
    if compat.CCopy is not None:
        return compat.CCopy(audio, ssrc, initial_seq, ts_offset, keyframe_test, compat.report_slots(report))
    return Copy(audio, ssrc, initial_seq, ts_offset, keyframe_test, report)


def connect(copy: Any, transport: Any) -> None:
    """Send `copy`'s packets on the subscriber's DTLS transport (once aiortc started the sender)."""
    if isinstance(copy, Copy):
        copy.send = compat.rtp_send_function(transport)
    else:
        copy.route = compat.rtp_route(transport)


def disconnect(copy: Any) -> None:
    """Send nothing more (counted as unsent, should a packet still come)."""
    if isinstance(copy, Copy):
        copy.send = _unsent
    else:
        copy.route = None


def fan_function() -> Callable[..., None]:
    """The `fan` that goes with `new_copy`'s copies."""
    return compat.c_fan if compat.CCopy is not None else fan
