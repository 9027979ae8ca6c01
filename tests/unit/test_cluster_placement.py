"""Placement of a new meeting: the least loaded ready node, ties to this node (pure logic)."""

from __future__ import annotations

from server.cluster.placement import TIE_MARGIN, choose, score
from server.cluster.registry import NodeInfo


def node(node_id: str, participants=0, streams=0, cpu=0.0, state="ready") -> NodeInfo:
    return NodeInfo(node_id=node_id, url=f"http://{node_id}", state=state,
                    participants=participants, streams=streams, cpu=cpu)


def test_least_loaded_ready_node():
    nodes = [node("a", 10, 40), node("b", 2, 4), node("c", 0, 0, state="draining")]
    assert choose(nodes, "a").node_id == "b"


def test_score_counts_participants_streams_and_cpu():
    assert score(node("a", 3, 6, cpu=0.5)) == 3 + 6 + 5
    nodes = [node("a", 2, 2, cpu=0.9), node("b", 3, 3, cpu=0.0)]
    assert choose(nodes, "x").node_id == "b"            # 13 against 6


def test_ties_prefer_self_then_lowest_id():
    nodes = [node("a", 1, 1), node("b", 1, 1), node("c", 1, 1)]
    assert choose(nodes, "b").node_id == "b"
    assert choose(nodes, "z").node_id == "a"
    close = [node("a", 2, 0), node("b", 2, 0, cpu=TIE_MARGIN / 10 / 2)]
    assert choose(close, "b").node_id == "b"             # within the tie margin
    far = [node("a", 2, 0), node("b", 2 + int(TIE_MARGIN) + 1, 0)]
    assert choose(far, "b").node_id == "a"


def test_no_ready_node():
    assert choose([], "a") is None
    assert choose([node("a", state="draining")], "a") is None


def test_node_info_round_trip_ignores_unknown_fields():
    import msgpack

    info = node("a", 1, 2, 0.25)
    info.meetings = ["r1"]
    assert NodeInfo.from_bytes(info.to_bytes()) == info
    raw = msgpack.packb({**msgpack.unpackb(info.to_bytes()), "future": 1})
    assert NodeInfo.from_bytes(raw) == info
