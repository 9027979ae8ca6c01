"""Text from clients over real websockets: lone surrogates, controls, bidi tricks, odd names.

A guest outside a locked room once silenced every JSON host with one escaped lone surrogate
in its displayName (the hosts' writers died on UnicodeEncodeError, sockets left open). Now every
string is checked or normalised when the frame is parsed (signaling/wire/text.py, docs/protocol.md
"Text"), and a message that cannot be encoded is dropped without silencing the connection.

The property-based test feeds arbitrary text into every string field of every message of the
hub's registry (a new message is covered automatically), in JSON and msgpack.
"""

from __future__ import annotations

import contextlib
import json
import logging
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import msgpack
import pytest
import structlog
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from signaling.client import SignalingClient, SignalingErrorReply
from signaling.errors import BadMessage, InvalidField, MessageTooLarge, SignalingError, UnknownType
from signaling.wire.protocol import CHAT, LINES, NAME, Field, parse
from signaling.wire.text import clean_chat, normalize_display_name
from tests.helpers.signaling import clients, host_key, hub, make_room, until

# ------------------------------------------------------------------------------------------------
# helpers


def names_in_knocks(c: SignalingClient) -> list[str]:
    return [k["displayName"] for m in c.history if m.get("type") == "knocks" for k in m["knocks"]]


async def reply_to(c: SignalingClient, rid: Any, timeout: float = 5.0) -> dict[str, Any]:
    """The reply echoing `rid` to a frame sent with send_raw (it lands in the inbox)."""
    return await c.wait_for(None, lambda m: m.get("id") == rid, timeout=timeout)


async def knock_seen_by(hosts: list[SignalingClient], knock_id: str, timeout: float = 5.0) -> list[str]:
    """The displayName each host was shown for this new knock."""
    shown = []
    for h in hosts:
        m = await h.wait_for("knocks", lambda m: m.get("change", {}).get("knockId") == knock_id
                             and m["change"]["state"] == "waiting", timeout=timeout)
        shown.append(m["change"]["displayName"])
    return shown


async def hosts_still_work(cs, rid: str, hosts: list[SignalingClient], name: str = "Vera") -> None:
    """Every host answers ping and sees the next valid knock (then the knocker cancels)."""
    for h in hosts:
        assert (await h.request("ping"))["type"] == "pong"
    guest = await cs.knocking(rid, name)
    knock_id = guest.history[-1]["knockId"]
    assert await knock_seen_by(hosts, knock_id) == [name] * len(hosts)
    await guest.request("cancel_knock")
    for h in hosts:
        await h.wait_for("knocks", lambda m: m.get("change", {}).get("knockId") == knock_id
                         and m["change"]["state"] == "cancelled")


@contextlib.asynccontextmanager
async def locked_room_with_two_hosts(client, auth, **body):
    """A locked room with a JSON host and a msgpack host."""
    room = await make_room(client, auth, isLocked=True, **body)
    rid, key = room["roomId"], host_key(room)
    async with clients(client) as cs:
        json_host = await cs.joined(rid, "Hana", key)
        msgpack_host = await cs.joined(rid, "Mo", key, use_msgpack=True)
        assert msgpack_host.protocol == "antechamber.msgpack"
        yield rid, cs, [json_host, msgpack_host]


async def get_room(client, auth, rid: str) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/rooms/{rid}", headers=auth)
    assert resp.status == 200
    return await resp.json()


@pytest.fixture
def no_unhandled_errors(caplog):
    """Fails the test if aiohttp logged an unhandled handler exception, or the signaling code
    logged a writer/handler/disconnect failure (with a traceback)."""
    caplog.set_level(logging.ERROR)
    with structlog.testing.capture_logs() as events:
        yield events
    failures = ("writer failed", "handler failed", "disconnect handling failed", "cannot encode")
    bad = [e for e in events if any(f in e["event"] for f in failures)]
    assert not bad, bad
    assert not [r for r in caplog.records if r.name.startswith("aiohttp")], caplog.text


# ------------------------------------------------------------------------------------------------
# the reported frame, and its variants


