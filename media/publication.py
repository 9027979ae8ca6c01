"""One published track: fans its RTP packets out to subscriptions and its
encoded frames to sinks.

It is fed by the `InboundSlot` of the m-line that carries it (media/inbound.py),
which is also its `Reception`; it tells its room through a
`PublicationListener`. A publication lives from the m-line starting to send
until it stops (inactive, rejected, reused for another source) or the
participant leaves. A new SSRC on the same m-line (a new track on a reused
transceiver) continues the same publication: subscribers are re-based and get
a keyframe.

Subscriber bookkeeping: `subscribers` maps a subscriber's participant id to
its `PacketSubscription` (media/forward/packet.py); sinks (the recorder) get
every complete frame.
"""

from __future__ import annotations

import time
from typing import Any, Optional, Protocol

import structlog
from aiortc import RTCRtpCodecParameters

from . import aiortc_compat as compat
from .forward.fanout import Fanout
from .forward.history import PacketHistory
from .forward.keyframes import KeyframeRequester, starts_keyframe
from .forward.copy import packet_args
from .forward.packet import PacketSubscription
from .forward.stats import ForwardTotals
from .ports import EncodedFrame, FrameSink, MediaConfig, PublicationInfo

log = structlog.get_logger("media.publication")

SOURCE_SILENCE = 1.0   # seconds the current SSRC must be silent before an undeclared one replaces it
RTX_WINDOW = 1024      # an RTX packet repairs one of the stream's last this many packets, or is refused


class Reception(Protocol):
    """The m-line a publication arrives on (implemented by `InboundSlot`)."""

    def continue_stream(self) -> None:
        """A new SSRC on the m-line: its timestamps continue the old stream's."""

    def send_pli(self, media_ssrc: int) -> None: ...

    def declared_ssrcs(self) -> tuple[frozenset[int], frozenset[int]]:
        """(media, RTX) SSRCs the m-line's last negotiation declared; empty when none."""


class PublicationListener(Protocol):
    """What a publication tells its room (implemented by `MediaRoom`)."""

    def audio_level(self, participant_id: str, level: int) -> None:
        """An audio packet's RFC 6464 level (-dBov) while not muted."""

    def publication_ended(self, publication: "Publication") -> None:
        """The receiver stopped: remove the publication everywhere."""


