"""What the recorder needs to know about each codec it stores. Pure logic.

VP8 and H.264 are video on a 90 kHz RTP clock; Opus is audio on 48 kHz.
Nothing here decodes media: it only peeks at a few header bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping


@dataclass(frozen=True)
class CodecInfo:
    name: str          # as the recorder's callers name it: "VP8", "H264", "opus"
    av_name: str       # FFmpeg codec name
    kind: str          # "audio" | "video"
    clock_rate: int


CODECS: Mapping[str, CodecInfo] = MappingProxyType({
    "vp8": CodecInfo("VP8", "vp8", "video", 90000),
    "h264": CodecInfo("H264", "h264", "video", 90000),
    "opus": CodecInfo("opus", "opus", "audio", 48000),
})


def codec_info(name: str) -> CodecInfo:
    """Look up a codec by a name as found in SDP or mime types ("video/VP8", "H264", "opus")."""
    key = name.rsplit("/", 1)[-1].lower().replace(".", "")
    try:
        return CODECS[key]
    except KeyError:
        raise ValueError(f"the recorder cannot store codec {name!r}") from None


def container_for(codecs: set[str]) -> str:
    """'webm' when every codec fits WebM (VP8, Opus), otherwise 'matroska'."""
    return "webm" if {codec_info(c).av_name for c in codecs} <= {"vp8", "opus"} else "matroska"


def extension_for(container: str) -> str:
    return "webm" if container == "webm" else "mkv"


def vp8_is_keyframe(data: bytes) -> bool:
    """VP8 frame tag: the lowest bit of the first byte is 0 on a keyframe."""
    return len(data) >= 10 and (data[0] & 0x01) == 0 and data[3:6] == b"\x9d\x01\x2a"


def vp8_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header, or None for another frame."""
    if not vp8_is_keyframe(data):
        return None
    width, height = struct.unpack_from("<HH", data, 6)
    return width & 0x3FFF, height & 0x3FFF


def _annexb_nal_types(data: bytes):
    i, n = 0, len(data)
    while True:
        j = data.find(b"\x00\x00\x01", i)
        if j < 0 or j + 3 >= n:
            return
        yield data[j + 3] & 0x1F
        i = j + 3


def _annexb_nals(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B access unit (start codes removed)."""
    starts = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append(i + 3)
        i = data.find(b"\x00\x00\x01", i + 3)
    nals = []
    for k, start in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else len(data)
        nal = data[start:end]
        if k + 1 < len(starts) and nal.endswith(b"\x00"):
            nal = nal[:-1]    # the 4-byte start code of the next NAL
        if nal:
            nals.append(nal)
    return nals


def h264_parameter_sets(data: bytes) -> bytes:
    """The SPS and PPS NAL units of an access unit, each with a start code ('' if none)."""
    return b"".join(b"\x00\x00\x00\x01" + n for n in _annexb_nals(data) if n[0] & 0x1F in (7, 8))


class _Bits:
    def __init__(self, rbsp: bytes) -> None:
        self.data, self.pos = rbsp, 0

    def u(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3]
            value = (value << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad exp-Golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def h264_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height from the SPS of an Annex B access unit, or None."""
    sps = next((n for n in _annexb_nals(data) if n[0] & 0x1F == 7), None)
    if sps is None:
        return None
    rbsp = sps[1:].replace(b"\x00\x00\x03", b"\x00\x00")
    try:
        b = _Bits(rbsp)
        profile = b.u(8)
        b.u(16)           # constraint flags, level
        b.ue()            # seq_parameter_set_id
        chroma = 1
        if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
            chroma = b.ue()
            if chroma == 3:
                b.u(1)
            b.ue()
            b.ue()
            b.u(1)
            if b.u(1):    # scaling matrices
                for i in range(8 if chroma != 3 else 12):
                    if b.u(1):
                        last = nxt = 8
                        for _ in range(16 if i < 6 else 64):
                            if nxt:
                                nxt = (last + b.se() + 256) % 256
                            last = nxt or last
        b.ue()            # log2_max_frame_num_minus4
        poc = b.ue()
        if poc == 0:
            b.ue()
        elif poc == 1:
            b.u(1)
            b.se()
            b.se()
            for _ in range(b.ue()):
                b.se()
        b.ue()            # max_num_ref_frames
        b.u(1)
        width_mbs, height_units = b.ue() + 1, b.ue() + 1
        frame_mbs_only = b.u(1)
        if not frame_mbs_only:
            b.u(1)
        b.u(1)
        crop = (0, 0, 0, 0)
        if b.u(1):
            crop = (b.ue(), b.ue(), b.ue(), b.ue())
    except (IndexError, ValueError):
        return None
    cx, cy = (1, 1) if chroma == 0 else (2, 2 if chroma == 1 else 1)
    cy *= 2 - frame_mbs_only
    width = width_mbs * 16 - cx * (crop[0] + crop[1])
    height = (2 - frame_mbs_only) * height_units * 16 - cy * (crop[2] + crop[3])
    return (width, height) if width > 0 and height > 0 else None


def h264_is_keyframe(data: bytes) -> bool:
    """An Annex B access unit holding an IDR slice (type 5) or an SPS (type 7)."""
    return any(t in (5, 7) for t in _annexb_nal_types(data))


def is_keyframe(codec: CodecInfo, data: bytes) -> bool:
    if codec.av_name == "vp8":
        return vp8_is_keyframe(data)
    if codec.av_name == "h264":
        return h264_is_keyframe(data)
    return True


def opus_head(channels: int = 2, sample_rate: int = 48000, pre_skip: int = 0) -> bytes:
    """The OpusHead block that Matroska/WebM stores as an Opus track's CodecPrivate."""
    return b"OpusHead" + struct.pack("<BBHIhB", 1, channels, pre_skip, sample_rate, 0, 0)
