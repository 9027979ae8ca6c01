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
import functools
import time
from typing import Any, Callable, Optional

from aiortc import MediaStreamError, MediaStreamTrack, RTCRtpSender

from .. import aiortc_compat as compat
from . import copy as copies
from .copy import abs_send_time, extension_element, level_byte
from .history import PacketHistory
from .keyframes import starts_keyframe
from .resend import ResendGuard
from .stats import ForwardTotals

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
PLI_INTERVAL = 1.0  # seconds: a subscriber's own keyframe requests are passed on at most this often


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

    Per packet only `copy` works (media/forward/copy.py: what differs per subscriber, in C where
    the module was built; docs/architecture.md "Paths: ... an RTP packet"); the publication's fan-out
    calls it for a slice of subscribers at once. This object connects it when aiortc has negotiated
    the sender, re-bases it after a gap, answers NACKs from the publication's shared `PacketHistory`
    (the subscriber's sequence number maps back to the publisher's while the mapping is unchanged)
    and counts."""

    def __init__(self, sender: RTCRtpSender, track: IdleTrack, codec_name: str,
                 need_keyframe: Callable[[], None], totals: Optional[ForwardTotals] = None) -> None:
        self.sender = sender
        self.track = track
        kind = track.kind
        self.kind = kind
        self.codec_name = codec_name
        self._need_keyframe = need_keyframe
        self.closed = False
        self.nacks = 0              # NACKed packets retransmitted
        self._resend: Optional[ResendGuard] = None   # which NACKs to answer (media/forward/resend.py)
        self.keyframe_requests = 0  # PLI/FIR from the subscriber
        self._pli_at = float("-inf")  # when one was last passed on to the publication
        self.history: Optional[PacketHistory] = None   # the publication's, set when it adds us
        self._totals = totals
        self.copy = copies.new_copy(kind == "audio", compat.sender_ssrc(sender),
                                     functools.partial(starts_keyframe, codec_name), sender)
        compat.on_send_started(sender, self._start)
        compat.answer_nacks(sender, self._retransmit)
        compat.on_keyframe_request(sender, self._keyframe_requested)

    @property
    def forwarded(self) -> int:
        return self.copy.forwarded

    @property
    def dropped(self) -> int:
        """Packets not sent while waiting for a keyframe."""
        return self.copy.dropped

    def _start(self, parameters: Any) -> None:
        copy = self.copy
        if self.closed or copy.ready:
            return
        copy.pt = parameters.codecs[0].payloadType
        mid = (parameters.muxId or "").encode()
        for ext in parameters.headerExtensions:
            if ext.uri == MID_URI and mid:
                copy.mid_element = extension_element(ext.id, mid)
            elif ext.uri == LEVEL_URI:
                copy.level_id = ext.id
            elif ext.uri == ABS_SEND_TIME_URI:
                copy.abs_id = ext.id
        copies.connect(copy, self.sender.transport)
        copy.ready = True
        if copy.waiting_keyframe:
            self._need_keyframe()

    def resync(self) -> None:
        if self.kind == "video":
            self.copy.waiting_keyframe = True
            self.copy.seq_offset = -1
            self._need_keyframe()

    def new_stream(self) -> None:
        """The publisher's SSRC changed (a new track on its m-line): keep our sequence
        numbers and timestamps continuous and start over on a keyframe."""
        self.copy.seq_offset = -1
        self.copy.rebase_ts = self.copy.last_ts >= 0
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
        c = self.copy
        return {"packets": c.forwarded, "bytes": c.octets, "dropped_keyframe_wait": c.dropped,
                "unsent": c.unsent, "refused": c.refused, "nacks": self.nacks,
                "nacks_ignored": self._resend.ignored if self._resend is not None else 0,
                "keyframe_requests": self.keyframe_requests}

    def close(self) -> None:
        """Stop forwarding and forget the publication (the sender and its m-line
        outlive the subscription); idempotent."""
        if not self.closed and self._totals is not None:
            self._totals.fold(self.counts())
        self.closed = True
        self.copy.ready = False
        copies.disconnect(self.copy)
        self._need_keyframe = _noop
        self.history = None
        self.track.end()

    async def _retransmit(self, sequence_number: int) -> None:
        """A NACKed packet of ours: the publisher's packet it was made from, rewritten again, if it
        was sent under the current sequence mapping, the publication still holds it, and the resend
        guard agrees (not resent within a round trip, nor three times, within the budget)."""
        copy, history = self.copy, self.history
        offset, last, start = copy.seq_offset, copy.last_out_seq, copy.segment_start
        if not copy.ready or history is None or offset < 0 or last < 0:
            return
        if ((sequence_number - start) & 0xFFFF) > ((last - start) & 0xFFFF):
            return  # before the current mapping began, or never sent
        packet = history.get((sequence_number - offset) & 0xFFFF)
        if packet is None:
            return
        guard = self._resend
        if guard is None:
            guard = self._resend = ResendGuard(copy.forwarded)
        if not guard.allow(sequence_number, time.monotonic(), copy.forwarded, compat.sender_rtt(self.sender)):
            return
        ts = (packet.timestamp + copy.ts_offset) & 0xFFFFFFFF
        if copy.emit(packet.marker, sequence_number, ts, packet.payload, abs_send_time(time.time()),
                     level_byte(packet.audio_level)):
            self.nacks += 1


def _noop() -> None:
    return None
