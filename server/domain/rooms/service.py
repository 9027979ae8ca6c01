"""The room domain service shared by both REST surfaces (native and Whereby-compatible).

Creates rooms with defaults and unguessable ids, derives the access links
(guest ``<public-url>/<room_id>``, host ``?roomKey=``, viewer ``?viewerKey=``)
from the server secret, renders the OpenVidu-Meet-shaped room object, applies
partial updates and deletes rooms honouring OpenVidu Meet's deletion policies.

Keys are derived with server.keys.derive_key(server_secret, room_id, role,
room.key_version) for role ``host``, ``viewer`` and ``recording``; they are
never logged.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import structlog
from aiohttp import web

from signaling.permissions import effective_permissions

from ...http.appkeys import CREDENTIALS, SETTINGS, STORE
from ..errors import ApiError, Conflict, NotFound
from ..access.keys import derive_key
from ..live_meetings import LIVE
from ..recordings.service import RECORDINGS
from ...store.base import AlreadyExists, RecordingQuery, StoreConflict
from ...store.cas import KeyedLocks  # noqa: F401  (re-exported: the per-room lock now lives in the stores)
from ...store.records import Room

log = structlog.get_logger("antechamber.rooms")

# human-short: no 0/o, 1/l/i, 2/z, 5/s, u/v lookalikes
HUMAN_ALPHABET = "abcdefghjkmnpqrtwxy346789"
HUMAN_LENGTH = 6
CREATE_ATTEMPTS = 8

DEFAULT_CONFIG: dict[str, dict[str, Any]] = {
    "chat": {"enabled": True},
    "recording": {"enabled": True},
    "virtualBackground": {"enabled": True},
    "e2ee": {"enabled": False},
}
DEFAULT_ACCESS = {"anonymous": {"moderator": {"enabled": True}, "speaker": {"enabled": True},
                                "recording": {"enabled": True}}}
DEFAULT_POLICY = {"withMeeting": "when_meeting_ends", "withRecordings": "close"}

# OpenVidu Meet's MeetRoomDeletionSuccessCode values; the *_scheduled_* ones answer 202.
SCHEDULED_CODES = frozenset({
    "room_with_active_meeting_scheduled_to_be_deleted",
    "room_with_active_meeting_scheduled_to_be_closed",
    "room_with_active_meeting_and_recordings_scheduled_to_be_deleted",
})


def now_ms() -> int:
    return int(time.time() * 1000)


class RandomPool:
    """Bytes from the OS's CSPRNG, fetched in blocks: one getrandom() call per block.

    Each os.urandom() call releases the GIL, handing it to the store's thread under
    load; fetching 4 KiB at a time keeps room creation off that path.
    """

    def __init__(self, block: int = 4096) -> None:
        self._block = block
        self._buf = b""
        self._pos = 0

    def take(self, n: int) -> bytes:
        if self._pos + n > len(self._buf):
            self._buf = os.urandom(max(self._block, n))
            self._pos = 0
        out = self._buf[self._pos:self._pos + n]
        self._pos += n
        return out


ROOM_RANDOM = web.AppKey("room_random", RandomPool)


def generate_name(pattern: str, pool: RandomPool | None = None) -> str:
    pool = pool or RandomPool(64)
    if pattern == "human-short":
        chars: list[str] = []
        limit = 256 - 256 % len(HUMAN_ALPHABET)      # rejection sampling: no modulo bias
        while len(chars) < HUMAN_LENGTH:
            for b in pool.take(HUMAN_LENGTH):
                if b < limit and len(chars) < HUMAN_LENGTH:
                    chars.append(HUMAN_ALPHABET[b % len(HUMAN_ALPHABET)])
        return "".join(chars)
    return str(uuid.UUID(bytes=pool.take(16), version=4))   # 122 random bits


def install(app: web.Application) -> None:
    """Give the app its random pool (call from route setup, before the app starts)."""
    if ROOM_RANDOM not in app:
        app[ROOM_RANDOM] = RandomPool()


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A new dict: ``base`` overlaid with ``update``, nested dicts merged and copied (never shared)."""
    out = {k: deep_merge(v, {}) if isinstance(v, dict) else v for k, v in base.items()}
    for key, value in update.items():
        if isinstance(value, dict):
            prior = out.get(key)
            out[key] = deep_merge(prior if isinstance(prior, dict) else {}, value)
        else:
            out[key] = value
    return out


