"""What the websocket transport talks to on a cluster node instead of the bare Hub: the
``ClusterGateway`` (docs/architecture.md "Seams for the cluster", "Signaling from any node";
cluster contract ``gateway.py``).

Same surface as the hub for signaling/transport/websocket.py: ``messages``, ``connect``,
``handle``, ``disconnected``. A new websocket is a participant of this node's hub until its
``join`` says which room it wants:

- the room's meeting is owned here (``ownership.held``) -> the hub handles it, as on one node;
- owned by another node -> the websocket is relayed there (server/live/relay.py): the join goes up
  as a bus request and, once the owner handled it, every later request goes up in order and the
  owner's frames come down; the hub forgets the stand-in participant;
- owned by nobody -> placement (``placement.choose`` over the registry's ready nodes): this node
  claims the meeting lease and handles the join (``on_claimed`` may first restore the meeting from
  its mirror), or the join is relayed to the chosen node, which claims on receiving it. A lost
  claim race looks the owner up again (a few times) and relays.

Split-brain guard: before acting on a message for a local room, the meeting lease must still be
valid here (``ownership.held``, a local clock check); otherwise the room is handed over
(``hub.hand_over(room_id, "moved")``: everyone is told to reconnect) and the message is not acted
on. A lost lease (``ownership.on_lost``) hands the room over at once. Rooms that are no longer live
here give their lease back (checked every ``MAINTAIN_SECONDS``), relayed sessions whose edge node
left the registry are put under the reconnect grace, and those whose meeting lease expired or
moved away from their owner lose it
(``EdgeSessions.owner_lost``: the edge re-joins the new owner over the same socket, rejoin.py).
Redis unreachable while placing a join -> ``error {code: "unavailable"}``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

import structlog
from redis.exceptions import RedisError

from signaling.errors import RoomNotFound, Unavailable
from signaling.live.hub import Hub
from signaling.live.participant import CONNECTED, Connection, Participant
from signaling.wire.protocol import Request

from ..cluster.bus import NodeBus
from ..cluster.errors import Unreachable
from ..cluster.ownership import Ownership
from ..cluster.placement import choose
from ..cluster.registry import NodeRegistry
from .rejoin import Move, Rejoins
from .relay import EdgeSession, EdgeSessions, Moved, OwnerSessions

log = structlog.get_logger("antechamber.cluster")

MAINTAIN_SECONDS = 2.0      # lease give-back and node checks
PLACE_ATTEMPTS = 3          # owner look-ups for one join (claim races, a moved owner)
_UNREACHABLE = "the meeting cannot be reached right now; try again shortly"


class ClusterGateway:
    def __init__(self, hub: Hub, bus: NodeBus, ownership: Ownership, registry: NodeRegistry | None,
                 node_id: str, *, max_message_bytes: int = 64 * 1024,
                 on_claimed: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.hub, self.bus, self.ownership, self.registry = hub, bus, ownership, registry
        self.node_id = node_id
        self.on_claimed = on_claimed        # e.g. restore the meeting from its mirror
        self.edge = EdgeSessions(bus)
        self.owner = OwnerSessions(bus, hub.connect, self._handle_relayed, hub.disconnected, max_message_bytes)
        self.rejoins = Rejoins(hub, self.edge, self._join, self.disconnected)   # owner lost: re-join
        bus.on_gone(self._node_gone)
        ownership.on_lost(self._lease_lost)
        self._idle: set[str] = set()
        self._restoring: dict[str, asyncio.Task] = {}     # room id -> on_claimed running
        self._task: asyncio.Task | None = None

    @property
    def messages(self):
        return self.hub.messages

    # --- life ------------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._maintain())

    def shutdown(self, reason: str = "draining") -> None:
        """This node stops: relayed clients are told ``reconnect {reason}`` and their sockets closed
        (their owners keep them under the reconnect grace). Call it with the hub's shutdown."""
        self.rejoins.stop(reason)
        self.edge.close_all(reason)

    async def close(self) -> None:
        # cancelled again until it ends: redis-py sometimes swallows a cancel in mid-command
        while self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=1)
        self.shutdown()

    # --- the transport's surface -------------------------------------------------------------------

    def connect(self, connection: Connection) -> Participant:
        return self.hub.connect(connection)

    async def handle(self, p: Participant, req: Request) -> None:
        if self.rejoins.handle(p, req):      # its socket is moving to the meeting's new owner
            return
        session = self.edge.of(p)
        if session is not None:
            if req.type == "join":
                await self._join_again(session, req)
            else:
                self.edge.up(session, req)
        elif req.type == "join" and p.state == CONNECTED:
            await self._join(p, req)
        else:
            await self._handle_local(p, req)

    def disconnected(self, p: Participant, reason: str = "disconnected") -> None:
        if self.rejoins.disconnected(p, reason):
            return
        if not self.edge.gone(p, reason):
            self.hub.disconnected(p, reason)

    # --- join: here, relayed, or placed ------------------------------------------------------------

    async def _join(self, p: Participant, req: Request, move: Move | None = None) -> None:
        """Route ``p``'s join: here, relayed, or placed; ``move``: a re-join for a relayed socket
        whose owner was lost (its answer goes to the move, not to the socket)."""
        try:
            info = await self.hub.directory.resolve(req["roomName"])
            if info is None:
                raise RoomNotFound()
            room_id = info.room_id
            unreachable: set[str] = set()       # placed there, but it did not answer
            for _ in range(PLACE_ATTEMPTS):
                owner = await self.ownership.owner(room_id)
                placed = owner is None
                if placed:
                    owner = await self._place(unreachable)
                if owner == self.node_id:
                    if await self._claim(room_id):
                        await (self.hub.handle(p, req) if move is None else move.here(req))
                        return
                elif await self._relay(p, owner, room_id, req, move):
                    return
                elif placed:
                    unreachable.add(owner)
        except (RedisError, OSError) as exc:
            log.warning("join not placed: Redis unreachable", error=type(exc).__name__)
            raise Unavailable(_UNREACHABLE) from None
        raise Unavailable(_UNREACHABLE)

    async def _join_again(self, session: EdgeSession, req: Request) -> None:
        """A join on a relayed socket (e.g. after a refused one, maybe for another room): the owner
        handles it if it owns that room; if not, this socket is routed afresh."""
        try:
            if await self.edge.join(session, req):
                session.join = {k: v for k, v in req.data.items() if k != "resumeToken"}
                return
        except Unreachable:
            self.edge.owner_lost(session.sid)
            return
        self.edge.drop(session)
        connection = session.connection
        if connection is not None:      # a fresh participant of this hub speaks through the socket
            await self._join(self.hub.connect(connection), req)

    async def _place(self, exclude: set[str]) -> str:
        """The node a new meeting goes to: the least loaded ready one but ``exclude`` (this one
        without a registry)."""
        if self.registry is None:
            return self.node_id
        chosen = choose([n for n in await self.registry.nodes() if n.node_id not in exclude], self.node_id)
        return chosen.node_id if chosen is not None else self.node_id

    async def _claim(self, room_id: str) -> bool:
        """Own the room's meeting (or own it already); False: another node won the lease. Joins
        racing a fresh claim wait until ``on_claimed`` (the restore from the mirror) is done, so
        none of them opens an empty meeting that the restore would then find live and skip."""
        if self.ownership.held(room_id) is None:
            if await self.ownership.claim(room_id) is None:
                return False
            if self.on_claimed is not None and room_id not in self._restoring:
                self._restoring[room_id] = asyncio.get_running_loop().create_task(self._claimed(room_id))
        restoring = self._restoring.get(room_id)
        if restoring is not None:
            await asyncio.shield(restoring)
        return True

    async def _claimed(self, room_id: str) -> None:
        try:
            assert self.on_claimed is not None
            await self.on_claimed(room_id)
        except Exception:
            log.exception("on_claimed failed", room_id=room_id)
        finally:
            self._restoring.pop(room_id, None)

    async def _relay(self, p: Participant, owner: str, room_id: str, req: Request, move: Move | None = None) -> bool:
        """Relay ``p``'s join to ``owner``; True once handled there, False if it does not own the room."""
        session = self.edge.open(p, owner, room_id, move.join if move else req.data,
                                 on_reply=move.relayed_answer if move else None)
        try:
            handled = await self.edge.join(session, req)
        except Unreachable:
            self.edge.drop(session)
            return False
        except BaseException:
            self.edge.drop(session)
            raise
        if not handled:
            self.edge.drop(session)
            return False
        self.hub.disconnected(p, "relayed")     # the participant lives on the owner now
        return True

    # --- local handling, with the split-brain guard --------------------------------------------------

    async def _guard(self, room_id: str) -> bool:
        """True if this node may act on ``room_id``'s meeting; else hands it over."""
        if not room_id or self.ownership.may_act(room_id):     # held, or Redis away (ownership.py)
            return True
        await self.ownership.settle(room_id)                   # a lease being acquired anew
        if self.ownership.may_act(room_id):
            return True
        if self.hub.room(room_id) is not None:
            log.warning("meeting lease not held: handing the meeting over", room_id=room_id)
            self.hub.hand_over(room_id, "moved")
        return False

    async def _handle_local(self, p: Participant, req: Request) -> None:
        if await self._guard(p.room_id):
            await self.hub.handle(p, req)

    async def _handle_relayed(self, p: Participant, req: Request) -> None:
        """A request relayed from an edge (relay.OwnerSessions); Moved for a join of a room this
        node does not own and cannot claim."""
        if req.type != "join" or p.state != CONNECTED:
            await self._handle_local(p, req)
            return
        info = await self.hub.directory.resolve(req["roomName"])
        if info is not None:
            try:
                if not await self._claim(info.room_id):
                    raise Moved()
            except (RedisError, OSError):
                raise Unavailable(_UNREACHABLE) from None
        await self.hub.handle(p, req)

    # --- what happens to leases and nodes --------------------------------------------------------------

    def _lease_lost(self, room_id: str) -> None:
        if self.hub.room(room_id) is not None:
            self.hub.hand_over(room_id, "moved")

    def _node_gone(self, node_id: str) -> None:
        """A message to ``node_id`` reached nobody: it left (or crashed)."""
        self.edge.node_lost(node_id)
        self.owner.edge_lost(node_id)

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(MAINTAIN_SECONDS)
            try:
                await self._release_idle()
                await self._check_nodes()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cluster upkeep failed", error=type(exc).__name__)

    async def _release_idle(self) -> None:
        """Give back the leases of rooms that have not been live here for one whole round."""
        idle = {room_id for room_id in self.ownership.owned() if self.hub.room(room_id) is None}
        for room_id in idle & self._idle:
            await self.ownership.release(room_id)
        self._idle = idle - self._idle

    async def _check_nodes(self) -> None:
        if self.registry is None:
            return
        for node_id in self.owner.edges():
            if node_id != self.node_id and await self.registry.node(node_id) is None:
                self.owner.edge_lost(node_id)
        # a relayed session's owner is the meeting lease's holder: it is lost when the lease
        # expired or moved (a dead owner's registry key expires a little later than its leases)
        owners: dict[str, str | None] = {}      # room id -> lease holder, one look-up per room
        for session in [s for s in self.edge.sessions.values() if s.token and s.on_reply is None]:
            if session.room_id not in owners:
                owners[session.room_id] = await self.ownership.owner(session.room_id)
            if owners[session.room_id] != session.owner:    # its lease expired or moved
                self.edge.owner_lost(session.sid)

    def stats(self) -> dict[str, Any]:
        return {"relayed_out": len(self.edge.sessions), "relayed_in": len(self.owner.sessions)}
