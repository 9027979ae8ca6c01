"""Wires the signaling hub into the server: the /ws route, the RoomDirectory adapter on
the Store/keys/Settings, and the LiveMeetings port (app[LIVE]) backed by the hub.

Member keys are ``<memberId>.<derive_key(secret, room_id, "member:<memberId>", member.key_version)>``;
they are carried in a member's access URL as ``?memberKey=`` and sent as ``join.key``.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from signaling.errors import Forbidden
from signaling.hub import Hub
from signaling.ports import Identity, RoomInfo
from signaling.session import Limits
from signaling.ws import make_handler

from ..http.appkeys import CREDENTIALS, SETTINGS, STORE
from ..config import Settings
from ..domain.access.keys import derive_key, key_matches
from ..domain.live_meetings import LIVE
from ..store.records import Meeting, Member, Room

log = structlog.get_logger("antechamber.signaling")

HUB = web.AppKey("signaling_hub", Hub)


def member_role(member_id: str) -> str:
    return f"member:{member_id}"


def member_key(secret: bytes, member: Member) -> str:
    return f"{member.member_id}.{derive_key(secret, member.room_id, member_role(member.member_id), member.key_version)}"


def max_participants(settings: Settings, room: Room) -> int:
    configured = (room.config or {}).get("maxParticipants")
    if isinstance(configured, int) and not isinstance(configured, bool) and configured > 0:
        return configured
    return settings.group_max_participants if room.room_mode == "group" else settings.normal_max_participants


def room_info(settings: Settings, room: Room) -> RoomInfo:
    from ..domain.rooms.service import DEFAULT_CONFIG, deep_merge

    return RoomInfo(
        room_id=room.room_id, display_name=room.room_name, status=room.status, is_locked=room.is_locked,
        mode=room.room_mode, max_participants=max_participants(settings, room), max_viewers=settings.max_viewers,
        config=deep_merge(DEFAULT_CONFIG, room.config or {}), roles=room.roles or {}, source=room,
        version=room.version,
    )


def _anonymous_enabled(room: Room, role: str) -> bool:
    anonymous = (room.access or {}).get("anonymous") or {}
    return bool((anonymous.get(role) or {}).get("enabled", True))


class StoreDirectory:
    """signaling.ports.RoomDirectory on top of the app's Store, keys and Settings."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    @property
    def store(self) -> Any:
        return self.app[STORE]

    async def resolve(self, room_name: str) -> RoomInfo | None:
        room = await self.store.get_room(room_name)
        if room is None:
            return None
        return room_info(self.app[SETTINGS], room)

    async def identify(self, info: RoomInfo, key: str | None) -> Identity | None:
        room = info.source if isinstance(info.source, Room) else await self.store.get_room(info.room_id)
        if room is None:
            return None
        secret = self.app[CREDENTIALS].server_secret
        if not key:
            if not _anonymous_enabled(room, "speaker"):
                raise Forbidden("this room cannot be joined with its public link")
            return Identity(role="guest", base_role="speaker")
        if key_matches(secret, room.room_id, "host", room.key_version, key):
            if not _anonymous_enabled(room, "moderator"):
                raise Forbidden("this room's host link is disabled")
            return Identity(role="host", base_role="moderator")
        if key_matches(secret, room.room_id, "viewer", room.key_version, key):
            return Identity(role="viewer", base_role="viewer")
        member_id, dot, _ = key.partition(".")
        if dot and member_id and len(member_id) <= 100:
            member = await self.store.get_member(room.room_id, member_id)
            if member is not None and key_matches(secret, room.room_id, member_role(member_id),
                                                  member.key_version, key.partition(".")[2]):
                role = "host" if member.base_role == "moderator" else "guest"
                return Identity(role=role, base_role=member.base_role, member_id=member.member_id,
                                custom_permissions=dict(member.custom_permissions or {}))
        return None

    def _rooms(self):
        from ..domain.rooms.service import RoomService

        return RoomService(self.app)

    async def set_locked(self, room_id: str, locked: bool) -> RoomInfo | None:
        """Lock or unlock through the room service (compare-and-set). Returns the room as stored by
        THIS write (its version included): the hub applies it to the live room itself, so the
        service does not tell the live room too; a REST write landing after it has a newer version
        and reaches the live room after it."""
        def lock(r: Room) -> None:
            r.is_locked = locked
        updated = await self._rooms().change(room_id, lock, "lock", tell_live=False)
        return room_info(self.app[SETTINGS], updated.room) if updated is not None else None

    async def meeting_started(self, room_id: str, room_session_id: str, start_ms: int) -> None:
        await self.store.create_meeting(Meeting(room_session_id=room_session_id, room_id=room_id,
                                                start_date=start_ms, peak_participants=1))

        def start(r: Room) -> None:
            if r.status == "open":
                r.status = "active_meeting"
        await self._rooms().change(room_id, start, "status")

    async def meeting_ended(self, room_id: str, room_session_id: str, start_ms: int, end_ms: int,
                            peak: int, reason: str) -> None:
        await self.store.update_meeting(Meeting(room_session_id=room_session_id, room_id=room_id,
                                                start_date=start_ms, end_date=end_ms, peak_participants=peak,
                                                end_reason=reason))
        hub = self.app[HUB]
        if hub.has_meeting(room_id):    # a new meeting started meanwhile
            return

        def end(r: Room) -> None:       # checked again on every (re)try: a meeting may start meanwhile
            if r.status == "active_meeting" and not hub.has_meeting(room_id):
                r.status = "open"
        updated = await self._rooms().change(room_id, end, "status")
        if updated is not None and updated.room.pending_deletion and not hub.has_meeting(room_id):
            await self._finish_pending_deletion(updated.room)

    async def _finish_pending_deletion(self, room: Room) -> None:
        from ..domain.rooms.service import RoomService

        result = await RoomService(self.app).complete_pending_deletion(room.room_id)
        if result is not None:
            log.info("scheduled room deletion done", room_id=room.room_id, outcome=result.success_code)


