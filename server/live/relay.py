"""Signaling relayed between nodes: a participant lives on its meeting's owner node while its
websocket sits on another one, the edge (docs/architecture.md "Seams for the cluster", "Signaling
from any node"; cluster contract ``relay.py``).

Owner side: ``RelayConnection`` is the ``Connection`` port (signaling/live/participant.py) of such a
participant. It encodes every frame with the edge socket's codec (``wire.codec.Codec``, JSON or
msgpack, as the socket would) and posts it to the edge over the node bus:
``{"k": "down", "sid", "f": frame}``; ``close(message)`` adds ``"close": True``. ``OwnerSessions``
receives what edges send up, one ordered queue per session: ``{"k": "up", "sid", "t", "id", "d",
"codec", "remote"}`` is a parsed request handled as if it came from a local socket (errors go back
as ``{"type": "error", ...}`` frames); ``{"k": "gone", "sid", "reason"}`` is the socket closing:
``hub.disconnected(p, reason)``, so the reconnect grace applies. A relayed ``join`` is a bus request:
it is answered ``{"ok": True}`` once handled, or ``{"moved": True}`` when this node does not own
the room (the edge looks the owner up again).

Edge side: ``EdgeSessions`` keeps one session per relayed websocket, keyed by a random sid: every
request read from the socket goes up in order, down-frames are written to the socket
(``send``/``close`` of its WebSocketConnection), the socket closing sends ``gone``. When the owner
node is lost (its inbox has no subscriber any more, it left the registry, or the meeting's lease
moved), ``owner_lost(sid)`` runs: the ``on_owner_lost`` hook (server/live/rejoin.py) re-joins the
new owner for the client over the same socket when the session's resume token and original join
are known; otherwise (or when that fails) the client is told ``{"type": "reconnect", "reason":
"owner_lost"}`` and its socket is closed, so it resumes through any node with its token.

Resume tokens reach the edge without decoding frames: the owner's ``RelayConnection`` adds
``"tok": <token>`` to a down-envelope whenever its participant's token differs from the last one it
sent; the edge keeps it on the session, with the session's original ``join`` data. Both are
secrets (the join may hold a room key): never logged. While a re-join waits for its answer
(``EdgeSession.on_reply``) the next down-frame, the owner's answer, is decoded and given to it
instead of the socket.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import msgpack
import structlog

from signaling.errors import InternalError, SignalingError
from signaling.live.participant import Connection, Participant
from signaling.wire.codec import Codec, EncodeError
from signaling.wire.protocol import Request

from ..cluster.bus import NodeBus
from ..observability.metrics import count_relay

log = structlog.get_logger("antechamber.cluster")

JOIN_TIMEOUT = 5.0      # seconds an edge waits for the owner to handle a relayed join


class Moved(Exception):
    """This node does not own the room a relayed join is for (any more): look the owner up again."""


# --- owner side -----------------------------------------------------------------------------------

class RelayConnection:
    """The Connection port on the owner for a participant whose websocket is on node ``edge``."""

    __slots__ = ("bus", "edge", "sid", "codec", "remote", "participant", "closed", "on_closed", "_token",
                 "__weakref__")

    def __init__(self, bus: NodeBus, edge: str, sid: str, codec: Codec, remote: str,
                 on_closed: Callable[["RelayConnection"], None] | None = None) -> None:
        self.bus, self.edge, self.sid, self.codec, self.remote = bus, edge, sid, codec, remote
        self.participant: Participant | None = None
        self.closed = False
        self.on_closed = on_closed      # the owner's sessions forget it
        self._token: str | None = None  # the resume token last told to the edge

    def bind(self, participant: Participant | None) -> None:
        self.participant = participant

    def _frame(self, message: dict[str, Any] | str | bytes) -> str | bytes | None:
        if not isinstance(message, dict):
            return message
        try:
            return self.codec.encode(message)
        except EncodeError as exc:      # as the socket's writer does: drop it, log its type only
            msg_type = message.get("type")
            log.error("message dropped: cannot encode", codec=self.codec.name, error=type(exc).__name__,
                      type=msg_type if isinstance(msg_type, str) and msg_type.isascii() else None)
            return None

    def _envelope(self, frame: str | bytes | None) -> dict[str, Any]:
        """A down-envelope; it carries ``tok`` when the participant's resume token is new to the edge."""
        envelope: dict[str, Any] = {"k": "down", "sid": self.sid, "f": frame}
        token = self.participant.resume_token if self.participant is not None else None
        if token and token != self._token:
            self._token = envelope["tok"] = token
        return envelope

    def send(self, message: dict[str, Any] | str | bytes) -> None:
        if self.closed:
            return
        frame = self._frame(message)
        if frame is not None:
            self.bus.post(self.edge, self._envelope(frame))
            count_relay("sent", "down")

    def close(self, message: dict[str, Any] | None = None) -> None:
        if self.closed:
            return
        self.closed = True
        frame = self._frame(message) if message is not None else None
        self.bus.post(self.edge, {**self._envelope(frame), "close": True})
        count_relay("sent", "down")
        if self.on_closed is not None:
            self.on_closed(self)


