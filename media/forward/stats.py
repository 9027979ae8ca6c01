"""Forwarding totals of one SFU (docs/operations.md "Metrics"): what the packet path already counts
per subscription (packets and payload bytes sent, packets dropped while waiting for a keyframe or
unsent for want of a connected transport, refused by SRTP or the kernel, NACKed packets retransmitted
or not (media/forward/resend.py), keyframe requests from subscribers) and per publication (PLIs sent
to the publisher, copies dropped from a full fan-out backlog).

Nothing here runs per packet: a subscription or publication adds its counts once, when it closes
(``fold``); ``MediaService.forward_stats`` adds those of the live ones at scrape time.
"""

from __future__ import annotations

from typing import Any

FIELDS = ("packets", "bytes", "dropped_keyframe_wait", "unsent", "refused", "backlog_full", "nacks",
          "nacks_ignored", "keyframe_requests", "plis")


class ForwardTotals:
    __slots__ = FIELDS

    def __init__(self) -> None:
        for name in FIELDS:
            setattr(self, name, 0)

    def fold(self, counts: dict[str, int]) -> None:
        for name, value in counts.items():
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in FIELDS}


def add_counts(into: dict[str, int], counts: dict[str, Any]) -> None:
    for name, value in counts.items():
        into[name] = into.get(name, 0) + value
