"""The retransmission history of one publication (docs/architecture.md "Paths: ... an RTP packet").

One ring per publication holds the publisher's last `HISTORY` packets by their (input) sequence
number, shared by every subscriber: a NACK from a subscriber maps its own sequence number back to
the publisher's (media/forward/packet.py) and the packet is rewritten again for that subscriber.
A copy per subscriber (the rewritten, 1.1 KB bytes of each of its last 256 packets) cost ~300 KiB
of RSS per video subscriber (bench/results/subscriber_cost.json). The ring holds what a resend needs
(`HeldPacket`), not aiortc's packet: that one also keeps its depayloaded copy of the payload (aiortc's
receiver sets ``packet._data``), its header-extension object and csrc list, about 1.5 KB more per
packet: ~730 KiB per video publication when the ring held 512 (rooms of 4 x 4 at 64 streams: 1460
-> 1096 KiB of RSS per participant, bench/vs_janus.py).
"""

from __future__ import annotations

from typing import Any, Optional

# packets: ~2.4 s of a 1 Mbit/s VP8 stream (108 packets/s), ~0.6 s of a 4 Mbit/s screen share;
# Janus keeps at least 500 ms (min_nack_queue; more on a long round trip). 512 held ~300 KiB more
# per video publication for NACKs too late to matter (a resend is not repeated within a round trip,
# nor more than three times: resend.py).
HISTORY = 256


class HeldPacket:
    """What a resend of a publisher's packet is made from."""

    __slots__ = ("sequence_number", "timestamp", "marker", "payload", "audio_level")

    def __init__(self, packet: Any) -> None:
        self.sequence_number: int = packet.sequence_number
        self.timestamp: int = packet.timestamp
        self.marker: int = packet.marker
        self.payload: bytes = packet.payload
        self.audio_level: Optional[tuple[bool, int]] = packet.extensions.audio_level


class PacketHistory:
    """The publisher's recent RTP packets (as `HeldPacket`s)."""

    __slots__ = ("_ring",)

    def __init__(self) -> None:
        self._ring: list[Optional[HeldPacket]] = [None] * HISTORY

    def add(self, packet: Any) -> None:
        """Hold what a resend of `packet` (an aiortc RtpPacket) needs."""
        self._ring[packet.sequence_number % HISTORY] = HeldPacket(packet)

    def get(self, sequence_number: int) -> Optional[HeldPacket]:
        """The publisher's packet of this sequence number, if it is still held."""
        packet = self._ring[sequence_number % HISTORY]
        if packet is not None and packet.sequence_number == sequence_number:
            return packet
        return None

    def clear(self) -> None:
        self._ring = [None] * HISTORY
