"""Active speaker detection from audio levels (pure logic)."""

from __future__ import annotations

from media.speaker import ActiveSpeakerDetector


def feed(d: ActiveSpeakerDetector, levels: dict[str, int], packets: int = 50) -> None:
    for _ in range(packets):
        for pid, level in levels.items():
            d.add(pid, level)


def test_loudest_speaker_wins_and_silence_never_does():
    d = ActiveSpeakerDetector(interval=0.25)
    feed(d, {"a": 127, "b": 127})
    assert d.update(0.0) is None
    feed(d, {"a": 20, "b": 127})
    assert d.update(1.0) == "a"
    assert d.update(1.1) is None  # unchanged: no event


def test_at_most_one_change_per_interval():
    d = ActiveSpeakerDetector(interval=0.25)
    feed(d, {"a": 20, "b": 127})
    assert d.update(0.0) == "a"
    feed(d, {"a": 127, "b": 10}, packets=100)
    assert d.update(0.1) is None
    assert abs(d.next_check(0.1) - 0.15) < 1e-9
    assert d.update(0.25) == "b"
    assert d.next_check(0.3) is None


def test_hysteresis_keeps_current_speaker_on_similar_levels():
    d = ActiveSpeakerDetector(interval=0.0)
    feed(d, {"a": 30, "b": 127})
    assert d.update(0.0) == "a"
    feed(d, {"a": 30, "b": 28})
    assert d.update(1.0) is None
    d.silence("a")
    assert d.update(2.0) == "b"
