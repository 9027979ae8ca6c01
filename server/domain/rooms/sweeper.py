"""Deletes rooms whose autoDeletionDate has passed, honouring their autoDeletionPolicy.

- withMeeting=force: a live meeting is ended (reason ``room_expired``), then the room goes.
- withMeeting=when_meeting_ends: the room is marked ``pending_deletion``; the live
  hub acts when the meeting ends. A marked room whose meeting is no longer live
  (e.g. after a restart) is finished here.
- withRecordings=force deletes the room's recordings too; close keeps them and
  closes the room instead of deleting it.

Runs as a background task in the app's cleanup_ctx; a failure on one room is
logged and never stops the task. Rooms are written only through RoomService (compare-and-set
on the stored room), so a sweep racing a REST or live write never puts a stale room back.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from aiohttp import web

from ..errors import ApiError
from .service import RoomService, now_ms

log = structlog.get_logger("antechamber.sweeper")

SWEEP_INTERVAL = web.AppKey("sweep_interval_seconds", float)
DEFAULT_INTERVAL = 15.0
BATCH = 500


async def sweep_once(app: web.Application, now: int | None = None) -> dict[str, int]:
    """One pass over the expired rooms; returns counts per success code (and ``errors``)."""
    svc = RoomService(app)
    counts: dict[str, int] = {}
    now = now if now is not None else now_ms()
    due = await svc.store.rooms_due_for_deletion(now, BATCH)
    for listed in due:
        # decide on the room as it is now, not as listed: a REST write may have moved its date or
        # closed it meanwhile (every write below goes through the room service, compare-and-set)
        room = await svc.store.get_room(listed.room_id)
        if room is None or room.auto_deletion_date is None or room.auto_deletion_date > now:
            continue
        pending = room.pending_deletion
        try:
            if pending:
                if svc.live.has_meeting(room.room_id):
                    continue   # the hub deletes it when the meeting ends
                result = await svc.complete_pending_deletion(room.room_id)
                if result is None:
                    continue
            elif room.status == "closed" and await svc.has_recordings(room.room_id):
                continue       # already closed to keep its recordings
            else:
                policy = room.auto_deletion_policy or {}
                with_meeting = policy.get("withMeeting", "when_meeting_ends")
                with_recordings = policy.get("withRecordings", "close")
                if with_meeting not in ("force", "when_meeting_ends"):
                    with_meeting = "when_meeting_ends"
                if with_recordings not in ("force", "close"):
                    with_recordings = "close"
                result = await svc.delete(room.room_id, with_meeting, with_recordings, reason="room_expired")
        except ApiError as err:   # e.g. deleted concurrently
            log.info("expired room skipped", room_id=room.room_id, reason=err.code)
            continue
        except Exception:
            log.exception("expired room could not be processed", room_id=room.room_id)
            counts["errors"] = counts.get("errors", 0) + 1
            continue
        counts[result.success_code] = counts.get(result.success_code, 0) + 1
        log.info("expired room processed", room_id=room.room_id, outcome=result.success_code)
    return counts


async def _run(app: web.Application) -> None:
    interval = app.get(SWEEP_INTERVAL, DEFAULT_INTERVAL)
    while True:
        try:
            await sweep_once(app)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("room sweep failed")
        await asyncio.sleep(interval)


async def sweeper_ctx(app: web.Application):
    """cleanup_ctx entry: runs the sweeper for the app's lifetime (append after the store's)."""
    task = asyncio.create_task(_run(app), name="room-sweeper")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
