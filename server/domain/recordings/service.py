"""The recording service: start/stop recordings of live meetings, persist their status,
delete them (the one place a recording's file is removed), and sign download links.

Status only moves forward: ``starting -> active -> ending -> complete | failed``
(``starting``/``active`` may also go straight to ``failed``). Files live in
``<data_dir>/recordings/<recording_id>.mkv``; the file name is stored in the
record and never comes from a request (ids are looked up, not joined).

Live media is reached through a small port (server/domain/recordings/media.py,
``RecordingMedia``), implemented on the SFU and the live meetings by server/live/recording_media.py.
Crash recovery is server/domain/recordings/recovery.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

import structlog

from media.recording import MuxResult
from media.recording.recorder import Recorder
from media.recording.remux import RemuxError, mp4_refusal, remux_to_mp4, stream_codecs

from ...store.base import Store
from ...store.records import Recording
from ..access import signed_links
from ..errors import ApiError, Conflict, NotFound
from .. import end_dates
from .media import RecordingMedia

log = structlog.get_logger("antechamber.recordings")

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
LIVE_STATUSES = ("starting", "active", "ending")
FINALIZE_SECONDS = 5.0
_FORWARD = {
    "starting": {"active", "failed"},
    "active": {"ending", "failed"},
    "ending": {"complete", "failed"},
    "complete": set(),
    "failed": set(),
}


def now_ms() -> int:
    return int(time.time() * 1000)


def valid_id(recording_id: str) -> bool:
    return bool(ID_RE.match(recording_id or ""))


class _Active:
    def __init__(self, rec: Recording, recorder: Recorder) -> None:
        self.rec = rec
        self.recorder = recorder
        self.stopping: Optional[asyncio.Task] = None


class RecordingService:
    """Recordings of this node's live meetings, their files in ``directory`` and their download links."""

    def __init__(self, store: Store, media: RecordingMedia, *, directory: Path, server_secret: bytes,
                 node_id: str = "") -> None:
        self.store = store
        self.media = media
        self.dir = directory
        self.node_id = node_id      # written into each recording: the node holding its file
        self._secret = server_secret
        self._active: dict[str, _Active] = {}      # room_id -> running recording
        self._tasks: set[asyncio.Task] = set()
        # awaited with the recording after each status is stored (webhooks: server/domain/webhooks/source.py)
        self.status_listeners: list[Callable[[Recording], Awaitable[None]]] = []
        self.bytes_finished = 0     # size of the files this node finished writing (metrics)

    async def status_stored(self, rec: Recording) -> None:
        """Tell the status listeners of ``rec``'s status as just stored (a failing one is logged)."""
        for listener in list(self.status_listeners):
            try:
                await listener(rec)
            except Exception:  # noqa: BLE001 - a listener never breaks a recording
                log.warning("recording status listener failed", recording_id=rec.recording_id, exc_info=True)

    # --- lookups ---------------------------------------------------------------------

    async def find(self, recording_id: str) -> Optional[Recording]:
        """The recording, or None (also for an id that cannot be one)."""
        return await self.store.get_recording(recording_id) if valid_id(recording_id) else None

    async def get(self, recording_id: str) -> Recording:
        """The recording, else 404 -- for callers who may know whether it exists (the API key holder);
        room-key and signed-link access decide their answer in server/http/api/recordings_native.authorize."""
        rec = await self.find(recording_id)
        if rec is None:
            raise NotFound("recording not found", code="recording_not_found")
        return rec

    def path_of(self, rec: Recording) -> Optional[Path]:
        """Where the recording's file belongs, only if its stored name is a plain name."""
        name = rec.filename
        if not name or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
            return None
        return self.dir / name

    def file_of(self, rec: Recording) -> Optional[Path]:
        """The recording's file if it exists."""
        path = self.path_of(rec)
        return path if path is not None and path.is_file() else None

    def mp4_path(self, rec: Recording) -> Optional[Path]:
        """Where the MP4 copy of the recording's file belongs (beside it), if the file has a plain name."""
        path = self.path_of(rec)
        return path.with_suffix(".mp4") if path is not None and path.suffix != ".mp4" else path

    def composed_path(self, rec: Recording) -> Optional[Path]:
        """Where the composed MP4 of the recording belongs (``<id>.composed.mp4``, beside its file)."""
        path = self.path_of(rec)
        return path.with_suffix(".composed.mp4") if path is not None else None

    async def mp4_of(self, rec: Recording) -> Path:
        """The recording as MP4: a remux of its file (packets copied, never re-encoded), made on the
        first request and kept beside it. 406 ``mp4_not_possible`` when its tracks cannot go into MP4
        (VP8: see media/recording/remux.py), 409 ``recording_not_remuxable`` when the file is unreadable."""
        src = self.file_of(rec)
        dst = self.mp4_path(rec)
        if src is None or dst is None:
            raise NotFound("the recording has no file", code="recording_file_missing")
        if src == dst:
            return src
        if dst.is_file() and dst.stat().st_mtime_ns >= src.stat().st_mtime_ns:
            return dst
        try:
            refusal = mp4_refusal(await asyncio.to_thread(stream_codecs, src))
            if refusal is not None:
                raise ApiError(refusal, code="mp4_not_possible", status=406)
            await asyncio.to_thread(remux_to_mp4, src, dst)
        except RemuxError as err:
            log.warning("recording remux failed", recording_id=rec.recording_id, error=str(err))
            raise Conflict("the recording's file cannot be copied into MP4", code="recording_not_remuxable") from None
        log.info("recording remuxed to mp4", recording_id=rec.recording_id)
        return dst

    def active_for_room(self, room_id: str) -> Optional[Recording]:
        act = self._active.get(room_id)
        return act.rec if act else None

    def running(self) -> list[Recording]:
        """The recordings this node is writing now (metrics: server/observability/collect.py)."""
        return [a.rec for a in list(self._active.values())]

    def is_running(self, recording_id: str) -> bool:
        """Whether this node is recording it now."""
        return any(a.rec.recording_id == recording_id for a in self._active.values())

    # --- status ------------------------------------------------------------------------

    async def _move(self, rec: Recording, status: str, **changes: Any) -> None:
        if status not in _FORWARD.get(rec.status, set()):
            log.warning("recording status change refused", recording_id=rec.recording_id,
                        change=f"{rec.status} -> {status}")
            return
        old = rec.status
        rec.status = status
        for k, v in changes.items():
            setattr(rec, k, v)
        await self.store.update_recording(rec)
        log.info("recording status", recording_id=rec.recording_id, room_id=rec.room_id, change=f"{old} -> {status}")
        await self.status_stored(rec)

    # --- start / stop --------------------------------------------------------------------

    async def start(self, room_id: str) -> Recording:
        room = await self.store.get_room(room_id)
        if room is None:
            raise NotFound("room not found", code="room_not_found")
        if not ((room.config or {}).get("recording") or {}).get("enabled", True):
            raise Conflict("recording is disabled for this room", code="recording_disabled")
        if end_dates.expired(room, now_ms()):
            raise Conflict("this room's end date has passed: no new recordings", code="room_expired")
        if room_id in self._active:
            raise Conflict("this room is already being recorded", code="recording_already_started")
        media_room = self.media.media_room(room_id)
        if media_room is None:
            raise Conflict("the room has no live meeting to record", code="room_has_no_meeting")
        self.dir.mkdir(parents=True, exist_ok=True)
        rid = "rec_" + uuid.uuid4().hex
        meetings = await self.store.list_meetings(room_id)
        session_id = meetings[0].room_session_id if meetings and meetings[0].end_date is None else None
        rec = Recording(recording_id=rid, room_id=room_id, room_session_id=session_id, status="starting",
                        start_date=now_ms(), filename=f"{rid}.mkv", node_id=self.node_id)
        await self.store.create_recording(rec)
        log.info("recording status", recording_id=rid, room_id=room_id, change="new -> starting")
        await self.status_stored(rec)
        recorder = Recorder(self.dir / rec.filename, container="matroska",
                            name_of=lambda pid: self.media.participant_name(room_id, pid),
                            on_failed=lambda error: self._spawn(self._failed(room_id, rid, error)),
                            on_room_closed=lambda reason: self._spawn(self._room_closed(room_id, rid, reason)))
        self._active[room_id] = _Active(rec, recorder)
        try:
            recorder.attach(media_room)
        except Exception as exc:  # noqa: BLE001 - e.g. the media room closed meanwhile
            self._active.pop(room_id, None)
            await recorder.stop(FINALIZE_SECONDS)
            await self._move(rec, "failed", end_date=now_ms(), error=f"could not attach: {exc}")
            raise Conflict("the room has no live meeting to record", code="room_has_no_meeting") from None
        await self._move(rec, "active")
        await self._announce(rec)
        return rec

    async def maybe_autostart(self, room_id: str, participants: int) -> Optional[Recording]:
        """Honour the room's ``recording.startTrigger`` (automatic | automatic-2nd-participant)
        when the meeting's participant count changes (server/live/recording_messages.py)."""
        if room_id in self._active:
            return None
        room = await self.store.get_room(room_id)
        rec_cfg = ((room.config or {}).get("recording") or {}) if room else {}
        trigger = rec_cfg.get("startTrigger")
        needed = {"automatic": 1, "automatic-2nd-participant": 2}.get(trigger or "")
        if room is None or not rec_cfg.get("enabled", True) or needed is None or participants < needed:
            return None
        try:
            return await self.start(room_id)
        except Conflict:
            return None

    def autostart_soon(self, room_id: str, participants: int,
                       after: Optional[Callable[[], Awaitable[Any]]] = None) -> None:
        """``maybe_autostart`` in the background, once ``after()`` is done (e.g. the SFU's admission
        of the participant who just joined); the service's shutdown waits for it."""
        async def autostart() -> None:
            if after is not None:
                await after()
            try:
                rec = await self.maybe_autostart(room_id, participants)
            except Exception as exc:   # noqa: BLE001 - e.g. the store unreachable: the meeting goes on
                log.warning("recording autostart failed", room_id=room_id, error=type(exc).__name__)
                return
            if rec is not None:
                log.info("recording started by the room's trigger", recording_id=rec.recording_id, room_id=room_id)
        self._spawn(autostart())

    async def stop(self, recording_id: str) -> Recording:
        rec = await self.get(recording_id)
        act = self._active.get(rec.room_id)
        if act is None or act.rec.recording_id != recording_id:
            raise Conflict(f"the recording is not active (status {rec.status})", code="recording_not_active")
        return await self._finish(act)

    async def stop_room(self, room_id: str, reason: str = "meeting_ended") -> Optional[Recording]:
        """The meeting ended (or the server stops): finalize the room's recording, if any."""
        act = self._active.get(room_id)
        if act is None:
            return None
        log.info("stopping recording", recording_id=act.rec.recording_id, reason=reason)
        return await self._finish(act)

    async def _finish(self, act: _Active, error: Optional[str] = None) -> Recording:
        if act.stopping is None:
            act.stopping = asyncio.ensure_future(self._finalize(act, error))
        return await asyncio.shield(act.stopping)

    async def _finalize(self, act: _Active, error: Optional[str]) -> Recording:
        rec = act.rec
        if rec.status == "active":
            await self._move(rec, "ending")
        result: MuxResult = await act.recorder.stop(FINALIZE_SECONDS)
        self._active.pop(rec.room_id, None)
        if result.status == "pending":
            # still joining parts (a long recording with late joiners): stays "ending" until done;
            # if the server stops first, recovery at the next start finishes the job
            snapshot = dataclasses.replace(rec, tracks=list(rec.tracks))
            self._spawn(self._finalize_late(act, error))
            return snapshot
        return await self._settle(rec, result, error)

    async def _finalize_late(self, act: _Active, error: Optional[str]) -> None:
        await self._settle(act.rec, await act.recorder.wait(), error)

    async def _settle(self, rec: Recording, result: MuxResult, error: Optional[str]) -> Recording:
        status = "failed" if error or result.status != "complete" else "complete"
        self.bytes_finished += result.size or 0
        await self._move(rec, status, end_date=now_ms(), duration=round(result.duration, 3), size=result.size,
                         tracks=result.tracks, error=error or result.error)
        await self._announce(rec)
        return rec

    async def _failed(self, room_id: str, recording_id: str, error: str) -> None:
        act = self._active.get(room_id)
        if act is not None and act.rec.recording_id == recording_id:
            log.error("recording failed; the meeting goes on", recording_id=recording_id)
            await self._finish(act, error)

    async def _room_closed(self, room_id: str, recording_id: str, reason: str) -> None:
        act = self._active.get(room_id)
        if act is not None and act.rec.recording_id == recording_id:
            log.info("meeting media closed; finishing its recording", recording_id=recording_id, reason=reason)
            await self._finish(act)

    async def _announce(self, rec: Recording) -> None:
        try:
            await self.media.recording_changed(rec.room_id, {"recordingId": rec.recording_id, "status": rec.status})
        except Exception:  # noqa: BLE001 - telling participants must not break recording
            log.exception("recording announcement failed", recording_id=rec.recording_id)

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def shutdown(self) -> None:
        """Finalize every running recording (SIGTERM): each within FINALIZE_SECONDS."""
        acts = list(self._active.values())
        if acts:
            await asyncio.gather(*(self._finish(a) for a in acts), return_exceptions=True)
        if self._tasks:   # late finalizing gets a little more time, then is left to recovery
            await asyncio.wait(list(self._tasks), timeout=FINALIZE_SECONDS)

    # --- delete / links ----------------------------------------------------------------

    async def delete(self, recording_id: str) -> None:
        rec = await self.get(recording_id)
        if rec.status in LIVE_STATUSES:
            raise Conflict(f"the recording is {rec.status}; stop it first", code="recording_active")
        path = self.file_of(rec)
        if path is not None:
            path.unlink(missing_ok=True)
        for extra in (self.mp4_path(rec), self.composed_path(rec)):
            if extra is not None:
                extra.unlink(missing_ok=True)
        await self.store.delete_recording(rec.recording_id)
        log.info("recording deleted", recording_id=rec.recording_id, room_id=rec.room_id)

    def link_query(self, rec: Recording, valid_for: int) -> tuple[str, int]:
        return signed_links.link_query(self._secret, rec.recording_id, rec.link_secret_version, time.time(),
                                       valid_for)

    def check_link(self, rec: Recording, expires: Optional[str], signature: Optional[str]) -> None:
        signed_links.verify(self._secret, rec.recording_id, rec.link_secret_version, expires, signature,
                            time.time())

    async def revoke_links(self, recording_id: str) -> Recording:
        rec = await self.get(recording_id)
        rec.link_secret_version += 1
        await self.store.update_recording(rec)
        log.info("recording links revoked", recording_id=rec.recording_id)
        return rec
