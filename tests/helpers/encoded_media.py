"""Real VP8 / Opus packets for recording tests, encoded with PyAV on the test side.

The video is dark with a moving square and one white "flash" frame; the audio is
silence with one 1 kHz "beep". Placed at the same instant, they let a test
measure audio/video sync in a recorded file.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np


@dataclass(frozen=True)
class Frame:
    data: bytes
    offset: float        # seconds from the start of the clip
    keyframe: bool


def _video_encoder(codec: str, size: tuple[int, int], fps: int, gop_seconds: float):
    enc = av.CodecContext.create(codec, "w")
    enc.width, enc.height, enc.pix_fmt = size[0], size[1], "yuv420p"
    enc.time_base = Fraction(1, fps)
    enc.framerate = fps
    enc.gop_size = max(1, int(gop_seconds * fps))
    return enc


def _moving_square(enc, seconds: float, fps: int, flash_at: float | None, square_top: int,
                   flush: bool) -> list[Frame]:
    """Encode a dark picture with a 40-pixel square moving right from `square_top`, one frame
    all white at `flash_at`; `flush` also takes the packets the encoder still holds at the end."""
    width, height = enc.width, enc.height
    flash_index = None if flash_at is None else round(flash_at * fps)
    out: list[Frame] = []
    for i in range(int(seconds * fps)):
        img = np.full((height, width, 3), 30, np.uint8)
        if i == flash_index:
            img[:] = 255
        else:
            x = (i * 4) % (width - 40)
            img[square_top:square_top + 40, x:x + 40] = (200, 60, 60)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        for p in enc.encode(frame):
            out.append(Frame(bytes(p), float(p.pts * enc.time_base), p.is_keyframe))
    if flush:
        for p in enc.encode(None):
            out.append(Frame(bytes(p), float(p.pts * enc.time_base), p.is_keyframe))
    return out


def vp8_clip(seconds: float, fps: int = 30, flash_at: float | None = None, size=(320, 240),
             gop_seconds: float = 2.0, bitrate: int = 400_000) -> list[Frame]:
    enc = _video_encoder("libvpx", size, fps, gop_seconds)
    enc.bit_rate = bitrate
    enc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    return _moving_square(enc, seconds, fps, flash_at, square_top=100, flush=True)


def opus_clip(seconds: float, beep_at: float | None = None, beep_seconds: float = 0.1) -> list[Frame]:
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format, enc.bit_rate = 48000, "stereo", "s16", 64000
    n = int(seconds * 48000) // 960 * 960
    t = np.arange(n) / 48000.0
    pcm = np.zeros(n, np.float64)
    if beep_at is not None:
        on = (t >= beep_at) & (t < beep_at + beep_seconds)
        pcm[on] = 0.6 * np.sin(2 * np.pi * 1000 * t[on])
    samples = (pcm * 32767).astype(np.int16)
    out: list[Frame] = []
    for start in range(0, n, 960):
        chunk = np.repeat(samples[start:start + 960], 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="stereo")
        frame.sample_rate = 48000
        frame.pts = start
        for p in enc.encode(frame):
            # like a WebRTC sender: packet k carries RTP time k * 20 ms (6.5 ms codec delay ignored)
            out.append(Frame(bytes(p), len(out) * 0.02, True))
    for p in enc.encode(None):
        out.append(Frame(bytes(p), len(out) * 0.02, True))
    return out


def h264_clip(seconds: float, fps: int = 30, flash_at: float | None = None, size=(320, 240),
              gop_seconds: float = 2.0, profile: str = "baseline") -> list[Frame]:
    """Annex B H.264 with SPS/PPS in every keyframe, as WebRTC senders produce it."""
    enc = _video_encoder("libx264", size, fps, gop_seconds)
    enc.profile = profile
    enc.options = {"preset": "ultrafast", "tune": "zerolatency", "x264-params": "repeat-headers=1:annexb=1"}
    return _moving_square(enc, seconds, fps, flash_at, square_top=size[1] // 3, flush=False)
