"""ICE configuration for aiortc peer connections: only configured servers,
loopback host candidates when needed, an announced public IP.

aiortc falls back to a public Google STUN server when `iceServers` is None; we
always pass an explicit (possibly empty) list so nothing unconfigured is ever
contacted.

aioice's `get_host_addresses()` skips 127.0.0.1, so a host whose only interface
is loopback gathers no candidate at all. Rather than patching aioice globally,
`prepare_gathering(pc, ...)` wraps `get_component_candidates` on the aioice
`Connection` objects of *one* peer connection (instance attribute, installed
once per connection before `setLocalDescription` gathers) to add a 127.0.0.1
host candidate and/or a copy of each IPv4 host candidate carrying the public IP,
and, with a UDP port range, to bind the host sockets within it
(`aiortc_compat.gather_in_range`). The connections are reached through
`aiortc_compat.ice_connections`.
"""

from __future__ import annotations

from typing import Any, Iterable
from urllib.parse import unquote

from aioice import Candidate
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer, RTCPeerConnection

from . import aiortc_compat as compat

MARK = "antechamber_gathering"  # set on an aioice Connection once its gathering is wrapped


def parse_ice_server(url: str) -> RTCIceServer:
    """'turn:user:pass@host:3478?transport=udp' -> RTCIceServer(urls, username, credential)."""
    scheme, sep, rest = url.partition(":")
    if not sep or scheme not in ("stun", "stuns", "turn", "turns"):
        raise ValueError(f"unsupported ICE server URL scheme in {url!r}")
    username = credential = None
    if "@" in rest:
        userinfo, _, rest = rest.rpartition("@")
        user, _, password = userinfo.partition(":")
        username, credential = unquote(user), unquote(password)
    return RTCIceServer(urls=f"{scheme}:{rest}", username=username, credential=credential)


def rtc_configuration(ice_servers: Iterable[str]) -> RTCConfiguration:
    return RTCConfiguration(
        iceServers=[parse_ice_server(u) for u in ice_servers], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
    )


def browser_ice_servers(ice_servers: Iterable[str]) -> list[dict[str, Any]]:
    """The servers a browser may be given: a TURN URL with a long-lived user and password is
    the SFU's alone (browsers get short-lived TURN credentials from the server's turn_secret)."""
    out: list[dict[str, Any]] = []
    for url in ice_servers:
        server = parse_ice_server(url)
        if server.username is None:
            out.append({"urls": [server.urls]})
    return out


def want_loopback(setting: Any) -> bool:
    if setting == "auto":
        return not compat.host_addresses()
    return bool(setting)


def prepare_gathering(pc: RTCPeerConnection, *, loopback: bool, public_ip: str = "",
                      ports: tuple[int, int] | None = None) -> None:
    """Install the candidate wrapper on every ICE transport of `pc` (idempotent).

    Call after transceivers exist and before `setLocalDescription`. `ports`: bind host
    sockets on UDP ports first..last (MediaConfig.udp_ports).
    """
    compat.remember_host_addresses()  # aioice's interface walk: once per 10 s, not per gathering
    compat.receive_directly(pc)       # SRTP handled as it arrives (docs/architecture.md "Paths: ... an RTP packet")
    for connection in compat.ice_connections(pc):
        compat.guard_datagrams(connection)   # always: strangers' datagrams never reach DTLS/SRTP
        if not loopback and not public_ip and not ports:
            continue
        if getattr(connection, MARK, False):
            continue
        setattr(connection, MARK, True)
        connection.get_component_candidates = _wrap(connection, loopback, public_ip, ports)


def _wrap(connection: Any, loopback: bool, public_ip: str, ports: tuple[int, int] | None) -> Any:
    original = connection.get_component_candidates

    async def get_component_candidates(component: int, addresses: list[str], timeout: int = 5) -> list[Candidate]:
        addresses = list(addresses)
        if loopback and "127.0.0.1" not in addresses:
            addresses.append("127.0.0.1")
        if ports:
            candidates = await compat.gather_in_range(connection, original, component, addresses, timeout, ports)
        else:
            candidates = await original(component=component, addresses=addresses, timeout=timeout)
        if public_ip:
            candidates += _announced(candidates, component, public_ip)
        return candidates

    return get_component_candidates


def _announced(candidates: list[Candidate], component: int, public_ip: str) -> list[Candidate]:
    out: list[Candidate] = []
    for c in candidates:
        if c.type != "host" or ":" in c.host or c.host.startswith("127.") or c.host == public_ip:
            continue
        out.append(compat.host_candidate(component, public_ip, c.port, priority_offset=1))
    return out

