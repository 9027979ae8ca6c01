"""One actor per websocket connection: a reader loop, one writer task with a bounded queue.

Other code never writes to the socket: it calls ``send()`` (non-blocking). A
client whose queue overflows is disconnected rather than stalling the room.
A message the codec cannot encode is dropped (logged without its content) and
the connection goes on; any other failure of the writer closes the connection
(1011) and the hub forgets the session: a socket is never left open that no
longer delivers.
The session's identity (participant id, role, permissions) is set by the hub
from the ``join``; later messages cannot change it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from .codec import Codec, EncodeError
from .errors import InternalError, SignalingError
from .protocol import parse, request_id

if TYPE_CHECKING:
    from .hub import Hub
    from .ports import Identity
    from .room import LiveRoom
    from .waiting_room import Knock

log = structlog.get_logger("antechamber.signaling")

# session states; a session may go joined -> knocking (sent to the waiting room) and
# knocking -> connected (rejected / cancelled: it may join again); closed is final.
CONNECTED, KNOCKING, JOINED, CLOSED = "connected", "knocking", "joined", "closed"


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int = 64 * 1024
    heartbeat_seconds: float = 20.0
    idle_timeout_seconds: float = 60.0
    send_queue: int = 256


_CLOSE = object()


class Session:
    __slots__ = ("sid", "ws", "codec", "ip", "hub", "state", "room", "display_name", "identity",
                 "permissions", "role", "knock", "muted", "joined_at_ms", "ext", "resume_token",
                 "reconnecting", "_queue",
                 "_writer", "_close_reason", "__weakref__")

    def __init__(self, ws: web.WebSocketResponse, codec: Codec, ip: str, hub: "Hub", queue_size: int = 256):
        self.sid = "p_" + secrets.token_urlsafe(9)
        self.ws, self.codec, self.ip, self.hub = ws, codec, ip, hub
        self.state = CONNECTED
        self.room: LiveRoom | None = None
        self.display_name = ""
        self.identity: Identity | None = None
        self.permissions: dict[str, bool] = {}
        self.role = ""
        self.knock: Knock | None = None
        self.muted = {"audio": False, "video": False, "screen": False}
        self.joined_at_ms = 0
        self.ext: dict[str, Any] = {}     # per-session state of other modules (the SFU)
        self.resume_token: str | None = None   # secret; only ever sent to this connection (resume.py)
        self.reconnecting = False         # joined, websocket gone, place kept for the grace period
        self._queue: asyncio.Queue = asyncio.Queue(queue_size)
        self._writer: asyncio.Task | None = None
        self._close_reason: str | None = None

    # --- state ---------------------------------------------------------------------------

    def set_state(self, new: str) -> None:
        if new != self.state:
            log.debug("session state", participant_id=self.sid, change=f"{self.state} -> {new}")
            self.state = new

    @property
    def room_id(self) -> str:
        """The id of the room this participant is in or knocking at ("" before a join)."""
        return self.room.room_id if self.room is not None else ""

    def can(self, permission: str) -> bool:
        return bool(self.permissions.get(permission))

    def public(self) -> dict[str, Any]:
        info = {"participantId": self.sid, "displayName": self.display_name, "role": self.role,
                "muted": dict(self.muted), "joinedAt": self.joined_at_ms}
        if self.reconnecting:
            info["connection"] = "reconnecting"
        return info

    # --- sending -------------------------------------------------------------------------

    def send(self, message: dict[str, Any] | str | bytes) -> None:
        """Queue a message (dict) or an already encoded frame for this connection's codec."""
        if self._close_reason is not None:
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("client too slow, disconnecting", participant_id=self.sid)
            self.abort("too_slow")

    def close(self, message: dict[str, Any] | None = None, code: int = WSCloseCode.OK) -> None:
        """Send ``message`` (if any), then close the connection once the queue is flushed."""
        if self._close_reason is not None:
            return
        if message is not None:
            self.send(message)
        self._close_reason = "closed"
        try:
            self._queue.put_nowait((_CLOSE, code))
        except asyncio.QueueFull:
            self.abort("too_slow")

    def abort(self, reason: str, code: int = WSCloseCode.POLICY_VIOLATION, message: bytes = b"too slow") -> None:
        """Drop the connection now (slow client, broken writer); the hub forgets the session at once."""
        if self._close_reason == "aborted":
            return
        self._close_reason = "aborted"
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()
        asyncio.get_running_loop().create_task(self._hard_close(code, message))
        self.hub.disconnected(self, reason)

    async def _hard_close(self, code: int, message: bytes) -> None:
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=message), 2)
        except (asyncio.TimeoutError, Exception):
            transport = getattr(self.ws, "_req", None) and self.ws._req.transport
            if transport is not None:
                transport.close()

    async def _write_loop(self) -> None:
        ws, codec = self.ws, self.codec
        try:
            while True:
                item = await self._queue.get()
                if type(item) is tuple and item[0] is _CLOSE:
                    await ws.close(code=item[1])
                    return
                try:
                    frame = codec.encode(item) if isinstance(item, dict) else item
                    if isinstance(frame, bytes):
                        await ws.send_bytes(frame)
                    else:
                        await ws.send_str(frame)    # encodes first: nothing is written if that fails
                except (EncodeError, UnicodeEncodeError) as exc:
                    self._dropped(item, exc)
        except asyncio.CancelledError:
            return
        except (ConnectionError, RuntimeError):     # the connection is gone or going
            self._writer_gone("disconnected")
        except Exception:
            log.exception("writer failed, closing the connection", participant_id=self.sid)
            self._writer_gone("disconnected")

    def _dropped(self, item: Any, exc: Exception) -> None:
        """One message could not be encoded: log it once (its type only, never its content)."""
        msg_type = item.get("type") if isinstance(item, dict) else None
        log.error("message dropped: cannot encode", participant_id=self.sid, codec=self.codec.name,
                  type=msg_type if isinstance(msg_type, str) and msg_type.isascii() else None,
                  error=type(exc).__name__)

    def _writer_gone(self, reason: str) -> None:
        """The writer stopped without being told to: close the socket and let the hub forget us."""
        self.abort(reason, WSCloseCode.INTERNAL_ERROR, b"internal error")   # no-op if aborted already

    # --- reading -------------------------------------------------------------------------

    async def run(self, limits: Limits) -> None:
        """Read until the connection closes; every frame is dispatched in order."""
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        reason = "disconnected"
        try:
            while self._close_reason is None:
                try:
                    msg = await self.ws.receive(timeout=limits.idle_timeout_seconds)
                except asyncio.TimeoutError:
                    log.info("idle connection closed", participant_id=self.sid)
                    reason = "idle"
                    self.close(code=WSCloseCode.GOING_AWAY)
                    break
                if msg.type == WSMsgType.TEXT:
                    await self._dispatch(msg.data, binary=False)
                elif msg.type == WSMsgType.BINARY:
                    await self._dispatch(msg.data, binary=True)
                else:   # CLOSE, CLOSING, CLOSED, ERROR
                    break
        finally:
            try:
                self.hub.disconnected(self, reason)
            except Exception:   # a bug there must not leave the writer (and the socket) behind
                log.exception("disconnect handling failed", participant_id=self.sid)
            await self._finish_writer()

    async def _finish_writer(self) -> None:
        writer = self._writer
        if writer is None or writer.done():
            return
        if self._close_reason is None:
            self._close_reason = "closed"
            try:
                self._queue.put_nowait((_CLOSE, WSCloseCode.OK))
            except asyncio.QueueFull:
                writer.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(writer), 5)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            writer.cancel()

    async def _dispatch(self, data: Any, binary: bool) -> None:
        obj: Any = None
        try:
            obj = self.codec.decode_binary(data) if binary else self.codec.decode_text(data)
            req = parse(obj, self.hub.messages.spec)
            started = time.perf_counter()
            await self.hub.handle(self, req)
            elapsed = time.perf_counter() - started
            if elapsed > 0.5:
                log.warning("slow handler", type=req.type, seconds=round(elapsed, 3))
        except SignalingError as err:
            self.send(err.to_message(request_id(obj)))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("handler failed", participant_id=self.sid)
            self.send(InternalError().to_message(request_id(obj)))
