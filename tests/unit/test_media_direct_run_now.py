"""`run_now` (media/aiortc_compat/direct.py): a coroutine that never suspends ends in place; one
that suspends is finished by a task, in order, with the values it awaited; a failure is logged,
never raised into the datagram callback."""

from __future__ import annotations

import asyncio

from media.aiortc_compat.direct import run_now


async def test_a_coroutine_that_does_not_suspend_ends_in_place():
    seen = []

    async def inner(x):
        seen.append(x)
        return x * 2

    async def handle():
        seen.append(await inner(21))

    assert run_now(handle()) is True
    assert seen == [21, 42]


async def test_a_suspending_coroutine_is_finished_by_a_task():
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    seen = []

    async def handle():
        seen.append("start")
        seen.append(await first)
        await asyncio.sleep(0)
        seen.append(await second)

    assert run_now(handle()) is False
    assert seen == ["start"]
    first.set_result("a")
    for _ in range(5):
        await asyncio.sleep(0)
    assert seen == ["start", "a"]
    second.set_result("b")
    done = asyncio.Event()
    loop.call_soon(done.set)
    await asyncio.wait_for(done.wait(), 5)
    for _ in range(5):
        await asyncio.sleep(0)
    assert seen == ["start", "a", "b"]


async def test_an_exception_from_a_suspended_await_reaches_the_coroutine():
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    caught = []

    async def handle():
        try:
            await fut
        except ConnectionError as e:
            caught.append(e)

    assert run_now(handle()) is False
    fut.set_exception(ConnectionError("gone"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert [str(e) for e in caught] == ["gone"]


async def test_a_failure_is_logged_not_raised_and_not_once_per_packet(capsys, monkeypatch):
    from media.aiortc_compat import direct

    monkeypatch.setattr(direct, "_failures", [0])

    async def broken():
        raise ValueError("bad packet")

    assert run_now(broken()) is True
    first = capsys.readouterr().out
    assert "direct SRTP handling failed" in first and "bad packet" in first   # the first with its traceback
    for _ in range(1998):
        assert run_now(broken()) is True
    rest = capsys.readouterr().out
    assert rest.count("direct SRTP handling failed") == 1 and "failures=1000" in rest
