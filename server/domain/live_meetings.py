"""LiveMeetings: everything the server asks of the meetings running now (docs/architecture.md,
"Layers" and "Seams for the cluster").

The domain services (rooms, members, the sweeper) and the live wiring (recording messages,
the recorder's participant names) reach live meetings only through this port, never the hub's
rooms or a connection. server/live/meetings.py implements it on the signaling hub;
``NoLiveMeetings`` is the port of a server without meetings (and a base for stand-ins).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from ..store.records import Room

# (event name, data): room.client.joined | room.client.resumed | room.client.left | room.session.started | ...
LiveListener = Callable[[str, dict[str, Any]], None]


class LiveMeetings(Protocol):
    """Asynchronous where a cluster asks the meeting's owner node (docs/architecture.md, "Seams for
    the cluster"); ``has_meeting`` stays synchronous (room views render it): a cluster answers it
    from its view of which node owns which meeting."""

    def has_meeting(self, room_id: str) -> bool: ...

    async def end_meeting(self, room_id: str, reason: str) -> None:
        """End the live meeting, if any; reason: meeting_ended | room_deleted | room_expired."""

    async def room_updated(self, room: Room) -> None:
        """Lock state, config, roles or status changed: the room as stored by that write."""

    async def member_removed(self, room_id: str, member_id: str) -> None:
        """A member was deleted: disconnect them if connected."""

    async def member_updated(self, room_id: str, member_id: str, base_role: str,
                             custom_permissions: dict[str, bool]) -> None:
        """A member's baseRole/customPermissions changed: apply them to a connected member now."""

    async def kick_participant(self, room_id: str, participant_id: str) -> bool:
        """Remove a participant from the meeting for good; False if they are not in it."""

    async def set_participant_role(self, room_id: str, participant_id: str, role: str) -> bool | None:
        """Make a participant ``host`` or ``guest`` for this meeting: None if not in it, False if it
        has that standing already, True if changed (Conflict room_full: a viewer with no free place)."""

    async def extend_meeting(self, room_id: str, minutes: int) -> int | None:
        """Move the meeting's end ``minutes`` later: its new end (epoch ms); None if no meeting runs;
        Conflict ``no_end_time`` if it has no end (signaling/live/meeting_clock.py)."""

    async def announce(self, room_id: str, message: dict[str, Any]) -> bool:
        """Send ``message`` to everyone in the room's meeting; False if there is none."""

    async def send_to(self, room_id: str, participant_id: str, message: dict[str, Any]) -> bool:
        """Send ``message`` to one participant; False if they are not in the room."""

    async def participant_name(self, room_id: str, participant_id: str) -> str | None:
        """The participant's display name, None if they are not in the room."""

    async def participant_count(self, room_id: str) -> int:
        """Participants (viewers not counted) in the room's meeting now."""

    def subscribe(self, listener: LiveListener) -> Callable[[], None]:
        """Call ``listener(name, data)`` on every live event (it must not block); returns the unsubscriber."""

    async def idle(self) -> None:
        """Wait until the work the meetings queued so far (persistence, media) has run."""


class NoLiveMeetings:
    """No meeting runs anywhere."""

    def has_meeting(self, room_id: str) -> bool:
        return False

    async def end_meeting(self, room_id: str, reason: str) -> None:
        return None

    async def room_updated(self, room: Room) -> None:
        return None

    async def member_removed(self, room_id: str, member_id: str) -> None:
        return None

    async def member_updated(self, room_id: str, member_id: str, base_role: str,
                             custom_permissions: dict[str, bool]) -> None:
        return None

    async def kick_participant(self, room_id: str, participant_id: str) -> bool:
        return False

    async def set_participant_role(self, room_id: str, participant_id: str, role: str) -> bool | None:
        return None

    async def extend_meeting(self, room_id: str, minutes: int) -> int | None:
        return None

    async def announce(self, room_id: str, message: dict[str, Any]) -> bool:
        return False

    async def send_to(self, room_id: str, participant_id: str, message: dict[str, Any]) -> bool:
        return False

    async def participant_name(self, room_id: str, participant_id: str) -> str | None:
        return None

    async def participant_count(self, room_id: str) -> int:
        return 0

    def subscribe(self, listener: LiveListener) -> Callable[[], None]:
        return lambda: None

    async def idle(self) -> None:
        return None
