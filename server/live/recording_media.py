"""RecordingMedia (server/domain/recordings/media.py) on the SFU and the LiveMeetings port:
the recorder attaches to the SFU's media room, labels tracks with participants' names and
announces status changes to the meeting (a ``recording`` message)."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Optional

from media.ports import MediaRoomPort, MediaServicePort

from .meetings import HubLiveMeetings
from .recording_messages import recording_message

Names = Callable[[str, str], str]
Announce = Callable[[str, dict[str, Any]], Awaitable[None]]


class SfuRecordingMedia:
    """``names(room_id, participant_id)`` gives display names, ``announce(room_id, info)`` tells the
    meeting; without them tracks are labelled with participant ids and nobody is told."""

    def __init__(self, media_service: MediaServicePort, names: Optional[Names] = None,
                 announce: Optional[Announce] = None) -> None:
        self.media_service, self._names, self._announce = media_service, names, announce

    @classmethod
    def on_live(cls, media_service: MediaServicePort, live: HubLiveMeetings) -> "SfuRecordingMedia":
        """Names from the live meeting of this node (the recorder runs where the meeting's media is);
        status changes announced to everyone in it."""
        def names(room_id: str, participant_id: str) -> str:
            return live.hub.display_name(room_id, participant_id) or participant_id

        async def announce(room_id: str, recording: dict[str, Any]) -> None:
            # the active recording is part of the meeting's mirrored state (a takeover marks it failed)
            live.hub.set_recording(room_id, recording["recordingId"] if recording.get("status") == "active" else None)
            await live.announce(room_id, recording_message(recording))
        return cls(media_service, names, announce)

    def media_room(self, room_id: str) -> Optional[MediaRoomPort]:
        return self.media_service.get_room(room_id)

    def participant_name(self, room_id: str, participant_id: str) -> str:
        return self._names(room_id, participant_id) if self._names else participant_id

    async def recording_changed(self, room_id: str, recording: dict[str, Any]) -> None:
        if self._announce is not None:
            await self._announce(room_id, recording)
