"""Composing a finished multi-track recording into one MP4 people can watch (docs/recording.md
"Composed MP4"; docs/architecture.md "Recording life cycle").

One pass over the Matroska file, on its one clock: packets are demuxed in file order and decoded,
each video track's frames wait in a short queue until the output clock reaches them, and every
1/fps seconds the picture of that instant is drawn (compose_layout.py: a grid of who is there,
a shared screen large, names on tiles, the active speaker's tile bordered from the audio energy,
compose_audio.py) and encoded as H.264; all audio is mixed and encoded as AAC. The MP4 is
written aside and renamed when whole, with ``movflags=+faststart`` (plays while downloading).

Who is there: a participant's tile exists from the first to the last packet of any of their
tracks; their picture shows while their camera sends (a gap of more than a second shows the
name tile instead).

Run as ``python -m media.recording.compose SRC DST [--speed N] [--nice N]``: the server runs it so,
in a child process at a low priority with a bounded pace (server/domain/recordings/composition.py);
it prints one JSON object a line: ``{"progress": 0.42}`` ..., then ``{"done": true, ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Optional

import av
import numpy as np

from . import compose_layout as draw
from .compose_audio import RATE, Levels, Mixer

WIDTH, HEIGHT, FPS = 1280, 720, 15
LAG = 1.5                 # seconds: the file's interleaving is at most this far out of order
CAMERA_GAP = 1.0          # a camera silent this long shows the name tile
H264_ENCODERS = ("libx264", "libopenh264", "h264")


class ComposeError(Exception):
    """The recording could not be composed (unreadable, nothing to show, no encoder)."""


@dataclass
class Track:
    index: int
    kind: str
    participant: str
    name: str
    source: str
    spans: list[list[float]] = field(default_factory=list)   # [start, end] seconds
    queue: deque = field(default_factory=deque)               # decoded frames not yet shown
    current: Optional[av.VideoFrame] = None


@dataclass
class Composed:
    path: Path
    duration: float
    size: int
    frames: int
    encoder: str


def h264_encoder() -> str:
    for name in H264_ENCODERS:
        if name in av.codecs_available:
            try:
                av.codec.Codec(name, "w")
                return name
            except (av.FFmpegError, ValueError):
                continue
    raise ComposeError("no H.264 encoder in this PyAV build")


def _meta(stream, key: str) -> str:
    return stream.metadata.get(key) or stream.metadata.get(key.lower()) or ""


def _describe(stream) -> Track:
    """Who a stream belongs to: its ANTECHAMBER_* tags, else its title "Name (source)"."""
    title = _meta(stream, "title")
    name, source = title, ""
    if title.endswith(")") and " (" in title:
        name, source = title[:-1].rsplit(" (", 1)
    source = _meta(stream, "ANTECHAMBER_SOURCE") or source or ("microphone" if stream.type == "audio" else "camera")
    name = _meta(stream, "ANTECHAMBER_NAME") or name or f"track {stream.index + 1}"
    participant = _meta(stream, "ANTECHAMBER_PARTICIPANT") or name
    return Track(stream.index, stream.type, participant, name, source)


def scan(src: Path) -> tuple[dict[int, Track], float]:
    """The tracks of the file with the spans their packets cover, and the recording's duration."""
    with av.open(str(src)) as inp:
        tracks = {s.index: _describe(s) for s in inp.streams if s.type in ("audio", "video")}
        duration = (inp.duration or 0) / 1_000_000
        end = 0.0
        for packet in inp.demux(*[inp.streams[i] for i in tracks]):
            if packet.pts is None or not packet.size:
                continue
            t = float(packet.pts * packet.time_base)
            end = max(end, t + float((packet.duration or 0) * packet.time_base))
            spans = tracks[packet.stream_index].spans
            if spans and t - spans[-1][1] <= CAMERA_GAP:
                spans[-1][1] = max(spans[-1][1], t)
            else:
                spans.append([t, t])
    return tracks, max(duration, end)


def _within(spans: list[list[float]], t: float, slack: float = 0.0) -> bool:
    return any(a - slack <= t <= b + slack for a, b in spans)


class Composer:
    def __init__(self, tracks: dict[int, Track], width: int, height: int) -> None:
        self.tracks = tracks
        self.width, self.height = width, height
        people: dict[str, list[float]] = {}
        self.names: dict[str, str] = {}
        for t in tracks.values():
            if t.spans and t.source != "screen":
                first, last = people.setdefault(t.participant, [t.spans[0][0], t.spans[-1][1]])
                people[t.participant] = [min(first, t.spans[0][0]), max(last, t.spans[-1][1])]
            self.names.setdefault(t.participant, t.name)
            if t.source != "screen":
                self.names[t.participant] = t.name
        self.present = people
        self.order = sorted(people, key=lambda p: (people[p][0], p))
        self.levels = Levels()

    def advance(self, t: float) -> None:
        for track in self.tracks.values():
            while track.queue and track.queue[0][0] <= t:
                track.current = track.queue.popleft()[1]

    def _camera(self, pid: str, source: str, t: float) -> Optional[av.VideoFrame]:
        for track in self.tracks.values():
            if (track.kind == "video" and track.participant == pid and track.source == source
                    and track.current is not None and _within(track.spans, t, 0.1)):
                return track.current
        return None

    def frame(self, t: float) -> np.ndarray:
        canvas = np.empty((self.height, self.width, 3), dtype=np.uint8)
        canvas[:] = draw.BACKGROUND
        here = [p for p in self.order if self.present[p][0] - 0.05 <= t <= self.present[p][1] + 0.1]
        screen_of = next((p for p in self.names if self._camera(p, "screen", t) is not None), None)
        tiles = draw.layout(here, None if screen_of is None else "\x00screen", self.width, self.height)
        speaker = self.levels.speaker(t)
        if screen_of is not None:
            rect = tiles["\x00screen"]
            draw.fill(canvas, rect, (0, 0, 0))
            draw.picture(canvas, rect, self._camera(screen_of, "screen", t), cover=False)
            draw.paste_label(canvas, f"{self.names[screen_of]} (screen)", rect)
        for pid in here:
            rect = tiles[pid]
            picture = self._camera(pid, "camera", t)
            draw.fill(canvas, rect, draw.TILE)
            if picture is not None:
                draw.picture(canvas, rect, picture, cover=True)
            draw.paste_label(canvas, self.names[pid], rect, centre=picture is None)
            if pid == speaker and len(here) > 1:
                draw.border(canvas, rect)
        return canvas


