"""Visible ownership (issue 11): ``GET /api/v1/cluster/nodes`` and a room's ``ownerNode``.

One node without Redis (the real hub, a real websocket participant): the one local node, ready,
with its load and meeting; the room names this node as its meeting's owner. With a stand-in
registry and owners (what the composition root sets from the cluster): their nodes and owner.
"""

from __future__ import annotations

import asyncio

from server.cluster.registry import NodeInfo
from server.http.api.cluster import node_id_of
from server.http.appkeys import NODE_ID, NODES, OWNERS
from tests.helpers.rest_app import RecordingLive, running_app
from tests.helpers.signaling import Clients, host_key, make_room

N = "/api/v1/cluster/nodes"


async def test_one_node_lists_itself_with_its_meeting(settings_factory, auth):
    async with running_app(settings_factory()) as (client, app, _):
        assert (await client.get(N)).status == 401
        resp = await client.get(N, headers=auth)
        assert resp.status == 200
        body = await resp.json()
        me = node_id_of(app)
        assert body["node"] == me and [n["nodeId"] for n in body["nodes"]] == [me]
        node = body["nodes"][0]
        assert node["state"] == "ready" and node["self"] is True and node["meetings"] == []
        assert node["load"]["participants"] == 0 and node["url"] == "http://meet.test"

        room = await make_room(client, auth, roomName="Owned")
        plain = await (await client.get(f"/api/v1/rooms/{room['roomId']}", headers=auth)).json()
        assert "ownerNode" not in plain         # no meeting, no owner
        clients = Clients(client)
        try:
            await clients.joined(room["roomId"], "Ann", host_key(room))
            await clients.joined(room["roomId"], "Bob", host_key(room))
            deadline = asyncio.get_running_loop().time() + 10
            while True:     # on a cluster node the listing is the registry's, rewritten every 2 s
                node = (await (await client.get(N, headers=auth)).json())["nodes"][0]
                if node["meetings"] == [room["roomId"]] and node["load"]["participants"] == 2:
                    break
                assert asyncio.get_running_loop().time() < deadline, node
                await asyncio.sleep(0.1)
            live = await (await client.get(f"/api/v1/rooms/{room['roomId']}", headers=auth)).json()
            assert live["ownerNode"] == me
            projected = await (await client.get(f"/api/v1/rooms/{room['roomId']}?fields=roomId",
                                                headers=auth)).json()
            assert projected == {"roomId": room["roomId"]}
        finally:
            for c in clients.opened:
                await c.close()


class StandInRegistry:
    def __init__(self, infos):
        self.infos = infos

    async def nodes(self):
        return list(self.infos)


class StandInOwners:
    def __init__(self, owners):
        self.owners = owners

    async def owner(self, room_id):
        return self.owners.get(room_id)


async def test_registry_nodes_and_owner(settings_factory, auth):
    live = RecordingLive()
    infos = [NodeInfo("node-b", "http://10.0.0.6:8080", "draining", participants=3, streams=5, cpu=0.25,
                      meetings=["r1"], started_at=1000.0, heartbeat_at=2000.5),
             NodeInfo("node-a", "http://10.0.0.5:8080", meetings=[], started_at=1000.0, heartbeat_at=2000.0)]

    def prepare(app):
        app[NODE_ID] = "node-a"
        app[NODES] = StandInRegistry(infos)
        app[OWNERS] = StandInOwners({"r1": "node-b"})

    async with running_app(settings_factory(), live=live, prepare=prepare) as (client, app, _):
        body = await (await client.get(N, headers=auth)).json()
        assert body["node"] == "node-a"
        assert [n["nodeId"] for n in body["nodes"]] == ["node-a", "node-b"]
        b = body["nodes"][1]
        assert b == {"nodeId": "node-b", "url": "http://10.0.0.6:8080", "state": "draining", "self": False,
                     "load": {"participants": 3, "streams": 5, "cpu": 0.25}, "meetings": ["r1"],
                     "startedAt": 1000000, "heartbeatAt": 2000500}
        assert body["nodes"][0]["self"] is True
        created = await make_room(client, auth, roomName="Elsewhere")
        live.meetings.add(created["roomId"])
        app[OWNERS].owners[created["roomId"]] = "node-b"
        got = await (await client.get(f"/api/v1/rooms/{created['roomId']}", headers=auth)).json()
        assert got["ownerNode"] == "node-b"
        spec = await (await client.get("/api/openapi.json")).json()
        assert "/api/v1/cluster/nodes" in spec["paths"] and "ClusterNode" in spec["components"]["schemas"]
