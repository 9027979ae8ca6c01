"""Meetings that end on time: a meeting's deadline, its countdown, extensions and the solo timeout.

docs/architecture.md "Life cycles" (meetings that end on time); docs/protocol.md "Meetings that end
on time". A room may say its meeting lasts at most ``maxDurationMinutes`` and/or ends at the room's
end date (``meetingEndsAtEndDate``): the meeting's deadline is the earlier of the two, fixed when
the meeting starts (the room's timing cannot change while a meeting runs). Everyone in the meeting
gets ``meeting_ending {minutesLeft, endsAt, reason}`` 5 minutes and 1 minute before it (at once
when the meeting starts or is extended with less left), a host may ``extend`` it by N minutes
(everyone gets ``meeting_extended``), and at the deadline the meeting ends for everyone (``ended``
with reason ``max_duration`` or ``end_date``). With ``soloTimeoutMinutes``, a meeting with exactly
one participant for that long ends (``solo_timeout``). Events: ``room.session.ending_soon``,
``room.session.extended`` (``live/events.py``).

Time comes from ``Timers`` (``RoomServices.timers``): ``LoopTimers`` on the event loop and the
hub's wall clock; ``ManualTimers`` is a fake clock for tests (``advance`` fires what is due). The
clock's state is plain data (``snapshot`` / ``restore``) so a meeting that moves to another node
keeps its deadline (``live/snapshot.py``).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Any, Callable, Protocol

import structlog

from ..errors import InvalidField, SignalingError
from ..rules.admission import MODERATION

log = structlog.get_logger("antechamber.signaling")

MINUTE_MS = 60_000
WARNINGS = (5, 1)                  # minutes before the deadline everyone is told
MAX_EXTEND_MINUTES = 24 * 60
# what stops once a Whereby room expired (one hour after its end date): the host's powers
HOST_POWERS = frozenset({MODERATION, "canEndMeeting", "canMakeModerator", "canRecord"})


class NoEndTime(SignalingError):
    code = "no_end_time"
    default_message = "this meeting has no end time to extend (the room sets no maximum duration or end date)"


class RoomExpired(SignalingError):
    code = "room_expired"
    default_message = "this room's end date has passed"


class Handle(Protocol):
    def cancel(self) -> None: ...


class Timers(Protocol):
    def now_ms(self) -> int: ...

    def call_at(self, when_ms: int, fn: Callable[[], None]) -> Handle: ...


class LoopTimers:
    """Timers on the running event loop, deadlines on ``wall_clock`` (seconds, like time.time)."""

    def __init__(self, wall_clock: Callable[[], float]) -> None:
        self.wall_clock = wall_clock

    def now_ms(self) -> int:
        return int(self.wall_clock() * 1000)

    def call_at(self, when_ms: int, fn: Callable[[], None]) -> Handle:
        return asyncio.get_running_loop().call_later(max(0.0, (when_ms - self.now_ms()) / 1000), fn)


class _ManualHandle:
    def __init__(self, when_ms: int, fn: Callable[[], None]) -> None:
        self.when_ms, self.fn, self.cancelled = when_ms, fn, False

    def cancel(self) -> None:
        self.cancelled = True


class ManualTimers:
    """A fake clock for tests: time stands still until ``advance``; give ``time`` to the hub as its
    wall clock so meeting start times and deadlines agree."""

    def __init__(self, start_ms: int) -> None:
        self.now = start_ms
        self._due: list[tuple[int, int, _ManualHandle]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self.now / 1000

    def now_ms(self) -> int:
        return self.now

    def call_at(self, when_ms: int, fn: Callable[[], None]) -> Handle:
        handle = _ManualHandle(when_ms, fn)
        heapq.heappush(self._due, (when_ms, next(self._order), handle))
        return handle

    def advance(self, seconds: float) -> None:
        """Move the clock on, firing every timer due on the way, in time order."""
        target = self.now + int(seconds * 1000)
        while self._due and self._due[0][0] <= target:
            when, _, handle = heapq.heappop(self._due)
            if not handle.cancelled:
                self.now = max(self.now, when)
                handle.fn()
        self.now = target


def check_minutes(minutes: Any) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_EXTEND_MINUTES:
        raise InvalidField(f"minutes must be an integer from 1 to {MAX_EXTEND_MINUTES}", field="minutes")
    return minutes


class MeetingClock:
    """The timing of one meeting of a live room (``room``: broadcast, end, participants, info)."""

    def __init__(self, room: Any, timers: Timers, start_ms: int) -> None:
        self.room, self.timers = room, timers
        info = room.info
        deadlines = []
        if info.max_duration_minutes:
            deadlines.append((start_ms + info.max_duration_minutes * MINUTE_MS, "max_duration"))
        if info.meeting_ends_at is not None:
            deadlines.append((info.meeting_ends_at, "end_date"))
        self.deadline, self.reason = min(deadlines) if deadlines else (None, None)
        self.solo_minutes: int | None = info.solo_timeout_minutes or None
        self.warned: set[int] = set()
        self.solo_since: int | None = None
        self._timer: Handle | None = None
        self._stopped = False

    @property
    def active(self) -> bool:
        return self.deadline is not None or self.solo_minutes is not None

    def public(self) -> dict[str, Any]:
        """What ``joined.meeting`` carries: the deadline, if any."""
        return {} if self.deadline is None else {"endsAt": self.deadline, "endReason": self.reason}

    # --- what changes it -------------------------------------------------------------------

    def people_changed(self) -> None:
        """The meeting's participants changed (or it started): start or stop the solo timer, send
        what is due now (a meeting starting with less than 5 minutes left is told at once)."""
        if self._stopped:
            return
        alone = len(self.room.participants) == 1
        if self.solo_minutes is not None and alone and self.solo_since is None:
            self.solo_since = self.timers.now_ms()
        elif not alone:
            self.solo_since = None
        self.wake()

    def extend(self, minutes: int, by: str | None) -> int:
        """Move the deadline ``minutes`` later; everyone is told. NoEndTime without a deadline."""
        minutes = check_minutes(minutes)
        if self.deadline is None:
            raise NoEndTime()
        now = self.timers.now_ms()
        self.deadline += minutes * MINUTE_MS
        self.warned = {m for m in self.warned if now >= self.deadline - m * MINUTE_MS}
        meeting = self.room.meeting
        log.info("meeting extended", room_id=self.room.room_id, minutes=minutes, ends_at=self.deadline)
        self.room.broadcast({"type": "meeting_extended", "minutes": minutes, "endsAt": self.deadline, "by": by})
        self.room.services.events.emit("room.session.extended", room_id=self.room.room_id,
                                       room_session_id=meeting.room_session_id if meeting else None,
                                       minutes=minutes, ends_at=self.deadline, by=by)
        self.wake()
        return self.deadline

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # --- the timer -------------------------------------------------------------------------

    def wake(self) -> None:
        """Act on what is due now, then sleep until the next thing is."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._stopped or not self.active:
            return
        try:
            self._act(self.timers.now_ms())
        except Exception:
            log.exception("meeting clock failed", room_id=self.room.room_id)

    def wake_soon(self) -> None:
        """``wake`` from the timers, not now (a restored meeting past its deadline ends after the
        restore, not inside it)."""
        self._timer = self.timers.call_at(self.timers.now_ms(), self.wake)

    def _act(self, now: int) -> None:
        solo_end = self.solo_since + self.solo_minutes * MINUTE_MS \
            if self.solo_since is not None and self.solo_minutes is not None else None
        if self.deadline is not None and now >= self.deadline:
            return self._end(self.reason or "max_duration")
        if solo_end is not None and now >= solo_end:
            return self._end("solo_timeout")
        wake_at = [t for t in (self.deadline, solo_end) if t is not None]
        if self.deadline is not None:
            due = [m for m in WARNINGS if m not in self.warned and now >= self.deadline - m * MINUTE_MS]
            if due:
                self.warned.update(due)
                self._warn(min(due))
            wake_at += [self.deadline - m * MINUTE_MS for m in WARNINGS if m not in self.warned]
        if wake_at:
            self._timer = self.timers.call_at(min(wake_at), self.wake)

    def _warn(self, minutes: int) -> None:
        room, meeting = self.room, self.room.meeting
        log.info("meeting ending soon", room_id=room.room_id, minutes_left=minutes, ends_at=self.deadline)
        room.broadcast({"type": "meeting_ending", "minutesLeft": minutes, "endsAt": self.deadline,
                        "reason": self.reason})
        room.services.events.emit("room.session.ending_soon", room_id=room.room_id,
                                  room_session_id=meeting.room_session_id if meeting else None,
                                  minutes_left=minutes, ends_at=self.deadline)

    def _end(self, reason: str) -> None:
        log.info("meeting time is up", room_id=self.room.room_id, reason=reason)
        self.stop()
        self.room.end(reason)

    # --- moving to another node ------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {"deadline": self.deadline, "reason": self.reason, "warned": sorted(self.warned),
                "soloMinutes": self.solo_minutes, "soloSince": self.solo_since}

    def restore(self, d: dict[str, Any]) -> None:
        deadline, solo_since = d.get("deadline"), d.get("soloSince")
        self.deadline = int(deadline) if isinstance(deadline, (int, float)) else None
        self.reason = d.get("reason") if isinstance(d.get("reason"), str) else None
        self.warned = {int(m) for m in d.get("warned") or () if m in WARNINGS}
        solo = d.get("soloMinutes")
        self.solo_minutes = int(solo) if isinstance(solo, int) and solo > 0 else None
        self.solo_since = int(solo_since) if isinstance(solo_since, (int, float)) else None
