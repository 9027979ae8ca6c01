"""Which NACKed packets a subscription sends again (docs/architecture.md, "Retransmission").

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

Pure logic, no aiortc; one `ResendGuard` per `PacketSubscription`, created at its first NACK.
"""

from __future__ import annotations

from typing import Optional

MAX_RESENDS = 3
MIN_INTERVAL = 0.1
SHARE = 0.25
BURST = 64.0
_KEEP = 2.0       # seconds a resent packet's record is kept (HISTORY is ~4.7 s of video, NACKs come sooner)
_SWEEP_AT = 256   # records before old ones are swept


class ResendGuard:
    __slots__ = ("_resent", "_tokens", "_earned_at", "ignored")

    def __init__(self, forwarded: int) -> None:
        self._resent: dict[int, tuple[float, int]] = {}   # our sequence number -> (last resend, resends)
        self._tokens = BURST
        self._earned_at = forwarded   # the subscription's forwarded count when tokens were last earned
        self.ignored = 0              # NACKed packets not sent again

    def allow(self, sequence_number: int, now: float, forwarded: int, rtt: Optional[float] = None) -> bool:
        """Whether to resend `sequence_number` now; `forwarded` is the subscription's count of packets
        sent so far, `rtt` its round trip (seconds) if known. Records the resend when it says yes."""
        self._tokens = min(BURST, self._tokens + SHARE * (forwarded - self._earned_at))
        self._earned_at = forwarded
        last = self._resent.get(sequence_number)
        if last is not None:
            at, count = last
            if count >= MAX_RESENDS or now - at < max(MIN_INTERVAL, rtt or 0.0):
                self.ignored += 1
                return False
        else:
            count = 0
        if self._tokens < 1.0:
            self.ignored += 1
            return False
        self._tokens -= 1.0
        if len(self._resent) >= _SWEEP_AT:
            self._sweep(now)
        self._resent[sequence_number] = (now, count + 1)
        return True

    def _sweep(self, now: float) -> None:
        old = [s for s, (at, _) in self._resent.items() if now - at > _KEEP]
        for s in old:
            del self._resent[s]
        if len(self._resent) >= _SWEEP_AT:   # a long burst within _KEEP: forget the oldest half
            for s, _ in sorted(self._resent.items(), key=lambda item: item[1][0])[: _SWEEP_AT // 2]:
                del self._resent[s]
