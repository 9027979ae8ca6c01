"""The REST edge's text check (server/http/api/query.py ``check``, on signaling/wire/text.py's rule) and
the body walk / URL decoding built on it."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from server.http.api import query
from server.http.api.jsonbody import check_strings, parse_object
from server.http.api.query import TextError, check
from server.domain.errors import BadRequest, Unprocessable

BIDI_CONTROLS = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]


def oracle(value: str) -> str | None:
    """Independent statement of the rule: the reason the first refused character is refused, or None."""
    for ch in value:
        cp = ord(ch)
        if 0xD800 <= cp <= 0xDFFF:
            return "surrogate"
        if unicodedata.category(ch) == "Cc" or ch in "\u2028\u2029":
            return "control"
        if ch in BIDI_CONTROLS:
            return "bidi"
        if 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE:
            return "noncharacter"
    return None


ANY_CHAR = st.one_of(st.characters(), st.characters(categories=["Cs"]),
                     st.sampled_from(["\u202e", "\u2066", "\ufffe", "\U0010ffff", "\x85", "\x00", "\n"]))
ANY_TEXT = st.one_of(st.text(), st.text(alphabet=ANY_CHAR))


@pytest.mark.parametrize("value", ["", "Room 1", "Café ☕", "日本語の部屋", "😀 x", "a\u0301", "\u200f\u05e9\u05dc\u05d5\u05dd",
                                   "\u200b", "\ufffd", "\U0010fffd", "x" * 10_000])
def test_acceptable_text_is_returned_unchanged(value):
    assert check(value, "f") is value


@pytest.mark.parametrize("ch, reason", [
    ("\ud800", "surrogate"), ("\udfff", "surrogate"), ("\udc80", "surrogate"),
    ("\x00", "control"), ("\t", "control"), ("\n", "control"), ("\r", "control"), ("\x1f", "control"),
    ("\x7f", "control"), ("\x80", "control"), ("\x85", "control"), ("\x9f", "control"),
    ("\u2028", "control"), ("\u2029", "control"),
    *[(b, "bidi") for b in BIDI_CONTROLS],
    ("\ufdd0", "noncharacter"), ("\ufdef", "noncharacter"), ("\ufffe", "noncharacter"),
    ("\uffff", "noncharacter"), ("\U0001fffe", "noncharacter"), ("\U0010ffff", "noncharacter"),
])
def test_each_refused_character_is_named_by_its_code_point_never_repeated(ch, reason):
    with pytest.raises(TextError) as info:
        check(f"ab{ch}cd", "roomName")
    err = info.value
    assert (err.field, err.reason) == ("roomName", reason)
    assert f"U+{ord(ch):04X}" in err.message and "position 2" in err.message
    assert ch not in err.message and check(err.message, "message") == err.message
    assert isinstance(err, ValueError)


@hsettings(max_examples=300, deadline=None, database=None)
@given(value=ANY_TEXT)
def test_check_agrees_with_the_rule_for_any_text(value):
    expected = oracle(value)
    if expected is None:
        assert check(value, "f") == value
        value.encode("utf-8")      # what is accepted can always be stored
    else:
        with pytest.raises(TextError) as info:
            check(value, "f")
        assert info.value.reason == expected
        check(info.value.message, "message")   # the message itself is acceptable text


# --- the body walk --------------------------------------------------------------------------

@pytest.mark.parametrize("body, field, fragment", [
    ({"roomName": "\ud800x"}, "roomName", "U+D800"),
    ({"config": {"chat": {"enabled": "\u202e"}}}, "config.chat.enabled", "U+202E"),
    ({"fields": ["hostRoomUrl", "a\x85"]}, "fields[1]", "U+0085"),
    ({"a": [[{"b": ["ok", "\ufffe"]}]]}, "a[0][0].b[1]", "U+FFFE"),
    ({"\u2066": 1}, "body", "has a key that"),
    ({"config": {"ok": 1, "x\ud800": 2}}, "config", "has a key that"),
    ({"list": [{"\x00": 1}]}, "list[0]", "has a key that"),
])
def test_every_string_and_key_at_any_depth_is_checked(body, field, fragment):
    with pytest.raises(TextError) as info:
        check_strings(body)
    assert info.value.field == field and fragment in info.value.message


def test_the_first_refused_string_in_document_order_is_reported():
    with pytest.raises(TextError) as info:
        check_strings({"a": "fine", "b": ["\x01", "\x02"], "c": "\x03"})
    assert info.value.field == "b[0]"


def test_numbers_booleans_and_null_pass_and_depth_is_no_problem():
    check_strings({"n": 1, "f": 1.5, "t": True, "z": None, "s": "ok", "e": [], "o": {}})
    deep: list = ["ok"]
    for _ in range(100_000):          # far deeper than any recursion limit
        deep = [deep]
    check_strings({"deep": deep})


def _raw(value: str) -> bytes:
    return json.dumps({"roomName": value}).encode()   # ensure_ascii: a lone surrogate as a \\ud800 escape


def test_parse_object_answers_422_natively_and_400_for_whereby():
    with pytest.raises(Unprocessable) as native:
        parse_object(_raw("\ud800x"))
    with pytest.raises(BadRequest) as whereby:
        parse_object(_raw("\ud800x"), whereby=True)
    for err, status in ((native.value, 422), (whereby.value, 400)):
        assert err.status == status and err.code == "validation_error"
        assert err.details == [{"field": "roomName", "message": err.details[0]["message"]}]
        assert "roomName" in err.message and "U+D800" in err.message
        json.dumps(err.body(), ensure_ascii=False).encode("utf-8")   # the answer holds no lone surrogate
    assert parse_object(_raw("Café")) == {"roomName": "Café"}


def test_a_duplicate_key_that_is_not_acceptable_text_is_not_repeated():
    with pytest.raises(BadRequest) as info:
        parse_object(b'{"\\ud800": 1, "\\ud800": 2}')
    body = info.value.body()
    assert body["code"] == "invalid_json" and body["details"] == [{"field": "body", "message": "duplicate key"}]
    json.dumps(body, ensure_ascii=False).encode("utf-8")


def test_raw_surrogate_bytes_are_not_utf8():
    with pytest.raises(BadRequest) as info:
        parse_object('{"roomName": "\ud800"}'.encode("utf-8", "surrogatepass"))
    assert info.value.code == "invalid_json" and "UTF-8" in info.value.message


# --- URL decoding ------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, plus, expected", [
    ("abc", False, "abc"), ("a%20b", False, "a b"), ("a+b", True, "a b"), ("a+b", False, "a+b"),
    ("%C3%A9", False, "é"), ("%F0%9F%98%80", False, "😀"), ("%25ED", False, "%ED"),
])
def test_url_parts_decode_as_utf8(raw, plus, expected):
    assert query._decoded(raw, "f", plus=plus) == expected


@pytest.mark.parametrize("raw, reason", [
    ("%ED%A0%80", "encoding"), ("%FF", "encoding"), ("a%C3", "encoding"), ("%C0%AF", "encoding"),
    ("%00", "control"), ("%C2%85", "control"), ("%E2%80%AE", "bidi"), ("%EF%BF%BE", "noncharacter"),
])
def test_url_parts_that_are_not_text_are_refused(raw, reason):
    with pytest.raises(TextError) as info:
        query._decoded(raw, "roomId")
    assert (info.value.field, info.value.reason) == ("roomId", reason)
    assert "%" not in info.value.message


def test_text_refused_follows_each_surface():
    err = TextError("cursor", "contains a control character (U+0000) at position 0", "control")
    native, whereby = query.text_refused(err, False), query.text_refused(err, True)
    assert (native.status, whereby.status) == (422, 400)
    for e in (native, whereby):
        assert e.body()["code"] == "validation_error" and e.details == [{"field": "cursor", "message": err.message}]
        assert e.message.startswith("invalid request: cursor: ")
