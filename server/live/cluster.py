"""This node's part of the cluster, built by the composition root when a Redis URL is set
(docs/architecture.md "Seams for the cluster"; cluster contract "server/live/ additions").

``NodeCluster(settings, hub, hub_live, node_id=..., url=...)`` builds, on one Redis client
(``server.cluster.redis_client.connect``): the node bus, the leases and meeting ownership, the
node registry (load from the hub unless ``load`` is given), the ``ClusterGateway`` the websocket
endpoint talks to instead of the hub, and ``ClusterLiveMeetings``, the LiveMeetings port the
domain gets instead of ``hub_live``. ``start()`` subscribes the bus, registers the node and starts
the upkeep tasks (after the hub started); ``close()`` undoes it in reverse (before the hub stops).
``attach_cluster(app, ...)`` does the same for an aiohttp application (a cleanup context).
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Awaitable, Callable

from aiohttp import web

from signaling.live.hub import Hub

from ..cluster.bus import NodeBus
from ..cluster.leases import Leases
from ..cluster.ownership import Ownership
from ..cluster.redis_client import connect
from ..cluster.registry import NodeRegistry
from ..config import Settings, default_node_id
from .cluster_meetings import ClusterLiveMeetings
from .gateway import ClusterGateway
from .meetings import HubLiveMeetings


class NodeCluster:
    def __init__(self, settings: Settings, hub: Hub, hub_live: HubLiveMeetings, *, node_id: str = "",
                 url: str = "", load: Callable[[], dict[str, Any]] | None = None,
                 on_claimed: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.hub = hub
        self.node_id = node_id or settings.node_id or default_node_id()
        self.redis, self.prefix = connect(settings.redis_url)
        self.bus = NodeBus(self.redis, self.prefix, self.node_id)
        self.leases = Leases(self.redis, self.prefix, self.node_id)
        self.ownership = Ownership(self.leases, self.node_id)
        self.registry = NodeRegistry(self.redis, self.prefix, self.node_id, url or settings.base_url,
                                     load or self.load)
        self.gateway = ClusterGateway(hub, self.bus, self.ownership, self.registry, self.node_id,
                                      max_message_bytes=settings.ws_max_message_bytes, on_claimed=on_claimed)
        self.live = ClusterLiveMeetings(hub_live, self.ownership, self.bus, self.node_id, registry=self.registry)

    def load(self) -> dict[str, Any]:
        """This node's load for the registry: participants and meetings of the meetings it owns."""
        owned = [room_id for room_id in self.ownership.owned() if self.hub.has_meeting(room_id)]
        return {"participants": sum(self.hub.participant_count(r) for r in owned), "streams": 0,
                "meetings": owned}

    async def start(self) -> None:
        await self.bus.start()
        await self.registry.start()
        self.gateway.start()
        self.live.start()

    async def close(self) -> None:
        await self.gateway.close()
        await self.live.close()
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
