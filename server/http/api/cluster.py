"""Visible ownership (docs/architecture.md "Seams for the cluster"): ``GET /api/v1/cluster/nodes``
behind the API key, and the owner node of a room's live meeting (``ownerNode`` in the room object).

The nodes come from ``app[NODES]``, anything with ``async nodes()`` returning NodeInfo
(server/cluster/registry.py: the NodeRegistry on a cluster, ``LocalNode`` on one node). Owners come
from ``app[OWNERS]``, anything with ``async owner(room_id) -> node id | None`` (the cluster's
Ownership; ``LocalOwners`` on one node). Neither set (one node, nothing wired): this node alone,
its meetings read from the store's rooms with a live meeting and their counts from LiveMeetings.
"""

from __future__ import annotations

import inspect
import time
from typing import Any, Awaitable, Callable, Protocol

from aiohttp import web

from ...cluster.registry import NodeInfo
from ...config import default_node_id
from ...domain.live_meetings import LiveMeetings
from ...store.base import RoomQuery
from ..appkeys import NODE_ID, NODES, OWNERS, ROOMS, SETTINGS, STORE
from .auth import add_routes
from .openapi import add_paths

STARTED_AT = time.time()
Load = Callable[[], "dict[str, Any] | Awaitable[dict[str, Any]]"]


class NodesView(Protocol):
    async def nodes(self) -> list[NodeInfo]: ...

    async def node(self, node_id: str) -> NodeInfo | None: ...


class MeetingOwners(Protocol):
    async def owner(self, room_id: str) -> str | None: ...


def node_id_of(app: web.Application) -> str:
    """This node's id: ``app[NODE_ID]`` (set by ``setup`` from the settings' ``node_id``, else
    ``server.config.default_node_id()`` once; the composition root may set it after)."""
    if NODE_ID in app:
        return app[NODE_ID]
    return app[SETTINGS].node_id if SETTINGS in app else ""


class LocalNode:
    """The one node of a server without a cluster, as a NodesView."""

    def __init__(self, node_id: str | Callable[[], str], url: str, load: Load,
                 state: Callable[[], str] = lambda: "ready") -> None:
        self._node_id = node_id if callable(node_id) else (lambda: node_id)
        self.url, self._load, self._state = url, load, state
        self._cpu = (time.process_time(), time.monotonic())

    def _cpu_now(self) -> float:
        cpu, wall = time.process_time(), time.monotonic()
        (cpu0, wall0), self._cpu = self._cpu, (cpu, wall)
        return round((cpu - cpu0) / (wall - wall0), 3) if wall > wall0 else 0.0

    async def node(self, node_id: str) -> NodeInfo | None:
        return next((n for n in await self.nodes() if n.node_id == node_id), None)

    async def nodes(self) -> list[NodeInfo]:
        load = self._load()
        if inspect.isawaitable(load):
            load = await load
        now = time.time()
        return [NodeInfo(node_id=self._node_id(), url=self.url, state=self._state(),
                         participants=int(load.get("participants", 0)), streams=int(load.get("streams", 0)),
                         cpu=self._cpu_now(), meetings=list(load.get("meetings", ())),
                         started_at=STARTED_AT, heartbeat_at=now)]


class LocalOwners:
    """One node: this node owns every meeting it runs."""

    def __init__(self, node_id: str | Callable[[], str], live: LiveMeetings) -> None:
        self._node_id = node_id if callable(node_id) else (lambda: node_id)
        self.live = live

    async def owner(self, room_id: str) -> str | None:
        return self._node_id() if self.live.has_meeting(room_id) else None


