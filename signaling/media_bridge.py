"""The SFU's side of signaling: media messages and the hub's media callbacks.

`SfuBridge(media_service).install(hub)` makes the hub tell the SFU about
admissions, departures, mutes and ended meetings (`MediaHooks`) and adds the
client messages `publish`, `subscribe_answer` and `ice` (see docs/protocol.md).
The SFU talks back through listeners: `subscribe_offer` to one participant,
`active_speaker` to the room; a failed ICE connection drops the participant.

Only `media.ports` is imported (signaling -> media); the service object is
whatever the server passes in (a `media.ports.MediaServicePort`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import structlog

from media.ports import (
    ActiveSpeaker,
    BadDescription,
    IceFailed,
    MediaError,
    MediaEvent,
    MediaServicePort,
    NotAllowed,
    SubscribeOffer,
)

from . import protocol
from .errors import Forbidden, SignalingError
from .ports import MediaHooks
from .session import Session

if TYPE_CHECKING:
    from .hub import Hub
    from .registry import MessageRegistry

log = structlog.get_logger("signaling.media")

MAX_SDP_CHARS = 60_000
# mute kinds (protocol) -> media sources, and the permission that allows publishing each
KIND_SOURCE = {"audio": "microphone", "video": "camera", "screen": "screen"}
KIND_PERMISSION = {"audio": "canPublishAudio", "video": "canPublishVideo", "screen": "canShareScreen"}


class MediaRefused(SignalingError):
    """A media request the SFU refused; carries the SFU's stable code."""

    def __init__(self, exc: MediaError) -> None:
        super().__init__(exc.message)
        self.code = exc.code


def _translate(exc: MediaError) -> SignalingError:
    if isinstance(exc, NotAllowed):
        return Forbidden(exc.message)
    return MediaRefused(exc)


def allowed_kinds(session: Session) -> frozenset[str]:
    return frozenset(kind for kind, perm in KIND_PERMISSION.items() if session.can(perm))