_SNAPSHOTS: dict[str, Callable[[Room], Any]] = {
    "config": lambda r: r.config, "roles": lambda r: r.roles, "access": lambda r: r.access,
    "status": lambda r: r.status, "lock": lambda r: r.is_locked, "closed": lambda r: r.status,
    "scheduled deletion": lambda r: r.pending_deletion, "keys": lambda r: f"key_version={r.key_version}",
}


@dataclass(frozen=True)
class Updated:
    room: Room                   # as stored after the change (the current room if nothing changed)
    changed: bool                # False: the change altered nothing, nothing was written
    result: Any = None           # what the change function returned


@dataclass(frozen=True)
class DeletionResult:
    success_code: str
    message: str
    room: Room | None            # the room as it is after the operation, None if deleted

    @property
    def status(self) -> int:
        return 202 if self.success_code in SCHEDULED_CODES else 200


class RoomService:
    """Room operations on the app's store, settings, credentials and live-meeting port."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.store = app[STORE]
        self.settings = app[SETTINGS]
        self.secret = app[CREDENTIALS].server_secret
        self.live = app[LIVE]
        self.random = app.get(ROOM_RANDOM)

    # --- links and rendering ------------------------------------------------------------

    def key(self, room: Room, role: str) -> str:
        return derive_key(self.secret, room.room_id, role, room.key_version)

    def guest_url(self, room: Room) -> str:
        return f"{self.settings.base_url}/{room.room_id}"

    def host_url(self, room: Room) -> str:
        return f"{self.guest_url(room)}?roomKey={self.key(room, 'host')}"

    def viewer_url(self, room: Room) -> str:
        return f"{self.guest_url(room)}?viewerKey={self.key(room, 'viewer')}"

    def recording_url(self, room: Room) -> str:
        return f"{self.guest_url(room)}/recordings?recordingKey={self.key(room, 'recording')}"

    def max_participants(self, room: Room) -> int:
        if room.room_mode == "group":
            return self.settings.group_max_participants
        return self.settings.normal_max_participants

    def status_of(self, room: Room) -> str:
        if room.status != "closed" and self.live.has_meeting(room.room_id):
            return "active_meeting"
        return room.status

    def render(self, room: Room) -> dict[str, Any]:
        """The native (OpenVidu Meet 3.8 shaped) room object."""
        anonymous = (room.access or {}).get("anonymous", {})
        access: dict[str, Any] = {}
        for role, url_of in (("moderator", self.host_url), ("speaker", self.guest_url),
                             ("recording", self.recording_url)):
            enabled = bool((anonymous.get(role) or {}).get("enabled", True))
            access[role] = {"enabled": enabled, "url": url_of(room)} if enabled else {"enabled": False}
        return {
            "roomId": room.room_id,
            "roomName": room.room_name,
            "creationDate": room.creation_date,
            "autoDeletionDate": room.auto_deletion_date,
            "autoDeletionPolicy": dict(room.auto_deletion_policy),
            "config": deep_merge(DEFAULT_CONFIG, room.config or {}),
            "roles": {
                "moderator": {"permissions": effective_permissions("moderator", room.roles)},
                "speaker": {"permissions": effective_permissions("speaker", room.roles)},
            },
            "access": {"anonymous": access},
            "status": self.status_of(room),
            "isLocked": room.is_locked,
            "roomMode": room.room_mode,
            "maxParticipants": self.max_participants(room),
        }

    # --- create / read ------------------------------------------------------------------

    async def create(self, *, prefix: str = "", pattern: str = "uuid", **fields: Any) -> Room:
        """Create a room with a fresh id (prefix + generated name), retrying on collision."""
        created = now_ms()
        for _ in range(CREATE_ATTEMPTS):
            room = Room(room_id=prefix + generate_name(pattern, self.random), creation_date=created, **fields)
            try:
                await self.store.create_room(room)
            except AlreadyExists:
                continue
            log.info("room created", room_id=room.room_id, api=room.api, room_mode=room.room_mode,
                     is_locked=room.is_locked)
            return room
        raise ApiError("could not find a free room name; try again or use the uuid pattern",
                       code="room_name_exhausted", status=503)

    async def get(self, room_id: str) -> Room:
        room = await self.store.get_room(room_id)
        if room is None:
            raise NotFound(f"room {room_id!r} does not exist", code="room_not_found")
        return room

    async def change(self, room_id: str, change: Callable[[Room], Any], what: str, *,
                     tell_live: bool = True) -> Updated | None:
        """The one way a room is written: ``change`` applied to the room as stored now.

        The store applies it under compare-and-set (``Store.modify_room``: re-read and re-applied
        on a conflict, so ``change`` must be pure and may run more than once), then the change is
        logged and, if something changed and ``tell_live``, the live meeting is told with the room
        AS STORED by this write (its version orders it against other writes' news). None if the
        room does not exist. ``tell_live=False`` is for a caller that applies the result to the live
        room itself (the hub's ``lock``).
        """
        snapshot = _SNAPSHOTS.get(what, lambda r: None)

        def apply(room: Room) -> tuple[str, int, Any]:
            before, seen = repr(snapshot(room)), room.version
            return before, seen, change(room)

        try:
            out = await self.store.modify_room(room_id, apply)
        except StoreConflict:
            raise ApiError(f"room {room_id!r} is being changed by others right now; try again",
                           code="room_busy", status=503) from None
        if out is None:
            return None
        room, (before, seen, result) = out
        changed = room.version != seen
        if changed:
            log.info("room updated", room_id=room_id, what=what, change=f"{before} -> {snapshot(room)!r}",
                     version=room.version)
            if tell_live:
                await self.live.room_updated(room)
        else:
            log.debug("room unchanged", room_id=room_id, what=what, version=room.version)
        return Updated(room, changed, result)

    async def update(self, room_id: str, change: Callable[[Room], Any], what: str) -> Room:
        """``change`` the room (see ``change``); NotFound if it does not exist. Returns the room as stored."""
        updated = await self.change(room_id, change, what)
        if updated is None:
            raise NotFound(f"room {room_id!r} does not exist", code="room_not_found")
        return updated.room

    # --- delete ---------------------------------------------------------------------------

    async def has_recordings(self, room_id: str) -> bool:
        page = await self.store.list_recordings(RecordingQuery(room_id=room_id, limit=1))
        return bool(page.items)

    async def delete_recordings(self, room_id: str) -> int:
        """Delete a room's recordings; an active one is stopped (finalized) first."""
        recordings = self.app.get(RECORDINGS)
        if recordings is not None:
            await recordings.stop_room(room_id, reason="room_deleted")
        data = Path(self.settings.data_dir) / "recordings"
        count = 0
        token = None
        while True:
            page = await self.store.list_recordings(RecordingQuery(room_id=room_id, limit=100, token=token))
            for rec in page.items:
                if recordings is None:
                    if rec.filename and "/" not in rec.filename and not rec.filename.startswith("."):
                        (data / rec.filename).unlink(missing_ok=True)
                    await self.store.delete_recording(rec.recording_id)
                else:
                    try:
                        await recordings.delete(rec.recording_id)
                    except Conflict:   # still finishing in the background: it stays, listed by id
                        log.warning("recording kept: still finishing", recording_id=rec.recording_id)
                        continue
                count += 1
            if page.next_token is None:
                return count
            token = page.next_token

    async def delete(self, room_id: str, with_meeting: str = "fail", with_recordings: str = "fail",
                     reason: str = "room_deleted") -> DeletionResult:
        """Delete a room following OpenVidu Meet's policy matrix (fail checks first, nothing changed)."""
        room = await self.get(room_id)
        meeting = self.live.has_meeting(room_id)
        recordings = await self.has_recordings(room_id)
        base = f"room {room_id!r}"
        if meeting and with_meeting == "fail":
            code = "room_with_recordings_has_active_meeting" if recordings else "room_has_active_meeting"
            raise Conflict(f"{base} has an active meeting", code=code)
        if recordings and with_recordings == "fail":
            if meeting and with_meeting == "when_meeting_ends":
                raise Conflict(f"{base} with an active meeting cannot be scheduled for deletion: it has recordings",
                               code="room_with_active_meeting_has_recordings_cannot_schedule_deletion")
            code = "room_with_active_meeting_has_recordings" if meeting else "room_has_recordings"
            raise Conflict(f"{base} has recordings", code=code)

        close = recordings and with_recordings == "close"
        if meeting and with_meeting == "when_meeting_ends":
            def mark(r: Room) -> None:
                r.pending_deletion = {"action": "close" if close else "delete",
                                      "withRecordings": with_recordings, "reason": reason}
            room = await self.update(room_id, mark, "scheduled deletion")
            if close:
                return DeletionResult("room_with_active_meeting_scheduled_to_be_closed",
                                      f"{base} will be closed when its meeting ends (it has recordings)", room)
            if recordings:
                return DeletionResult("room_with_active_meeting_and_recordings_scheduled_to_be_deleted",
                                      f"{base} and its recordings will be deleted when its meeting ends", room)
            return DeletionResult("room_with_active_meeting_scheduled_to_be_deleted",
                                  f"{base} will be deleted when its meeting ends", room)

        # with_meeting == force, or no meeting: still turn away anyone waiting in the lobby
        await self.live.end_meeting(room_id, reason)
        if close:
            room = await self.close(room_id)
            code = "room_with_active_meeting_closed" if meeting else "room_closed"
            return DeletionResult(code, f"{base} was closed instead of deleted: it has recordings", room)
        if recordings and with_recordings == "force":
            await self.delete_recordings(room_id)
        await self.store.delete_room(room_id)   # with_recordings == "keep": recordings outlive the room
        recordings = recordings and with_recordings == "force"
        log.info("room deleted", room_id=room_id, reason=reason, ended_meeting=meeting, recordings_deleted=recordings)
        if meeting:
            code = "room_with_active_meeting_and_recordings_deleted" if recordings else "room_with_active_meeting_deleted"
        else:
            code = "room_and_recordings_deleted" if recordings else "room_deleted"
        return DeletionResult(code, f"{base} deleted", None)

    async def complete_pending_deletion(self, room_id: str) -> DeletionResult | None:
        """Carry out a deletion scheduled with withMeeting=when_meeting_ends (call when the meeting ends).

        Returns None when the room is gone or nothing was scheduled.
        """
        room = await self.store.get_room(room_id)
        if room is None or not room.pending_deletion:
            return None
        pending = room.pending_deletion
        with_recordings = "close" if pending.get("action") == "close" else "force"
        try:
            return await self.delete(room_id, "force", with_recordings, reason=pending.get("reason", "room_deleted"))
        except NotFound:
            return None

    async def close(self, room_id: str) -> Room:
        def mark(r: Room) -> None:
            r.status = "closed"
            r.pending_deletion = None
        return await self.update(room_id, mark, "closed")

    async def bulk_delete(self, room_ids: list[str], with_meeting: str, with_recordings: str
                          ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        successful: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for room_id in room_ids:
            try:
                result = await self.delete(room_id, with_meeting, with_recordings)
            except ApiError as err:
                failed.append({"roomId": room_id, "error": err.code, "message": err.message})
                continue
            entry: dict[str, Any] = {"roomId": room_id, "successCode": result.success_code,
                                     "message": result.message}
            if result.room is not None:
                entry["room"] = self.render(result.room)
            successful.append(entry)
        return successful, failed
