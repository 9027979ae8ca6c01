"""Usage insights of rooms and their meetings (room sessions), computed from what the store keeps:
the meetings, the participants' join/leave log (MeetingLog) and the recordings. Whereby v1's
``/insights`` endpoints answer with them (docs/compatibility.md; docs/architecture.md "Stores and writes").

Minutes are rounded up per connection (a participant's one stay in one meeting, at least one), as
Whereby counts them; a stay or a recording still running counts up to now. Each recording is one recorder; nothing
is streamed here, so the streamer figures are 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ...store.base import RecordingQuery, Store, every_recording
from ...store.records import Meeting, Participation, Recording, Room

MINUTE_MS = 60_000


def _minutes(start_ms: int, end_ms: int) -> int:
    return math.ceil(max(0, end_ms - start_ms) / MINUTE_MS)


def _stay_minutes(joined_ms: int, left_ms: int) -> int:
    """A stay counts at least one minute, even one that began and ended within the same
    millisecond (a connection is billed as started)."""
    return max(1, _minutes(joined_ms, left_ms))


@dataclass
class SessionInsight:
    meeting: Meeting
    participations: list[Participation]
    recordings: list[Recording]
    now: int

    @property
    def participant_minutes(self) -> int:
        return sum(_stay_minutes(p.joined_at, p.left_at if p.left_at is not None else self.now)
                   for p in self.participations)

    @property
    def recorder_minutes(self) -> int:
        return sum(_minutes(0, int(r.duration * 1000)) if r.end_date is not None
                   else _minutes(r.start_date, self.now) for r in self.recordings)

    @property
    def unique_participants(self) -> int:
        return len({p.participant_id for p in self.participations})


@dataclass
class RoomInsight:
    room: Room
    sessions: list[SessionInsight] = field(default_factory=list)   # newest first

    @property
    def first_session_start(self) -> int | None:
        return self.sessions[-1].meeting.start_date if self.sessions else None

    @property
    def last_session_start(self) -> int | None:
        return self.sessions[0].meeting.start_date if self.sessions else None

    def total(self, what: str) -> int:
        return sum(getattr(s, what) for s in self.sessions)

    @property
    def unique_participants(self) -> int:
        return len({p.participant_id for s in self.sessions for p in s.participations})

    @property
    def unique_recorders(self) -> int:
        return sum(len(s.recordings) for s in self.sessions)


async def session_insights(store: Store, room_id: str, now: int) -> list[SessionInsight]:
    """Every meeting of the room (newest first) with its participants and recordings."""
    recordings = await every_recording(store, RecordingQuery(room_id=room_id))
    by_session: dict[str | None, list[Recording]] = {}
    for rec in recordings:
        by_session.setdefault(rec.room_session_id, []).append(rec)
    out = []
    for meeting in await store.list_meetings(room_id):
        out.append(SessionInsight(meeting, await store.list_participations(meeting.room_session_id),
                                  by_session.get(meeting.room_session_id, []), now))
    return out


async def room_insight(store: Store, room: Room, now: int) -> RoomInsight:
    return RoomInsight(room, await session_insights(store, room.room_id, now))
