"""Which NACKed packets a subscription sends again (docs/architecture.md, "Paths: ... an RTP packet", step 4).

A subscriber on a congested link loses packets; aiortc's receiver (and, less eagerly, a browser)
then NACKs *every* packet still missing each time it notices a new gap, up to 128 at once. Answering
every NACK in full resends each lost packet many times into the link that lost it: on a 350 kbit/s
link the server sent ~1500 packets/s for a ~45 packets/s stream and the link dropped 97 % of them
(tests/integration/test_sfu_remb_netem.py, measured with `tc -s qdisc`). So, as mediasoup and
LiveKit do, a packet is sent again

- at most `MAX_RESENDS` (3) times,
- not again within one round trip (at least `MIN_INTERVAL`, 100 ms) of its last resend: until then
  the NACK is about the loss the resend is already answering,
- and only while the subscription's resend budget lasts: every packet forwarded earns
  `SHARE` (a quarter) of a resend, up to `BURST` (64) saved, so retransmissions never add more
  than a quarter to what the link is asked to carry once a loss burst has been answered.

Pure logic, no aiortc; one `ResendGuard` per `PacketSubscription`, created at its first NACK. Its
records are a ring as long as the publication's history (media/forward/history.py): a packet that
has left the history is not resent anyway, so its record can go with it.
"""

from __future__ import annotations

from typing import Optional

from .history import HISTORY

MAX_RESENDS = 3
MIN_INTERVAL = 0.1
SHARE = 0.25
BURST = 64.0
FORGET = 5.0   # seconds: a record older than the history (~2.4 s of video) is of an earlier sequence wrap


class ResendGuard:
    __slots__ = ("_resent", "_tokens", "_earned_at", "ignored")

    def __init__(self, forwarded: int) -> None:
        # by our sequence number modulo HISTORY: (sequence number, last resend, resends)
        self._resent: list[Optional[tuple[int, float, int]]] = [None] * HISTORY
        self._tokens = BURST
        self._earned_at = forwarded   # the subscription's forwarded count when tokens were last earned
        self.ignored = 0              # NACKed packets not sent again

    def allow(self, sequence_number: int, now: float, forwarded: int, rtt: Optional[float] = None) -> bool:
        """Whether to resend `sequence_number` now; `forwarded` is the subscription's count of packets
        sent so far, `rtt` its round trip (seconds) if known. Records the resend when it says yes."""
        self._tokens = min(BURST, self._tokens + SHARE * (forwarded - self._earned_at))
        self._earned_at = forwarded
        slot = sequence_number % HISTORY
        last = self._resent[slot]
        count = 0
        if last is not None and last[0] == sequence_number and now - last[1] < FORGET:
            _, at, count = last
            if count >= MAX_RESENDS or now - at < max(MIN_INTERVAL, rtt or 0.0):
                self.ignored += 1
                return False
        if self._tokens < 1.0:
            self.ignored += 1
            return False
        self._tokens -= 1.0
        self._resent[slot] = (sequence_number, now, count + 1)
        return True
