"""Domain events as webhook bodies, in Whereby's and OpenVidu Meet's formats (docs/webhooks.md).

Checked against the products' own public sources:

- whereby: whereby/docs ``meeting-content-and-quality/insights-suite-and-api/webhooks.md``: the envelope
  ``{id, apiVersion, createdAt, type, data}``, the event types and their ``data`` (meetingId, roomName,
  subdomain; displayName, roomSessionId, participantId, metadata, externalId for client events;
  roleName, numClients, numClientsByRoleName, isDialIn for joined/left; filename, recordingId,
  roomName, status ``completed`` for recording.finished).
- openvidu: OpenVidu/openvidu-meet ``meet-ce/typings/src/webhook.ts`` (``MeetWebhookEvent``
  ``{creationDate, event, data}``, ``MeetWebhookEventType``) and ``meet-ce/backend/openapi/webhooks/``
  (data: the MeetRoom for meetings, the MeetRecordingInfo for recordings).

Antechamber adds ``sequence`` (the delivery's number in its endpoint's sequence for the room) at the top
level of both, when sent. Events of Antechamber's own, which Whereby has no name for, go in the whereby
envelope under ``antechamber.*`` types (extensions, sent only to endpoints that ask for them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from ...store.records import Recording, Room

WHEREBY_EVENTS = ("room.client.joined", "room.client.left", "room.client.knocked", "room.client.knockCancelled",
                  "room.session.started", "room.session.ended", "recording.finished")
WHEREBY_EXTENSIONS = ("antechamber.session.endingSoon", "antechamber.session.extended",
                      "antechamber.client.admissionAbandoned", "antechamber.recording.compositionReady",
                      "antechamber.recording.compositionFailed")
OPENVIDU_EVENTS = ("meetingStarted", "meetingEnded", "recordingStarted", "recordingUpdated", "recordingEnded")
FORMATS = {"whereby": WHEREBY_EVENTS + WHEREBY_EXTENSIONS, "openvidu": OPENVIDU_EVENTS}
EXTENSIONS = frozenset(WHEREBY_EXTENSIONS)

_WHEREBY = {
    "room.client.joined": "room.client.joined", "room.client.left": "room.client.left",
    "room.client.knocked": "room.client.knocked", "room.client.knock_cancelled": "room.client.knockCancelled",
    "room.session.started": "room.session.started", "room.session.ended": "room.session.ended",
    "recording.complete": "recording.finished",
    "room.session.ending_soon": "antechamber.session.endingSoon",
    "room.session.extended": "antechamber.session.extended",
    "room.client.admission_abandoned": "antechamber.client.admissionAbandoned",
    "recording.composition_ready": "antechamber.recording.compositionReady",
    "recording.composition_failed": "antechamber.recording.compositionFailed",
}
_OPENVIDU = {
    "room.session.started": "meetingStarted", "room.session.ended": "meetingEnded",
    "recording.starting": "recordingStarted", "recording.active": "recordingUpdated",
    "recording.ending": "recordingUpdated", "recording.complete": "recordingEnded",
    "recording.failed": "recordingEnded",
    # the composed MP4 (docs/recording.md): the recording object again, its composition changed
    "recording.composition_ready": "recordingUpdated", "recording.composition_failed": "recordingUpdated",
}
WHEREBY_ROLES = {"host": "host", "guest": "visitor", "viewer": "viewer"}


@dataclass
class WebhookEvent:
    """A domain event with what its bodies need, read when it happened."""
    event_id: str
    name: str                         # the domain name: room.client.joined, recording.complete...
    room_id: str
    at_ms: int
    data: dict[str, Any] = field(default_factory=dict)
    room: Optional[Room] = None
    recording: Optional[Recording] = None
    clients: dict[str, int] = field(default_factory=dict)   # Whereby role name -> count, after the event


@dataclass(frozen=True)
class Views:
    """How the native API shows a room and a recording (OpenVidu Meet's shapes; from server/http)."""
    room: Callable[[Room], dict[str, Any]]
    recording: Callable[[Recording, str], dict[str, Any]]
    subdomain: str = ""


def type_in(fmt: str, name: str) -> str | None:
    """The event's type name in format ``fmt``, or None if that format has no such event."""
    return (_OPENVIDU if fmt == "openvidu" else _WHEREBY).get(name)


def iso(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def body(fmt: str, type_name: str, ev: WebhookEvent, views: Views) -> dict[str, Any]:
    if fmt == "openvidu":
        return {"event": type_name, "creationDate": ev.at_ms, "data": _openvidu_data(type_name, ev, views)}
    return {"id": ev.event_id, "apiVersion": "1.0", "createdAt": iso(ev.at_ms), "type": type_name,
            "data": _whereby_data(type_name, ev, views)}


def _first(data: dict[str, Any], *names: str) -> Any:
    return next((data[n] for n in names if data.get(n) is not None), None)


def _whereby_data(type_name: str, ev: WebhookEvent, views: Views) -> dict[str, Any]:
    d = ev.data
    if type_name == "recording.finished" and ev.recording is not None:
        rec = ev.recording
        return {"filename": rec.filename, "recordingId": rec.recording_id, "roomName": "/" + ev.room_id,
                "status": "completed", "meetingId": ev.room_id, "roomSessionId": rec.room_session_id}
    if type_name.startswith("antechamber.recording.") and ev.recording is not None:
        rec = ev.recording
        return {"recordingId": rec.recording_id, "roomName": "/" + ev.room_id, "meetingId": ev.room_id,
                "roomSessionId": rec.room_session_id, "composition": rec.composition}
    out: dict[str, Any] = {"meetingId": ev.room_id, "roomName": "/" + ev.room_id, "subdomain": views.subdomain,
                           "roomSessionId": d.get("room_session_id")}
    if type_name.startswith("room.client.") or type_name == "antechamber.client.admissionAbandoned":
        out.update({"displayName": _first(d, "display_name", "displayName") or "",
                    "participantId": _first(d, "participant_id", "knock_id", "knockId"),
                    "metadata": d.get("metadata"), "externalId": d.get("external_id")})
    if type_name in ("room.client.knocked", "room.client.knockCancelled", "antechamber.client.admissionAbandoned"):
        out["knockId"] = _first(d, "knock_id", "knockId")
    if type_name in ("room.client.joined", "room.client.left"):
        out.update({"roleName": WHEREBY_ROLES.get(d.get("role") or "", "visitor"),
                    "numClients": sum(ev.clients.values()), "numClientsByRoleName": dict(ev.clients),
                    "isDialIn": False})
    if type_name == "room.session.ended":
        out["endReason"] = d.get("reason")
    if type_name in ("antechamber.session.endingSoon", "antechamber.session.extended"):
        ends = _first(d, "ends_at", "endsAt")
        out["endsAt"] = iso(ends) if isinstance(ends, int) else ends
    if type_name == "antechamber.session.endingSoon":
        out["minutesLeft"] = _first(d, "minutes_left", "minutesLeft")
    if type_name == "antechamber.session.extended":
        out.update({"minutes": d.get("minutes"), "extendedBy": d.get("by")})
    return out


def _openvidu_data(type_name: str, ev: WebhookEvent, views: Views) -> dict[str, Any]:
    if type_name.startswith("recording") and ev.recording is not None:
        name = ev.room.room_name if ev.room is not None else ev.room_id
        return views.recording(ev.recording, name)
    if ev.room is None:
        return {"roomId": ev.room_id, "roomName": ev.room_id,
                "status": "active_meeting" if type_name == "meetingStarted" else "open"}
    room = views.room(ev.room)
    if type_name == "meetingStarted":
        room["status"] = "active_meeting"
    elif room.get("status") == "active_meeting":     # the store may not have caught up with the end yet
        room["status"] = "open"
    return room


def probe_body(fmt: str, event_id: str, at_ms: int) -> dict[str, Any]:
    """The test event of ``POST /api/v1/config/webhooks/test`` (OpenVidu Meet's ``testEvent``)."""
    message = {"message": "This is a test webhook event"}
    if fmt == "openvidu":
        return {"event": "testEvent", "creationDate": at_ms, "data": message}
    return {"id": event_id, "apiVersion": "1.0", "createdAt": iso(at_ms), "type": "antechamber.test",
            "data": message}
