"""Re-joining the new owner for a relayed websocket whose owner node was lost, over the same socket
(docs/architecture.md "Seams for the cluster", "Signaling from any node"; docs/protocol.md "Moving
between nodes"; issue 11 "Faults", kill -9 of the owner).

When the owner of a relayed session is lost (``EdgeSessions.owner_lost``: a post reached nobody,
the owner left the registry, the meeting's lease moved), the edge keeps the client's websocket and
joins again for it: a ``join`` with the kept data of its original join plus its resume token (both
learnt without decoding frames: relay.py), routed exactly as a fresh join (``route`` is the
gateway's: placement -> a node claims the meeting and restores it from its mirror -> the token
resumes the same participant there, here or relayed), tried again with a backoff for up to
``REJOIN_SECONDS`` (a dead owner's lease expires after ~5 s: until then claims fail). The new
owner's answer is not passed on as is:

- ``joined {resumed: true}`` -> ``media_reset {iceServers?, iceTransportPolicy?, participants,
  knocks?}``: the SFU is a new one (new peer connections), and the roster is the new owner's;
- ``knock_status`` (a knocker: same knock, place and hold message) -> passed on without the
  internal join's id: it keeps waiting, no media_reset;
- ``joined`` without ``resumed`` (a knocker admitted while away) and ``ended`` -> passed on;
- ``error {code: unavailable}`` (and an owner that cannot be reached) -> tried again; any other
  answer, or no success in time -> the fallback: ``reconnect {reason: owner_lost}``, socket closed.

While moving, a request from the socket that carries an id is answered ``error {code:
unavailable}``, one without an id is dropped; ``leave`` ends the move and closes the socket. The
socket closing meanwhile is passed on (the new owner keeps the place for the reconnect grace)
once the move is done. The token and the room key are never logged.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

import structlog
from redis.exceptions import RedisError

from signaling.errors import SignalingError, Unavailable
from signaling.live.hub import Hub
from signaling.live.participant import Connection, Participant
from signaling.wire.protocol import Request

from ..cluster.errors import Unreachable
from .relay import EdgeSession, EdgeSessions, decoded

log = structlog.get_logger("antechamber.cluster")

REJOIN_SECONDS = 15.0                     # how long the edge keeps trying
BACKOFF_SECONDS = (0.1, 0.2, 0.4, 0.8, 1.0)
_MOVING = "the meeting is moving to another node; try again in a moment"
_RESET_FIELDS = ("iceServers", "iceTransportPolicy", "participants", "knocks")
_PASSED_ON = ("joined", "knock_status", "ended")

Route = Callable[[Participant, Request, "Move"], Awaitable[None]]


class _Capture:
    """The Connection a re-join handled on this node speaks through until its answer is known:
    what the hub sends is kept, then the participant is attached to the client's socket."""

    def __init__(self, socket: Connection) -> None:
        self.remote, self.codec = socket.remote, socket.codec
        self.sent: list[dict[str, Any] | str | bytes] = []
        self.closed_with: dict[str, Any] | None = None
        self.closed = False
        self.participant: Participant | None = None

    def send(self, message: dict[str, Any] | str | bytes) -> None:
        self.sent.append(message)

    def close(self, message: dict[str, Any] | None = None) -> None:
        self.closed, self.closed_with = True, message

    def bind(self, participant: Participant | None) -> None:
        self.participant = participant


