"""Typed signaling errors, translated at the edge into ``{type: "error", code, message, id?}``.

Codes are stable and listed in docs/protocol.md. Messages never carry secrets.
"""

from __future__ import annotations

from typing import Any


class SignalingError(Exception):
    code = "error"
    default_message = "request failed"

    def __init__(self, message: str | None = None, **extra: Any):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.extra = extra

    def to_message(self, request_id: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "error", "code": self.code, "message": self.message}
        out.update(self.extra)
        if request_id is not None:
            out["id"] = request_id
        return out


def _kind(name: str, code: str, message: str) -> type[SignalingError]:
    return type(name, (SignalingError,), {"code": code, "default_message": message})


BadMessage = _kind("BadMessage", "bad_message", "the frame is not a valid message object")
MessageTooLarge = _kind("MessageTooLarge", "message_too_large", "the message is too large")
UnknownType = _kind("UnknownType", "unknown_type", "unknown message type")
InvalidField = _kind("InvalidField", "invalid_field", "a field is missing or invalid")
NotJoined = _kind("NotJoined", "not_joined", "join the meeting first")
AlreadyJoined = _kind("AlreadyJoined", "already_joined", "this connection has already joined or is knocking")
Forbidden = _kind("Forbidden", "forbidden", "your role does not allow this")
InvalidKey = _kind("InvalidKey", "invalid_key", "the key does not match this room")
RoomNotFound = _kind("RoomNotFound", "room_not_found", "no such room")
RoomClosed = _kind("RoomClosed", "room_closed", "the room is closed")
RoomFull = _kind("RoomFull", "room_full", "the room is full")
RejectedRecently = _kind("RejectedRecently", "rejected_recently", "you were turned away; try again later")
RateLimited = _kind("RateLimited", "rate_limited", "too many knocks; try again later")
KnockPending = _kind("KnockPending", "knock_pending", "a knock from your address is already waiting in this room")
TooManyTracks = _kind("TooManyTracks", "too_many_tracks", "too many published tracks")
TooManyMediaSections = _kind("TooManyMediaSections", "too_many_media_sections", "the SDP has too many media sections")
TooManyConnections = _kind("TooManyConnections", "too_many_connections",
                           "too many connections from your address that have not joined")
JoinTimeout = _kind("JoinTimeout", "join_timeout", "no join in time: connection closed")
NoPendingKnock = _kind("NoPendingKnock", "no_pending_knock", "there is no pending knock to cancel")
KnockNotFound = _kind("KnockNotFound", "knock_not_found", "no such pending knock")
ParticipantNotFound = _kind("ParticipantNotFound", "participant_not_found", "no such participant in this meeting")
InvalidTarget = _kind("InvalidTarget", "invalid_target", "that participant cannot be the target of this action")
ChatDisabled = _kind("ChatDisabled", "chat_disabled", "chat is disabled in this room")
NoMedia = _kind("NoMedia", "bad_description", "this server has no media")
ServerBusy = _kind("ServerBusy", "server_busy", "this server is at capacity: try again in a moment")
Unavailable = _kind("Unavailable", "unavailable", "the service is unavailable right now; try again shortly")
InternalError = _kind("InternalError", "internal_error", "internal error")
