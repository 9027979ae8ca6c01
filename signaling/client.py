"""An asyncio client for the signaling protocol (docs/protocol.md), JSON or msgpack.

Used by the tests, the benchmarks and integrators' bots::

    async with SignalingClient("ws://127.0.0.1:8080/ws") as c:
        joined = await c.join("my-room", "Ada", key=host_key)
        knocks = await c.wait_for("knocks", lambda m: m["knocks"])
        await c.request("admit", knockId=knocks["knocks"][0]["knockId"])

``request`` sends a message with a fresh id and returns the reply that echoes
it (raising ``SignalingErrorReply`` for an ``error``). Every other message goes
to an inbox that ``wait_for`` consumes in arrival order; ``history`` keeps all.

**Reconnecting** (docs/protocol.md "Reconnecting", "Moving between nodes"): give
``reconnect=Reconnect()`` and one URL (behind a load balancer) or a list of node URLs::

    c = SignalingClient(["ws://a:8080/ws", "ws://b:8080/ws"], reconnect=Reconnect(),
                        on_resumed=lambda reply: ..., on_media_reset=lambda msg: ...)
    await c.connect()
    await c.join("my-room", "Ada")

Once it has joined (or knocked), when its socket drops without ``leave`` or the
server sends ``reconnect {reason}``, the client connects again by itself — the same
URL first after a drop, the next one in the list after ``reconnect`` or a failed
attempt — with exponential backoff and jitter (``Reconnect``), and sends ``join``
with its resume token (from ``joined`` or a pending ``knock_status``). The reply
(``joined {resumed: true}``, ``knock_status {resumed: true}``, or whatever an
ordinary join answers once the token is gone) goes to ``on_resumed`` and to the
inbox; media are the caller's to publish again then. ``media_reset`` (the SFU
behind the session changed, the websocket stays) goes to ``on_media_reset`` and to
the inbox. An ``ended`` message stops it; so does ``close()``; after
``Reconnect.give_up_after`` seconds without success it stops and ``closed`` is set.
``connected`` is set while a socket is open; ``reconnects`` counts the resumes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import aiohttp
import msgpack

MSGPACK_SUBPROTOCOL = "antechamber.msgpack"
# a merged roster frame's type -> its messages' type (docs/protocol.md; the server's: wire/merge.py)
MERGED = {"participants_joined": "participant_joined", "participants_left": "participant_left"}


def expand(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The single messages a received message stands for (itself, unless it is a merged one)."""
    single, parts = MERGED.get(message.get("type")), message.get("participants")  # type: ignore[arg-type]
    if single is None or not isinstance(parts, list):
        return [message]
    return [{"type": single, **part} for part in parts if isinstance(part, dict)]


Predicate = Callable[[dict[str, Any]], Any]


class SignalingErrorReply(Exception):
    def __init__(self, message: dict[str, Any]):
        super().__init__(f"{message.get('code')}: {message.get('message')}")
        self.code = message.get("code")
        self.reply = message


@dataclass(frozen=True)
class Reconnect:
    """The reconnect policy: attempt n (0, 1, ...) waits ``min(max_delay, initial * factor**n)``
    less up to ``jitter`` of it (random), so clients told ``reconnect`` together spread out."""

    initial: float = 0.2
    factor: float = 2.0
    max_delay: float = 5.0
    jitter: float = 0.5
    give_up_after: float = 60.0

    def delay(self, attempt: int) -> float:
        base = min(self.max_delay, self.initial * self.factor ** attempt)
        return base * (1.0 - self.jitter * random.random())


