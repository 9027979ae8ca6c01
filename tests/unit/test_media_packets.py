"""Packet-level forwarding helpers: keyframe starts and header extensions (pure logic)."""

from __future__ import annotations

import struct

from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from media.aiortc_compat import h264_payloads, vp8_payloads
from media.forward.keyframes import starts_keyframe
from media.forward.copy import extension_block, extension_element
from tests.helpers.media_peers import COLOURS, encode_vp8


def test_vp8_keyframe_starts_only_on_the_first_packet_of_a_keyframe():
    frames = encode_vp8(COLOURS["blue"], count=3, width=640, height=480)
    key_packets = vp8_payloads(frames[0] + bytes(3000), picture_id=300)  # 2-byte picture id
    assert len(key_packets) > 1
    assert starts_keyframe("VP8", key_packets[0])
    assert not any(starts_keyframe("VP8", p) for p in key_packets[1:])
    delta_packets = vp8_payloads(frames[1] + bytes(3000), picture_id=5)  # 1-byte picture id
    assert not any(starts_keyframe("VP8", p) for p in delta_packets)


def annexb(*nal_units: bytes) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + nal for nal in nal_units)


def test_h264_keyframe_starts():
    sps, pps, idr = b"\x67\x42\x00\x1f", b"\x68\xce", b"\x65" + bytes(3000)
    packets = h264_payloads(annexb(sps, pps, idr))  # STAP-A(sps, pps) then FU-A(idr)
    assert starts_keyframe("H264", packets[0])
    fu_a = [p for p in packets if p[0] & 0x1F == 28]
    assert starts_keyframe("H264", fu_a[0]) and not starts_keyframe("H264", fu_a[1])
    non_idr = h264_payloads(annexb(b"\x41" + bytes(3000)))
    assert not any(starts_keyframe("H264", p) for p in non_idr)


def test_audio_packets_always_start():
    assert starts_keyframe("opus", b"\xfc")


def test_extension_block_parses_back_with_aiortc():
    params = RTCRtpParameters(headerExtensions=[
        RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
        RTCRtpHeaderExtensionParameters(id=2, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
        RTCRtpHeaderExtensionParameters(id=3, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"),
    ])
    hmap = HeaderExtensionsMap()
    hmap.configure(params)
    ext = extension_block(extension_element(1, b"7") + extension_element(3, b"\x01\x02\x03")
                          + extension_element(2, bytes([0x80 | 33])))
    assert len(ext) % 4 == 0
    data = struct.pack("!BBHII", 0x90, 0x80 | 111, 4242, 123456, 99) + ext + b"payload"
    packet = RtpPacket.parse(data, hmap)
    assert (packet.sequence_number, packet.timestamp, packet.ssrc, packet.payload_type, packet.marker) == (
        4242, 123456, 99, 111, 1)
    assert packet.extensions.mid == "7"
    assert packet.extensions.abs_send_time == 0x010203
    assert packet.extensions.audio_level == (True, 33)
    assert packet.payload == b"payload"
    assert extension_block(b"") == b""
