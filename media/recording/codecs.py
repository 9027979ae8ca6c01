"""What the recorder needs to know about each codec it stores. Pure logic.

VP8 and H.264 are video on a 90 kHz RTP clock; Opus is audio on 48 kHz.
Nothing here decodes media: it only peeks at a few header bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class CodecInfo:
    name: str          # as the recorder's callers name it: "VP8", "H264", "opus"
    av_name: str       # FFmpeg codec name
    kind: str          # "audio" | "video"
    clock_rate: int


CODECS: dict[str, CodecInfo] = {
    "vp8": CodecInfo("VP8", "vp8", "video", 90000),
    "h264": CodecInfo("H264", "h264", "video", 90000),
    "opus": CodecInfo("opus", "opus", "audio", 48000),
}


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
