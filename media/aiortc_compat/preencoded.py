"""Pre-encoded sending (aiortc peers of tests and benchmarks).

aiortc's sender calls `encoder.pack(frame)` for anything that is not an
`av.Frame`; presetting its encoder with a packer (RTP payloading only, with
aiortc's packetizers) lets an aiortc peer send `EncodedFrame`s. The SFU does
not use it; its aiortc test clients and the benchmark do. Probed by
`probe.check_aiortc`.
"""

from __future__ import annotations

import random
from typing import Any, Callable

import aiortc.codecs.h264
import aiortc.codecs.vpx
from aiortc import RTCRtpSender

from .send import _S, on_keyframe_request

_Vp8Encoder = aiortc.codecs.vpx.Vp8Encoder
_H264Encoder = aiortc.codecs.h264.H264Encoder


class _Packer:
    """What aiortc's sender calls `pack()` on: RTP payloads for one EncodedFrame."""

    def pack(self, frame: Any) -> tuple[list[bytes], int]:
        return [frame.data], frame.timestamp


class _Vp8Packer(_Packer):
    def __init__(self) -> None:
        self.picture_id = random.randint(0, (1 << 15) - 1)

    def pack(self, frame: Any) -> tuple[list[bytes], int]:
        payloads = vp8_payloads(frame.data, self.picture_id)
        self.picture_id = (self.picture_id + 1) % (1 << 15)
        return payloads, frame.timestamp


class _H264Packer(_Packer):
    def pack(self, frame: Any) -> tuple[list[bytes], int]:
        return h264_payloads(frame.data), frame.timestamp


def vp8_payloads(frame: bytes, picture_id: int) -> list[bytes]:
    """aiortc's VP8 RTP payloads (RFC 7741) of one encoded frame."""
    return _Vp8Encoder._packetize(frame, picture_id)


def h264_payloads(annexb: bytes) -> list[bytes]:
    """aiortc's H.264 RTP payloads (RFC 6184: STAP-A, FU-A) of one Annex B access unit."""
    return _H264Encoder._packetize(_H264Encoder._split_bitstream(annexb))


def send_preencoded(sender: RTCRtpSender, codec_mime: str, on_keyframe: Callable[[], None]) -> None:
    """Let `sender` send the `EncodedFrame`s its track yields (VP8, H.264, or one
    payload per frame for audio), without an encoder; PLI/FIR call `on_keyframe`."""
    name = codec_mime.split("/")[-1].lower()
    packer = _Vp8Packer() if name == "vp8" else _H264Packer() if name == "h264" else _Packer()
    setattr(sender, _S + "encoder", packer)
    on_keyframe_request(sender, on_keyframe)
