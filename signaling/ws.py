"""The aiohttp websocket endpoint: negotiates the codec and runs one Session per connection."""

from __future__ import annotations

from typing import Callable

from aiohttp import web

from .codec import MSGPACK_SUBPROTOCOL, Codec
from .hub import Hub
from .session import Limits, Session

# frames above this close the connection (1009); frames between the message limit and
# this get an error and the connection stays usable
HARD_FRAME_LIMIT = 1024 * 1024


def make_handler(get_hub: Callable[[web.Request], Hub], limits: Limits):
    async def websocket(request: web.Request) -> web.StreamResponse:
        hub = get_hub(request)
        ws = web.WebSocketResponse(
            protocols=(MSGPACK_SUBPROTOCOL,),
            heartbeat=limits.heartbeat_seconds or None,
            compress=False,
            max_msg_size=max(HARD_FRAME_LIMIT, limits.max_message_bytes * 2),
        )
        await ws.prepare(request)
        codec = Codec(ws.ws_protocol == MSGPACK_SUBPROTOCOL, limits.max_message_bytes)
        session = Session(ws, codec, request.remote or "", hub, limits.send_queue)
        hub.connected(session)
        await session.run(limits)
        return ws

    return websocket
