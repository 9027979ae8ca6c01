"""One publish m-line's receiver, tapped once for the life of the connection.

aiortc keeps a transceiver (and its receiver) per m-line for as long as the
peer connection lives, whatever the client later does with that m-line: set it
`inactive` (stop a screen share), make it send again (share again), put a new
track with a new SSRC on it, or reuse it for another source. A receiver can be
tapped (media/forwarding.py) only before it starts, so the tap belongs to the
m-line, not to a publication: `InboundSlot` taps it once and routes packets and
frames to whichever `Publication` the m-line currently carries (none while it
is inactive: whatever still arrives is dropped).
"""

from __future__ import annotations

from typing import Any, Optional

from aiortc import RTCRtpReceiver
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from .aiortc_compat import restart_reception, tap_receiver
from .ports import EncodedFrame
from .publication import Publication


class InboundSlot:
    __slots__ = ("receiver", "publication")

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        self.receiver = receiver
        self.publication: Optional[Publication] = None
        tap_receiver(receiver, self._on_frame, self._on_end, self._on_rtp)

    def attach(self, pub: Publication) -> None:
        """The m-line now carries `pub` (a new publication: timestamps start afresh)."""
        restart_reception(self.receiver, new_publication=True)
        self.publication = pub

    def detach(self, pub: Publication) -> None:
        if self.publication is pub:
            self.publication = None

    def _current(self) -> Optional[Publication]:
        pub = self.publication
        if pub is None or pub.closed:
            return None
        return pub

    def _on_rtp(self, packet: Any) -> Any:
        pub = self._current()
        return pub.on_rtp(packet) if pub is not None else None

    def _on_frame(self, codec: RTCRtpCodecParameters, frame: EncodedFrame) -> None:
        pub = self._current()
        if pub is not None:
            pub.on_frame(codec, frame)

    def _on_end(self) -> None:
        pub = self._current()
        self.publication = None
        if pub is not None:
            pub.on_end()