SURROGATE_JOINS = [
    # (field fuzzed, the raw JSON text: the lone surrogate is a JSON escape in the text itself)
    ("displayName", '{"type":"join","roomName":"%(rid)s","displayName":"\\ud800evil","id":"j"}'),
    ("displayName", '{"type":"join","roomName":"%(rid)s","displayName":"evil\\udfff","id":"j"}'),
    ("roomName", '{"type":"join","roomName":"%(rid)s\\ud800","displayName":"Eve","id":"j"}'),
    ("resumeToken", '{"type":"join","roomName":"%(rid)s","displayName":"Eve","resumeToken":"\\udc00t","id":"j"}'),
    ("key", '{"type":"join","roomName":"%(rid)s","displayName":"Eve","key":"\\ud800","id":"j"}'),
    ("key", '{"type":"join","roomName":"%(rid)s","displayName":"Eve","key":"k\\u0000","id":"j"}'),
    ("roomName", '{"type":"join","roomName":"%(rid)s\\u202e","displayName":"Eve","id":"j"}'),
]


@pytest.mark.parametrize("field_name, frame", SURROGATE_JOINS)
async def test_a_lone_surrogate_in_a_knock_is_refused_and_hosts_keep_working(
        client, auth, field_name, frame, no_unhandled_errors):
    async with locked_room_with_two_hosts(client, auth) as (rid, cs, hosts):
        before = await get_room(client, auth, rid)
        bad = await cs.open()
        await bad.send_raw(frame % {"rid": rid})
        err = await reply_to(bad, "j")
        assert (err["type"], err["code"], err["field"]) == ("error", "invalid_field", field_name), err
        assert "\ud800" not in err["message"] and "evil" not in err["message"]
        assert err["message"].startswith(field_name)
        # the refused knock reached nobody, and changed nothing
        assert all(h.drain("knocks") == [] for h in hosts)
        assert await get_room(client, auth, rid) == before
        # the sender's connection is usable, and may knock properly
        assert (await bad.request("ping"))["type"] == "pong"
        status = await bad.join(rid, "Eve")
        assert status["state"] == "waiting"
        assert await knock_seen_by(hosts, status["knockId"]) == ["Eve", "Eve"]
        await bad.request("cancel_knock")
        await hosts_still_work(cs, rid, hosts)


async def test_a_lone_surrogate_id_is_refused_without_echoing_it(client, auth, no_unhandled_errors):
    async with locked_room_with_two_hosts(client, auth) as (rid, cs, hosts):
        bad = await cs.open()
        await bad.send_raw('{"type":"join","roomName":"%s","displayName":"Eve","id":"\\ud800"}' % rid)
        err = await bad.wait_for("error")
        assert (err["code"], err["field"]) == ("invalid_field", "id") and "id" not in err
        await bad.send_raw('{"type":"ping","id":"x\\udbff"}')
        err = await bad.wait_for("error")
        assert (err["code"], err["field"]) == ("invalid_field", "id")
        await bad.send_raw('{"type":"pi\\ud800ng","id":"t"}')      # and in the type
        err = await reply_to(bad, "t")
        assert (err["code"], err["field"]) == ("invalid_field", "type")
        assert (await bad.request("ping"))["type"] == "pong"      # its own connection still answers
        assert all(h.drain("knocks") == [] for h in hosts)
        await hosts_still_work(cs, rid, hosts)


async def test_a_surrogate_pair_escape_is_one_character_and_a_reversed_one_is_refused(client, auth):
    async with locked_room_with_two_hosts(client, auth) as (rid, cs, hosts):
        c = await cs.open()
        await c.send_raw('{"type":"join","roomName":"%s","displayName":"\\udc00\\ud83d Eve","id":"r"}' % rid)
        err = await reply_to(c, "r")
        assert (err["code"], err["field"]) == ("invalid_field", "displayName")
        await c.send_raw('{"type":"join","roomName":"%s","displayName":"\\ud83d\\ude00 Eve","id":"p"}' % rid)
        status = await reply_to(c, "p")
        assert await knock_seen_by(hosts, status["knockId"]) == ["\U0001f600 Eve"] * 2
        await c.request("cancel_knock")
        await hosts_still_work(cs, rid, hosts)


