"""The node bus: messages between the nodes of a cluster over Redis pub/sub (docs/architecture.md
"Seams for the cluster"; cluster contract: docs of issue 11, ``bus.py``).

Every node subscribes to its inbox channel ``{P}inbox:{node_id}``. A message is a dict with a kind
``"k"``; on the wire it is one msgpack frame (``use_bin_type=True``) whose envelope adds ``"from"``
(the sender's node id) and, for a request, ``"rid"``.

- ``post(node, msg)`` (sync, never blocks) and ``await send(node, msg) -> bool`` are fire and forget;
  ``send`` answers False when nobody is subscribed to that inbox (PUBLISH returned 0: the node is
  gone). ``post`` reports such a node to the ``on_gone`` callbacks instead.
- ``await request(node, msg, timeout) -> dict``: the handler's return value; ``Unreachable`` at once
  when nobody is subscribed, or when no reply came in time; a handler's exception comes back as
  ``{"error": code, "message": ...}`` and raises ``RemoteError(code, message)``.

Ordering: everything this node publishes goes through one publisher task, in call order (a batch
of what is queued is sent as one pipeline, in order), so messages from one node to another arrive
in the order they were posted. The receiver reads its inbox with one consumer task and runs the
handlers of plain messages in arrival order (awaited one after the other: they must be quick, e.g.
put the message on a per-session queue); request handlers run as tasks so a slow one never blocks
the inbox. The subscription reconnects by itself after a Redis outage.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, Awaitable, Callable

import msgpack
import structlog

from .errors import RemoteError, Unreachable

log = structlog.get_logger("antechamber.cluster")

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]
_REPLY = "_reply"
_BACKOFF = (0.05, 0.1, 0.2, 0.5, 1.0)


def _pack(msg: dict[str, Any]) -> bytes:
    return msgpack.packb(msg, use_bin_type=True)


class NodeBus:
    def __init__(self, redis: Any, prefix: str, node_id: str) -> None:
        self.redis, self.prefix, self.node_id = redis, prefix, node_id
        self.inbox = self.channel(node_id)
        self._handlers: dict[str, Handler] = {}
        self._gone: list[Callable[[str], None]] = []
        self._pending: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._outbox: asyncio.Queue | None = None
        self._tasks: set[asyncio.Task] = set()
        self._reader: asyncio.Task | None = None
        self._writer: asyncio.Task | None = None
        self._subscribed: asyncio.Event | None = None
        self._closed = False

    def channel(self, node_id: str) -> str:
        return f"{self.prefix}inbox:{node_id}"

    # --- set-up ------------------------------------------------------------------------------

    def on(self, kind: str, handler: Handler) -> None:
        """Handle messages ``{"k": kind, ...}`` (the dict carries ``"from"``, the sender's id)."""
        self._handlers[kind] = handler

    def on_gone(self, callback: Callable[[str], None]) -> None:
        """``callback(node_id)`` (sync) when a ``post`` to that node reached nobody."""
        self._gone.append(callback)

    async def start(self) -> None:
        """Subscribe to this node's inbox and start publishing; returns once subscribed."""
        loop = asyncio.get_running_loop()
        self._outbox = asyncio.Queue()
        self._subscribed = asyncio.Event()
        self._writer = loop.create_task(self._write_loop())
        self._reader = loop.create_task(self._read_loop())
        waiter = loop.create_task(self._subscribed.wait())
        done, _ = await asyncio.wait({waiter, self._reader}, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            self._reader.result()     # raises what stopped it

    async def close(self) -> None:
        """Unsubscribe (others now see this node as gone) and fail what is still waiting."""
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        # cancelled again until it ends: redis-py sometimes swallows a cancel in mid-read
        while self._reader is not None and not self._reader.done():
            self._reader.cancel()
            await asyncio.wait({self._reader}, timeout=1)
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(Unreachable("the bus closed"))
        self._pending.clear()
        if self._writer is not None:
            if self._outbox is not None:
                self._outbox.put_nowait(None)
            try:
                await asyncio.wait_for(self._writer, 2)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._writer.cancel()

    # --- sending -------------------------------------------------------------------------------

    def _queue(self, node_id: str, envelope: dict[str, Any], fut: asyncio.Future | None) -> None:
        if self._closed or self._outbox is None:
            if fut is not None:
                fut.set_result(0)
            return
        self._outbox.put_nowait((self.channel(node_id), _pack(envelope), node_id, fut))

    def post(self, node_id: str, msg: dict[str, Any]) -> None:
        """Queue ``msg`` for ``node_id`` (never blocks); a node nobody answers for goes to on_gone."""
        self._queue(node_id, {**msg, "from": self.node_id}, None)

    async def send(self, node_id: str, msg: dict[str, Any]) -> bool:
        """Publish ``msg`` to ``node_id``, in order with everything else; False: nobody listens."""
        fut = asyncio.get_running_loop().create_future()
        self._queue(node_id, {**msg, "from": self.node_id}, fut)
        try:
            return bool(await fut)
        except (ConnectionError, OSError, Unreachable):
            return False

    async def request(self, node_id: str, msg: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        """The reply of ``node_id``'s handler; Unreachable (no subscriber, no reply in time, Redis
        away), RemoteError (the handler raised)."""
        loop = asyncio.get_running_loop()
        rid = next(self._ids)
        reply = self._pending[rid] = loop.create_future()
        published = loop.create_future()
        try:
            self._queue(node_id, {**msg, "from": self.node_id, "rid": rid}, published)
            async with asyncio.timeout(timeout):
                try:
                    if not await published:
                        raise Unreachable(f"node {node_id} is not listening")
                except (ConnectionError, OSError) as exc:
                    raise Unreachable(f"cannot publish: {type(exc).__name__}") from None
                answer = await reply
        except TimeoutError:
            raise Unreachable(f"node {node_id} did not answer within {timeout} s") from None
        finally:
            self._pending.pop(rid, None)
        if "error" in answer:
            raise RemoteError(str(answer["error"]), str(answer.get("message", "")))
        return answer.get("r") or {}

    async def _write_loop(self) -> None:
        assert self._outbox is not None
        outbox = self._outbox
        while True:
            item = await outbox.get()
            if item is None:
                return
            batch = [item]
            while not outbox.empty() and len(batch) < 512:
                nxt = outbox.get_nowait()
                if nxt is None:
                    outbox.put_nowait(None)
                    break
                batch.append(nxt)
            await self._publish(batch)

    async def _publish(self, batch: list[tuple[str, bytes, str, asyncio.Future | None]]) -> None:
        try:
            if len(batch) == 1:
                counts = [await self.redis.publish(batch[0][0], batch[0][1])]
            else:
                pipe = self.redis.pipeline(transaction=False)
                for channel, data, _, _ in batch:
                    pipe.publish(channel, data)
                counts = await pipe.execute()
        except asyncio.CancelledError:
            raise
        except Exception as exc:      # Redis away: what was queued is lost, its senders are told
            log.warning("bus publish failed", error=type(exc).__name__, messages=len(batch))
            for _, _, _, fut in batch:
                if fut is not None and not fut.done():
                    fut.set_exception(ConnectionError(type(exc).__name__))
            return
        gone: set[str] = set()
        for (_, _, node_id, fut), count in zip(batch, counts):
            if fut is not None:
                if not fut.done():
                    fut.set_result(count)
            elif not count:
                gone.add(node_id)
        for node_id in gone:
            for callback in self._gone:
                try:
                    callback(node_id)
                except Exception:
                    log.exception("on_gone callback failed", node_id=node_id)

    # --- receiving -----------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        failures = 0
        while not self._closed:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.inbox)
                assert self._subscribed is not None
                self._subscribed.set()
                if failures:
                    log.info("bus subscribed again", node_id=self.node_id)
                failures = 0
                while not self._closed:
                    msg = await pubsub.get_message(timeout=None)
                    if msg is not None and msg.get("type") == "message":
                        await self._deliver(msg["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._subscribed is not None and not self._subscribed.is_set() and failures >= len(_BACKOFF):
                    raise
                log.warning("bus subscription lost", error=type(exc).__name__)
                await asyncio.sleep(_BACKOFF[min(failures, len(_BACKOFF) - 1)])
                failures += 1
            finally:
                try:
                    await asyncio.shield(pubsub.aclose())
                except Exception:
                    pass

    async def _deliver(self, data: bytes) -> None:
        try:
            msg = msgpack.unpackb(data, raw=False)
            kind = msg.get("k")
        except Exception:
            log.warning("bus frame dropped: not a msgpack map")
            return
        if kind == _REPLY:
            fut = self._pending.get(msg.get("rid"))
            if fut is not None and not fut.done():
                fut.set_result(msg)
            return
        handler = self._handlers.get(kind)
        if "rid" in msg:
            task = asyncio.get_running_loop().create_task(self._answer(handler, msg))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        if handler is None:
            log.warning("bus message of unknown kind", kind=str(kind)[:40])
            return
        try:
            await handler(msg)
        except Exception:
            log.exception("bus handler failed", kind=kind)

    async def _answer(self, handler: Handler | None, msg: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"k": _REPLY, "rid": msg["rid"]}
        if handler is None:
            reply.update(error="unknown_kind", message=f"no handler for {str(msg.get('k'))[:40]!r}")
        else:
            try:
                reply["r"] = await handler(msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                code = getattr(exc, "code", None)
                if not isinstance(code, str):
                    log.exception("bus request handler failed", kind=msg.get("k"))
                    code = "internal_error"
                reply.update(error=code, message=str(getattr(exc, "message", "") or ""))
        sender = msg.get("from")
        if isinstance(sender, str):
            self.post(sender, reply)
