"""Where a new meeting goes (docs/architecture.md "Seams for the cluster").

``choose(nodes, self_id)`` picks the least loaded node in state "ready". The load score is

    score = participants + streams + 10 * cpu

— one participant, one forwarded stream and a tenth of a core busy weigh the same. Forwarded
streams grow with the square of a meeting's size and are the SFU's main cost; participants stand
for signaling work; cpu catches what the counters miss (recording, encoding). Scores within
``TIE_MARGIN`` (two participants and a bit, or a quarter of a core) of the best are ties, and a
tie goes to this node (``self_id``): no relay for a meeting that would run about as well here. Otherwise the lowest score wins, then the lowest node
id, so every node makes the same choice from the same list. A node that says it is ``busy`` (past its
forwarding budget, media/load.py) gets no new meeting while another ready node is not busy; when
every ready node is busy the usual choice stands (that node answers the join with server_busy).
"""

from __future__ import annotations

from .registry import NodeInfo

CPU_WEIGHT = 10.0
TIE_MARGIN = 2.5      # a relay costs ~1 ms per message: not worth it for a node barely less loaded


def score(node: NodeInfo) -> float:
    """Load score of a node: lower is less loaded."""
    return node.participants + node.streams + CPU_WEIGHT * node.cpu


def choose(nodes: list[NodeInfo], self_id: str) -> NodeInfo | None:
    """The ready node a new meeting should go to, or None when no node is ready."""
    ready = [n for n in nodes if n.state == "ready"]
    if not ready:
        return None
    ready = [n for n in ready if not n.busy] or ready
    best = min(score(n) for n in ready)
    tied = [n for n in ready if score(n) <= best + TIE_MARGIN]
    for n in tied:
        if n.node_id == self_id:
            return n
    return min(tied, key=lambda n: (score(n), n.node_id))