async def test_invalid_utf8_in_msgpack_is_a_bad_message(client, auth, no_unhandled_errors):
    async with locked_room_with_two_hosts(client, auth) as (rid, cs, hosts):
        bad = await cs.open(use_msgpack=True)
        frame = msgpack.packb({"type": "join", "roomName": rid, "displayName": "\ud800evil", "id": "j"},
                              unicode_errors="surrogatepass")       # CESU bytes: not UTF-8
        await bad.send_raw(frame)
        err = await bad.wait_for("error")
        assert err["code"] == "bad_message"
        await bad.send_raw(msgpack.packb({"type": "join", "roomName": rid, "displayName": "\u202eEve",
                                          "id": "k"}))
        status = await reply_to(bad, "k")
        assert status["type"] == "knock_status"
        assert await knock_seen_by(hosts, status["knockId"]) == ["Eve", "Eve"]   # bidi override stripped
        await bad.request("cancel_knock")
        await hosts_still_work(cs, rid, hosts)


@pytest.mark.parametrize("use_msgpack", [False, True])
async def test_chat_and_display_names_of_a_joined_guest(client, auth, use_msgpack, no_unhandled_errors):
    async with locked_room_with_two_hosts(client, auth) as (rid, cs, hosts):
        guest = await cs.open(use_msgpack=use_msgpack)
        status = await guest.join(rid, "Gus")
        await hosts[0].request("admit", knockId=status["knockId"])
        await guest.wait_for("joined")
        for h in hosts:
            await h.wait_for("participant_joined")
        # lone surrogates: refused, naming the field (JSON: escapes in the text; msgpack cannot carry
        # them, its CESU-8 bytes are not UTF-8: bad_message)
        for message, fld in [({"type": "chat", "text": "hi \ud83d", "id": "c1"}, "text"),
                             ({"type": "set_display_name", "displayName": "\udead", "id": "c2"}, "displayName")]:
            if use_msgpack:
                await guest.send_raw(msgpack.packb(message, unicode_errors="surrogatepass"))
                assert (await guest.wait_for("error"))["code"] == "bad_message"
            else:
                frame = json.dumps(message)
                assert "\\ud" in frame or "\\ude" in frame     # an escape in the JSON text itself
                await guest.send_raw(frame)
                err = await reply_to(guest, message["id"])
                assert (err["code"], err["field"]) == ("invalid_field", fld), err
        # controls and bidi controls: stripped as documented
        await guest.request("chat", text="hi\r\nthere\x07\u202e\tyou\ufffe")
        for h in hosts:
            assert (await h.wait_for("chat"))["text"] == "hi\nthere\tyou"
        with pytest.raises(SignalingErrorReply) as exc:      # nothing left after cleaning
            await guest.request("chat", text="\x00\u202e")
        assert (exc.value.code, exc.value.reply["field"]) == ("invalid_field", "text")
        await guest.request("set_display_name", displayName="  R\u200bex\u202e\u00ad  Ｘ ")
        for h in hosts:
            upd = await h.wait_for("participant_updated")
            assert upd["participant"]["displayName"] == "Rex X"
        for bad_name in ["\u200b\u2060\ufeff", "x" * 65, "   "]:
            with pytest.raises(SignalingErrorReply) as exc:
                await guest.request("set_display_name", displayName=bad_name)
            assert (exc.value.code, exc.value.reply["field"]) == ("invalid_field", "displayName")
        # nobody was silenced
        assert (await guest.request("ping"))["type"] == "pong"
        await hosts_still_work(cs, rid, hosts)


