"""This node's part of the cluster, built by the composition root when a Redis URL is set
(docs/architecture.md "Seams for the cluster"; cluster contract "server/live/ additions").

``NodeCluster(settings, hub, hub_live, node_id=..., url=...)`` builds, on one Redis client
(``server.cluster.redis_client.connect``): the node bus, the leases and meeting ownership, the
node registry (load from the hub unless ``load`` is given), the meeting mirror (server/live/mirror.py:
a claimed meeting is restored from it, a takeover), the sweeper's and the webhooks' leader leases, the
``ClusterGateway`` the websocket endpoint talks to instead of the hub, and
``ClusterLiveMeetings``, the LiveMeetings port the domain gets instead of ``hub_live``. ``start()``
subscribes the bus, registers the node and starts the upkeep tasks (after the hub started);
``drain()`` hands this node's meetings over (SIGTERM); ``close()`` undoes ``start`` in reverse
(before the hub stops). ``attach_cluster(app, ...)`` does the same for an aiohttp application
(tests build nodes with it).
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Awaitable, Callable

import structlog
from aiohttp import web

from signaling.live.hub import Hub

from ..cluster.bus import NodeBus
from ..cluster.leader import Leader
from ..cluster.leases import Leases
from ..cluster.ownership import Ownership
from ..cluster.redis_client import connect
from ..cluster.registry import NodeRegistry
from ..config import Settings, default_node_id
from .cluster_meetings import ClusterLiveMeetings
from .gateway import ClusterGateway
from .meetings import HubLiveMeetings
from .mirror import MeetingMirror

log = structlog.get_logger("antechamber.cluster")


class NodeCluster:
    def __init__(self, settings: Settings, hub: Hub, hub_live: HubLiveMeetings, *, node_id: str = "",
                 url: str = "", load: Callable[[], dict[str, Any]] | None = None,
                 on_claimed: Callable[[str], Awaitable[Any]] | None = None,
                 on_taken_over: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
                 streams: Callable[[], int] | None = None) -> None:
        self.hub = hub
        self.node_id = node_id or settings.node_id or default_node_id()
        self.redis, self.prefix = connect(settings.redis_url)
        self.bus = NodeBus(self.redis, self.prefix, self.node_id)
        self.leases = Leases(self.redis, self.prefix, self.node_id)
        self.ownership = Ownership(self.leases, self.node_id)
        self.sweeper_leader = Leader(self.leases, "leader:sweeper")
        self.webhooks_leader = Leader(self.leases, "leader:webhooks")   # the webhook delivery loop
        self.mirror = MeetingMirror(self.redis, self.prefix, hub, self.ownership.held)
        self.ownership.on_regained(self.mirror.changed)     # after a Redis outage: written anew
        self.ownership.on_acquired(self._restore)           # inside the claim: racing joins wait
        self._restored: dict[str, dict[str, Any]] = {}      # room id -> snapshot restored, until _claimed
        self._streams = streams or (lambda: 0)
        self._on_taken_over = on_taken_over
        self.registry = NodeRegistry(self.redis, self.prefix, self.node_id, url or settings.internal_base_url,
                                     load or self.load)
        self.gateway = ClusterGateway(hub, self.bus, self.ownership, self.registry, self.node_id,
                                      max_message_bytes=settings.ws_max_message_bytes,
                                      on_claimed=on_claimed or self._claimed)
        self.live = ClusterLiveMeetings(hub_live, self.ownership, self.bus, self.node_id, registry=self.registry)

    def load(self) -> dict[str, Any]:
        """This node's load for the registry: participants and streams of the meetings it owns."""
        owned = [room_id for room_id in self.ownership.owned() if self.hub.has_meeting(room_id)]
        return {"participants": sum(self.hub.participant_count(r) for r in owned), "streams": self._streams(),
                "meetings": owned, "busy": self.hub.media.busy()}

    def on_taken_over(self, callback: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        """``callback(snapshot)`` after a meeting was rebuilt here from another node's mirror."""
        self._on_taken_over = callback

    async def _restore(self, room_id: str) -> None:
        """This node is taking the meeting lease: rebuild the meeting from its mirror (a takeover)
        within the claim, before the lease counts as held, so no join racing the claim opens an
        empty meeting that the restore would then find live and skip."""
        snap = await self.mirror.restore(room_id)
        if snap is not None:
            self._restored[room_id] = snap

    async def _claimed(self, room_id: str) -> None:
        """After a claim that restored the meeting: its mirror is written under this node's lease,
        and ``on_taken_over(snapshot)`` settles what the old owner left (its recording)."""
        snap = self._restored.pop(room_id, None)
        if snap is not None:
            self.mirror.changed(room_id)
            log.info("meeting taken over", room_id=room_id, participants=len(snap.get("participants", ())))
            if self._on_taken_over is not None:
                await self._on_taken_over(snap)

    async def start(self) -> None:
        await self.bus.start()
        await self.registry.start()
        self.mirror.start()
        self.sweeper_leader.start()
        self.webhooks_leader.start()
        self.gateway.start()
        self.live.start()

    async def accepting(self) -> bool:
        """Ready for new meetings: not draining (a readiness check: /readyz turns 503 on SIGTERM)."""
        return self.registry.state == "ready"

    async def drain(self, finish_recordings: Callable[[], Awaitable[None]]) -> None:
        """SIGTERM (docs/deploy.md "Draining a node"): take no new meetings, finish this node's
        recordings, then hand every meeting it owns over (mirror flushed, everyone told to
        reconnect, lease released: the next join claims it elsewhere and resumes everyone)."""
        self.registry.set_state("draining")
        try:
            await finish_recordings()
        except Exception:  # noqa: BLE001 - draining goes on
            log.exception("recordings not finished while draining")
        for room_id in self.ownership.owned():
            try:
                await self.mirror.flush(room_id)
            except Exception:  # noqa: BLE001
                log.exception("mirror not flushed while draining", room_id=room_id)
            self.hub.hand_over(room_id, "draining")
            await self.ownership.release(room_id)
        self.gateway.shutdown()
        log.info("node drained", node_id=self.node_id)

    async def close(self) -> None:
        await self.gateway.close()
        await self.live.close()
        await self.sweeper_leader.close()
        await self.webhooks_leader.close()
        await self.mirror.close()
        await self.registry.close()
        await self.ownership.close()
        await self.bus.close()
        await self.redis.aclose()


def attach_cluster(app: web.Application, settings: Settings, hub: Hub, hub_live: HubLiveMeetings,
                   **options: Any) -> NodeCluster:
    """Build this node's cluster and start/stop it with ``app`` (a cleanup context: add it after
    the hub's, so it starts after the hub and stops before it; relayed sockets are closed on the
    app's shutdown, with the hub's). The caller routes /ws to ``cluster.gateway`` and gives the
    domain ``cluster.live``."""
    cluster = NodeCluster(settings, hub, hub_live, **options)

    async def shutdown(_app: web.Application) -> None:
        cluster.gateway.shutdown()

    app.on_shutdown.append(shutdown)

    async def lifetime(_app: web.Application) -> AsyncIterator[None]:
        await cluster.start()
        yield
        await cluster.close()

    app.cleanup_ctx.append(lifetime)
    return cluster
