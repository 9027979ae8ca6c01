"""The SFU's side of signaling: the hub's media callbacks and the media messages, over ``media.ports``.

``SfuBridge(media_service).install(hub)`` (``hub.install_media``) makes the
live rooms tell the SFU about admissions, departures, mutes and ended meetings
(``ports.MediaHooks``), and answers the client messages ``publish``,
``subscribe_answer`` and ``ice`` (see docs/protocol.md "Media (SFU)"). The SFU
talks back through listeners: ``subscribe_offer`` to one participant,
``active_speaker`` to the room (``hub.announce``); a failed ICE connection
drops the participant (``hub.drop``). docs/architecture.md "Seams for the cluster".

Only ``media.ports`` is imported (signaling -> media); the service object is
whatever the server passes in (a ``media.ports.MediaServicePort``). This module
sits above the live layer: the hub never imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

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

from .errors import Forbidden, SignalingError
from .live.participant import Participant
from .ports import MediaHooks

if TYPE_CHECKING:
    from .live.hub import Hub

log = structlog.get_logger("signaling.media")

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


def allowed_kinds(participant: Participant) -> frozenset[str]:
    return frozenset(kind for kind, perm in KIND_PERMISSION.items() if participant.can(perm))


class SfuBridge(MediaHooks):
    """``turn``: participant id -> its RTCIceServer entries with short-lived TURN credentials
    (the server's ``TurnCredentials``); ``ice_transport_policy``: "all" or "relay" for browsers."""

    def __init__(self, service: MediaServicePort, *,
                 turn: Callable[[str], list[dict[str, Any]]] | None = None,
                 ice_transport_policy: str = "all") -> None:
        self.service = service
        self.turn = turn
        self.policy = ice_transport_policy
        self.hub: "Hub | None" = None

    def install(self, hub: "Hub") -> "SfuBridge":
        self.hub = hub
        hub.install_media(self)
        return self

    def ice_servers(self, participant_id: str) -> list[dict[str, Any]]:
        servers = self.service.rtc_ice_servers()
        return servers + self.turn(participant_id) if self.turn is not None else servers

    def ice_transport_policy(self) -> str:
        return self.policy

    def busy(self) -> bool:
        busy = getattr(self.service, "busy", None)
        return bool(busy()) if busy is not None else False

    # --- MediaHooks (run in order on the hub's background queue) ---

    async def participant_admitted(self, room_id: str, participant_id: str, participant: Any) -> None:
        room = self.service.open_room(room_id, listener=lambda e: self._room_event(room_id, e))
        if room.has_participant(participant_id):  # type: ignore[attr-defined]
            return
        room.add_participant(participant_id, allowed_kinds(participant),
                             lambda e: self._participant_event(room_id, participant, e),
                             subscribe=participant.subscribes)

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

    def _participant_event(self, room_id: str, participant: Participant, event: MediaEvent) -> None:
        if isinstance(event, SubscribeOffer):
            tracks = {mid: {"participantId": i.participant_id, "source": i.source, "kind": i.kind,
                            "trackId": i.publication_id, "muted": i.muted}
                      for mid, i in event.tracks.items()}
            participant.send({"type": "subscribe_offer", "sdp": event.sdp, "tracks": tracks})
        elif isinstance(event, IceFailed) and self.hub is not None:
            log.info("ICE failed, removing participant", room_id=room_id, participant_id=event.participant_id,
                     connection=event.connection)
            self.hub.drop(room_id, event.participant_id, "disconnected")

    def _room_event(self, room_id: str, event: MediaEvent) -> None:
        if isinstance(event, ActiveSpeaker) and self.hub is not None:
            self.hub.announce(room_id, {"type": "active_speaker", "participantId": event.participant_id})

    # --- the media messages (ports.MediaHooks) ---

    async def _media_room(self, participant: Participant) -> Any:
        assert self.hub is not None
        room_id, pid = participant.room_id, participant.participant_id
        room = self.service.get_room(room_id)
        if room is None or not room.has_participant(pid):
            await self.hub.idle()  # the admission job may still be queued
            room = self.service.get_room(room_id)
        if room is None or not room.has_participant(pid):
            raise MediaRefused(BadDescription("media is not ready for this participant"))
        return room

    async def publish(self, participant: Any, sdp: str, sources: Mapping[str, Any]) -> str:
        room = await self._media_room(participant)
        pid = participant.participant_id
        labels = {str(k): str(v) for k, v in sources.items() if isinstance(v, str)}
        try:
            room.set_allowed(pid, allowed_kinds(participant))  # roles may have changed since admission
            answer = await room.publish(pid, sdp, labels)
        except MediaError as exc:
            raise _translate(exc) from None
        for kind, source in KIND_SOURCE.items():  # mutes set before publishing still hold
            if participant.muted.get(kind):
                room.set_muted(pid, source, True)
        return answer

    async def subscribe_answer(self, participant: Any, sdp: str) -> None:
        room = await self._media_room(participant)
        try:
            await room.subscribe_answer(participant.participant_id, sdp)
        except MediaError as exc:
            raise _translate(exc) from None

    async def ice(self, participant: Any, pc: str, candidate: Mapping[str, Any] | None) -> None:
        room = await self._media_room(participant)
        try:
            await room.add_ice_candidate(participant.participant_id, pc, candidate or {})
        except MediaError as exc:
            raise _translate(exc) from None