class HubLiveMeetings:
    """server.live.LiveMeetings backed by the signaling hub."""

    def __init__(self, app: web.Application, hub: Hub) -> None:
        self.app, self.hub = app, hub

    def has_meeting(self, room_id: str) -> bool:
        return self.hub.has_meeting(room_id)

    async def end_meeting(self, room_id: str, reason: str) -> None:
        await self.hub.end_meeting(room_id, reason)

    async def room_updated(self, room: Room) -> None:
        await self.hub.room_updated(room_info(self.app[SETTINGS], room))

    async def member_removed(self, room_id: str, member_id: str) -> None:
        await self.hub.member_removed(room_id, member_id)

    async def member_updated(self, room_id: str, member_id: str, base_role: str,
                             custom_permissions: dict[str, bool]) -> None:
        await self.hub.member_updated(room_id, member_id, base_role, custom_permissions)


async def _hub_ctx(app: web.Application):
    hub = app[HUB]
    await hub.start()
    yield
    await hub.close()


async def _on_shutdown(app: web.Application) -> None:
    await app[HUB].shutdown("server_shutdown")


def setup(app: web.Application) -> None:
    """Create the hub, set app[HUB] and app[LIVE], add /ws. Call after the store's cleanup_ctx
    and before any catch-all route."""
    settings = app[SETTINGS]
    hub = Hub(StoreDirectory(app), knock_cooldown_seconds=settings.knock_cooldown_seconds,
              knocks_per_ip_per_minute=settings.knocks_per_ip_per_minute,
              reconnect_grace_seconds=settings.reconnect_grace_seconds)
    app[HUB] = hub
    app[LIVE] = HubLiveMeetings(app, hub)
    limits = Limits(max_message_bytes=settings.ws_max_message_bytes,
                    heartbeat_seconds=settings.ws_heartbeat_seconds,
                    idle_timeout_seconds=settings.ws_idle_timeout_seconds)
    app.router.add_get("/ws", make_handler(lambda request: request.app[HUB], limits))
    app.cleanup_ctx.append(_hub_ctx)
    app.on_shutdown.append(_on_shutdown)
    setup_media(app, hub)


# --- the SFU (media/) behind the hub ------------------------------------------------------------

MEDIA = web.AppKey("media_service", object)  # a media.ports.MediaServicePort


def setup_media(app: web.Application, hub: Hub) -> None:
    """The SFU: app[MEDIA], hub callbacks + publish/subscribe_answer/ice messages, and the
    recording service's access to live media (app[RECORDING_MEDIA])."""
    from media.ports import MediaConfig
    from media.sfu import MediaService
    from signaling.media_bridge import SfuBridge

    from ..domain.recordings.service import RECORDING_MEDIA, SfuRecordingMedia

    from ..config import ConfigError

    settings = app[SETTINGS]
    try:
        service = MediaService(MediaConfig(ice_servers=tuple(settings.ice_servers), public_ip=settings.public_ip))
    except ValueError as exc:
        raise ConfigError(f"ice_servers: {exc}") from None
    app[MEDIA] = service
    SfuBridge(service).install(hub)

    def names(room_id: str, participant_id: str) -> str:
        room = hub.rooms.get(room_id)
        session = room.find(participant_id) if room is not None else None
        return session.display_name if session is not None else participant_id

    async def announce(room_id: str, recording: dict[str, Any]) -> None:
        room = hub.rooms.get(room_id)
        if room is not None:
            room.broadcast({"type": "recording", "recording": recording})

    app[RECORDING_MEDIA] = SfuRecordingMedia(service, names=names, announce=announce)

    async def media_ctx(app: web.Application):
        yield
        await app[MEDIA].close()  # type: ignore[attr-defined]

    app.cleanup_ctx.append(media_ctx)
