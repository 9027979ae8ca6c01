"""Host addresses looked up once a few seconds, not once per ICE gathering.

aioice's `Connection.gather_candidates` calls `aioice.ice.get_host_addresses`, which walks
every interface through ifaddr (getifaddrs plus Python-side parsing of each address):
~1 ms of event-loop CPU per peer connection on a host with three addresses (cProfile, see
bench/subscriber_cost.py), for an answer that changes when an interface does.
`remember_host_addresses(ttl)` replaces that module function, once per process, by one that
keeps each answer for `ttl` seconds (installed only over aioice's own function) (an interface added or removed is seen within `ttl`);
`media/ice.prepare_gathering` installs it. `fresh_host_addresses` forgets the kept answers.
Probed by `probe.check_aiortc`.
"""

from __future__ import annotations

import time
from typing import Callable

import aioice.ice

TTL_S = 10.0
_kept: dict[tuple[bool, bool], tuple[float, list[str]]] = {}
_AIOICE: Callable[..., list[str]] = aioice.ice.get_host_addresses
_original = _AIOICE  # what _remembered asks (tests replace it)
_ttl = TTL_S


def _remembered(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    key = (bool(use_ipv4), bool(use_ipv6))
    now = time.monotonic()
    kept = _kept.get(key)
    if kept is None or now - kept[0] >= _ttl:
        kept = (now, _original(use_ipv4=use_ipv4, use_ipv6=use_ipv6))
        _kept[key] = kept
    return list(kept[1])


def remember_host_addresses(ttl: float = TTL_S) -> None:
    """Install the remembering lookup in aioice (idempotent; `ttl` updates the window).
    Only over aioice's own function: a lookup someone else put there stays."""
    global _ttl
    _ttl = ttl
    if aioice.ice.get_host_addresses is _AIOICE:
        aioice.ice.get_host_addresses = _remembered


def fresh_host_addresses() -> None:
    _kept.clear()
