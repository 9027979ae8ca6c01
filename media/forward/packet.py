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
contiguous across the gap; NACKs are answered from the publication's shared
history (media/forward/history.py). The
sender's internals are reached only through `media.aiortc_compat`.
"""

from __future__ import annotations

import asyncio
import random
import struct
import time
from typing import Any, Callable, Optional

from aiortc import MediaStreamError, MediaStreamTrack, RTCRtpSender

from .. import aiortc_compat as compat
from .history import PacketHistory
from .keyframes import starts_keyframe
from .resend import ResendGuard
from .stats import ForwardTotals

_EXT_HEAD = struct.Struct("!HH")
NTP_OFFSET = 2208988800  # seconds from 1900 (NTP) to 1970 (Unix)
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
PLI_INTERVAL = 1.0  # seconds: a subscriber's own keyframe requests are passed on at most this often


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
    call `need_keyframe` (the publication's keyframe request) until `close()`.

    Per packet it does only what differs per subscriber (docs/architecture.md "Paths: ... an RTP
    packet"): its sequence number and timestamp, the header from a template packed once at start,
    the extension block (shared by subscribers with the same extension ids, `ExtensionCache`), SRTP
    protect and send. NACKs are answered from the publication's shared `PacketHistory`: the
    subscriber's sequence number maps back to the publisher's while the mapping is unchanged."""

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
        self.refused = 0            # SRTP or the kernel refused the packet (a full socket buffer: EAGAIN)
        self.nacks = 0              # NACKed packets retransmitted
        self._resend: Optional[ResendGuard] = None   # which NACKs to answer (media/forward/resend.py)
        self.keyframe_requests = 0  # PLI/FIR from the subscriber
        self._pli_at = float("-inf")  # when one was last passed on to the publication
        self.history: Optional[PacketHistory] = None   # the publication's, set when it adds us
        self._totals = totals
        self._audio = kind == "audio"
        self._pt = 0
        self._ssrc = compat.sender_ssrc(sender)
        self._ext_key: tuple[bytes, int, int] = (b"", 0, 0)   # (mid element, abs-send-time id, level id)
        self._send: compat.RtpSend = _unsent   # build + protect + send (compat.rtp_send_function)
        self._seq_offset: Optional[int] = None
        self._segment_start = 0     # our first sequence number under the current offset
        self._last_out_seq: Optional[int] = None
        self._ts_offset = random.getrandbits(32)
        self._last_ts: Optional[int] = None
        self._rebase_ts = False
        self._octets = 0
        compat.on_send_started(sender, self._start)
        compat.answer_nacks(sender, self._retransmit)
        compat.on_keyframe_request(sender, self._keyframe_requested)

    def _start(self, parameters: Any) -> None:
        if self.closed or self.ready:
            return
        self._pt = parameters.codecs[0].payloadType
        mid = (parameters.muxId or "").encode()
        mid_element, abs_id, level_id = b"", 0, 0
        for ext in parameters.headerExtensions:
            if ext.uri == MID_URI and mid:
                mid_element = extension_element(ext.id, mid)
            elif ext.uri == LEVEL_URI:
                level_id = ext.id
            elif ext.uri == ABS_SEND_TIME_URI:
                abs_id = ext.id
        self._ext_key = (mid_element, abs_id, level_id)
        self._send = compat.rtp_send_function(self.sender.transport)
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
        """The subscriber's PLI/FIR. Passed on at most every PLI_INTERVAL (as Janus does): a subscriber
        on a lossy link asks again and again, and each keyframe (dozens of packets) would go to every
        subscriber and overflow the very link that lost the last one (docs/architecture.md, "Keyframes")."""
        self.keyframe_requests += 1
        now = time.monotonic()
        if now - self._pli_at < PLI_INTERVAL:
            return
        self._pli_at = now
        self._need_keyframe()

    def counts(self) -> dict[str, int]:
        """What this copy counted so far (media/forward/stats.py)."""
        return {"packets": self.forwarded, "bytes": self._octets, "dropped_keyframe_wait": self.dropped,
                "unsent": self.unsent, "refused": self.refused, "nacks": self.nacks,
                "nacks_ignored": self._resend.ignored if self._resend is not None else 0,
                "keyframe_requests": self.keyframe_requests}

    def close(self) -> None:
        """Stop forwarding and forget the publication (the sender and its m-line
        outlive the subscription); idempotent."""
        if not self.closed and self._totals is not None:
            self._totals.fold(self.counts())
        self.closed = True
        self.ready = False
        self._need_keyframe = _noop
        self.history = None
        self._send = _unsent
        self.track.end()

    def forward(self, packet: Any, extensions: "ExtensionCache") -> None:
        """Send one publisher packet (already known to carry the publication's codec);
        `extensions` holds its arrival time and extension blocks (shared by every subscriber's copy)."""
        if not self.ready:
            return
        if self.waiting_keyframe:
            if not starts_keyframe(self.codec_name, packet.payload):
                self.dropped += 1
                return
            self.waiting_keyframe = False
            self._seq_offset = None
        offset = self._seq_offset
        if offset is None:
            last = self._last_out_seq
            next_seq = random.getrandbits(15) if last is None else (last + 1) & 0xFFFF
            offset = self._seq_offset = (next_seq - packet.sequence_number) & 0xFFFF
            self._segment_start = next_seq
            if self._rebase_ts and self._last_ts is not None:
                step = 960 if self._audio else 3000  # about one frame later
                self._ts_offset = (self._last_ts + step - packet.timestamp) & 0xFFFFFFFF
            self._rebase_ts = False
        seq = (packet.sequence_number + offset) & 0xFFFF
        ts = (packet.timestamp + self._ts_offset) & 0xFFFFFFFF
        self._last_ts = ts
        last = self._last_out_seq
        if last is None or ((seq - last) & 0xFFFF) < 0x8000:
            self._last_out_seq = seq
        payload = packet.payload
        sent = self._send((packet.marker << 7) | self._pt, seq, ts, self._ssrc, extensions.block(self._ext_key), payload)
        if not sent:
            if sent is None:
                self.unsent += 1
            else:
                self.refused += 1
            return
        self.forwarded += 1
        self._octets += len(payload)
        if packet.marker or self._audio:  # what the sender's RTCP SR reports
            compat.report_sent(self.sender, self.forwarded, self._octets, ts,
                               int((extensions.now + NTP_OFFSET) * 4294967296))

    async def _retransmit(self, sequence_number: int) -> None:
        """A NACKed packet of ours: the publisher's packet it was made from, rewritten again, if it
        was sent under the current sequence mapping, the publication still holds it, and the resend
        guard agrees (not resent within a round trip, nor three times, within the budget)."""
        history, offset, last = self.history, self._seq_offset, self._last_out_seq
        if not self.ready or history is None or offset is None or last is None:
            return
        if ((sequence_number - self._segment_start) & 0xFFFF) > ((last - self._segment_start) & 0xFFFF):
            return  # before the current mapping began, or never sent
        packet = history.get((sequence_number - offset) & 0xFFFF)
        if packet is None:
            return
        guard = self._resend
        if guard is None:
            guard = self._resend = ResendGuard(self.forwarded)
        if not guard.allow(sequence_number, time.monotonic(), self.forwarded, compat.sender_rtt(self.sender)):
            return
        ts = (packet.timestamp + self._ts_offset) & 0xFFFFFFFF
        extensions = ExtensionCache(time.time(), packet.audio_level)
        if self._send((packet.marker << 7) | self._pt, sequence_number, ts, self._ssrc,
                      extensions.block(self._ext_key), packet.payload):
            self.nacks += 1