class Move:
    """One relayed socket re-joining the meeting after its owner was lost."""

    def __init__(self, rejoins: "Rejoins", lost: EdgeSession) -> None:
        self.rejoins, self.lost = rejoins, lost
        self.stand_in = lost.participant        # the edge's participant of the socket
        self.socket: Connection = lost.participant.connection   # type: ignore[assignment]
        self.outcome: str | None = None         # "done" | "retry" | "failed", set by the answer
        self.socket_gone: str | None = None     # the socket closed meanwhile (its reason)
        self.fresh: Participant | None = None   # a local attempt's participant
        self.speaker: Participant = self.stand_in   # whom the socket speaks for once moved
        self.started = time.monotonic()
        self.seconds: float | None = None       # how long the move took (tests, logs)
        self.task: asyncio.Task | None = None

    @property
    def join(self) -> dict[str, Any]:
        """The session's original join data (kept by the edge when it was relayed)."""
        return self.lost.join

    def request(self) -> Request:
        return Request("join", None, {**self.lost.join, "resumeToken": self.lost.token})

    # --- the attempts ------------------------------------------------------------------------

    async def run(self) -> None:
        deadline = self.started + self.rejoins.seconds
        attempt = 0
        while True:
            self.outcome = None
            try:
                await self.rejoins.route(self.stand_in, self.request(), self)
            except SignalingError as err:
                self.outcome = "retry" if err.code == Unavailable.code else "failed"
            except (Unreachable, RedisError, OSError):
                self.outcome = "retry"
            if self.outcome == "done":
                break
            self._undo()
            wait = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
            if self.outcome != "retry" or self.socket_gone or time.monotonic() + wait > deadline:
                self._give_up()
                return
            attempt += 1
            await asyncio.sleep(wait)
        self.seconds = time.monotonic() - self.started
        log.info("relayed session moved to the new owner", room_id=self.lost.room_id, old_owner=self.lost.owner,
                 seconds=round(self.seconds, 3), attempts=attempt + 1)

    def _undo(self) -> None:
        """Forget what a failed attempt left: a relayed session, or a local participant."""
        if self.rejoins.edge.of(self.stand_in) is not None:
            self.rejoins.edge.gone(self.stand_in, "left")
        if self.fresh is not None:
            self.rejoins.hub.disconnected(self.fresh, "left")
            self.fresh = None

    def _give_up(self) -> None:
        self.seconds = time.monotonic() - self.started
        if self.socket_gone:
            return
        log.info("relayed session not moved: the client reconnects", room_id=self.lost.room_id,
                 outcome=self.outcome, seconds=round(self.seconds, 3))
        EdgeSessions.lost(self.lost)

    # --- the answer ---------------------------------------------------------------------------

    def relayed_answer(self, _session: EdgeSession, message: dict[str, Any], close: bool) -> None:
        """The first down-frame of the new relayed session (relay.EdgeSessions._down)."""
        self.answer(message, close)

    def answer(self, message: dict[str, Any], close: bool) -> None:
        kind = message.get("type")
        if kind == "error" and message.get("code") == Unavailable.code and not close:
            self.outcome = "retry"
        elif kind == "joined" and message.get("resumed") and not close:
            reset = {"type": "media_reset", **{k: message[k] for k in _RESET_FIELDS if k in message}}
            self.socket.send(reset)
            self.outcome = "done"
        elif kind in _PASSED_ON:
            passed = {k: v for k, v in message.items() if k != "id"}
            (self.socket.close if close else self.socket.send)(passed)
            self.outcome = "done"
        else:
            self.outcome = "failed"

    async def here(self, req: Request) -> None:
        """This node owns the meeting now: the re-join runs on its hub through a ``_Capture``, then
        the participant it resumed speaks through the client's socket."""
        hub = self.rejoins.hub
        capture = _Capture(self.socket)
        self.fresh = hub.connect(capture)
        await hub.handle(self.fresh, req)
        if capture.sent:
            first, close = capture.sent[0], False
        elif capture.closed and capture.closed_with is not None:
            first, close = capture.closed_with, True
        else:
            self.outcome = "failed"
            return
        message = first if isinstance(first, dict) else decoded(first)
        holder = capture.participant
        self.answer(message or {}, close)
        if self.outcome != "done":
            return
        self.fresh = None
        if holder is not None and not close:
            holder.attach(self.socket)      # from now on straight to the socket
            self.speaker = holder
            for later in capture.sent[1:]:
                self.socket.send(later)


class Rejoins:
    """The edge's moves in progress, by the socket's stand-in participant."""

    def __init__(self, hub: Hub, edge: EdgeSessions, route: Route,
                 disconnected: Callable[[Participant, str], None]) -> None:
        self.hub, self.edge, self.route, self.gateway_disconnected = hub, edge, route, disconnected
        self.seconds = REJOIN_SECONDS       # how long one move keeps trying
        self.moves: dict[Participant, Move] = {}
        self.done: list[Move] = []          # the last moves (tests, figures)
        edge.on_owner_lost = self.start

    def start(self, lost: EdgeSession) -> None:
        if lost.participant in self.moves:
            return
        move = self.moves[lost.participant] = Move(self, lost)
        move.task = asyncio.get_running_loop().create_task(self._run(move))

    async def _run(self, move: Move) -> None:
        try:
            await move.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("relayed session move failed", room_id=move.lost.room_id)
            EdgeSessions.lost(move.lost)
        finally:
            if self.moves.get(move.stand_in) is move:
                del self.moves[move.stand_in]
            self.done = [*self.done[-31:], move]
        if move.outcome == "done" and move.socket_gone:     # the new owner is told now
            self.gateway_disconnected(move.speaker, move.socket_gone)

    def handle(self, p: Participant, req: Request) -> bool:
        """A request from a socket that is moving: False if it is not (or its move is done)."""
        move = self.moves.get(p)
        if move is None or move.outcome == "done":
            return False
        if req.type == "leave":
            move.socket_gone = "left"
            move.socket.close({"type": "ok", "id": req.id} if req.id is not None else None)
        elif req.id is not None:
            raise Unavailable(_MOVING)
        return True

    def disconnected(self, p: Participant, reason: str) -> bool:
        """The socket of a moving session closed: passed on once the move is done."""
        move = self.moves.get(p)
        if move is None or move.outcome == "done":
            return False
        move.socket_gone = move.socket_gone or reason
        return True

    def stop(self, reason: str = "draining") -> None:
        """This node stops: moving sockets are told ``reconnect {reason}`` and closed."""
        for move in list(self.moves.values()):
            if move.task is not None:
                move.task.cancel()
            move.socket.close({"type": "reconnect", "reason": reason})
        self.moves.clear()
