"""Deletes rooms whose autoDeletionDate has passed, honouring their autoDeletionPolicy.

- withMeeting=force: a live meeting is ended (reason ``room_expired``), then the room goes.
- withMeeting=when_meeting_ends: the room is marked ``pending_deletion``; the live
  hub acts when the meeting ends. A marked room whose meeting is no longer live
  (e.g. after a restart) is finished here.
- withRecordings=force deletes the room's recordings too; close keeps them and
  closes the room instead of deleting it.
- A Whereby room's autoDeletionDate is 23 h after its endDate (server/domain/end_dates.py):
  it is deleted then, a live meeting ended, its recordings kept (they outlive it, as Whereby's do).

What is due is read from the store on every pass (``sweep_once(now)``: the clock is injectable),
so a restart loses nothing and a room already dealt with is not listed again.

Runs as a background task for the app's lifetime (``start``/``close``, from server/app.py);
a failure on one room is logged and never stops the task. Rooms are written only through
RoomService (compare-and-set on the stored room), so a sweep racing a REST or live write never
puts a stale room back.
"""

from __future__ import annotations

import asyncio
from typing import Callable

import structlog

from ...store.base import RoomQuery, Store
from ..errors import ApiError
from ..live_meetings import LiveMeetings
from ..tasks import stop_task
from .defaults import now_ms
from .service import DeletionResult, RoomService

log = structlog.get_logger("antechamber.sweeper")

DEFAULT_INTERVAL = 15.0
BATCH = 500


class Sweeper:
    def __init__(self, store: Store, live: LiveMeetings, rooms: RoomService, *,
                 interval: float = DEFAULT_INTERVAL, may_act: Callable[[], bool] = lambda: True) -> None:
        self.store, self.live, self.rooms = store, live, rooms
        self.interval = interval          # seconds between passes
        self.may_act = may_act            # in a cluster: this node holds the sweeper's leader lease
        self._task: asyncio.Task | None = None
        self._unowned: set[str] = set()   # rooms stored as in a meeting that no node ran at the last pass

    async def sweep_once(self, now: int | None = None) -> dict[str, int]:
        """One pass over the expired rooms; returns counts per success code (and ``errors``)."""
        counts: dict[str, int] = {}
        now = now if now is not None else now_ms()
        for listed in await self.store.rooms_due_for_deletion(now, BATCH):
            # decide on the room as it is now, not as listed: a REST write may have moved its date or
            # closed it meanwhile (every write below goes through the room service, compare-and-set)
            room = await self.store.get_room(listed.room_id)
            if room is None or room.auto_deletion_date is None or room.auto_deletion_date > now:
                continue
            try:
                result = await self._expire(room)
            except ApiError as err:   # e.g. deleted concurrently
                log.info("expired room skipped", room_id=room.room_id, reason=err.code)
                continue
            except Exception:
                log.exception("expired room could not be processed", room_id=room.room_id)
                counts["errors"] = counts.get("errors", 0) + 1
                continue
            if result is None:
                continue
            counts[result.success_code] = counts.get(result.success_code, 0) + 1
            log.info("expired room processed", room_id=room.room_id, outcome=result.success_code)
        return counts

    async def settle_lost_meetings(self, now: int | None = None) -> list[str]:
        """Rooms the store shows in a meeting that no node runs — the process or node that ran it
        died and nobody took it over (a restart on one node, a cluster without the mirror): seen so
        on two passes in a row, the meeting is ended (``node_lost``) and the room is open again.
        Returns the room ids settled."""
        unowned: set[str] = set()
        token = None
        while True:
            page = await self.store.list_rooms(RoomQuery(status="active_meeting", limit=100, token=token))
            unowned.update(r.room_id for r in page.items if not self.live.has_meeting(r.room_id))
            token = page.next_token
            if token is None:
                break
        settled, self._unowned = sorted(unowned & self._unowned), unowned - self._unowned
        end = now if now is not None else now_ms()
        for room_id in settled:
            meetings = await self.store.list_meetings(room_id)
            if meetings and meetings[0].end_date is None:
                last = meetings[0]
                last.end_date, last.end_reason = end, "node_lost"
                await self.store.update_meeting(last)

            def reopen(r) -> None:
                if r.status == "active_meeting" and not self.live.has_meeting(room_id):
                    r.status = "open"
            await self.rooms.change(room_id, reopen, "status")
            log.info("meeting without a node ended", room_id=room_id)
        return settled

    async def _expire(self, room) -> DeletionResult | None:
        """Apply the room's autoDeletionPolicy; None when nothing is to be done now."""
        if room.pending_deletion:
            if self.live.has_meeting(room.room_id):
                return None    # the hub deletes it when the meeting ends
            return await self.rooms.complete_pending_deletion(room.room_id)
        if room.api == "whereby":   # deleted within 24 h of its endDate, a meeting ended, recordings kept
            return await self.rooms.delete(room.room_id, "force", "keep", reason="room_expired")
        if room.status == "closed" and await self.rooms.has_recordings(room.room_id):
            return None        # already closed to keep its recordings
        policy = room.auto_deletion_policy or {}
        with_meeting = policy.get("withMeeting", "when_meeting_ends")
        with_recordings = policy.get("withRecordings", "close")
        if with_meeting not in ("force", "when_meeting_ends"):
            with_meeting = "when_meeting_ends"
        if with_recordings not in ("force", "close"):
            with_recordings = "close"
        return await self.rooms.delete(room.room_id, with_meeting, with_recordings, reason="room_expired")

    async def _run(self) -> None:
        while True:
            try:
                if self.may_act():    # once per cluster (docs/architecture.md "Seams for the cluster")
                    await self.sweep_once()
                    await self.settle_lost_meetings()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("room sweep failed")
            await asyncio.sleep(self.interval)

    async def start(self) -> None:
        """Sweep every ``interval`` seconds from now on (the store must be open)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="room-sweeper")

    async def close(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)       # a Redis command can absorb one cancellation
