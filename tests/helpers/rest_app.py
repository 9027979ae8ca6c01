"""Helpers for the REST tests: an app on a real 127.0.0.1 server with a chosen live-meetings port."""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from server.config import Settings
from server.credentials import Credentials, load_or_create
from server.domain.live_meetings import NoLiveMeetings
from server.http.appkeys import STORE
from server.store.records import Room


class RecordingLive(NoLiveMeetings):
    """The LiveMeetings port as the signaling hub drives it, recording what REST asked.

    Stands in for the hub so the meeting branches of the REST API can be exercised
    without websockets; ``meetings`` is the set of rooms with a live meeting.
    """

    def __init__(self) -> None:
        self.meetings: set[str] = set()
        self.ended: list[tuple[str, str]] = []      # meetings that were live when ended
        self.end_calls: list[tuple[str, str]] = []  # every end_meeting call (also turns away a lobby)
        self.updated: list[Room] = []

    def has_meeting(self, room_id: str) -> bool:
        return room_id in self.meetings

    async def end_meeting(self, room_id: str, reason: str) -> None:
        self.end_calls.append((room_id, reason))
        if room_id in self.meetings:
            self.ended.append((room_id, reason))
            self.meetings.discard(room_id)

    async def room_updated(self, room: Room) -> None:
        self.updated.append(room)


@contextlib.asynccontextmanager
async def running_app(settings: Settings, *, live: Any = None, recording_media: Any = None,
                      prepare: Any = None) -> AsyncIterator[tuple[TestClient, web.Application, Credentials]]:
    """``live``: a LiveMeetings for the domain instead of the hub's; ``recording_media``: the
    recorder's media instead of the app's SFU; ``prepare(app)`` runs before the app starts."""
    creds = load_or_create(settings.data_dir, settings.api_keys)
    app = create_app(settings, creds, live=live, recording_media=recording_media)
    if prepare is not None:
        prepare(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, app, creds


def store_of(app: web.Application):
    return app[STORE]
