"""One contract for every Store: the SQLite file store and the Redis store (a real Redis).

Each test runs against both implementations through the ``store`` fixture.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import uuid

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from tests.helpers.redis_server import drop_prefix

from server.store.base import (
    AlreadyExists, InvalidToken, PatternTooSlow, RecordingQuery, RoomQuery, StoreConflict, StoreError,
)
from server.store.migrations import MIGRATIONS
from server.store.records import Meeting, Member, Participation, Recording, Room
from server.store.redis_store import RedisStore
from server.store.sqlite_store import SqliteStore

NOW = 1_800_000_000_000


@pytest_asyncio.fixture(params=["sqlite", "redis"])
async def store(request, tmp_path):
    if request.param == "sqlite":
        s = SqliteStore(tmp_path / "store.sqlite3")
        await s.open()
        yield s
        await s.close()
        return
    url = request.getfixturevalue("redis_url")
    prefix = f"test{uuid.uuid4().hex[:12]}:"
    s = RedisStore(f"{url}{'&' if '?' in url else '?'}prefix={prefix}")
    await s.open()
    try:
        yield s
    finally:
        await s.close()
        await drop_prefix(url, prefix)


def make_room(room_id: str | None = None, **kw) -> Room:
    kw.setdefault("creation_date", NOW)
    return Room(room_id=room_id or uuid.uuid4().hex, **kw)


async def walk(list_fn, query_cls, **kw) -> list:
    """Follow next tokens to the end; return every item seen, in order."""
    seen, token, pages = [], None, 0
    while True:
        page = await list_fn(query_cls(token=token, **kw))
        pages += 1
        assert page.items or pages == 1, "a non-first page came back empty"
        assert len(page.items) <= kw.get("limit", 10)
        seen += page.items
        if page.next_token is None:
            return seen
        assert len(page.items) == kw.get("limit", 10), "a page before the last one was short"
        token = page.next_token
        assert pages < 1000


# --- basics ----------------------------------------------------------------------------------------

async def test_ping(store):
    assert await store.ping() is True


async def test_room_round_trip(store):
    room = make_room(
        room_name="Ünïcode Room ✓", auto_deletion_date=NOW + 3_600_000,
        auto_deletion_policy={"withMeeting": "force", "withRecordings": "close"},
        config={"chat": {"enabled": False}, "recording": {"enabled": True}, "nested": [1, 2.5, None, "x"]},
        roles={"speaker": {"permissions": {"canShareScreen": False}}},
        access={"anonymous": {"moderator": {"enabled": True}}},
        status="closed", is_locked=True, room_mode="group", key_version=3, template_type="viewerMode",
        api="whereby", pending_deletion={"withMeeting": "when_meeting_ends"},
    )
    await store.create_room(room)
    assert await store.get_room(room.room_id) == room
    assert await store.get_room("no-such-room") is None


async def test_duplicate_room_is_refused_and_changes_nothing(store):
    room = make_room("dup", room_name="First")
    await store.create_room(room)
    with pytest.raises(AlreadyExists):
        await store.create_room(make_room("dup", room_name="Second"))
    assert (await store.get_room("dup")).room_name == "First"
    page = await store.list_rooms(RoomQuery(limit=100))
    assert [r.room_id for r in page.items] == ["dup"]


async def test_concurrent_creates_of_one_id_let_exactly_one_win(store):
    results = await asyncio.gather(
        *(store.create_room(make_room("race", room_name=f"n{i}")) for i in range(20)), return_exceptions=True)
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, AlreadyExists) for r in results if r is not None)
    assert len((await store.list_rooms(RoomQuery(limit=100))).items) == 1


async def test_created_rooms_are_version_1(store):
    room = make_room("v")
    await store.create_room(room)
    assert room.version == 1
    assert (await store.get_room("v")).version == 1


async def test_modify_room_applies_the_change_and_bumps_the_version(store):
    room = make_room("r1", room_name="Old name", config={"chat": {"enabled": True}, "a": 1})
    await store.create_room(room)

    def change(r: Room) -> str:
        r.room_name, r.status, r.auto_deletion_date = "New name", "closed", NOW + 5
        r.config["chat"]["enabled"] = False           # nested, in place: the store's copy is not shared
        return "done"
    stored, result = await store.modify_room("r1", change)
    assert result == "done" and stored.version == 2 and stored.room_name == "New name"
    assert await store.get_room("r1") == stored
    assert room.config["chat"]["enabled"] is True     # the caller's object was never touched
    # indexes follow the write: filters, name sort and expiry see the new values
    assert [r.room_id for r in (await store.list_rooms(RoomQuery(room_name="New name"))).items] == ["r1"]
    assert (await store.list_rooms(RoomQuery(room_name="Old name"))).items == []
    assert [r.room_id for r in (await store.list_rooms(RoomQuery(status="closed"))).items] == ["r1"]
    assert (await store.list_rooms(RoomQuery(status="open"))).items == []
    assert [r.room_id for r in await store.rooms_due_for_deletion(NOW + 5)] == ["r1"]
    by_name = await store.list_rooms(RoomQuery(sort_field="roomName", limit=10))
    assert [r.room_name for r in by_name.items] == ["New name"]
    # each write is one version more; a change that changes nothing writes nothing
    for want in (3, 4):
        stored, _ = await store.modify_room("r1", lambda r: setattr(r, "key_version", r.key_version + 1))
        assert stored.version == want and (await store.get_room("r1")).version == want
    same, result = await store.modify_room("r1", lambda r: r.room_name)
    assert result == "New name" and same.version == 4 and await store.get_room("r1") == same
    # the store owns the version: a change cannot set it
    stored, _ = await store.modify_room("r1", lambda r: setattr(r, "version", 99) or setattr(r, "is_locked", True))
    assert stored.version == 5 and (await store.get_room("r1")).version == 5


async def test_modify_room_of_a_missing_room_creates_nothing(store):
    calls = []
    assert await store.modify_room("ghost", calls.append) is None
    assert calls == [] and await store.get_room("ghost") is None
    assert (await store.list_rooms(RoomQuery())).items == []


async def test_a_failing_change_writes_nothing(store):
    await store.create_room(make_room("r", room_name="Kept"))

    def change(r: Room) -> None:
        r.room_name = "Half done"
        raise ValueError("no")
    with pytest.raises(ValueError):
        await store.modify_room("r", change)
    assert (await store.get_room("r")).room_name == "Kept"
    assert (await store.get_room("r")).version == 1


async def test_update_room_if_is_compare_and_set(store):
    await store.create_room(make_room("r", room_name="First"))
    stale = await store.get_room("r")
    ours = await store.get_room("r")
    ours.room_name = "Second"
    assert await store.update_room_if(ours, 1) is True and ours.version == 2
    stale.room_name, stale.status = "Stale", "closed"
    assert await store.update_room_if(stale, 1) is False and stale.version == 1     # lost: version moved
    assert await store.update_room_if(stale, 0) is False
    assert await store.update_room_if(stale, 7) is False
    got = await store.get_room("r")
    assert got.room_name == "Second" and got.status == "open" and got.version == 2
    # the failed writes left the indexes alone
    assert (await store.list_rooms(RoomQuery(room_name="stale"))).items == []
    assert (await store.list_rooms(RoomQuery(status="closed"))).items == []
    assert [r.room_name for r in (await store.list_rooms(RoomQuery(sort_field="roomName"))).items] == ["Second"]
    # a room that is gone is not brought back
    assert await store.update_room_if(make_room("ghost"), 0) is False
    assert await store.update_room_if(make_room("ghost"), 1) is False
    assert await store.get_room("ghost") is None


async def test_a_conflict_is_retried_on_the_latest_version(store):
    """Another store instance writes between our read and our write: our change runs again on its room."""
    await store.create_room(make_room("r", config={"mine": 0, "theirs": 0}))
    other = reopen(store)
    await other.open()
    try:
        real = store.update_room_if
        interfered = []

        async def racing_update(room: Room, expected: int) -> bool:
            if not interfered:
                interfered.append(True)
                await other.modify_room("r", lambda r: r.config.update(theirs=1))
            return await real(room, expected)
        store.update_room_if = racing_update
        seen = []

        def mine(r: Room) -> None:
            seen.append((r.version, dict(r.config)))
            r.config["mine"] = 1
        stored, _ = await store.modify_room("r", mine)
    finally:
        await other.close()
    assert seen == [(1, {"mine": 0, "theirs": 0}), (2, {"mine": 0, "theirs": 1})]
    assert stored.version == 3 and stored.config == {"mine": 1, "theirs": 1}
    assert await store.get_room("r") == stored


async def test_endless_conflicts_give_up_with_store_conflict(store, monkeypatch):
    from server.store import cas

    monkeypatch.setattr(cas, "MODIFY_ATTEMPTS", 4)
    await store.create_room(make_room("r"))
    tries = []

    async def always_lose(room: Room, expected: int) -> bool:
        tries.append(expected)
        return False
    store.update_room_if = always_lose
    with pytest.raises(StoreConflict):
        await store.modify_room("r", lambda r: setattr(r, "is_locked", True))
    assert tries == [1, 1, 1, 1]
    assert (await store.get_room("r")).is_locked is False


async def test_concurrent_modify_from_separate_store_instances_loses_nothing(store):
    """Separate connections on one SQLite file, or separate Redis clients: like separate processes."""
    await store.create_room(make_room("r", config={"count": 0}))
    others = [reopen(store) for _ in range(2)]
    for o in others:
        await o.open()
    per_writer = 15
    try:
        def bump(writer: str):
            def change(r: Room) -> int:
                r.config["count"] += 1
                r.config[writer] = r.config.get(writer, 0) + 1
                return r.config["count"]
            return change

        async def writer(s, name: str) -> list[int]:
            return [(await s.modify_room("r", bump(name)))[1] for _ in range(per_writer)]
        stores = [store, *others]
        results = await asyncio.gather(*(writer(s, f"w{i}{j}") for i, s in enumerate(stores) for j in range(3)))
    finally:
        for o in others:
            await o.close()
    total = len(results) * per_writer
    final = await store.get_room("r")
    assert final.config["count"] == total and final.version == 1 + total
    assert all(final.config[f"w{i}{j}"] == per_writer for i in range(3) for j in range(3))
    counts = sorted(c for r in results for c in r)
    assert counts == list(range(1, total + 1))          # every write saw the one before it


async def test_delete_room_also_deletes_its_members(store):
    for rid in ("a", "b"):
        await store.create_room(make_room(rid))
        for i in range(3):
            await store.create_member(Member(member_id=f"m{i}", room_id=rid, name=f"M{i}", base_role="speaker"))
    assert await store.delete_room("a") is True
    assert await store.get_room("a") is None
    assert await store.list_members("a") == []
    assert await store.get_member("a", "m0") is None
    assert await store.delete_room("a") is False
    assert len(await store.list_members("b")) == 3
    assert [r.room_id for r in (await store.list_rooms(RoomQuery())).items] == ["b"]
    for sort_field in ("creationDate", "roomName", "autoDeletionDate"):
        page = await store.list_rooms(RoomQuery(sort_field=sort_field))
        assert [r.room_id for r in page.items] == ["b"]


# --- listing rooms -----------------------------------------------------------------------------------

NAMES = ["alpha", "Alpha", "beta", "Gamma", "gamma ray", "delta", "Échelle", "zeta", "Team sync", "team Sync"]


async def seed_rooms(store, n: int = 23) -> list[Room]:
    rooms = []
    for i in range(n):
        rooms.append(make_room(
            f"room-{i:02d}-{uuid.uuid4().hex[:4]}",
            room_name=NAMES[i % len(NAMES)],
            creation_date=NOW + (i % 5) * 1000,                       # ties on purpose
            auto_deletion_date=None if i % 3 == 0 else NOW + 10_000 + (i % 4) * 100,
            status=["open", "active_meeting", "closed"][i % 3],
            api="whereby" if i % 4 == 0 else "native",
        ))
    for room in rooms:
        await store.create_room(room)
    return rooms


def expected_order(rooms: list[Room], sort_field: str, sort_order: str) -> list[str]:
    def key(r: Room):
        if sort_field == "creationDate":
            return (r.creation_date, r.room_id)
        if sort_field == "roomName":
            return (r.room_name.casefold(), r.room_id)
        return (r.auto_deletion_date is None, r.auto_deletion_date or 0, r.room_id)
    return [r.room_id for r in sorted(rooms, key=key, reverse=sort_order == "desc")]


@pytest.mark.parametrize("sort_field", ["creationDate", "roomName", "autoDeletionDate"])
@pytest.mark.parametrize("sort_order", ["asc", "desc"])
async def test_paging_rooms_visits_every_room_once_in_order(store, sort_field, sort_order):
    rooms = await seed_rooms(store)
    want = expected_order(rooms, sort_field, sort_order)
    for limit in (1, 4, 23, 100):
        got = await walk(store.list_rooms, RoomQuery, sort_field=sort_field, sort_order=sort_order, limit=limit)
        assert [r.room_id for r in got] == want, f"limit={limit}"
    if sort_field == "autoDeletionDate" and sort_order == "asc":
        tail = [r for r in rooms if r.auto_deletion_date is None]
        assert set(want[-len(tail):]) == {r.room_id for r in tail}    # no date sorts last


async def test_default_room_listing_is_newest_first_ten_per_page(store):
    rooms = await seed_rooms(store)
    page = await store.list_rooms(RoomQuery())
    assert [r.room_id for r in page.items] == expected_order(rooms, "creationDate", "desc")[:10]
    assert page.next_token is not None


@pytest.mark.parametrize("sort_field", ["creationDate", "roomName", "autoDeletionDate"])
async def test_room_filters_with_paging(store, sort_field):
    rooms = await seed_rooms(store)
    fold = dict(room_name_case_insensitive=True)
    cases = [
        # the default is OpenVidu Meet's: exact and case-sensitive
        (dict(room_name="alpha"), lambda r: r.room_name == "alpha"),
        (dict(room_name="ALPHA"), lambda r: False),
        (dict(room_name="ALPHA", **fold), lambda r: r.room_name.casefold() == "alpha"),
        (dict(room_name="gamma", room_name_mode="prefix"), lambda r: r.room_name.startswith("gamma")),
        (dict(room_name="GAMMA", room_name_mode="prefix", **fold),
         lambda r: r.room_name.casefold().startswith("gamma")),
        (dict(room_name="am s", room_name_mode="partial"), lambda r: "am s" in r.room_name),
        (dict(room_name="AM S", room_name_mode="partial", **fold), lambda r: "am s" in r.room_name.casefold()),
        (dict(room_name="échelle", room_name_mode="partial", **fold), lambda r: r.room_name == "Échelle"),
        (dict(room_name="a.", room_name_mode="partial"), lambda r: "a." in r.room_name),  # a literal dot
        (dict(room_name="^[ab].*a$", room_name_mode="regex"), lambda r: r.room_name in ("alpha", "beta")),
        (dict(room_name="^team sync$", room_name_mode="regex", **fold),
         lambda r: r.room_name.casefold() == "team sync"),
        (dict(status="closed"), lambda r: r.status == "closed"),
        (dict(api="whereby"), lambda r: r.api == "whereby"),
        (dict(room_name="a", room_name_mode="partial", status="open", api="native", **fold),
         lambda r: "a" in r.room_name.casefold() and r.status == "open" and r.api == "native"),
        (dict(room_name="nothing like this", room_name_mode="partial"), lambda r: False),
    ]
    for filters, pred in cases:
        matching = [r for r in rooms if pred(r)]
        got = await walk(store.list_rooms, RoomQuery, sort_field=sort_field, sort_order="asc", limit=2, **filters)
        assert [r.room_id for r in got] == expected_order(matching, sort_field, "asc"), filters


async def test_room_name_tokens_are_bound_to_the_match_mode(store):
    await seed_rooms(store)
    first = await store.list_rooms(RoomQuery(room_name="a", room_name_mode="partial", limit=2))
    assert first.next_token is not None
    for other in (dict(room_name_mode="prefix"), dict(room_name_case_insensitive=True)):
        with pytest.raises(InvalidToken):
            await store.list_rooms(RoomQuery(room_name="a", limit=2, token=first.next_token,
                                             **{"room_name_mode": "partial", **other}))


async def test_a_runaway_room_name_regex_is_stopped(store):
    await store.create_room(make_room("slow", room_name="a" * 40 + "!"))
    with pytest.raises(PatternTooSlow):
        await store.list_rooms(RoomQuery(room_name="^(a|aa)+$", room_name_mode="regex"))
    with pytest.raises(ValueError):
        await store.list_rooms(RoomQuery(room_name="x", room_name_mode="fuzzy"))


async def test_changing_page_size_mid_walk_continues_the_same_order(store):
    rooms = await seed_rooms(store)
    want = expected_order(rooms, "roomName", "asc")
    first = await store.list_rooms(RoomQuery(sort_field="roomName", sort_order="asc", limit=5))
    second = await store.list_rooms(
        RoomQuery(sort_field="roomName", sort_order="asc", limit=7, token=first.next_token))
    assert [r.room_id for r in first.items + second.items] == want[:12]


async def test_rooms_deleted_between_pages_are_not_repeated(store):
    rooms = await seed_rooms(store, 12)
    want = expected_order(rooms, "creationDate", "asc")
    first = await store.list_rooms(RoomQuery(sort_field="creationDate", sort_order="asc", limit=4))
    await store.delete_room(first.items[-1].room_id)        # the token's own anchor disappears
    await store.delete_room(want[5])
    token, seen = first.next_token, [r.room_id for r in first.items]
    while token:
        page = await store.list_rooms(
            RoomQuery(sort_field="creationDate", sort_order="asc", limit=4, token=token))
        seen += [r.room_id for r in page.items]
        token = page.next_token
    assert seen == want[:5] + want[6:]       # the first page was read before the deletes


async def test_invalid_tokens_are_refused(store):
    await seed_rooms(store, 6)
    q = dict(sort_field="roomName", sort_order="asc", limit=2)
    token = (await store.list_rooms(RoomQuery(**q))).next_token
    assert token
    body, sig = token.split(".")
    forged_body = base64.urlsafe_b64encode(b'["0000000000000000","zzz","x"]').rstrip(b"=").decode()
    bad = [
        "garbage", "", ".", "a.b.c", token + "x", body + "." + sig[::-1], forged_body + "." + sig,
        token.swapcase(),
    ]
    for t in bad:
        with pytest.raises(InvalidToken):
            await store.list_rooms(RoomQuery(token=t, **q) if t else RoomQuery(token="=", **q))
    others = [
        dict(q, sort_order="desc"), dict(q, sort_field="creationDate"), dict(q, room_name="a"),
        dict(q, status="open"), dict(q, api="native"),
    ]
    for other in others:
        with pytest.raises(InvalidToken):
            await store.list_rooms(RoomQuery(token=token, **other))
    with pytest.raises(InvalidToken):
        await store.list_recordings(RecordingQuery(token=token, limit=2))
    # the genuine token still works, with any page size
    page = await store.list_rooms(RoomQuery(token=token, **dict(q, limit=3)))
    assert len(page.items) == 3


async def test_rooms_due_for_deletion(store):
    due = [make_room(f"due{i}", auto_deletion_date=NOW - i) for i in range(5)]
    exact = make_room("exact", auto_deletion_date=NOW)
    later = make_room("later", auto_deletion_date=NOW + 1)
    never = make_room("never", auto_deletion_date=None)
    for room in due + [exact, later, never]:
        await store.create_room(room)
    got = await store.rooms_due_for_deletion(NOW)
    assert {r.room_id for r in got} == {r.room_id for r in due} | {"exact"}
    assert got[0] == due[4]                     # oldest deadline first
    assert len(await store.rooms_due_for_deletion(NOW, limit=2)) == 2
    assert await store.rooms_due_for_deletion(NOW - 100) == []


# --- members and meetings ----------------------------------------------------------------------------

async def test_members(store):
    await store.create_room(make_room("r"))
    m1 = Member(member_id="m1", room_id="r", name="Ann", base_role="moderator",
                custom_permissions={"canKickParticipants": False}, creation_date=NOW + 2, key_version=1)
    m2 = Member(member_id="m2", room_id="r", name="Bob", base_role="speaker", creation_date=NOW + 1)
    await store.create_member(m1)
    await store.create_member(m2)
    with pytest.raises(AlreadyExists):
        await store.create_member(Member(member_id="m1", room_id="r", name="Other", base_role="speaker"))
    assert await store.get_member("r", "m1") == m1
    assert await store.get_member("other-room", "m1") is None
    assert await store.list_members("r") == [m2, m1]
    new = Member(member_id="m1", room_id="r", name="Ann B", base_role="speaker", creation_date=NOW + 2)
    await store.update_member(new)
    assert await store.get_member("r", "m1") == new
    await store.update_member(Member(member_id="ghost", room_id="r", name="G", base_role="speaker"))
    assert await store.get_member("r", "ghost") is None
    assert await store.delete_member("r", "m1") is True
    assert await store.delete_member("r", "m1") is False
    assert await store.list_members("r") == [m2]


async def test_meetings(store):
    m1 = Meeting(room_session_id="s1", room_id="r", start_date=NOW)
    m2 = Meeting(room_session_id="s2", room_id="r", start_date=NOW + 10, peak_participants=3)
    m3 = Meeting(room_session_id="s3", room_id="other", start_date=NOW + 5)
    for m in (m1, m2, m3):
        await store.create_meeting(m)
    with pytest.raises(AlreadyExists):
        await store.create_meeting(Meeting(room_session_id="s1", room_id="r", start_date=1))
    assert await store.get_meeting("s1") == m1
    assert await store.get_meeting("nope") is None
    assert await store.list_meetings("r") == [m2, m1]             # newest first
    ended = Meeting(room_session_id="s1", room_id="r", start_date=NOW, end_date=NOW + 99,
                    peak_participants=4, end_reason="meeting_ended")
    await store.update_meeting(ended)
    assert await store.get_meeting("s1") == ended
    await store.update_meeting(Meeting(room_session_id="ghost", room_id="r", start_date=NOW))
    assert await store.get_meeting("ghost") is None
    assert await store.list_meetings("r") == [m2, ended]
    assert await store.list_meetings("nobody") == []


async def test_participations(store):
    b = Participation(room_session_id="s1", participant_id="pb", room_id="r", display_name="Bo", joined_at=NOW + 5)
    a = Participation(room_session_id="s1", participant_id="pa", room_id="r", display_name="Al", role="host",
                      joined_at=NOW)
    other = Participation(room_session_id="s2", participant_id="pa", room_id="r", joined_at=NOW)
    for p in (b, a, other):
        await store.put_participation(p)
    assert await store.list_participations("s1") == [a, b]        # by join time
    left = Participation(**{**a.to_doc(), "left_at": NOW + 60_000, "leave_reason": "left"})
    await store.put_participation(left)                           # replaces the entry
    assert await store.list_participations("s1") == [left, b]
    assert await store.list_participations("s2") == [other]
    assert await store.list_participations("nope") == []


# --- recordings --------------------------------------------------------------------------------------

async def seed_recordings(store, n: int = 17) -> list[Recording]:
    recs = []
    for i in range(n):
        recs.append(Recording(
            recording_id=f"rec-{i:02d}-{uuid.uuid4().hex[:4]}", room_id=["r1", "r2"][i % 2],
            room_session_id=f"s{i}", status=["complete", "active", "failed"][i % 3],
            start_date=NOW + (i % 4) * 1000, duration=[1.5, 0.25, 30.0, 1.5][i % 4], size=(i % 5) * 1024,
            filename=f"rec-{i}.mkv", tracks=[{"kind": "video", "codec": "VP8"}],
        ))
    for rec in recs:
        await store.create_recording(rec)
    return recs


def expected_recordings(recs, sort_field, sort_order):
    attr = {"startDate": "start_date", "duration": "duration", "size": "size"}[sort_field]
    ordered = sorted(recs, key=lambda r: (getattr(r, attr), r.recording_id), reverse=sort_order == "desc")
    return [r.recording_id for r in ordered]


async def test_recording_round_trip_update_delete(store):
    rec = Recording(recording_id="rec1", room_id="r", room_session_id="s", status="complete", start_date=NOW,
                    end_date=NOW + 5000, duration=5.125, size=123456, filename="rec1.mkv",
                    tracks=[{"kind": "audio", "codec": "opus"}], error=None, link_secret_version=2)
    await store.create_recording(rec)
    assert await store.get_recording("rec1") == rec
    with pytest.raises(AlreadyExists):
        await store.create_recording(Recording(recording_id="rec1", room_id="x"))
    failed = Recording(recording_id="rec1", room_id="r", status="failed", error="disk full", size=7)
    await store.update_recording(failed)
    assert await store.get_recording("rec1") == failed
    page = await store.list_recordings(RecordingQuery(sort_field="size", status="failed"))
    assert page.items == [failed]
    await store.update_recording(Recording(recording_id="ghost", room_id="r"))
    assert await store.get_recording("ghost") is None
    assert await store.delete_recording("rec1") is True
    assert await store.delete_recording("rec1") is False
    assert await store.get_recording("rec1") is None
    assert (await store.list_recordings(RecordingQuery(sort_field="duration"))).items == []


@pytest.mark.parametrize("sort_field", ["startDate", "duration", "size"])
@pytest.mark.parametrize("sort_order", ["asc", "desc"])
async def test_paging_recordings_with_filters(store, sort_field, sort_order):
    recs = await seed_recordings(store)
    cases = [
        ({}, lambda r: True),
        (dict(room_id="r1"), lambda r: r.room_id == "r1"),
        (dict(status="complete"), lambda r: r.status == "complete"),
        (dict(room_id="r2", status="active"), lambda r: r.room_id == "r2" and r.status == "active"),
        (dict(room_id="nobody"), lambda r: False),
    ]
    for (filters, pred), limit in itertools.product(cases, (1, 3, 50)):
        got = await walk(store.list_recordings, RecordingQuery, sort_field=sort_field, sort_order=sort_order,
                         limit=limit, **filters)
        want = expected_recordings([r for r in recs if pred(r)], sort_field, sort_order)
        assert [r.recording_id for r in got] == want, (filters, limit)


async def test_recording_tokens_are_bound_to_their_query(store):
    await seed_recordings(store, 6)
    token = (await store.list_recordings(RecordingQuery(limit=2, room_id="r1"))).next_token
    assert token
    for other in (dict(room_id="r2"), dict(room_id="r1", status="complete"),
                  dict(room_id="r1", sort_field="size"), dict(room_id="r1", sort_order="asc")):
        with pytest.raises(InvalidToken):
            await store.list_recordings(RecordingQuery(limit=2, token=token, **other))
    with pytest.raises(InvalidToken):
        await store.list_rooms(RoomQuery(limit=2, token=token))
    with pytest.raises(InvalidToken):
        await store.list_recordings(RecordingQuery(limit=2, room_id="r1", token=token[:-2]))


# --- lifecycle ---------------------------------------------------------------------------------------

async def test_closed_store_refuses_calls(store):
    await store.close()
    with pytest.raises(StoreError):
        await store.get_room("x")
    await store.close()          # idempotent


def reopen(store):
    """A second store on the same data: the same SQLite file, or the same Redis URL and prefix."""
    if isinstance(store, SqliteStore):
        return SqliteStore(store.path)
    url = store.url
    return RedisStore(f"{url}{'&' if '?' in url else '?'}prefix={store.prefix}")


async def test_data_and_tokens_survive_a_reopen(store):
    rooms = await seed_rooms(store, 7)
    await store.create_member(Member(member_id="m", room_id=rooms[0].room_id, name="A", base_role="speaker"))
    await store.create_meeting(Meeting(room_session_id="s", room_id=rooms[0].room_id, start_date=NOW))
    await store.create_recording(Recording(recording_id="rec", room_id=rooms[0].room_id, size=9))
    first = await store.list_rooms(RoomQuery(limit=3))
    await store.close()
    again = reopen(store)
    await again.open()
    try:
        for room in rooms:
            assert await again.get_room(room.room_id) == room
        assert [m.member_id for m in await again.list_members(rooms[0].room_id)] == ["m"]
        assert await again.get_meeting("s") is not None
        assert (await again.get_recording("rec")).size == 9
        second = await again.list_rooms(RoomQuery(limit=3, token=first.next_token))   # same signing secret
        want = expected_order(rooms, "creationDate", "desc")
        assert [r.room_id for r in first.items + second.items] == want[:6]
        if isinstance(again, SqliteStore):
            assert again.applied_migrations == []        # already at the latest version
    finally:
        await again.close()


# --- implementation specifics ------------------------------------------------------------------------

async def test_sqlite_file_is_wal_and_migrated_once(tmp_path):
    path = tmp_path / "data" / "antechamber.sqlite3"
    path.parent.mkdir()
    all_versions = [v for v, _ in MIGRATIONS]
    for expected_applied in (all_versions, [], []):
        s = SqliteStore(path)
        await s.open()
        assert s.applied_migrations == expected_applied
        await s.create_room(make_room(room_name=f"after {expected_applied}"))
        await s.close()
    import sqlite3
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
        assert versions == all_versions
        assert conn.execute("SELECT COUNT(*) FROM rooms").fetchone()[0] == 3
    finally:
        conn.close()


async def test_sqlite_many_concurrent_writes_all_land(tmp_path):
    s = SqliteStore(tmp_path / "s.sqlite3")
    await s.open()
    try:
        rooms = [make_room(creation_date=NOW + i) for i in range(500)]
        dup = make_room(rooms[7].room_id)
        results = await asyncio.gather(*(s.create_room(r) for r in rooms + [dup]), return_exceptions=True)
        assert results[:-1] == [None] * 500 and isinstance(results[-1], AlreadyExists)
        got = await walk(s.list_rooms, RoomQuery, limit=100, sort_order="asc")
        assert [r.room_id for r in got] == [r.room_id for r in rooms]
    finally:
        await s.close()


async def test_redis_prefix_namespaces_every_key(redis_url):
    stores, prefixes = [], [f"test{uuid.uuid4().hex[:12]}:" for _ in range(2)]
    rid = f"shared-{uuid.uuid4().hex}"
    sep = "&" if "?" in redis_url else "?"
    try:
        for prefix in prefixes:
            s = RedisStore(f"{redis_url}{sep}prefix={prefix}")
            await s.open()
            stores.append(s)
        await stores[0].create_room(make_room(rid, room_name="zero"))
        await stores[0].create_member(Member(member_id="m", room_id=rid, name="A", base_role="speaker"))
        await stores[0].create_recording(Recording(recording_id="rec", room_id=rid))
        await stores[0].create_meeting(Meeting(room_session_id="s", room_id=rid, start_date=NOW))
        assert await stores[1].get_room(rid) is None
        assert (await stores[1].list_rooms(RoomQuery())).items == []
        await stores[1].create_room(make_room(rid, room_name="one"))     # no clash across prefixes
        assert (await stores[0].get_room(rid)).room_name == "zero"
        r = aioredis.from_url(redis_url)
        try:
            keys = [k.decode() async for k in r.scan_iter(match=f"*{rid}*", count=1000)]
            assert keys and all(k.startswith(tuple(prefixes)) for k in keys)
            assert sum(k.startswith(prefixes[0]) for k in keys) >= 3    # room, members, meeting index
        finally:
            await r.aclose()
    finally:
        for s in stores:
            await s.close()
        for prefix in prefixes:
            await drop_prefix(redis_url, prefix)


async def test_redis_room_documents_without_a_version_read_as_version_0(redis_url):
    """Documents written before rooms had versions: version 0, and the first write makes them 1."""
    import msgpack

    prefix = f"test{uuid.uuid4().hex[:12]}:"
    s = RedisStore(f"{redis_url}{'&' if '?' in redis_url else '?'}prefix={prefix}")
    await s.open()
    try:
        old = make_room("old", room_name="From before").to_doc()
        del old["version"]
        r = aioredis.from_url(redis_url)
        try:
            await r.set(f"{prefix}room:old", msgpack.packb(old, use_bin_type=True))
        finally:
            await r.aclose()
        assert (await s.get_room("old")).version == 0
        assert await s.update_room_if(make_room("old", room_name="Wrong"), 1) is False
        stored, _ = await s.modify_room("old", lambda room: setattr(room, "is_locked", True))
        assert stored.version == 1 and stored.is_locked and stored.room_name == "From before"
        assert await s.get_room("old") == stored
        assert [x.room_id for x in (await s.list_rooms(RoomQuery(room_name="From before"))).items] == ["old"]
    finally:
        await s.close()
        await drop_prefix(redis_url, prefix)


async def test_sqlite_open_failure_is_reported_and_leaves_nothing_running(tmp_path):
    s = SqliteStore(tmp_path / "missing-dir" / "s.sqlite3")
    with pytest.raises(Exception):
        await s.open()
    with pytest.raises(StoreError):
        await s.get_room("x")
    await s.close()