class Publication:
    def __init__(
        self,
        publication_id: str,
        participant_id: str,
        source: str,
        kind: str,
        reception: Reception,
        config: MediaConfig,
        listener: PublicationListener,
        totals: Optional[ForwardTotals] = None,
    ) -> None:
        self.id = publication_id
        self.participant_id = participant_id
        self.source = source
        self.kind = kind
        self.reception = reception
        self.codec: Optional[RTCRtpCodecParameters] = None  # set once the answer is made
        self.muted = False
        self.closed = False
        self.media_ssrc: Optional[int] = None
        self._media_at = 0.0          # monotonic time of the current stream's last packet
        self._max_seq: Optional[int] = None   # the current stream's highest sequence number
        self.refused_packets = 0      # of sources the m-line does not carry (`_takes_source`)
        self.subscribers: dict[str, PacketSubscription] = {}  # subscriber participant id -> its copy
        self.history = PacketHistory()  # the publisher's last packets, shared by every copy's NACKs
        self._fanout = Fanout()   # subscribers.values() as a tuple, rebuilt on add/remove; sent in slices
        self._rtx_pt: Optional[int] = None
        self.sinks: list[FrameSink] = []
        self.frames_in = 0           # frames seen (marker bits; audio packets) while not muted
        self.plis = 0       # PLIs sent to the publisher
        self._totals = totals
        self._listener = listener
        self._log = log.bind(publication=publication_id)
        self._keyframe_base = config.keyframe_min_interval
        self._keyframe_per_subscriber = config.keyframe_interval_per_subscriber
        self.keyframes = KeyframeRequester(
            self._send_pli,
            min_interval=config.keyframe_min_interval,
            retry_interval=config.keyframe_retry_interval,
        )

    @property
    def info(self) -> PublicationInfo:
        codec = self.codec
        return PublicationInfo(
            publication_id=self.id,
            participant_id=self.participant_id,
            source=self.source,
            kind=self.kind,
            codec=codec.mimeType if codec else "",
            clock_rate=codec.clockRate if codec else 0,
            muted=self.muted,
        )

    def with_codec(self, codec: RTCRtpCodecParameters, rtx_pt: Optional[int] = None) -> None:
        self.codec = codec
        self._rtx_pt = rtx_pt

    # --- receive path (event loop, per packet / per frame; called by its InboundSlot) ---

    def on_rtp(self, packet: Any) -> Optional[bool]:
        """Forward the packet; False refuses it: a source the m-line does not carry (`_takes_source`),
        an RTX packet that repairs nothing (`_takes_rtx`). aiortc then never sees it either."""
        codec = self.codec
        if codec is None:
            return None
        if packet.payload_type == codec.payloadType:
            if packet.ssrc != self.media_ssrc:
                if not self._takes_source(packet.ssrc):
                    self.refused_packets += 1
                    return False
                self._new_stream(packet.ssrc)
            self._media_at = time.monotonic()
            if self.kind == "audio":
                if not self.muted:
                    self.frames_in += 1             # an Opus packet is a frame
                    level = packet.extensions.audio_level
                    if level is not None:
                        self._listener.audio_level(self.participant_id, level[1])
            elif not self.muted:
                if packet.marker:                   # the frame's last packet
                    self.frames_in += 1
                if self.keyframes.pending and starts_keyframe(codec.name, packet.payload):
                    self.keyframes.keyframe_received()
            seq, top = packet.sequence_number, self._max_seq
            if top is None or 0 < (seq - top) & 0xFFFF < 0x8000:
                self._max_seq = seq
        elif packet.payload_type == self._rtx_pt and self.media_ssrc is not None:
            if not self._takes_rtx(packet):
                self.refused_packets += 1
                return False
            packet = compat.unwrap_rtx(packet, payload_type=codec.payloadType, ssrc=self.media_ssrc)
        else:
            return None
        if self.subscribers and not self.muted and not self.closed:
            self._forward(packet)
        return None

    def _takes_rtx(self, packet: Any) -> bool:
        """An RTX packet is taken if it carries a payload after its original sequence number
        (OSN), comes from a declared RTX SSRC (any when none was declared) and repairs one of the
        last `RTX_WINDOW` packets: anything else would reach subscribers as a packet from far away
        in the sequence, or an empty one."""
        payload = packet.payload
        if len(payload) <= 2:
            return False
        rtx = self.reception.declared_ssrcs()[1]
        if rtx and packet.ssrc not in rtx:
            return False
        top = self._max_seq
        return top is None or (top - int.from_bytes(payload[:2], "big")) & 0xFFFF < RTX_WINDOW

    def _takes_source(self, ssrc: int) -> bool:
        """Whether a packet of another SSRC than the current one starts a new stream: yes for the
        first, for one the last negotiation declared, and for any once the current stream has been
        silent for `SOURCE_SILENCE` (a client that declared none, or not the one it sends). An
        undeclared SSRC interleaved with a live stream (a hostile or broken publisher) is refused:
        switching back and forth would re-base every subscriber at each packet."""
        if self.media_ssrc is None or ssrc in self.reception.declared_ssrcs()[0]:
            return True
        return time.monotonic() - self._media_at >= SOURCE_SILENCE

    def _new_stream(self, ssrc: int) -> None:
        """The first packet, or the publisher put a new source (SSRC) on the m-line."""
        previous, self.media_ssrc = self.media_ssrc, ssrc
        self._max_seq = None
        self.history.clear()  # sequence numbers of the old stream would answer NACKs of the new one
        if previous is None:
            if self.keyframes.pending:  # asked before any packet said where to send it
                self._send_pli()
            return
        self._log.info("publication source changed", change=f"ssrc {previous} -> {ssrc}")
        self.reception.continue_stream()
        for sub in self.subscribers.values():
            sub.new_stream()
        self.request_keyframe()

    def _forward(self, packet: Any) -> None:
        now = time.time()
        self.history.add(packet, now)
        # at most SLICE copies per loop callback (forward/fanout.py), each in forward/copy.py
        self._fanout.send(packet_args(packet, now))

    def on_frame(self, codec: RTCRtpCodecParameters, frame: EncodedFrame) -> None:
        if self.muted or self.closed:
            return
        if self.codec is not None and codec.payloadType != self.codec.payloadType:
            return  # not the negotiated codec: subscribers could not decode it
        for sink in self.sinks:
            try:
                sink.on_frame(self.id, frame)
            except Exception:
                self._log.exception("frame sink failed")

    def on_end(self) -> None:
        if not self.closed:
            self._listener.publication_ended(self)

    # --- keyframes ---

    def request_keyframe(self) -> None:
        if self.kind == "video" and not self.closed:
            self.keyframes.request()

    def _send_pli(self) -> None:
        if self.media_ssrc is not None:
            self.plis += 1
            self.reception.send_pli(self.media_ssrc)

    # --- subscriptions and sinks ---

    def _subscribers_changed(self) -> None:
        """The fan-out's tuple, and the keyframe spacing: every newcomer asks for a keyframe, and a
        keyframe (dozens of packets) goes to every subscriber; at 0.25 s apart, 50 newcomers joining a
        fan-out of 300 asked for four a second, more than the node could send, and the held streams
        lost 15-50 % of their packets over the joins (issue 17). 5 ms per subscriber: 1.5 s at 300."""
        self._fanout.set(tuple(sub.copy for sub in self.subscribers.values()))
        self.keyframes.min_interval = max(self._keyframe_base, self._keyframe_per_subscriber * len(self.subscribers))

    def add_subscriber(self, subscriber_id: str, sub: PacketSubscription) -> None:
        sub.history = self.history
        self.subscribers[subscriber_id] = sub
        self._subscribers_changed()

    def remove_subscriber(self, subscriber_id: str) -> None:
        sub = self.subscribers.pop(subscriber_id, None)
        self._subscribers_changed()
        if sub is not None:
            sub.close()

    def add_sink(self, sink: FrameSink) -> None:
        self.sinks.append(sink)

    def remove_sink(self, sink: FrameSink) -> None:
        if sink in self.sinks:
            self.sinks.remove(sink)

    def set_muted(self, muted: bool) -> bool:
        if muted == self.muted:
            return False
        self.muted = muted
        if not muted:
            for sub in self.subscribers.values():
                sub.resync()
            self.request_keyframe()
        return True

    def counts(self) -> dict[str, int]:
        """What the publication itself counted (media/forward/stats.py): PLIs sent, and copies dropped
        from a full fan-out backlog (backlog_full)."""
        return {"plis": self.plis, "backlog_full": self._fanout.dropped}

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._totals is not None:
            self._totals.fold(self.counts())
        self.keyframes.close()
        for sid in list(self.subscribers):
            self.remove_subscriber(sid)
        self._fanout.close()
        self.history.clear()
        for sink in self.sinks:
            try:
                sink.on_publication_removed(self.id)
            except Exception:
                self._log.exception("frame sink failed")
        self.sinks = []
