"""The LiveMeetings port on a cluster: every call reaches the node that owns the meeting
(docs/architecture.md "Seams for the cluster", "REST from any node"; cluster contract
``cluster_meetings.py``).

``ClusterLiveMeetings(local, ownership, bus, node_id)``: for a room whose meeting lease this node
holds, the call goes to ``local`` (this node's ``HubLiveMeetings``); held by another node, it is a
bus request ``{"k": "live", "op", "room", "args"}`` answered once the owner's own HubLiveMeetings
acted (``{"v": result}``); held by nobody, the answer is the one for "no meeting" (False, None, 0,
nothing done). The owner answers ``{"moved": True}`` when it does not hold the lease (any more): the
owner is looked up once more. An owner that cannot be reached (gone, no answer within
``timeout``, Redis away) raises the domain's ``Unavailable`` (503, code ``unavailable``); an error
the owner's port raised comes back as the same domain error (``room_full`` -> Conflict).

``has_meeting`` stays synchronous (room views render it): it answers from this node's hub and from
the meetings the other nodes announce in the registry (refreshed every ``REFRESH_SECONDS``).
``subscribe`` delivers this node's live events only (webhooks and metrics run per node; nothing is
forwarded between nodes), and ``idle`` waits for this node's queued work only.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import structlog
from redis.exceptions import RedisError

from ..cluster.bus import NodeBus
from ..cluster.errors import RemoteError, Unreachable
from ..cluster.ownership import Ownership
from ..cluster.registry import NodeRegistry
from ..domain.errors import ApiError, Conflict, NotFound, Unavailable
from ..domain.live_meetings import LiveListener
from ..store.records import Room
from .meetings import HubLiveMeetings

log = structlog.get_logger("antechamber.cluster")

REQUEST_SECONDS = 5.0
REFRESH_SECONDS = 1.0
_OPS = frozenset({"end_meeting", "extend_meeting", "room_updated", "member_removed", "member_updated", "kick_participant",
                  "set_participant_role", "announce", "send_to", "participant_name", "participant_count"})
_ERRORS: dict[str, type[ApiError]] = {"room_full": Conflict, "conflict": Conflict, "not_found": NotFound,
                                      "no_end_time": Conflict}


class ClusterLiveMeetings:
    def __init__(self, local: HubLiveMeetings, ownership: Ownership, bus: NodeBus, node_id: str, *,
                 registry: NodeRegistry | None = None, timeout: float = REQUEST_SECONDS) -> None:
        self.local, self.ownership, self.bus, self.node_id = local, ownership, bus, node_id
        self.registry, self.timeout = registry, timeout
        self._elsewhere: frozenset[str] = frozenset()    # rooms other nodes announce meetings of
        self._task: asyncio.Task | None = None
        bus.on("live", self._serve)

    def start(self) -> None:
        if self.registry is not None:
            self._task = asyncio.get_running_loop().create_task(self._refresh())

    async def close(self) -> None:
        # cancelled again until it ends: redis-py sometimes swallows a cancel in mid-command
        while self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=1)

    # --- routing ---------------------------------------------------------------------------------

    async def _call(self, room_id: str, op: str, args: list[Any], none: Any) -> Any:
        for _ in range(2):
            try:
                owner = await self.ownership.owner(room_id)
            except (RedisError, OSError):
                raise Unavailable("the cluster's Redis cannot be reached") from None
            if owner is None or (owner == self.node_id and self.ownership.held(room_id) is None):
                return none
            if owner == self.node_id:
                return await getattr(self.local, op)(*args)
            wire_args = [args[0].to_doc()] if op == "room_updated" else args
            try:
                reply = await self.bus.request(owner, {"k": "live", "op": op, "room": room_id, "args": wire_args},
                                               timeout=self.timeout)
            except Unreachable:
                log.warning("meeting owner unreachable", room_id=room_id, owner=owner, op=op)
                raise Unavailable("the node running this meeting cannot be reached; try again") from None
            except RemoteError as err:
                kind = _ERRORS.get(err.code)
                if kind is None:
                    raise Unavailable("the node running this meeting failed to act") from None
                raise kind(err.message or err.code, code=err.code) from None
            if not reply.get("moved"):
                return reply.get("v", none)
        return none

    async def _serve(self, msg: dict[str, Any]) -> dict[str, Any]:
        """The owner's side of a ``live`` request: its own HubLiveMeetings acts."""
        op, room_id, args = msg.get("op"), msg.get("room"), list(msg.get("args") or [])
        if op not in _OPS or not isinstance(room_id, str):
            raise ValueError(f"unknown live operation {str(op)[:40]!r}")
        if self.ownership.held(room_id) is None:
            return {"moved": True}
        if op == "room_updated":
            args = [Room.from_doc(args[0])]
        return {"v": await getattr(self.local, op)(*args)}

    async def _refresh(self) -> None:
        assert self.registry is not None
        while True:
            try:
                nodes = await self.registry.nodes()
                self._elsewhere = frozenset(r for n in nodes if n.node_id != self.node_id for r in n.meetings)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("meeting view not refreshed", error=type(exc).__name__)
            await asyncio.sleep(REFRESH_SECONDS)

    # --- the port ----------------------------------------------------------------------------------

    def has_meeting(self, room_id: str) -> bool:
        return self.local.has_meeting(room_id) or room_id in self._elsewhere

    async def end_meeting(self, room_id: str, reason: str) -> None:
        await self._call(room_id, "end_meeting", [room_id, reason], None)

    async def room_updated(self, room: Room) -> None:
        await self._call(room.room_id, "room_updated", [room], None)

    async def member_removed(self, room_id: str, member_id: str) -> None:
        await self._call(room_id, "member_removed", [room_id, member_id], None)

    async def member_updated(self, room_id: str, member_id: str, base_role: str,
                             custom_permissions: dict[str, bool]) -> None:
        await self._call(room_id, "member_updated", [room_id, member_id, base_role, custom_permissions], None)

    async def kick_participant(self, room_id: str, participant_id: str) -> bool:
        return bool(await self._call(room_id, "kick_participant", [room_id, participant_id], False))

    async def set_participant_role(self, room_id: str, participant_id: str, role: str) -> bool | None:
        return await self._call(room_id, "set_participant_role", [room_id, participant_id, role], None)

    async def extend_meeting(self, room_id: str, minutes: int) -> int | None:
        return await self._call(room_id, "extend_meeting", [room_id, minutes], None)

    async def announce(self, room_id: str, message: dict[str, Any]) -> bool:
        return bool(await self._call(room_id, "announce", [room_id, message], False))

    async def send_to(self, room_id: str, participant_id: str, message: dict[str, Any]) -> bool:
        return bool(await self._call(room_id, "send_to", [room_id, participant_id, message], False))

    async def participant_name(self, room_id: str, participant_id: str) -> str | None:
        return await self._call(room_id, "participant_name", [room_id, participant_id], None)

    async def participant_count(self, room_id: str) -> int:
        return int(await self._call(room_id, "participant_count", [room_id], 0) or 0)

    def subscribe(self, listener: LiveListener) -> Callable[[], None]:
        return self.local.subscribe(listener)

    async def idle(self) -> None:
        await self.local.idle()
