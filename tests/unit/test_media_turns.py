"""media/turns.py: a burst of callers goes on a few per event-loop iteration, in arrival order."""

from __future__ import annotations

import asyncio

import pytest

from media.turns import Turns
from tests.helpers.loop_iterations import Iterations


async def burst(turns: Turns, n: int) -> tuple[list[int], list[int]]:
    """n callers take a turn at once: (their order of going on, the iteration each went on in)."""
    it = Iterations()
    order: list[int] = []
    went: list[int] = []

    async def caller(i: int) -> None:
        await turns.take()
        order.append(i)
        went.append(it.n)

    await asyncio.wait_for(asyncio.gather(*(caller(i) for i in range(n))), 10)
    it.stop()
    return order, went


@pytest.mark.asyncio
async def test_a_burst_goes_on_per_turn_callers_per_iteration_in_arrival_order() -> None:
    order, went = await burst(Turns(4), 22)
    assert order == list(range(22))
    per_iteration = [went.count(i) for i in sorted(set(went))]
    assert per_iteration == [4, 4, 4, 4, 4, 2]
    # the first four at once, then a round per iteration hands out the next four
    assert max(went) - min(went) <= 6


@pytest.mark.asyncio
async def test_an_idle_loop_hands_out_turns_at_once() -> None:
    turns = Turns(2)
    it = Iterations()
    await turns.take()
    await turns.take()
    assert it.n == 0    # neither waited for an iteration
    await asyncio.sleep(0.01)   # a round passes: the count starts afresh
    n = it.n
    await turns.take()
    assert it.n == n
    it.stop()
    assert turns.waiting == 0


@pytest.mark.asyncio
async def test_a_cancelled_waiter_is_skipped_and_takes_no_turn() -> None:
    turns = Turns(1)
    a = asyncio.ensure_future(turns.take())     # goes on at once
    b = asyncio.ensure_future(turns.take())     # wait for the next rounds
    c = asyncio.ensure_future(turns.take())
    await asyncio.sleep(0)
    assert a.done() and turns.waiting == 2
    it = Iterations()
    b.cancel()
    await asyncio.wait_for(c, 5)
    went = it.n
    it.stop()
    assert b.cancelled() and turns.waiting == 0
    assert went <= 3    # c went on in the next round (then main woke): b took no turn of its own


def test_per_turn_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Turns(0)


@pytest.mark.asyncio
async def test_grants_are_turns_of_later_rounds_in_order() -> None:
    turns = Turns(2)
    loop = asyncio.get_running_loop()
    it = Iterations()
    futures = [loop.create_future() for _ in range(5)]
    went: list[tuple[int, int]] = []
    for i, fut in enumerate(futures):
        fut.add_done_callback(lambda _, i=i: went.append((i, it.n)))
        turns.grant(fut)
    assert not any(f.done() for f in futures)   # never at once, even on an idle loop
    await asyncio.wait_for(asyncio.gather(*futures), 5)
    it.stop()
    assert [i for i, _ in went] == list(range(5))
    rounds = [n for _, n in went]
    assert [rounds.count(n) for n in sorted(set(rounds))] == [2, 2, 1] and turns.waiting == 0
