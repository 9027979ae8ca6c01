"""Concurrent writers of one room never undo each other (real server processes, real stores).

For a few seconds, at the same time:

- REST writers, each owning one config key (``config.<key>.enabled``), flip it with
  ``PUT /api/v1/rooms/{id}/config`` and read the room back after every acknowledged write;
- a host, over the websocket, toggles ``lock`` (and reads the room back after every ``ok``);
  after each toggle a fresh guest joins: it must knock when the room is locked, enter when not;
- a second host joins and leaves again and again, so meetings start and end (the server
  writes the room's status each time).

Runs on SQLite in one server process, and on two server processes sharing one Redis (the REST
writers alternate between them; the lock host is on the first, the meeting host on the last).

Asserted: every read after an acknowledged write shows that write (only its writer writes
that field, and the writer waits for the read before writing again); at the end every field
holds its writer's last acknowledged value; the live room's lock state (what a fresh guest
meets, and every ``room_updated`` the host gets after its ``ok``) equals the acknowledged and
stored one; when everyone has left the room's status goes back to ``open``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from tests.helpers.redis_server import drop_prefix

from server.http.appkeys import ROOMS, SETTINGS
from server.credentials import load_or_create
from server.live.directory import room_info
from signaling.client import SignalingClient
from tests.helpers.server_process import ServerProcess
from tests.helpers.signaling import clients, host_key, hub, make_room

pytestmark = pytest.mark.timeout(180)

DURATION = float(os.environ.get("ANTECHAMBER_RACE_SECONDS", "5"))
API_KEY = "race-test-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
CONFIG_KEYS = ("chat", "recording", "virtualBackground")
TIMEOUT = aiohttp.ClientTimeout(total=30)
ENV = {
    # hundreds of writes a second with one API key: the REST budget per key (1000 points a minute) is off
    "ANTECHAMBER_REST_RATE_LIMIT_PER_MINUTE": "0",
    # fresh guests knock from 127.0.0.1 many times a minute
    "ANTECHAMBER_KNOCKS_PER_IP_PER_MINUTE": "1000000",
    "ANTECHAMBER_KNOCK_COOLDOWN_SECONDS": "0",
    "ANTECHAMBER_LOG_LEVEL": "warning",
}


@dataclass
class Tally:
    acked: dict[str, int] = field(default_factory=dict)     # writer -> acknowledged writes
    undone: dict[str, int] = field(default_factory=dict)    # writer -> reads after an ack showing otherwise
    last: dict[str, bool] = field(default_factory=dict)     # writer -> its last acknowledged value
    live_checks: int = 0
    live_wrong: int = 0          # a fresh guest met another lock state than the acknowledged one
    live_flips: int = 0          # room_updated to the host, after its ok, with another lock state
    meetings: set[str] = field(default_factory=set)
    examples: list[str] = field(default_factory=list)

    def ack(self, writer: str, value: bool) -> None:
        self.acked[writer] = self.acked.get(writer, 0) + 1
        self.last[writer] = value

    def check(self, writer: str, value: bool, seen: Any, where: str) -> None:
        if seen is not value:
            self.undone[writer] = self.undone.get(writer, 0) + 1
            if len(self.examples) < 10:
                self.examples.append(f"{writer}: acknowledged {value}, then {where} read {seen}")

    def summary(self) -> str:
        return (f"acknowledged={self.acked} undone={self.undone} live_checks={self.live_checks} "
                f"live_wrong={self.live_wrong} live_flips={self.live_flips} meetings={len(self.meetings)}")


@pytest.fixture(params=["sqlite-1-process", "redis-2-processes"])
async def servers(request, tmp_path):
    """Base URLs of the server processes (one on SQLite, or two on one Redis)."""
    data = tmp_path / "data"
    procs: list[ServerProcess] = []
    prefix = redis_url = None
    try:
        if request.param.startswith("sqlite"):
            procs.append(await asyncio.to_thread(ServerProcess(data, api_key=API_KEY, env=ENV).start))
        else:
            redis_url = request.getfixturevalue("redis_url")
            prefix = f"race{uuid.uuid4().hex[:12]}:"
            url = f"{redis_url}{'&' if '?' in redis_url else '?'}prefix={prefix}"
            load_or_create(data, (API_KEY,))   # one data dir: both processes share the server secret
            for _ in range(2):
                proc = ServerProcess(data, api_key=API_KEY, extra_args=["--redis-url", url], env=ENV)
                procs.append(await asyncio.to_thread(proc.start))
        yield [p.url for p in procs]
    finally:
        for p in procs:
            await asyncio.to_thread(p.stop)
        if prefix:
            await drop_prefix(redis_url, prefix)


def _ws(url: str) -> str:
    return url.replace("http://", "ws://") + "/ws"


async def _get_room(http: aiohttp.ClientSession, url: str, room_id: str) -> dict[str, Any]:
    async with http.get(f"{url}/api/v1/rooms/{room_id}", headers=AUTH) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def _config_writer(http, urls: list[str], room_id: str, key: str, stop: asyncio.Event,
                         tally: Tally) -> None:
    value, n = True, CONFIG_KEYS.index(key)
    while not stop.is_set():
        value = not value
        write_to, read_from = urls[n % len(urls)], urls[(n + 1) % len(urls)]
        n += 1
        async with http.put(f"{write_to}/api/v1/rooms/{room_id}/config?applyLive=true", headers=AUTH,
                            json={"config": {key: {"enabled": value}}}) as resp:
            assert resp.status == 200, await resp.text()
            body = await resp.json()
        assert body[key]["enabled"] is value   # PUT config answers the updated config (OpenVidu Meet)
        tally.ack(key, value)
        room = await _get_room(http, read_from, room_id)
        tally.check(key, value, room["config"][key]["enabled"], "REST")


async def _fresh_guest(url: str, room_id: str, name: str) -> str:
    """What a new guest meets: ``knock`` or ``enter``."""
    async with SignalingClient(_ws(url)) as guest:
        reply = await guest.join(room_id, name, timeout=15)
    if reply["type"] == "joined":
        return "enter"
    assert reply["type"] == "knock_status" and reply["state"] == "waiting", reply
    return "knock"


def _live_flips(host: "_Host") -> int:
    """room_updated messages the host got after the ``ok`` to its lock (and before it sent the
    next one) that show another lock state."""
    state, flips = None, 0
    for i, msg in enumerate(host.history):
        if i in host.sent_at:            # a new lock is under way: its own room_updated may come
            state = None
        if msg.get("type") == "ok" and msg.get("id") in host.locks:
            state = host.locks[msg["id"]]
        elif msg.get("type") == "room_updated" and state is not None and msg["room"]["isLocked"] is not state:
            flips += 1
    return flips


class _Host(SignalingClient):
    """Remembers each ``lock`` it sends: the state asked for, and how many messages had come."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.locks: dict[str, bool] = {}
        self.sent_at: set[int] = set()

    async def lock(self, locked: bool) -> None:
        rid = f"r{next(self._ids)}"
        self.locks[rid] = locked
        self.sent_at.add(len(self.history))
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        await self.send("lock", id=rid, locked=locked)
        reply = await asyncio.wait_for(fut, 15)
        assert reply.get("type") == "ok", reply


