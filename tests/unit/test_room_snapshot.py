"""A live room to plain data and back on a fresh hub (signaling/live/snapshot.py), and the hub's
cluster hooks: on_room_changed, restore_room, hand_over. Fakes only (tests/helpers/live_fakes.py)."""

from __future__ import annotations

import json

import msgpack
import pytest

from signaling.live.hub import Hub
from signaling.live.participant import JOINED
from signaling.live.snapshot import SnapshotError, restore, snapshot
from signaling.ports import RoomInfo
from tests.helpers.live_fakes import Clock, FakeConnection, MemoryDirectory

LOCKED = RoomInfo(room_id="r1", display_name="Room", is_locked=True, max_participants=6)


def new_hub(directory: MemoryDirectory, clock: Clock, grace: float = 60) -> Hub:
    return Hub(directory, reconnect_grace_seconds=grace, wall_clock=clock, clock=clock)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def directory() -> MemoryDirectory:
    return MemoryDirectory(LOCKED)


@pytest.fixture
async def hubs(directory, clock):
    made: list[Hub] = []

    async def make(grace: float = 60) -> Hub:
        hub = new_hub(directory, clock, grace)
        await hub.start()
        made.append(hub)
        return hub

    yield make
    for hub in made:
        await hub.close()


async def join(hub: Hub, name: str, key: str | None = None, token: str | None = None,
               remote: str = "10.0.0.9") -> tuple[FakeConnection, dict]:
    c = FakeConnection(hub, remote=remote)
    fields = {"roomName": "r1", "displayName": name, **({"key": key} if key else {}),
              **({"resumeToken": token} if token else {})}
    return c, await c.request("join", **fields)


def token_of(c: FakeConnection) -> str:
    return [m for m in c.inbox if m.get("resumeToken")][-1]["resumeToken"]


async def meeting(hub: Hub):
    """Host + admitted guest (muted) + three knockers: Kai waiting, Hal held with a message, Ivy
    waiting; the host promoted nobody; the room is locked."""
    host, _ = await join(hub, "Hana", key="host", remote="10.0.0.1")
    gus, _ = await join(hub, "Gus")
    await host.request("admit", knockId=gus.last("knock_status")["knockId"])
    await gus.request("set_muted", kind="audio", muted=True)
    knockers = []
    for i, name in enumerate(("Kai", "Hal", "Ivy")):
        c, reply = await join(hub, name, remote=f"10.0.1.{i}")
        assert reply["type"] == "knock_status"
        knockers.append(c)
    hal_knock = knockers[1].last("knock_status")["knockId"]
    assert (await host.request("hold", knockId=hal_knock, message="One minute, please"))["type"] == "ok"
    return host, gus, knockers


async def test_snapshot_is_plain_data_and_round_trips(hubs):
    hub = await hubs()
    host, gus, knockers = await meeting(hub)
    snap = snapshot(hub.room("r1"))
    assert msgpack.unpackb(msgpack.packb(snap, use_bin_type=True), raw=False) == snap
    assert json.loads(json.dumps(snap)) == snap
    assert [p["displayName"] for p in snap["participants"]] == ["Hana", "Gus"]
    assert [k["displayName"] for k in snap["knocks"]] == ["Kai", "Hal", "Ivy"]
    assert [k["state"] for k in snap["knocks"]] == ["waiting", "held", "waiting"]
    assert snap["knocks"][1]["message"] == "One minute, please"
    assert snap["isLocked"] is True and snap["meeting"]["roomSessionId"].startswith("r1_")

    fresh = await hubs()
    room = restore(fresh, hub.room("r1").info, snap)
    assert snapshot(room) == snap


