"""One publish m-line's receiver, tapped once for the life of the connection.

aiortc keeps a transceiver (and its receiver) per m-line for as long as the
peer connection lives, whatever the client later does with that m-line: set it
`inactive` (stop a screen share), make it send again (share again), put a new
track with a new SSRC on it, or reuse it for another source. A receiver can be
tapped (`aiortc_compat.tap_receiver`) only before it starts, so the tap belongs
to the m-line, not to a publication: `InboundSlot` taps it once and routes
packets and frames to whichever `Publication` the m-line currently carries
(none while it is inactive: whatever still arrives is dropped). It is the
publication's `Reception`: restarts of the stream and keyframe requests go
through it to the receiver, and so does congestion feedback: each REMB the
receiver sends carries the minimum of its own estimate and the publication's
subscribers' (media/forward/congestion.py; docs/architecture.md, "Congestion
feedback").
"""

from __future__ import annotations

import time
import weakref
from typing import Any, Optional

from aiortc import RTCRtpCodecParameters, RTCRtpReceiver

from . import aiortc_compat as compat
from .forward import congestion
from .forward.keyframes import is_keyframe
from .ports import EncodedFrame
from .publication import Publication


class TimestampUnwrapper:
    """Stands in for aiortc's timestamp mapper: unwraps 32-bit RTP timestamps into
    a monotonic int without rebasing them to zero (late frames map just before).
    `continue_after(gap)`: the next timestamp starts a new stream (new SSRC) and
    maps to `gap` after the last one, so the output stays monotonic. `reset()`:
    start afresh (a new publication on the m-line)."""

    __slots__ = ("_last", "_shift", "_gap")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._last: Optional[int] = None  # last unwrapped input timestamp
        self._shift = 0
        self._gap: Optional[int] = None

    def continue_after(self, gap: int) -> None:
        if self._last is not None:
            self._gap = gap

    def map(self, timestamp: int) -> int:
        last = self._last
        if last is None:
            self._last = timestamp
            return timestamp
        if self._gap is not None:
            self._shift = last + self._shift + self._gap - timestamp
            self._gap = None
            self._last = timestamp
            return timestamp + self._shift
        diff = ((timestamp - last + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        value = last + diff
        if diff > 0:
            self._last = value
        return value + self._shift


class InboundSlot:
    __slots__ = ("receiver", "publication", "timestamps", "remb_ssrcs", "__weakref__")

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        self.receiver = receiver
        self.publication: Optional[Publication] = None
        self.timestamps = TimestampUnwrapper()
        compat.tap_receiver(receiver, on_frame=self._on_frame, on_end=self._on_end, on_rtp=self._on_rtp,
                            timestamps=self.timestamps, frames_wanted=self._frames_wanted)
        self.remb_ssrcs: list[int] = []  # the media SSRCs the receiver's last own REMB named
        compat.override_remb(receiver, self._remb)

    def attach(self, pub: Publication) -> None:
        """The m-line now carries `pub` (a new publication: timestamps start afresh)."""
        self.timestamps.reset()
        compat.reset_jitter_buffer(self.receiver)
        self.publication = pub
        # weakly: the publication (reached from subscribers' senders) must not keep this m-line alive
        congestion.of(pub).push = weakref.WeakMethod(self._push_remb)

    def detach(self, pub: Publication) -> None:
        if self.publication is pub:
            self.publication = None

    # --- Reception (what the publication asks of its m-line) ---

    def continue_stream(self) -> None:
        """The publisher put a new SSRC on the m-line: timestamps continue about one
        frame after the last, and aiortc's buffered packets of the old stream go."""
        self.timestamps.continue_after(3000 if self.receiver.track.kind == "video" else 960)
        compat.reset_jitter_buffer(self.receiver)

    def send_pli(self, media_ssrc: int) -> None:
        compat.send_pli(self.receiver, media_ssrc)

    def declared_ssrcs(self) -> tuple[frozenset[int], frozenset[int]]:
        return compat.declared_ssrcs(self.receiver)

    # --- congestion feedback (media/forward/congestion.py) ---

    def _remb(self, bitrate: int, ssrcs: list[int]) -> int:
        """The receiver is about to send its own estimate: it sends the publication's minimum."""
        self.remb_ssrcs = ssrcs
        pub = self._current()
        return congestion.of(pub).server(bitrate) if pub is not None else bitrate

    def _push_remb(self, bitrate: int) -> None:
        """A subscriber's estimate lowered the minimum between the receiver's own REMBs."""
        compat.send_remb(self.receiver, bitrate, self.remb_ssrcs or self.declared_ssrcs()[0])

    # --- from the tapped receiver ---

    def _current(self) -> Optional[Publication]:
        pub = self.publication
        if pub is None or pub.closed:
            return None
        return pub

    def _on_rtp(self, packet: Any) -> Optional[bool]:
        pub = self._current()
        return pub.on_rtp(packet) if pub is not None else None

    def _frames_wanted(self) -> bool:
        """Frames are assembled only for a recorder (a sink); the packet path needs none."""
        pub = self.publication
        return pub is not None and bool(pub.sinks)

    def _on_frame(self, codec: RTCRtpCodecParameters, data: bytes, timestamp: int) -> None:
        pub = self._current()
        if pub is not None:
            pub.on_frame(codec, EncodedFrame(data, timestamp, is_keyframe(codec.name, data), time.monotonic()))

    def _on_end(self) -> None:
        pub = self._current()
        self.publication = None
        if pub is not None:
            pub.on_end()
