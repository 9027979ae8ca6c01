"""The recorder: a `FrameSink` on a media room that feeds a RecordingMuxer.

It is "just another subscriber" (docs/architecture.md "Objects and ownership"): `MediaRoom.attach_sink()`
hands it every publication present now and every later one, and every encoded
frame of each. It asks for keyframes through the sink handle when a video
track starts (and again while waiting), and never blocks the event loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import structlog

from ..ports import EncodedFrame, MediaRoomPort, PublicationInfo, SinkHandle
from .muxer import MuxResult, RecordingMuxer

log = structlog.get_logger("antechamber.recording")


class Recorder:
    def __init__(
        self,
        final_path: Path,
        *,
        container: str = "matroska",
        name_of: Callable[[str], str] = lambda participant_id: participant_id,
        on_failed: Callable[[str], None] | None = None,
        on_room_closed: Callable[[str], None] | None = None,
        header_window_ms: int = 2000,
    ) -> None:
        self.final_path = Path(final_path)
        self._name_of = name_of
        self._on_room_closed = on_room_closed
        self._handle: Optional[SinkHandle] = None
        self._muxer = RecordingMuxer(
            self.final_path, container=container, request_keyframe=self._request_keyframe,
            on_failed=on_failed, header_window_ms=header_window_ms,
        )
        self.tracks: dict[str, dict] = {}
        self._log = log.bind(file=self.final_path.name)

    def attach(self, room: MediaRoomPort) -> None:
        """Start the writer and subscribe to every publication of the room."""
        self._muxer.start()
        self._handle = room.attach_sink(self, want_keyframes=True)

    async def stop(self, timeout: float = 5.0) -> MuxResult:
        if self._handle is not None:
            self._handle.detach()
        return self._named(await self._muxer.stop(timeout))

    async def wait(self) -> MuxResult:
        """The final result after a stop() that returned "pending"."""
        return self._named(await self._muxer.wait())

    def _named(self, result: MuxResult) -> MuxResult:
        # name tracks by participant even when the writer only knew their ids
        for t in result.tracks:
            meta = self.tracks.get(t.get("trackId", ""))
            if meta:
                t.update({k: v for k, v in meta.items() if k not in t or not t[k]})
        return result

    @property
    def failed(self) -> bool:
        return self._muxer.failed

    # --- FrameSink ---

    def on_publication_added(self, publication: PublicationInfo) -> None:
        name = self._name_of(publication.participant_id)
        self.tracks[publication.publication_id] = {
            "participantId": publication.participant_id, "participantName": name, "source": publication.source,
        }
        try:
            self._muxer.add_track(publication.publication_id, publication.codec, f"{name} ({publication.source})",
                                  participant=publication.participant_id, name=name, source=publication.source)
        except ValueError as exc:
            self._log.warning("publication not recorded", publication=publication.publication_id, reason=str(exc))

    def on_frame(self, publication_id: str, frame: EncodedFrame) -> None:
        self._muxer.push(publication_id, frame.data, frame.timestamp, frame.keyframe, frame.arrival)

    def on_publication_removed(self, publication_id: str) -> None:
        return None  # its track simply ends; the file keeps what was recorded

    def on_room_closed(self, reason: str) -> None:
        """The meeting's media room closed: whoever owns the recorder should stop it."""
        self._handle = None
        if self._on_room_closed is not None:
            self._on_room_closed(reason)

    def _request_keyframe(self, publication_id: str) -> None:
        if self._handle is not None:
            self._handle.request_keyframe(publication_id)