async def test_after_restore_everyone_resumes_with_its_token_and_nobody_new_gets_in(hubs, directory):
    hub = await hubs()
    host, gus, (kai, hal, ivy) = await meeting(hub)
    ids = {c: c.participant.participant_id for c in (host, gus)}
    knock_ids = [c.last("knock_status")["knockId"] for c in (kai, hal, ivy)]
    tokens = {c: token_of(c) for c in (host, gus, kai, hal, ivy)}
    session = hub.room("r1").meeting.room_session_id
    snap = snapshot(hub.room("r1"))

    await hub.idle()
    fresh = await hubs()
    fresh.restore_room(directory.rooms["r1"], snap)
    await fresh.idle()
    room = fresh.room("r1")
    assert all(p.away and p.state == JOINED for p in room.participants.values())
    assert fresh.graces.pending() == 5 and not fresh.participants
    assert directory.started == [("r1", session)]     # restoring wrote nothing

    back, joined = await join(fresh, "Hana", token=tokens[host], remote="10.0.0.1")
    assert joined["type"] == "joined" and joined["resumed"] is True
    assert joined["participantId"] == ids[host] and joined["role"] == "host"
    assert joined["meeting"]["roomSessionId"] == session
    assert [k["knockId"] for k in joined["knocks"]] == knock_ids
    assert [k.get("message") for k in joined["knocks"]] == [None, "One minute, please", None]
    assert all(k["connection"] == "reconnecting" for k in joined["knocks"])
    assert [p.get("connection") for p in joined["participants"]] == [None, "reconnecting"]

    guest, joined = await join(fresh, "Gus", token=tokens[gus])
    assert joined["participantId"] == ids[gus] and joined["role"] == "guest" and joined["resumed"] is True
    assert room.find(ids[gus]).muted["audio"] is True

    hal2, status = await join(fresh, "Hal", token=tokens[hal])
    assert status["type"] == "knock_status" and status["resumed"] is True
    assert status["knockId"] == knock_ids[1] and status["state"] == "held"
    assert status["message"] == "One minute, please"
    assert back.last("knocks")["change"] == {"knockId": knock_ids[1], "displayName": "Hal", "state": "held",
                                             "connection": "connected"}

    # a stranger without a token knocks behind them; nobody was admitted on the way
    eve, status = await join(fresh, "Eve", remote="10.0.2.1")
    assert status["type"] == "knock_status" and status["state"] == "waiting"
    assert [k.knock_id for k in room.waiting.pending()][:3] == knock_ids
    assert set(room.participants) == set(ids.values())


async def test_the_grace_ends_after_restore_as_after_a_drop(hubs, directory):
    hub = await hubs()
    host, gus, knockers = await meeting(hub)
    snap = snapshot(hub.room("r1"))
    fresh = await hubs(grace=0.05)
    fresh.restore_room(directory.rooms["r1"], snap)
    await until(lambda: fresh.room("r1") is None)
    await fresh.idle()
    assert directory.ended and directory.ended[-1][2] == "last_participant_left"


async def test_a_knocker_admitted_while_away_keeps_its_place(hubs, directory):
    hub = await hubs()
    host, _ = await join(hub, "Hana", key="host")
    kai, _ = await join(hub, "Kai")
    token, knock = token_of(kai), kai.last("knock_status")["knockId"]
    kai.drop()
    await host.request("admit", knockId=knock)
    snap = snapshot(hub.room("r1"))
    assert snap["admittedAway"][0]["knockId"] == knock and not snap["knocks"]

    fresh = await hubs()
    fresh.restore_room(directory.rooms["r1"], snap)
    assert fresh.room("r1").counts().participants == 2
    back, joined = await join(fresh, "Kai", token=token)
    assert joined["type"] == "joined" and not joined.get("resumed")


async def test_restore_refuses_what_it_cannot_use(hubs, directory):
    hub = await hubs()
    await meeting(hub)
    snap = snapshot(hub.room("r1"))
    with pytest.raises(SnapshotError):
        restore(hub, directory.rooms["r1"], snap)           # live here already
    fresh = await hubs()
    with pytest.raises(SnapshotError):
        restore(fresh, directory.rooms["r1"], {**snap, "v": 99})
    with pytest.raises(SnapshotError):
        restore(fresh, RoomInfo(room_id="r2"), snap)
    assert fresh.room("r1") is None and fresh.graces.pending() == 0


async def test_a_newer_lock_state_in_the_snapshot_wins_over_an_older_stored_room(hubs, directory):
    hub = await hubs()
    await meeting(hub)
    snap = {**snapshot(hub.room("r1")), "isLocked": False, "infoVersion": LOCKED.version + 3}
    fresh = await hubs()
    room = restore(fresh, directory.rooms["r1"], snap)
    assert room.info.is_locked is False and room.info.version == LOCKED.version + 3


