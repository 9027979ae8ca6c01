"""Pure logic of resume tokens and the records of removals during the grace (signaling/live/resume.py)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from signaling.live.resume import Graces, find, new_token, same_token


def test_tokens_are_long_random_and_compared_exactly():
    a, b = new_token(), new_token()
    assert a != b and len(a) >= 32          # 192 bits, url-safe base64
    assert same_token(a, a) and not same_token(a, b)
    assert not same_token(a, a[:-1]) and not same_token(None, a) and not same_token(a, "")


def test_find_returns_the_holder_only():
    s1, s2 = SimpleNamespace(resume_token=new_token()), SimpleNamespace(resume_token=None)
    assert find([s2, s1], s1.resume_token) is s1
    assert find([s2, s1], new_token()) is None


def test_an_ended_record_answers_for_the_grace_only():
    now = [100.0]
    graces = Graces(5, clock=lambda: now[0])
    token = new_token()
    graces.remember_end("room-a", token, "kicked")
    assert graces.ended_reason("room-a", token) == "kicked"
    assert graces.ended_reason("room-b", token) is None       # another room
    assert graces.ended_reason("room-a", new_token()) is None
    now[0] += 5.1
    assert graces.ended_reason("room-a", token) is None


async def test_a_grace_fires_once_and_can_be_cancelled():
    graces = Graces(0.01, clock=lambda: 0.0)
    fired = asyncio.Event()
    calls: list[str] = []
    kept, dropped = object(), object()
    graces.start(dropped, lambda: calls.append("dropped"))
    graces.cancel(dropped)
    graces.start(kept, lambda: (calls.append("kept"), fired.set()))
    await asyncio.wait_for(fired.wait(), 5)
    assert calls == ["kept"] and graces.pending() == 0
