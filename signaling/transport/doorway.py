"""The doorway of /ws: who the client is by address, and how many of its websockets have not joined yet.

docs/architecture.md "Limits": the address is the peer's, or — only when the peer is one of the
configured trusted proxies — the last address in ``X-Forwarded-For`` that is not itself a trusted
proxy (a client cannot forge it by sending the header: its own hop is appended by the proxy).
A ``Doorway`` counts the websockets of one address that have neither joined nor knocked
(``ws_unauthenticated_per_ip``); the connection (websocket.py) enters it when it opens and leaves it
once its participant has joined or knocked, or when it closes. docs/protocol.md "Limits".
"""

from __future__ import annotations

import ipaddress
from typing import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(texts: Iterable[str]) -> tuple[Network, ...]:
    """``10.0.0.1``, ``10.0.0.0/8``, ``::1`` -> networks; ValueError for anything else."""
    return tuple(ipaddress.ip_network(t.strip(), strict=False) for t in texts if t.strip())


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks if net.version == ip.version)


def client_address(peer: str, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The client's address: ``peer`` unless ``peer`` is a trusted proxy that sent X-Forwarded-For."""
    if not trusted or not forwarded_for or not _trusted(peer, trusted):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        try:
            ip = str(ipaddress.ip_address(hop))
        except ValueError:
            return peer         # garbage in the header: fall back on the proxy itself
        if not _trusted(ip, trusted):
            return ip
    return peer


class Doorway:
    """Websockets per address that have not joined yet, at most ``per_address`` (0: no limit)."""

    def __init__(self, per_address: int) -> None:
        self.per_address = per_address
        self._open: dict[str, int] = {}

    def enter(self, address: str) -> bool:
        """Count one more websocket of ``address``; False (not counted) if it has its share."""
        n = self._open.get(address, 0)
        if self.per_address > 0 and n >= self.per_address:
            return False
        self._open[address] = n + 1
        return True

    def leave(self, address: str) -> None:
        n = self._open.get(address, 0) - 1
        if n > 0:
            self._open[address] = n
        else:
            self._open.pop(address, None)

    def count(self, address: str) -> int:
        return self._open.get(address, 0)
