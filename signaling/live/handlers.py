"""The built-in client message handlers, by type with the state and permission each needs.

The hub checks state and permission before calling a handler, and replies
``ok`` (with the handler's extra fields) when the request carried an id. The
``@handler`` decorator records into ``BUILTINS``, a read-only table filled once
at import; every hub starts from a copy of it (``builtin_messages()``, in
``hub.messages``). Other modules add messages on a hub with
``hub.messages.register`` (recording: start_recording, stop_recording).
Handlers are thin: the flows are the room's (``room.py``) and the SFU's behind
``ports.MediaHooks``; a handler sees the hub only as ``Node`` below
(docs/architecture.md "Paths: a knock, an RTP packet").
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, Mapping, Protocol

from ..errors import InvalidTarget, ParticipantNotFound
from ..ports import MediaHooks, RoomDirectory
from ..rules.admission import MODERATION
from ..rules.waiting_room import REJECTED
from ..wire import protocol
from ..wire.sdp_limits import check_publish_offer
from ..wire.protocol import Request
from ..wire.registry import ANY, CONNECTED, JOINED, KNOCKING, Handler, HandlerFn, MessageRegistry
from .participant import Participant
from .room import LiveRoom


class Node(Protocol):
    """What the built-in handlers use of the hub (``live/hub.py``)."""

    directory: RoomDirectory
    media: MediaHooks

    def room(self, room_id: str) -> LiveRoom | None: ...

    async def join(self, participant: Participant, req: Request) -> None: ...

    def disconnected(self, participant: Participant, reason: str = "disconnected") -> None: ...


_builtins: dict[str, Handler] | None = {}   # filled by @handler while this module is imported, then closed


def handler(msg_type: str, *, state: str = JOINED, permission: str | None = None,
            reply: bool = True) -> Callable[[HandlerFn], HandlerFn]:
    """A built-in message (its fields' spec is in ``protocol.SPECS``)."""
    def deco(fn: HandlerFn) -> HandlerFn:
        if _builtins is None:
            raise RuntimeError("the built-in messages are fixed at import; use hub.messages.register")
        _builtins[msg_type] = Handler(fn, state, permission, reply)
        return fn
    return deco


def _room(p: Participant) -> LiveRoom:
    assert isinstance(p.room, LiveRoom)
    return p.room


def _target(p: Participant, participant_id: str, allow_self: bool = False) -> Participant:
    target = _room(p).find(participant_id)
    if target is None:
        raise ParticipantNotFound()
    if target is p and not allow_self:
        raise InvalidTarget("you cannot do this to yourself")
    return target


def _with_id(message: dict[str, Any], req: Request) -> dict[str, Any]:
    if req.id is not None:
        message["id"] = req.id
    return message


# --- joining and leaving -----------------------------------------------------------------------

@handler("join", state=CONNECTED, reply=False)
async def on_join(hub: Node, p: Participant, req: Request) -> None:
    await hub.join(p, req)


@handler("leave", state=ANY, reply=False)
async def on_leave(hub: Node, p: Participant, req: Request) -> None:
    hub.disconnected(p, "left")
    p.close(_with_id({"type": "ended", "reason": "left"}, req))


@handler("ping", state=ANY, reply=False)
async def on_ping(hub: Node, p: Participant, req: Request) -> None:
    p.send(_with_id({"type": "pong"}, req))


@handler("cancel_knock", state=KNOCKING, reply=False)
async def on_cancel_knock(hub: Node, p: Participant, req: Request) -> None:
    _room(p).cancel_knock(p)     # the guest gets knock_status cancelled, then the ok
    if req.id is not None:
        p.send({"type": "ok", "id": req.id})


# --- the waiting room --------------------------------------------------------------------------

@handler("admit", permission=MODERATION)
async def on_admit(hub: Node, p: Participant, req: Request) -> None:
    _room(p).admit(req["knockId"], by=p)


@handler("admit_all", permission=MODERATION)
async def on_admit_all(hub: Node, p: Participant, req: Request) -> dict[str, Any]:
    room = _room(p)
    admitted = room.admit_all(by=p)
    return {"admitted": admitted, "waiting": len(room.waiting)}


@handler("reject", permission=MODERATION)
async def on_reject(hub: Node, p: Participant, req: Request) -> None:
    room = _room(p)
    room.decide(room.waiting.get(req["knockId"]), REJECTED, by=p, reason=req.get("reason"))


@handler("hold", permission=MODERATION)
async def on_hold(hub: Node, p: Participant, req: Request) -> None:
    _room(p).hold(req["knockId"], req["message"], by=p)


@handler("send_to_waiting_room", permission=MODERATION)
async def on_send_to_waiting_room(hub: Node, p: Participant, req: Request) -> None:
    target = _target(p, req["participantId"])
    _room(p).send_back(target, req.get("message") or "The host moved you to the waiting room.")


# --- host powers -------------------------------------------------------------------------------

@handler("lock", permission=MODERATION)
async def on_lock(hub: Node, p: Participant, req: Request) -> None:
    room = _room(p)
    info = await hub.directory.set_locked(room.room_id, req["locked"])
    if info is None or p.room is not room or hub.room(room.room_id) is not room:
        return
    room.apply_info(info, by=p)


@handler("kick", permission=MODERATION)
async def on_kick(hub: Node, p: Participant, req: Request) -> None:
    target = _target(p, req["participantId"])
    _room(p).kick(target, "kicked", req.get("reason"))


@handler("mute", permission=MODERATION)
async def on_mute(hub: Node, p: Participant, req: Request) -> None:
    target = _target(p, req["participantId"], allow_self=True)
    _room(p).set_muted(target, req["kind"], True)


@handler("set_muted")
async def on_set_muted(hub: Node, p: Participant, req: Request) -> None:
    _room(p).set_muted(p, req["kind"], req["muted"])


@handler("set_display_name")
async def on_set_display_name(hub: Node, p: Participant, req: Request) -> None:
    _room(p).rename(p, req["displayName"])


@handler("end_meeting", permission="canEndMeeting", reply=False)
async def on_end_meeting(hub: Node, p: Participant, req: Request) -> None:
    if req.id is not None:
        p.send({"type": "ok", "id": req.id})
    _room(p).end("meeting_ended")


@handler("extend", permission="canEndMeeting")
async def on_extend(hub: Node, p: Participant, req: Request) -> dict[str, Any]:
    """Move the meeting's deadline ``minutes`` later (live/meeting_clock.py); everyone is told."""
    return {"endsAt": _room(p).extend(req["minutes"], p.participant_id)}


@handler("promote", permission="canMakeModerator")
async def on_promote(hub: Node, p: Participant, req: Request) -> None:
    target = _target(p, req["participantId"])
    if target.role == "host":
        raise InvalidTarget("that participant is already a host")
    _room(p).change_role(target, "host")


@handler("demote", permission="canMakeModerator")
async def on_demote(hub: Node, p: Participant, req: Request) -> None:
    target = _target(p, req["participantId"])
    if target.role != "host":
        raise InvalidTarget("only a host can be demoted")
    _room(p).change_role(target, "guest")


# --- chat --------------------------------------------------------------------------------------

@handler("chat", permission="canWriteChat")
async def on_chat(hub: Node, p: Participant, req: Request) -> None:
    _room(p).chat(p, req["text"])


# --- media (the SFU behind ports.MediaHooks; signaling/media_bridge.py) -------------------------

@handler("publish", reply=False)
async def on_publish(hub: Node, p: Participant, req: Request) -> None:
    check_publish_offer(req["sdp"])      # <= 16 media sections, <= 3 sending (docs/protocol.md "Limits")
    answer = await hub.media.publish(p, req["sdp"], req.get("sources") or {})
    p.send(_with_id({"type": "publish_answer", "sdp": answer}, req))


@handler("subscribe_answer")
async def on_subscribe_answer(hub: Node, p: Participant, req: Request) -> None:
    await hub.media.subscribe_answer(p, req["sdp"])


@handler("ice")
async def on_ice(hub: Node, p: Participant, req: Request) -> None:
    await hub.media.ice(p, req["pc"], req.get("candidate"))


assert _builtins is not None
BUILTINS: Mapping[str, Handler] = MappingProxyType(dict(_builtins))
_builtins = None


def builtin_messages() -> MessageRegistry:
    """A new registry for one hub: the built-in messages, the SFU's (publish, subscribe_answer, ice)
    included, so the message set does not depend on start-up order; without an SFU they are answered
    with an error (``ports.MediaHooks``)."""
    return MessageRegistry(BUILTINS, protocol.SPECS)
