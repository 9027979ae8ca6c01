"""One DTLS certificate per process (media/aiortc_compat/certificates.py): the SFU's peer
connections share it and its SSL context, DTLS still verifies each peer's fingerprint,
and real aiortc peers still connect and receive."""

from __future__ import annotations

import asyncio
import re

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from OpenSSL import SSL

from media import aiortc_compat as compat
from media.ice import prepare_gathering, rtc_configuration
from tests.helpers.media_peers import COLOURS, SolidColourTrack, colour_close, join_room, publish

pytestmark = pytest.mark.timeout(60)

FINGERPRINT = re.compile(r"a=fingerprint:sha-256 ([0-9A-F:]+)")


async def test_subscribers_share_the_certificate_and_receive(sfu, clients):
    room = sfu.open_room("certs")
    alice, bob, carol = clients("alice"), clients("bob"), clients("carol")
    for c in (alice, bob, carol):
        await join_room(room, c)
    await publish(room, alice, {"camera": SolidColourTrack(COLOURS["red"])})
    for c in (bob, carol):
        await c.wait_for(lambda c=c: (r := c.video_from("alice")) is not None and r.frames >= 5
                         and colour_close(r.mean_rgb, COLOURS["red"]), timeout=20, what="red video from alice")

    pcs = [room._get(n).subscribe_pc for n in ("bob", "carol")] + [room._get("alice").publish_pc]
    certs = {id(compat.peer_certificate(pc)) for pc in pcs}
    assert certs == {id(compat.shared_certificate())}
    cert = compat.shared_certificate()
    assert len(cert._contexts) == 1  # one SSL_CTX for all three DTLS transports
    ctx = next(iter(cert._contexts.values()))
    assert ctx.get_session_cache_mode() == SSL.SESS_CACHE_OFF
    # OpenSSL's SSL_CTX_set_mode(ctx, 0) returns the mode in force (pyOpenSSL refuses set_mode on a used context)
    assert SSL._lib.SSL_CTX_set_mode(ctx._context, 0) & SSL.MODE_RELEASE_BUFFERS
    prints = {FINGERPRINT.search(pc.localDescription.sdp).group(1) for pc in pcs}
    assert len(prints) == 1 and prints.pop() in {f.value for f in cert.getFingerprints()}


async def _offer_answer(a: RTCPeerConnection, b: RTCPeerConnection, tamper: bool) -> None:
    a.createDataChannel("x")
    prepare_gathering(a, loopback=True)
    await a.setLocalDescription(await a.createOffer())
    sdp = a.localDescription.sdp
    if tamper:  # b is told a fingerprint that is not a's certificate's
        sdp = FINGERPRINT.sub(lambda m: "a=fingerprint:sha-256 " + ":".join(["AB"] * 32), sdp)
    await b.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
    prepare_gathering(b, loopback=True)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)


async def _settled(pc: RTCPeerConnection, timeout: float = 20.0) -> str:
    done = asyncio.Event()
    pc.on("connectionstatechange", lambda: done.set() if pc.connectionState in ("connected", "failed") else None)
    if pc.connectionState not in ("connected", "failed"):
        await asyncio.wait_for(done.wait(), timeout)
    return pc.connectionState


@pytest.mark.parametrize("tamper", [False, True])
async def test_dtls_checks_the_fingerprint_with_a_shared_certificate(tamper):
    server = compat.new_peer_connection(rtc_configuration(()))
    browser_like = RTCPeerConnection(rtc_configuration(()))  # its own certificate, as a browser has
    try:
        await _offer_answer(server, browser_like, tamper)
        assert compat.peer_certificate(server) is compat.shared_certificate()
        assert compat.peer_certificate(browser_like) is not compat.shared_certificate()
        state = await _settled(browser_like)
        assert state == ("failed" if tamper else "connected")
    finally:
        await server.close()
        await browser_like.close()


async def test_two_shared_certificate_peers_connect():
    a, b = compat.new_peer_connection(rtc_configuration(())), compat.new_peer_connection(rtc_configuration(()))
    try:
        await _offer_answer(a, b, tamper=False)
        assert await _settled(a) == "connected" and await _settled(b) == "connected"
    finally:
        await a.close()
        await b.close()


def test_certificate_is_renewed_after_max_age_and_constructor_left_untouched():
    import aiortc.rtcpeerconnection as pcm
    from aiortc.rtcdtlstransport import RTCCertificate

    first = compat.shared_certificate()
    assert compat.shared_certificate() is first
    renewed = compat.shared_certificate(max_age=0)
    assert renewed is not first and compat.shared_certificate() is renewed
    assert renewed.getFingerprints()[0].value != first.getFingerprints()[0].value
    assert pcm.RTCCertificate is RTCCertificate  # the stand-in never outlives the constructor
