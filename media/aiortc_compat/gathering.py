"""Host candidates on UDP ports from a range (``MediaConfig.udp_ports``; several workers or nodes
on one machine each get their own range; docs/architecture.md "Workers on one machine").
Probed by `probe.check_aiortc`.

aioice 0.13 has no port-range option: ``Connection.get_component_candidates`` binds each host
socket on port 0. `gather_in_range` binds them itself, on the first free port of the range from a
random start, wraps each in aioice's ``StunProtocol`` with the host candidate aioice would make,
adds them to the connection's (private) ``_protocols`` — where aioice pairs, checks and closes
them — asks the STUN server for their server-reflexive candidates as aioice does
(``server_reflexive_candidate``), and lets aioice's own method gather the TURN candidate by calling
it with no address. A TURN client socket is outbound and keeps an OS-chosen port.

`guard_datagrams` puts a filter in front of every socket of a connection once it has gathered:
aioice hands any datagram that does not parse as STUN to DTLS/SRTP, from whoever sent it, and
aiortc's DTLS transport dies on an empty one (``data[0]``: IndexError, the session is gone). The
filter drops empty datagrams, and non-STUN ones from an address that is no remote end of one of
the connection's candidate pairs (a pair exists only for a signalled candidate or after an
authenticated connectivity check); STUN still goes to aioice, which authenticates it. The peer's
SRTP and SRTCP go to the connection's ``direct.DirectReceiver`` when it has one. A STUN message
aioice's parser chokes on (``struct.error`` on a short attribute) is dropped and logged once per
socket, not left to the event loop's exception handler.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
import struct
from typing import Any, Awaitable, Callable

import aioice
import aioice.ice
import aioice.turn
import structlog

from .direct import DIRECT
from .negotiation import Candidate, host_candidate

log = structlog.get_logger("media.aiortc_compat")

Gather = Callable[..., Awaitable[list[Candidate]]]
GUARDED = "antechamber_guarded"   # set on an aioice Connection once guard_datagrams wrapped it
STUN_COOKIE = b"\x21\x12\xa4\x42"


def bind_udp(address: str, ports: tuple[int, int]) -> socket.socket | None:
    """A UDP socket bound on ``address`` to a free port of ``ports``; None when every one is taken."""
    lo, hi = ports
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    count = hi - lo + 1
    start = random.randrange(count)
    for i in range(count):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind((address, lo + (start + i) % count))
        except OSError:
            sock.close()
            continue
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, aioice.turn.UDP_SOCKET_BUFFER_SIZE)
        sock.setblocking(False)
        return sock
    return None


async def gather_in_range(connection: aioice.Connection, gather: Gather, component: int, addresses: list[str],
                          timeout: int, ports: tuple[int, int]) -> list[Candidate]:
    """What ``connection.get_component_candidates`` returns, with host sockets bound in ``ports``;
    ``gather`` is that method as it was (it is called with no address, for the TURN candidate)."""
    loop = asyncio.get_running_loop()
    protocols: list[Any] = []
    for address in addresses:
        sock = bind_udp(address, ports)
        if sock is None:
            log.warning("no free UDP port in the range", address=address, ports=f"{ports[0]}-{ports[1]}")
            continue
        _, protocol = await loop.create_datagram_endpoint(lambda: aioice.ice.StunProtocol(connection), sock=sock)
        host, port = protocol.transport.get_extra_info("sockname")[:2]
        protocol.local_candidate = host_candidate(component, host, port)
        protocols.append(protocol)
    connection._protocols += protocols
    candidates = [p.local_candidate for p in protocols]
    reflexive = []
    if connection.stun_server:
        reflexive = [asyncio.ensure_future(aioice.ice.server_reflexive_candidate(p, connection.stun_server))
                     for p in protocols if ipaddress.ip_address(p.local_candidate.host).version == 4]
    relayed = await gather(component=component, addresses=[], timeout=timeout)
    if reflexive:
        done, pending = await asyncio.wait(reflexive, timeout=timeout)
        candidates += [t.result()[0] for t in done if t.exception() is None]
        for task in pending:
            task.cancel()
    return candidates + relayed


def guard_datagrams(connection: aioice.Connection) -> None:
    """Filter the datagrams of every socket the connection gathers (module docstring); idempotent."""
    if getattr(connection, GUARDED, False):
        return
    setattr(connection, GUARDED, True)
    gather = connection.gather_candidates

    async def gather_candidates() -> None:
        await gather()
        for protocol in list(connection._protocols):
            _guard(connection, protocol)

    connection.gather_candidates = gather_candidates  # type: ignore[method-assign]


def _guard(connection: aioice.Connection, protocol: Any) -> None:
    receive = protocol.datagram_received
    peers: set[tuple[Any, Any]] = set()
    dropped = [0]
    malformed = [0]
    failed = aioice.ice.CandidatePair.State.FAILED

    def deliver(data: bytes, addr: tuple[Any, ...]) -> None:
        if data[0] > 1:    # not STUN (RFC 7983)
            receive(data, addr)
            return
        # aioice's STUN parser raises struct.error, not ValueError, on a fixed-size attribute that is
        # too short (PRIORITY of 2 bytes, ICE-CONTROLLING of 4): it escaped into the loop's exception
        # handler, a stack trace in the log for each such datagram from anyone
        try:
            receive(data, addr)
        except (struct.error, ValueError, IndexError, UnicodeDecodeError) as e:
            malformed[0] += 1
            if malformed[0] == 1:   # once per socket
                log.warning("dropped a malformed STUN message", error=type(e).__name__,
                            local_port=protocol.local_candidate.port)

    def datagram_received(data: bytes, addr: tuple[Any, ...]) -> None:
        source = (addr[0], addr[1])
        if data and (source in peers or data[4:8] == STUN_COOKIE and data[0] < 2):
            if 127 < data[0] < 192:   # SRTP/SRTCP (RFC 7983): handled now once keys exist (direct.py)
                direct = connection.__dict__.get(DIRECT)   # direct.direct_receiver, inlined: per datagram
                if direct is not None and direct(data):
                    return
            deliver(data, addr)
            return
        if data and any(p.protocol is protocol and p.remote_addr == source and p.state != failed
                        for p in connection._check_list):
            peers.add(source)
            deliver(data, addr)
            return
        dropped[0] += 1
        if dropped[0] == 1:   # once per socket: a flood must not become a flood of log lines
            log.warning("dropped a datagram from no ICE peer", empty=not data, local_port=protocol.local_candidate.port)

    protocol.datagram_received = datagram_received
