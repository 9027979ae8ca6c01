"""RecordingMedia: what the recording service needs from live meetings (implemented on the SFU
and the LiveMeetings port by server/live/recording_media.py)."""

from __future__ import annotations

from typing import Any, Optional, Protocol

from media.ports import MediaRoomPort


class RecordingMedia(Protocol):
    def media_room(self, room_id: str) -> Optional[MediaRoomPort]:
        """The media room of the room's live meeting, or None if nobody is in it."""

    def participant_name(self, room_id: str, participant_id: str) -> str:
        """A track's label in the file: the participant's display name (else their id)."""

    async def recording_changed(self, room_id: str, recording: dict[str, Any]) -> None:
        """Tell everyone in the meeting (``recording`` message): status active / ended."""


class NoRecordingMedia:
    """No live media: starting a recording answers 409 (``room_has_no_meeting``)."""

    def media_room(self, room_id: str) -> Optional[MediaRoomPort]:
        return None

    def participant_name(self, room_id: str, participant_id: str) -> str:
        return participant_id

    async def recording_changed(self, room_id: str, recording: dict[str, Any]) -> None:
        return None
