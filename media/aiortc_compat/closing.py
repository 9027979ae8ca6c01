"""Closing a peer connection that may still be connecting, quietly and completely.

aiortc starts `RTCPeerConnection.__connect` with a bare `ensure_future` after each
`setLocalDescription` / `setRemoteDescription`. Closed while that task runs (a guest
who gives up mid-connect, a leave racing ICE), aiortc leaves two things behind:

- the task itself fails with `InvalidStateError("RTCIceTransport is closed")` (its next
  transceiver's ICE start) and nobody retrieves it: the loop logs "Task exception was
  never retrieved";
- aioice's `Connection.connect()` may already hold ICE_COMPLETED when `close()` runs:
  it then starts its consent task after the close, on a connection with no nominated
  pair, and that task sleeps forever, keeping the connection alive.

`close_peer_connection` closes the connection, waits for its connect tasks (their
failure after a close is expected: retrieved, not logged) and stops the consent tasks
of its aioice connections. Probed by `probe.check_aiortc`; docs/architecture.md, "Layers".
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc import RTCPeerConnection

from .negotiation import _PC, ice_connections

CONNECT_CODE = getattr(getattr(RTCPeerConnection, _PC + "connect", None), "__code__", None)
CONNECT_WAIT = 5.0  # seconds a connect task gets to notice the close before it is cancelled


def connect_tasks(pc: RTCPeerConnection) -> list[asyncio.Task[Any]]:
    """aiortc's pending `__connect` tasks of this peer connection."""
    found = []
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        frame = getattr(coro, "cr_frame", None)
        if getattr(coro, "cr_code", None) is CONNECT_CODE and frame is not None and frame.f_locals.get("self") is pc:
            found.append(task)
    return found


async def close_peer_connection(pc: RTCPeerConnection) -> None:
    """`pc.close()`, and nothing of it left running or unretrieved afterwards."""
    connections, tasks = ice_connections(pc), connect_tasks(pc)   # before: one may end during the close
    await pc.close()
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=CONNECT_WAIT)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)   # a connect that failed because of the close
    for connection in connections:
        consent = getattr(connection, "_query_consent_task", None)
        if consent is not None and not consent.done():
            consent.cancel()
            await asyncio.gather(consent, return_exceptions=True)