async def test_the_reject_cooldown_compares_name_skeletons(client, auth, no_unhandled_errors):
    async with locked_room_with_two_hosts(client, auth) as (rid, cs, hosts):
        guest = await cs.knocking(rid, "Rex")
        knock = (await hosts[0].wait_for("knocks", lambda m: m["knocks"]))["knocks"][0]
        await hosts[0].request("reject", knockId=knock["knockId"])
        await guest.wait_for("knock_status", lambda m: m["state"] == "rejected")
        for variant in ["R\u200bex", "Ｒｅｘ", "Rex.", "rex", " Rex ", "REX!", "R e x", "Réx"]:
            again = await cs.open()
            with pytest.raises(SignalingErrorReply) as exc:
                await again.join(rid, variant)
            assert exc.value.code == "rejected_recently", variant
            assert exc.value.reply["retryAfter"] >= 1
        other = await cs.knocking(rid, "Rexa")          # a different name may knock
        assert other.history[-1]["state"] == "waiting"


# ------------------------------------------------------------------------------------------------
# a message that cannot be encoded never silences a connection (defence in depth)


def session_of(client, c: SignalingClient):
    return next(p for p in hub(client).participants if p.participant_id == c.participant_id)


async def test_an_unencodable_message_is_dropped_and_the_connection_goes_on(client, auth):
    async with locked_room_with_two_hosts(client, auth) as (rid, cs, hosts):
        guest, _ = await cs.admitted(hosts[0], rid, "Gus")
        for h in hosts:
            await h.wait_for("participant_joined")
        with structlog.testing.capture_logs() as events:
            # as if a bug let bad text through: one broadcast (encoded once per codec) fails
            session_of(client, guest).display_name = "\ud800secret-name"
            await guest.request("set_muted", kind="audio", muted=True)
            # and one message queued to one session
            session_of(client, hosts[0]).send({"type": "chat", "text": "\udfffsecret-text"})
            session_of(client, guest).display_name = "Gus"
            await guest.request("set_muted", kind="audio", muted=False)
            for h in hosts:   # the next broadcast arrives: the dropped one did not stop the writer
                upd = await h.wait_for("participant_updated")
                assert upd["participant"]["muted"]["audio"] is False
                assert (await h.request("ping"))["type"] == "pong"
        dropped = [e for e in events if e["event"].endswith("cannot encode")]
        assert {(e["event"], e.get("codec")) for e in dropped} >= {
            ("broadcast dropped: cannot encode", "json"), ("broadcast dropped: cannot encode", "msgpack"),
            ("message dropped: cannot encode", "json")}
        assert "secret" not in repr(events)
        assert not any(h.closed.is_set() for h in hosts)
        await hosts_still_work(cs, rid, hosts)


async def test_a_knocker_with_unencodable_name_disconnecting_breaks_nothing(client, auth, caplog):
    """The reported crash: the hosts' knock list failed to encode when such a knocker left."""
    caplog.set_level(logging.ERROR)
    async with locked_room_with_two_hosts(client, auth) as (rid, cs, hosts):
        for leave in ("leave", "abort"):
            knocker = await cs.open()
            status = await knocker.join(rid, "Kim")
            await knock_seen_by(hosts, status["knockId"])
            owner = next(s for s in hub(client).participants
                         if s.knock is not None and s.knock.knock_id == status["knockId"])
            with structlog.testing.capture_logs() as events:
                owner.knock.display_name = "\ud800Kim"       # as if it had got in
                if leave == "leave":
                    await knocker.send("leave")
                    await knocker.wait_closed()
                else:       # a dropped connection: the knock is kept (reconnecting), hosts are told
                    await knocker.abort()
                await until(lambda: owner.knock is None or owner.knock.reconnecting or not owner.knock.pending,
                            what="the hub saw the knocker go")
                if owner.knock is not None:
                    owner.knock.display_name = "Kim"
                await hosts_still_work(cs, rid, hosts)
            assert [e["codec"] for e in events if e["event"] == "broadcast dropped: cannot encode"]
            assert not [e for e in events if e.get("exc_info")], events
    assert not [r for r in caplog.records if r.name.startswith("aiohttp")], caplog.text


