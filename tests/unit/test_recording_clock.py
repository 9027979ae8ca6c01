"""The recording timeline: RTP unwrapping and per-track anchoring (pure logic)."""

from media.recording.clock import RecordingClock, RtpUnwrapper, TrackClock
from media.recording.codecs import (
    codec_info, container_for, h264_dimensions, h264_is_keyframe, h264_parameter_sets, opus_head, vp8_dimensions,
)
from tests.helpers.encoded_media import h264_clip

WRAP = 1 << 32


def test_unwrap_crosses_the_32_bit_wrap_forward_and_back():
    u = RtpUnwrapper()
    assert u.unwrap(WRAP - 3000) == WRAP - 3000
    assert u.unwrap(0) == WRAP                 # forward across the wrap
    assert u.unwrap(3000) == WRAP + 3000
    assert u.unwrap(WRAP - 1000) == WRAP - 1000  # a late frame from before the wrap
    assert u.unwrap(6000) == WRAP + 6000


def test_tracks_share_the_origin_and_late_tracks_keep_their_offset():
    rec = RecordingClock()
    video = TrackClock(rec, 90000)
    audio = TrackClock(rec, 48000)
    assert video.to_ms(WRAP - 90000, arrival=100.0) == 0
    assert video.to_ms(0, arrival=101.1) == 1000           # RTP spacing, not arrival jitter
    assert audio.to_ms(12345, arrival=102.5) == 2500       # first audio frame 2.5 s in
    assert audio.to_ms(12345 + 48000, arrival=103.6) == 3500
    assert video.to_ms(WRAP - 90000 + 1000, arrival=101.2) == 1001  # never backwards, never repeated


def test_a_held_up_first_frame_does_not_shift_the_track():
    rec = RecordingClock()
    audio, video = TrackClock(rec, 48000), TrackClock(rec, 90000)
    assert audio.to_ms(0, arrival=10.0) == 0
    # video's first frame was held up 200 ms; the next ones show its clock really started at 0.1 s
    values = [video.observe(3000 * k, arrival=(10.3 if k == 0 else 10.1 + k / 30)) for k in range(30)]
    video.frozen = True
    assert [video.place(v) for v in values[:3]] == [100, 133, 167]
    assert video.to_ms(3000 * 40, arrival=9.0 + 3) == 1433   # frozen: an early frame changes nothing


def test_timestamps_never_repeat():
    clock = TrackClock(RecordingClock(), 48000)
    # a burst: four 20 ms packets released at once by a jitter buffer
    got = [clock.to_ms(960 * k, arrival=5.0) for k in range(4)]
    assert got == sorted(set(got)) and len(got) == 4


def test_codec_helpers():
    assert codec_info("video/VP8").av_name == "vp8" and codec_info("H264").clock_rate == 90000
    assert container_for({"VP8", "opus"}) == "webm" and container_for({"H264", "opus"}) == "matroska"
    assert len(opus_head()) == 19 and opus_head().startswith(b"OpusHead")
    key = bytes([0x50, 0x18, 0x00, 0x9D, 0x01, 0x2A, 0x40, 0x01, 0xF0, 0x00])
    assert vp8_dimensions(key) == (320, 240)
    assert vp8_dimensions(bytes([0x51]) + key[1:]) is None
    try:
        codec_info("video/AV1")
    except ValueError:
        pass
    else:
        raise AssertionError("AV1 accepted")


def test_h264_sizes_and_parameter_sets_from_the_bitstream():
    for size, profile in (((320, 240), "baseline"), ((640, 360), "main"), ((1280, 720), "high")):
        clip = h264_clip(0.1, size=size, profile=profile)
        key, delta = clip[0].data, clip[1].data
        assert h264_is_keyframe(key) and not h264_is_keyframe(delta)
        assert h264_dimensions(key) == size, profile
        assert h264_dimensions(delta) is None
        params = h264_parameter_sets(key)
        assert params.startswith(b"\x00\x00\x00\x01") and params[4] & 0x1F == 7 and not h264_parameter_sets(delta)
