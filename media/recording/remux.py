"""MP4 copies of finished recordings: a remux with PyAV, packets copied, nothing re-encoded.

MP4 is offered only where its tracks play in the players that matter (browsers, QuickTime,
phones): H.264 video with Opus or AAC audio. VP8 is refused: MP4 has no VP8 mapping those
players read (ffmpeg's mp4 muxer does not take it either), and turning VP8 into H.264 would
mean re-encoding the whole file, which this server does not do. Opus in MP4 is standard
(ISO BMFF Opus mapping) and plays in Chrome, Firefox, Edge and Safari 17+; older Safari plays
only AAC there.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Optional

import av

MP4_VIDEO = frozenset({"h264"})
MP4_AUDIO = frozenset({"opus", "aac"})


class RemuxError(Exception):
    """The file could not be read or copied into MP4 (it is left as it was)."""


def stream_codecs(path: Path) -> list[tuple[str, str]]:
    """(kind, codec name) of every audio/video stream of a media file."""
    try:
        with av.open(str(path)) as inp:
            return [(s.type, s.codec_context.name) for s in inp.streams if s.type in ("audio", "video")]
    except (av.FFmpegError, OSError) as err:
        raise RemuxError(f"the file cannot be read: {err}") from None


def mp4_refusal(codecs: list[tuple[str, str]]) -> Optional[str]:
    """Why these streams cannot go into MP4 without re-encoding, or None if they can."""
    if not codecs:
        return "the recording has no audio or video track"
    bad = sorted({name for kind, name in codecs
                  if (kind == "video" and name not in MP4_VIDEO) or (kind == "audio" and name not in MP4_AUDIO)})
    if not bad:
        return None
    names = ", ".join(n.upper() for n in bad)
    if "vp8" in bad:
        return (f"the recording's tracks are {names}: MP4 cannot carry VP8 in the players that matter "
                "(browsers, QuickTime, phones), and the server does not re-encode; "
                "download it as Matroska/WebM instead")
    return (f"the recording's tracks are {names}: MP4 is offered only for H.264 video with Opus or AAC audio "
            "(copied, never re-encoded); download it as Matroska instead")


def remux_to_mp4(src: Path, dst: Path) -> None:
    """Copy every audio/video packet of ``src`` into an MP4 at ``dst`` (written aside, then renamed:
    a reader never sees half a file, and two callers at once both end with a whole one)."""
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex}.part")
    try:
        with av.open(str(src)) as inp:
            streams = [s for s in inp.streams if s.type in ("audio", "video")]
            with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
                outs = {s.index: out.add_stream_from_template(s) for s in streams}
                for packet in inp.demux(streams):
                    if packet.dts is None:   # the demuxer's flush packets
                        continue
                    packet.stream = outs[packet.stream.index]
                    out.mux(packet)
        os.replace(tmp, dst)
    except (av.FFmpegError, OSError, ValueError) as err:
        tmp.unlink(missing_ok=True)
        raise RemuxError(f"the file cannot be copied into MP4: {err}") from None
