"""One published track: fans its encoded frames out to subscriptions and sinks.

It is fed by the `InboundSlot` of the m-line that carries it (media/inbound.py);
a publication lives from the m-line starting to send until it stops (inactive,
rejected, reused for another source) or the participant leaves. A new SSRC on
the same m-line (a new track on a reused transceiver) continues the same
publication: subscribers are re-based and get a keyframe.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Callable, Optional

from aiortc import RTCRtpReceiver
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from aiortc.rtp import unwrap_rtx

from .aiortc_compat import ForwardTrack, restart_reception, send_pli
from .forward.keyframes import KeyframeRequester
from .forward.packet import PacketSubscription
from .ports import EncodedFrame, FrameSink, MediaConfig, PublicationInfo

log = logging.getLogger(__name__)


class Publication:
    def __init__(
        self,
        publication_id: str,
        participant_id: str,
        source: str,
        kind: str,
        receiver: RTCRtpReceiver,
        config: MediaConfig,
        on_audio_level: Callable[[str, int], None],
        on_ended: Callable[["Publication"], None],
    ) -> None:
        self.id = publication_id
        self.participant_id = participant_id
        self.source = source
        self.kind = kind
        self.receiver = receiver
        self.codec: Optional[RTCRtpCodecParameters] = None  # set once the answer is made
        self.muted = False
        self.closed = False
        self.media_ssrc: Optional[int] = None
        self.subscribers: dict[str, ForwardTrack] = {}  # subscriber participant id -> track (frame mode)
        self.packet_subscribers: dict[str, PacketSubscription] = {}  # (packet mode)
        self.packet_mode = config.forwarding == "packet"
        self._rtx_pt: Optional[int] = None
        self.sinks: list[FrameSink] = []
        self.frames_in = 0
        self._on_audio_level = on_audio_level
        self._on_ended = on_ended
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

    def on_rtp(self, packet: Any) -> Any:
        codec = self.codec
        if codec is None:
            return None
        if packet.payload_type == codec.payloadType:
            if packet.ssrc != self.media_ssrc:
                self._new_stream(packet.ssrc)
            if self.kind == "audio" and not self.muted:
                level = packet.extensions.audio_level
                if level is not None:
                    self._on_audio_level(self.participant_id, level[1])
        elif packet.payload_type == self._rtx_pt and self.media_ssrc is not None and len(packet.payload) >= 2:
            packet = unwrap_rtx(packet, payload_type=codec.payloadType, ssrc=self.media_ssrc)
        else:
            return None
        if self.packet_subscribers and not self.muted and not self.closed:
            self._forward(packet)
        return None

    def _new_stream(self, ssrc: int) -> None:
        """The first packet, or the publisher put a new source (SSRC) on the m-line."""
        previous, self.media_ssrc = self.media_ssrc, ssrc
        if previous is None:
            if self.keyframes.pending:  # asked before any packet said where to send it
                self._send_pli()
            return
        log.info("publication %s: SSRC %d -> %d", self.id, previous, ssrc)
        restart_reception(self.receiver, new_publication=False)
        for sub in self.packet_subscribers.values():
            sub.new_stream()
        for track in self.subscribers.values():
            track.resync()
        self.request_keyframe()

    def _forward(self, packet: Any) -> None:
        now = time.time()
        for sub in list(self.packet_subscribers.values()):
            sub.forward(packet, now)

    def on_frame(self, codec: RTCRtpCodecParameters, frame: EncodedFrame) -> None:
        if self.muted or self.closed:
            return
        if self.codec is not None and codec.payloadType != self.codec.payloadType:
            return  # not the negotiated codec: subscribers could not decode it
        self.frames_in += 1
        if frame.keyframe and self.kind == "video":
            self.keyframes.keyframe_received()
        for track in self.subscribers.values():
            track.deliver(frame)
        for sink in self.sinks:
            try:
                sink.on_frame(self.id, frame)
            except Exception:
                log.exception("frame sink failed")

    def on_end(self) -> None:
        if not self.closed:
            self._on_ended(self)

    # --- keyframes ---

    def request_keyframe(self) -> None:
        if self.kind == "video" and not self.closed:
            self.keyframes.request()

    def _send_pli(self) -> None:
        if self.media_ssrc is not None:
            send_pli(self.receiver, self.media_ssrc)

    # --- subscriptions ---

    def add_subscriber(self, subscriber_id: str, maxsize: int) -> ForwardTrack:
        track = ForwardTrack(self.kind, self.id, self.request_keyframe, maxsize)
        self.subscribers[subscriber_id] = track
        return track

    def add_packet_subscriber(self, subscriber_id: str, sub: PacketSubscription) -> None:
        self.packet_subscribers[subscriber_id] = sub

    def remove_subscriber(self, subscriber_id: str) -> None:
        track = self.subscribers.pop(subscriber_id, None)
        if track is not None:
            track.end()
        sub = self.packet_subscribers.pop(subscriber_id, None)
        if sub is not None:
            sub.close()

    def set_muted(self, muted: bool) -> bool:
        if muted == self.muted:
            return False
        self.muted = muted
        if not muted:
            for track in self.subscribers.values():
                track.resync()
            for sub in self.packet_subscribers.values():
                sub.resync()
            self.request_keyframe()
        return True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.keyframes.close()
        for sid in list(self.subscribers) + list(self.packet_subscribers):
            self.remove_subscriber(sid)
        for sink in self.sinks:
            try:
                sink.on_publication_removed(self.id)
            except Exception:
                log.exception("frame sink failed")
        self.sinks = []


def info_with(info: PublicationInfo, **changes: Any) -> PublicationInfo:
    return dataclasses.replace(info, **changes)