@dataclass(eq=False)
class _Inbound:
    connection: RelayConnection        # its participant is the one the edge's socket speaks for
    queue: deque = field(default_factory=deque)     # (msg, reply future | None)
    running: bool = False


RelayedHandle = Callable[[Participant, Request], Awaitable[None]]


class OwnerSessions:
    """The owner's side of relayed sessions: what edges send up, handled in order per session."""

    def __init__(self, bus: NodeBus, connect: Callable[[Connection], Participant],
                 handle: RelayedHandle, disconnected: Callable[[Participant, str], None],
                 max_message_bytes: int) -> None:
        self.bus, self.connect, self.handle, self.disconnected = bus, connect, handle, disconnected
        self.max_message_bytes = max_message_bytes
        self.sessions: dict[tuple[str, str], _Inbound] = {}     # (edge node, sid) -> session
        bus.on("up", self._up)
        bus.on("gone", self._gone)

    def edges(self) -> set[str]:
        return {edge for edge, _ in self.sessions}

    async def _up(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        key = (msg["from"], msg["sid"])
        count_relay("received", "join" if msg.get("t") == "join" else "up")
        session = self.sessions.get(key)
        if session is None:
            if msg.get("t") != "join":
                return None     # a session this node forgot (moved, or its edge was lost)
            conn = RelayConnection(self.bus, key[0], key[1],
                                   Codec(msg.get("codec") == "msgpack", self.max_message_bytes),
                                   str(msg.get("remote") or ""), self._closed)
            self.connect(conn)      # a participant of this hub, bound to the relay connection
            session = self.sessions[key] = _Inbound(conn)
        reply = asyncio.get_running_loop().create_future() if "rid" in msg else None
        self._enqueue(key, session, msg, reply)
        return await reply if reply is not None else None

    def _closed(self, conn: RelayConnection) -> None:
        key = (conn.edge, conn.sid)
        session = self.sessions.get(key)
        if session is not None and session.connection is conn:
            del self.sessions[key]

    async def _gone(self, msg: dict[str, Any]) -> None:
        count_relay("received", "gone")
        key = (msg["from"], msg["sid"])
        session = self.sessions.get(key)
        if session is not None:
            self._enqueue(key, session, msg, None)

    def edge_lost(self, edge: str) -> None:
        """Node ``edge`` is gone: its sockets are gone too (the reconnect grace applies)."""
        for key, session in list(self.sessions.items()):
            if key[0] == edge:
                self._enqueue(key, session, {"k": "gone", "reason": "disconnected"}, None)

    def _enqueue(self, key: tuple[str, str], session: _Inbound, msg: dict[str, Any],
                 reply: asyncio.Future | None) -> None:
        session.queue.append((msg, reply))
        if not session.running:
            session.running = True
            asyncio.get_running_loop().create_task(self._drain(key, session))

    async def _drain(self, key: tuple[str, str], session: _Inbound) -> None:
        try:
            while session.queue:
                msg, reply = session.queue.popleft()
                if msg["k"] == "gone":
                    self._forget(key, session, str(msg.get("reason") or "disconnected"))
                    return
                outcome = await self._run(key, session, msg)
                if reply is not None and not reply.done():
                    reply.set_result(outcome)
        finally:
            session.running = False
            for _, reply in session.queue:
                if reply is not None and not reply.done():
                    reply.set_result({"moved": True})
            if self.sessions.get(key) is not session:
                session.queue.clear()

    async def _run(self, key: tuple[str, str], session: _Inbound, msg: dict[str, Any]) -> dict[str, Any]:
        req = Request(str(msg["t"]), msg.get("id"), msg.get("d") or {})
        conn = session.connection
        p = conn.participant
        if p is None:   # its connection went to another participant, or nobody (resumed elsewhere)
            return {"ok": True}
        try:
            # its lines carry the relayed session's id (and room) like a local socket's (docs/operations.md)
            where = {"room_id": p.room_id} if p.room_id else {}
            with structlog.contextvars.bound_contextvars(session_id=key[1], **where):
                await self.handle(p, req)
        except Moved:
            self._forget(key, session, "moved")
            return {"moved": True}
        except SignalingError as err:
            conn.send(err.to_message(req.id))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("relayed handler failed", participant_id=p.participant_id)
            conn.send(InternalError().to_message(req.id))
        return {"ok": True}

    def _forget(self, key: tuple[str, str], session: _Inbound, reason: str) -> None:
        if self.sessions.get(key) is session:
            del self.sessions[key]
        session.connection.closed = True       # nothing more goes down for this sid
        p = session.connection.participant
        if p is not None:
            session.connection.bind(None)
            self.disconnected(p, reason)


# --- edge side ------------------------------------------------------------------------------------

ReplyHandler = Callable[["EdgeSession", dict[str, Any], bool], None]


@dataclass(eq=False)
class EdgeSession:
    sid: str
    owner: str
    room_id: str
    participant: Participant     # the edge's stand-in: its connection is the client's websocket
    join: dict[str, Any] = field(default_factory=dict, repr=False)   # the original join's data (secret)
    token: str | None = field(default=None, repr=False)              # its resume token (secret)
    on_reply: ReplyHandler | None = field(default=None, repr=False)  # a re-join waits for its answer

    @property
    def connection(self) -> Connection | None:
        return self.participant.connection


class EdgeSessions:
    """The edge's relayed websockets (sid -> session) and their traffic with the owners."""

    def __init__(self, bus: NodeBus) -> None:
        self.bus = bus
        self.sessions: dict[str, EdgeSession] = {}
        self._by_participant: dict[Participant, EdgeSession] = {}
        self.on_owner_lost: Callable[[EdgeSession], None] | None = None    # the re-join (rejoin.py)
        bus.on("down", self._down)

    def of(self, participant: Participant) -> EdgeSession | None:
        return self._by_participant.get(participant)

    def owners(self) -> set[str]:
        return {s.owner for s in self.sessions.values()}

    def open(self, participant: Participant, owner: str, room_id: str, join: dict[str, Any] | None = None,
             on_reply: ReplyHandler | None = None) -> EdgeSession:
        """A new session (new sid) of ``participant``'s socket with ``owner``; ``join``: the data of
        the join that opens it (kept for a re-join, without any resume token)."""
        kept = {k: v for k, v in (join or {}).items() if k != "resumeToken"}
        session = EdgeSession(secrets.token_urlsafe(12), owner, room_id, participant, kept, on_reply=on_reply)
        self.sessions[session.sid] = session
        self._by_participant[participant] = session
        return session

    def drop(self, session: EdgeSession) -> None:
        """Forget ``session`` here (the owner is not told)."""
        if self.sessions.get(session.sid) is session:
            del self.sessions[session.sid]
        if self._by_participant.get(session.participant) is session:
            del self._by_participant[session.participant]

    def _up_message(self, session: EdgeSession, req: Request) -> dict[str, Any]:
        conn = session.connection
        codec = getattr(conn, "codec", None)
        return {"k": "up", "sid": session.sid, "t": req.type, "id": req.id, "d": req.data,
                "codec": codec.name if codec is not None else "json",
                "remote": getattr(conn, "remote", "") or ""}

    async def join(self, session: EdgeSession, req: Request) -> bool:
        """Relay a join and wait until the owner handled it: True, or False if it does not own the
        room (any more). Unreachable if the owner cannot be reached."""
        count_relay("sent", "join")
        reply = await self.bus.request(session.owner, self._up_message(session, req), timeout=JOIN_TIMEOUT)
        return not reply.get("moved")

    def up(self, session: EdgeSession, req: Request) -> None:
        """Relay a request (in order with everything else this node sends the owner)."""
        self.bus.post(session.owner, self._up_message(session, req))
        count_relay("sent", "up")

    def gone(self, participant: Participant, reason: str) -> bool:
        """The socket of ``participant`` closed: tell its owner; False if it is not relayed."""
        session = self._by_participant.get(participant)
        if session is None:
            return False
        self.drop(session)
        self.bus.post(session.owner, {"k": "gone", "sid": session.sid, "reason": reason})
        count_relay("sent", "gone")
        return True

    async def _down(self, msg: dict[str, Any]) -> None:
        count_relay("received", "down")
        session = self.sessions.get(msg.get("sid", ""))
        if session is None or msg.get("from") != session.owner:
            return
        if isinstance(msg.get("tok"), str):
            session.token = msg["tok"]
        conn, frame = session.connection, msg.get("f")
        if conn is None:
            return
        if session.on_reply is not None:     # the owner's answer to a re-join: not for the socket as is
            handler, session.on_reply = session.on_reply, None
            message = decoded(frame)
            if message is not None or msg.get("close"):
                if msg.get("close"):
                    self.drop(session)
                handler(session, message or {}, bool(msg.get("close")))
                return
        if msg.get("close"):
            self.drop(session)
            conn.close(frame)
        elif frame is not None:
            conn.send(frame)

    def node_lost(self, node_id: str) -> None:
        """Node ``node_id`` is gone: every session it owned lost its owner."""
        for session in [s for s in self.sessions.values() if s.owner == node_id]:
            self.owner_lost(session.sid)

    def owner_lost(self, sid: str) -> None:
        """The session's owner is gone: ``on_owner_lost`` re-joins the new owner for the client when
        its token and join are known; otherwise the client is told to reconnect (``lost``)."""
        session = self.sessions.get(sid)
        if session is None:
            return
        self.drop(session)
        log.info("relayed session lost its owner", owner=session.owner, room_id=session.room_id)
        if self.on_owner_lost is not None and session.token and session.join and session.connection is not None:
            self.on_owner_lost(session)
        else:
            self.lost(session)

    @staticmethod
    def lost(session: EdgeSession) -> None:
        """Today's fallback: the client reconnects by itself (resumes with its token) and the
        socket is closed."""
        if session.connection is not None:
            session.connection.close({"type": "reconnect", "reason": "owner_lost"})

    def close_all(self, reason: str) -> None:
        """This node stops: owners are told the sockets went (grace applies), clients to reconnect."""
        for session in list(self.sessions.values()):
            self.gone(session.participant, "disconnected")
            if session.connection is not None:
                session.connection.close({"type": "reconnect", "reason": reason})


def decoded(frame: Any) -> dict[str, Any] | None:
    """A down-frame (JSON text or msgpack bytes, as encoded by the owner) as a message, or None."""
    try:
        message = msgpack.unpackb(frame, raw=False) if isinstance(frame, bytes) else json.loads(frame)
    except Exception:       # not a frame (None), or not one we can read: the socket gets it as is
        return None
    return message if isinstance(message, dict) else None
