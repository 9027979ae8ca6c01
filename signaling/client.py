"""An asyncio client for the signaling protocol (docs/protocol.md), JSON or msgpack.

Used by the tests, the benchmarks and integrators' bots::

    async with SignalingClient("ws://127.0.0.1:8080/ws") as c:
        joined = await c.join("my-room", "Ada", key=host_key)
        knocks = await c.wait_for("knocks", lambda m: m["knocks"])
        await c.request("admit", knockId=knocks["knocks"][0]["knockId"])

``request`` sends a message with a fresh id and returns the reply that echoes
it (raising ``SignalingErrorReply`` for an ``error``). Every other message goes
to an inbox that ``wait_for`` consumes in arrival order; ``history`` keeps all.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any, Callable

import aiohttp
import msgpack

MSGPACK_SUBPROTOCOL = "antechamber.msgpack"
Predicate = Callable[[dict[str, Any]], Any]


class SignalingErrorReply(Exception):
    def __init__(self, message: dict[str, Any]):
        super().__init__(f"{message.get('code')}: {message.get('message')}")
        self.code = message.get("code")
        self.reply = message


class SignalingClient:
    def __init__(self, url: str, *, use_msgpack: bool = False, http: aiohttp.ClientSession | None = None,
                 headers: dict[str, str] | None = None):
        self.url = url
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

    async def __aenter__(self) -> "SignalingClient":
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def connect(self) -> None:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        protocols = (MSGPACK_SUBPROTOCOL,) if self.use_msgpack else ()
        self.ws = await self._http.ws_connect(self.url, protocols=protocols, headers=self._headers,
                                              max_msg_size=0, compress=0)
        self._reader = asyncio.get_running_loop().create_task(self._read())

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

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for msg in self.ws:
                data = self._decode(msg)
                if data is None:
                    continue
                if self.listener is not None:
                    self.listener(data)
                self.history.append(data)
                if data.get("type") == "joined":
                    self.participant_id = data.get("participantId")
                    self.resume_token = data.get("resumeToken") or self.resume_token
                fut = self._pending.pop(data.get("id"), None) if "id" in data else None
                if fut is not None and not fut.done():
                    fut.set_result(data)
                    if data.get("type") in ("ok", "error", "pong"):
                        continue
                self.inbox.append(data)
                self._changed.set()
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()
            self._changed.set()
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("the connection closed"))
            self._pending.clear()

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
                   timeout: float = 5.0, resume_token: str | None = None) -> dict[str, Any]:
        """Join (or resume with an earlier connection's token); returns ``joined`` (with
        ``resumed: true`` when the place was taken back), ``knock_status`` or ``ended``."""
        fields: dict[str, Any] = {"roomName": room_name, "displayName": display_name}
        if key:
            fields["key"] = key
        if resume_token:
            fields["resumeToken"] = resume_token
        return await self.request("join", timeout=timeout, **fields)