class SignalingClient:
    def __init__(self, url: str | Sequence[str], *, use_msgpack: bool = False,
                 http: aiohttp.ClientSession | None = None, headers: dict[str, str] | None = None,
                 reconnect: Reconnect | None = None,
                 on_resumed: Callable[[dict[str, Any]], None] | None = None,
                 on_media_reset: Callable[[dict[str, Any]], None] | None = None):
        self.urls = [url] if isinstance(url, str) else list(url)
        if not self.urls:
            raise ValueError("no URL to connect to")
        self.url = self.urls[0]
        self.use_msgpack = use_msgpack
        self._http = http
        self._own_http = http is None
        self._headers = headers
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.history: list[dict[str, Any]] = []
        self.raw_frames: list[str | bytes] = []
        self.inbox: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._pending: dict[Any, asyncio.Future] = {}
        self._changed = asyncio.Event()
        self._reader: asyncio.Task | None = None
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.participant_id: str | None = None
        self.resume_token: str | None = None   # from our own `joined`; send it to resume after a drop
        # called with each decoded message as it arrives (timestamps in benchmarks, bots)
        self.listener: Callable[[dict[str, Any]], None] | None = None
        self.reconnect_policy = reconnect
        self.on_resumed, self.on_media_reset = on_resumed, on_media_reset
        self.connected = asyncio.Event()
        self.reconnects = 0
        self._joined_with: tuple[str, str, str | None, bool] | None = None  # room, name, key, subscribe
        self._closing = False          # close() called: no reconnect
        self._ended = False            # the server said ended: no reconnect
        self._move_on = False          # the server said reconnect: try the next URL first
        self._reconnecting: asyncio.Task | None = None

    async def __aenter__(self) -> "SignalingClient":
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the websocket (with a reconnect policy, the URLs are tried in turn, once each)."""
        tries = len(self.urls) if self.reconnect_policy is not None else 1
        for i in range(tries):
            try:
                return await self._connect_one()
            except (aiohttp.ClientError, OSError):
                if i == tries - 1:
                    raise
                self.url = self.urls[(self.urls.index(self.url) + 1) % len(self.urls)]

    async def _connect_one(self) -> None:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        protocols = (MSGPACK_SUBPROTOCOL,) if self.use_msgpack else ()
        self.ws = await self._http.ws_connect(self.url, protocols=protocols, headers=self._headers,
                                              max_msg_size=0, compress=0)
        self.connected.set()
        self._reader = asyncio.get_running_loop().create_task(self._read(self.ws))

    async def abort(self) -> None:
        """Drop the connection like a lost network would: no ``leave``, no close frame."""
        if self.ws is not None:
            transport = getattr(self.ws._writer, "transport", None)
            if transport is None and self.ws._conn is not None:
                transport = self.ws._conn.transport
            if transport is not None:
                transport.abort()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._reader.cancel()

    @property
    def protocol(self) -> str | None:
        return self.ws.protocol if self.ws else None

    async def close(self) -> None:
        """Leave politely (``leave``), then close: the others see ``left`` at once."""
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        if self.ws is not None and not self.ws.closed:
            try:
                await self.send("leave")
            except (ConnectionError, RuntimeError):
                pass
            await self.ws.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
        if self._own_http and self._http is not None:
            await self._http.close()
            self._http = None

    # --- receiving --------------------------------------------------------------------------

    def _decode(self, msg: aiohttp.WSMessage) -> dict[str, Any] | None:
        if msg.type == aiohttp.WSMsgType.TEXT:
            self.raw_frames.append(msg.data)
            return json.loads(msg.data)
        if msg.type == aiohttp.WSMsgType.BINARY:
            self.raw_frames.append(msg.data)
            return msgpack.unpackb(msg.data, raw=False)
        return None

    def _received(self, ws: aiohttp.ClientWebSocketResponse, data: dict[str, Any]) -> None:
        """One message from the server: to the listener, the history, a waiting request or the inbox."""
        if self.listener is not None:
            self.listener(data)
        self.history.append(data)
        kind = data.get("type")
        if kind == "joined":
            self.participant_id = data.get("participantId")
            self.resume_token = data.get("resumeToken") or self.resume_token
        elif kind == "knock_status" and data.get("resumeToken"):
            self.resume_token = data["resumeToken"]
        elif kind == "ended":
            self._ended = True
        elif kind == "reconnect":
            self._move_on = True
            asyncio.get_running_loop().create_task(ws.close())
        elif kind == "media_reset" and self.on_media_reset is not None:
            self.on_media_reset(data)
        fut = self._pending.pop(data.get("id"), None) if "id" in data else None
        if fut is not None and not fut.done():
            fut.set_result(data)
            if data.get("type") in ("ok", "error", "pong"):
                return
        self.inbox.append(data)
        self._changed.set()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for msg in ws:
                decoded = self._decode(msg)
                if decoded is None:
                    continue
                for data in expand(decoded):    # a merged roster frame: its single messages
                    self._received(ws, data)
        finally:
            self.close_code = ws.close_code
            self.connected.clear()
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("the connection closed"))
            self._pending.clear()
            if self._reconnecting is not None:
                pass        # an attempt of the running reconnect failed: it goes on
            elif self._should_reconnect():
                self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())
            else:
                self.closed.set()
            self._changed.set()

    # --- reconnecting -----------------------------------------------------------------------

    def _should_reconnect(self) -> bool:
        return (self.reconnect_policy is not None and not self._closing and not self._ended
                and self._joined_with is not None and self.resume_token is not None)

    async def _reconnect(self) -> None:
        """Connect again (backoff, next URL) and resume with our token; module docstring."""
        policy = self.reconnect_policy
        assert policy is not None and self._joined_with is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + policy.give_up_after
        attempt = 0
        try:
            while not self._closing and loop.time() < deadline:
                if self._move_on or attempt > 0:
                    self.url = self.urls[(self.urls.index(self.url) + 1) % len(self.urls)]
                self._move_on = False
                await asyncio.sleep(policy.delay(attempt))
                attempt += 1
                try:
                    await self._connect_one()
                    room, name, key, subscribe = self._joined_with
                    reply = await self.join(room, name, key, resume_token=self.resume_token, subscribe=subscribe)
                except (aiohttp.ClientError, OSError, ConnectionError, asyncio.TimeoutError,
                        SignalingErrorReply):
                    if self.ws is not None and not self.ws.closed:
                        await self.ws.close()
                    continue
                self.reconnects += 1
                if self.on_resumed is not None:
                    self.on_resumed(reply)
                return
        except asyncio.CancelledError:
            return
        finally:
            self._reconnecting = None
        self.closed.set()       # given up
        self._changed.set()

    async def wait_for(self, msg_type: str | None = None, predicate: Predicate | None = None,
                       timeout: float = 5.0) -> dict[str, Any]:
        """The first unconsumed message of this type (and matching predicate); removes it from the inbox."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, m in enumerate(self.inbox):
                if (msg_type is None or m.get("type") == msg_type) and (predicate is None or predicate(m)):
                    return self.inbox.pop(i)
            if self.closed.is_set():
                raise ConnectionError(f"closed (code {self.close_code}) while waiting for {msg_type}")
            left = deadline - loop.time()
            if left <= 0:
                seen = [m.get("type") for m in self.inbox]
                raise asyncio.TimeoutError(f"no {msg_type} within {timeout}s; inbox: {seen}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    def drain(self, msg_type: str | None = None) -> list[dict[str, Any]]:
        """Remove and return the inbox messages (of a type)."""
        taken = [m for m in self.inbox if msg_type is None or m.get("type") == msg_type]
        self.inbox = [m for m in self.inbox if not (msg_type is None or m.get("type") == msg_type)]
        return taken

    async def wait_closed(self, timeout: float = 5.0) -> int | None:
        await asyncio.wait_for(self.closed.wait(), timeout)
        return self.close_code

    # --- sending ----------------------------------------------------------------------------

    async def send_raw(self, frame: str | bytes) -> None:
        assert self.ws is not None
        if isinstance(frame, bytes):
            await self.ws.send_bytes(frame)
        else:
            await self.ws.send_str(frame)

    async def send(self, msg_type: str, **fields: Any) -> None:
        message = {"type": msg_type, **fields}
        if self.use_msgpack:
            await self.send_raw(msgpack.packb(message, use_bin_type=True))
        else:
            await self.send_raw(json.dumps(message))

    async def request(self, msg_type: str, *, timeout: float = 5.0, **fields: Any) -> dict[str, Any]:
        """Send with a fresh id and return the reply echoing it; raises SignalingErrorReply on error."""
        rid = f"r{next(self._ids)}"
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        await self.send(msg_type, id=rid, **fields)
        try:
            reply = await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(rid, None)
        if reply.get("type") == "error":
            raise SignalingErrorReply(reply)
        return reply

    async def join(self, room_name: str, display_name: str, key: str | None = None,
                   timeout: float = 5.0, resume_token: str | None = None, subscribe: bool = True) -> dict[str, Any]:
        """Join (or resume with an earlier connection's token); returns ``joined`` (with
        ``resumed: true`` when the place was taken back), ``knock_status`` or ``ended``.
        ``subscribe=False``: publish-only, the server offers this connection no media."""
        fields: dict[str, Any] = {"roomName": room_name, "displayName": display_name}
        if key:
            fields["key"] = key
        if resume_token:
            fields["resumeToken"] = resume_token
        if not subscribe:
            fields["subscribe"] = False
        self._joined_with = (room_name, display_name, key, subscribe)
        return await self.request("join", timeout=timeout, **fields)
