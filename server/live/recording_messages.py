"""Recording over the websocket (docs/protocol.md: start_recording, stop_recording, recording).

* ``start_recording`` / ``stop_recording`` (joined, permission ``canRecord``): the
  ``ok`` reply carries ``recording: {recordingId, status}``; refusals are ``error``
  messages with the REST codes (``recording_disabled``, ``recording_already_started``,
  ``recording_not_active``, ``room_has_no_meeting``).
* Everyone in the meeting gets ``{type: "recording", recording: {recordingId, status}}``
  when a recording becomes active and when it ends (server/live/recording_media.py);
  someone who joins while a recording runs gets it right after ``joined``.
* The room's ``config.recording.startTrigger`` (``automatic``: first participant,
  ``automatic-2nd-participant``: second one) starts a recording by itself.

``RecordingMessages(recordings, live).register(hub)`` adds the two messages to that hub
(its public message registry) and follows the meetings of this node's hub (live events are local: the recorder runs on the
meeting's owner node).
"""

from __future__ import annotations

from typing import Any

from signaling.errors import SignalingError
from signaling.live.hub import Hub
from signaling.wire.protocol import Request

from ..domain.errors import ApiError
from ..domain.recordings.service import RecordingService
from ..store.records import Recording
from .meetings import HubLiveMeetings


def recording_message(info: dict[str, Any]) -> dict[str, Any]:
    """The ``recording`` message everyone in the meeting gets."""
    return {"type": "recording", "recording": info}


def _status(rec: Recording) -> dict[str, Any]:
    return {"recordingId": rec.recording_id, "status": rec.status}


def _refused(message: str, code: str) -> SignalingError:
    exc = SignalingError(message)
    exc.code = code
    return exc


class RecordingMessages:
    def __init__(self, recordings: RecordingService, live: HubLiveMeetings) -> None:
        self.recordings, self.live = recordings, live

    def register(self, hub: Hub) -> None:
        """Add start_recording / stop_recording to ``hub`` and follow its meetings."""
        async def on_start(hub: Hub, participant: Any, req: Request) -> dict[str, Any]:
            return await self.start(participant.room_id)

        async def on_stop(hub: Hub, participant: Any, req: Request) -> dict[str, Any]:
            return await self.stop(participant.room_id)

        hub.messages.register("start_recording", on_start, permission="canRecord", fields={})
        hub.messages.register("stop_recording", on_stop, permission="canRecord", fields={})
        self.live.subscribe(self.on_event)

    async def start(self, room_id: str) -> dict[str, Any]:
        await self.live.idle()   # the SFU's admission of this participant may still be queued
        try:
            rec = await self.recordings.start(room_id)
        except ApiError as err:
            raise _refused(err.message, err.code) from None
        return {"recording": _status(rec)}

    async def stop(self, room_id: str) -> dict[str, Any]:
        active = self.recordings.active_for_room(room_id)
        if active is None:
            raise _refused("nothing is being recorded", "recording_not_active")
        try:
            rec = await self.recordings.stop(active.recording_id)
        except ApiError as err:
            raise _refused(err.message, err.code) from None
        return {"recording": _status(rec)}

    def on_event(self, name: str, data: dict[str, Any]) -> None:
        if name not in ("room.client.joined", "room.client.resumed"):
            return
        room_id = data.get("room_id", "")
        active = self.recordings.active_for_room(room_id)
        if active is not None:
            self.live.hub.send_to(room_id, data.get("participant_id", ""), recording_message(_status(active)))
        elif name == "room.client.joined":
            self.recordings.autostart_soon(room_id, self.live.hub.participant_count(room_id), after=self.live.idle)