def compose(src: Path, dst: Path, *, width: int = WIDTH, height: int = HEIGHT, fps: int = FPS,
            speed: float | None = None, progress: Callable[[float], None] | None = None) -> Composed:
    """Render ``src`` (a finished recording) into the MP4 ``dst``. ``speed`` caps the pace at that
    many seconds of recording per second of wall time (None: as fast as the machine goes)."""
    src, dst = Path(src), Path(dst)
    try:
        tracks, duration = scan(src)
    except (av.FFmpegError, OSError) as err:
        raise ComposeError(f"the recording cannot be read: {err}") from None
    if duration <= 0 or not any(t.spans for t in tracks.values()):
        raise ComposeError("the recording holds no media")
    encoder = h264_encoder()
    composer = Composer(tracks, width, height)
    mixer = Mixer()
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex}.part")
    step = Fraction(1, fps)
    frames = 0
    started = time.monotonic()
    last_told = -1.0
    try:
        with av.open(str(src)) as inp, av.open(str(tmp), "w", format="mp4",
                                                options={"movflags": "+faststart"}) as out:
            video = out.add_stream(encoder, rate=fps)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.codec_context.time_base = step
            video.codec_context.thread_count = 1
            if encoder == "libx264":
                video.codec_context.options = {"preset": "veryfast", "crf": "25", "tune": "stillimage"}
            audio = out.add_stream("aac", rate=RATE, layout="mono")
            audio.codec_context.bit_rate = 96000

            def emit_until(horizon: float) -> None:
                nonlocal frames, last_told
                while frames * step <= min(horizon, duration):
                    t = float(frames * step)
                    composer.advance(t)
                    img = av.VideoFrame.from_ndarray(composer.frame(t), format="rgb24").reformat(format="yuv420p")
                    img.pts, img.time_base = frames, step
                    out.mux(video.encode(img))
                    frames += 1
                    if speed:
                        ahead = started + t / speed - time.monotonic()
                        if ahead > 0:
                            time.sleep(ahead)
                    if progress is not None and t - last_told >= 1.0:
                        last_told = t
                        progress(min(1.0, t / duration))
                for a in mixer.frames_until(min(horizon, duration)):
                    out.mux(audio.encode(a))

            streams = [inp.streams[i] for i in tracks]
            try:
                for packet in inp.demux(*streams):
                    if packet.dts is None:
                        continue
                    track = tracks[packet.stream_index]
                    try:
                        decoded = packet.decode()
                    except av.FFmpegError:
                        continue   # a damaged packet: the picture stays as it was
                    for f in decoded:
                        if f.pts is None:
                            continue
                        ft = float(f.pts * f.time_base)
                        if track.kind == "video":
                            track.queue.append((ft, f))
                        else:
                            samples = mixer.add(track.index, f)
                            if samples is not None:
                                composer.levels.add(track.participant, ft, samples)
                    emit_until(float(packet.dts * packet.time_base) - LAG)
            except (av.FFmpegError, EOFError):
                pass   # a file cut short: compose what was readable
            emit_until(duration)
            out.mux(video.encode(None))
            out.mux(audio.encode(None))
        os.replace(tmp, dst)
    except (av.FFmpegError, OSError, ValueError) as err:
        tmp.unlink(missing_ok=True)
        raise ComposeError(f"the recording cannot be composed: {err}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if progress is not None:
        progress(1.0)
    return Composed(dst, duration, dst.stat().st_size, frames, encoder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="compose a recording into one MP4")
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--speed", type=float, default=0.0, help="at most this many times real time (0: no cap)")
    parser.add_argument("--nice", type=int, default=0, help="lower this process's priority by this much")
    parser.add_argument("--width", type=int, default=WIDTH)
    parser.add_argument("--height", type=int, default=HEIGHT)
    parser.add_argument("--fps", type=int, default=FPS)
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)

    def say(**obj) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()
    try:
        done = compose(Path(args.src), Path(args.dst), width=args.width, height=args.height, fps=args.fps,
                       speed=args.speed or None, progress=lambda p: say(progress=round(p, 3)))
    except ComposeError as err:
        say(error=str(err))
        return 1
    say(done=True, duration=round(done.duration, 3), size=done.size, frames=done.frames, encoder=done.encoder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
