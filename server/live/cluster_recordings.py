"""Recording from any node (docs/architecture.md "Seams for the cluster", "REST from any node").

A recording runs where the meeting's media is: on the node that owns the meeting. REST may reach
any node, so on a cluster node the REST layer's recording service is a ``ClusterRecordings``: it
is this node's ``RecordingService`` for everything (listing, media, links, deletes), except that
``start`` is asked of the meeting's owner and ``stop`` of the node recording it, over the bus
(``{"k": "recording", "op": "start" | "stop"}``), answering once that node acted. Refusals come
back as the same API errors (status, code, message); a node that cannot be reached is 503
``unavailable``.
"""

from __future__ import annotations

from typing import Any

import structlog
from redis.exceptions import RedisError

from ..cluster.bus import NodeBus
from ..cluster.errors import RemoteError, Unreachable
from ..cluster.ownership import Ownership
from ..domain.errors import ApiError, Unavailable
from ..domain.recordings.service import RecordingService
from ..store.records import Recording

log = structlog.get_logger("antechamber.cluster")

KIND = "recording"
TIMEOUT_SECONDS = 15.0      # a stop waits for the file to be finalized on the recording node


class ClusterRecordings:
    def __init__(self, local: RecordingService, ownership: Ownership, bus: NodeBus, node_id: str) -> None:
        self.local, self.ownership, self.bus, self.node_id = local, ownership, bus, node_id
        bus.on(KIND, self._handle)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.local, name)

    async def start(self, room_id: str) -> Recording:
        """Start recording the room's meeting on the node that owns it."""
        try:
            owner = await self.ownership.owner(room_id)
        except (RedisError, OSError):
            raise Unavailable("the cluster's Redis cannot be reached") from None
        if owner is None or owner == self.node_id:
            return await self.local.start(room_id)
        return await self._ask(owner, {"k": KIND, "op": "start", "room": room_id})

    async def stop(self, recording_id: str) -> Recording:
        """Stop a recording on the node writing it."""
        rec = await self.local.get(recording_id)
        if self.local.is_running(recording_id) or rec.node_id in ("", self.node_id):
            return await self.local.stop(recording_id)
        return await self._ask(rec.node_id, {"k": KIND, "op": "stop", "id": recording_id})

    async def _ask(self, node: str, msg: dict[str, Any]) -> Recording:
        try:
            reply = await self.bus.request(node, msg, timeout=TIMEOUT_SECONDS)
        except Unreachable:
            log.warning("recording node unreachable", node=node, op=msg["op"])
            raise Unavailable("the node running this meeting cannot be reached; try again") from None
        except RemoteError:
            raise Unavailable("the node running this meeting failed to act") from None
        refused = reply.get("refused")
        if refused:
            raise ApiError(refused["message"], code=refused["code"], status=refused["status"])
        return Recording.from_doc(reply["recording"])

    async def _handle(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Another node's REST call: act here and answer with the recording, or the refusal."""
        try:
            if msg.get("op") == "start":
                rec = await self.local.start(str(msg.get("room", "")))
            else:
                rec = await self.local.stop(str(msg.get("id", "")))
        except ApiError as err:
            return {"refused": {"status": err.status, "code": err.code, "message": err.message}}
        return {"recording": rec.to_doc()}
