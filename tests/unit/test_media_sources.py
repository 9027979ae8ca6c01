"""Which m-line carries which source, and who may publish it (pure logic)."""

from __future__ import annotations

import pytest

from media.ports import BadDescription, NotAllowed
from media.sources import assign_sources, parse_offer

ALL = frozenset({"audio", "video", "screen"})


def m(kind: str, mid: str, codec: str = "VP8", direction: str = "sendonly", track: str = "t") -> str:
    if kind == "audio":
        rtpmap, pt = "opus/48000/2", 111
    elif codec == "H264":
        rtpmap, pt = "H264/90000", 102
    else:
        rtpmap, pt = f"{codec}/90000", 96
    fmtp = f"a=fmtp:{pt} packetization-mode=1;profile-level-id=42e01f\r\n" if codec == "H264" and kind == "video" else ""
    return (
        f"m={kind} 9 UDP/TLS/RTP/SAVPF {pt}\r\nc=IN IP4 0.0.0.0\r\na=mid:{mid}\r\na={direction}\r\n"
        f"a=msid:stream {track}-{mid}\r\na=rtpmap:{pt} {rtpmap}\r\n{fmtp}"
        "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
        "a=fingerprint:sha-256 00:11\r\na=setup:actpass\r\n"
    )


def offer(*sections: str) -> str:
    return "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" + "".join(sections)


def test_labels_by_mid_or_track_id_and_defaults():
    d = parse_offer(offer(m("audio", "0"), m("video", "1"), m("video", "2")))
    assert assign_sources(d, {"1": "camera", "t-2": "screen"}, ALL, ("VP8",)) == {
        "0": "microphone", "1": "camera", "2": "screen"}
    d = parse_offer(offer(m("audio", "0"), m("video", "1")))
    assert assign_sources(d, {}, ALL, ("VP8",)) == {"0": "microphone", "1": "camera"}


def test_receive_only_sections_are_not_publications():
    d = parse_offer(offer(m("audio", "0", direction="recvonly"), m("video", "1", direction="inactive")))
    assert assign_sources(d, {}, ALL, ("VP8",)) == {}


def test_permissions_are_enforced():
    d = parse_offer(offer(m("audio", "0"), m("video", "1")))
    with pytest.raises(NotAllowed):
        assign_sources(d, {}, frozenset({"audio"}), ("VP8",))
    d = parse_offer(offer(m("video", "1")))
    with pytest.raises(NotAllowed):
        assign_sources(d, {"1": "screen"}, frozenset({"audio", "video"}), ("VP8",))
    with pytest.raises(NotAllowed):
        assign_sources(parse_offer(offer(m("audio", "0"))), {}, frozenset(), ("VP8",))


@pytest.mark.parametrize("labels,sections", [
    ({"0": "camera"}, [m("audio", "0")]),  # kind mismatch
    ({"0": "webcam"}, [m("video", "0")]),  # unknown source
    ({}, [m("video", "0"), m("video", "1")]),  # two unlabelled videos
    ({"0": "camera", "1": "camera"}, [m("video", "0"), m("video", "1")]),  # duplicate
    ({}, [m("video", "0", codec="VP9")]),  # no usable codec
])
def test_bad_offers_are_refused(labels, sections):
    with pytest.raises(BadDescription):
        assign_sources(parse_offer(offer(*sections)), labels, ALL, ("VP8", "H264"))


def test_h264_accepted_only_when_configured():
    d = parse_offer(offer(m("video", "0", codec="H264")))
    assert assign_sources(d, {}, ALL, ("VP8", "H264")) == {"0": "camera"}
    with pytest.raises(BadDescription):
        assign_sources(d, {}, ALL, ("VP8",))


@pytest.mark.parametrize("text", ["", "   ", "hello", "v=0\r\n"])
def test_garbage_is_a_bad_description(text):
    with pytest.raises(BadDescription):
        parse_offer(text)


def test_inactive_recvonly_and_rejected_m_lines_publish_nothing():
    rejected = m("video", "3").replace("m=video 9 ", "m=video 0 ", 1)
    d = parse_offer(offer(m("audio", "0", direction="inactive"), m("video", "1", direction="recvonly"),
                          m("video", "2"), rejected))
    # only mid 2 sends: it is the camera even though two video m-lines are unlabelled
    assert assign_sources(d, {"3": "screen"}, ALL, ("VP8",)) == {"2": "camera"}


def test_bundle_only_m_lines_with_port_0_are_bundled_not_rejected():
    """Firefox offers every m-line after the first with port 0 and a=bundle-only (RFC 8843)."""
    bundled = m("video", "1").replace("m=video 9 ", "m=video 0 ", 1) + "a=bundle-only\r\n"
    rejected = m("video", "2").replace("m=video 9 ", "m=video 0 ", 1)
    d = parse_offer(offer(m("audio", "0"), bundled, rejected))
    assert assign_sources(d, {"1": "camera", "2": "screen"}, ALL, ("VP8",)) == {"0": "microphone", "1": "camera"}