def store_load(app: web.Application) -> Load:
    """One node's load without a hub at hand: its live meetings (rooms stored with a meeting running
    and live here) and their participants, through the LiveMeetings port."""
    async def load() -> dict[str, Any]:
        live: LiveMeetings = app[ROOMS].live
        meetings: list[str] = []
        token = None
        while True:
            page = await app[STORE].list_rooms(RoomQuery(status="active_meeting", limit=100, token=token))
            meetings += [r.room_id for r in page.items if live.has_meeting(r.room_id)]
            token = page.next_token
            if not token:
                break
        counts = [await live.participant_count(room_id) for room_id in meetings]
        return {"participants": sum(counts), "streams": 0, "meetings": sorted(meetings)}
    return load


def render_node(info: NodeInfo, self_id: str) -> dict[str, Any]:
    return {
        "nodeId": info.node_id, "url": info.url, "state": info.state, "self": info.node_id == self_id,
        "load": {"participants": info.participants, "streams": info.streams, "cpu": info.cpu},
        "meetings": list(info.meetings),
        "startedAt": int(info.started_at * 1000), "heartbeatAt": int(info.heartbeat_at * 1000),
    }


async def list_nodes(request: web.Request) -> web.Response:
    """``{node, nodes: [{nodeId, url, state, self, load {participants, streams, cpu}, meetings,
    startedAt, heartbeatAt}]}``, by node id; 503 ``unavailable`` when the registry cannot be read."""
    self_id = node_id_of(request.app)
    infos = await request.app[NODES].nodes()
    return web.json_response({"node": self_id,
                              "nodes": [render_node(i, self_id) for i in sorted(infos, key=lambda i: i.node_id)]},
                             headers={"Cache-Control": "no-store"})


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


OPENAPI_PATHS = {"/api/v1/cluster/nodes": {"get": {
    "operationId": "listClusterNodes", "tags": ["Cluster"],
    "summary": "The nodes of the cluster with their state, load and the meetings they own (one node without Redis)",
    "responses": {
        "200": {"description": "the live nodes, by node id",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ClusterNodes"}}}},
        "401": _error("missing or invalid API key"),
        "503": _error("unavailable: the node registry (Redis) cannot be reached"),
    }}}}
OPENAPI_SCHEMAS = {
    "ClusterNodes": {"type": "object", "required": ["node", "nodes"], "properties": {
        "node": {"type": "string", "description": "the id of the node that answered"},
        "nodes": {"type": "array", "items": {"$ref": "#/components/schemas/ClusterNode"}}}},
    "ClusterNode": {"type": "object", "required": ["nodeId", "url", "state", "self", "load", "meetings", "startedAt",
                                                    "heartbeatAt"], "properties": {
        "nodeId": {"type": "string"}, "url": {"type": "string", "description": "internal base URL"},
        "state": {"enum": ["ready", "draining"]}, "self": {"type": "boolean"},
        "load": {"type": "object", "required": ["participants", "streams", "cpu"], "properties": {
            "participants": {"type": "integer"}, "streams": {"type": "integer", "description": "forwarded streams"},
            "cpu": {"type": "number", "description": "cores busy in the process (1.0 = one core)"}}},
        "meetings": {"type": "array", "items": {"type": "string"}, "description": "room ids of the meetings it owns"},
        "startedAt": {"type": "integer", "description": "epoch ms"},
        "heartbeatAt": {"type": "integer", "description": "epoch ms"}}},
}


def setup(app: web.Application) -> None:
    """The route, and this node alone as the default NodesView and MeetingOwners (the composition
    root may set ``app[NODES]`` / ``app[OWNERS]`` / ``app[NODE_ID]`` after this, before the app starts)."""
    if NODE_ID not in app:
        app[NODE_ID] = app[SETTINGS].node_id or default_node_id()
    if NODES not in app:
        app[NODES] = LocalNode(lambda: node_id_of(app), app[SETTINGS].base_url, store_load(app))
    if OWNERS not in app:
        app[OWNERS] = LocalOwners(lambda: node_id_of(app), app[ROOMS].live)
    add_routes(app, ("/api/v1",), [("GET", "/cluster/nodes", list_nodes)])
    add_paths(app, OPENAPI_PATHS, OPENAPI_SCHEMAS)
