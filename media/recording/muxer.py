"""The recorder's event-loop face: frames in, never blocking; a writer thread does the I/O.

``push()`` is called on the event loop for every encoded frame. It gates video
on a keyframe (asking the publisher for one through ``request_keyframe``),
places the frame on the recording timeline (clock.py) and hands it to a writer
thread through a bounded queue. When the queue is full the frame is dropped
(video then waits for the next keyframe) rather than stalling the loop. A write
error (full disk...) ends the recording ``failed``; ``on_failed`` is called on
the loop and the meeting is not disturbed.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import structlog

from .clock import RecordingClock, TrackClock
from .codecs import codec_info, is_keyframe
from .writer import RecordingWriter, TrackSpec

log = structlog.get_logger("antechamber.recording")

BATCH_SECONDS = 0.05              # frames go to the writer thread in batches: few thread wake-ups
KEYFRAME_REQUEST_INTERVAL = 1.0   # seconds between requests while a track waits
RESYNC_GAP = 2.0                  # a video gap this long (e.g. muted) waits for a keyframe again
SETTLE_SECONDS = 1.0              # a track's first frames are held this long to anchor its clock
_STOP = object()


@dataclass
class MuxResult:
    status: str                     # "complete" | "failed" | "pending" (stop() timed out; see wait())
    path: Path | None
    duration: float = 0.0           # seconds
    size: int = 0
    tracks: list[dict] = field(default_factory=list)
    error: str | None = None
    dropped_frames: int = 0


@dataclass
class _Track:
    spec: TrackSpec
    clock: TrackClock
    waiting_keyframe: bool
    last_request: float = -1e9
    last_rtp: int | None = None
    first_arrival: float | None = None
    settling: list | None = field(default_factory=list)   # frames held while the clock settles


class RecordingMuxer:
    def __init__(
        self,
        final_path: Path,
        *,
        container: str = "matroska",
        request_keyframe: Callable[[str], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
        max_queue: int = 2000,
        header_window_ms: int = 2000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.final_path = Path(final_path)
        # tracks reach the writer a settle time late and in a burst: the header must wait longer
        header_window_ms = max(header_window_ms, int(SETTLE_SECONDS * 1000) + 500)
        self._writer = RecordingWriter(self.final_path, container, header_window_ms)
        self._request_keyframe = request_keyframe or (lambda track_id: None)
        self._on_failed = on_failed or (lambda error: None)
        self._now = clock
        self._queue: queue.Queue = queue.Queue()   # batches; bounded by max_queue items in flight
        self._max_queue = max_queue
        self._batch: list = []
        self._flush_timer: asyncio.TimerHandle | None = None
        self._sent = 0         # items handed to the thread (loop side)
        self._done_items = 0   # items the thread has taken (thread side)
        self._timeline = RecordingClock()
        self._tracks: dict[str, _Track] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Future | None = None
        self._result: MuxResult | None = None
        self._error: str | None = None
        self._stopping = False
        self.dropped = 0

    # -- loop side --------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._done = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, name=f"recorder:{self.final_path.stem}", daemon=True)
        self._thread.start()

    @property
    def failed(self) -> bool:
        return self._error is not None

    def add_track(self, track_id: str, codec: str, label: str = "", *, participant: str = "", name: str = "",
                  source: str = "") -> None:
        """Announce a publication; raises ValueError for a codec that cannot be stored. participant,
        name and source are stored as tags of its stream (the composer names tiles by them)."""
        if track_id in self._tracks or self._stopping:
            return
        info = codec_info(codec)
        spec = TrackSpec(track_id, info, label, participant, name, source)
        self._tracks[track_id] = _Track(spec, TrackClock(self._timeline, info.clock_rate),
                                        waiting_keyframe=info.kind == "video")
        self._put(("track", spec), force=True)
        if info.kind == "video":
            self._ask_keyframe(self._tracks[track_id], force=True)

    def push(self, track_id: str, data: bytes, rtp_ts: int, keyframe: bool | None = None,
             arrival: float | None = None) -> None:
        """One encoded frame; keyframe=None lets the recorder look at the bitstream."""
        track = self._tracks.get(track_id)
        if track is None or self._stopping or self._error is not None or not data:
            return
        arrival = self._now() if arrival is None else arrival
        self._timeline.since_origin(arrival)
        if keyframe is None:
            keyframe = is_keyframe(track.spec.codec, data)
        rate = track.spec.codec.clock_rate
        if (track.spec.codec.kind == "video" and track.last_rtp is not None and not keyframe
                and ((rtp_ts - track.last_rtp) & 0xFFFFFFFF) > RESYNC_GAP * rate
                and ((track.last_rtp - rtp_ts) & 0xFFFFFFFF) > RESYNC_GAP * rate):
            track.waiting_keyframe = True  # frames were missed (muted, lost): resume on a keyframe
        track.last_rtp = rtp_ts
        value = track.clock.observe(rtp_ts, arrival)   # every frame tells the clock, kept or not
        if track.first_arrival is None:
            track.first_arrival = arrival
        if track.waiting_keyframe:
            if not keyframe:
                self._ask_keyframe(track)
                return
            track.waiting_keyframe = False
        if track.settling is not None:
            track.settling.append((value, bytes(data), bool(keyframe)))
            if arrival - track.first_arrival >= SETTLE_SECONDS:
                self._settle(track)
            return
        self._send(track, value, bytes(data), bool(keyframe))

    def _send(self, track: _Track, value: int, data: bytes, keyframe: bool) -> None:
        if track.waiting_keyframe and not keyframe:
            return  # an earlier frame of this batch was dropped: resume on a keyframe
        track.waiting_keyframe = False
        ms = track.clock.place(value)
        if not self._put(("frame", track.spec.track_id, ms, data, keyframe)):
            self.dropped += 1
            if track.spec.codec.kind == "video":
                track.waiting_keyframe = True
                self._ask_keyframe(track, force=True)

    def _settle(self, track: _Track) -> None:
        """The clock has seen enough: freeze it and send the frames held so far."""
        held, track.settling = track.settling or [], None
        track.clock.frozen = True
        for value, data, keyframe in held:
            self._send(track, value, data, keyframe)

    async def stop(self, timeout: float = 5.0) -> MuxResult:
        """Finalize the file; returns within ``timeout`` seconds (failed if it could not)."""
        if not self._stopping:
            for track in self._tracks.values():
                if track.settling:
                    self._settle(track)
            self._stopping = True
            self._flush()
            self._queue.put(("stop",))
        if self._done is None:
            return MuxResult("failed", None, error="recorder was never started")
        try:
            return await asyncio.wait_for(asyncio.shield(self._done), timeout)
        except asyncio.TimeoutError:
            # e.g. joining the parts of a long recording: the writer keeps going; wait() has the end
            log.warning("recording still finalizing", path=self.final_path.name, timeout=timeout)
            return MuxResult("pending", None, error="still finalizing")

    async def wait(self) -> MuxResult:
        """The final result, however long finalizing takes (after stop())."""
        if self._done is None:
            return MuxResult("failed", None, error="recorder was never started")
        return await asyncio.shield(self._done)

    def _put(self, item, force: bool = False) -> bool:
        """Add to the next batch; False (dropped) when the writer is too far behind."""
        if not force and self._sent + len(self._batch) - self._done_items >= self._max_queue:
            return False
        self._batch.append(item)
        if self._flush_timer is None and self._loop is not None:
            self._flush_timer = self._loop.call_later(BATCH_SECONDS, self._flush)
        return True

    def _flush(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if self._batch:
            batch, self._batch = self._batch, []
            self._sent += len(batch)
            self._queue.put(("batch", batch))

    def _ask_keyframe(self, track: _Track, force: bool = False) -> None:
        now = self._now()
        if force or now - track.last_request >= KEYFRAME_REQUEST_INTERVAL:
            track.last_request = now
            try:
                self._request_keyframe(track.spec.track_id)
            except Exception:  # noqa: BLE001 - a broken callback must not stop recording
                log.exception("keyframe request failed", track=track.spec.track_id)

    # -- writer thread ----------------------------------------------------

    def _run(self) -> None:
        writer = self._writer
        result: MuxResult
        while True:
            message = self._queue.get()
            if message[0] == "stop":
                break
            for item in message[1]:
                if self._error is not None:
                    break  # failed: drain until stop
                try:
                    if item[0] == "frame":
                        writer.write(*item[1:])
                    else:
                        writer.add_track(item[1])
                except Exception as exc:  # noqa: BLE001 - any write error fails the recording
                    self._fail(exc)
            self._done_items += len(message[1])
        if self._error is None:
            try:
                done = writer.close()
                if done.path is None:
                    result = MuxResult("failed", None, error="nothing was recorded")
                else:
                    size = done.path.stat().st_size
                    result = MuxResult("complete", done.path, duration=done.last_ms / 1000.0, size=size,
                                       tracks=done.tracks)
            except Exception as exc:  # noqa: BLE001
                self._fail(exc)
        if self._error is not None:
            writer.abort()
            path = self.final_path if self.final_path.exists() else None
            result = MuxResult("failed", path, size=path.stat().st_size if path else 0,
                               duration=writer.last_ms / 1000.0, tracks=writer.track_list(), error=self._error)
        result.dropped_frames = self.dropped
        self._loop.call_soon_threadsafe(self._finish, result)

    def _fail(self, exc: Exception) -> None:
        self._error = f"{type(exc).__name__}: {exc}"
        log.error("recording write failed", path=self.final_path.name, error=self._error)
        self._writer.abort()
        self._loop.call_soon_threadsafe(self._notify_failed, self._error)

    def _notify_failed(self, error: str) -> None:
        try:
            self._on_failed(error)
        except Exception:  # noqa: BLE001
            log.exception("on_failed callback raised")

    def _finish(self, result: MuxResult) -> None:
        self._result = result
        if self._done is not None and not self._done.done():
            self._done.set_result(result)
