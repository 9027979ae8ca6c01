"""The forwarding path's send (media/aiortc_compat/send.py, _srtpsend.c): what reaches a real UDP
socket is the RTP packet the parts describe, SRTP-protected with the sender's own libsrtp context —
byte for byte what the Python path (pylibsrtp protect + sendto) sends, on one SRTP index sequence
with the context's other users, and unreadable to anyone with another key."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import struct
from types import SimpleNamespace

import pytest
from aiortc.rtcdtlstransport import State
from aiortc.rtp import RtpPacket
from pylibsrtp import Error, Policy, Session

from media.aiortc_compat import send as send_module
from media.aiortc_compat import srtp_c
from media.aiortc_compat.send import rtp_send_function

KEY = bytes(range(30))
OTHER_KEY = bytes(range(1, 31))
EXT = struct.pack("!HH", 0xBEDE, 1) + bytes([(4 << 4) | 0, ord("3"), 0, 0])   # MID "3", padded

pytestmark = pytest.mark.skipif(send_module.send_path() != "c", reason="the C send module was not built")


def session(key: bytes, inbound: bool) -> Session:
    policy = Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND if inbound else Policy.SSRC_ANY_OUTBOUND)
    return Session(policy=policy)


class Pair:
    """aioice's CandidatePair as the send path reads it: a protocol with a datagram transport."""

    def __init__(self, transport: asyncio.DatagramTransport, remote: tuple[str, int]) -> None:
        self.protocol = SimpleNamespace(transport=transport)
        self.remote_addr = remote


async def endpoints():
    loop = asyncio.get_running_loop()
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    return receiver, transport


def dtls_for(transport, remote, tx: Session):
    nominated = {1: Pair(transport, remote)}
    dtls = SimpleNamespace(_state=State.CONNECTED, _tx_srtp=tx,
                           transport=SimpleNamespace(_connection=SimpleNamespace(_nominated=nominated)))
    return dtls, nominated


def plain(marker_pt: int, seq: int, ts: int, ssrc: int, ext: bytes, payload: bytes) -> bytes:
    return struct.pack("!BBHII", 0x90 if ext else 0x80, marker_pt, seq, ts, ssrc) + ext + payload


async def test_the_c_send_puts_the_protected_packet_on_the_wire_as_the_python_path_would():
    receiver, transport = await endpoints()
    try:
        tx, twin, rx = session(KEY, False), session(KEY, False), session(KEY, True)
        dtls, _ = dtls_for(transport, receiver.getsockname(), tx)
        send = rtp_send_function(dtls)
        payload = os.urandom(1100)
        parts = [((1 << 7) | 96, 65535, 0xFFFFFF00, 0x1234ABCD, EXT, payload),
                 (96, 0, (0xFFFFFF00 + 3000) & 0xFFFFFFFF, 0x1234ABCD, EXT, payload[:300]),
                 (111, 77, 960, 0x0BADCAFE, b"", b"\x01\x02")]
        for p in parts:
            assert send(*p) is True
        for p in parts:
            wire = receiver.recv(2048)
            assert wire == twin.protect(plain(*p))            # the Python path's bytes, exactly
            packet = RtpPacket.parse(rx.unprotect(wire))
            marker_pt, seq, ts, ssrc, ext, body = p
            assert (packet.marker, packet.payload_type) == (marker_pt >> 7, marker_pt & 0x7F)
            assert (packet.sequence_number, packet.timestamp, packet.ssrc) == (seq, ts, ssrc)
            assert packet.payload == body
        # with another key nothing authenticates
        with pytest.raises(Error):
            session(OTHER_KEY, True).unprotect(twin.protect(plain(*parts[0])))
    finally:
        transport.close()
        receiver.close()


async def test_c_and_python_sends_share_one_srtp_context():
    """RTCP and retransmissions may still use the session from Python: one index sequence."""
    receiver, transport = await endpoints()
    try:
        tx, rx = session(KEY, False), session(KEY, True)
        dtls, _ = dtls_for(transport, receiver.getsockname(), tx)
        send = rtp_send_function(dtls)
        assert send(96, 10, 1000, 42, b"", b"c-path")
        transport.sendto(tx.protect(plain(96, 11, 1000, 42, b"", b"python-path")), receiver.getsockname())
        assert send(96, 12, 1000, 42, b"", b"c-again")
        bodies = [RtpPacket.parse(rx.unprotect(receiver.recv(2048))).payload for _ in range(3)]
        assert bodies == [b"c-path", b"python-path", b"c-again"]
    finally:
        transport.close()
        receiver.close()


