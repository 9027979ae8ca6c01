"""The receive side's SRTP unprotect (media/aiortc_compat/srtp_c.py, _srtpsend.c `Unprotect`):
what pylibsrtp's own `Session.unprotect(_rtcp)` gives for every authentic packet, None (dropped,
never an exception) for anything libsrtp refuses — a forged tag, a replay, a truncated, empty or
oversized datagram — on both the C path and the pylibsrtp fallback, and one replay window shared
with the session's other users (it is the same libsrtp context)."""

from __future__ import annotations

import os
import struct

import pytest
from pylibsrtp import Error, Policy, Session

from media.aiortc_compat import srtp_c

KEY = bytes(range(30))


def session(inbound: bool) -> Session:
    return Session(Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_INBOUND if inbound else Policy.SSRC_ANY_OUTBOUND))


def rtp(seq: int, payload: bytes) -> bytes:
    return struct.pack("!BBHII", 0x80, 96, seq, seq * 3000, 0x1234ABCD) + payload


def rtcp_rr(n: int) -> bytes:
    return struct.pack("!BBHI", 0x81, 201, 7, 0x1234ABCD) + struct.pack("!IIIIII", 0x5EED, n, 0, 0, 0, 0)


@pytest.fixture(params=["c", "pylibsrtp"])
def path(request, monkeypatch):
    if request.param == "c" and srtp_c.Unprotect is None:
        pytest.skip("the C module was not built")
    if request.param == "pylibsrtp":
        monkeypatch.setattr(srtp_c, "Unprotect", None)
    return request.param


def test_authentic_packets_come_out_as_pylibsrtp_gives_them(path):
    tx, rx, twin_rx = session(False), session(True), session(True)
    unprotect_rtp, unprotect_rtcp = srtp_c.unprotect_functions(rx)
    for seq, size in ((1, 0), (2, 1), (3, 1100), (4, 1500 - 12 - 144 - 12)):
        packet = rtp(seq, os.urandom(size))
        wire = tx.protect(packet)
        assert unprotect_rtp(wire) == twin_rx.unprotect(wire) == packet
    for n in range(3):
        packet = rtcp_rr(n)
        wire = tx.protect_rtcp(packet)
        assert unprotect_rtcp(wire) == twin_rx.unprotect_rtcp(wire) == packet


def test_what_libsrtp_refuses_is_none_not_an_exception(path):
    tx, rx = session(False), session(True)
    unprotect_rtp, unprotect_rtcp = srtp_c.unprotect_functions(rx)
    wire = tx.protect(rtp(10, b"\x01" * 200))
    forged = wire[:-1] + bytes([wire[-1] ^ 1])
    tampered = wire[:40] + bytes([wire[40] ^ 0x80]) + wire[41:]
    for bad in (forged, tampered, wire[:11], wire[:12], b"", b"\x80", b"\x80" + os.urandom(1600),
                b"\x80" + os.urandom(9000), os.urandom(300)):
        assert unprotect_rtp(bad) is None
    assert unprotect_rtp(wire) == rtp(10, b"\x01" * 200)     # the refusals spoiled nothing
    assert unprotect_rtp(wire) is None                       # a replay
    rr = tx.protect_rtcp(rtcp_rr(1))
    for bad in (rr[:-2], rr[:8], b"", bytes([0x81, 201]) + os.urandom(1800), rr[:-1] + bytes([rr[-1] ^ 1])):
        assert unprotect_rtcp(bad) is None
    assert unprotect_rtcp(rr) == rtcp_rr(1)
    assert unprotect_rtcp(rr) is None


def test_one_replay_window_with_the_sessions_own_unprotect(path):
    tx, rx = session(False), session(True)
    unprotect_rtp, _ = srtp_c.unprotect_functions(rx)
    first, second = tx.protect(rtp(20, b"a" * 50)), tx.protect(rtp(21, b"b" * 50))
    assert rx.unprotect(first) == rtp(20, b"a" * 50)
    assert unprotect_rtp(first) is None                      # pylibsrtp already took it
    assert unprotect_rtp(second) == rtp(21, b"b" * 50)
    with pytest.raises(Error):
        rx.unprotect(second)


def test_the_c_unprotect_keeps_its_session_alive():
    if srtp_c.Unprotect is None:
        pytest.skip("the C module was not built")
    tx = session(False)
    unprotect_rtp, _ = srtp_c.unprotect_functions(session(True))   # no other reference to the session
    import gc
    gc.collect()
    assert unprotect_rtp(tx.protect(rtp(5, b"x" * 30))) == rtp(5, b"x" * 30)
    with pytest.raises(TypeError):
        unprotect_rtp("not bytes")
