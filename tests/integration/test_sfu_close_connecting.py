"""A participant closed while its publish connection is still connecting (issue 16, robustness).

A guest who gives up mid-connect, or a leave racing ICE/DTLS: the server's close must be
quiet (no "Task exception was never retrieved" from aiortc's connect task, e.g. its
"RTCIceTransport is closed") and complete (no aiortc/aioice task left running, the peer
connection freed). Real aiortc peers over loopback; media/aiortc_compat/closing.py.
"""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from media.ports import MediaConfig
from media.sfu import MediaService
from tests.helpers.media_peers import COLOURS, SolidColourTrack, ToneTrack, join_room

pytestmark = pytest.mark.timeout(60)


def webrtc_tasks() -> set[asyncio.Task]:
    """Running tasks whose coroutine is aiortc's or aioice's."""
    return {t for t in asyncio.all_tasks()
            if getattr(getattr(t.get_coro(), "cr_code", None), "co_filename", "").count("/aio") and
            any(f"/{lib}/" in t.get_coro().cr_code.co_filename for lib in ("aiortc", "aioice"))}


@pytest.mark.parametrize("moment", ["ice checking", "dtls connecting"])
async def test_close_while_connecting_is_quiet_and_complete(clients, moment):
    loop = asyncio.get_running_loop()
    unhandled: list[dict] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    sfu = MediaService(MediaConfig(loopback_candidates=True))
    try:
        room = sfu.open_room("connecting")
        alice = clients("alice", decode=False)
        await join_room(room, alice)
        before = webrtc_tasks()
        sdp, sources = await alice.publish_offer({"microphone": ToneTrack(), "camera": SolidColourTrack(COLOURS["red"])})
        answer = await room.publish("alice", sdp, sources)
        pc = room._get("alice").publish_pc
        ref = weakref.ref(pc)
        closing: list[asyncio.Task] = []
        close = lambda: closing.append(asyncio.ensure_future(room.remove_participant("alice")))  # noqa: E731
        if moment == "dtls connecting":
            # ICE done, DTLS handshake under way: aiortc's connect task is inside dtlsTransport.start
            pc.on("iceconnectionstatechange", lambda: pc.iceConnectionState == "completed" and not closing and close())
            await alice.publish_answer(answer)
            for _ in range(400):
                if closing:
                    break
                await asyncio.sleep(0.025)
            assert closing, "the server's ICE never completed"
        else:
            await alice.publish_answer(answer)   # the client starts its checks; the server closes at once
            close()
        await asyncio.wait_for(closing[0], 20)
        assert not room.has_participant("alice")
        await alice.close()
        del pc
        for _ in range(40):   # let the transports' tasks end, then collect what they held
            gc.collect()
            if not (webrtc_tasks() - before) and ref() is None:
                break
            await asyncio.sleep(0.1)
        gc.collect()
        await asyncio.sleep(0)
        left = webrtc_tasks() - before
        assert not left, [t.get_coro().__qualname__ for t in left]
        assert not unhandled, [f"{c.get('message')} {c.get('exception')!r}" for c in unhandled]
        assert ref() is None, "the server's peer connection is still referenced"
    finally:
        await sfu.close()
        loop.set_exception_handler(previous)
