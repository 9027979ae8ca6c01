"""ICE consent freshness that a lagging event loop does not expire (issue 17 "Graceful overload").

What tears sessions down under overload: aioice's ``Connection.query_consent`` (RFC 7675) sends a
binding request on each nominated pair every 4–6 s with ``retransmissions=0`` — one try, failed
when no answer is *processed* within ``RETRY_RTO`` (0.5 s) — and closes the connection after
``CONSENT_FAILURES`` (6) failures in a row. aiortc's ``RTCIceTransport._monitor`` turns that close
of a completed connection into state "failed", and the SFU drops the participant ("ICE failed,
removing participant"). When our own loop is saturated, the answer sits in the socket behind the
media (one datagram is read per socket per loop turn, and the kernel drops what overflows the
receive buffer) and the 0.5 s timer fires late: six late turns in ~30 s and a healthy peer is cut.

``install_lag_tolerant_consent()`` replaces ``query_consent`` (once, class-wide; installed by
``MediaService``) with the same check made robust to our own lag:

- each check is a STUN transaction with ``CONSENT_RETRANSMISSIONS`` (2) retransmissions (0.5, 1,
  2 s: an answer within 3.5 s counts, the retransmissions use the same transaction id);
- a failed check whose timeout fired more than ``LATE_SECONDS`` (0.25 s) after it was due, or whose
  sleep before it overslept as much, is not counted: the loop, not the peer, was late;
- consent still expires after ``CONSENT_FAILURES`` counted failures in a row, or, whatever the
  lag, after ``CONSENT_MAX_SILENCE`` (60 s) with no successful check: a peer that is truly gone is
  closed even on a saturated node.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import aioice.ice
import aioice.stun
import structlog

log = structlog.get_logger("media.aiortc_compat")

CONSENT_RETRANSMISSIONS = 2
LATE_SECONDS = 0.25
CONSENT_MAX_SILENCE = 60.0
_INSTALLED = "_antechamber_lag_tolerant_consent"
STOCK_QUERY_CONSENT = aioice.ice.Connection.query_consent     # aioice's own (tests compare)


def transaction_timeout(retransmissions: int, rto: float) -> float:
    """When a STUN transaction with ``retransmissions`` gives up (aioice: the delay doubles)."""
    return sum(rto * 2 ** i for i in range(retransmissions + 1))


def counts_as_failure(elapsed: float, expected: float, overslept: float, late: float = LATE_SECONDS) -> bool:
    """A timed-out check is the peer's failure only if the loop ran the timers on time."""
    return elapsed - expected <= late and overslept <= late


async def lag_tolerant_query_consent(self: Any) -> None:
    """aioice ``Connection.query_consent`` (RFC 7675), tolerant of our own loop's lag."""
    assert self.remote_password is not None
    loop = asyncio.get_running_loop()
    failures = 0
    last_ok = loop.time()
    expected = transaction_timeout(CONSENT_RETRANSMISSIONS, aioice.stun.RETRY_RTO)
    while True:
        interval = aioice.ice.CONSENT_INTERVAL * (0.8 + 0.4 * random.random())
        before = loop.time()
        await asyncio.sleep(interval)
        overslept = loop.time() - before - interval
        for pair in list(self._nominated.values()):
            request = self.build_request(pair, nominate=False)
            started = loop.time()
            try:
                await pair.protocol.request(request, pair.remote_addr,
                                            integrity_key=self.remote_password.encode("utf8"),
                                            retransmissions=CONSENT_RETRANSMISSIONS)
                failures, last_ok = 0, loop.time()
            except aioice.stun.TransactionError:
                elapsed = loop.time() - started
                if counts_as_failure(elapsed, expected, overslept):
                    failures += 1
                else:
                    log.info("consent check late: the event loop lagged, not counted",
                             late_ms=round((elapsed - expected) * 1000), overslept_ms=round(overslept * 1000))
            silent = loop.time() - last_ok
            if failures >= aioice.ice.CONSENT_FAILURES or silent > CONSENT_MAX_SILENCE:
                log.info("ICE consent expired", failures=failures, silent_s=round(silent, 1))
                self._query_consent_task = None
                return await self.close()


def install_lag_tolerant_consent() -> None:
    """Replace aioice's consent check for every connection of this process (idempotent)."""
    if getattr(aioice.ice.Connection, _INSTALLED, False):
        return
    aioice.ice.Connection.query_consent = lag_tolerant_query_consent  # type: ignore[method-assign]
    setattr(aioice.ice.Connection, _INSTALLED, True)


def probe_consent(p: Any) -> None:
    """The internals ``lag_tolerant_query_consent`` uses (called by probe.check_aiortc)."""
    for name in ("CONSENT_FAILURES", "CONSENT_INTERVAL"):
        if not hasattr(aioice.ice, name):
            p.missing.append(f"aioice.ice.{name} (consent)")
    if not hasattr(aioice.stun, "RETRY_RTO"):
        p.missing.append("aioice.stun.RETRY_RTO (consent)")
    p.has(aioice.stun, "TransactionError", "consent")
    original = getattr(aioice.ice.Connection, "query_consent", None)
    if original is not None and original is not lag_tolerant_query_consent:
        p.uses(aioice.ice.Connection, "query_consent", ["_nominated", "build_request", "remote_password",
                                                        "request", "close", "_query_consent_task"], "consent")
    p.params(getattr(aioice.ice.Connection, "build_request", None), "aioice.ice.Connection.build_request",
             ("pair", "nominate"), "consent")
    p.params(getattr(aioice.ice.StunProtocol, "request", None), "aioice.ice.StunProtocol.request",
             ("request", "addr", "integrity_key", "retransmissions"), "consent")
    p.uses(aioice.ice.Connection, "connect", ["query_consent", "_query_consent_task"], "consent")
