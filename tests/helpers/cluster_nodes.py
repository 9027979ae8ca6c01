"""Two (or more) cluster nodes in this process: each a real aiohttp server on its own port, built by
``server.app.create_app`` with its own hub, SFU, bus, registry and ownership, all on one Redis key
prefix and the Redis store, so every node sees the same rooms.

Until server/app.py wires the cluster itself, a node here is ``create_app`` with two additions:
the domain's LiveMeetings port is the node's ``ClusterLiveMeetings`` (given to create_app as a
late-bound stand-in, since it needs the hub create_app builds), and /ws is served by the node's
``ClusterGateway`` (a middleware in front of create_app's /ws route). ``attach_cluster`` starts and
stops the cluster with the app, after the hub. A claimed meeting is restored from its mirror
(``MeetingMirror(cluster.redis, cluster.prefix, hub, cluster.ownership.held)``, started with the
cluster, ``on_claimed=mirror.restore``): the cluster's own mirror when NodeCluster builds one.

``crash(node)`` is as close to ``kill -9`` as one process allows: the node stops everything it
does on Redis without saying goodbye (no registry leave, no lease release, no mirror write, no
hand-over, no reconnect message): its leases and registry key expire by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from typing import Any, AsyncIterator

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from server.app import HUB, create_app
from server.config import Settings
from server.credentials import Credentials, load_or_create
from server.live.cluster import NodeCluster, attach_cluster
from server.live.hub import websocket_handler
from server.live.meetings import HubLiveMeetings
from server.live.mirror import MeetingMirror
from tests.helpers.limits import SUITE_LIMITS
from tests.helpers.redis_server import drop_prefix

API_KEY = "cluster-nodes-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


class LateLive:
    """A LiveMeetings stand-in that forwards to ``target`` once it is set (listeners subscribed
    before that are subscribed to the target then)."""

    def __init__(self) -> None:
        self.target: Any = None
        self._listeners: list = []

    def subscribe(self, listener):
        if self.target is not None:
            return self.target.subscribe(listener)
        self._listeners.append(listener)
        return lambda: None

    def set(self, target: Any) -> None:
        self.target = target
        for listener in self._listeners:
            target.subscribe(listener)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


@dataclass
class Node:
    node_id: str
    client: TestClient
    cluster: NodeCluster
    mirror: MeetingMirror

    @property
    def app(self) -> web.Application:
        return self.client.server.app

    @property
    def hub(self):
        return self.app[HUB]

    def ws_url(self) -> str:
        return str(self.client.make_url("/ws"))


def cluster_app(settings: Settings, credentials: Credentials, node_id: str,
                lease_ttl_ms: int | None = None) -> tuple[web.Application, NodeCluster, MeetingMirror]:
    """create_app's application with this node's cluster attached (see the module docstring);
    ``lease_ttl_ms``: a shorter meeting lease than the cluster's 5 s (faster takeovers in tests)."""
    live = LateLive()
    app = create_app(settings, credentials, live=live)   # type: ignore[arg-type]
    hub = app[HUB]
    cluster = attach_cluster(app, settings, hub, HubLiveMeetings(hub, settings), node_id=node_id)
    if lease_ttl_ms is not None:
        cluster.ownership.ttl_ms = lease_ttl_ms
    mirror = getattr(cluster, "mirror", None)
    if mirror is None:      # a NodeCluster without its own mirror: this one, started with the cluster
        mirror = MeetingMirror(cluster.redis, cluster.prefix, hub, cluster.ownership.held)
        cluster.gateway.on_claimed = mirror.restore

        async def mirrored(_app: web.Application) -> AsyncIterator[None]:
            mirror.start()
            yield
            await mirror.close()

        app.cleanup_ctx.append(mirrored)
    live.set(cluster.live)
    ws = websocket_handler(cluster.gateway, settings)    # type: ignore[arg-type]

    @web.middleware
    async def ws_through_gateway(request: web.Request, handler):
        if request.path == "/ws":
            return await ws(request)
        return await handler(request)

    app.middlewares.append(ws_through_gateway)
    return app, cluster, mirror


async def crash(node: Node) -> None:
    """``node`` dies as with ``kill -9`` as far as the cluster sees it: nothing more reaches Redis
    (mirror, lease renewals, heartbeats, upkeep), its inbox has no subscriber, it releases and
    deletes nothing, tells no client anything, and its hub's reconnect timers stop. Its websockets
    stay open: close the clients' sockets (``abort``) as a dead process would."""
    cluster = node.cluster
    await node.mirror.close()
    cluster.ownership._callbacks.clear()            # no hand-over when its leases run out

    async def refused(*_args: Any, **_kwargs: Any) -> None:
        return None

    cluster.leases.acquire = refused                 # nor acquires an expired lease anew
    for _lease, keeper in list(cluster.ownership._held.values()):
        await keeper.stop()                          # no renewals: the leases expire in Redis
    await cluster.registry.close(leave=False)        # the node key expires after its ttl
    task, cluster.gateway._task = cluster.gateway._task, None
    if task is not None:
        task.cancel()
        await asyncio.wait({task}, timeout=2)
    await cluster.live.close()
    await cluster.bus.close()                        # posts to its inbox reach nobody
    node.hub.graces.close()                          # a dead process keeps nobody's place...
    node.hub.graces.start = lambda *_args, **_kwargs: None     # ...and ends nobody's later
    node.hub.rooms.clear()      # nor acts on its meetings (its SFU seeing ICE fail ends nothing)


@contextlib.asynccontextmanager
async def cluster_nodes(redis_url: str, tmp_path, count: int = 2, lease_ttl_ms: int | None = None,
                        **overrides: Any) -> AsyncIterator[list[Node]]:
    """``count`` nodes ("n1", "n2", ...) sharing one Redis prefix (store and cluster keys), one
    identity (server secret, API key); every key is deleted at the end."""
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    url = f"{redis_url}{'&' if '?' in redis_url else '?'}prefix={prefix}"
    credentials = load_or_create(tmp_path / "identity", (API_KEY,))
    nodes: list[Node] = []
    try:
        async with contextlib.AsyncExitStack() as stack:
            for i in range(1, count + 1):
                base = dict(data_dir=tmp_path / f"n{i}", api_keys=(API_KEY,), public_url="http://meet.test",
                            redis_url=url, reconnect_grace_seconds=5.0, knock_cooldown_seconds=0.0,
                            knocks_per_ip_per_minute=100000, **SUITE_LIMITS)
                base.update(overrides)
                app, cluster, mirror = cluster_app(Settings(**base), credentials, f"n{i}", lease_ttl_ms)
                client = await stack.enter_async_context(TestClient(TestServer(app, host="127.0.0.1")))
                nodes.append(Node(f"n{i}", client, cluster, mirror))
            yield nodes
    finally:
        await drop_prefix(redis_url, prefix)
