"""A real server process that is recording a live meeting, for crash and shutdown tests.

    python -m tests.helpers.recording_server --data-dir D --port P --api-key K

Runs the real application (create_app, SQLite store in D) with the real SFU wired
to the recording service through SfuRecordingMedia, an aiortc participant
publishing audio and video into room "crash-room", and starts a recording of
it; prints ``RECORDING <id>`` once the recording is active. Then it serves until
it is killed (SIGKILL) or stopped (SIGTERM: aiohttp's clean shutdown).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from aiohttp import web

from media.ports import MediaConfig
from media.sfu import MediaService
from server.app import create_app
from server.config import Settings
from server.credentials import load_or_create
from server.http.appkeys import RECORDINGS, STORE
from server.live.recording_media import SfuRecordingMedia
from server.logs import configure_logging
from server.store.records import Room
from tests.helpers.media_peers import COLOURS, PeerClient, SolidColourTrack, ToneTrack, join_room, publish

ROOM = "crash-room"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", required=True)
    args = parser.parse_args()
    settings = Settings(host="127.0.0.1", port=args.port, data_dir=Path(args.data_dir), api_keys=(args.api_key,),
                        log_format="json")
    configure_logging(settings.log_format, settings.log_level)
    sfu = MediaService(MediaConfig(loopback_candidates=True))
    app = create_app(settings, load_or_create(settings.data_dir, settings.api_keys),
                     recording_media=SfuRecordingMedia(sfu))
    peer = PeerClient("alice", decode=False)
    tasks: list[asyncio.Task] = []

    async def begin() -> None:
        if await app[STORE].get_room(ROOM) is None:
            await app[STORE].create_room(Room(room_id=ROOM, creation_date=int(time.time() * 1000)))
        room = sfu.open_room(ROOM)
        await join_room(room, peer)
        await publish(room, peer, {"microphone": ToneTrack(), "camera": SolidColourTrack(COLOURS["blue"])})
        while len(room.publications()) < 2 or any(room.pubs[p.publication_id].frames_in < 3
                                                  for p in room.publications()):
            await asyncio.sleep(0.05)
        rec = await app[RECORDINGS].start(ROOM)
        print(f"RECORDING {rec.recording_id}", flush=True)

    async def on_startup(app: web.Application) -> None:
        tasks.append(asyncio.ensure_future(begin()))

    async def on_shutdown(app: web.Application) -> None:
        for t in tasks:
            t.cancel()
        await peer.close()
        await sfu.close()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None,
                handle_signals=True, shutdown_timeout=5.0)


if __name__ == "__main__":
    main()
