"""Recording over the websocket (docs/protocol.md: start_recording, stop_recording, recording).

* ``start_recording`` / ``stop_recording`` (joined, permission ``canRecord``): the
  ``ok`` reply carries ``recording: {recordingId, status}``; refusals are ``error``
  messages with the REST codes (``recording_disabled``, ``recording_already_started``,
  ``recording_not_active``, ``room_has_no_meeting``).
* Everyone in the meeting gets ``{type: "recording", recording: {recordingId, status}}``
  when a recording becomes active and when it ends (sent by the hub wiring through
  ``RecordingMedia.recording_changed``); someone who joins while a recording runs gets
  it right after ``joined``.
* The room's ``config.recording.startTrigger`` (``automatic``: first participant,
  ``automatic-2nd-participant``: second one) starts a recording by itself.

``setup(app)`` runs after the signaling hub exists (``server.signaling_wiring``). The
handlers find the service through ``hub.recording_control`` (no module state).
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from signaling.errors import SignalingError
from signaling.protocol import Request

from ..domain.errors import ApiError
from ..domain.recordings.service import RECORDINGS, RecordingService

log = structlog.get_logger("antechamber.recordings")


def _refused(err: ApiError) -> SignalingError:
    exc = SignalingError(err.message)
    exc.code = err.code
    return exc


class RecordingControl:
    def __init__(self, app: web.Application, hub: Any) -> None:
        self.app, self.hub = app, hub

    @property
    def service(self) -> RecordingService:
        return self.app[RECORDINGS]

    async def start(self, room_id: str) -> dict[str, Any]:
        await self.hub.idle()   # the SFU's admission of this participant may still be queued
        try:
            rec = await self.service.start(room_id)
        except ApiError as err:
            raise _refused(err) from None
        return {"recording": {"recordingId": rec.recording_id, "status": rec.status}}

    async def stop(self, room_id: str) -> dict[str, Any]:
        active = self.service.active_for_room(room_id)
        if active is None:
            exc = SignalingError("nothing is being recorded")
            exc.code = "recording_not_active"
            raise exc
        try:
            rec = await self.service.stop(active.recording_id)
        except ApiError as err:
            raise _refused(err) from None
        return {"recording": {"recordingId": rec.recording_id, "status": rec.status}}

    def on_event(self, name: str, data: dict[str, Any]) -> None:
        if name not in ("room.client.joined", "room.client.resumed") or RECORDINGS not in self.app:
            return
        room_id = data.get("room_id", "")
        active = self.service.active_for_room(room_id)
        room = self.hub.rooms.get(room_id)
        if active is not None and room is not None:
            session = room.find(data.get("participant_id", ""))
            if session is not None:
                session.send({"type": "recording",
                              "recording": {"recordingId": active.recording_id, "status": active.status}})
        elif room is not None and name == "room.client.joined":
            count = room.counts().participants
            self.service._spawn(self._autostart(room_id, count))

    async def _autostart(self, room_id: str, participants: int) -> None:
        await self.hub.idle()
        rec = await self.service.maybe_autostart(room_id, participants)
        if rec is not None:
            log.info("recording started by the room's trigger", recording_id=rec.recording_id, room_id=room_id)


def _control(hub: Any) -> RecordingControl:
    control = getattr(hub, "recording_control", None)
    if control is None:
        exc = SignalingError("recording is not available on this server")
        exc.code = "recording_unavailable"
        raise exc
    return control


async def on_start_recording(hub: Any, session: Any, req: Request) -> dict[str, Any]:
    return await _control(hub).start(session.room.room_id)


async def on_stop_recording(hub: Any, session: Any, req: Request) -> dict[str, Any]:
    return await _control(hub).stop(session.room.room_id)


def setup(app: web.Application) -> None:
    from .directory import HUB

    hub = app.get(HUB)
    if hub is None:
        return
    control = RecordingControl(app, hub)
    hub.recording_control = control
    hub.messages.register("start_recording", on_start_recording, permission="canRecord", fields={})
    hub.messages.register("stop_recording", on_stop_recording, permission="canRecord", fields={})
    hub.events.subscribe(control.on_event)