class ExtensionCache:
    """One publisher packet's RFC 8285 extension blocks, made once per distinct set of negotiated
    extension ids (the server offers every subscriber the same ids, so usually once per MID)."""

    __slots__ = ("now", "_abs", "_level", "_blocks")

    def __init__(self, now: float, level: Optional[tuple[bool, int]]) -> None:
        self.now = now                     # time.time() at the packet's arrival
        v = int(now * 262144) & 0xFFFFFF   # abs-send-time: 6.18 fixed-point seconds
        self._abs = (v >> 16, (v >> 8) & 0xFF, v & 0xFF)
        self._level = None if level is None else (0x80 if level[0] else 0) | (level[1] & 0x7F)
        self._blocks: dict[tuple[bytes, int, int], bytes] = {}

    def block(self, key: tuple[bytes, int, int]) -> bytes:
        block = self._blocks.get(key)
        if block is None:
            mid_element, abs_id, level_id = key
            body = mid_element
            if abs_id:
                body += bytes(((abs_id << 4) | 2, *self._abs))
            if level_id and self._level is not None:
                body += bytes((level_id << 4, self._level))
            block = self._blocks[key] = extension_block(body)
        return block


def _unsent(marker_pt: int, seq: int, ts: int, ssrc: int, ext: bytes, payload: bytes) -> None:
    return None


def _noop() -> None:
    return None
