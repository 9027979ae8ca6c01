"""OpenAPI of webhooks (docs/webhooks.md): the configuration and delivery-log routes
(server/http/api/webhooks.py) under ``paths``, and every event body the server sends under the
document's OpenAPI 3.1 ``webhooks``, in both formats, added through openapi.add_paths."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...domain.webhooks.formats import OPENVIDU_EVENTS, WHEREBY_EVENTS, WHEREBY_EXTENSIONS
from .openapi import add_paths

TAG = "Webhooks"
STR, INT, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
NSTR = {"type": ["string", "null"]}
ERR = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
SEQ = {"type": "integer", "minimum": 1, "description": "Antechamber: this delivery's number in its endpoint's "
       "sequence for the room (1, 2, 3...); a gap means an event that was not delivered"}

_DESCRIPTIONS = {
    "room.client.joined": "a participant joined the meeting", "room.client.left": "a participant left the meeting",
    "room.client.knocked": "a visitor knocked from the waiting room",
    "room.client.knockCancelled": "a visitor's knock ended without entering (cancelled or gone)",
    "room.session.started": "a meeting started", "room.session.ended": "a meeting ended (not sent for a "
    "hand-over between nodes)", "recording.finished": "a recording finished and its file is complete",
    "antechamber.session.endingSoon": "extension: the meeting ends in minutesLeft minutes",
    "antechamber.session.extended": "extension: a host extended the meeting",
    "antechamber.client.admissionAbandoned": "extension: an admitted visitor never arrived",
    "antechamber.recording.compositionReady": "extension: a recording's composed MP4 is ready to play",
    "antechamber.recording.compositionFailed": "extension: a recording's composed MP4 could not be made",
    "meetingStarted": "a meeting started (data: the room)", "meetingEnded": "a meeting ended (data: the room)",
    "recordingStarted": "a recording started (status starting)",
    "recordingUpdated": "a recording's status changed (active, ending) or its composed MP4 (composition)",
    "recordingEnded": "a recording ended (complete or failed)",
}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required if required is not None else list(props)}


def schemas() -> dict[str, Any]:
    client = {"displayName": STR, "participantId": NSTR, "metadata": NSTR, "externalId": NSTR}
    in_room = {"meetingId": STR, "roomName": STR, "subdomain": STR, "roomSessionId": NSTR}
    return {
        "WherebyWebhookInRoom": _obj(in_room),
        "WherebyWebhookClient": {"allOf": [{"$ref": "#/components/schemas/WherebyWebhookInRoom"},
                                           _obj({**client, "knockId": NSTR}, list(client))]},
        "WherebyWebhookJoinLeave": {"allOf": [{"$ref": "#/components/schemas/WherebyWebhookClient"}, _obj({
            "roleName": {"enum": ["host", "visitor", "viewer"]}, "numClients": INT,
            "numClientsByRoleName": {"type": "object", "additionalProperties": INT}, "isDialIn": BOOL})]},
        "WherebyWebhookRecording": _obj({"filename": STR, "recordingId": STR, "roomName": STR,
                                         "status": {"const": "completed"}, "meetingId": STR, "roomSessionId": NSTR},
                                        ["filename", "recordingId", "roomName", "status"]),
        "WherebyWebhookComposition": _obj({"recordingId": STR, "roomName": STR, "meetingId": STR,
                                           "roomSessionId": NSTR, "composition": {"enum": ["ready", "failed"]}}),
        "WebhookDelivery": _obj({
            "id": STR, "eventId": STR, "endpointId": STR, "roomId": STR, "type": STR,
            "format": {"enum": ["whereby", "openvidu"]}, "sequence": INT,
            "status": {"enum": ["pending", "delivered", "failed"]}, "createdAt": INT,
            "nextAttemptAt": {"type": ["integer", "null"]}, "attemptCount": INT,
            "responseCode": {"type": ["integer", "null"]}, "latencyMs": {"type": ["integer", "null"]},
            "error": NSTR, "replayOf": NSTR, "body": {"type": "object"},
            "attempts": {"type": "array", "items": _obj({"at": INT, "responseCode": {"type": ["integer", "null"]},
                                                         "latencyMs": INT, "error": NSTR})}}),
        "WebhookEndpoint": _obj({"id": STR, "url": STR, "format": {"enum": ["whereby", "openvidu"]},
                                 "events": {"type": "array", "items": STR}, "source": {"enum": ["config", "api"]},
                                 "hasSecret": BOOL}),
    }


def _whereby_data(type_name: str) -> dict[str, Any]:
    ref = {"room.client.joined": "WherebyWebhookJoinLeave", "room.client.left": "WherebyWebhookJoinLeave",
           "recording.finished": "WherebyWebhookRecording",
           "antechamber.recording.compositionReady": "WherebyWebhookComposition",
           "antechamber.recording.compositionFailed": "WherebyWebhookComposition"}.get(type_name)
    if ref is None:
        ref = "WherebyWebhookClient" if ".client." in type_name else "WherebyWebhookInRoom"
    return {"$ref": f"#/components/schemas/{ref}"}


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": True, "schema": STR, "description": description}


def _hook(type_name: str, body: dict[str, Any], headers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"post": {
        "operationId": "webhook_" + type_name.replace(".", "_"), "summary": _DESCRIPTIONS[type_name], "tags": [TAG],
        "parameters": headers + [_header("Antechamber-Sequence", "the body's sequence, as a header"),
                                 _header("Antechamber-Delivery-Id", "this delivery (a replay has its own)")],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {"2XX": {"description": "received: not sent again"},
                      "default": {"description": "tried again later, with backoff"}}}}


def webhooks() -> dict[str, Any]:
    whereby_sig = [_header("Whereby-Signature", 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">')]
    openvidu_sig = [_header("X-Timestamp", "unix milliseconds when sent"),
                    _header("X-Signature", 'hex HMAC-SHA256 of "<X-Timestamp>.<body>"')]
    out: dict[str, Any] = {}
    for t in WHEREBY_EVENTS + WHEREBY_EXTENSIONS:
        out[t] = _hook(t, _obj({"id": STR, "apiVersion": {"const": "1.0"}, "createdAt": {"type": "string",
                                "format": "date-time"}, "type": {"const": t}, "data": _whereby_data(t),
                                "sequence": SEQ}), whereby_sig)
    for t in OPENVIDU_EVENTS:
        data = {"$ref": "#/components/schemas/" + ("Recording" if t.startswith("recording") else "Room")}
        out[t] = _hook(t, _obj({"event": {"const": t}, "creationDate": INT, "data": data, "sequence": SEQ}),
                       openvidu_sig)
    return out


def paths() -> dict[str, Any]:
    def op(op_id: str, summary: str, ok: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"operationId": op_id, "summary": summary, "tags": [TAG], **extra,
                "responses": {**ok, "401": ERR, "422": ERR}}

    endpoints = {"description": "the endpoints, without secrets", "content": {"application/json": {"schema": _obj(
        {"endpoints": {"type": "array", "items": {"$ref": "#/components/schemas/WebhookEndpoint"}}})}}}
    put_body = _obj({"endpoints": {"type": "array", "maxItems": 20, "items": _obj({
        "url": {"type": "string", "format": "uri"}, "secret": {"type": "string", "minLength": 1, "maxLength": 512},
        "format": {"enum": ["whereby", "openvidu"], "default": "whereby"},
        "events": {"type": "array", "items": STR, "description": "empty: every event of the format (extensions "
                   "only when named, or with *)"}}, ["url"])}})
    delivery = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookDelivery"}}}}
    q = lambda name, schema: {"name": name, "in": "query", "required": False, "schema": schema}  # noqa: E731
    page = _obj({"deliveries": {"type": "array", "items": {"$ref": "#/components/schemas/WebhookDelivery"}},
                 "pagination": _obj({"isTruncated": BOOL, "nextPageToken": NSTR, "maxItems": INT})})
    return {
        "/api/v1/config/webhooks": {
            "get": op("webhooksConfigGet", "The webhook endpoints (no secrets)", {"200": endpoints}),
            "put": op("webhooksConfigPut", "Replace the endpoints set through the API", {"200": endpoints},
                      requestBody={"required": True, "content": {"application/json": {"schema": put_body}}})},
        "/api/v1/config/webhooks/test": {"post": op("webhooksTest", "Send a test event to every endpoint", {
            "200": {"description": "what each endpoint answered", "content": {"application/json": {"schema": _obj(
                {"ok": BOOL, "results": {"type": "array", "items": {"type": "object"}}})}}}})},
        "/api/v1/webhooks/deliveries": {"get": op("webhookDeliveries", "The delivery log, newest first", {
            "200": {"description": "a page", "content": {"application/json": {"schema": page}}}, "400": ERR},
            parameters=[q("roomId", STR), q("type", STR), q("status", {"enum": ["pending", "delivered", "failed"]}),
                        q("maxItems", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
                        q("nextPageToken", STR)])},
        "/api/v1/webhooks/deliveries/{deliveryId}/replay": {"post": op(
            "webhookReplay", "Send a delivery again (same body and sequence)",
            {"202": {"description": "the new delivery", **delivery}, "404": ERR},
            parameters=[{"name": "deliveryId", "in": "path", "required": True, "schema": STR}])},
    }


def setup(app: web.Application) -> None:
    add_paths(app, paths(), schemas(), webhooks())