async def test_a_writer_that_fails_otherwise_closes_the_connection(client, auth):
    """Anything but an encoding failure: the connection is closed (1011), the hub forgets it."""
    async with locked_room_with_two_hosts(client, auth) as (rid, cs, hosts):
        guest, _ = await cs.admitted(hosts[0], rid, "Gus")
        for h in hosts:
            await h.wait_for("participant_joined")
        session = session_of(client, guest)

        async def broken(*_a, **_k):
            raise OSError("disk on fire")
        session.connection.ws.send_str = broken        # the next frame to this guest fails
        with structlog.testing.capture_logs() as events:
            await guest.send("ping", id="p")
            assert await guest.wait_closed() == 1011
        assert session not in hub(client).participants
        assert any(e["event"].startswith("writer failed") for e in events)
        for h in hosts:     # it left (its place kept for the reconnect grace, or gone)
            m = await h.wait_for(None, lambda m: m["type"] in ("participant_left", "participant_updated"))
            assert m.get("participantId", m.get("participant", {}).get("participantId")) == guest.participant_id
        await hosts_still_work(cs, rid, hosts)


# ------------------------------------------------------------------------------------------------
# property-based: arbitrary text into every string field of every message of the hub's registry

SPECIAL = (
    [chr(c) for c in range(0x00, 0x20)] + ["\x7f", "\x85", "\x9f", "\r\n"]
    + list("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")      # bidi
    + list("\u200b\u200c\u200d\u2060\ufeff\u00ad\u2028\u2029\u3164\u034f\U000e0041")        # invisible
    + ["\ufffe", "\uffff", "\ufdd0", "\U0001fffe", "\U0010ffff", "\ufffd"]                  # noncharacters
    + ["Ｒ", "ﬁ", "①", "\u0301", "é", "😀", "👩\u200d💻", " ", "\u00a0", "\u3000", "'", '"', "\\"]
)
LONE_SURROGATE = st.integers(0xD800, 0xDFFF).map(chr)
PLAIN = st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"]), max_size=8)
TEXT = st.one_of(
    st.tuples(PLAIN, st.one_of(st.sampled_from(SPECIAL), LONE_SURROGATE), PLAIN).map("".join),  # one odd char
    st.lists(st.one_of(st.text(max_size=12), st.sampled_from(SPECIAL), LONE_SURROGATE), max_size=10)
    .map("".join),
    st.text(),
    st.tuples(st.sampled_from(["a", "é", "\u200b", "😀", "\ud800", " ", "\x00"]),
              st.integers(30, 70_000)).map(lambda t: t[0] * t[1]),        # very long
)

STRIPPED_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
FRAME_ERRORS = {"bad_message", "message_too_large", "unknown_type", "invalid_field"}
HANDLER_ERRORS = {"not_joined", "already_joined", "forbidden", "invalid_key", "room_not_found", "room_closed",
                  "room_full", "rejected_recently", "rate_limited", "no_pending_knock", "knock_not_found",
                  "participant_not_found", "invalid_target", "chat_disabled", "bad_description",
                  "wrong_state", "recording_unavailable"}
STRANGER_TYPES = ("join", "leave", "cancel_knock")     # sent by a connection that has not joined


def _is_nonchar(cp: int) -> bool:
    return 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE


def must_refuse(value: str, policy: str) -> bool:
    """Independent of signaling/wire/text.py: what the docs say is refused in a field of this policy."""
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        return True
    if policy in (NAME, CHAT):
        return False
    allowed = "\r\n\t" if policy == LINES else ""
    return any((unicodedata.category(c) == "Cc" and c not in allowed) or c in STRIPPED_CONTROLS
               or c in "\u2028\u2029" or _is_nonchar(ord(c)) for c in value)


def assert_clean_name(name: str) -> None:
    assert 1 <= len(name) <= 64, name
    assert name == name.strip() and "  " not in name, name
    assert unicodedata.normalize("NFKC", name) == name, name
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs") or _is_nonchar(ord(c)) for c in name), name
    assert not any(c.isspace() and c != " " for c in name), name


def assert_clean_chat(text: str) -> None:
    assert text
    assert not any(unicodedata.category(c) == "Cs" or c in STRIPPED_CONTROLS or _is_nonchar(ord(c))
                   or (unicodedata.category(c) == "Cc" and c not in "\n\t") for c in text), text


