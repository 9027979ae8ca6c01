"""The recording service: start/stop recordings of live meetings, persist their status,
recover after a crash, delete them, and sign download links.

Status only moves forward: ``starting -> active -> ending -> complete | failed``
(``starting``/``active`` may also go straight to ``failed``). Files live in
``<data_dir>/recordings/<recording_id>.mkv``; the file name is stored in the
record and never comes from a request (ids are looked up, not joined).

Live media is reached through a small port, ``app[RECORDING_MEDIA]``
(:class:`RecordingMedia`), that whoever wires the SFU into the signaling hub
implements. ``NoRecordingMedia`` stands in until then: starting answers 409.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
import uuid
from pathlib import Path
from typing import Any, Optional, Protocol

import structlog
from aiohttp import web

from media.ports import MediaRoomPort
from media.recording import MuxResult, recover
from media.recording.recorder import Recorder

from ..access import signed_links
from ...http.appkeys import CREDENTIALS, SETTINGS, STORE
from ..errors import Conflict, NotFound
from ...store.base import RecordingQuery
from ...store.records import Recording

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


class RecordingMedia(Protocol):
    """What the recording service needs from live meetings (implemented by the hub wiring)."""

    def media_room(self, room_id: str) -> Optional[MediaRoomPort]:
        """The media room of the room's live meeting, or None if nobody is in it."""

    def participant_name(self, room_id: str, participant_id: str) -> str: ...

    async def recording_changed(self, room_id: str, recording: dict[str, Any]) -> None:
        """Tell everyone in the meeting (``recording`` message): status active / ended."""


class NoRecordingMedia:
    def media_room(self, room_id: str) -> Optional[MediaRoomPort]:
        return None

    def participant_name(self, room_id: str, participant_id: str) -> str:
        return participant_id

    async def recording_changed(self, room_id: str, recording: dict[str, Any]) -> None:
        return None


