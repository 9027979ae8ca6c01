"""Every client message x every role: the answer must match a hand-written table, with zero mismatches."""

from __future__ import annotations

import pytest

from signaling.client import SignalingErrorReply
from tests.helpers.signaling import clients, host_key, make_room, serve, viewer_key

ROLES = ("guest", "viewer", "member_speaker", "member_moderator", "host")
MODS = {"member_moderator", "host"}
OK, FORBIDDEN = "ok", "forbidden"


def mods_only(role: str) -> str:
    return OK if role in MODS else FORBIDDEN


# message -> (payload builder, expected answer per role). Payloads get: knock id, a guest target, a host target.
TABLE = {
    "join": (lambda k, t, h: {"roomName": "x", "displayName": "again"}, lambda r: "already_joined"),
    "leave": (lambda k, t, h: {}, lambda r: "ended"),
    "ping": (lambda k, t, h: {}, lambda r: "pong"),
    "cancel_knock": (lambda k, t, h: {}, lambda r: "no_pending_knock"),
    "admit": (lambda k, t, h: {"knockId": k}, mods_only),
    "admit_all": (lambda k, t, h: {}, mods_only),
    "reject": (lambda k, t, h: {"knockId": k}, mods_only),
    "hold": (lambda k, t, h: {"knockId": k, "message": "wait"}, mods_only),
    "lock": (lambda k, t, h: {"locked": True}, mods_only),
    "kick": (lambda k, t, h: {"participantId": t}, mods_only),
    "mute": (lambda k, t, h: {"participantId": t, "kind": "video"}, mods_only),
    "send_to_waiting_room": (lambda k, t, h: {"participantId": t}, mods_only),
    "end_meeting": (lambda k, t, h: {}, mods_only),
    # meeting timing (signaling/live/meeting_clock.py): canEndMeeting; this meeting has no end time
    "extend": (lambda k, t, h: {"minutes": 5}, lambda r: "no_end_time" if r in MODS else FORBIDDEN),
    "promote": (lambda k, t, h: {"participantId": t}, mods_only),
    "demote": (lambda k, t, h: {"participantId": h}, mods_only),
    "chat": (lambda k, t, h: {"text": "hi"}, lambda r: FORBIDDEN if r == "viewer" else OK),
    "set_muted": (lambda k, t, h: {"kind": "audio", "muted": True}, lambda r: OK),
    "set_display_name": (lambda k, t, h: {"displayName": "Renamed"}, lambda r: OK),
    # SFU (signaling/media_bridge.py): viewers may not publish; for the others the SDP is bad
    "publish": (lambda k, t, h: {"sdp": "not sdp"}, lambda r: FORBIDDEN if r == "viewer" else "bad_description"),
    "subscribe_answer": (lambda k, t, h: {"sdp": "not sdp"}, lambda r: "wrong_state"),
    "ice": (lambda k, t, h: {"pc": "publish"}, lambda r: OK),  # end of candidates, kept until the offer
    # recording (server/recording_signaling.py): canRecord
    "start_recording": (lambda k, t, h: {}, mods_only),
    "stop_recording": (lambda k, t, h: {}, lambda r: "recording_not_active" if r in MODS else FORBIDDEN),
}


@pytest.fixture
def store_kind() -> str:
    return "sqlite"


def test_table_covers_every_registered_message(settings_factory):
    from server.app import create_app
    from server.credentials import load_or_create
    from server.app import HUB

    settings = settings_factory()
    app = create_app(settings, load_or_create(settings.data_dir, settings.api_keys))  # every module registers its messages

    assert set(TABLE) == set(app[HUB].messages.types()), "add new messages to the permission table"


async def _member_key(client, auth, rid: str, base_role: str) -> str:
    resp = await client.post(f"/api/v1/rooms/{rid}/members", json={"name": base_role, "baseRole": base_role},
                             headers=auth)
    assert resp.status == 201, await resp.text()
    return (await resp.json())["accessUrl"].split("memberKey=")[1]


async def _answer(actor, msg_type: str, payload: dict) -> str:
    try:
        reply = await actor.request(msg_type, **payload)
    except SignalingErrorReply as err:
        return err.code
    return reply["type"]


async def test_every_message_for_every_role(settings_factory, auth):
    # many knocks from 127.0.0.1: lift the per-address limit for this test only
    async with serve(settings_factory(knocks_per_ip_per_minute=100_000)) as client:
        mismatches = await _run_table(client, auth)
    assert mismatches == []


async def _run_table(client, auth) -> list:
    mismatches = []
    for role in ROLES:
        for msg_type, (payload_of, expected_of) in TABLE.items():
            room = await make_room(client, auth, isLocked=True)
            rid, hkey = room["roomId"], host_key(room)
            async with clients(client) as cs:
                host = await cs.joined(rid, "Host", hkey)
                admit_next = lambda: host.wait_for("knocks", lambda m: m["knocks"])  # noqa: E731
                target = await cs.knocking(rid, "Target")
                await host.request("admit", knockId=(await admit_next())["knocks"][0]["knockId"])
                await target.wait_for("joined")
                if role == "guest":
                    actor = await cs.knocking(rid, "Actor")
                    await host.request("admit", knockId=(await admit_next())["knocks"][0]["knockId"])
                    await actor.wait_for("joined")
                else:
                    key = {"viewer": lambda: viewer_key(client, rid), "host": lambda: hkey}.get(role)
                    key_value = key() if key else await _member_key(
                        client, auth, rid, "speaker" if role == "member_speaker" else "moderator")
                    actor = await cs.joined(rid, "Actor", key_value)
                knocker = await cs.knocking(rid, "Knocker")
                knock_id = (await admit_next())["knocks"][0]["knockId"]
                payload = payload_of(knock_id, target.participant_id, host.participant_id)
                if msg_type == "join":
                    payload["roomName"] = rid
                got = await _answer(actor, msg_type, payload)
                want = expected_of(role)
                if got != want:
                    mismatches.append((role, msg_type, want, got))
                assert knocker is not None
    return mismatches