async def _lock_host(http, urls: list[str], room_id: str, key: str, stop: asyncio.Event,
                     others_done: asyncio.Event, tally: Tally) -> None:
    url, locked, guests = urls[0], False, 0
    while True:
        host = _Host(_ws(url))
        await host.connect()
        try:
            joined = await host.join(room_id, "Hana", key, timeout=15)
            assert joined["type"] == "joined", joined
            tally.meetings.add(joined["meeting"]["roomSessionId"])
            for _ in range(3):
                locked = not locked
                await host.lock(locked)
                tally.ack("lock", locked)
                stored = (await _get_room(http, urls[-1], room_id))["isLocked"]
                tally.check("lock", locked, stored, "REST")
                guests += 1
                outcome = await _fresh_guest(url, room_id, f"Guest {guests}")
                tally.live_checks += 1
                if outcome != ("knock" if locked else "enter"):
                    tally.live_wrong += 1
                    if len(tally.examples) < 10:
                        tally.examples.append(f"lock: acknowledged {locked}, a fresh guest could {outcome}")
                if stop.is_set():
                    break
            if stop.is_set():
                # the end: the others have stopped; the live room has lived through the race
                await others_done.wait()
                room = await _get_room(http, urls[-1], room_id)
                outcome = await _fresh_guest(url, room_id, "Last guest")
                assert outcome == ("knock" if room["isLocked"] else "enter"), (outcome, room["isLocked"])
                return
        finally:
            tally.live_flips += _live_flips(host)
            await host.close()


