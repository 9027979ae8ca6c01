"""One DTLS certificate per process instead of one per peer connection.

aiortc's `RTCPeerConnection.__init__` generates a fresh EC key and X.509 certificate
(`RTCCertificate.generateCertificate`), and every `RTCDtlsTransport.start` builds a new
OpenSSL `SSL_CTX` from it (`RTCCertificate._create_ssl_context`, ~21 KiB of C heap each,
kept for the connection's life). `new_peer_connection(configuration)` makes the connection
with the process's `SharedCertificate` instead: made once, replaced after `max_age`
(connections keep the one they started with; aiortc's certificates are valid 30 days),
with its fingerprints computed once and one SSL context per SRTP profile list shared by
every DTLS transport. The context has the server-side session cache off, so no DTLS
session is ever kept or resumed across peers.

What stays per connection: the `SSL.Connection` (handshake state, keys), the SRTP
sessions, and the check of the peer's fingerprint against its SDP (aiortc's
`_validate_peer_identity`, untouched). Sharing a certificate across peer connections is what
the WebRTC API allows (`RTCConfiguration.certificates`); a peer learns nothing from it that
the fingerprint in every offer does not already say.

How: `RTCPeerConnection.__init__` calls `RTCCertificate.generateCertificate()` through the
`aiortc.rtcpeerconnection` module's global; the constructor runs with that global pointing
at a stand-in that returns the shared certificate (synchronous, restored at once), and the
result is checked. Probed by `probe.check_aiortc`.
"""

from __future__ import annotations

import time
from typing import Any, Optional

import aiortc.rtcpeerconnection as _pcm
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.rtcdtlstransport import RTCCertificate, RTCDtlsFingerprint
from OpenSSL import SSL

_PC_CERTIFICATES = "_RTCPeerConnection__certificates"
MAX_AGE_S = 86400.0  # a new certificate a day


class SharedCertificate(RTCCertificate):
    """An `RTCCertificate` whose fingerprints and SSL contexts are made once."""

    def __init__(self, key: Any, cert: Any) -> None:
        super().__init__(key, cert)
        self.created = time.monotonic()
        self._fingerprints: Optional[list[RTCDtlsFingerprint]] = None
        self._contexts: dict[tuple[bytes, ...], SSL.Context] = {}

    def getFingerprints(self) -> list[RTCDtlsFingerprint]:
        if self._fingerprints is None:
            self._fingerprints = super().getFingerprints()
        return list(self._fingerprints)

    def _create_ssl_context(self, srtp_profiles: list[Any]) -> SSL.Context:
        key = tuple(p.openssl_profile for p in srtp_profiles)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = super()._create_ssl_context(srtp_profiles)
            ctx.set_session_cache_mode(SSL.SESS_CACHE_OFF)  # nothing kept or resumed across peers
            # OpenSSL frees an SSL object's read and write buffers while they are empty: after the
            # handshake a DTLS connection carries only SRTP (keyed once), so ~13 KiB less per
            # subscriber (bench/subscriber_cost.py, 100 subscribers: 216-218 -> 203-204 KiB)
            ctx.set_mode(SSL.MODE_RELEASE_BUFFERS)
            self._contexts[key] = ctx
        return ctx


_shared: Optional[SharedCertificate] = None


def shared_certificate(max_age: float = MAX_AGE_S) -> SharedCertificate:
    """The process's certificate; a new one once the current is older than `max_age` s."""
    global _shared
    if _shared is None or time.monotonic() - _shared.created >= max_age:
        _shared = SharedCertificate.generateCertificate()
    return _shared


class _Stand_in:
    def __init__(self, certificate: SharedCertificate) -> None:
        self._certificate = certificate

    def generateCertificate(self) -> SharedCertificate:  # noqa: N802 (aiortc's name)
        return self._certificate


def new_peer_connection(configuration: Optional[RTCConfiguration] = None,
                        certificate: Optional[SharedCertificate] = None) -> RTCPeerConnection:
    """An `RTCPeerConnection` using `certificate` (default: `shared_certificate()`)."""
    cert = certificate or shared_certificate()
    original = _pcm.RTCCertificate
    _pcm.RTCCertificate = _Stand_in(cert)  # type: ignore[assignment,misc]
    try:
        pc = RTCPeerConnection(configuration)
    finally:
        _pcm.RTCCertificate = original  # type: ignore[misc]
    if getattr(pc, _PC_CERTIFICATES, None) != [cert]:
        setattr(pc, _PC_CERTIFICATES, [cert])
    return pc


def peer_certificate(pc: RTCPeerConnection) -> RTCCertificate:
    """The certificate a peer connection's DTLS transports use (tests)."""
    return getattr(pc, _PC_CERTIFICATES)[0]
