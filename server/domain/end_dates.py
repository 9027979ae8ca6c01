"""A room's end date and what follows from it (docs/architecture.md "Life cycles", end dates).

Here, not in ``rooms``: the recordings refuse new ones in an expired room, and the domain's layers
(rooms > recordings) keep recordings from importing rooms.

Whereby rooms (``endDate``) are fully usable until it; from ``EXPIRY_GRACE_MS`` (one hour) after
it the room is *expired*: host powers and new recordings stop, nobody new may join
(``room_expired``), webhooks stop; people already in its meeting stay unless the room asks
``meetingEndsAtEndDate``. The sweeper deletes it ``DELETE_AFTER_MS`` (23 h) after its end date
(Whereby: "within 24 hours"), its recordings kept. Native rooms keep OpenVidu Meet's
``autoDeletionDate`` + ``autoDeletionPolicy`` (server/domain/rooms/sweeper.py) and never expire;
their ``autoDeletionDate`` is the end date ``meetingEndsAtEndDate`` ends a meeting at.
"""

from __future__ import annotations

from ..store.records import Room

EXPIRY_GRACE_MS = 3_600_000          # Whereby: host powers etc. stop one hour after endDate
DELETE_AFTER_MS = 23 * 3_600_000     # deleted by the sweeper within 24 h of endDate
MAX_MINUTES = 24 * 60                # maxDurationMinutes / soloTimeoutMinutes / an extension: 1..1440


def end_date(room: Room) -> int | None:
    """The room's end date (epoch ms): Whereby's endDate, a native room's autoDeletionDate. A
    Whereby room stored before ``end_date`` existed kept its endDate in ``auto_deletion_date``."""
    if room.api == "whereby":
        return room.end_date if room.end_date is not None else room.auto_deletion_date
    return room.auto_deletion_date


def expires_at(room: Room) -> int | None:
    """When a Whereby room expires (end date + 1 h); None for a room that never does (native)."""
    end = end_date(room) if room.api == "whereby" else None
    return end + EXPIRY_GRACE_MS if end is not None else None


def expired(room: Room, now: int) -> bool:
    """From one hour after a Whereby room's endDate: host powers, new recordings and webhooks stop,
    nobody new joins (``room_expired``)."""
    at = expires_at(room)
    return at is not None and now >= at


def meeting_end(room: Room) -> int | None:
    """The time a meeting of this room ends at by its end date (``meetingEndsAtEndDate``), or None."""
    return end_date(room) if room.meeting_ends_at_end_date else None


def whereby_deletion_date(end: int) -> int:
    """The autoDeletionDate the sweeper deletes a Whereby room at."""
    return end + DELETE_AFTER_MS
