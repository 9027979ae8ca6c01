"""Packet-level forwarding: each publisher RTP packet is re-addressed for every
subscriber (SSRC, sequence number, timestamp offset, payload type, header
extensions rewritten; payload untouched) and protected with the subscriber's
SRTP context, without waiting for the receive jitter buffer to complete the
frame and without aiortc's per-sender packetization loop.

The publication's aiortc receiver still reassembles frames (for recording
sinks and keyframe tracking); subscribers are fed from its packet hook.

A `PacketSubscription` owns one subscribe transceiver's sender: aiortc still
negotiates it, registers it on the transport and runs its RTCP (SR, incoming
PLI/NACK); its RTP loop reads a track that never yields. Keyframe gating: a
video subscription starts (and restarts after a mute or an overflow) on the
first packet of a keyframe and keeps sequence numbers contiguous across the
gap; NACKs are answered from a small history.
"""

from __future__ import annotations

import asyncio
import random
import struct
from typing import Any, Callable, Optional

from aiortc import RTCRtpSender
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcdtlstransport import State as DtlsState

from .keyframes import is_keyframe

_HEADER = struct.Struct("!BBHII")
_EXT_HEAD = struct.Struct("!HH")
NTP_OFFSET = 2208988800  # seconds from 1900 (NTP) to 1970 (Unix)
_S = "_RTCRtpSender__"
HISTORY = 256
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


def starts_keyframe(codec_name: str, payload: bytes) -> bool:
    """Is this RTP payload the first packet of a keyframe?"""
    name = codec_name.lower()
    if not payload:
        return False
    if name == "vp8":
        # RFC 7741: X/N/S/PID; S=1 and PID=0 starts the frame, then optional extensions
        b0 = payload[0]
        if not (b0 & 0x10) or (b0 & 0x0F):
            return False
        pos = 1
        if b0 & 0x80:
            if len(payload) < 2:
                return False
            x = payload[1]
            pos = 2
            if x & 0x80:  # I: picture id
                pos += 2 if len(payload) > 2 and payload[2] & 0x80 else 1
            if x & 0x40:  # L: TL0PICIDX
                pos += 1
            if x & 0x30:  # T/K
                pos += 1
        return len(payload) > pos and (payload[pos] & 0x01) == 0
    if name == "h264":
        nal = payload[0] & 0x1F
        if nal in (5, 7):
            return True
        if nal == 28 and len(payload) > 1:  # FU-A: start bit + IDR
            return bool(payload[1] & 0x80) and (payload[1] & 0x1F) == 5
        if nal == 24:  # STAP-A
            return is_keyframe("h264", _stap_to_annexb(payload[1:]))
        return False
    return True


def _stap_to_annexb(data: bytes) -> bytes:
    out, pos = [], 0
    while pos + 2 <= len(data):
        (size,) = struct.unpack_from("!H", data, pos)
        out.append(b"\x00\x00\x01" + data[pos + 2:pos + 2 + size])
        pos += 2 + size
    return b"".join(out)


def _element(eid: int, value: bytes) -> bytes:
    return bytes([(eid << 4) | (len(value) - 1)]) + value if eid else b""


def _extension_block(body: bytes) -> bytes:
    """RFC 8285 one-byte header extensions from concatenated elements."""
    if not body:
        return b""
    body += b"\x00" * (-len(body) % 4)
    return struct.pack("!HH", 0xBEDE, len(body) // 4) + body


class IdleTrack(MediaStreamTrack):
    """What the sender's own RTP loop reads in packet mode: nothing, until ended."""

    def __init__(self, kind: str, track_id: str) -> None:
        super().__init__()
        self.kind = kind
        self._id = track_id
        self._ended = asyncio.Event()

    def end(self) -> None:
        self._ended.set()

    async def recv(self) -> Any:
        await self._ended.wait()
        self.stop()
        raise MediaStreamError


class PacketSubscription:
    def __init__(self, sender: RTCRtpSender, kind: str, codec_name: str, need_keyframe: Callable[[], None]) -> None:
        self.sender = sender
        self.kind = kind
        self.codec_name = codec_name
        self._need_keyframe = need_keyframe
        self.waiting_keyframe = kind == "video"
        self.ready = False
        self.closed = False
        self.forwarded = 0
        self.dropped = 0
        self._pt = 0
        self._ssrc = sender._ssrc
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
        original_send = sender.send

        async def send(parameters: Any) -> None:
            await original_send(parameters)
            self._start(parameters)

        sender.send = send  # type: ignore[method-assign]
        sender._retransmit = self._retransmit  # type: ignore[method-assign]

    def _start(self, parameters: Any) -> None:
        if self.closed or self.ready:
            return
        self._pt = parameters.codecs[0].payloadType
        mid = (parameters.muxId or "").encode()
        for ext in parameters.headerExtensions:
            if ext.uri == MID_URI and mid:
                self._mid_element = _element(ext.id, mid)
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

    def detach(self) -> None:
        self._need_keyframe = _noop

    def close(self) -> None:
        self.closed = True
        self.ready = False

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
        if body:
            pad = -len(body) % 4
            ext = _EXT_HEAD.pack(0xBEDE, (len(body) + pad) >> 2) + body + b"\x00" * pad
        else:
            ext = b""
        first = 0x90 if ext else 0x80
        payload = packet.payload
        data = _HEADER.pack(first, (packet.marker << 7) | self._pt, seq, ts, self._ssrc) + ext + payload
        self._history[seq % HISTORY] = (seq, data)
        if self._last_out_seq is None or ((seq - self._last_out_seq) & 0xFFFF) < 0x8000:
            self._last_out_seq = seq
        if not self._send(data):
            return
        self.forwarded += 1
        self._packets += 1
        self._octets += len(payload)
        if packet.marker or self.kind == "audio":
            # what the sender's RTCP SR reports
            s: Any = self.sender
            setattr(s, _S + "packet_count", self._packets)
            setattr(s, _S + "octet_count", self._octets)
            setattr(s, _S + "rtp_timestamp", ts)
            setattr(s, _S + "ntp_timestamp", int((now + NTP_OFFSET) * 4294967296))

    def _send(self, data: bytes) -> bool:
        """SRTP-protect and send synchronously on the nominated ICE pair: the same steps as
        RTCDtlsTransport._send_rtp -> RTCIceTransport._send -> aioice send_data, without
        five coroutine hops per packet (aiortc 1.16 / aioice 0.13 internals)."""
        dtls = self._transport
        if dtls._state != DtlsState.CONNECTED:
            return False
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None:
            return False
        pair.protocol.transport.sendto(dtls._tx_srtp.protect(data), pair.remote_addr)
        return True

    async def _retransmit(self, sequence_number: int) -> None:
        entry = self._history[sequence_number % HISTORY]
        if entry is not None and entry[0] == sequence_number and self.ready:
            self._send(entry[1])


def _noop() -> None:
    return None