@dataclass
class Arena:
    client: Any
    auth: dict[str, str]
    rid: str
    cs: Any
    hosts: list[SignalingClient]
    store_before: dict[str, Any]
    senders: dict[tuple[str, str], SignalingClient] = field(default_factory=dict)  # (kind, codec)
    targets: list[tuple[str, str]] = field(default_factory=list)
    n: int = 0

    async def sender(self, kind: str, codec: str) -> SignalingClient:
        """A live stranger (not joined) or joined guest on this codec; replaced if it went away."""
        c = self.senders.get((kind, codec))
        if c is None or c.closed.is_set():
            c = await self.cs.open(use_msgpack=codec == "msgpack")
            if kind == "guest":
                status = await c.join(self.rid, f"Guest {codec}")
                await self.hosts[0].request("admit", knockId=status["knockId"])
                await c.wait_for("joined")
                for h in self.hosts:
                    await h.wait_for("participant_joined", lambda m: m["participant"]["participantId"]
                                     == c.participant_id)
            self.senders[(kind, codec)] = c
        return c


@pytest.fixture
async def arena(client, auth):
    hub(client).services.limits.rate.limit = 0        # this test knocks far more than 30 times a minute
    async with locked_room_with_two_hosts(client, auth, roomMode="group") as (rid, cs, hosts):
        await hub(client).idle()
        a = Arena(client, auth, rid, cs, hosts, await get_room(client, auth, rid))
        messages = hub(client).messages
        for t in sorted(messages.types()):
            for name, spec in (messages.spec(t) or {}).items():
                kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
                if {str, dict, list} & set(kinds):
                    a.targets.append((t, name))
            a.targets += [(t, "id"), (t, "type")]
        assert ("join", "displayName") in a.targets and ("chat", "text") in a.targets
        assert ("publish", "sdp") in a.targets and ("ice", "candidate") in a.targets
        yield a


def base_message(arena: Arena, msg_type: str, fields: dict[str, Field]) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": msg_type}
    for name, spec in fields.items():
        if not spec.required:
            continue
        kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
        if spec.choices:
            msg[name] = spec.choices[0]
        elif bool in kinds:
            msg[name] = True
        elif str in kinds:
            msg[name] = {"roomName": arena.rid, "displayName": "Fuzz"}.get(name, "x")
        elif dict in kinds:
            msg[name] = {}
        elif list in kinds:
            msg[name] = []
        else:
            msg[name] = 1
    if msg_type == "join":
        msg["roomName"] = arena.rid
    return msg


def encode(msg: dict[str, Any], codec: str, ascii_json: bool) -> str | bytes:
    if codec == "json":
        has_surrogate = any(0xD800 <= ord(c) <= 0xDFFF for c in json.dumps(msg, ensure_ascii=False))
        return json.dumps(msg, ensure_ascii=ascii_json or has_surrogate)   # surrogates as \\udxxx escapes
    try:
        return msgpack.packb(msg, use_bin_type=True)
    except UnicodeEncodeError:
        return msgpack.packb(msg, use_bin_type=True, unicode_errors="surrogatepass")   # not UTF-8


def expected_outcome(arena: Arena, frame: str | bytes) -> tuple[str, str | None]:
    """What the frame must get, by the codec rules and protocol.parse: (code or "ok", field)."""
    size = len(frame) if isinstance(frame, bytes) else len(frame.encode())
    if size > 64 * 1024:
        return "message_too_large", None
    try:
        obj = json.loads(frame) if isinstance(frame, str) else msgpack.unpackb(frame, raw=False)
    except ValueError:
        return "bad_message", None
    try:
        parse(obj, hub(arena.client).messages.spec)
    except InvalidField as err:
        return "invalid_field", err.extra["field"]
    except (UnknownType, BadMessage, MessageTooLarge, SignalingError) as err:
        return err.code, None
    return "ok", None


