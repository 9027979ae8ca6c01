"""A server shut down while people are in a meeting still writes their leaves to the participants'
log (Whereby insights read it): the writes queued while the hub closed are awaited before the store
closes (server/app.py `_close_store`). They were lost with "sqlite store is not open"."""

from __future__ import annotations

import sqlite3

from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from server.credentials import load_or_create
from server.store import SqliteStore
from tests.helpers.signaling import clients

PEOPLE = 30


async def test_leaves_at_shutdown_are_written(settings_factory, auth):
    settings = settings_factory()
    app = create_app(settings, load_or_create(settings.data_dir, settings.api_keys))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        created = await client.post("/v1/meetings", json={"endDate": "2099-01-01T00:00:00Z", "roomMode": "group"},
                                    headers=auth)
        assert created.status == 201, await created.text()
        room_id = (await created.json())["meetingId"]
        async with clients(client) as cs:
            for i in range(PEOPLE):
                await cs.joined(room_id, f"Guest {i}")
            await client.close()                      # the server stops with everyone still in
    finally:
        await client.close()
    with sqlite3.connect(settings.data_dir / "antechamber.sqlite3") as db:   # the store, read back
        sessions = [r[0] for r in db.execute("SELECT DISTINCT room_session_id FROM participations")]
    store = SqliteStore(settings.data_dir / "antechamber.sqlite3")
    await store.open()
    try:
        entries = [p for s in sessions for p in await store.list_participations(s)]
    finally:
        await store.close()
    assert [p.room_id for p in entries] == [room_id] * PEOPLE
    assert all(p.left_at is not None and p.left_at >= p.joined_at for p in entries), entries
