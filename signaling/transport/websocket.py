"""The websocket endpoint and its connection actor: a reader loop, one writer task with a bounded queue.

docs/architecture.md "Objects and ownership": a ``WebSocketConnection`` is
the ``Connection`` port (``live/participant.py``) over one aiohttp websocket.
It owns the socket, the codec and the send queue, and speaks for one
participant at a time (``bind``; a resume binds it to the participant that
held the token). Other code never writes to the socket: it calls ``send()``
(non-blocking). A client whose queue overflows is disconnected rather than
stalling the room. A message the codec cannot encode is dropped (logged
without its content) and the connection goes on; any other failure of the
writer closes the connection (1011) and the hub is told at once: a socket is
never left open that no longer delivers. Every frame read is parsed
(``wire.protocol.parse``) and dispatched in order (``hub.handle``), each after taking
a turn (``media/turns.py``: a burst of joins is handled a few per loop iteration). The writer sends
one message per loop turn, each after taking a turn of the endpoint's writers, and a backlog of
roster changes as one frame (``wire/merge.py``); a writer with nothing to send is parked, and what
is queued for it wakes it through those turns (``Turns.grant``: a broadcast to 250 wakes 16 writers
per loop iteration, not 250 at once, each of which then waited for a turn).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from media.turns import WRITES_PER_TURN, Turns

from ..errors import InternalError, JoinTimeout, SignalingError, TooManyConnections
from ..live.hub import Dispatcher
from ..live.participant import CONNECTED, Participant
from .doorway import Doorway, client_address, parse_networks
from ..wire.codec import MSGPACK_SUBPROTOCOL, Codec, EncodeError
from ..wire.merge import MERGE_MAX, kind_of, merge
from ..wire.protocol import parse, request_id

log = structlog.get_logger("antechamber.signaling")

# frames above this close the connection (1009); frames between the message limit and
# this get an error and the connection stays usable
HARD_FRAME_LIMIT = 1024 * 1024
MERGE_WAIT = 0.05   # seconds between two merged roster frames of one connection (a burst's)


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int = 64 * 1024
    heartbeat_seconds: float = 20.0
    idle_timeout_seconds: float = 60.0
    send_queue: int = 256
    unauthenticated_per_address: int = 0    # websockets of one address not joined yet (0: no limit)
    join_deadline_seconds: float = 0.0      # closed if no join succeeds in time (0: never)
    trusted_proxies: tuple[str, ...] = ()   # whose X-Forwarded-For names the client (doorway.py)


_CLOSE = object()


class WebSocketConnection:
    __slots__ = ("ws", "codec", "remote", "hub", "participant", "_queue", "_queue_size", "_writer",
                 "_close_reason", "_parked", "doorway", "turns", "writes", "__weakref__")

    def __init__(self, ws: web.WebSocketResponse, codec: Codec, remote: str, hub: Dispatcher, queue_size: int = 256,
                 turns: Turns | None = None, writes: Turns | None = None):
        self.ws, self.codec, self.remote, self.hub = ws, codec, remote, hub
        self.turns = turns or Turns()   # shared by the endpoint's connections (make_handler)
        self.writes = writes or Turns(WRITES_PER_TURN)  # also shared: every frame written takes one
        self.participant: Participant | None = None
        # a plain deque: the writer is woken through the write turns (_wake), and an asyncio.Queue's
        # put (its getters, its unfinished-task count and Event) was most of a broadcast's cost
        self._queue: deque[Any] = deque()
        self._queue_size = queue_size
        self._parked: asyncio.Future[None] | None = None    # the idle writer's wake-up (_wake)
        self._writer: asyncio.Task | None = None
        self._close_reason: str | None = None
        self.doorway: Doorway | None = None     # counted there until its participant joins or knocks

    def bind(self, participant: Participant | None) -> None:
        self.participant = participant

    def _pid(self) -> str | None:
        return self.participant.participant_id if self.participant is not None else None

    def _gone(self, reason: str) -> None:
        """Tell the hub (once) that the participant this connection speaks for lost it."""
        participant, self.participant = self.participant, None
        if participant is not None:
            self.hub.disconnected(participant, reason)

    # --- sending -------------------------------------------------------------------------

    def send(self, message: dict[str, Any] | str | bytes) -> None:
        """Queue a message (dict) or an already encoded frame for this connection's codec."""
        if self._close_reason is not None:
            return
        if len(self._queue) >= self._queue_size:
            log.warning("client too slow, disconnecting", participant_id=self._pid())
            self.abort("too_slow")
            return
        self._queue.append(message)
        self._wake()

    def _wake(self) -> None:
        """Something was queued: a parked writer gets a turn of the endpoint's writes (module docstring)."""
        parked, self._parked = self._parked, None
        if parked is not None:
            self.writes.grant(parked)

    def close(self, message: dict[str, Any] | None = None, code: int = WSCloseCode.OK) -> None:
        """Send ``message`` (if any), then close the connection once the queue is flushed."""
        if self._close_reason is not None:
            return
        if message is not None:
            self.send(message)
        self._close_reason = "closed"
        if len(self._queue) >= self._queue_size:
            self.abort("too_slow")
            return
        self._queue.append((_CLOSE, code))
        self._wake()

    def abort(self, reason: str, code: int = WSCloseCode.POLICY_VIOLATION, message: bytes = b"too slow") -> None:
        """Drop the connection now (slow client, broken writer); the hub is told at once."""
        if self._close_reason == "aborted":
            return
        self._close_reason = "aborted"
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()
        asyncio.get_running_loop().create_task(self._hard_close(code, message))
        self._gone(reason)

    async def _hard_close(self, code: int, message: bytes) -> None:
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=message), 2)
        except (asyncio.TimeoutError, Exception):
            transport = getattr(self.ws, "_req", None) and self.ws._req.transport
            if transport is not None:
                transport.close()

    async def _write_loop(self) -> None:
        ws, queue = self.ws, self._queue
        carry: Any = None       # the item after a run of merged frames: the next to be sent
        merged_at = -MERGE_WAIT
        granted = False         # woken with a turn of the writes already taken (_wake)
        loop = asyncio.get_running_loop()
        try:
            while True:
                if carry is not None:
                    item, carry = carry, None
                elif not queue:
                    self._parked = parked = loop.create_future()
                    await parked
                    granted = True
                    continue
                else:
                    item = queue.popleft()
                if type(item) is tuple and item[0] is _CLOSE:
                    await ws.close(code=item[1])
                    return
                kind = kind_of(item)
                if kind is None or not queue:
                    await self._write(item, granted)
                else:
                    # a backlog of roster changes, sent as one frame (wire/merge.py). After a merged
                    # frame (a burst of joins or leaves) the next waits until MERGE_WAIT has passed:
                    # the burst's 250 writers then do not all wake at every loop iteration
                    wait = merged_at + MERGE_WAIT - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                        granted = False     # that turn was an earlier iteration's
                    run = [item]
                    while len(run) < MERGE_MAX and queue:
                        nxt = queue.popleft()
                        if kind_of(nxt) != kind:
                            carry = nxt
                            break
                        run.append(nxt)
                    if len(run) > 1:
                        full = len(run) == MERGE_MAX    # then the rest goes at once, not held
                        run = [merge(run)]
                        merged_at = merged_at if full else time.monotonic()
                    for one in run:
                        await self._write(one, granted)
                        granted = False
                granted = False
                if carry is not None or queue:
                    # one message per connection per loop turn: 50 joins into a room of 250 queue 50
                    # messages on each of 250 connections, which written in one go held the loop for
                    # 100-250 ms (issue 17, bench/vs_janus.py join_loop_lag_p99_ms); the next waits
                    # for a turn of a later round, as a woken writer does
                    parked = loop.create_future()
                    self.writes.grant(parked)
                    await parked
                    granted = True
        except asyncio.CancelledError:
            return
        except (ConnectionError, RuntimeError):     # the connection is gone or going
            self._writer_gone("disconnected")
        except Exception:
            log.exception("writer failed, closing the connection", participant_id=self._pid())
            self._writer_gone("disconnected")

    async def _write(self, item: Any, granted: bool = False) -> None:
        if not granted:
            await self.writes.take()
        try:
            frame = self.codec.encode(item) if isinstance(item, dict) else item
            if isinstance(frame, bytes):
                await self.ws.send_bytes(frame)
            else:
                await self.ws.send_str(frame)    # encodes first: nothing is written if that fails
        except (EncodeError, UnicodeEncodeError) as exc:
            self._dropped(item, exc)

    def _dropped(self, item: Any, exc: Exception) -> None:
        """One message could not be encoded: log it once (its type only, never its content)."""
        msg_type = item.get("type") if isinstance(item, dict) else None
        log.error("message dropped: cannot encode", participant_id=self._pid(), codec=self.codec.name,
                  type=msg_type if isinstance(msg_type, str) and msg_type.isascii() else None,
                  error=type(exc).__name__)

    def _writer_gone(self, reason: str) -> None:
        """The writer stopped without being told to: close the socket and tell the hub."""
        self.abort(reason, WSCloseCode.INTERNAL_ERROR, b"internal error")   # no-op if aborted already

    # --- reading -------------------------------------------------------------------------

    async def run(self, limits: Limits) -> None:
        """Read until the connection closes; every frame is dispatched in order."""
        loop = asyncio.get_running_loop()
        self._writer = loop.create_task(self._write_loop())
        reason = "disconnected"
        deadline = loop.call_later(limits.join_deadline_seconds, self._join_deadline) \
            if limits.join_deadline_seconds > 0 else None
        try:
            while self._close_reason is None:
                try:
                    msg = await self.ws.receive(timeout=limits.idle_timeout_seconds)
                except asyncio.TimeoutError:
                    log.info("idle connection closed", participant_id=self._pid())
                    reason = "idle"
                    self.close(code=WSCloseCode.GOING_AWAY)
                    break
                if msg.type != WSMsgType.TEXT and msg.type != WSMsgType.BINARY:
                    break   # CLOSE, CLOSING, CLOSED, ERROR
                await self.turns.take()
                await self._dispatch(msg.data, binary=msg.type == WSMsgType.BINARY)
                if self.doorway is not None and (self.participant is None or self.participant.state != CONNECTED):
                    self._through_doorway()     # joined, knocking, or relayed to the owner (then closed here)
        finally:
            if deadline is not None:
                deadline.cancel()
            self._through_doorway()
            try:
                self._gone(reason)
            except Exception:   # a bug there must not leave the writer (and the socket) behind
                log.exception("disconnect handling failed", participant_id=self._pid())
            await self._finish_writer()

    def _through_doorway(self) -> None:
        """Joined or knocking (or gone): no longer one of its address's websockets without a join."""
        doorway, self.doorway = self.doorway, None
        if doorway is not None:
            doorway.leave(self.remote)

    def _join_deadline(self) -> None:
        if self.doorway is not None and self._close_reason is None:
            log.info("no join in time, closing the connection")
            self.close(JoinTimeout().to_message(), code=WSCloseCode.POLICY_VIOLATION)

    async def _finish_writer(self) -> None:
        writer = self._writer
        if writer is None or writer.done():
            return
        if self._close_reason is None:
            self._close_reason = "closed"
            if len(self._queue) < self._queue_size:
                self._queue.append((_CLOSE, WSCloseCode.OK))
                self._wake()
            else:
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
            participant = self.participant
            if participant is None:     # replaced by a resume elsewhere: nobody to speak for
                return
            started = time.perf_counter()
            await self.hub.handle(participant, req)
            elapsed = time.perf_counter() - started
            if elapsed > 0.5:
                log.warning("slow handler", type=req.type, seconds=round(elapsed, 3))
        except SignalingError as err:
            observe = getattr(self.hub, "observe_error", None)    # metrics (server/observability/collect.py)
            if observe is not None:
                observe(err.code)
            self.send(err.to_message(request_id(obj)))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("handler failed", participant_id=self._pid())
            self.send(InternalError().to_message(request_id(obj)))


