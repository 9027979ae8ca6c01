"""Packet-level forwarding (the SFU's only path): each publisher RTP packet is
re-addressed for every subscriber (SSRC, sequence number, timestamp offset,
payload type, header extensions rewritten; payload untouched) and protected
with the subscriber's SRTP context, without waiting for the receive jitter
buffer to complete the frame and without aiortc's per-sender packetization loop.

The publication's aiortc receiver still reassembles frames (for recording
sinks and keyframe tracking); subscribers are fed from its packet hook.

A `PacketSubscription` owns one subscribe transceiver's sender: aiortc still
negotiates it, registers it on the transport and runs its RTCP (SR, incoming
PLI/NACK); its RTP loop reads an `IdleTrack`, which never yields. Keyframe
gating: a video subscription starts (and restarts after a mute, a new publisher
SSRC or an unmute) on the first packet of a keyframe and keeps sequence numbers
contiguous across the gap; NACKs are answered from a small history. The
sender's internals are reached only through `media.aiortc_compat`.
"""

from __future__ import annotations

import asyncio
import random
import struct
from typing import Any, Callable, Optional

from aiortc import MediaStreamError, MediaStreamTrack, RTCRtpSender

from .. import aiortc_compat as compat
from .keyframes import starts_keyframe
from .stats import ForwardTotals

_HEADER = struct.Struct("!BBHII")
_EXT_HEAD = struct.Struct("!HH")
NTP_OFFSET = 2208988800  # seconds from 1900 (NTP) to 1970 (Unix)
HISTORY = 256
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


def extension_element(eid: int, value: bytes) -> bytes:
    """One RFC 8285 one-byte header extension element (nothing if the id is 0)."""
    return bytes([(eid << 4) | (len(value) - 1)]) + value if eid else b""


def extension_block(body: bytes) -> bytes:
    """RFC 8285 one-byte header extensions from concatenated elements."""
    if not body:
        return b""
    pad = -len(body) % 4
    return _EXT_HEAD.pack(0xBEDE, (len(body) + pad) >> 2) + body + b"\x00" * pad


class IdleTrack(MediaStreamTrack):
    """What the sender's own RTP loop reads: nothing, until ended. Its id is the
    msid track id the subscriber sees (the publication id)."""

    def __init__(self, kind: str, track_id: str) -> None:
        super().__init__()
        self.kind = kind
        compat.set_track_id(self, track_id)
        self._ended = asyncio.Event()

    def end(self) -> None:
        self._ended.set()

    async def recv(self) -> Any:
        await self._ended.wait()
        self.stop()
        raise MediaStreamError


