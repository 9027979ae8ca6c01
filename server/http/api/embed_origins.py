"""A room's allowed framing origins over REST (Antechamber extension of both surfaces).

docs/embed.md "Allowed origins"; the list is set when a room is created (``embedOrigins`` in
``POST /api/v1/rooms`` and ``POST /v1/meetings``) and replaced with ``PUT .../embed-origins
{embedOrigins: [...]}`` at any time (the next page load uses it). Native paths answer 422 for bad
input, the Whereby-compatible ones 400, both ``{code, message, details}`` naming the field.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...domain.errors import BadRequest, Unprocessable
from ...store.records import Room
from ..appkeys import ROOMS
from .auth import add_routes
from .embed_schema import DESCRIPTION, EmbedOrigins
from .jsonbody import read_object
from .openapi import add_paths
from .schemas import Strict, validate

NATIVE_PREFIXES = ("/api/v1", "/meet/api/v1")


class EmbedOriginsIn(Strict):
    embedOrigins: EmbedOrigins


def _route(param: str, error: type):
    async def put_embed_origins(request: web.Request) -> web.Response:
        spec = validate(EmbedOriginsIn, await read_object(request), error)

        def change(r: Room) -> None:
            r.embed_origins = list(spec.embedOrigins)
        room = await request.app[ROOMS].update(request.match_info[param], change, "embed_origins")
        return web.json_response({param: room.room_id, "embedOrigins": list(room.embed_origins)})
    return put_embed_origins


def _doc(op_id: str, bad: int, param: str) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    body = {"type": "object", "additionalProperties": False, "required": ["embedOrigins"],
            "properties": {"embedOrigins": {"type": "array", "items": {"type": "string"}, "description": DESCRIPTION}}}
    return {"parameters": [{"name": param, "in": "path", "required": True, "schema": {"type": "string"}}],
            "put": {"operationId": op_id, "tags": ["Embedding"],
                    "summary": "Replace the origins whose pages may frame the room (Antechamber extension)",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                    "responses": {"200": {"description": f"{{{param}, embedOrigins}} as stored (normalised)"},
                                  str(bad): {"description": "not an origin; details name the field", **error},
                                  "401": {"description": "missing or invalid API key", **error},
                                  "404": {"description": "no such room", **error}}}}


def setup(app: web.Application) -> None:
    add_routes(app, NATIVE_PREFIXES, [("PUT", "/rooms/{roomId}/embed-origins", _route("roomId", Unprocessable))])
    add_routes(app, ["/v1"], [("PUT", "/meetings/{meetingId}/embed-origins", _route("meetingId", BadRequest))])
    paths = {f"{prefix}/rooms/{{roomId}}/embed-origins": _doc(
        "updateRoomEmbedOrigins" + ("" if prefix == "/api/v1" else "Meet"), 422, "roomId")
        for prefix in NATIVE_PREFIXES}
    paths["/v1/meetings/{meetingId}/embed-origins"] = _doc("updateMeetingEmbedOrigins", 400, "meetingId")
    add_paths(app, paths)
