"""Synchronous Matroska writer: encoded frames in, a playable file out. No decoding.

Runs on the recorder's writer thread (see muxer.py); everything here blocks.

* Streams are created with PyAV's ``add_mux_stream`` (no codec context); Opus
  gets its OpusHead CodecPrivate through a never-opened template stream.
* Crash safety: clusters are closed at least every second and the I/O buffer is
  flushed after every packet, so after ``kill -9`` everything but the last
  second is on disk, and a Matroska file without its trailer still plays.
* Matroska cannot gain a track once its header is written. The header waits
  (up to ``header_window_ms`` of media) for the tracks announced at start to
  deliver their first frame; a track that starts later rotates to a new *part*
  file holding every track, and :func:`merge.merge_parts` joins the parts into
  the one recording file when it is closed (or recovered after a crash).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import av

from .codecs import CodecInfo, h264_dimensions, h264_parameter_sets, opus_head, vp8_dimensions
from .interleave import StallGuard
from .merge import merge_parts, part_path

MS = Fraction(1, 1000)
TRACK_TAG = "ANTECHAMBER_TRACK"

# muxer options: see `ffmpeg -h muxer=matroska`
MUX_OPTIONS: Mapping[str, str] = MappingProxyType({
    "cluster_time_limit": "1000",      # ms: at most ~1 s of media is lost on kill -9
    "cluster_size_limit": "1048576",
    "flush_packets": "1",              # hand every packet's bytes to the OS at once
    "max_interleave_delta": "500000",  # us: never hold packets back longer for a silent track
})


@dataclass
class TrackSpec:
    track_id: str
    codec: CodecInfo
    label: str = ""                 # e.g. "Alice (camera)"
    participant: str = ""           # the publisher's participant id (tag ANTECHAMBER_PARTICIPANT)
    name: str = ""                  # their display name (tag ANTECHAMBER_NAME): the composer's tile label
    source: str = ""                # microphone | camera | screen (tag ANTECHAMBER_SOURCE)
    width: int = 0
    height: int = 0


@dataclass
class WriterResult:
    path: Path | None               # None when nothing was recorded
    parts: int = 0
    frames: int = 0
    last_ms: int = 0
    tracks: list[dict] = field(default_factory=list)


class RecordingWriter:
    """Writes one recording, possibly over several part files merged at close."""

    def __init__(self, final_path: Path, container: str = "matroska", header_window_ms: int = 2000) -> None:
        self.final_path = Path(final_path)
        self.container_format = container
        self.header_window_ms = header_window_ms
        self._tracks: dict[str, TrackSpec] = {}
        self._first_ms: dict[str, int] = {}
        self._pending: list[tuple[str, int, bytes, bool]] = []
        self._out: av.container.OutputContainer | None = None
        self._streams: dict[str, av.stream.Stream] = {}
        self._parts: list[Path] = []
        self._templates = None
        self._guard = StallGuard()
        self._h264_params: dict[str, bytes] = {}   # last SPS+PPS seen per H.264 track
        self._fresh: set[str] = set()               # tracks with no packet yet in the current part
        self._last_ms: dict[str, int] = {}          # last timestamp written per track
        self.frames = 0
        self.last_ms = 0

    # -- input -----------------------------------------------------------

    def add_track(self, spec: TrackSpec) -> None:
        self._tracks.setdefault(spec.track_id, spec)

    def write(self, track_id: str, ms: int, data: bytes, keyframe: bool) -> None:
        spec = self._tracks.get(track_id)
        if spec is None or not data:
            return
        if spec.codec.av_name == "h264" and keyframe:
            params = h264_parameter_sets(data)
            if params:
                self._h264_params[track_id] = params
        if track_id not in self._first_ms:
            self._first_ms[track_id] = ms
            if spec.codec.av_name == "vp8" and not spec.width:
                spec.width, spec.height = vp8_dimensions(data) or (0, 0)
            elif spec.codec.av_name == "h264" and not spec.width:
                spec.width, spec.height = h264_dimensions(data) or (0, 0)
        if self._out is None:
            self._pending.append((track_id, ms, data, keyframe))
            announced = all(t in self._first_ms for t in self._tracks)
            if announced or ms - self._pending[0][1] >= self.header_window_ms:
                self._open_part()
            return
        if track_id not in self._streams:
            self._pending.append((track_id, ms, data, keyframe))
            self._close_part()
            self._open_part()
            return
        self._mux(track_id, ms, data, keyframe)

    def close(self) -> WriterResult:
        """Write the trailer, join the parts; the result names the final file."""
        if self._out is None and self._pending:
            self._open_part()
        self._close_part()
        if not self._parts:
            return WriterResult(path=None)
        if len(self._parts) > 1:
            merge_parts(self._parts, self.final_path, self.container_format)
        return WriterResult(
            path=self.final_path, parts=len(self._parts), frames=self.frames,
            last_ms=self.last_ms, tracks=self.track_list(),
        )

    def abort(self) -> None:
        """Best-effort close after an error; what is on disk stays as it is."""
        out, self._out = self._out, None
        if out is not None:
            try:
                out.close()
            except Exception:  # noqa: BLE001 - the recording has already failed
                pass

    def track_list(self) -> list[dict]:
        return [
            {"trackId": t.track_id, "kind": t.codec.kind, "codec": t.codec.name, "label": t.label,
             "startOffset": self._first_ms[t.track_id] / 1000.0}
            for t in self._tracks.values() if t.track_id in self._first_ms
        ]

    # -- parts -----------------------------------------------------------

    def _open_part(self) -> None:
        path = part_path(self.final_path, len(self._parts))
        out = av.open(str(path), "w", format=self.container_format, options=dict(MUX_OPTIONS))
        self._parts.append(path)
        self._out = out
        self._streams = {}
        self._guard.reset()
        self._fresh = set()
        for spec in self._tracks.values():
            if spec.track_id in self._first_ms:
                self._streams[spec.track_id] = self._add_stream(out, spec)
                self._fresh.add(spec.track_id)
        pending, self._pending = self._pending, []
        waiting = {item[0] for item in pending}
        for track_id in list(self._fresh):
            if track_id not in waiting and track_id in self._h264_params:
                # an H.264 track with nothing to send right now (muted?): PyAV takes a stream's
                # CodecPrivate from its first packet, so give it its SPS/PPS at once (a packet
                # with no picture, dropped again when the parts are joined)
                self._mux(track_id, self._last_ms.get(track_id, 0) + 1, self._h264_params[track_id], False)
        for item in pending:
            self._mux(*item)

    def _add_stream(self, out, spec: TrackSpec):
        if spec.codec.av_name == "opus":
            if self._templates is None:
                scratch = av.open(io.BytesIO(), "w", format="matroska")
                self._templates = (scratch, scratch.add_stream("libopus", rate=48000))
            stream = out.add_stream_from_template(self._templates[1], opaque=True)
            stream.codec_context.extradata = opus_head()
        elif spec.codec.kind == "video":
            stream = out.add_mux_stream(spec.codec.av_name, width=spec.width, height=spec.height)
        else:
            stream = out.add_mux_stream(spec.codec.av_name, rate=spec.codec.clock_rate)
        stream.time_base = MS
        stream.metadata["title"] = spec.label or spec.track_id
        stream.metadata[TRACK_TAG] = spec.track_id
        for tag, value in (("ANTECHAMBER_PARTICIPANT", spec.participant), ("ANTECHAMBER_NAME", spec.name),
                           ("ANTECHAMBER_SOURCE", spec.source)):
            if value:
                stream.metadata[tag] = value
        return stream

    def _close_part(self) -> None:
        out, self._out = self._out, None
        if out is not None:
            out.close()

    def _mux(self, track_id: str, ms: int, data: bytes, keyframe: bool) -> None:
        self._guard.fill(self._out, {k: v for k, v in self._streams.items() if k != track_id}, ms)
        ms = self._guard.dts_for(track_id, ms)
        if track_id in self._fresh:
            self._fresh.discard(track_id)
            params = self._h264_params.get(track_id)
            if params and not h264_parameter_sets(data):
                # PyAV takes a stream's CodecPrivate from its first packet in the file
                data = params + data
        self._last_ms[track_id] = ms
        packet = av.Packet(data)
        packet.stream = self._streams[track_id]
        packet.time_base = MS
        packet.pts = packet.dts = ms
        packet.is_keyframe = keyframe
        self._out.mux_one(packet)
        self.frames += 1
        if ms > self.last_ms:
            self.last_ms = ms