def make_handler(get_hub: Callable[[web.Request], Dispatcher], limits: Limits):
    """The aiohttp handler of the websocket route: negotiates the codec, runs one connection."""
    doorway, trusted = Doorway(limits.unauthenticated_per_address), parse_networks(limits.trusted_proxies)
    # upgrades take turns of their own: a handshake is ~0.2 ms, and sharing the messages' one turn per
    # iteration made every join of a burst wait twice
    turns, upgrades, writes = Turns(), Turns(), Turns(WRITES_PER_TURN)

    async def websocket(request: web.Request) -> web.StreamResponse:
        hub = get_hub(request)
        await upgrades.take()   # 50 connects at once are 50 handshakes
        ws = web.WebSocketResponse(
            protocols=(MSGPACK_SUBPROTOCOL,),
            heartbeat=limits.heartbeat_seconds or None,
            compress=False,
            max_msg_size=max(HARD_FRAME_LIMIT, limits.max_message_bytes * 2),
        )
        await ws.prepare(request)
        codec = Codec(ws.ws_protocol == MSGPACK_SUBPROTOCOL, limits.max_message_bytes)
        remote = client_address(request.remote or "", request.headers.get("X-Forwarded-For"), trusted)
        if not doorway.enter(remote):
            log.info("rate limited", scope="ws_unauthenticated", open=doorway.count(remote))
            frame = codec.encode(TooManyConnections().to_message())
            await (ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_str(frame))
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too many connections")
            return ws
        connection = WebSocketConnection(ws, codec, remote, hub, limits.send_queue, turns, writes)
        connection.doorway = doorway
        hub.connect(connection)
        await connection.run(limits)
        return ws

    return websocket
