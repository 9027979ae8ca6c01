"""The retransmission history of one publication (docs/architecture.md "Paths: ... an RTP packet").

One ring per publication holds the publisher's packets of the last `KEEP` second (at most
`HISTORY` of them) by their (input) sequence number, shared by every subscriber: a NACK from a
subscriber maps its own sequence number back to the publisher's (media/forward/packet.py) and the
packet is rewritten again for that subscriber.
A copy per subscriber (the rewritten, 1.1 KB bytes of each of its last 256 packets) cost ~300 KiB
of RSS per video subscriber (bench/results/subscriber_cost.json). The ring holds what a resend needs
(`HeldPacket`), not aiortc's packet: that one also keeps its depayloaded copy of the payload (aiortc's
receiver sets ``packet._data``), its header-extension object and csrc list, about 1.5 KB more per
packet: ~730 KiB per video publication when the ring held 512 (rooms of 4 x 4 at 64 streams: 1460
-> 1096 KiB of RSS per participant, bench/vs_janus.py). Held by age, as libwebrtc's own send-side
history is (at least 1 s, `RtpPacketHistory`), not by count: 256 packets were 2.4 s of a 1 Mbit/s
stream (~300 KiB per video publication) and only 0.6 s of a 4 Mbit/s screen share.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Optional

KEEP = 1.0       # seconds: a NACK comes a round trip (and a reorder wait) after the loss; Janus keeps
                 # at least 0.5 s (min_nack_queue), libwebrtc at least 1 s (or 3 round trips)
HISTORY = 512    # packets at most: 1 s of ~4 Mbit/s; also the resend guard's ring (resend.py)


class HeldPacket:
    """What a resend of a publisher's packet is made from."""

    __slots__ = ("sequence_number", "timestamp", "marker", "payload", "audio_level", "arrival")

    def __init__(self, packet: Any, arrival: float) -> None:
        self.sequence_number: int = packet.sequence_number
        self.timestamp: int = packet.timestamp
        self.marker: int = packet.marker
        self.payload: bytes = packet.payload
        self.audio_level: Optional[tuple[bool, int]] = packet.extensions.audio_level
        self.arrival = arrival


class PacketHistory:
    """The publisher's recent RTP packets (as `HeldPacket`s)."""

    __slots__ = ("_ring", "_order")

    def __init__(self) -> None:
        self._ring: list[Optional[HeldPacket]] = [None] * HISTORY
        self._order: deque[HeldPacket] = deque()   # in arrival order, to let go of the old ones

    def add(self, packet: Any, now: Optional[float] = None) -> None:
        """Hold what a resend of `packet` (an aiortc RtpPacket, arrived at `now`, time.time()) needs,
        and let go of what is older than KEEP."""
        if now is None:
            now = time.time()
        held = HeldPacket(packet, now)
        ring, order = self._ring, self._order
        ring[packet.sequence_number % HISTORY] = held
        order.append(held)
        limit = now - KEEP
        while order[0].arrival < limit or len(order) > HISTORY:
            old = order.popleft()
            slot = old.sequence_number % HISTORY
            if ring[slot] is old:
                ring[slot] = None

    def get(self, sequence_number: int) -> Optional[HeldPacket]:
        """The publisher's packet of this sequence number, if it is still held."""
        packet = self._ring[sequence_number % HISTORY]
        if packet is not None and packet.sequence_number == sequence_number:
            return packet
        return None

    def held(self) -> int:
        return len(self._order)

    def clear(self) -> None:
        self._ring = [None] * HISTORY
        self._order.clear()