class SfuBridge(MediaHooks):
    def __init__(self, service: MediaServicePort) -> None:
        self.service = service
        self.hub: "Hub | None" = None

    def install(self, hub: "Hub") -> "SfuBridge":
        self.hub = hub
        hub.install_media(self)
        return self

    def ice_servers(self) -> list[dict[str, Any]]:
        return self.service.rtc_ice_servers()

    # --- MediaHooks (run in order on the hub's background queue) ---

    async def participant_admitted(self, room_id: str, participant_id: str, session: Any) -> None:
        room = self.service.open_room(room_id, listener=lambda e: self._room_event(room_id, e))
        if room.has_participant(participant_id):  # type: ignore[attr-defined]
            return
        room.add_participant(participant_id, allowed_kinds(session),
                             lambda e: self._participant_event(room_id, session, e))
        session.ext["media_room"] = room_id

    async def participant_left(self, room_id: str, participant_id: str, reason: str) -> None:
        room = self.service.get_room(room_id)
        if room is not None:
            await room.remove_participant(participant_id, reason)

    async def participant_muted(self, room_id: str, participant_id: str, kind: str, muted: bool) -> None:
        room = self.service.get_room(room_id)
        source = KIND_SOURCE.get(kind)
        if room is not None and source is not None:
            try:
                room.set_muted(participant_id, source, muted)
            except MediaError:
                pass  # not (or no longer) in the media room

    async def meeting_ended(self, room_id: str, reason: str) -> None:
        room = self.service.get_room(room_id)
        if room is not None:
            await room.close(reason)

    # --- events from the SFU ---

    def _participant_event(self, room_id: str, session: Session, event: MediaEvent) -> None:
        if isinstance(event, SubscribeOffer):
            tracks = {mid: {"participantId": i.participant_id, "source": i.source, "kind": i.kind,
                            "trackId": i.publication_id, "muted": i.muted}
                      for mid, i in event.tracks.items()}
            session.send({"type": "subscribe_offer", "sdp": event.sdp, "tracks": tracks})
        elif isinstance(event, IceFailed) and self.hub is not None:
            log.info("ICE failed, removing participant", room_id=room_id, participant_id=event.participant_id,
                     connection=event.connection)
            self.hub.drop(room_id, event.participant_id, "disconnected")

    def _room_event(self, room_id: str, event: MediaEvent) -> None:
        if isinstance(event, ActiveSpeaker) and self.hub is not None:
            room = self.hub.rooms.get(room_id)
            if room is not None:
                room.broadcast({"type": "active_speaker", "participantId": event.participant_id})

    # --- client messages ---

    async def _media_room(self, session: Session) -> Any:
        assert self.hub is not None and session.room is not None
        room_id = session.room.room_id
        room = self.service.get_room(room_id)
        if room is None or not room.has_participant(session.sid):
            await self.hub.idle()  # the admission job may still be queued
            room = self.service.get_room(room_id)
        if room is None or not room.has_participant(session.sid):
            raise MediaRefused(BadDescription("media is not ready for this participant"))
        return room

    async def publish(self, session: Session, sdp: str, sources: Mapping[str, Any]) -> str:
        room = await self._media_room(session)
        labels = {str(k): str(v) for k, v in sources.items() if isinstance(v, str)}
        try:
            room.set_allowed(session.sid, allowed_kinds(session))  # roles may have changed since admission
            answer = await room.publish(session.sid, sdp, labels)
        except MediaError as exc:
            raise _translate(exc) from None
        for kind, source in KIND_SOURCE.items():  # mutes set before publishing still hold
            if session.muted.get(kind):
                room.set_muted(session.sid, source, True)
        return answer

    async def subscribe_answer(self, session: Session, sdp: str) -> None:
        room = await self._media_room(session)
        try:
            await room.subscribe_answer(session.sid, sdp)
        except MediaError as exc:
            raise _translate(exc) from None

    async def ice(self, session: Session, pc: str, candidate: Mapping[str, Any] | None) -> None:
        room = await self._media_room(session)
        try:
            await room.add_ice_candidate(session.sid, pc, candidate or {})
        except MediaError as exc:
            raise _translate(exc) from None


def _bridge(hub: "Hub") -> SfuBridge:
    media = hub.media
    if not isinstance(media, SfuBridge):
        raise MediaRefused(BadDescription("this server has no media"))
    return media


async def on_publish(hub: "Hub", s: Session, req: protocol.Request) -> None:
    answer = await _bridge(hub).publish(s, req["sdp"], req.get("sources") or {})
    msg: dict[str, Any] = {"type": "publish_answer", "sdp": answer}
    if req.id is not None:
        msg["id"] = req.id
    s.send(msg)


async def on_subscribe_answer(hub: "Hub", s: Session, req: protocol.Request) -> None:
    await _bridge(hub).subscribe_answer(s, req["sdp"])


async def on_ice(hub: "Hub", s: Session, req: protocol.Request) -> None:
    await _bridge(hub).ice(s, req["pc"], req.get("candidate"))


def register_handlers(messages: "MessageRegistry") -> None:
    """Add publish, subscribe_answer and ice to a hub's registry (``hub.messages``)."""
    F = protocol.Field
    messages.register("publish", on_publish, reply=False, fields={
        "sdp": F(str, min_len=1, max_len=MAX_SDP_CHARS, text=protocol.LINES),   # SDP keeps \r\n
        "sources": F(dict, required=False, max_len=16),
    })
    messages.register("subscribe_answer", on_subscribe_answer, fields={
        "sdp": F(str, min_len=1, max_len=MAX_SDP_CHARS, text=protocol.LINES),   # SDP keeps \r\n
    })
    messages.register("ice", on_ice, fields={
        "pc": F(str, choices=("publish", "subscribe")),
        "candidate": F(dict, required=False, max_len=8, text=protocol.LINES),
    })