@hsettings(max_examples=100, deadline=None, database=None, derandomize=False,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                  HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(data=st.data())
async def test_arbitrary_text_in_any_field_gets_an_error_or_is_normalised(arena, data):
    arena.n += 1
    n = arena.n
    # every target, and half the time one whose text is normalised or multi-line (names, chat, SDP)
    special = [(t, f) for t, f in arena.targets
               if (hub(arena.client).messages.spec(t) or {}).get(f, Field(str)).text != "strict"]
    msg_type, target = data.draw(st.one_of(st.sampled_from(arena.targets), st.sampled_from(special)),
                                 label="target")
    codec = data.draw(st.sampled_from(["json", "msgpack"]), label="codec")
    value = data.draw(TEXT, label="value")
    fields = hub(arena.client).messages.spec(msg_type) or {}
    msg = base_message(arena, msg_type, fields)
    msg["id"] = f"f{n}"
    policy = fields[target].text if target in fields else "strict"
    if target in ("id", "type"):
        msg[target] = value
    else:
        kinds = fields[target].kind if isinstance(fields[target].kind, tuple) else (fields[target].kind,)
        if str in kinds:
            msg[target] = value
        elif dict in kinds:
            as_key = data.draw(st.booleans(), label="as dict key")
            msg[target] = {value: "x"} if as_key else {"candidate": value, "sdpMid": "0"}
            policy = LINES if policy == LINES else "strict"
        else:
            msg[target] = [value]
            policy = LINES if policy == LINES else "strict"
    frame = encode(msg, codec, data.draw(st.booleans(), label="ascii json"))
    if codec == "json":   # what the server reads: JSON pairs adjacent surrogate escapes into one character
        value = json.loads(json.dumps(value))
    expect, expect_field = expected_outcome(arena, frame)

    sender = await arena.sender("stranger" if msg_type in STRANGER_TYPES else "guest", codec)
    sender.drain()
    for h in arena.hosts:
        h.drain()
    await sender.send_raw(frame)
    if not (msg_type == "leave" and expect == "ok"):
        await sender.request("ping")            # in order: everything the frame caused came before
    else:
        await sender.wait_closed()
    got = [m for m in sender.drain() if m.get("type") == "error" or m.get("id") == msg.get("id")]
    errors = [m for m in got if m.get("type") == "error"]

    assert all(e["code"] != "internal_error" for e in errors), (msg_type, target, errors)
    assert all(isinstance(e.get("message"), str) and "Traceback" not in e["message"] for e in errors)
    if must_refuse(value, policy):
        assert expect != "ok", (msg_type, target, policy, ascii(value)[:200])
    if expect != "ok":
        assert [e["code"] for e in errors] == [expect], (msg_type, target, ascii(value)[:200], errors)
        if expect == "invalid_field":
            assert errors[0]["field"] == expect_field
        # a refusal changes nothing in the store
        assert await get_room(arena.client, arena.auth, arena.rid) == arena.store_before
    else:
        assert not [e for e in errors if e["code"] in FRAME_ERRORS], (msg_type, target, errors)
        assert all(e["code"] in HANDLER_ERRORS for e in errors), errors
        await check_accepted(arena, sender, msg_type, target, value, got)

    # whatever came in, both hosts still answer and see the next knock
    await hosts_still_work(arena.cs, arena.rid, arena.hosts, name=f"Probe {n}")


async def check_accepted(arena: Arena, sender: SignalingClient, msg_type: str, target: str, value: str,
                         got: list[dict[str, Any]]) -> None:
    """The documented normalisation is what the hosts are shown."""
    if msg_type == "join" and got and got[-1]["type"] == "knock_status":
        shown = await knock_seen_by(arena.hosts, got[-1]["knockId"])
        want = normalize_display_name(value) if target == "displayName" else "Fuzz"
        assert shown == [want, want]
        assert_clean_name(want)
        await sender.request("cancel_knock")
    elif msg_type == "set_display_name" and target == "displayName":
        want = normalize_display_name(value)
        assert_clean_name(want)
        for h in arena.hosts:
            upd = await h.wait_for("participant_updated", lambda m: m["participant"]["participantId"]
                                   == sender.participant_id)
            assert upd["participant"]["displayName"] == want
    elif msg_type == "chat" and target == "text":
        want = clean_chat(value)
        assert_clean_chat(want)
        for h in arena.hosts:
            assert (await h.wait_for("chat"))["text"] == want
