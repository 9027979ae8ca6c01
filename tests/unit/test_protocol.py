"""Parsing and validation of client messages, and the frame codec (pure)."""

from __future__ import annotations

import json

import msgpack
import pytest

from signaling.wire.codec import Codec
from signaling.errors import BadMessage, InvalidField, MessageTooLarge, UnknownType
from signaling.wire.protocol import SPECS, parse, request_id


def test_join_is_parsed_and_display_name_trimmed():
    req = parse({"type": "join", "id": 7, "roomName": "r1", "displayName": "  Ada  ", "key": "k"})
    assert (req.type, req.id, req["roomName"], req["displayName"], req["key"]) == ("join", 7, "r1", "Ada", "k")


def test_join_accepts_room_id_alias():
    assert parse({"type": "join", "roomId": "r2", "displayName": "A"})["roomName"] == "r2"


@pytest.mark.parametrize("obj, code, field", [
    ({"type": "join", "displayName": "A"}, "invalid_field", "roomName"),
    ({"type": "join", "roomName": "r"}, "invalid_field", "displayName"),
    ({"type": "join", "roomName": "r", "displayName": "   "}, "invalid_field", "displayName"),
    ({"type": "join", "roomName": "r", "displayName": "x" * 101}, "invalid_field", "displayName"),
    ({"type": "join", "roomName": 5, "displayName": "A"}, "invalid_field", "roomName"),
    ({"type": "lock", "locked": "yes"}, "invalid_field", "locked"),
    ({"type": "lock", "locked": 1}, "invalid_field", "locked"),
    ({"type": "lock"}, "invalid_field", "locked"),
    ({"type": "admit", "knockId": 3}, "invalid_field", "knockId"),
    ({"type": "mute", "participantId": "p", "kind": "smell"}, "invalid_field", "kind"),
    ({"type": "chat", "text": "é" * 2049}, "invalid_field", "text"),
    ({"type": "chat", "text": ""}, "invalid_field", "text"),
    ({"type": "hold", "knockId": "k"}, "invalid_field", "message"),
    ({"type": "ping", "id": True}, "invalid_field", "id"),
    ({"type": "ping", "id": "x" * 65}, "invalid_field", "id"),
    ({"type": "ping", "id": [1]}, "invalid_field", "id"),
])
def test_invalid_fields_name_the_field(obj, code, field):
    with pytest.raises(InvalidField) as exc:
        parse(obj)
    msg = exc.value.to_message("r1")
    assert (msg["type"], msg["code"], msg["field"], msg["id"]) == ("error", code, field, "r1")


@pytest.mark.parametrize("obj", [{"type": "fly"}, {"type": ""}, {"type": 3}, {"id": 1}])
def test_unknown_type(obj):
    with pytest.raises(UnknownType):
        parse(obj)


@pytest.mark.parametrize("obj", [[1, 2], "join", 3, None])
def test_not_an_object(obj):
    with pytest.raises(BadMessage):
        parse(obj)


def test_chat_limit_is_4_kib_in_bytes():
    assert parse({"type": "chat", "text": "a" * 4096})["text"] == "a" * 4096


def test_request_id_only_when_usable():
    assert request_id({"id": "abc"}) == "abc"
    assert request_id({"id": True}) is None
    assert request_id("nope") is None


def test_every_spec_field_has_a_type():
    for fields in SPECS.values():
        for spec in fields.values():
            assert spec.kind is not None


def test_codec_json_and_msgpack_round_trip():
    msg = {"type": "chat", "text": "hé", "n": 1}
    assert json.loads(Codec(False, 1024).encode(msg)) == msg
    assert msgpack.unpackb(Codec(True, 1024).encode(msg)) == msg
    assert Codec(True, 1024).decode_binary(msgpack.packb(msg)) == msg
    assert Codec(False, 1024).decode_text(json.dumps(msg)) == msg


def test_codec_rejects_bad_and_oversized_frames():
    c = Codec(False, 100)
    with pytest.raises(BadMessage):
        c.decode_text("{nope")
    with pytest.raises(BadMessage):
        c.decode_binary(b"\xc1\xc1")
    with pytest.raises(MessageTooLarge):
        c.decode_text(json.dumps({"type": "chat", "text": "a" * 200}))
    with pytest.raises(MessageTooLarge):
        c.decode_binary(b"\x00" * 101)
    with pytest.raises(MessageTooLarge):   # multi-byte characters count in bytes
        c.decode_text('"' + "é" * 60 + '"')