class PacketSubscription:
    """One subscriber's copy of one publication, sent through `sender` (whose track
    is `track`). The subscriber's PLI/FIR, and every keyframe this copy waits for,
    call `need_keyframe` (the publication's keyframe request) until `close()`."""

    def __init__(self, sender: RTCRtpSender, track: IdleTrack, codec_name: str,
                 need_keyframe: Callable[[], None], totals: Optional[ForwardTotals] = None) -> None:
        self.sender = sender
        self.track = track
        kind = track.kind
        self.kind = kind
        self.codec_name = codec_name
        self._need_keyframe = need_keyframe
        self.waiting_keyframe = kind == "video"
        self.ready = False
        self.closed = False
        self.forwarded = 0
        self.dropped = 0
        self.unsent = 0             # no connected transport yet (or any more)
        self.nacks = 0              # NACKed packets retransmitted
        self.keyframe_requests = 0  # PLI/FIR from the subscriber
        self._totals = totals
        self._pt = 0
        self._ssrc = compat.sender_ssrc(sender)
        self._level_id = 0
        self._abs_id = 0
        self._mid_element = b""
        self._transport: Any = None
        self._seq_offset: Optional[int] = None
        self._last_out_seq: Optional[int] = None
        self._ts_offset = random.getrandbits(32)
        self._last_ts: Optional[int] = None
        self._rebase_ts = False
        self._history: list[Optional[tuple[int, bytes]]] = [None] * HISTORY
        self._packets = 0
        self._octets = 0
        compat.on_send_started(sender, self._start)
        compat.answer_nacks(sender, self._retransmit)
        compat.on_keyframe_request(sender, self._keyframe_requested)

    def _start(self, parameters: Any) -> None:
        if self.closed or self.ready:
            return
        self._pt = parameters.codecs[0].payloadType
        mid = (parameters.muxId or "").encode()
        for ext in parameters.headerExtensions:
            if ext.uri == MID_URI and mid:
                self._mid_element = extension_element(ext.id, mid)
            elif ext.uri == LEVEL_URI:
                self._level_id = ext.id
            elif ext.uri == ABS_SEND_TIME_URI:
                self._abs_id = ext.id
        self._transport = self.sender.transport
        self.ready = True
        if self.waiting_keyframe:
            self._need_keyframe()

    def resync(self) -> None:
        if self.kind == "video":
            self.waiting_keyframe = True
            self._seq_offset = None
            self._need_keyframe()

    def new_stream(self) -> None:
        """The publisher's SSRC changed (a new track on its m-line): keep our sequence
        numbers and timestamps continuous and start over on a keyframe."""
        self._seq_offset = None
        self._rebase_ts = self._last_ts is not None
        self.resync()

    def _keyframe_requested(self) -> None:
        self.keyframe_requests += 1
        self._need_keyframe()

    def counts(self) -> dict[str, int]:
        """What this copy counted so far (media/forward/stats.py)."""
        return {"packets": self.forwarded, "bytes": self._octets, "dropped_keyframe_wait": self.dropped,
                "unsent": self.unsent, "nacks": self.nacks, "keyframe_requests": self.keyframe_requests}

    def close(self) -> None:
        """Stop forwarding and forget the publication (the sender and its m-line
        outlive the subscription); idempotent."""
        if not self.closed and self._totals is not None:
            self._totals.fold(self.counts())
        self.closed = True
        self.ready = False
        self._need_keyframe = _noop
        self._history = [None] * HISTORY
        self.track.end()

    def forward(self, packet: Any, now: float) -> None:
        """Send one publisher packet (already known to carry the publication's codec);
        `now` is time.time() at its arrival (shared by every subscriber's copy)."""
        if not self.ready:
            return
        if self.waiting_keyframe:
            if not starts_keyframe(self.codec_name, packet.payload):
                self.dropped += 1
                return
            self.waiting_keyframe = False
            self._seq_offset = None
        seq_in = packet.sequence_number
        if self._seq_offset is None:
            next_seq = random.getrandbits(15) if self._last_out_seq is None else (self._last_out_seq + 1) & 0xFFFF
            self._seq_offset = (next_seq - seq_in) & 0xFFFF
        seq = (seq_in + self._seq_offset) & 0xFFFF
        if self._rebase_ts and self._last_ts is not None:
            step = 960 if self.kind == "audio" else 3000  # about one frame later
            self._ts_offset = (self._last_ts + step - packet.timestamp) & 0xFFFFFFFF
        self._rebase_ts = False
        ts = (packet.timestamp + self._ts_offset) & 0xFFFFFFFF
        self._last_ts = ts
        body = self._mid_element
        if self._abs_id:  # 6.18 fixed-point seconds
            v = int(now * 262144) & 0xFFFFFF
            body += bytes(((self._abs_id << 4) | 2, v >> 16, (v >> 8) & 0xFF, v & 0xFF))
        if self._level_id and packet.extensions.audio_level is not None:
            vad, level = packet.extensions.audio_level
            body += bytes(((self._level_id << 4), (0x80 if vad else 0) | (level & 0x7F)))
        ext = extension_block(body)
        first = 0x90 if ext else 0x80
        payload = packet.payload
        data = _HEADER.pack(first, (packet.marker << 7) | self._pt, seq, ts, self._ssrc) + ext + payload
        self._history[seq % HISTORY] = (seq, data)
        if self._last_out_seq is None or ((seq - self._last_out_seq) & 0xFFFF) < 0x8000:
            self._last_out_seq = seq
        if not compat.send_rtp_now(self._transport, data):
            self.unsent += 1
            return
        self.forwarded += 1
        self._packets += 1
        self._octets += len(payload)
        if packet.marker or self.kind == "audio":  # what the sender's RTCP SR reports
            compat.report_sent(self.sender, self._packets, self._octets, ts, int((now + NTP_OFFSET) * 4294967296))

    async def _retransmit(self, sequence_number: int) -> None:
        entry = self._history[sequence_number % HISTORY]
        if entry is not None and entry[0] == sequence_number and self.ready:
            if compat.send_rtp_now(self._transport, entry[1]):
                self.nacks += 1


def _noop() -> None:
    return None
