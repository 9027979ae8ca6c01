"""NACK answers from the publication's shared history (media/forward/history.py): a subscriber's
sequence number maps back to the publisher's packet, which is rewritten again for that subscriber.
Pure logic: the sender stands in for aiortc's (its hooks only), the transport is a list."""

from __future__ import annotations

import asyncio
import struct
from types import SimpleNamespace

from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters
from aiortc.rtp import RtpPacket

from media.forward.copy import Copy, extension_element, packet_args
from media.forward.history import HISTORY, KEEP, PacketHistory
from media.forward.packet import IdleTrack, PacketSubscription

MID = "urn:ietf:params:rtp-hdrext:sdes:mid"


class Sender:
    """The attributes of RTCRtpSender that the compat hooks set or read."""

    def __init__(self) -> None:
        self._ssrc = 0x1234ABCD
        # a DTLS transport that is not connected (the test captures what would be sent instead)
        self.transport = SimpleNamespace(_state=None, transport=SimpleNamespace(_connection=SimpleNamespace(_nominated={})))

    async def send(self, parameters) -> None:
        return None


def subscription(kind: str = "audio") -> tuple[PacketSubscription, list[bytes], PacketHistory]:
    sender = Sender()
    sub = PacketSubscription(sender, IdleTrack(kind, "pub"), "opus" if kind == "audio" else "VP8", lambda: None)
    # the Python copy (media/forward/copy.py), whose send can be a list; test_media_copy.py checks the C one
    sub.copy = Copy(kind == "audio", sender._ssrc, 1000, 0, sub.copy.keyframe_test, sender)
    history = PacketHistory()
    sub.history = history
    params = SimpleNamespace(codecs=[RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, payloadType=111)],
                             muxId="3", headerExtensions=[RTCRtpHeaderExtensionParameters(id=4, uri=MID)])
    sub._start(params)
    sent: list[bytes] = []
    def send(marker_pt: int, seq: int, ts: int, ssrc: int, ext: bytes, payload: bytes) -> bool:
        sent.append(struct.pack("!BBHII", 0x90 if ext else 0x80, marker_pt, seq, ts, ssrc) + ext + payload)
        return True

    sub.copy.send = send
    return sub, sent, history


def publisher_packet(seq: int, ts: int, payload: bytes) -> RtpPacket:
    return RtpPacket(payload_type=96, sequence_number=seq, timestamp=ts, ssrc=555, payload=payload)


def feed(sub: PacketSubscription, history: PacketHistory, packets: list[RtpPacket]) -> None:
    for p in packets:
        history.add(p)
        sub.copy.forward(*packet_args(p, 1000.0))


def test_a_nacked_packet_is_resent_as_first_sent():
    sub, sent, history = subscription()
    packets = [publisher_packet((65530 + i) & 0xFFFF, 960 * i, bytes([i]) * 100) for i in range(12)]  # wraps
    feed(sub, history, packets)
    assert len(sent) == 12
    out = [RtpPacket.parse(d) for d in sent]
    assert out[0].ssrc == 0x1234ABCD and out[0].payload_type == 111
    assert all((b.sequence_number - a.sequence_number) & 0xFFFF == 1 for a, b in zip(out, out[1:]))
    assert extension_element(4, b"3") in sent[0]
    asyncio.run(sub._retransmit(out[7].sequence_number))
    assert sent[-1] == sent[7] and sub.nacks == 1


def test_nacks_for_packets_not_held_or_from_an_earlier_mapping_are_ignored():
    sub, sent, history = subscription()
    feed(sub, history, [publisher_packet(100 + i, 960 * i, b"a" * 50) for i in range(5)])
    first = RtpPacket.parse(sent[0]).sequence_number
    asyncio.run(sub._retransmit((first + 5) & 0xFFFF))     # never sent
    asyncio.run(sub._retransmit((first - 1) & 0xFFFF))     # before the first
    assert len(sent) == 5
    sub.new_stream()                                       # a new SSRC: a new mapping (publication clears)
    history.clear()
    feed(sub, history, [publisher_packet(9000 + i, 50_000 + 960 * i, b"b" * 50) for i in range(3)])
    assert RtpPacket.parse(sent[5]).sequence_number == (first + 5) & 0xFFFF   # continuous for the subscriber
    asyncio.run(sub._retransmit(first))                    # of the old mapping: not answered
    assert len(sent) == 8
    asyncio.run(sub._retransmit((first + 6) & 0xFFFF))
    assert sent[-1] == sent[6]


def test_the_history_forgets_what_a_newer_packet_replaced():
    history = PacketHistory()
    history.add(publisher_packet(7, 0, b"x"))
    history.add(publisher_packet(7 + HISTORY, 0, b"y"))
    assert history.get(7) is None and history.get(7 + HISTORY).payload == b"y"


def test_the_history_holds_what_a_resend_needs_not_aiortcs_packet():
    import gc
    import weakref

    history = PacketHistory()
    p = publisher_packet(9, 1234, b"payload")
    p.marker = 1
    p.extensions.audio_level = (True, 42)
    p._data = b"depayloaded copy"     # what aiortc's receiver leaves on each packet
    alive = weakref.ref(p)
    history.add(p)
    del p
    gc.collect()
    assert alive() is None            # the packet (its _data, extension object) is not kept
    held = history.get(9)
    assert (held.sequence_number, held.timestamp, held.marker, held.payload, held.audio_level) == \
        (9, 1234, 1, b"payload", (True, 42))


def test_the_history_holds_the_last_second_and_at_most_HISTORY_packets():
    history = PacketHistory()
    for i in range(300):                                   # 100 packets/s for 3 s
        history.add(publisher_packet(i, 0, b"v" * 1100), now=1000.0 + i / 100)
    newest = 1000.0 + 299 / 100
    held = [i for i in range(300) if history.get(i) is not None]
    assert held == [i for i in range(300) if 1000.0 + i / 100 >= newest - KEEP]   # the last second only
    assert history.held() == len(held)
    for i in range(300, 300 + 2 * HISTORY):                # 2,000 packets/s: the count bounds it
        history.add(publisher_packet(i & 0xFFFF, 0, b"s"), now=newest + 0.01 + (i - 300) / 2000)
    assert history.held() == HISTORY and history.get(299 + 2 * HISTORY) is not None
    assert history.get(300 + HISTORY - 1) is None          # older than the last HISTORY
    history.clear()
    assert history.held() == 0 and history.get(299 + 2 * HISTORY) is None
