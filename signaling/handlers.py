"""The built-in client message handlers, by type with the state and permission each needs.

The hub checks state and permission before calling a handler, and replies
``ok`` (with the handler's extra fields) when the request carried an id. The
``@handler`` decorator records into ``BUILTINS``, a read-only table filled once
at import; every hub starts from a copy of it (``builtin_messages()``, in
``hub.messages``). Other modules add messages on a hub with
``hub.messages.register`` (e.g. the SFU: publish, subscribe_answer, ice;
recording: start_recording, stop_recording), without touching the session or
the hub.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Mapping

from . import media_bridge, protocol, room_control
from .admission import MODERATION
from .errors import ChatDisabled, InvalidTarget, ParticipantNotFound
from .protocol import Request
from .registry import Handler, HandlerFn, MessageRegistry
from .session import CONNECTED, JOINED, KNOCKING, Session

if TYPE_CHECKING:
    from .hub import Hub
    from .room import LiveRoom

ANY = "any"

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


def _room(session: Session) -> "LiveRoom":
    assert session.room is not None
    return session.room


def _target(session: Session, participant_id: str, allow_self: bool = False) -> Session:
    target = _room(session).find(participant_id)
    if target is None:
        raise ParticipantNotFound()
    if target is session and not allow_self:
        raise InvalidTarget("you cannot do this to yourself")
    return target


# --- joining and leaving -----------------------------------------------------------------------

@handler("join", state=CONNECTED, reply=False)
async def on_join(hub: "Hub", s: Session, req: Request) -> None:
    await hub.join(s, req)


@handler("leave", state=ANY, reply=False)
async def on_leave(hub: "Hub", s: Session, req: Request) -> None:
    hub.disconnected(s, "left")
    msg: dict[str, Any] = {"type": "ended", "reason": "left"}
    if req.id is not None:
        msg["id"] = req.id
    s.close(msg)


@handler("ping", state=ANY, reply=False)
async def on_ping(hub: "Hub", s: Session, req: Request) -> None:
    s.send({"type": "pong", "id": req.id} if req.id is not None else {"type": "pong"})


@handler("cancel_knock", state=KNOCKING, reply=False)
async def on_cancel_knock(hub: "Hub", s: Session, req: Request) -> None:
    from .waiting_room import CANCELLED

    knock, room = s.knock, _room(s)
    assert knock is not None
    # the guest gets knock_status cancelled; echo the id on it
    hub.decide(room, knock, CANCELLED, by=None)
    if req.id is not None:
        s.send({"type": "ok", "id": req.id})


# --- the waiting room --------------------------------------------------------------------------

@handler("admit", permission=MODERATION)
async def on_admit(hub: "Hub", s: Session, req: Request) -> None:
    hub.admit(_room(s), req["knockId"], by=s)


@handler("admit_all", permission=MODERATION)
async def on_admit_all(hub: "Hub", s: Session, req: Request) -> dict[str, Any]:
    room = _room(s)
    admitted = hub.admit_all(room, by=s)
    return {"admitted": admitted, "waiting": len(room.waiting)}


@handler("reject", permission=MODERATION)
async def on_reject(hub: "Hub", s: Session, req: Request) -> None:
    from .waiting_room import REJECTED

    room = _room(s)
    hub.decide(room, room.waiting.get(req["knockId"]), REJECTED, by=s, reason=req.get("reason"))


@handler("hold", permission=MODERATION)
async def on_hold(hub: "Hub", s: Session, req: Request) -> None:
    hub.hold(_room(s), req["knockId"], req["message"], by=s)


@handler("send_to_waiting_room", permission=MODERATION)
async def on_send_to_waiting_room(hub: "Hub", s: Session, req: Request) -> None:
    room = _room(s)
    target = _target(s, req["participantId"])
    message = req.get("message") or "The host moved you to the waiting room."
    hub.remove(room, target, "sent_to_waiting_room")
    if target.state == JOINED:   # not for a connection that is gone (reconnecting): a resume knocks
        hub.add_knock(room, target, held_message=message)


# --- host powers -------------------------------------------------------------------------------

@handler("lock", permission=MODERATION)
async def on_lock(hub: "Hub", s: Session, req: Request) -> None:
    room = _room(s)
    info = await hub.directory.set_locked(room.room_id, req["locked"])
    if info is None or s.room is not room or hub.rooms.get(room.room_id) is not room:
        return
    room_control.apply_room_info(hub, room, info, by=s)


@handler("kick", permission=MODERATION)
async def on_kick(hub: "Hub", s: Session, req: Request) -> None:
    target = _target(s, req["participantId"])
    hub.kick(_room(s), target, "kicked", req.get("reason"))


@handler("mute", permission=MODERATION)
async def on_mute(hub: "Hub", s: Session, req: Request) -> None:
    target = _target(s, req["participantId"], allow_self=True)
    _set_muted(hub, target, req["kind"], True)


@handler("set_muted")
async def on_set_muted(hub: "Hub", s: Session, req: Request) -> None:
    _set_muted(hub, s, req["kind"], req["muted"])


def _set_muted(hub: "Hub", target: Session, kind: str, muted: bool) -> None:
    room = _room(target)
    if target.muted.get(kind) == muted:
        return
    target.muted[kind] = muted
    room.broadcast({"type": "participant_updated", "participant": target.public()})
    media = hub.media
    hub.later(lambda: media.participant_muted(room.room_id, target.sid, kind, muted), "media muted")


@handler("set_display_name")
async def on_set_display_name(hub: "Hub", s: Session, req: Request) -> None:
    s.display_name = req["displayName"]
    _room(s).broadcast({"type": "participant_updated", "participant": s.public()})


@handler("end_meeting", permission="canEndMeeting", reply=False)
async def on_end_meeting(hub: "Hub", s: Session, req: Request) -> None:
    if req.id is not None:
        s.send({"type": "ok", "id": req.id})
    hub.end_room(_room(s), "meeting_ended")


@handler("promote", permission="canMakeModerator")
async def on_promote(hub: "Hub", s: Session, req: Request) -> None:
    target = _target(s, req["participantId"])
    if target.role == "host":
        raise InvalidTarget("that participant is already a host")
    room_control.change_role(hub, _room(s), target, "host")


@handler("demote", permission="canMakeModerator")
async def on_demote(hub: "Hub", s: Session, req: Request) -> None:
    target = _target(s, req["participantId"])
    if target.role != "host":
        raise InvalidTarget("only a host can be demoted")
    room_control.change_role(hub, _room(s), target, "guest")


# --- chat --------------------------------------------------------------------------------------

@handler("chat", permission="canWriteChat")
async def on_chat(hub: "Hub", s: Session, req: Request) -> None:
    room = _room(s)
    if not room.info.chat_enabled:
        raise ChatDisabled()
    msg = {"type": "chat", "from": {"participantId": s.sid, "displayName": s.display_name},
           "text": req["text"], "sentAt": hub.now_ms()}
    room.broadcast(msg, when=lambda p: p.can("canReadChat"))


assert _builtins is not None
BUILTINS: Mapping[str, Handler] = MappingProxyType(dict(_builtins))
_builtins = None


def builtin_messages() -> MessageRegistry:
    """A new registry for one hub: the built-in messages and the media ones (publish,
    subscribe_answer, ice; always there, so the message set does not depend on start-up order;
    answered with an error when the server runs without an SFU; see media_bridge.py)."""
    messages = MessageRegistry(BUILTINS, protocol.SPECS)
    media_bridge.register_handlers(messages)
    return messages
