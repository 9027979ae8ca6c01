"""Pure logic of the rooms service and request parsing (no I/O)."""

from __future__ import annotations

import re
import time
import uuid

import pytest

from server.http.api.jsonbody import parse_object
from server.http.api.schemas import CreateRoomIn, UpdateLockIn, validate
from server.http.api.whereby import CreateMeetingIn, iso_utc, parse_end_date
from server.domain.errors import BadRequest, Unprocessable
from server.config import Settings
from server.domain.rooms.defaults import deep_merge, max_participants
from server.domain.rooms.names import HUMAN_ALPHABET, generate_name
from server.domain.rooms.service import DeletionResult
from server.store.records import Room


def test_uuid_names_carry_122_random_bits():
    names = {generate_name("uuid") for _ in range(2000)}
    assert len(names) == 2000
    for name in list(names)[:50]:
        parsed = uuid.UUID(name)
        assert parsed.version == 4 and str(parsed) == name   # 128 - 6 fixed bits = 122 random bits


def test_human_short_names_use_an_unambiguous_alphabet():
    assert not set("0o1li2z5suv") & set(HUMAN_ALPHABET)
    names = [generate_name("human-short") for _ in range(500)]
    assert all(re.fullmatch(f"[{HUMAN_ALPHABET}]{{6}}", n) for n in names)
    assert len(set(names)) > 490
    used = set("".join(names))
    assert used == set(HUMAN_ALPHABET)          # every letter is drawn


def test_deep_merge_is_partial_and_does_not_mutate():
    base = {"chat": {"enabled": True}, "recording": {"enabled": True, "type": "cloud"}}
    out = deep_merge(base, {"recording": {"enabled": False}, "e2ee": {"enabled": True}})
    assert out == {"chat": {"enabled": True}, "recording": {"enabled": False, "type": "cloud"},
                   "e2ee": {"enabled": True}}
    assert base["recording"]["enabled"] is True
    copy = deep_merge(base, {})
    copy["chat"]["enabled"] = False          # nested dicts are never shared with the base
    assert base["chat"]["enabled"] is True


@pytest.mark.parametrize("mode, config, expected", [
    ("normal", {}, 4), ("group", {}, 200), ("normal", {"maxParticipants": 9}, 9), ("group", {"maxParticipants": 2}, 2),
    ("normal", {"maxParticipants": 0}, 4), ("normal", {"maxParticipants": -3}, 4),
    ("normal", {"maxParticipants": True}, 4), ("group", {"maxParticipants": "12"}, 200),
])
def test_the_participant_cap_is_the_rooms_own_else_the_servers_for_its_mode(mode, config, expected):
    settings = Settings(normal_max_participants=4, group_max_participants=200)
    assert max_participants(settings, Room(room_id="r", room_mode=mode, config=config)) == expected


@pytest.mark.parametrize("code, status", [
    ("room_deleted", 200), ("room_closed", 200), ("room_with_active_meeting_deleted", 200),
    ("room_with_active_meeting_scheduled_to_be_deleted", 202),
    ("room_with_active_meeting_scheduled_to_be_closed", 202),
    ("room_with_active_meeting_and_recordings_scheduled_to_be_deleted", 202),
])
def test_scheduled_deletions_answer_202(code, status):
    assert DeletionResult(code, "", None).status == status


@pytest.mark.parametrize("raw", [b"{", b'{"a": 1, "a": 2}', b"[]", b"1", b"null", b'{"a": Infinity}', b"", b"  "])
def test_parse_object_rejects(raw):
    with pytest.raises(BadRequest):
        parse_object(raw)


def test_parse_object_accepts_objects_and_optional_empty():
    assert parse_object(b'{"a": {"b": [1, {"c": null}]}}') == {"a": {"b": [1, {"c": None}]}}
    assert parse_object(b"", allow_empty=True) == {}


def test_validation_names_nested_fields_and_is_strict():
    with pytest.raises(Unprocessable) as info:
        validate(CreateRoomIn, {"roomName": 1, "config": {"chat": {"enabled": "true"}}, "zzz": 0})
    fields = {d["field"] for d in info.value.details}
    assert fields == {"roomName", "config.chat.enabled", "zzz"}
    assert info.value.status == 422
    with pytest.raises(BadRequest) as info:
        validate(CreateMeetingIn, {"endDate": "x", "fields": ["hostRoomUrl", "nope"]}, BadRequest)
    assert [d["field"] for d in info.value.details] == ["fields[1]"]
    with pytest.raises(Unprocessable):
        validate(UpdateLockIn, {"isLocked": 1})
    assert validate(UpdateLockIn, {"isLocked": False}).isLocked is False


def test_auto_deletion_date_must_be_an_hour_ahead():
    now = int(time.time() * 1000)
    assert validate(CreateRoomIn, {"autoDeletionDate": now + 3_700_000}).autoDeletionDate == now + 3_700_000
    for bad in (now, now + 3_000_000, True, 10**17):
        with pytest.raises(Unprocessable) as info:
            validate(CreateRoomIn, {"autoDeletionDate": bad})
        assert info.value.details[0]["field"] == "autoDeletionDate"


def test_end_date_parsing_and_rendering():
    now = int(time.time() * 1000)
    ms = parse_end_date("2099-08-11T07:56:01-05:00", now)
    assert iso_utc(ms) == "2099-08-11T12:56:01.000Z"
    assert iso_utc(parse_end_date("2099-08-11T07:56:01.250Z", now)) == "2099-08-11T07:56:01.250Z"
    assert parse_end_date("2099-08-11T07:56:01", now) == parse_end_date("2099-08-11T07:56:01+00:00", now)
    for bad in ("2000-01-01T00:00:00Z", "soon", "2099-13-01T00:00:00Z", "9999-12-31T23:59:59-05:00"):
        with pytest.raises(BadRequest) as info:
            parse_end_date(bad, now)
        assert info.value.details[0]["field"] == "endDate"
    assert iso_utc(None) is None


async def test_keyed_locks_serialise_per_key_and_forget_idle_keys():
    import asyncio

    from server.store.cas import KeyedLocks

    locks = KeyedLocks()
    order: list[str] = []

    async def job(key: str, name: str, gate: asyncio.Event | None = None) -> None:
        async with locks.hold(key):
            order.append(f"{name}+")
            if gate is not None:
                await gate.wait()
            order.append(f"{name}-")

    gate = asyncio.Event()
    first = asyncio.create_task(job("a", "a1", gate))
    second = asyncio.create_task(job("a", "a2"))
    other = asyncio.create_task(job("b", "b1"))
    await other                                  # another key is not blocked
    assert order == ["a1+", "b1+", "b1-"]
    gate.set()
    await asyncio.gather(first, second)
    assert order[3:] == ["a1-", "a2+", "a2-"]
    assert locks._locks == {}
