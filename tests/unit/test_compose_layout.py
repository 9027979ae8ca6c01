"""The composer's pure parts: where tiles go (media/recording/compose_layout.py) and who is the
active speaker (media/recording/compose_audio.py Levels)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from media.recording.compose_audio import Levels
from media.recording.compose_layout import layout


def overlap(a, b) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


@pytest.mark.parametrize("n", range(1, 10))
@pytest.mark.parametrize("screen", [None, "screen"])
def test_tiles_fit_the_picture_and_never_overlap(n, screen):
    people = [f"p{i}" for i in range(n)]
    tiles = layout(people, screen, 1280, 720)
    assert set(tiles) == set(people) | ({screen} if screen else set())
    for r in tiles.values():
        assert r.w >= 40 and r.h >= 20 and r.x >= 0 and r.y >= 0 and r.x + r.w <= 1280 and r.y + r.h <= 720
    for a, b in itertools.combinations(tiles.values(), 2):
        assert not overlap(a, b), (a, b)
    if screen:   # the shared screen is the largest thing on the picture
        assert all(tiles[screen].w * tiles[screen].h > r.w * r.h for k, r in tiles.items() if k != screen)


def tone(rms: float) -> np.ndarray:
    return np.full(960, rms, dtype=np.float32)


def test_the_loudest_speaking_participant_is_the_speaker_and_stays_a_moment():
    levels = Levels()
    for k in range(50):
        t = k * 0.02
        levels.add("alice", t, tone(0.3 if t < 0.5 else 0.0))
        levels.add("bob", t, tone(0.1))
    assert levels.speaker(0.4) == "alice"
    assert levels.speaker(0.98) == "bob"           # alice stopped; bob still speaks
    quiet = Levels()
    quiet.add("carol", 0.0, tone(0.001))
    assert quiet.speaker(0.1) is None              # silence is nobody
    quiet.add("carol", 0.2, tone(0.2))
    assert quiet.speaker(0.3) == "carol"
    assert quiet.speaker(1.0) == "carol"           # held after she stops ...
    assert quiet.speaker(2.0) is None              # ... for a second
