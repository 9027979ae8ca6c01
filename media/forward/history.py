"""The retransmission history of one publication (docs/architecture.md "Paths: ... an RTP packet").

One ring per publication holds the publisher's last `HISTORY` packets by their (input) sequence
number, shared by every subscriber: a NACK from a subscriber maps its own sequence number back to
the publisher's (media/forward/packet.py) and the packet is rewritten again for that subscriber.
A copy per subscriber (the rewritten, 1.1 KB bytes of each of its last 256 packets) cost ~300 KiB
of RSS per video subscriber (bench/results/subscriber_cost.json).
"""

from __future__ import annotations

from typing import Any, Optional

HISTORY = 512   # packets: ~4.7 s of a 1 Mbit/s VP8 stream, more than any NACK is worth


class PacketHistory:
    """The publisher's recent RTP packets (aiortc RtpPacket objects, never modified)."""

    __slots__ = ("_ring",)

    def __init__(self) -> None:
        self._ring: list[Any] = [None] * HISTORY

    def add(self, packet: Any) -> None:
        self._ring[packet.sequence_number % HISTORY] = packet

    def get(self, sequence_number: int) -> Optional[Any]:
        """The publisher's packet of this sequence number, if it is still held."""
        packet = self._ring[sequence_number % HISTORY]
        if packet is not None and packet.sequence_number == sequence_number:
            return packet
        return None

    def clear(self) -> None:
        self._ring = [None] * HISTORY