async def test_room_changes_are_notified(hubs, directory):
    hub = await hubs()
    seen: list[str] = []
    hub.on_room_changed(seen.append)
    host, _ = await join(hub, "Hana", key="host")
    assert seen and set(seen) == {"r1"}
    for action in (lambda: join(hub, "Kai"),
                   lambda: host.request("set_muted", kind="video", muted=True),
                   lambda: host.request("lock", locked=False)):
        seen.clear()
        await action()
        assert seen, action
    seen.clear()
    hub.set_recording("r1", "rec_1")
    assert seen == ["r1"] and snapshot(hub.room("r1"))["recordingId"] == "rec_1"


async def test_hand_over_tells_everyone_to_reconnect_and_writes_nothing(hubs, directory):
    hub = await hubs()
    events: list[str] = []
    hub.events.subscribe(lambda name, data: events.append(name))
    host, gus, knockers = await meeting(hub)
    events.clear()
    assert hub.hand_over("r1", "draining") is True
    assert hub.room("r1") is None
    for c in (host, gus, *knockers):
        assert c.inbox[-1] == {"type": "reconnect", "reason": "draining"} and c.closed
        assert c.participant is None
        assert not [m for m in c.inbox if m["type"] in ("participant_left", "ended")]
    await hub.idle()
    assert events == ["room.session.moved"] and not directory.ended
    assert hub.graces.pending() == 0 and not hub.participants
    assert hub.hand_over("r1") is False


async def until(condition, timeout: float = 5.0) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_reset_media_readmits_then_tells_the_participant(hubs, directory):
    from signaling.ports import MediaHooks

    calls: list[tuple[str, str]] = []

    class Media(MediaHooks):
        async def participant_admitted(self, room_id, participant_id, participant):
            calls.append(("admitted", participant_id))

        async def participant_left(self, room_id, participant_id, reason):
            calls.append(("left", reason))

        def ice_servers(self, participant_id):
            return [{"urls": "turn:turn.test:3478", "username": participant_id, "credential": "x"}]

    hub = await hubs()
    hub.install_media(Media())
    host, _ = await join(hub, "Hana", key="host")
    pid = host.participant.participant_id
    await hub.idle()
    calls.clear()
    assert hub.reset_media("r1", pid) is True
    assert host.inbox[-1]["type"] != "media_reset"       # not before the SFU admitted it anew
    await hub.idle()
    assert calls == [("left", "media_reset"), ("admitted", pid)]
    assert host.inbox[-1] == {"type": "media_reset", "iceServers": [
        {"urls": "turn:turn.test:3478", "username": pid, "credential": "x"}]}
    assert hub.reset_media("r1", "p_nobody") is False


async def test_chat_and_ping_do_not_count_as_changes(hubs):
    hub = await hubs()
    seen: list[str] = []
    host, _ = await join(hub, "Hana", key="host")
    hub.on_room_changed(seen.append)
    await host.request("chat", text="hello")
    await host.request("ping")
    assert seen == []


async def test_a_publish_only_participant_stays_publish_only_after_restore(hubs, directory):
    """join's `subscribe: false` (no media offered to that connection) survives the move to another node."""
    hub = await hubs()
    await join(hub, "Hana", key="host", remote="10.0.0.1")
    cam = FakeConnection(hub, remote="10.0.0.5")
    assert (await cam.request("join", roomName="r1", displayName="Cam", key="host", subscribe=False))["type"] == "joined"
    kai = FakeConnection(hub, remote="10.0.1.1")
    assert (await kai.request("join", roomName="r1", displayName="Kai", subscribe=False))["type"] == "knock_status"
    snap = snapshot(hub.room("r1"))
    assert [(p["displayName"], p["subscribe"]) for p in snap["participants"]] == [("Hana", True), ("Cam", False)]
    assert snap["knocks"][0]["owner"]["subscribe"] is False

    fresh = await hubs()
    room = restore(fresh, hub.room("r1").info, snap)
    assert room.find(cam.participant.participant_id).subscribes is False
    assert [k.owner.subscribes for k in room.waiting.pending()] == [False]
    # a snapshot written before the field existed: everyone receives, as then
    old = {**snap, "participants": [{k: v for k, v in p.items() if k != "subscribe"} for p in snap["participants"]]}
    assert all(p.subscribes for p in restore(await hubs(), hub.room("r1").info, old).participants.values())