async def _meeting_host(url: str, room_id: str, key: str, stop: asyncio.Event, tally: Tally) -> None:
    while not stop.is_set():
        async with SignalingClient(_ws(url)) as host:
            joined = await host.join(room_id, "Mira", key, timeout=15)
            assert joined["type"] == "joined", joined
            tally.meetings.add(joined["meeting"]["roomSessionId"])


async def test_concurrent_room_writers_lose_nothing(servers):
    tally = Tally()
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        async with http.post(f"{servers[0]}/api/v1/rooms", headers=AUTH, json={"roomName": "Race", "roomMode": "group"}) as resp:
            assert resp.status == 201, await resp.text()
            room = await resp.json()
        room_id = room["roomId"]
        key = room["access"]["anonymous"]["moderator"]["url"].split("roomKey=")[1]
        stop, others_done = asyncio.Event(), asyncio.Event()
        others = [asyncio.create_task(_config_writer(http, servers, room_id, k, stop, tally)) for k in CONFIG_KEYS]
        others.append(asyncio.create_task(_meeting_host(servers[-1], room_id, key, stop, tally)))
        lock = asyncio.create_task(_lock_host(http, servers, room_id, key, stop, others_done, tally))
        try:
            await asyncio.sleep(DURATION)   # the race runs this long (not a wait for an event)
        finally:
            stop.set()
            results = await asyncio.gather(*others, return_exceptions=True)
            others_done.set()
            results += await asyncio.gather(lock, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

        final = await _get_room(http, servers[-1], room_id)
        for k in CONFIG_KEYS:
            tally.check(k, tally.last[k], final["config"][k]["enabled"], "the final")
        tally.check("lock", tally.last["lock"], final["isLocked"], "the final")

        # everyone has left: the meetings ended, the room is open again
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while (status := (await _get_room(http, servers[0], room_id))["status"]) != "open":
            assert loop.time() < deadline, f"status stays {status!r} with nobody in the room"
            await asyncio.sleep(0.05)

    print(f"\nroom race ({len(servers)} process(es)): {tally.summary()}")
    assert all(tally.acked.get(w, 0) >= 5 for w in (*CONFIG_KEYS, "lock")), tally.summary()
    assert len(tally.meetings) >= 3, tally.summary()
    assert not tally.undone and not tally.live_wrong and not tally.live_flips, (
        tally.summary() + "\n" + "\n".join(tally.examples))


async def test_the_live_room_ignores_news_older_than_what_it_has(client, auth):
    """Two writes reach the live room out of order: the older one's news changes nothing."""
    room = await make_room(client, auth)
    rid, app = room["roomId"], client.server.app
    svc = app[ROOMS]
    async with clients(client) as cs:
        host = await cs.joined(rid, "Hana", host_key(room))
        await hub(client).idle()                                    # the meeting's start is written
        before = await svc.store.get_room(rid)                      # version n: unlocked
        locked = await svc.update(rid, lambda r: setattr(r, "is_locked", True), "lock")
        assert locked.version == before.version + 1
        await host.wait_for("room_updated", lambda m: m["room"]["isLocked"] is True)
        assert hub(client).rooms[rid].info.version == locked.version
        await hub(client).room_updated(room_info(app[SETTINGS], before))   # late news of version n
        assert hub(client).rooms[rid].info.is_locked is True
        assert hub(client).rooms[rid].info.version == locked.version
        await cs.knocking(rid, "Late guest")                        # the live room is still locked
        # the same version again (the hub's own lock reply after the service's news) still applies
        await hub(client).room_updated(room_info(app[SETTINGS], locked))
        assert hub(client).rooms[rid].info.version == locked.version