class SfuRecordingMedia:
    """RecordingMedia over the SFU's MediaServicePort, for whoever wires the hub:
    ``names(room_id, participant_id)`` gives display names, ``announce(room_id, info)``
    tells the meeting (e.g. a ``recording`` message to everyone)."""

    def __init__(self, media_service: Any, names: Any = None, announce: Any = None) -> None:
        self.media_service, self._names, self._announce = media_service, names, announce

    def media_room(self, room_id: str) -> Optional[MediaRoomPort]:
        return self.media_service.get_room(room_id)

    def participant_name(self, room_id: str, participant_id: str) -> str:
        return self._names(room_id, participant_id) if self._names else participant_id

    async def recording_changed(self, room_id: str, recording: dict[str, Any]) -> None:
        if self._announce is not None:
            await self._announce(room_id, recording)


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
    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.dir = Path(app[SETTINGS].data_dir) / "recordings"
        self._active: dict[str, _Active] = {}      # room_id -> running recording
        self._tasks: set[asyncio.Task] = set()

    @property
    def store(self) -> Any:
        return self.app[STORE]

    @property
    def media(self) -> RecordingMedia:
        return self.app.get(RECORDING_MEDIA) or NoRecordingMedia()

    # --- lookups ---------------------------------------------------------------------

    async def find(self, recording_id: str) -> Optional[Recording]:
        """The recording, or None (also for an id that cannot be one)."""
        return await self.store.get_recording(recording_id) if valid_id(recording_id) else None

    async def get(self, recording_id: str) -> Recording:
        """The recording, else 404 -- for callers who may know whether it exists (the API key holder);
        room-key and signed-link access decide their answer in server/api/recordings_native.authorize."""
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

    def active_for_room(self, room_id: str) -> Optional[Recording]:
        act = self._active.get(room_id)
        return act.rec if act else None

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

    # --- start / stop --------------------------------------------------------------------

    async def start(self, room_id: str) -> Recording:
        room = await self.store.get_room(room_id)
        if room is None:
            raise NotFound("room not found", code="room_not_found")
        if not ((room.config or {}).get("recording") or {}).get("enabled", True):
            raise Conflict("recording is disabled for this room", code="recording_disabled")
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
                        start_date=now_ms(), filename=f"{rid}.mkv")
        await self.store.create_recording(rec)
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
        when the meeting's participant count changes; call it from the hub wiring."""
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
        await self.store.delete_recording(rec.recording_id)
        log.info("recording deleted", recording_id=rec.recording_id, room_id=rec.room_id)

    def link_query(self, rec: Recording, valid_for: int) -> tuple[str, int]:
        return signed_links.link_query(self.app[CREDENTIALS].server_secret, rec.recording_id,
                                       rec.link_secret_version, time.time(), valid_for)

    def check_link(self, rec: Recording, expires: Optional[str], signature: Optional[str]) -> None:
        signed_links.verify(self.app[CREDENTIALS].server_secret, rec.recording_id, rec.link_secret_version,
                            expires, signature, time.time())

    async def revoke_links(self, recording_id: str) -> Recording:
        rec = await self.get(recording_id)
        rec.link_secret_version += 1
        await self.store.update_recording(rec)
        log.info("recording links revoked", recording_id=rec.recording_id)
        return rec

    # --- crash recovery ------------------------------------------------------------------

    async def recover_interrupted(self) -> list[Recording]:
        """Recordings left starting/active/ending by a crash: complete if the file was
        finalized, failed otherwise; either way the file written so far stays downloadable."""
        fixed: list[Recording] = []
        single_node = not self.app[SETTINGS].redis_url
        for status in LIVE_STATUSES:
            token = None
            while True:
                page = await self.store.list_recordings(RecordingQuery(status=status, limit=100, token=token))
                for rec in page.items:
                    if any(a.rec.recording_id == rec.recording_id for a in self._active.values()):
                        continue
                    path = self.path_of(rec)
                    if not single_node and (path is None or not path.exists()):
                        continue  # another node's recording (shared store): not ours to judge
                    fixed.append(await self._recover_one(rec, path))
                token = page.next_token
                if token is None:
                    break
        return fixed

    async def _recover_one(self, rec: Recording, path: Optional[Path]) -> Recording:
        loop = asyncio.get_running_loop()
        try:
            info = None if path is None else await loop.run_in_executor(None, recover, path, "matroska")
        except Exception as exc:  # noqa: BLE001 - an unreadable file: keep it, mark failed
            info, err = None, f"unreadable after crash: {type(exc).__name__}"
        else:
            err = None if info and info.finalized else "the server stopped while recording"
        old = rec.status
        rec.status = "complete" if info is not None and info.finalized else "failed"
        rec.error = None if rec.status == "complete" else (err or "the server stopped before anything was written")
        if info is not None and path is not None:
            rec.size, rec.duration = info.size, round(info.duration, 3)
            rec.end_date = int(path.stat().st_mtime * 1000)
            if not rec.tracks:
                rec.tracks = info.streams
        else:
            rec.end_date = rec.start_date
        await self.store.update_recording(rec)
        log.info("recording recovered", recording_id=rec.recording_id, change=f"{old} -> {rec.status}")
        return rec


RECORDINGS = web.AppKey("recordings", RecordingService)
RECORDING_MEDIA = web.AppKey("recording_media", object)  # a RecordingMedia


async def recordings_ctx(app: web.Application):
    """Create the service (after the store), fix what a crash left behind, finalize on shutdown."""
    svc = RecordingService(app)
    app[RECORDINGS] = svc
    try:
        fixed = await svc.recover_interrupted()
        if fixed:
            log.info("interrupted recordings recovered", count=len(fixed))
    except Exception:  # noqa: BLE001 - recovery must not keep the server from starting
        log.exception("recording recovery failed")
    yield
    await svc.shutdown()