async def test_nothing_is_sent_before_dtls_or_without_a_pair_and_a_new_pair_is_followed():
    receiver, transport = await endpoints()
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    other.settimeout(5)
    try:
        tx, rx = session(KEY, False), session(KEY, True)
        dtls, nominated = dtls_for(transport, receiver.getsockname(), tx)
        send = rtp_send_function(dtls)
        dtls._state = State.CONNECTING
        assert send(96, 1, 0, 42, b"", b"early") is None      # no transport yet: None (unsent)
        dtls._state = State.CONNECTED
        pair = nominated.pop(1)
        assert send(96, 2, 0, 42, b"", b"no pair") is None
        nominated[1] = Pair(transport, other.getsockname())     # ICE nominated another pair
        assert send(96, 3, 0, 42, b"", b"moved")
        assert RtpPacket.parse(rx.unprotect(other.recv(2048))).sequence_number == 3
        nominated[1] = pair
        assert send(96, 4, 0, 42, b"", b"back")
        assert RtpPacket.parse(rx.unprotect(receiver.recv(2048))).sequence_number == 4
        dtls._state = State.CLOSED
        assert send(96, 5, 0, 42, b"", b"late") is None
    finally:
        transport.close()
        receiver.close()
        other.close()


async def test_a_target_keeps_its_srtp_context_alive_and_refuses_what_does_not_fit():
    receiver, transport = await endpoints()
    try:
        dtls, _ = dtls_for(transport, receiver.getsockname(), session(KEY, False))
        send = rtp_send_function(dtls)
        assert send(96, 1, 0, 42, b"", b"first")
        dtls._tx_srtp = tx2 = session(KEY, False)       # the old session is referenced only by the C target now
        gc.collect()
        assert send(96, 1, 0, 43, b"", b"new session")  # a new session: a new target
        del tx2
        rx = session(KEY, True)
        assert [RtpPacket.parse(rx.unprotect(receiver.recv(2048))).payload for _ in range(2)] == [b"first", b"new session"]
        with pytest.raises(ValueError, match="too long"):
            send(96, 2, 0, 42, b"", b"x" * 1400)
        with pytest.raises(TypeError):
            send(96, 2, 0, 42, "not bytes", b"x")
        for bad in ((96, -1, 0, 42), (96, 0x10000, 0, 42), (0x100, 1, 0, 42), (96, 1, 1 << 32, 42)):
            with pytest.raises(OverflowError):      # as struct.pack on the Python path
                send(*bad, b"", b"x")
    finally:
        transport.close()
        receiver.close()


def test_a_kernel_refusal_is_counted_not_raised():
    from media.aiortc_compat import _srtpsend

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = session(KEY, False)
    target = _srtpsend.Target(sock.fileno(), "127.0.0.1", 9, srtp_c.context_address(tx), srtp_c.PROTECT, (tx, sock))
    sock.close()                                    # the descriptor is gone: sendto fails with EBADF
    assert target.send(96, 1, 0, 42, b"", b"x") is False
    assert target.counts()["failed"] == 1 and target.counts()["last_errno"] != 0
    with pytest.raises(ValueError):
        _srtpsend.Target(3, "not-an-ip", 9, 1, 1, None)


async def test_the_python_path_counts_what_srtp_refuses_as_the_c_one_does():
    """A sequence number protected twice (a late packet mapped into numbers already sent) and a
    packet too long for SRTP's trailer: refused (False), not an exception out of the fan-out."""
    receiver, transport = await endpoints()
    try:
        dtls, nominated = dtls_for(transport, receiver.getsockname(), session(KEY, False))
        python_send = send_module._python_send(dtls, nominated)
        c_send = rtp_send_function(dtls)
        assert python_send(plain(96, 7, 0, 42, b"", b"first")) is True
        assert python_send(plain(96, 7, 0, 42, b"", b"again")) is False
        assert c_send(96, 7, 0, 42, b"", b"again") is False
        assert python_send(plain(96, 8, 0, 42, b"", b"x" * 1400)) is False
        rx = session(KEY, True)
        assert RtpPacket.parse(rx.unprotect(receiver.recv(2048))).payload == b"first"
    finally:
        transport.close()
        receiver.close()
