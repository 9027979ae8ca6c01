"""Subscribe transceivers without a receive side's memory.

aiortc gives every transceiver an `RTCRtpReceiver`, and a video one builds, in its
constructor, a `RemoteBitrateEstimator` (a 1000-bucket rate counter: ~95 KiB and 2000
objects, measured with tracemalloc in bench/subscriber_cost.py), a NACK generator and a
512-slot jitter buffer, ~0.4 ms of CPU per join. A subscribe transceiver is send-only: its
receiver is never started (aiortc calls `receive()` only for a direction with "recv", and
only a started receiver is registered with the DTLS transport's RTP router), so none of that
is ever used.

`add_send_only_transceiver(pc, track)` is `pc.addTransceiver(track, direction="sendonly")`
with the receiver built as `SendOnlyReceiver`: aiortc's audio-sized receiver (a 16-slot
jitter buffer, no estimator, no NACK generator) that reports the transceiver's kind and
refuses to start (its decoder queue and error flag, never used, are shared). How: `addTransceiver` makes the receiver through the
`aiortc.rtcpeerconnection` module's `RTCRtpReceiver` global, which points at
`SendOnlyReceiver` only while that synchronous call runs. Probed by `probe.check_aiortc`.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import aiortc.rtcpeerconnection as _pcm
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpTransceiver
from aiortc.rtcrtpreceiver import RTCRtpReceiver

_KIND = "_RTCRtpReceiver__kind"
# a never-started receiver never runs its decoder thread: these stay unused, so one for all
_UNUSED = {"_RTCRtpReceiver__decoder_queue": queue.Queue(), "_RTCRtpReceiver__decoder_error": threading.Event()}


class SendOnlyReceiver(RTCRtpReceiver):
    """The receiver of a send-only transceiver: never started, nothing to receive into."""

    def __init__(self, kind: str, transport: Any) -> None:
        super().__init__("audio", transport)  # the light variant: no estimator, no NACKs, 16 slots
        setattr(self, _KIND, kind)
        for name, shared in _UNUSED.items():  # a queue.Queue is 4 locks (~11 KiB by tracemalloc)
            setattr(self, name, shared)

    async def receive(self, parameters: Any) -> None:
        raise RuntimeError("a send-only subscribe transceiver does not receive")


def add_send_only_transceiver(pc: RTCPeerConnection, track: MediaStreamTrack) -> RTCRtpTransceiver:
    original = _pcm.RTCRtpReceiver
    _pcm.RTCRtpReceiver = SendOnlyReceiver  # type: ignore[misc]
    try:
        return pc.addTransceiver(track, direction="sendonly")
    finally:
        _pcm.RTCRtpReceiver = original  # type: ignore[misc]
