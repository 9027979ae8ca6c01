"""Keyframe detection and the throttled keyframe requester (pure logic)."""

from __future__ import annotations

from media.forward.keyframes import KeyframeRequester, is_keyframe
from tests.helpers.media_peers import COLOURS, encode_vp8


class FakeLoop:
    def __init__(self) -> None:
        self.timers: list[tuple[float, object]] = []

    def call_later(self, delay, callback):
        loop = self

        class Handle:
            cancelled = False

            def cancel(self) -> None:
                self.cancelled = True
                loop.timers = [t for t in loop.timers if t[1] is not self]

        handle = Handle()
        handle.callback = callback
        self.timers.append((delay, handle))
        return handle

    def fire(self) -> None:
        _, handle = self.timers.pop(0)
        handle.callback()


def test_vp8_keyframe_bit_on_real_frames():
    frames = encode_vp8(COLOURS["red"], count=5)
    assert is_keyframe("VP8", frames[0])
    assert not any(is_keyframe("VP8", f) for f in frames[1:])


def test_h264_idr_or_sps_is_a_keyframe():
    sps, idr, p_slice = b"\x00\x00\x00\x01\x67\x42", b"\x00\x00\x01\x65\x88", b"\x00\x00\x00\x01\x41\x9a"
    assert is_keyframe("H264", sps + idr)
    assert is_keyframe("h264", idr)
    assert not is_keyframe("H264", p_slice)
    assert not is_keyframe("H264", b"")


def test_audio_is_always_decodable():
    assert is_keyframe("opus", b"\x01")


def test_requests_are_throttled_and_repeated_until_a_keyframe():
    now = [100.0]
    sent: list[float] = []
    loop = FakeLoop()
    kr = KeyframeRequester(lambda: sent.append(now[0]), min_interval=0.25, retry_interval=0.5,
                           clock=lambda: now[0], loop=loop)
    kr.request()
    assert sent == [100.0] and kr.pending
    kr.request()  # already scheduled: no extra PLI
    assert sent == [100.0] and len(loop.timers) == 1
    now[0] = 100.5
    loop.fire()  # retry: no keyframe yet
    assert sent == [100.0, 100.5]
    kr.keyframe_received()
    assert not kr.pending and loop.timers == []
    now[0] = 100.6  # a new request within min_interval waits for the gap
    kr.request()
    assert sent == [100.0, 100.5]
    assert abs(loop.timers[0][0] - 0.15) < 1e-6
    now[0] = 100.75
    loop.fire()
    assert sent[-1] == 100.75
    kr.close()
    assert loop.timers == []
    kr.request()
    assert len(sent) == 3


def test_a_wider_interval_spaces_requests_and_retries():
    now = [100.0]
    sent: list[float] = []
    loop = FakeLoop()
    kr = KeyframeRequester(lambda: sent.append(now[0]), min_interval=0.25, retry_interval=0.5,
                           clock=lambda: now[0], loop=loop)
    kr.min_interval = 1.5                   # the publication's fan-out grew (Publication._subscribers_changed)
    kr.request()
    assert sent == [100.0] and loop.timers[0][0] == 1.5     # the retry waits the interval too
    kr.keyframe_received()
    now[0] = 100.5
    kr.request()                            # a newcomer 0.5 s later: it waits for the interval
    assert sent == [100.0] and abs(loop.timers[0][0] - 1.0) < 1e-9


def test_a_publication_spaces_keyframes_by_its_fanout():
    from media.ports import MediaConfig
    from media.publication import Publication

    class Listener:
        def __getattr__(self, name):
            return lambda *a, **k: None

    class Sub:
        history = None
        copy = None

        def close(self) -> None:
            pass

    config = MediaConfig()
    pub = Publication("p-cam", "p", "camera", "video", None, config, Listener())
    assert pub.keyframes.min_interval == config.keyframe_min_interval
    for i in range(300):
        pub.add_subscriber(f"s{i}", Sub())
    assert abs(pub.keyframes.min_interval - 300 * config.keyframe_interval_per_subscriber) < 1e-9
    for i in range(290):
        pub.remove_subscriber(f"s{i}")
    assert pub.keyframes.min_interval == config.keyframe_min_interval
